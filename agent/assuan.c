/* SPDX-License-Identifier: Apache-2.0 */
#include "assuan.h"
#include "../common/hex.h"

#include <string.h>

static bool
keyword_is(const char *line, size_t len, const char *keyword)
{
    size_t k = strlen(keyword);
    return len >= k && memcmp(line, keyword, k) == 0 &&
           (len == k || line[k] == ' ');
}

/* The text after keyword and its space, if any. */
static void
set_rest(const char *line, size_t len, size_t keyword_len,
         struct assuan_line *out)
{
    size_t skip = len > keyword_len ? keyword_len + 1 : len;
    out->rest = line + skip;
    out->rest_len = len - skip;
}

/* ERR's code: decimal digits, at most a 32-bit number. */
static bool
parse_code(const char *s, size_t len, unsigned *code)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > UINT32_MAX)
            return false;
    }
    if (i == 0 || (i < len && s[i] != ' '))
        return false;
    *code = (unsigned)(v & 0xffffu);
    return true;
}

bool
assuan_parse_line(const char *line, size_t len, struct assuan_line *out)
{
    static const struct {
        const char *keyword;
        enum assuan_kind kind;
    } keywords[] = {
        {"OK", ASSUAN_LINE_OK},           {"ERR", ASSUAN_LINE_ERR},
        {"D", ASSUAN_LINE_DATA},          {"S", ASSUAN_LINE_STATUS},
        {"INQUIRE", ASSUAN_LINE_INQUIRE},
    };
    memset(out, 0, sizeof(*out));
    if (len > ASSUAN_LINE_MAX || memchr(line, '\0', len) != NULL)
        return false;
    if (len > 0 && line[0] == '#') {
        out->kind = ASSUAN_LINE_COMMENT;
        set_rest(line, len, 1, out);
        return true;
    }
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
        if (!keyword_is(line, len, keywords[i].keyword))
            continue;
        out->kind = keywords[i].kind;
        set_rest(line, len, strlen(keywords[i].keyword), out);
        return out->kind != ASSUAN_LINE_ERR ||
               parse_code(out->rest, out->rest_len, &out->code);
    }
    return false;
}

bool
assuan_unescape(const char *data, size_t len, uint8_t *out, size_t cap,
                size_t *out_len)
{
    size_t n = *out_len;
    for (size_t i = 0; i < len; i++) {
        uint8_t byte = (uint8_t)data[i];
        if (data[i] == '%') {
            if (len - i < 3)
                return false;
            int hi = tessera_hex_value(data[i + 1]),
                lo = tessera_hex_value(data[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            byte = (uint8_t)(hi << 4 | lo);
            i += 2;
        }
        if (n >= cap)
            return false;
        out[n++] = byte;
    }
    *out_len = n;
    return true;
}

bool
assuan_command(const char *command, const char *arg, char *out, size_t cap,
               size_t *out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    /* the line, its line feed and a NUL */
    size_t limit = cap < ASSUAN_LINE_MAX + 2 ? cap : ASSUAN_LINE_MAX + 2;
    size_t n = strlen(command);
    if (n + 3 > limit)
        return false;
    memcpy(out, command, n);
    if (arg != NULL) {
        out[n++] = ' ';
        for (const char *p = arg; *p != '\0'; p++) {
            unsigned char c = (unsigned char)*p;
            bool escape = c == '%' || c < 0x20 || c == 0x7f;
            if (n + (escape ? 3 : 1) + 2 > limit)
                return false;
            if (escape) {
                out[n++] = '%';
                out[n++] = hex[c >> 4];
                out[n++] = hex[c & 15];
            } else {
                out[n++] = (char)c;
            }
        }
    }
    out[n++] = '\n';
    out[n] = '\0';
    *out_len = n;
    return true;
}
