/* SPDX-License-Identifier: Apache-2.0 */
/* Key-reference bodies: the round trips, and every malformed variant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/keyref.h"

/* Not a real key: any one DER SEQUENCE stands for a SubjectPublicKeyInfo. */
static const uint8_t spki[] = {0x30, 0x03, 0x02, 0x01, 0x07};

static void
test_round_trip(void **state)
{
    (void)state;
    uint8_t der[300];
    size_t len;
    struct tessera_keyref ref;
    assert_true(
        tessera_keyref_encode("corp-wifi", NULL, 0, der, sizeof(der), &len));
    const uint8_t expect[] = {0x30, 0x0e, 0x02, 0x01, 0x01, 0x0c, 0x09, 'c',
                              'o',  'r',  'p',  '-',  'w',  'i',  'f',  'i'};
    assert_int_equal(len, sizeof(expect));
    assert_memory_equal(der, expect, sizeof(expect));
    assert_true(tessera_keyref_decode(der, len, &ref));
    assert_string_equal(ref.name, "corp-wifi");
    assert_null(ref.spki);
}

static void
test_version_2_carries_the_public_key(void **state)
{
    (void)state;
    uint8_t der[300];
    size_t len;
    struct tessera_keyref ref;
    assert_true(tessera_keyref_encode("vpn", spki, sizeof(spki), der,
                                      sizeof(der), &len));
    const uint8_t expect[] = {0x30, 0x0d, 0x02, 0x01, 0x02, 0x0c, 0x03, 'v',
                              'p',  'n',  0x30, 0x03, 0x02, 0x01, 0x07};
    assert_int_equal(len, sizeof(expect));
    assert_memory_equal(der, expect, sizeof(expect));
    assert_true(tessera_keyref_decode(der, len, &ref));
    assert_string_equal(ref.name, "vpn");
    assert_int_equal(ref.spki_len, sizeof(spki));
    assert_memory_equal(ref.spki, spki, sizeof(spki));

    /* Only one DER SEQUENCE of bounded size goes in. */
    const uint8_t two[] = {0x30, 0x00, 0x30, 0x00};
    const uint8_t integer[] = {0x02, 0x01, 0x07};
    static uint8_t huge[TESSERA_KEYREF_SPKI_MAX + 4] = {0x30, 0x82, 0x04, 0x00};
    static uint8_t out[TESSERA_KEYREF_DER_MAX + 16];
    assert_false(
        tessera_keyref_encode("vpn", two, sizeof(two), der, sizeof(der), &len));
    assert_false(tessera_keyref_encode("vpn", integer, sizeof(integer), der,
                                       sizeof(der), &len));
    assert_false(tessera_keyref_encode("vpn", spki, sizeof(spki) - 1, der,
                                       sizeof(der), &len));
    assert_false(tessera_keyref_encode("vpn", huge, sizeof(huge), out,
                                       sizeof(out), &len));
}

