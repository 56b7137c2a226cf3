/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_scep's test-only CA (SCEP_FUZZ_CA, made by scep_seeds.c), for the
 * fuzz target and the unit test that keeps its seeds honest: the CA signs
 * the seeds' replies and is the recipient of their envelopes; its key,
 * standing in for a token, opens them.
 */
#ifndef TESSERA_SCEP_FUZZ_CA_H
#define TESSERA_SCEP_FUZZ_CA_H

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>

static gboolean
scep_fuzz_ca_load(EVP_PKEY **key, X509 **cert)
{
    FILE *f = fopen(SCEP_FUZZ_CA, "r");
    *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    *cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f != NULL)
        fclose(f);
    return *key != NULL && *cert != NULL;
}

/* A scep_decrypt_fn with the CA's key (ctx). */
static gboolean
scep_fuzz_ca_decrypt(void *ctx, const unsigned char *in, gsize in_len,
                     GBytes **out)
{
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(ctx, NULL);
    unsigned char buf[512];
    size_t len = sizeof(buf);
    gboolean ok = pctx != NULL && EVP_PKEY_decrypt_init(pctx) == 1 &&
                  EVP_PKEY_decrypt(pctx, buf, &len, in, in_len) == 1;
    if (ok)
        *out = g_bytes_new(buf, len);
    EVP_PKEY_CTX_free(pctx);
    return ok;
}

#endif
