/* SPDX-License-Identifier: Apache-2.0 */
#include "events.h"

struct subscriber {
    guint id;
    agent_event_handler handler;
    gpointer data;
};

struct agent_events {
    GRWLock lock;
    GArray *subscribers; /* struct subscriber, in subscription order */
    guint last_id;
};

struct agent_events *
agent_events_new(void)
{
    struct agent_events *e = g_new0(struct agent_events, 1);
    g_rw_lock_init(&e->lock);
    e->subscribers = g_array_new(FALSE, FALSE, sizeof(struct subscriber));
    return e;
}

void
agent_events_free(struct agent_events *e)
{
    if (e == NULL)
        return;
    g_array_unref(e->subscribers);
    g_rw_lock_clear(&e->lock);
    g_free(e);
}

guint
agent_events_subscribe(struct agent_events *e, agent_event_handler handler,
                       gpointer data)
{
    g_rw_lock_writer_lock(&e->lock);
    struct subscriber s = {++e->last_id, handler, data};
    g_array_append_val(e->subscribers, s);
    g_rw_lock_writer_unlock(&e->lock);
    return s.id;
}

void
agent_events_unsubscribe(struct agent_events *e, guint id)
{
    g_rw_lock_writer_lock(&e->lock);
    for (guint i = 0; i < e->subscribers->len; i++)
        if (g_array_index(e->subscribers, struct subscriber, i).id == id) {
            g_array_remove_index(e->subscribers, i);
            break;
        }
    g_rw_lock_writer_unlock(&e->lock);
}

static void
deliver(struct agent_events *e, const struct agent_event *event)
{
    g_rw_lock_reader_lock(&e->lock);
    for (guint i = 0; i < e->subscribers->len; i++) {
        struct subscriber *s =
            &g_array_index(e->subscribers, struct subscriber, i);
        s->handler(event, s->data);
    }
    g_rw_lock_reader_unlock(&e->lock);
}

void
agent_events_publish(struct agent_events *e, enum agent_event_kind kind,
                     const char *name, const struct tessera_status *status)
{
    if (e == NULL)
        return;
    struct agent_event event = {kind, name, status, NULL};
    deliver(e, &event);
}

void
agent_events_progress(struct agent_events *e, const char *name,
                      enum tessera_progress_step step, guint seconds,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_message("%s: %s", name, message);
    struct tessera_progress progress = {(uint8_t)step, seconds, message};
    struct agent_event event = {AGENT_EVENT_PROGRESS, name, NULL, &progress};
    if (e != NULL)
        deliver(e, &event);
    g_free(message);
}
