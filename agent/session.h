/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the user is: the display and terminal a PIN prompt goes to. Taken
 * from the agent's environment at start (what systemd or D-Bus activation
 * handed it: DISPLAY, WAYLAND_DISPLAY, DBUS_SESSION_BUS_ADDRESS, and
 * TESSERA_TTY or GPG_TTY with TERM) and replaced by `tessera update-env`
 * from a new terminal, as gpg's UPDATESTARTUPTTY does. Any thread.
 */
#ifndef TESSERA_AGENT_SESSION_H
#define TESSERA_AGENT_SESSION_H

#include <glib.h>

/* One picture of it; an empty field is unknown. */
struct session_env {
    char display[256];
    char wayland_display[256];
    char dbus_address[512];
    char tty[256];
    char term[64];
};

struct agent_session;

struct agent_session *agent_session_new(void);
void agent_session_free(struct agent_session *s);
void agent_session_get(struct agent_session *s, struct session_env *out);
void agent_session_set(struct agent_session *s, const struct session_env *env);
/* A prompt can be shown: a display, or a terminal, is known. */
gboolean session_env_can_prompt(const struct session_env *env);

#endif
