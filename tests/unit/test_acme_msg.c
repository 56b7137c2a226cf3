/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ACME response parsers on recorded and hostile answers, and RFC 9773
 * (renewal information) against the RFC's own example, since Debian's
 * pebble does not offer renewalInfo.
 */
#include "../../agent/enroll/acme_msg.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#define TEXT(s) (s), strlen(s)

/* pebble 2.4's directory, as recorded. */
static const char directory_pebble[] =
    "{\"keyChange\": \"https://127.0.0.1:14000/rollover-account-key\","
    " \"meta\": {\"externalAccountRequired\": false,"
    "  \"termsOfService\": \"data:text/plain,Do%20what%20thou%20wilt\"},"
    " \"newAccount\": \"https://127.0.0.1:14000/sign-me-up\","
    " \"newNonce\": \"https://127.0.0.1:14000/nonce-plz\","
    " \"newOrder\": \"https://127.0.0.1:14000/order-plz\","
    " \"revokeCert\": \"https://127.0.0.1:14000/revoke-cert\"}";

/* RFC 9773, section 3: a directory offering renewal information. */
static const char directory_ari[] =
    "{\"newNonce\": \"https://acme.example.com/new-nonce\","
    " \"newAccount\": \"https://acme.example.com/new-account\","
    " \"newOrder\": \"https://acme.example.com/new-order\","
    " \"renewalInfo\": \"https://acme.example.com/renewal-info\"}";

static void
test_directory(void **state)
{
    (void)state;
    struct acme_directory d;
    char *reason = NULL;
    assert_true(acme_parse_directory(TEXT(directory_pebble), &d, &reason));
    assert_string_equal(d.new_order, "https://127.0.0.1:14000/order-plz");
    assert_null(d.renewal_info);
    acme_directory_clear(&d);
    assert_true(acme_parse_directory(TEXT(directory_ari), &d, &reason));
    assert_string_equal(d.renewal_info,
                        "https://acme.example.com/renewal-info");
    acme_directory_clear(&d);
}

static void
expect_directory_refused(const char *body, gsize len, const char *why)
{
    struct acme_directory d;
    char *reason = NULL;
    assert_false(acme_parse_directory(body, len, &d, &reason));
    assert_non_null(strstr(reason, why));
    g_free(reason);
}

