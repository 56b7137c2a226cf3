/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every SCEP response parser on the same hostile bytes: GetCACaps,
 * GetCACert (both forms), CertRep and the envelope opener. A CertRep's
 * attributes are signed, so a mutated one never passes the signature
 * check: the reply is read a second time without it (scep_read_reply on
 * the unverified content), which reaches the attributes, the nonce check
 * and the envelope. The CA, the recipient and its key are a test-only CA
 * (SCEP_FUZZ_CA, made by scep_seeds.c), whose seeds verify and open.
 */
#include "../../agent/enroll/scep_msg.h"
#include "scep_fuzz_ca.h"

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static EVP_PKEY *key;
static X509 *cert;
static const unsigned char nonce[SCEP_NONCE_LEN]; /* the seeds echo zeros */
#define TRANSACTION "ID"

static void
open_envelope(PKCS7 *envelope)
{
    GPtrArray *certs =
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    char *reason = NULL;
    scep_open_envelope(envelope, cert, scep_fuzz_ca_decrypt, key, certs,
                       &reason);
    g_free(reason);
    g_ptr_array_unref(certs);
}

static void
parse_ca_certs(const uint8_t *data, size_t size)
{
    for (int pkcs7 = 0; pkcs7 <= 1; pkcs7++) {
        STACK_OF(X509) *certs = sk_X509_new_null();
        X509 *recipient;
        char *reason = NULL;
        scep_parse_ca_certs(data, size, pkcs7, certs, &recipient, &reason);
        g_free(reason);
        sk_X509_pop_free(certs, X509_free);
    }
}

/* The whole check, signature included. */
static void
parse_reply(const uint8_t *data, size_t size)
{
    STACK_OF(X509) *ca = sk_X509_new_null();
    sk_X509_push(ca, cert);
    struct scep_reply reply;
    char *reason = NULL;
    if (scep_parse_reply(data, size, ca, TRANSACTION, nonce, &reply, &reason)) {
        (void)scep_fail_info_text(reply.fail_info);
        scep_reply_clear(&reply);
    }
    g_free(reason);
    sk_X509_free(ca);
}

/* What the signed content would be, had the signature verified. */
static GBytes *
unverified_content(PKCS7 *signed_reply)
{
    PKCS7 *inner = signed_reply->d.sign->contents;
    ASN1_OCTET_STRING *data =
        inner != NULL && PKCS7_type_is_data(inner) ? inner->d.data : NULL;
    return data != NULL ? g_bytes_new(data->data, (gsize)data->length)
                        : g_bytes_new(NULL, 0);
}

/* Past the signature: the attributes, the nonce, the envelope. */
static void
read_reply(const uint8_t *data, size_t size)
{
    char *reason = NULL;
    PKCS7 *p7 = scep_decode_reply(data, size, &reason);
    if (p7 == NULL) {
        g_free(reason);
        return;
    }
    GBytes *content = unverified_content(p7);
    struct scep_reply reply;
    if (scep_read_reply(p7, content, TRANSACTION, nonce, &reply, &reason)) {
        if (reply.envelope != NULL)
            open_envelope(reply.envelope);
        scep_reply_clear(&reply);
    }
    g_free(reason);
    g_bytes_unref(content);
    PKCS7_free(p7);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (key == NULL && !scep_fuzz_ca_load(&key, &cert)) {
        fprintf(stderr, "fuzz_scep: cannot read %s\n", SCEP_FUZZ_CA);
        abort();
    }
    (void)scep_parse_caps((const char *)data, size);
    parse_ca_certs(data, size);
    parse_reply(data, size);
    read_reply(data, size);
    /* The envelope opener, on whatever parses as an envelope. */
    const unsigned char *p = data;
    PKCS7 *envelope = d2i_PKCS7(NULL, &p, (long)size);
    if (envelope != NULL && PKCS7_type_is_enveloped(envelope))
        open_envelope(envelope);
    PKCS7_free(envelope);
    return 0;
}
