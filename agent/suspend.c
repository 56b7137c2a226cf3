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
    GDBusConnection *system_bus;
    guint subscription;
};

static gboolean
wants_lock_on_suspend(struct agent *agent, const struct agent_token *t)
{
    char *group = g_strdup_printf("token %s", token_label(t));
    gboolean wanted = g_key_file_get_boolean(agent->config.keyfile, group,
                                             "lock-on-suspend", NULL);
    g_free(group);
    return wanted;
}

static void
lock_tokens(gpointer data)
{
    struct agent *agent = data;
    struct agent_registry *reg = agent_registry_get(agent);
    for (guint i = 0; i < agent_registry_n_tokens(reg); i++) {
        struct agent_token *t = agent_registry_token(reg, i);
        struct tessera_status st = {0};
        if (wants_lock_on_suspend(agent, t) && token_logout(t, &st) == 0)
            g_message("token \"%s\" locked for suspend", token_label(t));
    }
    agent_registry_unref(reg);
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
any_token_wants_it(struct agent *agent)
{
    gsize n = 0;
    char **groups = g_key_file_get_groups(agent->config.keyfile, &n);
    gboolean any = FALSE;
    for (gsize i = 0; !any && i < n; i++)
        any = g_str_has_prefix(groups[i], "token ") &&
              g_key_file_get_boolean(agent->config.keyfile, groups[i],
                                     "lock-on-suspend", NULL);
    g_strfreev(groups);
    return any;
}

struct agent_suspend *
agent_suspend_start(struct agent *agent)
{
    if (!any_token_wants_it(agent))
        return NULL;
    GError *error = NULL;
    GDBusConnection *bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
    if (bus == NULL) {
        g_message("no system bus (%s): lock-on-suspend is off", error->message);
        g_error_free(error);
        return NULL;
    }
    /* GLib raises SIGTERM when a bus goes away; the agent serves on. */
    g_dbus_connection_set_exit_on_close(bus, FALSE);
    struct agent_suspend *s = g_new0(struct agent_suspend, 1);
    s->agent = agent;
    s->system_bus = bus;
    s->subscription = g_dbus_connection_signal_subscribe(
        bus, "org.freedesktop.login1", "org.freedesktop.login1.Manager",
        "PrepareForSleep", "/org/freedesktop/login1", NULL,
        G_DBUS_SIGNAL_FLAGS_NONE, on_prepare_for_sleep, s, NULL);
    g_message("tokens with lock-on-suspend lock when logind announces sleep");
    return s;
}

void
agent_suspend_stop(struct agent_suspend *s)
{
    if (s == NULL)
        return;
    g_dbus_connection_signal_unsubscribe(s->system_bus, s->subscription);
    g_object_unref(s->system_bus);
    g_free(s);
}
