/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SCEP message code on answers recorded from the scep package's server
 * (tests/fuzz/corpus/scep, also the fuzzer's seeds) and on tampered ones,
 * and on the fuzzer's own seeds, signed by its test-only CA: they must
 * pass every check, or the fuzzer would not reach past them.
 */
#include "../../agent/enroll/scep_msg.h"
#include "../fuzz/scep_fuzz_ca.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

/* The recorded CertRep answered this transaction and nonce. */
#define RECORDED_TRANSACTION "fnPbt+suNYFuUMNNrZjAbcv7viE="
static const unsigned char recorded_nonce[SCEP_NONCE_LEN] = {
    0x4c, 0x3e, 0xc8, 0xfb, 0x68, 0x4f, 0x8c, 0x06,
    0xeb, 0xa1, 0xf6, 0x60, 0x0c, 0x61, 0xce, 0xcd};

static GBytes *
recorded(const char *name)
{
    char *path = g_build_filename(SCEP_CORPUS, name, NULL);
    char *data = NULL;
    gsize len = 0;
    assert_true(g_file_get_contents(path, &data, &len, NULL));
    g_free(path);
    return g_bytes_new_take(data, len);
}

static STACK_OF(X509) * recorded_ca(void)
{
    GBytes *der = recorded("getcacert.der");
    STACK_OF(X509) *certs = sk_X509_new_null();
    X509 *recipient;
    char *reason = NULL;
    gsize len;
    const void *data = g_bytes_get_data(der, &len);
    assert_true(
        scep_parse_ca_certs(data, len, FALSE, certs, &recipient, &reason));
    assert_ptr_equal(recipient, sk_X509_value(certs, 0));
    g_bytes_unref(der);
    return certs;
}

static void
test_caps(void **state)
{
    (void)state;
    GBytes *caps = recorded("getcacaps.txt");
    gsize len;
    const char *text = g_bytes_get_data(caps, &len);
    assert_int_equal(scep_parse_caps(text, len),
                     SCEP_CAP_POST | SCEP_CAP_SHA256 | SCEP_CAP_AES |
                         SCEP_CAP_RENEWAL);
    assert_int_equal(scep_parse_caps("SCEPStandard\r\n", 14),
                     SCEP_CAP_POST | SCEP_CAP_SHA256 | SCEP_CAP_AES);
    assert_int_equal(scep_parse_caps("AESish\nSHA-2566", 15), 0);
    g_bytes_unref(caps);
}

static void
test_ca_certs_hostile(void **state)
{
    (void)state;
    GBytes *der = recorded("getcacert.der");
    gsize len;
    const unsigned char *data = g_bytes_get_data(der, &len);
    STACK_OF(X509) *certs = sk_X509_new_null();
    X509 *recipient;
    char *reason = NULL;
    /* A certificate is not a PKCS#7 bag, and half of one is nothing. */
    assert_false(
        scep_parse_ca_certs(data, len, TRUE, certs, &recipient, &reason));
    g_clear_pointer(&reason, g_free);
    assert_false(
        scep_parse_ca_certs(data, len / 2, FALSE, certs, &recipient, &reason));
    g_clear_pointer(&reason, g_free);
    /* Trailing bytes after the certificate are refused. */
    unsigned char *longer = g_malloc(len + 1);
    memcpy(longer, data, len);
    longer[len] = 0;
    assert_false(scep_parse_ca_certs(longer, len + 1, FALSE, certs, &recipient,
                                     &reason));
    assert_non_null(strstr(reason, "not one DER certificate"));
    g_clear_pointer(&reason, g_free);
    g_free(longer);
    sk_X509_pop_free(certs, X509_free);
    g_bytes_unref(der);
}

static gboolean
parse_recorded(const unsigned char *der, gsize len, STACK_OF(X509) * ca,
               const char *transaction, const unsigned char *nonce,
               const char *expected_reason)
{
    struct scep_reply reply;
    char *reason = NULL;
    gboolean ok =
        scep_parse_reply(der, len, ca, transaction, nonce, &reply, &reason);
    if (ok) {
        assert_int_equal(reply.status, SCEP_SUCCESS);
        assert_non_null(reply.envelope);
        scep_reply_clear(&reply);
    } else {
        if (strstr(reason, expected_reason) == NULL)
            print_error("reason: %s\n", reason);
        assert_non_null(strstr(reason, expected_reason));
        g_free(reason);
    }
    return ok;
}

static void
test_reply(void **state)
{
    (void)state;
    STACK_OF(X509) *ca = recorded_ca();
    GBytes *rep = recorded("certrep-success.der");
    gsize len;
    const unsigned char *der = g_bytes_get_data(rep, &len);
    assert_true(parse_recorded(der, len, ca, RECORDED_TRANSACTION,
                               recorded_nonce, NULL));
    unsigned char other_nonce[SCEP_NONCE_LEN] = {0};
    assert_false(parse_recorded(der, len, ca, RECORDED_TRANSACTION, other_nonce,
                                "does not echo our nonce"));
    assert_false(parse_recorded(der, len, ca, "another", recorded_nonce,
                                "another transaction"));
    assert_false(parse_recorded(der, len - 1, ca, RECORDED_TRANSACTION,
                                recorded_nonce, "not a PKCS#7 signed"));

    /* One changed byte of the signed content breaks the signature. */
    unsigned char *tampered = g_memdup2(der, len);
    tampered[200] ^= 0x01; /* inside the signed envelope */
    assert_false(parse_recorded(tampered, len, ca, RECORDED_TRANSACTION,
                                recorded_nonce, ""));
    g_free(tampered);

    /* Signed by the recorded CA, checked against another: refused. (Test
     * keys are small: valgrind runs these tests.) */
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    X509 *stranger = X509_new();
    X509_set_pubkey(stranger, key);
    X509_set_issuer_name(stranger, X509_get_issuer_name(sk_X509_value(ca, 0)));
    X509_set_serialNumber(stranger,
                          X509_get_serialNumber(sk_X509_value(ca, 0)));
    X509_set_subject_name(stranger,
                          X509_get_subject_name(sk_X509_value(ca, 0)));
    X509_sign(stranger, key, EVP_sha256());
    STACK_OF(X509) *wrong = sk_X509_new_null();
    sk_X509_push(wrong, stranger);
    assert_false(parse_recorded(der, len, wrong, RECORDED_TRANSACTION,
                                recorded_nonce, "not signed by the CA"));
    sk_X509_pop_free(wrong, X509_free);
    EVP_PKEY_free(key);
    g_bytes_unref(rep);
    sk_X509_pop_free(ca, X509_free);
}

/* Our own PKCSReq, read back as a reply: signed, but not a CertRep. */
static void
test_request(void **state)
{
    (void)state;
    STACK_OF(X509) *ca = recorded_ca();
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    X509 *self = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(self), 1);
    X509_set_pubkey(self, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(self), "CN", MBSTRING_ASC,
                               (const unsigned char *)"me", -1, -1, 0);
    X509_set_issuer_name(self, X509_get_subject_name(self));
    X509_gmtime_adj(X509_getm_notBefore(self), 0);
    X509_gmtime_adj(X509_getm_notAfter(self), 60);
    X509_sign(self, key, EVP_sha256());
    struct scep_request req = {
        .type = SCEP_PKCS_REQ,
        .transaction_id = "T1",
        .signer_cert = self,
        .signer_key = key,
        .recipient = sk_X509_value(ca, 0),
        .caps = SCEP_CAP_POST | SCEP_CAP_SHA256,
        .content = (const unsigned char *)"csr",
        .content_len = 3,
    };
    char *reason = NULL;
    assert_null(scep_build_request(&req, &reason));
    assert_non_null(strstr(reason, "nothing weaker"));
    g_clear_pointer(&reason, g_free);
    req.caps |= SCEP_CAP_AES;
    GBytes *message = scep_build_request(&req, &reason);
    assert_non_null(message);
    STACK_OF(X509) *signer = sk_X509_new_null();
    sk_X509_push(signer, self);
    gsize len;
    const unsigned char *der = g_bytes_get_data(message, &len);
    assert_false(parse_recorded(der, len, signer, "T1", req.sender_nonce,
                                "not a CertRep"));
    sk_X509_free(signer);
    g_bytes_unref(message);
    X509_free(self);
    EVP_PKEY_free(key);
    sk_X509_pop_free(ca, X509_free);
}

