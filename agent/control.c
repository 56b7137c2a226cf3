/* SPDX-License-Identifier: Apache-2.0 */
#include "control.h"
#include "agent.h"
#include "claims.h"
#include "config.h"
#include "enrolment.h"
#include "events.h"
#include "exports.h"
#include "files.h"
#include "keys.h"
#include "publish.h"
#include "naming.h"
#include "record.h"
#include "recover.h"
#include "registry.h"
#include "renew.h"
#include "renewals.h"

int
control_unlock(struct agent *agent, struct agent_token *token,
               const uint8_t *pin, size_t pin_len, gboolean force,
               struct tessera_status *st)
{
    /* Nobody sits at a system agent: its PINs are in root's files. */
    if (agent->system) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "the system agent never takes a PIN from a "
                           "person: give token \"%s\" a root-only pin-file= "
                           "(or pin-source=empty for a TPM) in its "
                           "configuration",
                           token_label(token));
        return -1;
    }
    struct agent_config *cfg = agent_config_get(agent);
    gboolean allowed = agent_unlock_allowed(cfg, token_label(token), st);
    agent_config_unref(cfg);
    if (!allowed || token_login(token, pin, pin_len, force, st) < 0)
        return -1;
    /* Private keys become visible only after login. */
    agent_rescan(agent);
    return 0;
}

int
control_lock(struct agent *agent, struct agent_token *token,
             struct tessera_status *st)
{
    int rc = 0;
    if (token != NULL) {
        rc = token_logout(token, st);
    } else {
        struct agent_registry *reg = agent_registry_get(agent);
        for (guint i = 0; i < agent_registry_n_tokens(reg) && rc == 0; i++)
            rc = token_logout(agent_registry_token(reg, i), st);
        agent_registry_unref(reg);
    }
    if (rc == 0)
        agent_rescan(agent);
    return rc;
}

/* The names the agent keeps for its own keys are not for users to give. */
static gboolean
name_for_users(const char *name, struct tessera_status *st)
{
    if (!naming_is_acme_account(name))
        return TRUE;
    tessera_status_set(st, TESSERA_ERR_INVALID,
                       "\"%s\" is not a usable identity name: names starting "
                       "with " NAMING_ACME_ACCOUNT_PREFIX
                       " are the agent's ACME account keys",
                       name);
    return FALSE;
}

int
control_keygen(struct agent *agent,
               const struct tessera_keygen_sans_request *req,
               struct tessera_blob *csr, struct tessera_status *st)
{
    if (!name_for_users(req->key.name, st))
        return -1;
    return agent_keygen(agent, &req->key, req->sans, req->n_sans, csr, st);
}

static gboolean
profile_known(struct agent *agent, const char *ca, struct tessera_status *st)
{
    struct agent_config *cfg = agent_config_get(agent);
    gboolean known = agent_config_ca(cfg, ca) != NULL;
    if (!known)
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "no CA profile [ca %s] in %s", ca, cfg->path);
    agent_config_unref(cfg);
    return known;
}

static int
import_claimed(struct agent *agent, const struct tessera_import_request *req,
               struct tessera_status *st)
{
    if (req->ca != NULL && !profile_known(agent, req->ca, st))
        return -1;
    if (agent_import(agent, req, st) < 0)
        return -1;
    struct tessera_status why = {0};
    if (req->ca == NULL || agent_adopt(agent, req->name, req->ca, &why) == 0)
        return 0;
    tessera_status_set(st, why.code,
                       "stored the certificate of %s, but it will not renew "
                       "through CA %s: %s",
                       req->name, req->ca, why.message);
    return -1;
}

int
control_import(struct agent *agent, const struct tessera_import_request *req,
               struct tessera_status *st)
{
    /* Not while a renewal switches the certificate under it. */
    if (!agent_claim_take(agent->claims, req->name, CLAIM_ENROLMENT, st))
        return -1;
    int rc = import_claimed(agent, req, st);
    agent_claim_release(agent->claims, req->name);
    return rc;
}

int
control_export(struct agent *agent, const struct tessera_export_request *req,
               struct tessera_status *st)
{
    return agent_publish_export(agent, req, st);
}

int
control_enroll(struct agent *agent, const struct tessera_enroll_request *req,
               int client_fd, struct tessera_blob *leaf,
               struct tessera_status *st)
{
    if (!name_for_users(req->key.name, st))
        return -1;
    return agent_enroll(agent, req, client_fd, leaf, st);
}

gboolean
control_renew_claim(struct agent *agent, const char *name,
                    struct tessera_status *st)
{
    if (agent_claim_take(agent->claims, name, CLAIM_RENEWAL, st))
        return TRUE;
    g_message("renewal of %s refused: %s", name, st->message);
    return FALSE;
}

int
control_renew_claimed(struct agent *agent, const char *name, int client_fd,
                      struct tessera_blob *leaf, struct tessera_status *st)
{
    int rc = agent_renew_claimed(agent, name, client_fd, leaf, st);
    agent_claim_release(agent->claims, name);
    return rc;
}

int
control_renew(struct agent *agent, const char *name, int client_fd,
              struct tessera_blob *leaf, struct tessera_status *st)
{
    if (!control_renew_claim(agent, name, st))
        return -1;
    return control_renew_claimed(agent, name, client_fd, leaf, st);
}

