/* SPDX-License-Identifier: Apache-2.0 */
/* What a pinentry program sends the agent: any bytes, split into lines as
 * the agent reads them, every D line's data unescaped into a PIN buffer. */
#include "../../agent/assuan.h"

#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t pin[257];
    size_t pin_len = 0;
    const char *text = (const char *)data;
    while (size > 0) {
        const char *end = memchr(text, '\n', size);
        size_t len = end ? (size_t)(end - text) : size;
        struct assuan_line line;
        if (assuan_parse_line(text, len, &line)) {
            if (line.rest + line.rest_len > text + len)
                __builtin_trap();
            if (line.kind == ASSUAN_LINE_DATA &&
                !assuan_unescape(line.rest, line.rest_len, pin, sizeof(pin),
                                 &pin_len) &&
                pin_len > sizeof(pin))
                __builtin_trap();
        }
        size_t used = end ? len + 1 : len;
        text += used;
        size -= used;
    }
    /* Whatever was read back, escaping it again makes one valid line. */
    char line[ASSUAN_LINE_MAX + 2];
    char arg[sizeof(pin) + 1];
    size_t n;
    memcpy(arg, pin, pin_len);
    arg[pin_len] = '\0';
    if (assuan_command("D", arg, line, sizeof(line), &n) &&
        (n > ASSUAN_LINE_MAX + 1 || line[n - 1] != '\n'))
        __builtin_trap();
    return 0;
}
