/* SPDX-License-Identifier: Apache-2.0 */
#include "claims.h"
#include "../common/errors.h"
#include "agent.h"
#include "tasks.h"

struct agent_claims {
    struct agent_events *events;
    GMutex lock;
    GCond released;
    GHashTable *held; /* name -> enum claim_kind, as a pointer */
    gboolean stopping;
    GCancellable *stop;
};

struct agent_claims *
agent_claims_new(struct agent_events *events)
{
    struct agent_claims *c = g_new0(struct agent_claims, 1);
    c->events = events;
    g_mutex_init(&c->lock);
    g_cond_init(&c->released);
    c->held = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    c->stop = g_cancellable_new();
    return c;
}

void
agent_claims_free(struct agent_claims *c)
{
    if (c == NULL)
        return;
    g_hash_table_unref(c->held);
    g_object_unref(c->stop);
    g_cond_clear(&c->released);
    g_mutex_clear(&c->lock);
    g_free(c);
}

static void
refuse(const char *name, enum claim_kind holder, struct tessera_status *st)
{
    switch (holder) {
    case CLAIM_RENEWAL:
        tessera_status_set(st, TESSERA_ERR_RENEWAL_RUNNING,
                           "a renewal of %s is already running", name);
        break;
    case CLAIM_ENROLMENT:
        tessera_status_set(st, TESSERA_ERR_RENEWAL_RUNNING,
                           "%s is being enrolled", name);
        break;
    case CLAIM_RECOVERY:
        tessera_status_set(st, TESSERA_ERR_RENEWAL_RUNNING,
                           "an interrupted renewal of %s is being recovered",
                           name);
        break;
    case CLAIM_FORGET:
        tessera_status_set(st, TESSERA_ERR_RENEWAL_RUNNING,
                           "%s is being forgotten", name);
        break;
    }
}

gboolean
agent_claim_take(struct agent_claims *c, const char *name, enum claim_kind kind,
                 struct tessera_status *st)
{
    gpointer holder;
    g_mutex_lock(&c->lock);
    gboolean held = g_hash_table_lookup_extended(c->held, name, NULL, &holder);
    gboolean taken = !held && !c->stopping;
    if (taken)
        g_hash_table_insert(c->held, g_strdup(name), GINT_TO_POINTER(kind));
    gboolean stopping = c->stopping;
    g_mutex_unlock(&c->lock);
    if (held)
        refuse(name, (enum claim_kind)GPOINTER_TO_INT(holder), st);
    else if (stopping)
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "the agent is stopping: %s was left as it is", name);
    if (taken)
        agent_events_publish(c->events, AGENT_EVENT_RENEWAL_CHANGED, name,
                             NULL);
    return taken;
}

void
agent_claim_release(struct agent_claims *c, const char *name)
{
    g_mutex_lock(&c->lock);
    g_hash_table_remove(c->held, name);
    g_cond_broadcast(&c->released);
    g_mutex_unlock(&c->lock);
    agent_events_publish(c->events, AGENT_EVENT_RENEWAL_CHANGED, name, NULL);
}

gboolean
agent_claim_held(struct agent_claims *c, const char *name,
                 enum claim_kind *kind)
{
    gpointer holder;
    g_mutex_lock(&c->lock);
    gboolean held = g_hash_table_lookup_extended(c->held, name, NULL, &holder);
    g_mutex_unlock(&c->lock);
    if (held && kind != NULL)
        *kind = (enum claim_kind)GPOINTER_TO_INT(holder);
    return held;
}

GCancellable *
agent_claims_cancellable(struct agent_claims *c)
{
    return c->stop;
}

void
agent_claims_stop(struct agent_claims *c)
{
    g_mutex_lock(&c->lock);
    c->stopping = TRUE;
    g_mutex_unlock(&c->lock);
    g_cancellable_cancel(c->stop);
}

void
agent_claims_wait(struct agent_claims *c)
{
    g_mutex_lock(&c->lock);
    while (g_hash_table_size(c->held) > 0)
        g_cond_wait(&c->released, &c->lock);
    g_mutex_unlock(&c->lock);
}

struct claimed_job {
    struct agent *agent;
    char *name;
    void (*work)(struct agent *agent, const char *name);
};

static void
claimed_job_free(gpointer data)
{
    struct claimed_job *job = data;
    g_free(job->name);
    g_free(job);
}

static void
run_claimed_job(gpointer data)
{
    struct claimed_job *job = data;
    job->work(job->agent, job->name);
    agent_claim_release(job->agent->claims, job->name);
}

void
agent_claimed_job(struct agent *agent, const char *name,
                  void (*work)(struct agent *agent, const char *name))
{
    struct claimed_job *job = g_new0(struct claimed_job, 1);
    job->agent = agent;
    job->name = g_strdup(name);
    job->work = work;
    agent_run_ca_job(agent, run_claimed_job, job, claimed_job_free);
}
