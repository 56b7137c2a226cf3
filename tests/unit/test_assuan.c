/* SPDX-License-Identifier: Apache-2.0 */
/* The Assuan lines pinentry sends and the commands sent to it
 * (agent/assuan.c): keywords, ERR codes, percent-escaping, bounds. */
#include "../../agent/assuan.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static bool
parse(const char *line, struct assuan_line *out)
{
    return assuan_parse_line(line, strlen(line), out);
}

static void
test_keywords(void **state)
{
    (void)state;
    struct assuan_line l;
    assert_true(parse("OK Pleased to meet you", &l));
    assert_int_equal(l.kind, ASSUAN_LINE_OK);
    assert_int_equal(l.rest_len, strlen("Pleased to meet you"));
    assert_true(parse("OK", &l));
    assert_int_equal(l.kind, ASSUAN_LINE_OK);
    assert_int_equal(l.rest_len, 0);
    assert_true(parse("D 1234", &l));
    assert_int_equal(l.kind, ASSUAN_LINE_DATA);
    assert_memory_equal(l.rest, "1234", 4);
    assert_true(parse("S PASSWORD_FROM_CACHE", &l));
    assert_int_equal(l.kind, ASSUAN_LINE_STATUS);
    assert_true(parse("# a comment", &l));
    assert_int_equal(l.kind, ASSUAN_LINE_COMMENT);
    assert_true(parse("INQUIRE QUALITY 12", &l));
    assert_int_equal(l.kind, ASSUAN_LINE_INQUIRE);
    /* A keyword is whole: no prefix of a longer word. */
    assert_false(parse("OKAY", &l));
    assert_false(parse("Data", &l));
    assert_false(parse("", &l));
    assert_false(parse("ok", &l));
}

static void
test_err_codes(void **state)
{
    (void)state;
    struct assuan_line l;
    /* gpg-error: source 5 (pinentry) in the high bits, the code low. */
    assert_true(parse("ERR 83886179 Operation cancelled <Pinentry>", &l));
    assert_int_equal(l.kind, ASSUAN_LINE_ERR);
    assert_int_equal(l.code, ASSUAN_GPG_ERR_CANCELED);
    assert_true(parse("ERR 83886142 Timeout <Pinentry>", &l));
    assert_int_equal(l.code, ASSUAN_GPG_ERR_TIMEOUT);
    assert_true(parse("ERR 83886194", &l));
    assert_int_equal(l.code, ASSUAN_GPG_ERR_NOT_CONFIRMED);
    assert_false(parse("ERR", &l));
    assert_false(parse("ERR cancelled", &l));
    assert_false(parse("ERR 12x", &l));
    assert_false(parse("ERR 99999999999 too big", &l));
}

static void
test_line_bounds(void **state)
{
    (void)state;
    struct assuan_line l;
    char line[ASSUAN_LINE_MAX + 2];
    memset(line, 'x', sizeof(line));
    memcpy(line, "D ", 2);
    assert_true(assuan_parse_line(line, ASSUAN_LINE_MAX, &l));
    assert_false(assuan_parse_line(line, ASSUAN_LINE_MAX + 1, &l));
    /* A NUL inside a line is not Assuan. */
    assert_false(assuan_parse_line("OK a\0b", 6, &l));
}

static void
test_unescape(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n = 0;
    assert_true(assuan_unescape("a%25b%0A", 8, out, sizeof(out), &n));
    assert_int_equal(n, 4);
    assert_memory_equal(out, "a%b\n", 4);
    /* D lines append. */
    assert_true(assuan_unescape("%7e", 3, out, sizeof(out), &n));
    assert_int_equal(n, 5);
    assert_int_equal(out[4], '~');
    /* Broken escapes. */
    n = 0;
    assert_false(assuan_unescape("%", 1, out, sizeof(out), &n));
    assert_false(assuan_unescape("%4", 2, out, sizeof(out), &n));
    assert_false(assuan_unescape("%zz", 3, out, sizeof(out), &n));
    assert_int_equal(n, 0);
    /* Never beyond cap, escaped or not. */
    n = 0;
    assert_false(assuan_unescape("123456789", 9, out, sizeof(out), &n));
    assert_int_equal(n, 0);
    n = 7;
    assert_false(assuan_unescape("%41%41", 6, out, sizeof(out), &n));
    assert_int_equal(n, 7);
}

static void
test_command(void **state)
{
    (void)state;
    char line[ASSUAN_LINE_MAX + 2];
    size_t len;
    assert_true(assuan_command("GETPIN", NULL, line, sizeof(line), &len));
    assert_string_equal(line, "GETPIN\n");
    assert_int_equal(len, 7);
    assert_true(
        assuan_command("SETDESC", "50% off\nnow\r", line, sizeof(line), &len));
    assert_string_equal(line, "SETDESC 50%25 off%0Anow%0D\n");
    /* Unicode passes as it is. */
    assert_true(assuan_command("SETPROMPT", "Clé:", line, sizeof(line), &len));
    assert_string_equal(line, "SETPROMPT Clé:\n");
}

static void
test_command_bounds(void **state)
{
    (void)state;
    char line[ASSUAN_LINE_MAX + 2];
    char arg[ASSUAN_LINE_MAX + 1];
    size_t len;
    /* "SETDESC " + arg is exactly the longest line. */
    memset(arg, 'a', sizeof(arg));
    arg[ASSUAN_LINE_MAX - 8] = '\0';
    assert_true(assuan_command("SETDESC", arg, line, sizeof(line), &len));
    assert_int_equal(len, ASSUAN_LINE_MAX + 1);
    arg[ASSUAN_LINE_MAX - 8] = 'a';
    arg[ASSUAN_LINE_MAX - 7] = '\0';
    assert_false(assuan_command("SETDESC", arg, line, sizeof(line), &len));
    /* An escape that would not fit whole is refused too. */
    arg[ASSUAN_LINE_MAX - 9] = '\n';
    arg[ASSUAN_LINE_MAX - 8] = '\0';
    assert_false(assuan_command("SETDESC", arg, line, sizeof(line), &len));
    /* A small buffer bounds it as well. */
    char small[8];
    assert_false(assuan_command("SETDESC", "x", small, sizeof(small), &len));
    assert_true(assuan_command("BYE", NULL, small, sizeof(small), &len));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_err_codes),
        cmocka_unit_test(test_line_bounds),
        cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_command),
        cmocka_unit_test(test_command_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
