/* SPDX-License-Identifier: Apache-2.0 */
/* Key-reference bodies: the round trip, and every malformed variant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/keyref.h"

static void
test_round_trip(void **state)
{
    (void)state;
    uint8_t der[300];
    size_t len;
    char name[TESSERA_KEYREF_NAME_MAX + 1];
    assert_true(tessera_keyref_encode("corp-wifi", der, sizeof(der), &len));
    const uint8_t expect[] = {0x30, 0x0e, 0x02, 0x01, 0x01, 0x0c, 0x09, 'c',
                              'o',  'r',  'p',  '-',  'w',  'i',  'f',  'i'};
    assert_int_equal(len, sizeof(expect));
    assert_memory_equal(der, expect, sizeof(expect));
    assert_true(tessera_keyref_decode(der, len, name));
    assert_string_equal(name, "corp-wifi");
}

static void
test_long_names_use_long_lengths(void **state)
{
    (void)state;
    char long_name[TESSERA_KEYREF_NAME_MAX + 1];
    char out[TESSERA_KEYREF_NAME_MAX + 1];
    uint8_t der[300];
    size_t len;
    memset(long_name, 'n', TESSERA_KEYREF_NAME_MAX);
    long_name[TESSERA_KEYREF_NAME_MAX] = '\0';
    assert_true(tessera_keyref_encode(long_name, der, sizeof(der), &len));
    assert_true(tessera_keyref_decode(der, len, out));
    assert_string_equal(out, long_name);

    char too_long[TESSERA_KEYREF_NAME_MAX + 2];
    memset(too_long, 'n', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    assert_false(tessera_keyref_encode(too_long, der, sizeof(der), &len));
    assert_false(tessera_keyref_encode("", der, sizeof(der), &len));
    assert_false(tessera_keyref_encode("x", der, 4, &len));
}

static void
test_malformed_bodies_fail(void **state)
{
    (void)state;
    char name[TESSERA_KEYREF_NAME_MAX + 1];
    uint8_t good[16];
    size_t len;
    assert_true(tessera_keyref_encode("alice", good, sizeof(good), &len));
    for (size_t n = 0; n < len; n++)
        assert_false(tessera_keyref_decode(good, n, name));
    uint8_t trailing[17];
    memcpy(trailing, good, len);
    trailing[len] = 0;
    assert_false(tessera_keyref_decode(trailing, len + 1, name));

    const uint8_t version2[] = {0x30, 0x06, 0x02, 0x01, 0x02, 0x0c, 0x01, 'a'};
    const uint8_t wrong_tag[] = {0x31, 0x06, 0x02, 0x01, 0x01, 0x0c, 0x01, 'a'};
    const uint8_t nul_in_name[] = {0x30, 0x07, 0x02, 0x01, 0x01,
                                   0x0c, 0x02, 'a',  0x00};
    const uint8_t empty_name[] = {0x30, 0x05, 0x02, 0x01, 0x01, 0x0c, 0x00};
    const uint8_t non_minimal[] = {0x30, 0x81, 0x06, 0x02, 0x01,
                                   0x01, 0x0c, 0x01, 'a'};
    const uint8_t indefinite[] = {0x30, 0x80, 0x02, 0x01, 0x01,
                                  0x0c, 0x01, 'a',  0x00, 0x00};
    const uint8_t overlong[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x0c, 0x7f, 'a'};
    assert_false(tessera_keyref_decode(version2, sizeof(version2), name));
    assert_false(tessera_keyref_decode(wrong_tag, sizeof(wrong_tag), name));
    assert_false(tessera_keyref_decode(nul_in_name, sizeof(nul_in_name), name));
    assert_false(tessera_keyref_decode(empty_name, sizeof(empty_name), name));
    assert_false(tessera_keyref_decode(non_minimal, sizeof(non_minimal), name));
    assert_false(tessera_keyref_decode(indefinite, sizeof(indefinite), name));
    assert_false(tessera_keyref_decode(overlong, sizeof(overlong), name));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_long_names_use_long_lengths),
        cmocka_unit_test(test_malformed_bodies_fail),
    };
    return cmocka_run_group_tests_name("key references", tests, NULL, NULL);
}
