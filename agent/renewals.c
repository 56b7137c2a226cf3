/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every enrolled identity ($XDG_STATE_HOME/tessera/enrolled/NAME.conf)
 * renews itself before it expires. When: renew-at-percent of the lifetime
 * (67), moved by up to renew-jitter-percent (5), earlier if the CA's
 * renewal information (RFC 9773) says so, never later than
 * renew-floor-seconds before expiry (schedule.c). Failures back off from
 * retry-min-seconds doubling up to retry-max-seconds, jittered; a
 * rejection waits the longest; an absent or locked token defers without
 * counting as a failure. Due renewals run on the CA pool (tasks.c), each
 * under its identity's claim.
 */
#include "renewals.h"
#include "../common/errors.h"
#include "agent.h"
#include "claims.h"
#include "events.h"
#include "naming.h"
#include "registry.h"
#include "tasks.h"
#include "record.h"
#include "recover.h"
#include "renew.h"
#include "steps.h"

/* How long a worked-out schedule holds before the records are read again
 * (a Forget, an edited record). */
#define RECHECK_SECONDS 60
/* A journal that recovery could not bring further is tried again after a
 * second, then after twice as long each time, up to 64 s. */

/* In memory, per identity: where its renewal stands. */
struct renewal {
    enum tessera_renewal_state state;
    gint64 retry_at; /* seconds since the epoch; 0: by the certificate */
    guint failures;
    char *renewal_error; /* the last failed attempt's reason */
    char *last_error;    /* the last thing that failed: a signature or that */
    /* The schedule as last worked out, for the certificate ending at
     * due_for: the once-a-second look reads no file while it holds. */
    gint64 due, looked_at;
    guint64 due_for;
    /* An enrolment the CA keeps pending: its next ask; 0: none. */
    gint64 pending_until;
    gint64 recover_after; /* its journal's recovery failed: not before */
    guint recover_failures;
};

struct agent_renewals {
    guint subscription; /* events */
    GMutex lock;
    GHashTable *by_name;   /* name -> struct renewal * */
    char *journal_problem; /* said once, not at every look; the look's */
};

static gint64
now_seconds(void)
{
    return g_get_real_time() / G_USEC_PER_SEC;
}

/* ---- the in-memory state ---- */

static struct renewal *
renewal_of(struct agent_renewals *r, const char *name)
{
    struct renewal *state = g_hash_table_lookup(r->by_name, name);
    if (state == NULL) {
        state = g_new0(struct renewal, 1);
        state->state = TESSERA_RENEWAL_SCHEDULED;
        g_hash_table_insert(r->by_name, g_strdup(name), state);
    }
    return state;
}

static void
renewal_free(struct renewal *state)
{
    g_free(state->renewal_error);
    g_free(state->last_error);
    g_free(state);
}

/* Moves NAME to state, saying so in the log when it changes; TRUE then. */
static gboolean
set_state(struct agent *agent, const char *name,
          enum tessera_renewal_state new_state)
{
    struct agent_renewals *r = agent->renewals;
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, name);
    gboolean changed = state->state != new_state;
    state->state = new_state;
    g_mutex_unlock(&r->lock);
    if (changed && (new_state == TESSERA_RENEWAL_WAITING_TOKEN ||
                    new_state == TESSERA_RENEWAL_WAITING_PIN))
        g_message("identity %s is due for renewal: %s", name,
                  tessera_renewal_state_name(new_state));
    if (changed)
        agent_events_publish(agent->events, AGENT_EVENT_RENEWAL_CHANGED, name,
                             NULL);
    return changed;
}

/*
 * An attempt that met an absent or locked token waits for it: no failure
 * counted, no backoff, and the next look says so.
 */
static gboolean
token_waits(const struct tessera_status *st)
{
    return st != NULL && (st->code == TESSERA_ERR_TOKEN_ABSENT ||
                          st->code == TESSERA_ERR_TOKEN_LOCKED);
}

static void
set_last_error(struct agent_renewals *r, const char *name, const char *message)
{
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, name);
    g_free(state->last_error);
    state->last_error = g_strdup(message);
    g_mutex_unlock(&r->lock);
}

