/* SPDX-License-Identifier: Apache-2.0 */
#include "recover.h"
#include "../common/errors.h"
#include "agent.h"
#include "claims.h"
#include "registry.h"
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
    case RECOVERY_WAIT:
    case RECOVERY_NOTHING:
        break;
    }
    return 0;
}

static enum recovery_action
decide(const struct journal *j, struct agent_token *token, gboolean claimed,
       gboolean grace_over)
{
    struct recovery_facts facts = {
        .phase = j->phase,
        .token = token_fact(token),
        .claimed = claimed,
        .now = grace_over ? G_MAXINT64 : now_seconds(),
        .grace_until = j->grace_until,
    };
    return recovery_decide(&facts);
}

/* The caller holds NAME's claim. */
static int
recover_claimed(struct agent *agent, const char *name, gboolean grace_over,
                enum recovery_action *done, struct tessera_status *st)
{
    struct journal j;
    *done = RECOVERY_NOTHING;
    if (!load(agent, name, &j, st))
        return st->code == TESSERA_OK ? 0 : -1;
    struct agent_token *token = journal_token(agent, &j);
    *done = decide(&j, token, FALSE, grace_over);
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

int
agent_recover(struct agent *agent, const char *name, struct tessera_status *st)
{
    struct journal j;
    if (!load(agent, name, &j, st))
        return st->code == TESSERA_OK ? 0 : -1;
    struct agent_token *token = journal_token(agent, &j);
    gboolean claimed = agent_claim_held(agent->claims, name, NULL);
    enum recovery_action action = decide(&j, token, claimed, FALSE);
    if (token != NULL)
        token_unref(token);
    journal_clear(&j);
    if (action == RECOVERY_NOTHING || action == RECOVERY_WAIT)
        return 0;
    /* Something to do: as the owner, on the journal as it is now. */
    struct tessera_status ignored = {0};
    if (!agent_claim_take(agent->claims, name, CLAIM_RECOVERY, &ignored))
        return 0;
    int rc = recover_claimed(agent, name, FALSE, &action, st);
    agent_claim_release(agent->claims, name);
    return rc;
}
