/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What tessera-pkcs11.so makes of an identity answer (pkcs11/attributes.c):
 * the objects' attributes, and the answers it refuses to show.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../pkcs11/module.h"

#include <openssl/x509.h>

static OSSL_LIB_CTX *libctx;
static uint8_t key_id[] = {0x10, 0x20, 0x30};

static EVP_PKEY *
make_key(const char *type)
{
    EVP_PKEY *key = strcmp(type, "EC") == 0
                        ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                        : EVP_PKEY_Q_keygen(NULL, NULL, type, (size_t)2048);
    assert_non_null(key);
    return key;
}

/* A certificate for subject_key's public half, signed by issuer_key. */
static struct tessera_blob
make_cert(const char *cn, EVP_PKEY *subject_key, const char *issuer_cn,
          EVP_PKEY *issuer_key)
{
    X509 *x = X509_new();
    X509_NAME *subject = X509_NAME_new(), *issuer = X509_NAME_new();
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_UTF8,
                               (const unsigned char *)issuer_cn, -1, -1, 0);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_set_subject_name(x, subject);
    X509_set_issuer_name(x, issuer);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, subject_key);
    X509_sign(x, issuer_key, EVP_sha256());
    struct tessera_blob b = {0};
    int len = i2d_X509(x, &b.data);
    assert_true(len > 0);
    b.len = (size_t)len;
    X509_NAME_free(subject);
    X509_NAME_free(issuer);
    X509_free(x);
    return b;
}

static struct tessera_blob
spki_of(EVP_PKEY *key)
{
    struct tessera_blob b = {0};
    int len = i2d_PUBKEY(key, &b.data);
    assert_true(len > 0);
    b.len = (size_t)len;
    return b;
}

/* An identity answer: name, its key's SPKI, leaf and CA certificate. */
struct answer {
    struct tessera_identity id;
    EVP_PKEY *key, *ca_key;
};

static void
answer_init(struct answer *a, const char *name, const char *type)
{
    memset(a, 0, sizeof(*a));
    a->key = make_key(type);
    a->ca_key = make_key("EC");
    a->id.summary = (struct tessera_identity_summary){
        .name = (char *)name,
        .token_label = "Work Card",
        .token_manufacturer = "SoftHSM project",
        .token_model = "SoftHSM v2",
        .token_serial = "1",
        .key_id = {key_id, sizeof(key_id)},
        .key_label = (char *)name,
        .flags = TESSERA_ID_HAS_CERT | TESSERA_ID_TOKEN_PRESENT,
        .subject = "CN=leaf",
        .not_after = 2000000000,
        .renewal_error = "",
    };
    a->id.spki = spki_of(a->key);
    a->id.n_certs = 2;
    a->id.certs[0] = make_cert("leaf", a->key, "Test CA", a->ca_key);
    a->id.certs[1] = make_cert("Test CA", a->ca_key, "Test CA", a->ca_key);
}

static void
answer_clear(struct answer *a)
{
    tessera_blob_clear(&a->id.spki);
    for (size_t i = 0; i < a->id.n_certs; i++)
        tessera_blob_clear(&a->id.certs[i]);
    EVP_PKEY_free(a->key);
    EVP_PKEY_free(a->ca_key);
}

static struct generation *
shown(struct answer *a)
{
    char why[256] = "";
    struct generation *g =
        generation_from_identity(&a->id, libctx, why, sizeof(why));
    if (g == NULL)
        fail_msg("not shown: %s", why);
    return g;
}

static void
expect_refused(struct answer *a, const char *reason)
{
    char why[256] = "";
    assert_null(generation_from_identity(&a->id, libctx, why, sizeof(why)));
    if (strstr(why, reason) == NULL)
        fail_msg("refused for \"%s\", not \"%s\"", why, reason);
}

/* An attribute's value, which must exist. */
static void
expect_attribute(const struct object *o, CK_ATTRIBUTE_TYPE type,
                 const void *want, CK_ULONG want_len)
{
    union attribute_scratch scratch;
    const void *value;
    CK_ULONG len;
    assert_int_equal(object_attribute(o, type, &scratch, &value, &len),
                     ATTRIBUTE_FOUND);
    assert_int_equal(len, want_len);
    if (len > 0)
        assert_memory_equal(value, want, len);
}

static void
expect_ulong(const struct object *o, CK_ATTRIBUTE_TYPE type, CK_ULONG want)
{
    expect_attribute(o, type, &want, sizeof(want));
}