/* How an attempt ended (st NULL: it succeeded), for the next one. */
static void
record_outcome(struct agent *agent, const char *name,
               const struct tessera_status *st)
{
    struct enrolment_record e;
    struct renewal_policy p = agent_renewal_policy_of(
        agent, name, record_read(agent->state, name, &e) ? e.ca : NULL);
    record_clear(&e);
    struct agent_renewals *r = agent->renewals;
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, name);
    g_clear_pointer(&state->renewal_error, g_free);
    g_free(state->last_error);
    state->last_error = st ? g_strdup(st->message) : NULL;
    state->looked_at = 0; /* work the schedule out again */
    if (token_waits(st)) {
        state->retry_at = 0;
        state->state = TESSERA_RENEWAL_SCHEDULED; /* the next look decides */
    } else if (st == NULL) {
        state->failures = 0;
        state->retry_at = 0;
        state->state = TESSERA_RENEWAL_SCHEDULED;
    } else {
        state->failures++;
        state->renewal_error = g_strdup(st->message);
        state->retry_at =
            now_seconds() + renewal_backoff(&p, state->failures,
                                            st->code == TESSERA_ERR_CA_REJECTED,
                                            g_random_int());
        state->state = st->code == TESSERA_ERR_CA_TIMEOUT
                           ? TESSERA_RENEWAL_PENDING
                           : TESSERA_RENEWAL_FAILING;
    }
    g_mutex_unlock(&r->lock);
}

/* NAME's record was written or removed: its schedule is worked out again. */
static void
reschedule(struct agent_renewals *r, const char *name)
{
    g_mutex_lock(&r->lock);
    renewal_of(r, name)->looked_at = 0;
    g_mutex_unlock(&r->lock);
}

/* Subscribed before any front end, so that what they read is current. */
static void
on_event(const struct agent_event *event, gpointer data)
{
    struct agent *agent = data;
    switch (event->kind) {
    case AGENT_EVENT_SIGNATURE_FAILED:
        set_last_error(agent->renewals, event->name, event->status->message);
        break;
    case AGENT_EVENT_RENEWAL_FINISHED:
        record_outcome(agent, event->name, event->status);
        break;
    case AGENT_EVENT_ENROLMENT_RECORDED:
        reschedule(agent->renewals, event->name);
        break;
    default:
        break;
    }
}

/* ---- the schedule ---- */

/* When NAME renews next by its certificate, the CA's advice and failures. */
static gint64
next_attempt(struct agent *agent, const struct agent_identity *id,
             const struct enrolment_record *e)
{
    struct renewal_policy p =
        agent_renewal_policy_of(agent, agent_identity_name(id), e->ca);
    gint64 t = renewal_time(
        agent_identity_name(id), (gint64)agent_identity_not_before(id),
        (gint64)agent_identity_not_after(id), e->renew_after, &p);
    struct agent_renewals *r = agent->renewals;
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, agent_identity_name(id));
    if (state->retry_at > 0)
        t = state->retry_at;
    g_mutex_unlock(&r->lock);
    return t;
}

/*
 * When NAME renews next (G_MAXINT64: nothing renews it). The records are
 * read again only once a minute, or when the certificate or an outcome
 * changed: the look asks every second and every list and D-Bus sync asks
 * for every identity.
 */
static gint64
schedule_of(struct agent *agent, const struct agent_identity *id)
{
    struct agent_renewals *r = agent->renewals;
    gint64 now = now_seconds(), due = G_MAXINT64;
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, agent_identity_name(id));
    gboolean fresh = state->due_for == agent_identity_not_after(id) &&
                     now - state->looked_at < RECHECK_SECONDS;
    if (fresh)
        due = state->due;
    g_mutex_unlock(&r->lock);
    if (!fresh) {
        struct enrolment_record e;
        if (agent_identity_leaf(id) != NULL &&
            record_read(agent->state, agent_identity_name(id), &e)) {
            due = next_attempt(agent, id, &e);
            record_clear(&e);
        }
        g_mutex_lock(&r->lock);
        state = renewal_of(r, agent_identity_name(id));
        state->due = due;
        state->due_for = agent_identity_not_after(id);
        state->looked_at = now;
        g_mutex_unlock(&r->lock);
    }
    return due;
}

/* On the CA pool, with NAME claimed by the look that started it. */
static void
run_renewal(struct agent *agent, const char *name)
{
    struct tessera_status st = {0};
    struct tessera_blob leaf = {0};
    agent_renew_claimed(agent, name, -1, &leaf, &st);
    tessera_blob_clear(&leaf);
}

/* NAME is due by the registry of this moment: one that another renewal
 * has just renewed is not. */
