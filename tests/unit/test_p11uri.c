/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 7512 parsing and matching of tokens and identities. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/p11uri.h"

static uint8_t alice_id[] = {0x01, 0xa2, 0xff};

static struct tessera_identity_summary
alice(void)
{
    struct tessera_identity_summary s = {
        .name = "alice",
        .token_label = "Work Card",
        .token_manufacturer = "SoftHSM project",
        .token_model = "SoftHSM v2",
        .token_serial = "0123",
        .key_id = {alice_id, sizeof(alice_id)},
        .key_label = "alice-key",
    };
    return s;
}

static bool
matches(const char *text)
{
    struct tessera_p11uri uri;
    char err[256];
    struct tessera_identity_summary s = alice();
    assert_true(tessera_p11uri_parse(text, &uri, err, sizeof(err)));
    bool m = tessera_p11uri_match_identity(&uri, &s);
    tessera_p11uri_clear(&uri);
    return m;
}

static void
test_percent_decoding_and_fields(void **state)
{
    (void)state;
    struct tessera_p11uri uri;
    char err[256];
    assert_true(tessera_p11uri_parse(
        "pkcs11:token=Work%20Card;manufacturer=SoftHSM%20project;"
        "serial=0123;model=SoftHSM%20v2;object=alice-key;id=%01%a2%FF;"
        "type=private?pin-source=file:/x",
        &uri, err, sizeof(err)));
    assert_string_equal(uri.token, "Work Card");
    assert_string_equal(uri.manufacturer, "SoftHSM project");
    assert_string_equal(uri.object, "alice-key");
    assert_true(uri.has_id);
    assert_int_equal(uri.id.len, 3);
    assert_memory_equal(uri.id.data, alice_id, 3);
    assert_int_equal(uri.type, TESSERA_P11URI_PRIVATE);
    tessera_p11uri_clear(&uri);
}

static void
test_identity_matching(void **state)
{
    (void)state;
    assert_true(matches("pkcs11:"));
    assert_true(matches("pkcs11:token=Work%20Card"));
    assert_true(matches("pkcs11:object=alice-key;type=cert"));
    assert_true(matches("pkcs11:object=alice")); /* the identity name */
    assert_true(matches("pkcs11:id=%01%a2%ff"));
    assert_true(matches("PKCS11:token=Work%20Card;library-version=1"));
    assert_false(matches("pkcs11:token=Other"));
    assert_false(matches("pkcs11:id=%01%a2"));
    assert_false(matches("pkcs11:object=bob"));
    assert_false(matches("pkcs11:serial=9999"));
    assert_false(matches("pkcs11:object=alice-key;type=secret-key"));
}

static void
test_token_matching(void **state)
{
    (void)state;
    struct tessera_p11uri uri;
    char err[256];
    assert_true(tessera_p11uri_parse("pkcs11:model=SoftHSM%20v2", &uri, err,
                                     sizeof(err)));
    assert_true(tessera_p11uri_match_token(&uri, "A", "SoftHSM project",
                                           "SoftHSM v2", "1"));
    assert_false(
        tessera_p11uri_match_token(&uri, "A", "OpenSC", "PKCS#15", "1"));
    tessera_p11uri_clear(&uri);
}

/* A token's URI, formatted and parsed back, names that token and no other,
 * whatever characters its fields hold. */
static void
test_formatted_token_uri_round_trips(void **state)
{
    (void)state;
    const char *label = "Work Card; 100% \"mine\"?/é";
    char *text = tessera_p11uri_format_token(label, "SoftHSM project",
                                             "SoftHSM v2", "01=2");
    assert_non_null(text);
    assert_string_equal(text, "pkcs11:token=Work%20Card%3B%20100%25%20%22mine"
                              "%22%3F%2F%C3%A9;manufacturer=SoftHSM%20project;"
                              "model=SoftHSM%20v2;serial=01%3D2");
    struct tessera_p11uri uri;
    char err[256];
    assert_true(tessera_p11uri_parse(text, &uri, err, sizeof(err)));
    assert_true(tessera_p11uri_match_token(&uri, label, "SoftHSM project",
                                           "SoftHSM v2", "01=2"));
    assert_false(tessera_p11uri_match_token(&uri, label, "SoftHSM project",
                                            "SoftHSM v2", "01=3"));
    tessera_p11uri_clear(&uri);
    free(text);
}

static void
expect_rejected(const char *text, const char *reason)
{
    struct tessera_p11uri uri;
    char err[256] = "";
    assert_false(tessera_p11uri_parse(text, &uri, err, sizeof(err)));
    assert_non_null(strstr(err, reason));
    assert_null(uri.token);
    assert_null(uri.id.data);
}

static void
test_malformed_uris_are_rejected(void **state)
{
    (void)state;
    expect_rejected("tessera:alice", "not a pkcs11: URI");
    expect_rejected("pkcs11:token=a;token=b", "twice");
    expect_rejected("pkcs11:id=%01;id=%02", "twice");
    expect_rejected("pkcs11:object=%zz", "percent");
    expect_rejected("pkcs11:object=%4", "percent");
    expect_rejected("pkcs11:object=%", "percent");
    expect_rejected("pkcs11:token", "no value");
    expect_rejected("pkcs11:x-vendor=1", "unknown attribute");
    expect_rejected("pkcs11:type=door", "unknown type");
    expect_rejected("pkcs11:object=a%00b", "NUL");
    expect_rejected("pkcs11:token=x;type=cert;type=private", "twice");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percent_decoding_and_fields),
        cmocka_unit_test(test_identity_matching),
        cmocka_unit_test(test_token_matching),
        cmocka_unit_test(test_formatted_token_uri_round_trips),
        cmocka_unit_test(test_malformed_uris_are_rejected),
    };
    return cmocka_run_group_tests_name("pkcs11 URIs", tests, NULL, NULL);
}
