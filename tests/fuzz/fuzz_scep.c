/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every SCEP response parser on the same hostile bytes: GetCACaps,
 * GetCACert (both forms), CertRep (checked against a CA made here), and
 * the envelope opener with a key made here.
 */
#include "../../agent/enroll/scep_msg.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static EVP_PKEY *key;
static X509 *cert;

static void
make_ca(void)
{
    key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    cert = X509_new();
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"fuzz", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_sign(cert, key, EVP_sha256());
}

static gboolean
decrypt(void *ctx, const unsigned char *in, gsize in_len, GBytes **out)
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char nonce[SCEP_NONCE_LEN];
    if (key == NULL)
        make_ca();
    (void)scep_parse_caps((const char *)data, size);
    for (int pkcs7 = 0; pkcs7 <= 1; pkcs7++) {
        STACK_OF(X509) *certs = sk_X509_new_null();
        X509 *recipient;
        char *reason = NULL;
        scep_parse_ca_certs(data, size, pkcs7, certs, &recipient, &reason);
        g_free(reason);
        sk_X509_pop_free(certs, X509_free);
    }
    STACK_OF(X509) *ca = sk_X509_new_null();
    sk_X509_push(ca, cert);
    struct scep_reply reply;
    char *reason = NULL;
    if (scep_parse_reply(data, size, ca, "ID", nonce, &reply, &reason))
        scep_reply_clear(&reply);
    g_clear_pointer(&reason, g_free);
    sk_X509_free(ca);
    /* The envelope opener, on whatever parses as an envelope. */
    const unsigned char *p = data;
    PKCS7 *envelope = d2i_PKCS7(NULL, &p, (long)size);
    if (envelope != NULL && PKCS7_type_is_enveloped(envelope)) {
        GPtrArray *certs =
            g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
        scep_open_envelope(envelope, cert, decrypt, key, certs, &reason);
        g_clear_pointer(&reason, g_free);
        g_ptr_array_unref(certs);
    }
    PKCS7_free(envelope);
    return 0;
}
