/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One renewal, whoever asked (tessera renew, D-Bus Renew, the schedule):
 * NAME is claimed first, a journal its previous renewal left is brought
 * to its end, then the steps of steps.h run in order. With rekey (the
 * default) the next key is made as NAME~next and switched in; with
 * rekey=false only the certificate is replaced.
 */
#include "renew.h"
#include "../common/errors.h"
#include "agent.h"
#include "claims.h"
#include "config.h"
#include "events.h"
#include "keys.h"
#include "peer.h"
#include "prompt.h"
#include "registry.h"
#include "record.h"
#include "recover.h"
#include "steps.h"

#define RENEW_TIMEOUT_SECONDS 300

/* A renewal someone asked for (`tessera renew`, D-Bus Renew) on a locked
 * token asks for the PIN as a signature does; a scheduled one waits for
 * the token instead (renewals.c) rather than prompting unbidden. TRUE when
 * the token is unlocked now. */
static gboolean
unlocked_on_demand(struct agent *agent, const char *name,
                   struct agent_token *token, struct tessera_status *st)
{
    struct agent_peer self;
    agent_peer_self(&self);
    return prompt_unlock(agent, token, name, &self, st);
}

static struct agent_identity *
current_identity(struct agent *agent, const char *name,
                 struct tessera_status *st)
{
    struct agent_identity *id = agent_identity_find(agent, name);
    if (id != NULL && token_present(agent_identity_token(id)) &&
        !token_logged_in(agent_identity_token(id))) {
        struct tessera_status why = {0};
        if (unlocked_on_demand(agent, name, agent_identity_token(id), &why)) {
            agent_identity_unref(id);
            id = agent_identity_find(agent, name);
        } else if (why.code != TESSERA_OK) {
            *st = why;
            g_clear_pointer(&id, agent_identity_unref);
            return NULL;
        }
    }
    struct agent_token *token = id ? agent_identity_token(id) : NULL;
    if (id == NULL)
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "no identity named \"%s\"", name);
    else if (!token_present(token))
        tessera_status_set(st, TESSERA_ERR_TOKEN_ABSENT,
                           "token \"%s\" is not present", token_label(token));
    else if (!token_logged_in(token))
        tessera_status_set(st, TESSERA_ERR_TOKEN_LOCKED,
                           "token \"%s\" is locked: run `tessera unlock`",
                           token_label(token));
    if (st->code != TESSERA_OK && id != NULL)
        g_clear_pointer(&id, agent_identity_unref);
    return id;
}

/*
 * A journal NAME's last renewal left: a grace period ends now (renewed
 * again within it), an interrupted renewal is rolled back or finished.
 * FALSE when it is in the way; *finished when it was just finished, which
 * is then this renewal.
 */
static gboolean
settle_previous(struct agent *agent, const char *name, gboolean *finished,
                struct tessera_status *st)
{
    enum recovery_action done;
    if (agent_recover_first(agent, name, &done, st) < 0)
        return FALSE;
    *finished = done == RECOVERY_FINISH;
    return TRUE;
}

/* The journaled steps, from the next key to the grace period. */
static int
run(struct agent *agent, struct agent_identity *id,
    const struct enrolment_record *record, const struct renewal_policy *p,
    int client_fd, struct tessera_status *st)
{
    const char *name = agent_identity_name(id);
    struct agent_token *token = agent_identity_token(id);
    GBytes *key_id = agent_identity_key_id(id);
    struct journal j = {
        .kind = JOURNAL_RENEWAL,
        .ca = g_strdup(record->ca),
        .token_serial = g_strdup(token_serial(token)),
        .token_label = g_strdup(token_label(token)),
        .old_id = g_bytes_ref(key_id),
        .new_id = p->rekey ? agent_new_key_id() : g_bytes_ref(key_id),
        .rekey = p->rekey,
        .key_spec = g_strdup(record->key_spec),
    };
    struct journal_request req = {
        .subject = record->subject,
        .sans = record->sans,
        .renewing = name,
        .timeout_seconds = RENEW_TIMEOUT_SECONDS,
        .client_fd = client_fd,
    };
    g_message("renewing %s with CA %s (%s)", name, record->ca,
              p->rekey ? "new key" : "same key");
    int rc = agent_journal_request(agent, token, name, &j, &req, st);
    if (rc < 0)
        agent_journal_roll_back(agent, token, name, &j);
    else /* on failure the journal stays: recovery finishes it */
        rc = agent_journal_finish(agent, token, name, &j, st);
    journal_clear(&j);
    return rc;
}

static gboolean
token_waits(const struct tessera_status *st)
{
    return st->code == TESSERA_ERR_TOKEN_ABSENT ||
           st->code == TESSERA_ERR_TOKEN_LOCKED;
}

int
agent_renew_claimed(struct agent *agent, const char *name, int client_fd,
                    struct tessera_blob *leaf, struct tessera_status *st)
{
    struct enrolment_record record;
    struct agent_identity *known = agent_identity_find(agent, name);
    agent_identity_unref(known);
    if (known == NULL) {
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "no identity named \"%s\"", name);
        return -1;
    }
    if (!record_read(agent->state, name, &record)) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "identity %s was not enrolled with `tessera "
                           "enroll`: no CA to renew it with",
                           name);
        return -1;
    }
    struct renewal_policy p = agent_renewal_policy_of(agent, name, record.ca);
    struct agent_identity *id = current_identity(agent, name, st);
    gboolean finished = FALSE;
    int rc = -1;
    if (id != NULL && agent_journal_ready(agent, st) &&
        settle_previous(agent, name, &finished, st))
        rc = finished ? 0 : run(agent, id, &record, &p, client_fd, st);
    if (rc == 0) {
        agent_leaf_copy(agent, name, leaf);
        g_message("renewed %s with CA %s", name, record.ca);
    } else if (token_waits(st)) {
        g_message("renewal of %s waits for its token: %s", name, st->message);
    } else {
        g_message("renewal of %s with CA %s failed: %s", name, record.ca,
                  st->message);
    }
    agent_events_publish(agent->events, AGENT_EVENT_RENEWAL_FINISHED, name,
                         rc == 0 ? NULL : st);
    agent_identity_unref(id);
    record_clear(&record);
    return rc;
}

int
agent_renew(struct agent *agent, const char *name, int client_fd,
            struct tessera_blob *leaf, struct tessera_status *st)
{
    if (!agent_claim_take(agent->claims, name, CLAIM_RENEWAL, st)) {
        g_message("renewal of %s refused: %s", name, st->message);
        return -1;
    }
    int rc = agent_renew_claimed(agent, name, client_fd, leaf, st);
    agent_claim_release(agent->claims, name);
    return rc;
}