/* One change of the configuration in force at a time: a reload, a
 * Forget. */
static GMutex config_change;

/* agent.conf on disk without [identity NAME], comments kept. */
static int
drop_identity_file(const char *path, const char *name,
                   struct tessera_status *st)
{
    char *group = g_strdup_printf("identity %s", name);
    GKeyFile *kf = g_key_file_new();
    int rc = 0;
    if (g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, NULL) &&
        g_key_file_has_group(kf, group)) {
        gsize len;
        g_key_file_remove_group(kf, group, NULL);
        char *data = g_key_file_to_data(kf, &len, NULL);
        rc = agent_write_file_atomic(path, data, len, 0600, st);
        g_free(data);
    }
    g_key_file_free(kf);
    g_free(group);
    return rc;
}

/* The group goes from the file and from the configuration in force. */
static int
drop_identity_config(struct agent *agent, const char *name,
                     struct tessera_status *st)
{
    g_mutex_lock(&config_change);
    struct agent_config *cfg = agent_config_get(agent);
    int rc = drop_identity_file(cfg->path, name, st);
    if (rc == 0 && agent_config_identity(cfg, name) != NULL)
        agent_config_set(agent, agent_config_without_identity(cfg, name));
    agent_config_unref(cfg);
    g_mutex_unlock(&config_change);
    return rc;
}

/* The key a renewal replaced, kept for its grace period, serves nobody
 * once the identity is forgotten. */
static int
delete_replaced_key(struct agent *agent, const char *name,
                    struct tessera_status *st)
{
    char *old = g_strconcat(name, NAMING_OLD_SUFFIX, NULL);
    struct agent_identity *id = agent_identity_find(agent, old);
    int rc = id != NULL ? agent_delete_identity(agent, old, FALSE, st) : 0;
    agent_identity_unref(id);
    g_free(old);
    return rc;
}

static int
forget_claimed(struct agent *agent, const char *name,
               enum control_forget_what what, struct tessera_status *st)
{
    static const char *const said[] = {
        [FORGET_ENROLMENT] = "",
        [FORGET_CERTIFICATE] = " and deleted its certificate",
        [FORGET_KEYS] = " and deleted its key and certificate",
    };
    struct agent_identity *id = agent_identity_find(agent, name);
    gboolean known = id != NULL;
    agent_identity_unref(id);
    enum recovery_action settled;
    if (!known) {
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "no identity named \"%s\"", name);
        return -1;
    }
    /* What an interrupted renewal left (a journal, a next key) goes
     * first, as before an enrolment. */
    int rc = agent_recover_first(agent, name, &settled, st) == 0 &&
                     drop_identity_config(agent, name, st) == 0 &&
                     record_remove(agent->state, name, st) == 0 &&
                     exports_remove(agent->state, name, st) == 0
                 ? 0
                 : -1;
    /* A pending enrolment given up took its key with it. */
    gboolean left = settled != RECOVERY_ROLL_BACK;
    if (rc == 0 && what != FORGET_ENROLMENT && left)
        rc = agent_delete_identity(agent, name, what == FORGET_CERTIFICATE, st);
    if (rc == 0 && what != FORGET_ENROLMENT)
        rc = delete_replaced_key(agent, name, st);
    if (rc == 0)
        agent_renewal_forget(agent, name);
    agent_events_publish(agent->events, AGENT_EVENT_ENROLMENT_RECORDED, name,
                         NULL);
    if (rc == 0)
        g_message("forgot identity %s%s", name, said[what]);
    return rc;
}

int
control_forget(struct agent *agent, const char *name,
               enum control_forget_what what, struct tessera_status *st)
{
    /* Not in the middle of a renewal, which would put the identity back. */
    if (!agent_claim_take(agent->claims, name, CLAIM_FORGET, st))
        return -1;
    int rc = forget_claimed(agent, name, what, st);
    agent_claim_release(agent->claims, name);
    return rc;
}

/* Settings that a running agent cannot take up: said, not applied. */
static void
note_restart_only(const struct agent_config *before,
                  const struct agent_config *after)
{
    char **a = before->agent.modules, **b = after->agent.modules;
    gboolean same = (a == NULL) == (b == NULL) &&
                    (a == NULL || g_strv_equal((const char *const *)a,
                                               (const char *const *)b));
    if (!same)
        g_message("%s: [agent] modules changed; that takes effect when the "
                  "agent starts again",
                  after->path);
}

int
control_reload(struct agent *agent, struct tessera_status *st)
{
    g_mutex_lock(&config_change);
    struct agent_config *before = agent_config_get(agent);
    struct agent_config *after = agent_config_load(before->path, st);
    if (after != NULL) {
        note_restart_only(before, after);
        agent_config_set(agent, after);
        g_message("%s is in force", before->path);
    } else {
        g_warning("the configuration in force stays: %s", st->message);
    }
    agent_config_unref(before);
    g_mutex_unlock(&config_change);
    /* The tokens are read again either way; logins stay. */
    agent_rescan(agent);
    if (agent_registry_login_from_files(agent))
        agent_rescan(agent);
    /* cert-file= and chain-file= take effect now, not at a renewal. */
    agent_publish_all(agent);
    return after != NULL ? 0 : -1;
}
