/* SPDX-License-Identifier: Apache-2.0 */
/* What identities are called (agent/naming.c): names users give, names
 * made from token labels, renewal keys, doubles. */
#include "../../agent/naming.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void
test_valid_names(void **state)
{
    (void)state;
    static const char *const good[] = {"corp-wifi", "a", "alice@corp.example",
                                       "v1.2_x+y", "A9"};
    static const char *const bad[] = {"",     ".hidden",  "-flag",       "a b",
                                      "a/b",  "a~next",   "caf\xc3\xa9", "x;rm",
                                      "a\nb", "tab\there"};
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
        assert_true(naming_valid(good[i]));
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
        assert_false(naming_valid(bad[i]));
    char longest[NAMING_MAX + 2];
    memset(longest, 'n', NAMING_MAX);
    longest[NAMING_MAX] = '\0';
    assert_true(naming_valid(longest));
    longest[NAMING_MAX] = 'n';
    longest[NAMING_MAX + 1] = '\0';
    assert_false(naming_valid(longest));
}

static void
test_from_label(void **state)
{
    (void)state;
    guint8 raw[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x04};
    GBytes *id = g_bytes_new(raw, sizeof(raw));
    char *name = naming_from_label("Work Card/1", id);
    assert_string_equal(name, "Work-Card-1");
    g_free(name);
    name = naming_from_label("alice@corp.example_1+2", id);
    assert_string_equal(name, "alice@corp.example_1+2");
    g_free(name);
    /* The agent's own suffixes survive; other bytes do not. */
    name = naming_from_label("wifi~next", id);
    assert_string_equal(name, "wifi~next");
    g_free(name);
    name = naming_from_label("caf\xc3\xa9", id);
    assert_string_equal(name, "caf--");
    g_free(name);
    /* No label: the first 8 bytes of the id. */
    name = naming_from_label("", id);
    assert_string_equal(name, "key-deadbeef00010203");
    g_free(name);
    name = naming_from_label(NULL, id);
    assert_string_equal(name, "key-deadbeef00010203");
    g_free(name);
    /* A long label is cut, leaving room for a renewal's suffix. */
    char label[200];
    memset(label, 'x', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    name = naming_from_label(label, id);
    assert_int_equal(strlen(name), NAMING_MAX + strlen(NAMING_NEXT_SUFFIX) + 1);
    g_free(name);
    g_bytes_unref(id);
}

static void
test_renewal_keys_and_doubles(void **state)
{
    (void)state;
    assert_true(naming_is_renewal_key("wifi~next"));
    assert_true(naming_is_renewal_key("wifi~old"));
    assert_false(naming_is_renewal_key("wifi"));
    assert_false(naming_is_renewal_key("wifi~2"));
    assert_false(naming_is_renewal_key("next"));
    assert_true(naming_is_unlisted("wifi~next"));
    assert_true(naming_is_unlisted("acme-account.corp"));
    assert_true(naming_is_unlisted("acme-account.corp~2"));
    assert_true(naming_is_acme_account("acme-account.corp"));
    assert_false(naming_is_unlisted("wifi"));
    assert_false(naming_is_unlisted("acme-accounts"));
    assert_false(naming_is_unlisted("my-acme-account.corp"));
    char *second = naming_nth("wifi", 2);
    assert_string_equal(second, "wifi~2");
    assert_false(naming_is_renewal_key(second));
    g_free(second);
}

static void
test_hex(void **state)
{
    (void)state;
    guint8 raw[] = {0x00, 0x0f, 0xa0, 0xff};
    GBytes *b = g_bytes_new(raw, sizeof(raw));
    char *hex = naming_hex(b);
    assert_string_equal(hex, "000fa0ff");
    g_free(hex);
    g_bytes_unref(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_names),
        cmocka_unit_test(test_from_label),
        cmocka_unit_test(test_renewal_keys_and_doubles),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
