/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One pinentry program, run and spoken to over its standard input and
 * output in the Assuan protocol (assuan.h), as gpg-agent does: the
 * program from `[agent] pinentry=`, else `pinentry` on PATH, so that
 * pinentry-gnome3, -qt, -curses and -tty all work; on the session's
 * display or terminal (session.h). Every exchange gives up at one
 * deadline and the program is then killed. Blocking: never call it on
 * the main loop.
 */
#ifndef TESSERA_AGENT_PINENTRY_H
#define TESSERA_AGENT_PINENTRY_H

#include "../common/errors.h"
#include "session.h"

#include <glib.h>

struct pinentry;

/* The program to run (owned by the caller), or NULL when there is none:
 * configured (an absolute path) or `pinentry` found on PATH. */
char *pinentry_find(const char *configured);

/*
 * Starts program on env's terminal or display; deadline is a monotonic
 * time (g_get_monotonic_time) after which every exchange fails with
 * TESSERA_ERR_PROMPT_TIMEOUT. NULL with st when it cannot be started or
 * does not greet.
 */
struct pinentry *pinentry_open(const char *program,
                               const struct session_env *env, gint64 deadline,
                               struct tessera_status *st);
/* SETTITLE, SETDESC, SETPROMPT, SETERROR, SETOK ... with text. */
int pinentry_set(struct pinentry *p, const char *command, const char *text,
                 struct tessera_status *st);
/*
 * GETPIN: what the user typed into pin (cap bytes, not terminated) and
 * *len. -1 with st: TESSERA_ERR_PROMPT_CANCELLED, _PROMPT_TIMEOUT, or the
 * program failed. Whatever was written to pin is the caller's to wipe.
 */
int pinentry_get_pin(struct pinentry *p, char *pin, size_t cap, size_t *len,
                     struct tessera_status *st);
/* CONFIRM: 0 when the user said yes; -1 with st: TESSERA_ERR_NOT_CONFIRMED
 * for no, as for GETPIN otherwise. */
int pinentry_confirm(struct pinentry *p, struct tessera_status *st);
/* MESSAGE, not waiting for its answer: the description stays on screen
 * until pinentry_close (a PIN pad is being typed on meanwhile). */
int pinentry_show_message(struct pinentry *p, struct tessera_status *st);
/* BYE, and the program is ended (killed if it lingers); its buffers are
 * wiped. NULL is fine. */
void pinentry_close(struct pinentry *p);

#endif