static void
test_directory_hostile(void **state)
{
    (void)state;
    expect_directory_refused(TEXT("not json"), "not JSON");
    expect_directory_refused(TEXT("[1, 2]"), "not a JSON object");
    expect_directory_refused(TEXT("{\"newNonce\": \"http://a.example/n\","
                                  "\"newAccount\": \"https://a.example/a\","
                                  "\"newOrder\": \"https://a.example/o\"}"),
                             "\"newNonce\" is missing or not an https URL");
    expect_directory_refused(TEXT("{\"newNonce\": \"https://a.example/n x\","
                                  "\"newAccount\": \"https://a.example/a\","
                                  "\"newOrder\": \"https://a.example/o\"}"),
                             "\"newNonce\"");
    expect_directory_refused(TEXT("{\"newNonce\": 7}"), "\"newNonce\"");
    expect_directory_refused("{\"a\": \"\0\"}", 9, "not JSON text");
    GString *deep = g_string_new("");
    for (int i = 0; i < 100000; i++)
        g_string_append_c(deep, '[');
    expect_directory_refused(deep->str, deep->len, "too deeply nested");
    g_string_free(deep, TRUE);
    char *huge = g_strnfill(ACME_BODY_MAX + 1, ' ');
    expect_directory_refused(huge, ACME_BODY_MAX + 1, "too large");
    g_free(huge);
    /* A bracket inside a string does not count as nesting. */
    char *brackets =
        g_strdup_printf("{\"x\": \"%s\", \"newNonce\": \"https://a.example/n\","
                        "\"newAccount\": \"https://a.example/a\","
                        "\"newOrder\": \"https://a.example/o\"}",
                        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[");
    struct acme_directory d;
    char *reason = NULL;
    assert_true(acme_parse_directory(TEXT(brackets), &d, &reason));
    acme_directory_clear(&d);
    g_free(brackets);
}

static void
test_order(void **state)
{
    (void)state;
    struct acme_order o;
    char *reason = NULL;
    assert_true(acme_parse_order(
        TEXT(
            "{\"status\": \"pending\", \"expires\": \"2026-11-25T00:00:00Z\","
            " \"identifiers\": [{\"type\": \"dns\", \"value\": \"a.example\"}],"
            " \"finalize\": \"https://ca.example/finalize/1\","
            " \"authorizations\": [\"https://ca.example/authz/1\","
            "                      \"https://ca.example/authz/2\"]}"),
        &o, &reason));
    assert_int_equal(o.status, ACME_STATUS_PENDING);
    assert_int_equal(o.authorizations->len, 2);
    assert_null(o.certificate);
    acme_order_clear(&o);

    assert_true(acme_parse_order(
        TEXT("{\"status\": \"valid\", \"finalize\": \"https://ca.example/f\","
             " \"authorizations\": [],"
             " \"certificate\": \"https://ca.example/cert/1\"}"),
        &o, &reason));
    assert_string_equal(o.certificate, "https://ca.example/cert/1");
    acme_order_clear(&o);

    assert_true(acme_parse_order(
        TEXT("{\"status\": \"invalid\", \"finalize\": \"https://ca.example/f\","
             " \"authorizations\": [], \"error\": {\"type\": "
             "\"urn:ietf:params:acme:error:badCSR\", \"detail\": "
             "\"key too\\nweak\"}}"),
        &o, &reason));
    assert_string_equal(o.error, "key too weak"); /* control chars go */
    acme_order_clear(&o);
}

static void
expect_order_refused(const char *body, const char *why)
{
    struct acme_order o;
    char *reason = NULL;
    assert_false(acme_parse_order(TEXT(body), &o, &reason));
    assert_non_null(strstr(reason, why));
    assert_null(o.authorizations);
    g_free(reason);
}

static void
test_order_hostile(void **state)
{
    (void)state;
    expect_order_refused("{\"status\": \"sleeping\"}", "no known status");
    expect_order_refused("{\"status\": \"valid\", \"authorizations\": [],"
                         " \"finalize\": \"https://ca.example/f\"}",
                         "\"certificate\"");
    expect_order_refused("{\"status\": \"ready\", \"authorizations\": [3],"
                         " \"finalize\": \"https://ca.example/f\"}",
                         "not an https URL");
    expect_order_refused("{\"status\": \"ready\", \"authorizations\": {},"
                         " \"finalize\": \"https://ca.example/f\"}",
                         "\"authorizations\"");
    GString *many =
        g_string_new("{\"status\": \"ready\", \"authorizations\": [");
    for (int i = 0; i <= ACME_AUTHZ_MAX; i++)
        g_string_append_printf(many, "%s\"https://ca.example/a/%d\"",
                               i ? "," : "", i);
    g_string_append(many, "], \"finalize\": \"https://ca.example/f\"}");
    expect_order_refused(many->str, "too long");
    g_string_free(many, TRUE);
}

static void
test_authz(void **state)
{
    (void)state;
    struct acme_authz a;
    char *reason = NULL;
    /* RFC 8555, section 7.1.4, shortened. */
    assert_true(acme_parse_authz(
        TEXT("{\"status\": \"pending\", \"identifier\": {\"type\": \"dns\","
             " \"value\": \"www.example.org\"}, \"challenges\": ["
             " {\"url\": \"https://example.com/acme/chall/1\", \"type\": "
             "\"http-01\", \"status\": \"invalid\", \"error\": {\"detail\": "
             "\"no answer\"}},"
             " {\"url\": \"https://example.com/acme/chall/2\", \"type\": "
             "\"dns-01\", \"status\": \"pending\", \"token\": \"x\"}]}"),
        &a, &reason));
    assert_int_equal(a.status, ACME_STATUS_PENDING);
    assert_string_equal(a.challenge, "https://example.com/acme/chall/2");
    assert_string_equal(a.error, "no answer");
    acme_authz_clear(&a);
    assert_false(
        acme_parse_authz(TEXT("{\"status\": \"valid\"}"), &a, &reason));
    assert_non_null(strstr(reason, "\"challenges\""));
    g_free(reason);
    reason = NULL;
    assert_false(acme_parse_authz(
        TEXT("{\"status\": \"pending\", \"challenges\": [{\"status\": "
             "\"pending\", \"url\": \"ftp://x\"}]}"),
        &a, &reason));
    g_free(reason);
}

static void
test_problem(void **state)
{
    (void)state;
    struct acme_problem p;
    acme_parse_problem(TEXT("{\"type\": \"urn:ietf:params:acme:error:"
                            "badNonce\", \"detail\": \"JWS has an invalid "
                            "anti-replay nonce\"}"),
                       &p);
    assert_string_equal(p.type, "badNonce");
    assert_string_equal(p.detail, "JWS has an invalid anti-replay nonce");
    acme_problem_clear(&p);
    acme_parse_problem(TEXT("<html>502 Bad Gateway</html>"), &p);
    assert_string_equal(p.type, "unknown");
    assert_string_equal(p.detail, "no detail given");
    acme_problem_clear(&p);
}

/* RFC 9773, section 4.2: the example response. */
static const char renewal_info_rfc[] =
    "{\"suggestedWindow\": {\"start\": \"2025-01-02T04:00:00Z\","
    " \"end\": \"2025-01-03T04:00:00Z\"},"
    " \"explanationURL\": \"https://acme.example.com/docs/ari\"}";

static void
test_renewal_info(void **state)
{
    (void)state;
    struct acme_renewal_window w;
    char *reason = NULL;
    assert_true(acme_parse_renewal_info(TEXT(renewal_info_rfc), &w, &reason));
    assert_int_equal(w.start, 1735790400);
    assert_int_equal(w.end, 1735790400 + 86400);
    /* A random point inside the window, or now once it has begun. */
    assert_int_equal(acme_renewal_time(&w, 0, 0), w.start);
    assert_int_equal(acme_renewal_time(&w, 0, 86400), w.end);
    assert_int_equal(acme_renewal_time(&w, 0, 86401), w.start);
    gint64 t = acme_renewal_time(&w, 0, 12345);
    assert_true(t >= w.start && t <= w.end);
    assert_int_equal(acme_renewal_time(&w, w.end + 100, 7), w.end + 100);

    assert_false(acme_parse_renewal_info(
        TEXT("{\"suggestedWindow\": {\"start\": \"2025-01-03T04:00:00Z\","
             " \"end\": \"2025-01-02T04:00:00Z\"}}"),
        &w, &reason));
    assert_non_null(strstr(reason, "start before end"));
    g_free(reason);
    reason = NULL;
    assert_false(acme_parse_renewal_info(
        TEXT("{\"suggestedWindow\": {\"start\": \"yesterday\","
             " \"end\": \"2025-01-02T04:00:00Z\"}}"),
        &w, &reason));
    g_free(reason);
    reason = NULL;
    assert_false(acme_parse_renewal_info(TEXT("{}"), &w, &reason));
    g_free(reason);
}

/* RFC 9773, section 4.1: keyIdentifier 69:88:5B:...:D4, serial 0x87654321. */
static void
test_cert_id(void **state)
{
    (void)state;
    static const unsigned char key_id[] = {
        0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
        0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    akid->keyid = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(akid->keyid, key_id, sizeof(key_id));
    ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), 0x87654321);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 60);
    X509_set_pubkey(x, key);
    assert_int_equal(
        X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, 0), 1);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    char *id = acme_cert_id(der, (gsize)len);
    assert_string_equal(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    g_free(id);
    assert_null(acme_cert_id(der, (gsize)len / 2));
    OPENSSL_free(der);
    AUTHORITY_KEYID_free(akid);
    X509_free(x);
    EVP_PKEY_free(key);
}

