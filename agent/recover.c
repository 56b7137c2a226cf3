/* SPDX-License-Identifier: Apache-2.0 */
#include "recover.h"
#include "../common/errors.h"
#include "agent.h"
#include "claims.h"
#include "events.h"
#include "registry.h"
#include "renewals.h"
#include "steps.h"

static gint64
now_seconds(void)
{
    return g_get_real_time() / G_USEC_PER_SEC;
}

static struct agent_token *
journal_token(struct agent *agent, const struct journal *j)
{
    struct agent_registry *reg = agent_registry_get(agent);
    struct agent_token *found = NULL;
    for (guint i = 0; found == NULL && i < agent_registry_n_tokens(reg); i++) {
        struct agent_token *t = agent_registry_token(reg, i);
        if (g_strcmp0(token_serial(t), j->token_serial) == 0 &&
            g_strcmp0(token_label(t), j->token_label) == 0)
            found = token_ref(t);
    }
    agent_registry_unref(reg);
    return found;
}

static enum recovery_token
token_fact(struct agent_token *t)
{
    if (t == NULL || !token_present(t))
        return RECOVERY_TOKEN_ABSENT;
    return token_logged_in(t) ? RECOVERY_TOKEN_READY : RECOVERY_TOKEN_LOCKED;
}

/* NAME's journal, or FALSE (with st when it is there but not usable). */
static gboolean
load(struct agent *agent, const char *name, struct journal *j,
     struct tessera_status *st)
{
    char *dir = agent_journal_dir(agent);
    gboolean ok = journal_load(dir, name, j, st);
    g_free(dir);
    return ok;
}

/*
 * A pending enrolment asked again: stored once the CA issues, given up
 * once it refuses; D-Bus hears either outcome as the renewal signals of
 * NAME, as a client of `tessera enroll` would have.
 */
static int
ask_again(struct agent *agent, struct agent_token *token, const char *name,
          struct journal *j, struct tessera_status *st)
{
    int rc = agent_journal_ask_again(agent, token, name, j, st);
    if (rc == 0)
        rc = agent_journal_finish(agent, token, name, j, st);
    if (rc == 1)
        return 0;
    gboolean decided = rc == 0 || st->code == TESSERA_ERR_CA_REJECTED ||
                       st->code == TESSERA_ERR_CA_RESPONSE;
    if (!decided)
        return rc;
    agent_renewal_note_pending(agent, name, 0);
    if (rc == 0)
        g_message("enrolled %s with CA %s, which had said pending", name,
                  j->ca);
    agent_events_publish(agent->events, AGENT_EVENT_RENEWAL_FINISHED, name,
                         rc == 0 ? NULL : st);
    return 0;
}

static int
act(struct agent *agent, struct agent_token *token, const char *name,
    struct journal *j, enum recovery_action action, struct tessera_status *st)
{
    switch (action) {
    case RECOVERY_ROLL_BACK:
        g_message("identity %s: rolling back %s that was interrupted before "
                  "the CA answered",
                  name, journal_kind_phrase(j->kind));
        agent_journal_roll_back(agent, token, name, j);
        return 0;
    case RECOVERY_FINISH:
        g_message("identity %s: finishing %s that was interrupted after the "
                  "CA issued",
                  name, journal_kind_phrase(j->kind));
        return agent_journal_finish(agent, token, name, j, st);
    case RECOVERY_END_GRACE:
        return agent_journal_end_grace(agent, token, name, j, st);
    case RECOVERY_ASK_AGAIN:
        return ask_again(agent, token, name, j, st);
    case RECOVERY_WAIT:
    case RECOVERY_NOTHING:
        break;
    }
    return 0;
}

/* settle: the journal must come to its end now (grace over, a pending
 * enrolment given up). */
static enum recovery_action
decide(const struct journal *j, struct agent_token *token, gboolean claimed,
       gboolean settle)
{
    struct recovery_facts facts = {
        .phase = j->phase,
        .token = token_fact(token),
        .claimed = claimed,
        .now = settle ? G_MAXINT64 : now_seconds(),
        .grace_until = j->grace_until,
        .next_try = j->next_try,
        .settle = settle,
    };
    return recovery_decide(&facts);
}

/* The caller holds NAME's claim. */
static int
recover_claimed(struct agent *agent, const char *name, gboolean settle,
                enum recovery_action *done, struct tessera_status *st)
{
    struct journal j;
    *done = RECOVERY_NOTHING;
    if (!load(agent, name, &j, st))
        return st->code == TESSERA_OK ? 0 : -1;
    struct agent_token *token = journal_token(agent, &j);
    *done = decide(&j, token, FALSE, settle);
    if (*done == RECOVERY_WAIT)
        tessera_status_set(st, TESSERA_ERR_RENEWAL_RUNNING,
                           "%s of %s was interrupted and waits for token "
                           "\"%s\"",
                           journal_kind_phrase(j.kind), name, j.token_label);
    int rc =
        *done == RECOVERY_WAIT ? -1 : act(agent, token, name, &j, *done, st);
    if (token != NULL)
        token_unref(token);
    journal_clear(&j);
    return rc;
}

int
agent_recover_first(struct agent *agent, const char *name,
                    enum recovery_action *done, struct tessera_status *st)
{
    return recover_claimed(agent, name, TRUE, done, st);
}

/* On the CA pool, with NAME claimed by the look that started it. */
static void
run_ask_again(struct agent *agent, const char *name)
{
    struct tessera_status st = {0};
    enum recovery_action done;
    if (recover_claimed(agent, name, FALSE, &done, &st) < 0)
        g_warning("identity %s: %s", name, st.message);
}

int
agent_recover(struct agent *agent, const char *name, struct tessera_status *st)
{
    struct journal j;
    if (!load(agent, name, &j, st))
        return st->code == TESSERA_OK ? 0 : -1;
    struct agent_token *token = journal_token(agent, &j);
    gboolean claimed = agent_claim_held(agent->claims, name, NULL);
    enum recovery_action action = decide(&j, token, claimed, FALSE);
    /* What list shows for it, after a restart too. */
    if (j.phase == JOURNAL_PENDING)
        agent_renewal_note_pending(agent, name, j.next_try);
    if (token != NULL)
        token_unref(token);
    journal_clear(&j);
    if (action == RECOVERY_NOTHING || action == RECOVERY_WAIT)
        return 0;
    /* The CA may take its time: on the CA pool, as an enrolment (a Forget
     * meanwhile is refused, as during `tessera enroll`). */
    if (action == RECOVERY_ASK_AGAIN) {
        struct tessera_status busy = {0};
        if (!agent_claim_take(agent->claims, name, CLAIM_ENROLMENT, &busy))
            return 0;
        agent_claimed_job(agent, name, run_ask_again);
        return 0;
    }
    /* Something to do: as the owner, on the journal as it is now. */
    struct tessera_status ignored = {0};
    if (!agent_claim_take(agent->claims, name, CLAIM_RECOVERY, &ignored))
        return 0;
    int rc = recover_claimed(agent, name, FALSE, &action, st);
    agent_claim_release(agent->claims, name);
    return rc;
}
