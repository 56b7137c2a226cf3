/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where keys end up, for the tests: an ordinary OpenSSL program that loads
 * keys the ways real programs do and prints which provider holds each, so
 * a test checks the key itself, not a list of loaded providers.
 *
 *   key_where pem FILE        PEM_read_bio_PrivateKey, then a signature
 *   key_where store URI       OSSL_STORE_open (file:..., tessera:...), then
 *                             a signature
 *   key_where ssl CERT KEY    SSL_CTX_use_certificate_file and
 *                             SSL_CTX_use_PrivateKey_file, as curl does
 *   key_where ordinary CERT CA
 *                             what programs that never name a provider get:
 *                             the key managements and signatures of EC,
 *                             RSA and Ed25519, an ECDHE key, CERT's public
 *                             key, and X509_verify of CERT by CA
 *
 * Each line is "WHAT: PROVIDER" (or "ok"); a failure prints OpenSSL's
 * errors and exits 1.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *
holder(const EVP_PKEY *pkey)
{
    const OSSL_PROVIDER *prov = pkey ? EVP_PKEY_get0_provider(pkey) : NULL;
    return prov ? OSSL_PROVIDER_get0_name(prov) : "none";
}

/* One signature over a fixed message: EdDSA one-shot, else SHA-256. */
static bool
signs(EVP_PKEY *pkey)
{
    static const unsigned char msg[] = "where is the key?";
    unsigned char sig[1024];
    size_t len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const char *md = EVP_PKEY_is_a(pkey, "ED25519") ? NULL : "SHA256";
    bool ok =
        ctx != NULL &&
        EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, pkey, NULL) == 1 &&
        EVP_DigestSign(ctx, sig, &len, msg, sizeof(msg)) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static int
report(const char *what, EVP_PKEY *pkey)
{
    if (pkey == NULL || !signs(pkey)) {
        fprintf(stderr, "key_where: %s: no key that signs\n", what);
        ERR_print_errors_fp(stderr);
        EVP_PKEY_free(pkey);
        return 1;
    }
    printf("%s: %s\n", what, holder(pkey));
    EVP_PKEY_free(pkey);
    return 0;
}

static int
from_pem(const char *path)
{
    BIO *in = BIO_new_file(path, "r");
    EVP_PKEY *pkey = in ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL) : NULL;
    BIO_free(in);
    return report("pem", pkey);
}

static int
from_store(const char *uri)
{
    OSSL_STORE_CTX *store = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    EVP_PKEY *pkey = NULL;
    if (store != NULL && OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(store);
        if (info != NULL)
            pkey = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(store);
    return report("store", pkey);
}

static int
into_ssl_ctx(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    bool ok = ctx != NULL &&
              SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) == 1 &&
              SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 &&
              SSL_CTX_check_private_key(ctx) == 1;
    if (ok)
        printf("ssl: %s\n", holder(SSL_CTX_get0_privatekey(ctx)));
    else
        ERR_print_errors_fp(stderr);
    SSL_CTX_free(ctx);
    return ok ? 0 : 1;
}

static const char *
keymgmt_holder(const char *name)
{
    EVP_KEYMGMT *km = EVP_KEYMGMT_fetch(NULL, name, NULL);
    const char *found =
        km ? OSSL_PROVIDER_get0_name(EVP_KEYMGMT_get0_provider(km)) : "none";
    EVP_KEYMGMT_free(km);
    return found;
}

static const char *
signature_holder(const char *name)
{
    EVP_SIGNATURE *sig = EVP_SIGNATURE_fetch(NULL, name, NULL);
    const char *found =
        sig ? OSSL_PROVIDER_get0_name(EVP_SIGNATURE_get0_provider(sig))
            : "none";
    EVP_SIGNATURE_free(sig);
    return found;
}

static X509 *
read_cert(const char *path)
{
    BIO *in = BIO_new_file(path, "r");
    X509 *x = in ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;
    BIO_free(in);
    return x;
}

static int
ordinary(const char *cert_path, const char *ca_path)
{
    static const char *const types[] = {"EC", "RSA", "ED25519"};
    static const char *const signatures[] = {"ECDSA", "RSA", "ED25519"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        printf("fetch %s: %s\nfetch %s signature: %s\n", types[i],
               keymgmt_holder(types[i]), signatures[i],
               signature_holder(signatures[i]));
    EVP_PKEY *ecdhe = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    printf("ecdhe key: %s\n", holder(ecdhe));
    EVP_PKEY_free(ecdhe);
    X509 *cert = read_cert(cert_path), *ca = read_cert(ca_path);
    bool ok = cert != NULL && ca != NULL;
    if (ok) {
        printf("certificate key: %s\n", holder(X509_get0_pubkey(cert)));
        ok = X509_verify(cert, X509_get0_pubkey(ca)) == 1;
        printf("X509_verify: %s\n", ok ? "ok" : "failed");
    }
    if (!ok)
        ERR_print_errors_fp(stderr);
    X509_free(cert);
    X509_free(ca);
    return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "pem") == 0)
        return from_pem(argv[2]);
    if (argc == 3 && strcmp(argv[1], "store") == 0)
        return from_store(argv[2]);
    if (argc == 4 && strcmp(argv[1], "ssl") == 0)
        return into_ssl_ctx(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "ordinary") == 0)
        return ordinary(argv[2], argv[3]);
    fprintf(stderr, "usage: key_where pem FILE | store URI | ssl CERT KEY | "
                    "ordinary CERT CA\n");
    return 2;
}
