/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lock on suspend: tokens with [token LABEL] lock-on-suspend=true are
 * logged out when logind announces sleep (PrepareForSleep(true) on the
 * system bus), so a laptop that wakes up asks for the PIN again. Without a
 * system bus the agent says so once and carries on.
 */
#include "suspend.h"
#include "agent.h"
#include "registry.h"
#include "tasks.h"
#include "tokens.h"

#include <gio/gio.h>

struct agent_suspend {
    struct agent *agent;
    guint events;                /* the configuration's changes */
    gint pending;                /* atomic: a look at them is on its way */
    GDBusConnection *system_bus; /* NULL until a token wants it */
    guint subscription;
};

static gboolean
wants_lock_on_suspend(const struct agent_config *cfg,
                      const struct agent_token *t)
{
    return agent_config_token(cfg, token_label(t))->lock_on_suspend;
}

static void
lock_tokens(gpointer data)
{
    struct agent *agent = data;
    struct agent_config *cfg = agent_config_get(agent);
    struct agent_registry *reg = agent_registry_get(agent);
    for (guint i = 0; i < agent_registry_n_tokens(reg); i++) {
        struct agent_token *t = agent_registry_token(reg, i);
        struct tessera_status st = {0};
        if (wants_lock_on_suspend(cfg, t) && token_logout(t, &st) == 0)
            g_message("token \"%s\" locked for suspend", token_label(t));
    }
    agent_registry_unref(reg);
    agent_config_unref(cfg);
}

static void
on_prepare_for_sleep(GDBusConnection *bus, const char *sender, const char *path,
                     const char *iface, const char *signal, GVariant *params,
                     gpointer data)
{
    (void)bus;
    (void)sender;
    (void)path;
    (void)iface;
    (void)signal;
    gboolean sleeping = FALSE;
    if (g_variant_is_of_type(params, G_VARIANT_TYPE("(b)")))
        g_variant_get(params, "(b)", &sleeping);
    if (!sleeping)
        return;
    struct agent_suspend *s = data;
    agent_run_in_thread(lock_tokens, s->agent, NULL);
}

static gboolean
any_token_wants_it(const struct agent_config *cfg)
{
    for (guint i = 0; i < cfg->tokens->len; i++) {
        const struct config_token *t = g_ptr_array_index(cfg->tokens, i);
        if (t->lock_on_suspend)
            return TRUE;
    }
    return FALSE;
}

/* On the main loop: listens to logind once a token wants it. */
static gboolean
listen_if_wanted(gpointer data)
{
    struct agent_suspend *s = data;
    g_atomic_int_set(&s->pending, 0);
    struct agent_config *cfg = agent_config_get(s->agent);
    gboolean wanted = any_token_wants_it(cfg);
    agent_config_unref(cfg);
    if (!wanted || s->system_bus != NULL)
        return G_SOURCE_REMOVE;
    GError *error = NULL;
    GDBusConnection *bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
    if (bus == NULL) {
        g_message("no system bus (%s): lock-on-suspend is off", error->message);
        g_error_free(error);
        return G_SOURCE_REMOVE;
    }
    /* GLib raises SIGTERM when a bus goes away; the agent serves on. */
    g_dbus_connection_set_exit_on_close(bus, FALSE);
    s->system_bus = bus;
    s->subscription = g_dbus_connection_signal_subscribe(
        bus, "org.freedesktop.login1", "org.freedesktop.login1.Manager",
        "PrepareForSleep", "/org/freedesktop/login1", NULL,
        G_DBUS_SIGNAL_FLAGS_NONE, on_prepare_for_sleep, s, NULL);
    g_message("tokens with lock-on-suspend lock when logind announces sleep");
    return G_SOURCE_REMOVE;
}

static void
on_event(const struct agent_event *event, gpointer data)
{
    struct agent_suspend *s = data;
    if (event->kind == AGENT_EVENT_CONFIG_CHANGED &&
        g_atomic_int_compare_and_exchange(&s->pending, 0, 1))
        g_main_context_invoke(NULL, listen_if_wanted, s);
}

struct agent_suspend *
agent_suspend_start(struct agent *agent)
{
    struct agent_suspend *s = g_new0(struct agent_suspend, 1);
    s->agent = agent;
    listen_if_wanted(s);
    s->events = agent_events_subscribe(agent->events, on_event, s);
    return s;
}

void
agent_suspend_stop(struct agent_suspend *s)
{
    if (s == NULL)
        return;
    agent_events_unsubscribe(s->agent->events, s->events);
    if (s->system_bus != NULL) {
        g_dbus_connection_signal_unsubscribe(s->system_bus, s->subscription);
        g_object_unref(s->system_bus);
    }
    g_free(s);
}