static void
expect_bool(const struct object *o, CK_ATTRIBUTE_TYPE type, bool want)
{
    CK_BBOOL b = want ? CK_TRUE : CK_FALSE;
    expect_attribute(o, type, &b, sizeof(b));
}

static void
test_ec_identity_objects(void **state)
{
    (void)state;
    struct answer a;
    answer_init(&a, "corp-wifi", "EC");
    struct generation *g = shown(&a);
    assert_int_equal(g->key_type, CKK_EC);
    assert_int_equal(g->key_bits, 256);
    assert_true(g->has_cert);
    assert_int_equal(g->n_authorities, 1);
    uint8_t hash[TESSERA_KEY_HASH_LEN];
    EVP_Digest(a.id.spki.data, a.id.spki.len, hash, NULL, EVP_sha256(), NULL);
    assert_memory_equal(g->key_hash, hash, sizeof(hash));

    struct object priv = {.kind = OBJECT_PRIVATE, .generation = g};
    struct object pub = {.kind = OBJECT_PUBLIC, .generation = g};
    struct object cert = {.kind = OBJECT_CERT, .generation = g};
    struct object ca = {.kind = OBJECT_AUTHORITY,
                        .authority = &g->authorities[0]};
    static const uint8_t prime256v1[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};
    expect_ulong(&priv, CKA_CLASS, CKO_PRIVATE_KEY);
    expect_attribute(&priv, CKA_LABEL, "corp-wifi", 9);
    expect_attribute(&priv, CKA_ID, key_id, sizeof(key_id));
    expect_bool(&priv, CKA_SIGN, true);
    expect_bool(&priv, CKA_SENSITIVE, true);
    expect_bool(&priv, CKA_EXTRACTABLE, false);
    expect_bool(&priv, CKA_PRIVATE, true);
    expect_attribute(&priv, CKA_EC_PARAMS, prime256v1, sizeof(prime256v1));
    union attribute_scratch scratch;
    const void *value;
    CK_ULONG len;
    assert_int_equal(object_attribute(&priv, CKA_VALUE, &scratch, &value, &len),
                     ATTRIBUTE_SENSITIVE);
    assert_int_equal(
        object_attribute(&priv, CKA_MODULUS, &scratch, &value, &len),
        ATTRIBUTE_INVALID);

    expect_ulong(&pub, CKA_CLASS, CKO_PUBLIC_KEY);
    expect_bool(&pub, CKA_VERIFY, true);
    expect_bool(&pub, CKA_PRIVATE, false);
    /* CKA_EC_POINT: a DER OCTET STRING of the 65-byte uncompressed point */
    assert_int_equal(
        object_attribute(&pub, CKA_EC_POINT, &scratch, &value, &len),
        ATTRIBUTE_FOUND);
    assert_int_equal(len, 67);
    assert_memory_equal(value, "\x04\x41\x04", 3);

    expect_ulong(&cert, CKA_CLASS, CKO_CERTIFICATE);
    expect_ulong(&cert, CKA_CERTIFICATE_TYPE, CKC_X_509);
    expect_ulong(&cert, CKA_CERTIFICATE_CATEGORY, 1);
    expect_attribute(&cert, CKA_VALUE, a.id.certs[0].data, a.id.certs[0].len);
    expect_attribute(&cert, CKA_ID, key_id, sizeof(key_id));
    expect_attribute(&cert, CKA_LABEL, "corp-wifi", 9);

    expect_ulong(&ca, CKA_CERTIFICATE_CATEGORY, 2);
    expect_attribute(&ca, CKA_VALUE, a.id.certs[1].data, a.id.certs[1].len);
    expect_attribute(&ca, CKA_ID, NULL, 0);
    expect_attribute(&ca, CKA_LABEL, "Test CA", 7);

    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    uint8_t other_id[] = {0x10, 0x20, 0x31};
    CK_ATTRIBUTE match[] = {{CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_ID, key_id, sizeof(key_id)}};
    CK_ATTRIBUTE other[] = {{CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_ID, other_id, sizeof(other_id)}};
    CK_ATTRIBUTE shorter[] = {{CKA_ID, key_id, 2}};
    assert_true(object_matches(&priv, match, 2));
    assert_true(object_matches(&priv, NULL, 0));
    assert_false(object_matches(&priv, other, 2));
    assert_false(object_matches(&priv, shorter, 1));
    assert_false(object_matches(&pub, match, 2));
    generation_free(g);
    answer_clear(&a);
}