static gboolean
still_due(struct agent *agent, const char *name)
{
    struct agent_identity *id = agent_identity_find(agent, name);
    gboolean due = id != NULL && schedule_of(agent, id) <= now_seconds();
    agent_identity_unref(id);
    return due;
}

static void
consider(struct agent *agent, struct agent_identity *id)
{
    const char *name = agent_identity_name(id);
    struct agent_token *token = agent_identity_token(id);
    struct tessera_status st = {0};
    if (schedule_of(agent, id) > now_seconds() ||
        agent_claim_held(agent->claims, name, NULL))
        return;
    if (!token_present(token)) {
        set_state(agent, name, TESSERA_RENEWAL_WAITING_TOKEN);
        return;
    }
    if (!token_logged_in(token)) {
        if (set_state(agent, name, TESSERA_RENEWAL_WAITING_PIN)) {
            tessera_status_set(&st, TESSERA_ERR_TOKEN_LOCKED,
                               "identity %s is due for renewal: unlock token "
                               "\"%s\"",
                               name, token_label(token));
            set_last_error(agent->renewals, name, st.message);
            agent_events_publish(agent->events, AGENT_EVENT_RENEWAL_WAITING,
                                 name, &st);
        }
        return;
    }
    if (!agent_claim_take(agent->claims, name, CLAIM_RENEWAL, &st))
        return;
    if (!still_due(agent, name)) {
        agent_claim_release(agent->claims, name);
        return;
    }
    agent_claimed_job(agent, name, run_renewal);
}

/* Journals left by earlier renewals and enrolments. */
static void
recover_all(struct agent *agent)
{
    struct agent_renewals *r = agent->renewals;
    char *dir = agent_journal_dir(agent);
    struct tessera_status why = {0};
    GPtrArray *names = journal_names(dir, &why);
    gint64 now = now_seconds();
    const char *problem = why.code != TESSERA_OK ? why.message : NULL;
    if (problem != NULL && g_strcmp0(problem, r->journal_problem) != 0)
        g_warning("journals are not read: %s", problem);
    g_free(r->journal_problem);
    r->journal_problem = g_strdup(problem);
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        struct tessera_status st = {0};
        g_mutex_lock(&r->lock);
        gboolean wait = now < renewal_of(r, name)->recover_after;
        g_mutex_unlock(&r->lock);
        if (wait || !naming_valid(name))
            continue;
        gboolean failed = agent_recover(agent, name, &st) < 0;
        g_mutex_lock(&r->lock);
        struct renewal *state = renewal_of(r, name);
        state->recover_failures = failed ? state->recover_failures + 1 : 0;
        gint64 delay = (gint64)1 << MIN(MAX(state->recover_failures, 1) - 1, 6);
        state->recover_after = failed ? now + delay : 0;
        g_mutex_unlock(&r->lock);
        if (failed)
            g_warning("identity %s: %s; trying again in %" G_GINT64_FORMAT " s",
                      name, st.message, delay);
    }
    g_ptr_array_unref(names);
    g_free(dir);
}

void
agent_renewal_tick(struct agent *agent)
{
    recover_all(agent);
    struct agent_registry *reg = agent_registry_get(agent);
    for (guint i = 0; i < agent_registry_n_identities(reg); i++)
        consider(agent, agent_registry_identity(reg, i));
    agent_registry_unref(reg);
}

void
agent_renewal_forget(struct agent *agent, const char *name)
{
    struct agent_renewals *r = agent->renewals;
    if (r == NULL)
        return;
    g_mutex_lock(&r->lock);
    g_hash_table_remove(r->by_name, name);
    g_mutex_unlock(&r->lock);
}

void
agent_renewal_note_pending(struct agent *agent, const char *name,
                           gint64 next_try)
{
    struct agent_renewals *r = agent->renewals;
    if (r == NULL)
        return;
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, name);
    state->pending_until = next_try;
    g_mutex_unlock(&r->lock);
}

/* A pending enrolment's key: when the CA is asked again, or 0. */
static gint64
pending_enrolment(struct agent_renewals *r, const struct agent_identity *id)
{
    if (agent_identity_leaf(id) != NULL)
        return 0;
    g_mutex_lock(&r->lock);
    struct renewal *state =
        g_hash_table_lookup(r->by_name, agent_identity_name(id));
    gint64 next_try = state ? state->pending_until : 0;
    g_mutex_unlock(&r->lock);
    return next_try;
}

