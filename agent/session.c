/* SPDX-License-Identifier: Apache-2.0 */
#include "session.h"

#include <string.h>

struct agent_session {
    GMutex lock;
    struct session_env env;
};

static void
copy_env(char *dst, size_t size, const char *name)
{
    const char *value = g_getenv(name);
    g_strlcpy(dst, value ? value : "", size);
}

struct agent_session *
agent_session_new(void)
{
    struct agent_session *s = g_new0(struct agent_session, 1);
    g_mutex_init(&s->lock);
    copy_env(s->env.display, sizeof(s->env.display), "DISPLAY");
    copy_env(s->env.wayland_display, sizeof(s->env.wayland_display),
             "WAYLAND_DISPLAY");
    copy_env(s->env.dbus_address, sizeof(s->env.dbus_address),
             "DBUS_SESSION_BUS_ADDRESS");
    copy_env(s->env.tty, sizeof(s->env.tty), "TESSERA_TTY");
    if (s->env.tty[0] == '\0')
        copy_env(s->env.tty, sizeof(s->env.tty), "GPG_TTY");
    copy_env(s->env.term, sizeof(s->env.term), "TERM");
    return s;
}

void
agent_session_free(struct agent_session *s)
{
    if (s == NULL)
        return;
    g_mutex_clear(&s->lock);
    g_free(s);
}

void
agent_session_get(struct agent_session *s, struct session_env *out)
{
    g_mutex_lock(&s->lock);
    *out = s->env;
    g_mutex_unlock(&s->lock);
}

void
agent_session_set(struct agent_session *s, const struct session_env *env)
{
    g_mutex_lock(&s->lock);
    s->env = *env;
    g_mutex_unlock(&s->lock);
    g_message("prompts now go to %s%s%s%s%s", env->tty[0] ? "terminal " : "",
              env->tty,
              env->tty[0] && (env->display[0] || env->wayland_display[0])
                  ? " and "
                  : "",
              env->display[0] ? "display " : "", env->display);
}

gboolean
session_env_can_prompt(const struct session_env *env)
{
    return env->display[0] != '\0' || env->wayland_display[0] != '\0' ||
           env->tty[0] != '\0';
}
