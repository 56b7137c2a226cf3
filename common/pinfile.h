/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a PIN, or another one-line secret, from a file: the agent's
 * [token] pin-file, the CLI's --pin-file and an ACME profile's
 * eab-hmac-key-file share these rules. libc only.
 */
#ifndef TESSERA_PINFILE_H
#define TESSERA_PINFILE_H

#include "errors.h"

#include <stdbool.h>
#include <stddef.h>

/* The longest line any secret file may hold. */
#define TESSERA_SECRET_LINE_MAX 512u

/* A kind of secret file: the setting that names it (in messages), what
 * its line is called, its longest line (at most TESSERA_SECRET_LINE_MAX). */
struct tessera_secret_kind {
    const char *key;
    const char *noun;
    size_t max;
};
extern const struct tessera_secret_kind tessera_secret_pin;

/*
 * The PIN in path: a regular file owned by this user, mode 0600 or
 * stricter (as ssh insists for its keys), holding one line of at most
 * TESSERA_PIN_MAX bytes; its line end ("\n" or "\r\n") is not part of the
 * PIN. Into pin (size bytes, at least TESSERA_PIN_MAX + 1), NUL-terminated,
 * its length in *len. The caller wipes pin; nothing else keeps a copy.
 * False with the reason in st, naming path.
 */
bool tessera_read_pin_file(const char *path, char *pin, size_t size,
                           size_t *len, struct tessera_status *st);

/* The same rules for any kind of one-line secret; out holds at least
 * kind->max + 1 bytes. */
bool tessera_read_secret_file(const char *path,
                              const struct tessera_secret_kind *kind, char *out,
                              size_t size, size_t *len,
                              struct tessera_status *st);

/* The same from an open descriptor (the CLI's `--pin-file -`, standard
 * input), which has no owner or mode to check; what names it in messages. */
bool tessera_read_pin_fd(int fd, const char *what, char *pin, size_t size,
                         size_t *len, struct tessera_status *st);

#endif
