/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token watch, once a second on a worker thread (the main loop only
 * starts it, so a slow token never stalls the agent):
 *
 * - Hot-plug: every [agent] slot-poll-seconds it lists each module's slots
 *   and tokens; when that picture changes it rescans, which marks tokens
 *   absent or back and adds new ones (docs/architecture.md, "Tokens that
 *   come and go"). A module that offers C_WaitForSlotEvent (OpenSC) gets
 *   a thread of its own instead, and a rescan on every event; SoftHSM2,
 *   tpm2-pkcs11 and p11-kit's proxy have none and are polled.
 * - Idle lock: a token with [token LABEL] idle-lock=SECONDS is logged out
 *   that long after its last signature.
 * - Renewal (renew.c): interrupted renewals recovered, grace periods ended,
 *   due renewals started on threads of their own.
 */
#include "watch.h"
#include "agent.h"
#include "modules.h"
#include "registry.h"
#include "renewals.h"
#include "tasks.h"
#include "tokens.h"

#include <string.h>

/*
 * A thread waiting for one module's slot events. The first wait blocks,
 * which shows whether the module has events at all (the others say
 * CKF_DONT_BLOCK "no event" whatever happens). Once a module has answered
 * with an event, the thread asks with CKF_DONT_BLOCK ten times a second
 * instead: OpenSC's C_Finalize unloads its PC/SC library while a thread
 * may still be returning from a blocked wait, so a blocked thread cannot
 * be ended safely at exit. A module whose first wait is still blocked at
 * exit is left to the process's end (agent_watch_holds).
 */
#define EVENT_POLL_US (100 * 1000)

struct event_waiter {
    struct agent *agent;
    CK_FUNCTION_LIST *module;
    GThread *thread;
    gint running; /* atomic: still waiting, so the module is not polled */
    gint polling; /* atomic: past the first, blocking, wait */
    gint stop;    /* atomic: the agent is stopping */
};

struct agent_watch {
    struct agent *agent;
    guint timer;
    GPtrArray *waiters; /* struct event_waiter *, joined in finish */
    gint busy;          /* atomic: a worker is looking */
    char *seen;         /* the last picture; only the worker touches it */
    gint64 last_poll;   /* monotonic us; only the worker touches it */
};

static gboolean
has_waiter(struct agent_watch *h, CK_FUNCTION_LIST *module)
{
    for (guint i = 0; h != NULL && h->waiters && i < h->waiters->len; i++) {
        struct event_waiter *w = g_ptr_array_index(h->waiters, i);
        if (w->module == module && g_atomic_int_get(&w->running))
            return TRUE;
    }
    return FALSE;
}

static gpointer
wait_for_events(gpointer data)
{
    struct event_waiter *w = data;
    CK_SLOT_ID slot;
    const char *failure;
    enum module_event e = modules_wait_event(w->module, TRUE, &slot, &failure);
    while (e != MODULE_NO_EVENTS) {
        if (e == MODULE_EVENT) {
            g_message("slot %lu changed: rescanning", (unsigned long)slot);
            agent_rescan(w->agent);
        }
        g_atomic_int_set(&w->polling, 1);
        if (g_atomic_int_get(&w->stop))
            break;
        if (e == MODULE_NO_EVENT)
            g_usleep(EVENT_POLL_US);
        e = modules_wait_event(w->module, FALSE, &slot, &failure);
    }
    /* Not every module keeps the events it offers (SoftHSM's fail at the
     * first wait): polling finds the same changes, only later. */
    if (failure != NULL) {
        char *name = modules_name(w->module);
        g_info("%s reports no slot events after all (%s): polling its slots",
               name, failure);
        g_free(name);
    }
    g_atomic_int_set(&w->running, 0);
    return NULL;
}

/* A thread per module that reports slot events; the rest are polled. */
static void
start_waiters(struct agent_watch *h)
{
    h->waiters = g_ptr_array_new();
    for (CK_FUNCTION_LIST *const *m = modules_list(h->agent->modules); m && *m;
         m++) {
        CK_SLOT_ID slot;
        const char *failure;
        if (modules_wait_event(*m, FALSE, &slot, &failure) == MODULE_NO_EVENTS)
            continue;
        struct event_waiter *w = g_new0(struct event_waiter, 1);
        w->agent = h->agent;
        w->module = *m;
        w->running = 1;
        w->thread = g_thread_new("slot-events", wait_for_events, w);
        g_ptr_array_add(h->waiters, w);
        char *name = modules_name(*m);
        g_message("waiting for slot events from %s", name);
        g_free(name);
    }
}

/* Module, slot, label, serial and PIN state of every present token. */
static char *
slot_picture(struct agent_watch *h)
{
    struct agent *agent = h->agent;
    GString *picture = g_string_new(NULL);
    guint index = 0;
    for (CK_FUNCTION_LIST *const *m = modules_list(agent->modules); m && *m;
         m++, index++)
        if (!has_waiter(h, *m))
            modules_describe_slots(*m, index, picture);
    return g_string_free(picture, FALSE);
}

static void
poll_slots(struct agent_watch *h)
{
    char *picture = slot_picture(h);
    if (h->seen != NULL && strcmp(picture, h->seen) != 0) {
        g_message("the tokens changed: rescanning");
        agent_rescan(h->agent);
    }
    g_free(h->seen);
    h->seen = picture;
}

static void
lock_idle_tokens(struct agent *agent, const struct agent_config *cfg)
{
    struct agent_registry *reg = agent_registry_get(agent);
    gint64 now = g_get_monotonic_time();
    for (guint i = 0; i < agent_registry_n_tokens(reg); i++) {
        struct agent_token *t = agent_registry_token(reg, i);
        gint64 seconds = agent_config_token(cfg, token_label(t))->idle_lock;
        gboolean due = seconds > 0 && token_logged_in(t) &&
                       now - token_last_used(t) > seconds * G_USEC_PER_SEC;
        struct tessera_status st = {0};
        if (due && token_logout(t, &st) == 0) {
            g_message("token \"%s\" locked after %" G_GINT64_FORMAT
                      " s without a signature",
                      token_label(t), seconds);
        }
    }
    agent_registry_unref(reg);
}

/*
 * Tokens marked absent (a failed signature found them gone) are asked
 * again each look: a module's slot events can miss a card that went and
 * came back while it was busy with a signature. TRUE when one is back.
 */
static gboolean
recheck_absent_tokens(struct agent *agent)
{
    struct agent_registry *reg = agent_registry_get(agent);
    gboolean back = FALSE;
    for (guint i = 0; i < agent_registry_n_tokens(reg) && !back; i++) {
        struct agent_token *t = agent_registry_token(reg, i);
        /* The rescan makes the return (sessions closed, pin-file login). */
        back = !token_present(t) && token_answers(t);
    }
    agent_registry_unref(reg);
    if (back)
        agent_rescan(agent);
    return back;
}

static void
look(gpointer data)
{
    struct agent_watch *h = data;
    gint64 now = g_get_monotonic_time();
    struct agent_config *cfg = agent_config_get(h->agent);
    unsigned interval = cfg->agent.slot_poll_seconds;
    if (interval > 0 && now - h->last_poll >= interval * G_USEC_PER_SEC) {
        h->last_poll = now;
        poll_slots(h);
    }
    lock_idle_tokens(h->agent, cfg);
    agent_config_unref(cfg);
    /* A return found here, between two polls, is the picture from now on:
     * else a removal right after it would look like the picture before
     * the return, and go unseen. */
    if (recheck_absent_tokens(h->agent)) {
        g_free(h->seen);
        h->seen = slot_picture(h);
    }
    agent_renewal_tick(h->agent);
    g_atomic_int_set(&h->busy, 0);
}

static gboolean
on_timer(gpointer data)
{
    struct agent_watch *h = data;
    if (g_atomic_int_compare_and_exchange(&h->busy, 0, 1)) {
        agent_run_in_thread(look, h, NULL);
    }
    return G_SOURCE_CONTINUE;
}

struct agent_watch *
agent_watch_start(struct agent *agent)
{
    struct agent_watch *h = g_new0(struct agent_watch, 1);
    h->agent = agent;
    start_waiters(h);
    h->seen = slot_picture(h);
    h->last_poll = g_get_monotonic_time();
    h->timer = g_timeout_add_seconds(1, on_timer, h);
    return h;
}

/* A waiter still in its first, blocking, wait. */
static gboolean
blocked(struct event_waiter *w)
{
    return g_atomic_int_get(&w->running) && !g_atomic_int_get(&w->polling);
}

void
agent_watch_stop(struct agent_watch *h)
{
    if (h == NULL)
        return;
    g_source_remove(h->timer);
    /* No new worker can start now; wait for one still looking. */
    while (g_atomic_int_get(&h->busy))
        g_usleep(10000);
    /* Waiters past their first wait end within one poll. */
    for (guint i = 0; i < h->waiters->len; i++) {
        struct event_waiter *w = g_ptr_array_index(h->waiters, i);
        g_atomic_int_set(&w->stop, 1);
        if (!blocked(w)) {
            g_thread_join(w->thread);
            w->thread = NULL;
        } else {
            modules_hold(h->agent->modules, w->module);
        }
    }
}

void
agent_watch_finish(struct agent_watch *h)
{
    if (h == NULL)
        return;
    /* A thread still blocked stays with its module until the process ends
     * (both are left alone); the others were joined in agent_watch_stop. */
    for (guint i = 0; i < h->waiters->len; i++) {
        struct event_waiter *w = g_ptr_array_index(h->waiters, i);
        if (w->thread != NULL)
            g_thread_unref(w->thread);
        else
            g_free(w);
    }
    g_ptr_array_unref(h->waiters);
    g_free(h->seen);
    g_free(h);
}
