/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Assuan line protocol pinentry speaks (libassuan's, as gpg-agent
 * uses it), client side: the lines pinentry sends, parsed, and the
 * commands the agent sends, escaped. Plain C, no I/O: every byte comes
 * from another program and is bounds-checked here (tests/unit/test_assuan.c,
 * tests/fuzz/fuzz_assuan.c).
 */
#ifndef TESSERA_AGENT_ASSUAN_H
#define TESSERA_AGENT_ASSUAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Assuan's bound on a line, without its line feed. */
#define ASSUAN_LINE_MAX 1000

/* gpg-error codes pinentry answers with (the low 16 bits of ERR). */
#define ASSUAN_GPG_ERR_TIMEOUT 62
#define ASSUAN_GPG_ERR_CANCELED 99
#define ASSUAN_GPG_ERR_NOT_CONFIRMED 114

enum assuan_kind {
    ASSUAN_LINE_OK,      /* OK [text] */
    ASSUAN_LINE_ERR,     /* ERR code [text] */
    ASSUAN_LINE_DATA,    /* D escaped-data */
    ASSUAN_LINE_STATUS,  /* S keyword [text] */
    ASSUAN_LINE_COMMENT, /* # ... */
    ASSUAN_LINE_INQUIRE, /* INQUIRE keyword: pinentry asks something back */
};

struct assuan_line {
    enum assuan_kind kind;
    unsigned code;    /* ERR: the gpg-error code, its low 16 bits */
    const char *rest; /* what follows the keyword and one space, in line */
    size_t rest_len;
};

/* line (len bytes, no line feed) as pinentry sent it; false when it is
 * not a line of the protocol (too long, a NUL, an unknown keyword). */
bool assuan_parse_line(const char *line, size_t len, struct assuan_line *out);

/*
 * A D line's data, percent-unescaped, appended at out[*out_len]; false
 * (nothing appended beyond cap) when it does not fit or an escape is not
 * two hex digits. What it wrote before failing is the caller's to wipe.
 */
bool assuan_unescape(const char *data, size_t len, uint8_t *out, size_t cap,
                     size_t *out_len);

/*
 * "COMMAND arg\n" into out with %, CR, LF and every other control byte of
 * arg percent-escaped (arg NULL: "COMMAND\n"); false when it would exceed
 * ASSUAN_LINE_MAX or cap.
 */
bool assuan_command(const char *command, const char *arg, char *out, size_t cap,
                    size_t *out_len);

#endif