/* A fuzz seed read by scep_parse_reply as the fuzzer does: status, fail_info,
 * and the number of certificates its envelope opens to (-1: none). */
static void
check_fuzz_seed(const char *name, enum scep_pki_status status, int fail_info,
                int certs_inside)
{
    static const unsigned char zero_nonce[SCEP_NONCE_LEN];
    EVP_PKEY *key;
    X509 *cert;
    assert_true(scep_fuzz_ca_load(&key, &cert));
    STACK_OF(X509) *ca = sk_X509_new_null();
    sk_X509_push(ca, cert);
    GBytes *der = recorded(name);
    gsize len;
    const void *data = g_bytes_get_data(der, &len);
    struct scep_reply reply;
    char *reason = NULL;
    assert_true(
        scep_parse_reply(data, len, ca, "ID", zero_nonce, &reply, &reason));
    assert_int_equal(reply.status, status);
    assert_int_equal(reply.fail_info, fail_info);
    if (certs_inside >= 0) {
        GPtrArray *certs =
            g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
        assert_true(scep_open_envelope(
            reply.envelope, cert, scep_fuzz_ca_decrypt, key, certs, &reason));
        assert_int_equal(certs->len, certs_inside);
        g_ptr_array_unref(certs);
    }
    scep_reply_clear(&reply);
    g_bytes_unref(der);
    sk_X509_pop_free(ca, X509_free);
    EVP_PKEY_free(key);
}

