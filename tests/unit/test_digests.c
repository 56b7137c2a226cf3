/* SPDX-License-Identifier: Apache-2.0 */
/* The DigestInfo table (agent/digests.c) against OpenSSL's own encoding,
 * and the PSS mechanisms each digest maps to. */
#include "../../agent/digests.h"
#include "../../common/wire.h"

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static const struct {
    uint8_t id;
    int nid;
    size_t size;
    CK_MECHANISM_TYPE hash;
    CK_RSA_PKCS_MGF_TYPE mgf;
} expected[] = {
    {TESSERA_DIGEST_SHA1, NID_sha1, 20, CKM_SHA_1, CKG_MGF1_SHA1},
    {TESSERA_DIGEST_SHA224, NID_sha224, 28, CKM_SHA224, CKG_MGF1_SHA224},
    {TESSERA_DIGEST_SHA256, NID_sha256, 32, CKM_SHA256, CKG_MGF1_SHA256},
    {TESSERA_DIGEST_SHA384, NID_sha384, 48, CKM_SHA384, CKG_MGF1_SHA384},
    {TESSERA_DIGEST_SHA512, NID_sha512, 64, CKM_SHA512, CKG_MGF1_SHA512},
};

/* DigestInfo { AlgorithmIdentifier { OID, NULL }, OCTET STRING } as
 * OpenSSL writes it, for a digest of size bytes of 0xAB. */
static int
openssl_digest_info(int nid, size_t size, unsigned char **der)
{
    unsigned char digest[64];
    memset(digest, 0xAB, size);
    X509_SIG *sig = X509_SIG_new();
    X509_ALGOR *alg;
    ASN1_OCTET_STRING *octets;
    X509_SIG_getm(sig, &alg, &octets);
    assert_int_equal(X509_ALGOR_set0(alg, OBJ_nid2obj(nid), V_ASN1_NULL, NULL),
                     1);
    assert_int_equal(ASN1_OCTET_STRING_set(octets, digest, (int)size), 1);
    *der = NULL;
    int len = i2d_X509_SIG(sig, der);
    X509_SIG_free(sig);
    return len;
}

static void
test_prefixes_are_der_digest_info(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        const struct digest_params *d = digest_params(expected[i].id);
        assert_non_null(d);
        assert_int_equal(d->size, expected[i].size);
        unsigned char *der;
        int len = openssl_digest_info(expected[i].nid, d->size, &der);
        /* The prefix is everything before the digest itself. */
        assert_int_equal((size_t)len, d->prefix_len + d->size);
        assert_memory_equal(d->prefix, der, d->prefix_len);
        OPENSSL_free(der);
    }
}

static void
test_pss_mechanisms(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        const struct digest_params *d = digest_params(expected[i].id);
        assert_int_equal(d->hash, expected[i].hash);
        assert_int_equal(d->mgf, expected[i].mgf);
    }
}

/* No digest (PKCS#1 over the input as given, EdDSA) and unknown ids. */
static void
test_none_and_unknown(void **state)
{
    (void)state;
    assert_null(digest_params(TESSERA_DIGEST_NONE));
    assert_null(digest_params(6));
    assert_null(digest_params(255));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefixes_are_der_digest_info),
        cmocka_unit_test(test_pss_mechanisms),
        cmocka_unit_test(test_none_and_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
