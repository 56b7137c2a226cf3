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
#include "dbus.h"
#include "naming.h"
#include "registry.h"
#include "tasks.h"
#include "record.h"
#include "recover.h"
#include "renew.h"
#include "steps.h"

#define DEFAULT_AT_PERCENT 67
#define DEFAULT_JITTER_PERCENT 5
#define DEFAULT_FLOOR_SECONDS 86400
#define DEFAULT_GRACE_SECONDS (7 * 86400)
#define DEFAULT_RETRY_MIN 60
#define DEFAULT_RETRY_MAX (6 * 3600)
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
    char *last_error;
    /* The schedule as last worked out, for the certificate ending at
     * due_for: the once-a-second look reads no file while it holds. */
    gint64 due, looked_at;
    guint64 due_for;
    gint64 recover_after; /* its journal's recovery failed: not before */
    guint recover_failures;
};

struct agent_renewals {
    GMutex lock;
    GHashTable *by_name;   /* name -> struct renewal * */
    char *journal_problem; /* said once, not at every look; the look's */
};

static gint64
now_seconds(void)
{
    return g_get_real_time() / G_USEC_PER_SEC;
}

static gint64
policy_number(GKeyFile *kf, const char *identity_group, const char *ca_group,
              const char *key, gint64 fallback)
{
    const char *groups[] = {identity_group, ca_group};
    for (size_t i = 0; i < G_N_ELEMENTS(groups); i++)
        if (g_key_file_has_key(kf, groups[i], key, NULL))
            return g_key_file_get_int64(kf, groups[i], key, NULL);
    return fallback;
}

/* Checked at start by config.c, so read without further checks here. */
struct renewal_policy
agent_renewal_policy(struct agent *agent, const char *name, const char *ca)
{
    GKeyFile *kf = agent->config.keyfile;
    char *ig = g_strdup_printf("identity %s", name);
    char *cg = g_strdup_printf("ca %s", ca);
    struct renewal_policy p = {
        .at_percent =
            policy_number(kf, ig, cg, "renew-at-percent", DEFAULT_AT_PERCENT),
        .jitter_percent = policy_number(kf, ig, cg, "renew-jitter-percent",
                                        DEFAULT_JITTER_PERCENT),
        .floor_seconds = policy_number(kf, ig, cg, "renew-floor-seconds",
                                       DEFAULT_FLOOR_SECONDS),
        .grace_seconds =
            policy_number(kf, ig, cg, "grace-seconds", DEFAULT_GRACE_SECONDS),
        .retry_min =
            policy_number(kf, ig, cg, "retry-min-seconds", DEFAULT_RETRY_MIN),
        .retry_max =
            policy_number(kf, ig, cg, "retry-max-seconds", DEFAULT_RETRY_MAX),
        .rekey = TRUE,
    };
    const char *groups[] = {ig, cg};
    for (size_t i = 0; i < G_N_ELEMENTS(groups); i++)
        if (g_key_file_has_key(kf, groups[i], "rekey", NULL)) {
            p.rekey = g_key_file_get_boolean(kf, groups[i], "rekey", NULL);
            break;
        }
    g_free(ig);
    g_free(cg);
    return p;
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
        agent_dbus_changed(agent);
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

void
agent_renewal_outcome(struct agent *agent, const char *name,
                      const struct renewal_policy *p,
                      const struct tessera_status *st)
{
    struct agent_renewals *r = agent->renewals;
    g_mutex_lock(&r->lock);
    struct renewal *state = renewal_of(r, name);
    g_clear_pointer(&state->last_error, g_free);
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
        state->last_error = g_strdup(st->message);
        state->retry_at =
            now_seconds() + renewal_backoff(p, state->failures,
                                            st->code == TESSERA_ERR_CA_REJECTED,
                                            g_random_int());
        state->state = st->code == TESSERA_ERR_CA_TIMEOUT
                           ? TESSERA_RENEWAL_PENDING
                           : TESSERA_RENEWAL_FAILING;
    }
    g_mutex_unlock(&r->lock);
    agent_dbus_changed(agent);
}

/* ---- the schedule ---- */

