/* SPDX-License-Identifier: Apache-2.0 */
#include "steps.h"
#include "../common/errors.h"
#include "agent.h"
#include "claims.h"
#include "../common/keyspec.h"
#include "enroll/certify.h"
#include "keys.h"
#include "naming.h"
#include "publish.h"
#include "config.h"
#include "events.h"
#include "state.h"
#include "tokens.h"
#include "record.h"
#include "registry.h"
#include "renewals.h"
#include "testpoint.h"
#include "transitions.h"

#include <openssl/x509.h>

static gint64
now_seconds(void)
{
    return g_get_real_time() / G_USEC_PER_SEC;
}

char *
agent_journal_dir(const struct agent *agent)
{
    return state_journal_dir(agent->state);
}

gboolean
agent_journal_ready(struct agent *agent, struct tessera_status *st)
{
    char *dir = agent_journal_dir(agent);
    struct tessera_status why = {0};
    gboolean ok = journal_dir_ready(dir, &why) == 0;
    if (!ok)
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "journals cannot be kept safely, so nothing is "
                           "renewed or enrolled: %s",
                           why.message);
    g_free(dir);
    return ok;
}

static gboolean
save(struct agent *agent, const char *name, struct journal *j,
     enum journal_phase phase, struct tessera_status *st)
{
    char *dir = agent_journal_dir(agent);
    struct tessera_status why = {0};
    gboolean ok = journal_save(dir, name, j, phase, &why) == 0;
    if (!ok)
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "cannot write the journal of %s: %s", name,
                           why.message);
    g_free(dir);
    return ok;
}

static void
remove_journal(struct agent *agent, const char *name)
{
    char *dir = agent_journal_dir(agent);
    journal_remove(dir, name);
    g_free(dir);
}

/* A SCEP CA encrypts its reply to the key it certifies; no other CA needs
 * a key that decrypts. */
static enum objects_key_use
key_use_for(struct agent *agent, const char *ca)
{
    struct agent_config *cfg = agent_config_get(agent);
    const struct config_ca *profile = agent_config_ca(cfg, ca);
    enum objects_key_use use =
        profile != NULL && profile->protocol == CONFIG_SCEP
            ? OBJECTS_SIGN_AND_DECRYPT
            : OBJECTS_SIGN_ONLY;
    agent_config_unref(cfg);
    return use;
}

/* The CSR of the key the journal names, signed by it. */
static int
make_csr(struct agent *agent, const char *key_name,
         const struct journal_request *req, struct tessera_blob *csr,
         struct tessera_status *st)
{
    guint n_sans = req->sans ? g_strv_length((char **)req->sans) : 0;
    X509_EXTENSION *san = NULL;
    if (n_sans > 0 &&
        (san = agent_san_extension(req->sans, n_sans, st)) == NULL)
        return -1;
    int rc = agent_make_csr(agent, key_name, req->subject, san, csr, st);
    X509_EXTENSION_free(san);
    return rc;
}

/* The CSR of key_name, the CA asked; its chain kept in j. */
static int
ask_ca(struct agent *agent, struct agent_token *token, const char *name,
       const char *key_name, struct journal *j,
       const struct journal_request *req, struct tessera_status *st)
{
    gboolean same_key = j->kind == JOURNAL_RENEWAL && !j->rekey;
    struct tessera_blob csr = {0};
    GPtrArray *chain =
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    struct enroll_result result = {.chain = chain};
    int rc = make_csr(agent, key_name, req, &csr, st);
    if (rc == 0)
        agent_events_progress(agent->events, name, TESSERA_STEP_CSR_SIGNED, 0,
                              "CSR signed by its %skey",
                              same_key ? "" : "new ");
    struct agent_certify_request certify = {
        .name = name,
        .ca = j->ca,
        .token = token_label(token),
        .key_name = key_name,
        .renewing = req->renewing,
        .csr = {csr.data, csr.len},
        .timeout_seconds = req->timeout_seconds,
        .client_fd = req->client_fd,
        .cancel = agent_claims_cancellable(agent->claims),
    };
    if (rc == 0)
        rc = agent_certify(agent, &certify, &result, st);
    if (rc == 0) {
        j->chain = g_ptr_array_ref(chain);
        j->renew_after = result.renew_after;
    }
    tessera_blob_clear(&csr);
    g_ptr_array_unref(chain);
    return rc;
}

