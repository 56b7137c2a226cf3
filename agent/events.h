/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What happens in the agent's core, told to whoever listens. The core
 * (tokens, registry, signer, lifecycle) never calls a front end: it
 * publishes an event here, and D-Bus and the renewal scheduler subscribe.
 *
 * Handlers run on the publishing thread, in the order they subscribed,
 * under a read lock: they must be quick and must not publish, subscribe
 * or unsubscribe; a front end that needs its own thread (the main loop)
 * hops there. The signing path publishes only failures.
 */
#ifndef TESSERA_AGENT_EVENTS_H
#define TESSERA_AGENT_EVENTS_H

#include "../common/errors.h"
#include "../common/messages.h"

#include <glib.h>

enum agent_event_kind {
    /* A new registry snapshot is in force (tokens or identities changed). */
    AGENT_EVENT_REGISTRY_CHANGED,
    /* A token's login, presence or PIN counters changed. */
    AGENT_EVENT_TOKEN_CHANGED,
    /* A client's signature with name failed; status says why. */
    AGENT_EVENT_SIGNATURE_FAILED,
    /* name's renewal started, ended, or its state or schedule moved. */
    AGENT_EVENT_RENEWAL_CHANGED,
    /* name is due for renewal and waits for its token or PIN (status). */
    AGENT_EVENT_RENEWAL_WAITING,
    /* A renewal of name ended: status NULL when it succeeded. */
    AGENT_EVENT_RENEWAL_FINISHED,
    /* name's enrolment record was written, changed or removed. */
    AGENT_EVENT_ENROLMENT_RECORDED,
    /* A new configuration is in force (Reload, SIGHUP, Forget). */
    AGENT_EVENT_CONFIG_CHANGED,
    /* A step of name's key generation, enrolment or renewal (progress),
     * published on the thread doing the work. */
    AGENT_EVENT_PROGRESS,
};

struct agent_event {
    enum agent_event_kind kind;
    const char *name;                        /* the identity, or NULL */
    const struct tessera_status *status;     /* what failed, or NULL */
    const struct tessera_progress *progress; /* AGENT_EVENT_PROGRESS only */
};

typedef void (*agent_event_handler)(const struct agent_event *event,
                                    gpointer data);

struct agent_events;

struct agent_events *agent_events_new(void);
/* After every subscriber has gone. */
void agent_events_free(struct agent_events *events);
/* Returns an id for agent_events_unsubscribe. */
guint agent_events_subscribe(struct agent_events *events,
                             agent_event_handler handler, gpointer data);
/* Waits for the deliveries in progress to that handler to end. */
void agent_events_unsubscribe(struct agent_events *events, guint id);
/* events NULL: nobody listens (unit tests). */
void agent_events_publish(struct agent_events *events,
                          enum agent_event_kind kind, const char *name,
                          const struct tessera_status *status);
/* A step of name's work: logged, and published as AGENT_EVENT_PROGRESS
 * (seconds: until the next try, for TESSERA_STEP_PENDING). */
void agent_events_progress(struct agent_events *events, const char *name,
                           enum tessera_progress_step step, guint seconds,
                           const char *fmt, ...) G_GNUC_PRINTF(5, 6);

#endif