static void
test_fuzz_seeds(void **state)
{
    (void)state;
    check_fuzz_seed("fuzz-certrep-success.der", SCEP_SUCCESS, -1, 1);
    check_fuzz_seed("fuzz-certrep-pending.der", SCEP_PENDING, -1, -1);
    check_fuzz_seed("fuzz-certrep-failure.der", SCEP_FAILURE, 2, -1);
    /* The envelopes alone, in every cipher a reply may use. */
    EVP_PKEY *key;
    X509 *cert;
    assert_true(scep_fuzz_ca_load(&key, &cert));
    static const char *const envelopes[] = {
        "fuzz-envelope-AES-128-CBC.der", "fuzz-envelope-AES-192-CBC.der",
        "fuzz-envelope-AES-256-CBC.der", "fuzz-envelope-DES-EDE3-CBC.der",
        "fuzz-envelope-DES-CBC.der"};
    for (size_t i = 0; i < G_N_ELEMENTS(envelopes); i++) {
        GBytes *der = recorded(envelopes[i]);
        gsize len;
        const unsigned char *p = g_bytes_get_data(der, &len);
        PKCS7 *envelope = d2i_PKCS7(NULL, &p, (long)len);
        GPtrArray *certs =
            g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
        char *reason = NULL;
        assert_non_null(envelope);
        if (!scep_open_envelope(envelope, cert, scep_fuzz_ca_decrypt, key,
                                certs, &reason))
            fail_msg("%s: %s", envelopes[i], reason);
        assert_int_equal(certs->len, 1);
        g_ptr_array_unref(certs);
        PKCS7_free(envelope);
        g_bytes_unref(der);
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    /* The CA and an RA: the RA, for key encipherment, is the recipient. */
    GBytes *bag = recorded("fuzz-getcacert-bag.der");
    gsize len;
    const void *data = g_bytes_get_data(bag, &len);
    STACK_OF(X509) *certs = sk_X509_new_null();
    X509 *recipient;
    char *reason = NULL;
    assert_true(
        scep_parse_ca_certs(data, len, TRUE, certs, &recipient, &reason));
    assert_int_equal(sk_X509_num(certs), 2);
    assert_ptr_equal(recipient, sk_X509_value(certs, 1));
    sk_X509_pop_free(certs, X509_free);
    g_bytes_unref(bag);
}

static void
test_fail_info(void **state)
{
    (void)state;
    assert_string_equal(scep_fail_info_text(1), "integrity check failed");
    assert_string_equal(scep_fail_info_text(9), "no reason given");
    assert_string_equal(scep_fail_info_text(-1), "no reason given");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_ca_certs_hostile),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_fuzz_seeds),
        cmocka_unit_test(test_fail_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
