/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one-shot program of the benchmark, shaped like curl or git signing
 * once: start, load a key as an ordinary OpenSSL program does (providers
 * from OPENSSL_CONF), sign one message, exit.
 *
 *   sign_once KEY KIND
 * KEY is a PEM file or a tessera:/pkcs11: URI; KIND as in sign_bench.
 */
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static EVP_PKEY *
load_key(const char *key)
{
    OSSL_STORE_CTX *st = OSSL_STORE_open(key, NULL, NULL, NULL, NULL);
    OSSL_STORE_INFO *info;
    EVP_PKEY *pkey = NULL;
    if (st != NULL && OSSL_STORE_expect(st, OSSL_STORE_INFO_PKEY) &&
        (info = OSSL_STORE_load(st)) != NULL) {
        pkey = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(st);
    return pkey;
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sign_once KEY KIND\n");
        return 2;
    }
    const char *digest = strcmp(argv[2], "ec-p384") == 0 ? "SHA384" : "SHA256";
    bool pss = strcmp(argv[2], "rsa2048-pss") == 0;
    static const unsigned char message[64] = "one signature, then exit";
    unsigned char sig[1024];
    size_t len = sizeof(sig);
    EVP_PKEY *key = load_key(argv[1]);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx;
    int ok =
        key != NULL && ctx != NULL &&
        EVP_DigestSignInit_ex(ctx, &pctx, digest, NULL, NULL, key, NULL) == 1 &&
        (!pss ||
         EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1) &&
        EVP_DigestSign(ctx, sig, &len, message, sizeof(message)) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    if (!ok)
        fprintf(stderr, "sign_once: cannot sign with %s\n", argv[1]);
    return ok ? 0 : 1;
}