static void
test_rsa_identity_objects(void **state)
{
    (void)state;
    struct answer a;
    answer_init(&a, "legacy", "RSA");
    struct generation *g = shown(&a);
    assert_int_equal(g->key_type, CKK_RSA);
    assert_int_equal(g->key_bits, 2048);
    struct object pub = {.kind = OBJECT_PUBLIC, .generation = g};
    expect_ulong(&pub, CKA_MODULUS_BITS, 2048);
    expect_attribute(&pub, CKA_PUBLIC_EXPONENT, "\x01\x00\x01", 3);
    union attribute_scratch scratch;
    const void *value;
    CK_ULONG len;
    assert_int_equal(
        object_attribute(&pub, CKA_MODULUS, &scratch, &value, &len),
        ATTRIBUTE_FOUND);
    assert_int_equal(len, 256);
    assert_int_equal(
        object_attribute(&pub, CKA_ALLOWED_MECHANISMS, &scratch, &value, &len),
        ATTRIBUTE_FOUND);
    assert_int_equal(len, 12 * sizeof(CK_MECHANISM_TYPE));
    generation_free(g);
    answer_clear(&a);
}

/* A certificate shown beside a key that is not its key would sign
 * handshakes no server can verify: the identity is not shown at all. */
static void
test_mismatched_pair_is_refused(void **state)
{
    (void)state;
    struct answer a;
    answer_init(&a, "mixed", "EC");
    EVP_PKEY *other = make_key("EC");
    tessera_blob_clear(&a.id.spki);
    a.id.spki = spki_of(other);
    expect_refused(&a, "its certificate is not for its key");
    EVP_PKEY_free(other);
    answer_clear(&a);
}

static void
test_malformed_answers_are_refused(void **state)
{
    (void)state;
    struct answer a;
    answer_init(&a, "cut", "EC");
    a.id.certs[0].len -= 1;
    expect_refused(&a, "its certificate does not parse");
    a.id.certs[0].len += 1;
    a.id.spki.data[a.id.spki.len - 1] ^= 0x55; /* a point off the curve */
    expect_refused(&a, "public key does not parse");
    answer_clear(&a);

    answer_init(&a, "trailing", "EC");
    uint8_t *longer = realloc(a.id.spki.data, a.id.spki.len + 1);
    assert_non_null(longer);
    longer[a.id.spki.len] = 0;
    a.id.spki.data = longer;
    a.id.spki.len++;
    expect_refused(&a, "public key does not parse");
    answer_clear(&a);

    answer_init(&a, "", "EC");
    expect_refused(&a, "it has no name");
    answer_clear(&a);

    answer_init(&a, "edwards", "ED25519");
    expect_refused(&a, "neither EC nor RSA");
    answer_clear(&a);
}

/* A CA certificate that does not parse is left out; the identity stays. */
static void
test_bad_authority_is_left_out(void **state)
{
    (void)state;
    struct answer a;
    answer_init(&a, "chain", "EC");
    a.id.certs[1].data[0] = 0x31;
    struct generation *g = shown(&a);
    assert_int_equal(g->n_authorities, 0);
    generation_free(g);
    answer_clear(&a);
}

/* What LIST says changes the fingerprint when the identity changed, not
 * when only its token's login did. */
static void
test_fingerprint_follows_renewals_not_logins(void **state)
{
    (void)state;
    struct answer a;
    answer_init(&a, "fp", "EC");
    uint8_t before[TESSERA_KEY_HASH_LEN], after[TESSERA_KEY_HASH_LEN];
    struct tessera_identity_summary s = a.id.summary;
    assert_true(summary_fingerprint(&s, libctx, before));
    s.flags |= TESSERA_ID_LOGGED_IN;
    s.renewal_state = TESSERA_RENEWAL_RENEWING;
    assert_true(summary_fingerprint(&s, libctx, after));
    assert_memory_equal(before, after, sizeof(before));
    s.not_after++;
    assert_true(summary_fingerprint(&s, libctx, after));
    assert_memory_not_equal(before, after, sizeof(before));
    answer_clear(&a);
}

int
main(void)
{
    libctx = OSSL_LIB_CTX_new();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ec_identity_objects),
        cmocka_unit_test(test_rsa_identity_objects),
        cmocka_unit_test(test_mismatched_pair_is_refused),
        cmocka_unit_test(test_malformed_answers_are_refused),
        cmocka_unit_test(test_bad_authority_is_left_out),
        cmocka_unit_test(test_fingerprint_follows_renewals_not_logins),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    OSSL_LIB_CTX_free(libctx);
    return failed;
}