int
agent_journal_request(struct agent *agent, struct agent_token *token,
                      const char *name, struct journal *j,
                      const struct journal_request *req,
                      struct tessera_status *st)
{
    gboolean same_key = j->kind == JOURNAL_RENEWAL && !j->rekey;
    char *next_name = g_strconcat(name, NAMING_NEXT_SUFFIX, NULL);
    const char *key_name = same_key ? name : next_name;
    struct tessera_keyspec spec;
    int rc = -1;
    if (!tessera_keyspec_parse(j->key_spec, &spec)) {
        tessera_status_set(st, TESSERA_ERR_INVALID, "unknown key type \"%s\"",
                           j->key_spec);
        goto out;
    }
    if (!save(agent, name, j, JOURNAL_GENERATING, st))
        goto out;
    agent_test_point(name, "generating");
    if (!same_key) {
        agent_events_progress(agent->events, name, TESSERA_STEP_GENERATING, 0,
                              "generating its new %s key on token \"%s\"",
                              j->key_spec, token_label(token));
        if (transition_make_next(agent, token, name, &spec,
                                 key_use_for(agent, j->ca), j->new_id, st) < 0)
            goto out;
    }
    agent_test_point(name, "generated");
    if (!save(agent, name, j, JOURNAL_REQUESTING, st))
        goto out;
    agent_test_point(name, "requesting");
    if (ask_ca(agent, token, name, key_name, j, req, st) < 0)
        goto out;
    if (!save(agent, name, j, JOURNAL_ISSUED, st))
        goto out;
    agent_test_point(name, "issued");
    rc = 0;
out:
    g_free(next_name);
    return rc;
}

/* Seconds between asks while the profile's CA says pending. */
static gint64
retry_seconds_of(struct agent *agent, const char *ca)
{
    struct agent_config *cfg = agent_config_get(agent);
    const struct config_ca *profile = agent_config_ca(cfg, ca);
    gint64 retry = profile ? profile->retry_seconds : 60;
    agent_config_unref(cfg);
    return retry;
}

/* PENDING with its next try: said to the list and written down. */
static int
save_pending(struct agent *agent, const char *name, struct journal *j,
             struct tessera_status *st)
{
    j->key_named = TRUE;
    j->next_try = now_seconds() + retry_seconds_of(agent, j->ca);
    if (!save(agent, name, j, JOURNAL_PENDING, st))
        return -1;
    agent_renewal_note_pending(agent, name, j->next_try);
    return 0;
}

int
agent_journal_keep_pending(struct agent *agent, struct agent_token *token,
                           const char *name, struct journal *j,
                           struct tessera_status *st)
{
    if (save_pending(agent, name, j, st) < 0 ||
        transition_name_pending(agent, token, name, j->new_id, st) < 0)
        return -1;
    agent_test_point(name, "pending");
    g_message("enrolment of %s: CA %s still says pending; asking again every "
              "%" G_GINT64_FORMAT " s",
              name, j->ca, retry_seconds_of(agent, j->ca));
    return 0;
}

int
agent_journal_ask_again(struct agent *agent, struct agent_token *token,
                        const char *name, struct journal *j,
                        struct tessera_status *st)
{
    /* One ask: the next one is the next look's. */
    struct journal_request req = {
        .subject = j->subject, .sans = j->sans, .client_fd = -1};
    struct tessera_status why = {0};
    /* Named already, unless a crash came between the journal and that. */
    if (transition_name_pending(agent, token, name, j->new_id, st) < 0)
        return -1;
    /* A certificate came another way (tessera import), or the journal is
     * not this key's: nothing to ask for. */
    GBytes *leaf = agent_leaf_of(agent, name);
    if (leaf != NULL) {
        g_bytes_unref(leaf);
        g_message("identity %s has a certificate: dropping its pending "
                  "request to CA %s",
                  name, j->ca);
        remove_journal(agent, name);
        agent_renewal_note_pending(agent, name, 0);
        return 1;
    }
    if (ask_ca(agent, token, name, name, j, &req, &why) == 0)
        return save(agent, name, j, JOURNAL_ISSUED, st) ? 0 : -1;
    gboolean refused = why.code == TESSERA_ERR_CA_REJECTED ||
                       why.code == TESSERA_ERR_CA_RESPONSE;
    if (why.code == TESSERA_ERR_CA_TIMEOUT ||
        why.code == TESSERA_ERR_CA_UNREACHABLE) {
        g_message("enrolment of %s: %s; asking again in %" G_GINT64_FORMAT " s",
                  name, why.message, retry_seconds_of(agent, j->ca));
        return save_pending(agent, name, j, st) == 0 ? 1 : -1;
    }
    *st = why;
    /* A token that cannot sign now is waited for; the CA's no is final. */
    if (refused) {
        g_message("enrolment of %s failed: %s; removing its key", name,
                  st->message);
        agent_journal_roll_back(agent, token, name, j);
    }
    return -1;
}