/* RFC 9773, section 5: a renewal's order names what it replaces. */
static void
test_order_request(void **state)
{
    (void)state;
    JsonArray *ids = json_array_new();
    JsonObject *id = json_object_new();
    json_object_set_string_member(id, "type", "dns");
    json_object_set_string_member(id, "value", "laptop.corp.example");
    json_array_add_object_element(ids, id);
    JsonNode *order =
        acme_order_request(ids, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    char *text = json_to_string(order, FALSE);
    assert_string_equal(text, "{\"identifiers\":[{\"type\":\"dns\",\"value\":"
                              "\"laptop.corp.example\"}],\"replaces\":"
                              "\"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE\"}");
    g_free(text);
    json_node_unref(order);
    order = acme_order_request(json_array_new(), NULL);
    text = json_to_string(order, FALSE);
    assert_string_equal(text, "{\"identifiers\":[]}");
    g_free(text);
    json_node_unref(order);
}

static void
test_base64url(void **state)
{
    (void)state;
    char *s = acme_base64url("\xfb\xff", 2);
    assert_string_equal(s, "-_8");
    g_free(s);
}

/* pebble's documented example HMAC key: 48 bytes. */
static const char eab_key_text[] =
    "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

static void
test_eab_required(void **state)
{
    (void)state;
    static const char required[] =
        "{\"newNonce\": \"https://a.example/n\","
        " \"newAccount\": \"https://a.example/a\","
        " \"newOrder\": \"https://a.example/o\","
        " \"meta\": {\"externalAccountRequired\": true}}";
    static const char not_boolean[] =
        "{\"newNonce\": \"https://a.example/n\","
        " \"newAccount\": \"https://a.example/a\","
        " \"newOrder\": \"https://a.example/o\","
        " \"meta\": {\"externalAccountRequired\": \"yes\"}}";
    struct acme_directory d;
    char *reason = NULL;
    assert_true(acme_parse_directory(TEXT(required), &d, &reason));
    assert_true(d.external_account_required);
    acme_directory_clear(&d);
    assert_true(acme_parse_directory(TEXT(not_boolean), &d, &reason));
    assert_false(d.external_account_required);
    acme_directory_clear(&d);
    assert_true(acme_parse_directory(TEXT(directory_pebble), &d, &reason));
    assert_false(d.external_account_required);
    acme_directory_clear(&d);
}

static void
expect_eab_key_refused(const char *text, const char *why)
{
    gsize len = 0;
    char *reason = NULL;
    assert_null(acme_eab_key_decode(text, strlen(text), &len, &reason));
    if (strstr(reason, why) == NULL)
        fail_msg("\"%s\" is not in \"%s\"", why, reason);
    /* The secret is never quoted back. */
    if (strlen(text) > 4)
        assert_null(strstr(reason, text));
    g_free(reason);
}

static void
test_eab_key_decode(void **state)
{
    (void)state;
    gsize len = 0;
    char *reason = NULL;
    guint8 *key = acme_eab_key_decode(TEXT(eab_key_text), &len, &reason);
    assert_non_null(key);
    assert_int_equal(len, 48);
    /* "zWND" is 0xcd 0x63 0x43. */
    assert_int_equal(key[0], 0xcd);
    assert_int_equal(key[1], 0x63);
    assert_int_equal(key[2], 0x43);
    g_free(key);
    /* 17 bytes: a tail of two characters and padding. */
    key = acme_eab_key_decode(TEXT("-_-_-_-_-_-_-_-_-_-_-_8="), &len, &reason);
    assert_non_null(key);
    assert_int_equal(len, 17);
    assert_int_equal(key[0], 0xfb);
    assert_int_equal(key[16], 0xff);
    g_free(key);
    expect_eab_key_refused("zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIogu+ysq",
                           "character 37 is not");
    expect_eab_key_refused("zWNDZM6eQGHWpSRTPal5eIUYFTu7 EajVIogu",
                           "character 29 is not");
    expect_eab_key_refused("zWNDZM6eQGHW", "9-byte key");
    expect_eab_key_refused("zWNDZ", "length is impossible");
    expect_eab_key_refused("", "0-byte key");
}

static void
test_eab_binding(void **state)
{
    (void)state;
    gsize key_len = 0;
    char *reason = NULL;
    guint8 *key = acme_eab_key_decode(TEXT(eab_key_text), &key_len, &reason);
    JsonNode *jwk = json_from_string(
        "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"AAAA\",\"y\":\"BBBB\"}",
        NULL);
    JsonNode *eab = acme_eab_binding("kid-1", key, key_len, jwk,
                                     "https://ca.example/new-acct");
    assert_non_null(eab);
    JsonObject *o = json_node_get_object(eab);
    const char *protected64 = json_object_get_string_member(o, "protected");
    const char *payload64 = json_object_get_string_member(o, "payload");
    const char *sig64 = json_object_get_string_member(o, "signature");
    const char *header = "{\"alg\":\"HS256\",\"kid\":\"kid-1\","
                         "\"url\":\"https://ca.example/new-acct\"}";
    char *want = acme_base64url(header, strlen(header));
    assert_string_equal(protected64, want);
    g_free(want);
    /* The payload is the account's JWK itself. */
    char *jwk_text = acme_json_text(jwk);
    want = acme_base64url(jwk_text, strlen(jwk_text));
    assert_string_equal(payload64, want);
    g_free(want);
    g_free(jwk_text);
    /* HS256 over "protected.payload", computed here on its own. */
    char *input = g_strconcat(protected64, ".", payload64, NULL);
    unsigned char mac[32];
    unsigned int mac_len = sizeof(mac);
    assert_non_null(HMAC(EVP_sha256(), key, (int)key_len,
                         (const unsigned char *)input, strlen(input), mac,
                         &mac_len));
    want = acme_base64url(mac, mac_len);
    assert_string_equal(sig64, want);
    g_free(want);
    /* Another key signs differently. */
    key[0] ^= 1;
    JsonNode *other = acme_eab_binding("kid-1", key, key_len, jwk,
                                       "https://ca.example/new-acct");
    assert_string_not_equal(
        json_object_get_string_member(json_node_get_object(other), "signature"),
        sig64);
    json_node_unref(other);
    g_free(input);
    json_node_unref(eab);
    json_node_unref(jwk);
    g_free(key);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_directory_hostile),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_order_hostile),
        cmocka_unit_test(test_authz),
        cmocka_unit_test(test_problem),
        cmocka_unit_test(test_renewal_info),
        cmocka_unit_test(test_cert_id),
        cmocka_unit_test(test_order_request),
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_eab_required),
        cmocka_unit_test(test_eab_key_decode),
        cmocka_unit_test(test_eab_binding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