static void
test_long_names_use_long_lengths(void **state)
{
    (void)state;
    char long_name[TESSERA_KEYREF_NAME_MAX + 1];
    struct tessera_keyref out;
    uint8_t der[300];
    size_t len;
    memset(long_name, 'n', TESSERA_KEYREF_NAME_MAX);
    long_name[TESSERA_KEYREF_NAME_MAX] = '\0';
    assert_true(
        tessera_keyref_encode(long_name, NULL, 0, der, sizeof(der), &len));
    assert_true(tessera_keyref_decode(der, len, &out));
    assert_string_equal(out.name, long_name);

    char too_long[TESSERA_KEYREF_NAME_MAX + 2];
    memset(too_long, 'n', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    assert_false(
        tessera_keyref_encode(too_long, NULL, 0, der, sizeof(der), &len));
    assert_false(tessera_keyref_encode("", NULL, 0, der, sizeof(der), &len));
    assert_false(tessera_keyref_encode("x", NULL, 0, der, 4, &len));
    assert_false(tessera_keyref_encode("x", spki, sizeof(spki), der, 10, &len));
}

static void
every_prefix_and_a_trailing_byte_fail(const uint8_t *good, size_t len)
{
    struct tessera_keyref ref;
    uint8_t trailing[64];
    assert_true(len < sizeof(trailing));
    for (size_t n = 0; n < len; n++)
        assert_false(tessera_keyref_decode(good, n, &ref));
    memcpy(trailing, good, len);
    trailing[len] = 0;
    assert_false(tessera_keyref_decode(trailing, len + 1, &ref));
}

static void
test_malformed_bodies_fail(void **state)
{
    (void)state;
    struct tessera_keyref ref;
    uint8_t good[32];
    size_t len;
    assert_true(
        tessera_keyref_encode("alice", NULL, 0, good, sizeof(good), &len));
    every_prefix_and_a_trailing_byte_fail(good, len);
    assert_true(tessera_keyref_encode("alice", spki, sizeof(spki), good,
                                      sizeof(good), &len));
    every_prefix_and_a_trailing_byte_fail(good, len);

    const uint8_t version2_without_key[] = {0x30, 0x06, 0x02, 0x01,
                                            0x02, 0x0c, 0x01, 'a'};
    const uint8_t version1_with_key[] = {0x30, 0x0b, 0x02, 0x01, 0x01,
                                         0x0c, 0x01, 'a',  0x30, 0x03,
                                         0x02, 0x01, 0x07};
    const uint8_t version3[] = {0x30, 0x06, 0x02, 0x01, 0x03, 0x0c, 0x01, 'a'};
    const uint8_t key_not_a_sequence[] = {0x30, 0x0b, 0x02, 0x01, 0x02,
                                          0x0c, 0x01, 'a',  0x31, 0x03,
                                          0x02, 0x01, 0x07};
    const uint8_t wrong_tag[] = {0x31, 0x06, 0x02, 0x01, 0x01, 0x0c, 0x01, 'a'};
    const uint8_t nul_in_name[] = {0x30, 0x07, 0x02, 0x01, 0x01,
                                   0x0c, 0x02, 'a',  0x00};
    const uint8_t empty_name[] = {0x30, 0x05, 0x02, 0x01, 0x01, 0x0c, 0x00};
    const uint8_t non_minimal[] = {0x30, 0x81, 0x06, 0x02, 0x01,
                                   0x01, 0x0c, 0x01, 'a'};
    const uint8_t indefinite[] = {0x30, 0x80, 0x02, 0x01, 0x01,
                                  0x0c, 0x01, 'a',  0x00, 0x00};
    const uint8_t overlong[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x0c, 0x7f, 'a'};
    assert_false(tessera_keyref_decode(version2_without_key,
                                       sizeof(version2_without_key), &ref));
    assert_false(tessera_keyref_decode(version1_with_key,
                                       sizeof(version1_with_key), &ref));
    assert_false(tessera_keyref_decode(version3, sizeof(version3), &ref));
    assert_false(tessera_keyref_decode(key_not_a_sequence,
                                       sizeof(key_not_a_sequence), &ref));
    assert_false(tessera_keyref_decode(wrong_tag, sizeof(wrong_tag), &ref));
    assert_false(tessera_keyref_decode(nul_in_name, sizeof(nul_in_name), &ref));
    assert_false(tessera_keyref_decode(empty_name, sizeof(empty_name), &ref));
    assert_false(tessera_keyref_decode(non_minimal, sizeof(non_minimal), &ref));
    assert_false(tessera_keyref_decode(indefinite, sizeof(indefinite), &ref));
    assert_false(tessera_keyref_decode(overlong, sizeof(overlong), &ref));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_version_2_carries_the_public_key),
        cmocka_unit_test(test_long_names_use_long_lengths),
        cmocka_unit_test(test_malformed_bodies_fail),
    };
    return cmocka_run_group_tests_name("key references", tests, NULL, NULL);
}
