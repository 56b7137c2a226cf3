/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's JSON writer: layout, escapes, and bytes that are not UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../cli/json.h"

struct capture {
    char *text;
    size_t len;
    struct json j;
};

static void
begin(struct capture *c)
{
    c->text = NULL;
    c->j = (struct json){.out = open_memstream(&c->text, &c->len)};
    assert_non_null(c->j.out);
}

static void
expect_output(struct capture *c, const char *want)
{
    fclose(c->j.out);
    assert_string_equal(c->text, want);
    free(c->text);
}

/* value as one JSON string. */
static void
written_as(const char *value, const char *want)
{
    struct capture c;
    begin(&c);
    json_string(&c.j, NULL, value);
    expect_output(&c, want);
}

static void
test_array_of_objects(void **state)
{
    (void)state;
    struct capture c;
    begin(&c);
    json_begin_array(&c.j, NULL);
    json_begin_object(&c.j, NULL);
    json_string(&c.j, "name", "laptop");
    json_uint(&c.j, "bits", 256);
    json_bool(&c.j, "ok", true);
    json_end(&c.j);
    json_begin_object(&c.j, NULL);
    json_string(&c.j, "name", NULL);
    json_begin_object(&c.j, "inner");
    json_bool(&c.j, "x", false);
    json_end(&c.j);
    json_end(&c.j);
    json_end(&c.j);
    expect_output(&c,
                  "[\n  {\"name\": \"laptop\", \"bits\": 256, \"ok\": true},\n"
                  "  {\"name\": null, \"inner\": {\"x\": false}}\n]\n");
}

static void
test_empty_array_and_object(void **state)
{
    (void)state;
    struct capture c;
    begin(&c);
    json_begin_array(&c.j, NULL);
    json_end(&c.j);
    json_begin_object(&c.j, NULL);
    json_begin_array(&c.j, "list");
    json_string(&c.j, NULL, "a");
    json_string(&c.j, NULL, "b");
    json_end(&c.j);
    json_end(&c.j);
    expect_output(&c, "[]\n{\"list\": [\"a\", \"b\"]}\n");
}

static void
test_escapes(void **state)
{
    (void)state;
    written_as("Quote \"Q\" \\ Token", "\"Quote \\\"Q\\\" \\\\ Token\"");
    written_as("tab\there\nline\x01\x7f", "\"tab\\u0009here\\u000aline"
                                          "\\u0001\\u007f\"");
    written_as("", "\"\"");
}

static void
test_utf8_kept(void **state)
{
    (void)state;
    written_as("Ren\xc3\xa9"
               "e \xe2\x82\xac \xf0\x9f\x94\x91",
               "\"Ren\xc3\xa9"
               "e \xe2\x82\xac \xf0\x9f\x94\x91\"");
}

/* Each byte that starts no well-formed sequence is one U+FFFD. */
static void
test_not_utf8_replaced(void **state)
{
    (void)state;
    written_as("a\xff"
               "b",
               "\"a\\ufffdb\"");
    /* overlong '/', a UTF-16 surrogate, beyond U+10FFFF */
    written_as("\xc0\xaf", "\"\\ufffd\\ufffd\"");
    written_as("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
    written_as("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    /* cut short, at the end and before an ASCII byte */
    written_as("\xe2\x82", "\"\\ufffd\\ufffd\"");
    written_as("\xe2"
               "x",
               "\"\\ufffdx\"");
    /* a continuation byte alone */
    written_as("\x80", "\"\\ufffd\"");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_array_of_objects),
        cmocka_unit_test(test_empty_array_and_object),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_utf8_kept),
        cmocka_unit_test(test_not_utf8_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