/* When NAME renews next by its certificate, the CA's advice and failures. */
static gint64
next_attempt(struct agent *agent, const struct agent_identity *id,
             const struct enrolment_record *e)
{
    struct renewal_policy p =
        agent_renewal_policy(agent, agent_identity_name(id), e->ca);
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
            record_read(agent->config.state_dir, agent_identity_name(id), &e)) {
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

struct renewal_job {
    struct agent *agent;
    char *name;
};

static void
renewal_job_free(gpointer data)
{
    struct renewal_job *job = data;
    g_free(job->name);
    g_free(job);
}

/* On the CA pool, with NAME claimed by the look that started it. */
static void
run_renewal(gpointer data)
{
    struct renewal_job *job = data;
    struct tessera_status st = {0};
    struct tessera_blob leaf = {0};
    agent_renew_claimed(job->agent, job->name, -1, &leaf, &st);
    tessera_blob_clear(&leaf);
    agent_claim_release(job->agent->claims, job->name);
    agent_dbus_changed(job->agent);
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
    struct tessera_status st = {0};
    if (schedule_of(agent, id) > now_seconds() ||
        agent_claim_held(agent->claims, agent_identity_name(id), NULL))
        return;
    if (!token_present(agent_identity_token(id))) {
        set_state(agent, agent_identity_name(id),
                  TESSERA_RENEWAL_WAITING_TOKEN);
        return;
    }
    if (!token_logged_in(agent_identity_token(id))) {
        if (set_state(agent, agent_identity_name(id),
                      TESSERA_RENEWAL_WAITING_PIN)) {
            tessera_status_set(&st, TESSERA_ERR_TOKEN_LOCKED,
                               "identity %s is due for renewal: unlock token "
                               "\"%s\"",
                               agent_identity_name(id),
                               token_label(agent_identity_token(id)));
            agent_dbus_identity_failed(agent, agent_identity_name(id), &st);
        }
        return;
    }
    if (!agent_claim_take(agent->claims, agent_identity_name(id), CLAIM_RENEWAL,
                          &st))
        return;
    if (!still_due(agent, agent_identity_name(id))) {
        agent_claim_release(agent->claims, agent_identity_name(id));
        return;
    }
    agent_dbus_changed(agent);
    struct renewal_job *job = g_new0(struct renewal_job, 1);
    job->agent = agent;
    job->name = g_strdup(agent_identity_name(id));
    agent_run_ca_job(agent, run_renewal, job, renewal_job_free);
}

/* Journals left by earlier renewals and enrolments. */
static void
recover_all(struct agent *agent)
{
    struct agent_renewals *r = agent->renewals;
    char *dir = agent_journal_dir(agent);
    GError *error = NULL;
    GPtrArray *names = journal_names(dir, &error);
    gint64 now = now_seconds();
    if (error != NULL && g_strcmp0(error->message, r->journal_problem) != 0)
        g_warning("journals are not read: %s", error->message);
    g_free(r->journal_problem);
    r->journal_problem = error ? g_strdup(error->message) : NULL;
    g_clear_error(&error);
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
agent_renewal_reschedule(struct agent *agent, const char *name)
{
    struct agent_renewals *r = agent->renewals;
    if (r == NULL)
        return;
    g_mutex_lock(&r->lock);
    renewal_of(r, name)->looked_at = 0;
    g_mutex_unlock(&r->lock);
    agent_dbus_changed(agent);
}

void
agent_renewal_describe(struct agent *agent, const struct agent_identity *id,
                       struct tessera_identity_summary *s)
{
    gint64 due = agent->renewals ? schedule_of(agent, id) : G_MAXINT64;
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
    s->renewal_error = strdup(state->last_error ? state->last_error : "");
    g_mutex_unlock(&r->lock);
}

void
agent_renewals_init(struct agent *agent)
{
    struct agent_renewals *r = g_new0(struct agent_renewals, 1);
    g_mutex_init(&r->lock);
    r->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify)renewal_free);
    agent->renewals = r;
}

/* After the claims are all released. */
void
agent_renewals_finish(struct agent *agent)
{
    struct agent_renewals *r = agent->renewals;
    if (r == NULL)
        return;
    g_hash_table_unref(r->by_name);
    g_free(r->journal_problem);
    g_mutex_clear(&r->lock);
    g_free(r);
    agent->renewals = NULL;
}
