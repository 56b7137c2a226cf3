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
    struct tessera_blob csr = {0};
    GPtrArray *chain =
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    struct enroll_result result = {.chain = chain};
    int rc = -1;
    if (!tessera_keyspec_parse(j->key_spec, &spec)) {
        tessera_status_set(st, TESSERA_ERR_INVALID, "unknown key type \"%s\"",
                           j->key_spec);
        goto out;
    }
    if (!save(agent, name, j, JOURNAL_GENERATING, st))
        goto out;
    agent_test_point(name, "generating");
    if (!same_key &&
        transition_make_next(agent, token, name, &spec,
                             key_use_for(agent, j->ca), j->new_id, st) < 0)
        goto out;
    agent_test_point(name, "generated");
    if (!save(agent, name, j, JOURNAL_REQUESTING, st))
        goto out;
    agent_test_point(name, "requesting");
    if (make_csr(agent, key_name, req, &csr, st) < 0)
        goto out;
    struct agent_certify_request certify = {
        .ca = j->ca,
        .token = token_label(token),
        .key_name = key_name,
        .renewing = req->renewing,
        .csr = {csr.data, csr.len},
        .timeout_seconds = req->timeout_seconds,
        .client_fd = req->client_fd,
        .cancel = agent_claims_cancellable(agent->claims),
    };
    if (agent_certify(agent, &certify, &result, st) < 0)
        goto out;
    j->chain = g_ptr_array_ref(chain);
    j->renew_after = result.renew_after;
    if (!save(agent, name, j, JOURNAL_ISSUED, st))
        goto out;
    agent_test_point(name, "issued");
    rc = 0;
out:
    tessera_blob_clear(&csr);
    g_ptr_array_unref(chain);
    g_free(next_name);
    return rc;
}

void
agent_journal_roll_back(struct agent *agent, struct agent_token *token,
                        const char *name, const struct journal *j)
{
    struct tessera_status why = {0};
    /* Left for the next look when the token does not let go of it. */
    if (j->rekey &&
        transition_discard_next(agent, token, name, j->new_id, &why) < 0) {
        g_warning("identity %s: could not delete the key of %s yet: %s", name,
                  journal_kind_phrase(j->kind), why.message);
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
    gboolean same_key = j->kind == JOURNAL_RENEWAL && !j->rekey;
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
    int rc = j->kind == JOURNAL_ENROLMENT ? record_enrolment(agent, name, j, st)
                                          : enter_grace(agent, name, j, st);
    agent_events_publish(agent->events, AGENT_EVENT_ENROLMENT_RECORDED, name,
                         NULL);
    if (rc == 0)
        agent_publish_certificate(agent, name);
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