void
agent_renewal_describe(struct agent *agent, const struct agent_identity *id,
                       struct tessera_identity_summary *s)
{
    gint64 due = agent->renewals ? schedule_of(agent, id) : G_MAXINT64;
    gint64 next_try =
        agent->renewals ? pending_enrolment(agent->renewals, id) : 0;
    if (next_try > 0) {
        s->renewal_state = TESSERA_RENEWAL_PENDING;
        s->next_renewal = (uint64_t)next_try;
        return;
    }
    if (due == G_MAXINT64) {
        s->renewal_state = TESSERA_RENEWAL_NONE;
        return;
    }
    enum claim_kind kind;
    gboolean running =
        agent_claim_held(agent->claims, agent_identity_name(id), &kind) &&
        (kind == CLAIM_RENEWAL || kind == CLAIM_RECOVERY);
    s->next_renewal = (uint64_t)MAX(due, 0);
    struct agent_renewals *r = agent->renewals;
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, agent_identity_name(id));
    s->renewal_state = running ? TESSERA_RENEWAL_RENEWING : state->state;
    s->renewal_error = strdup(state->renewal_error ? state->renewal_error : "");
    g_mutex_unlock(&r->lock);
}

/* One failed attempt may be a passing outage; the next one retried. */
#define FAILURES_AT_RISK 2

/* An enrolment whose CA profile is no longer in the configuration. */
static char *
profile_missing(struct agent *agent, const char *name)
{
    struct enrolment_record e;
    if (!record_read(agent->state, name, &e))
        return NULL;
    struct agent_config *cfg = agent_config_get(agent);
    char *why = agent_config_ca(cfg, e.ca) == NULL
                    ? g_strdup_printf("its CA profile [ca %s] is not in "
                                      "agent.conf",
                                      e.ca)
                    : NULL;
    agent_config_unref(cfg);
    record_clear(&e);
    return why;
}

/* What in the renewal's state keeps it from happening, or NULL. */
static char *
state_at_risk(const struct tessera_identity_summary *s, guint failures)
{
    if (failures >= FAILURES_AT_RISK)
        return g_strdup_printf("its renewal failed %u times: %s", failures,
                               s->renewal_error);
    if (s->renewal_state == TESSERA_RENEWAL_WAITING_TOKEN)
        return g_strdup("its renewal waits for its token");
    if (s->renewal_state == TESSERA_RENEWAL_WAITING_PIN)
        return g_strdup("its renewal waits for its PIN");
    return NULL;
}

char *
agent_renewal_at_risk(struct agent *agent, const struct agent_identity *id)
{
    const char *name = agent_identity_name(id);
    /* An enrolment or renewal under way decides; its end is an event. */
    if (agent_claim_held(agent->claims, name, NULL))
        return NULL;
    struct tessera_identity_summary s = {0};
    agent_renewal_describe(agent, id, &s);
    if (s.renewal_state == TESSERA_RENEWAL_NONE) {
        tessera_identity_summary_clear(&s);
        return g_strdup("nothing renews it: it was not enrolled with a CA "
                        "profile");
    }
    g_mutex_lock(&agent->renewals->lock);
    guint failures = renewal_of(agent->renewals, name)->failures;
    g_mutex_unlock(&agent->renewals->lock);
    char *why = profile_missing(agent, name);
    if (why == NULL)
        why = state_at_risk(&s, failures);
    tessera_identity_summary_clear(&s);
    return why;
}

char *
agent_renewal_last_error(struct agent *agent, const char *name)
{
    struct agent_renewals *r = agent->renewals;
    g_mutex_lock(&r->lock);
    struct renewal *state = g_hash_table_lookup(r->by_name, name);
    char *error = g_strdup(state ? state->last_error : NULL);
    g_mutex_unlock(&r->lock);
    return error;
}

void
agent_renewals_init(struct agent *agent)
{
    struct agent_renewals *r = g_new0(struct agent_renewals, 1);
    g_mutex_init(&r->lock);
    r->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify)renewal_free);
    agent->renewals = r;
    r->subscription = agent_events_subscribe(agent->events, on_event, agent);
}

/* After the claims are all released. */
void
agent_renewals_finish(struct agent *agent)
{
    struct agent_renewals *r = agent->renewals;
    if (r == NULL)
        return;
    agent_events_unsubscribe(agent->events, r->subscription);
    g_hash_table_unref(r->by_name);
    g_free(r->journal_problem);
    g_mutex_clear(&r->lock);
    g_free(r);
    agent->renewals = NULL;
}