void
agent_journal_roll_back(struct agent *agent, struct agent_token *token,
                        const char *name, const struct journal *j)
{
    struct tessera_status why = {0};
    /* Left for the next look when the token does not let go of it. */
    int (*discard)(struct agent *, struct agent_token *, const char *, GBytes *,
                   struct tessera_status *) =
        j->key_named ? transition_discard_pending : transition_discard_next;
    if (j->rekey && discard(agent, token, name, j->new_id, &why) < 0) {
        /* A key that is an identity: the journal is not its own. */
        gboolean stays = why.code == TESSERA_ERR_INVALID;
        g_warning("identity %s: %s the key of %s%s: %s", name,
                  stays ? "leaving" : "could not delete yet",
                  journal_kind_phrase(j->kind),
                  stays ? " and dropping the journal" : "", why.message);
        if (!stays)
            return;
    }
    remove_journal(agent, name);
}

/* An enrolment is done once its record is written. */
static int
record_enrolment(struct agent *agent, const char *name, const struct journal *j,
                 struct tessera_status *st)
{
    struct enrolment_record r = {j->ca, j->key_spec, j->subject, j->sans,
                                 j->renew_after};
    struct tessera_status why = {0};
    if (record_write(agent->state, name, &r, &why) < 0) {
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "cannot record the enrolment of %s: %s", name,
                           why.message);
        return -1;
    }
    remove_journal(agent, name);
    agent_test_point(name, "recorded");
    return 0;
}

/* A renewal is done once its grace period is journaled. */
static int
enter_grace(struct agent *agent, const char *name, struct journal *j,
            struct tessera_status *st)
{
    gint64 now = now_seconds();
    /* The CA's advice was for the certificate replaced: it goes too. */
    record_renewed(agent->state, name, j->renew_after, now);
    struct renewal_policy p = agent_renewal_policy_of(agent, name, j->ca);
    j->grace_until = now + (j->rekey ? p.grace_seconds : 0);
    g_clear_pointer(&j->chain, g_ptr_array_unref);
    if (!save(agent, name, j, JOURNAL_GRACE, st))
        return -1;
    agent_test_point(name, "grace");
    return 0;
}

int
agent_journal_finish(struct agent *agent, struct agent_token *token,
                     const char *name, struct journal *j,
                     struct tessera_status *st)
{
    /* A key kept pending is NAME already: nothing to switch. */
    gboolean same_key =
        (j->kind == JOURNAL_RENEWAL && !j->rekey) || j->key_named;
    GBytes *old_id = j->kind == JOURNAL_RENEWAL ? j->old_id : NULL;
    if (j->phase < JOURNAL_SWITCHING &&
        !save(agent, name, j, JOURNAL_SWITCHING, st))
        return -1;
    agent_test_point(name, "switching");
    if (transition_store(agent, token, name, j->new_id, same_key, j->chain,
                         st) < 0) {
        /* Not for our key: nothing was switched, and nothing will be. */
        if (st->code == TESSERA_ERR_CA_RESPONSE)
            agent_journal_roll_back(agent, token, name, j);
        return -1;
    }
    if (!same_key &&
        transition_switch(agent, token, name, old_id, j->new_id, st) < 0)
        return -1;
    agent_test_point(name, "switched");
    agent_events_progress(agent->events, name, TESSERA_STEP_STORED, 0,
                          "certificate stored on token \"%s\" and in use",
                          token_label(token));
    /* Part of the switch: until the journal leaves this phase, recovery
     * runs it again, so the files never stay behind the token. */
    gboolean published = agent_publish_files(agent, name);
    agent_test_point(name, "published");
    int rc = j->kind == JOURNAL_ENROLMENT ? record_enrolment(agent, name, j, st)
                                          : enter_grace(agent, name, j, st);
    agent_events_publish(agent->events, AGENT_EVENT_ENROLMENT_RECORDED, name,
                         NULL);
    if (rc == 0 && published)
        agent_publish_run_command(agent, name);
    return rc;
}

int
agent_journal_end_grace(struct agent *agent, struct agent_token *token,
                        const char *name, const struct journal *j,
                        struct tessera_status *st)
{
    struct tessera_status why = {0};
    if (j->rekey &&
        transition_retire_old(agent, token, name, j->old_id, &why) < 0) {
        tessera_status_set(st, TESSERA_ERR_TOKEN_FAILED,
                           "identity %s: could not delete its previous key "
                           "yet: %s",
                           name, why.message);
        return -1;
    }
    remove_journal(agent, name);
    if (j->rekey)
        g_message("identity %s: deleted the key its renewal replaced", name);
    return 0;
}
