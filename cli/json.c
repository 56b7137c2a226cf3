/* SPDX-License-Identifier: Apache-2.0 */
#include "json.h"

#include <inttypes.h>
#include <stdlib.h>

/* The length of the UTF-8 sequence at p (shortest form, no surrogates,
 * at most U+10FFFF), or 0 if it is not one. */
static size_t
utf8_length(const unsigned char *p)
{
    size_t len = p[0] < 0xc2   ? 0
                 : p[0] < 0xe0 ? 2
                 : p[0] < 0xf0 ? 3
                 : p[0] < 0xf5 ? 4
                               : 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
        return 0;
    return len;
}

static void
write_string(FILE *out, const char *s)
{
    putc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t len;
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p++);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04x", *p++);
        else if (*p < 0x80)
            putc(*p++, out);
        else if ((len = utf8_length(p)) > 0) {
            fwrite(p, 1, len, out);
            p += len;
        } else {
            fprintf(out, "\\ufffd");
            p++;
        }
    }
    putc('"', out);
}

/* The separator before a value, and its key. */
static void
begin_value(struct json *j, const char *key)
{
    if (j->depth > 0 && j->written[j->depth])
        putc(',', j->out);
    /* The top array's elements: a line each. */
    if (j->depth == 1 && key == NULL)
        fputs("\n  ", j->out);
    else if (j->depth > 0 && j->written[j->depth])
        putc(' ', j->out);
    j->written[j->depth] = true;
    if (key != NULL) {
        write_string(j->out, key);
        fputs(": ", j->out);
    }
}

static void
begin_container(struct json *j, const char *key, char opening, char closing)
{
    begin_value(j, key);
    if (j->depth == JSON_DEPTH_MAX)
        abort(); /* deeper than any output of tessera's */
    putc(opening, j->out);
    j->depth++;
    j->written[j->depth] = false;
    j->closing[j->depth] = closing;
}

void
json_begin_array(struct json *j, const char *key)
{
    begin_container(j, key, '[', ']');
}

void
json_begin_object(struct json *j, const char *key)
{
    begin_container(j, key, '{', '}');
}

void
json_end(struct json *j)
{
    char closing = j->closing[j->depth];
    if (j->depth == 1 && closing == ']' && j->written[1])
        putc('\n', j->out);
    putc(closing, j->out);
    if (--j->depth == 0)
        putc('\n', j->out);
}

void
json_string(struct json *j, const char *key, const char *value)
{
    begin_value(j, key);
    if (value != NULL)
        write_string(j->out, value);
    else
        fputs("null", j->out);
}

void
json_uint(struct json *j, const char *key, uint64_t value)
{
    begin_value(j, key);
    fprintf(j->out, "%" PRIu64, value);
}

void
json_bool(struct json *j, const char *key, bool value)
{
    begin_value(j, key);
    fputs(value ? "true" : "false", j->out);
}
