/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One request, one PKCS#11 signature, on the thread that read the request.
 * Stale sessions and key handles (the token was re-inserted, the module
 * reset them) are replaced and the signature tried again, once each.
 * The same path decrypts, for the agent's own use only (a SCEP reply).
 */
#include "signer.h"
#include "../common/errors.h"
#include "../common/keyspec.h"
#include "agent.h"
#include "digests.h"
#include "events.h"
#include "naming.h"
#include "policy.h"
#include "prompt.h"
#include "ratelog.h"
#include "registry.h"
#include "uses.h"

#include <string.h>

/* What goes to C_SignInit and C_Sign for one request. */
struct sign_operation {
    gboolean decrypt; /* C_Decrypt instead of C_Sign */
    CK_MECHANISM mechanism;
    CK_RSA_PKCS_PSS_PARAMS pss;
    uint8_t input[TESSERA_SIGN_INPUT_MAX + 32];
    size_t input_len;
};

/* One operation with the identity's key, on its token. */
static int
run_on_token(struct agent_identity *id, struct sign_operation *op,
             struct tessera_blob *out, struct tessera_status *st)
{
    struct token_key key;
    agent_identity_signing_key(id, &key);
    struct token_operation run = {op->decrypt, op->mechanism, op->input,
                                  op->input_len};
    return token_sign(agent_identity_token(id), &key, &run, out, st);
}

static enum tessera_key_type
scheme_key_type(uint8_t scheme)
{
    switch (scheme) {
    case TESSERA_SIGN_ECDSA:
        return TESSERA_KEY_EC;
    case TESSERA_SIGN_RSA_PKCS1:
    case TESSERA_SIGN_RSA_PSS:
        return TESSERA_KEY_RSA;
    case TESSERA_SIGN_EDDSA:
        return TESSERA_KEY_ED25519;
    }
    return TESSERA_KEY_NONE;
}

static int
prepare(const struct agent_identity *id, const struct tessera_sign_request *req,
        struct sign_operation *op, struct tessera_status *st)
{
    const struct digest_params *d = digest_params(req->digest);
    op->decrypt = FALSE;
    enum tessera_key_type needs = scheme_key_type(req->scheme);
    if (needs == TESSERA_KEY_NONE) {
        tessera_status_set(st, TESSERA_ERR_MECHANISM,
                           "unknown signature scheme %u", req->scheme);
        return -1;
    }
    enum tessera_key_type holds = agent_identity_key_type(id);
    if (holds != needs) {
        tessera_status_set(st, TESSERA_ERR_MECHANISM,
                           "identity %s holds an %s key, which cannot make "
                           "this kind of signature",
                           agent_identity_name(id),
                           tessera_key_type_name(holds));
        return -1;
    }
    /* EdDSA signs the message itself, never a digest of it. */
    if (req->scheme == TESSERA_SIGN_EDDSA &&
        req->digest != TESSERA_DIGEST_NONE) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "EdDSA signs the whole message, not a digest");
        return -1;
    }
    if (req->digest != TESSERA_DIGEST_NONE &&
        (d == NULL || d->size != req->input.len)) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "the input is not a digest of the stated kind");
        return -1;
    }
    memcpy(op->input, req->input.data, req->input.len);
    op->input_len = req->input.len;
    switch (req->scheme) {
    case TESSERA_SIGN_ECDSA:
        op->mechanism = (CK_MECHANISM){CKM_ECDSA, NULL, 0};
        return 0;
    case TESSERA_SIGN_EDDSA:
        op->mechanism = (CK_MECHANISM){CKM_EDDSA, NULL, 0};
        return 0;
    case TESSERA_SIGN_RSA_PKCS1:
        op->mechanism = (CK_MECHANISM){CKM_RSA_PKCS, NULL, 0};
        if (d != NULL) {
            memcpy(op->input, d->prefix, d->prefix_len);
            memcpy(op->input + d->prefix_len, req->input.data, d->size);
            op->input_len = d->prefix_len + d->size;
        }
        return 0;
    default: {
        const struct digest_params *mgf = digest_params(req->mgf1_digest);
        if (d == NULL || mgf == NULL) {
            tessera_status_set(st, TESSERA_ERR_INVALID,
                               "RSA-PSS needs a digest and an MGF1 digest");
            return -1;
        }
        op->pss = (CK_RSA_PKCS_PSS_PARAMS){d->hash, mgf->mgf, req->salt_len};
        op->mechanism =
            (CK_MECHANISM){CKM_RSA_PKCS_PSS, &op->pss, sizeof(op->pss)};
        return 0;
    }
    }
}

static gboolean
holds_key(const struct agent_identity *id, const struct tessera_blob *hash)
{
    return agent_identity_holds_key(id, hash->data, hash->len);
}

/*
 * The key the client holds the certificate of: the identity's, or the one
 * its last renewal replaced while that is kept (NAME~old).
 */
static struct agent_identity *
lookup_key(struct agent *agent, const struct tessera_sign_request *req,
           struct tessera_status *st)
{
    struct agent_identity *id = agent_identity_find(agent, req->name);
    if (id == NULL) {
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "no identity named \"%s\"; `tessera list` shows "
                           "the identities the agent has",
                           req->name);
        return NULL;
    }
    if (holds_key(id, &req->key_hash))
        return id;
    char *old_name = g_strconcat(req->name, NAMING_OLD_SUFFIX, NULL);
    struct agent_identity *old = agent_identity_find(agent, old_name);
    g_free(old_name);
    agent_identity_unref(id);
    if (old != NULL && holds_key(old, &req->key_hash))
        return old;
    if (old != NULL)
        agent_identity_unref(old);
    tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                       "identity %s was renewed and the key this client "
                       "loaded is gone: load the identity again",
                       req->name);
    return NULL;
}

/*
 * One try with the key the client holds. TRUE when it failed on the token
 * while a renewal step was changing the token's objects: then the same key
 * is looked up again once the step is over.
 */
static gboolean
sign_once(const struct tessera_sign_request *req,
          struct tessera_blob *signature, struct agent_identity *id, int *rc,
          struct tessera_status *st)
{
    struct sign_operation op;
    struct agent_token *token = agent_identity_token(id);
    unsigned generation = token_objects_generation(token);
    *rc = -1;
    if (!token_present(token)) {
        tessera_status_set(st, TESSERA_ERR_TOKEN_ABSENT,
                           "token \"%s\" is not present: insert it and try "
                           "again (identity %s)",
                           token_label(token), agent_identity_name(id));
        return FALSE;
    }
    if (prepare(id, req, &op, st) < 0)
        return FALSE;
    *rc = run_on_token(id, &op, signature, st);
    return *rc < 0 && token_objects_settle(token, generation);
}

/*
 * One signature with the key the client holds, tried once more when a
 * renewal step was changing the token's objects meanwhile. *id is the
 * identity it was made with, which the caller unrefs.
 */
static int
sign_looked_up(struct agent *agent, const struct tessera_sign_request *req,
               struct tessera_blob *signature, struct agent_identity **id,
               struct tessera_status *st)
{
    int rc;
    if (sign_once(req, signature, *id, &rc, st)) {
        agent_identity_unref(*id);
        *st = (struct tessera_status){0};
        if ((*id = lookup_key(agent, req, st)) == NULL)
            return -1;
        sign_once(req, signature, *id, &rc, st);
    }
    return rc;
}

/* The use, in the log and the ring (uses.h). */
static void
record_use(struct agent *agent, const struct tessera_sign_request *req,
           const struct agent_identity *id, const struct agent_peer *peer,
           int outcome)
{
    struct agent_config *cfg = agent_config_get(agent);
    unsigned interval = cfg->agent.log_interval_seconds;
    agent_config_unref(cfg);
    struct use use = {
        .identity = req->name,
        .token = id ? token_label(agent_identity_token(id)) : "",
        .key_type = id ? agent_identity_key_type(id) : TESSERA_KEY_NONE,
        .peer = peer,
        .outcome = outcome,
    };
    agent_uses_record(agent->uses, &use, interval);
}

int
agent_sign(struct agent *agent, const struct tessera_sign_request *req,
           const struct agent_peer *peer, struct tessera_blob *signature,
           struct tessera_status *st)
{
    struct agent_identity *id = lookup_key(agent, req, st);
    int rc = -1;
    if (id != NULL && policy_allows(agent, req->name, peer, st)) {
        rc = sign_looked_up(agent, req, signature, &id, st);
        /* A locked token whose PIN may be typed: ask for it, then sign. */
        if (rc < 0 && id != NULL && st->code == TESSERA_ERR_TOKEN_LOCKED &&
            prompt_unlock(agent, agent_identity_token(id), req->name, peer,
                          st)) {
            agent_identity_unref(id);
            *st = (struct tessera_status){0};
            if ((id = lookup_key(agent, req, st)) != NULL)
                rc = sign_looked_up(agent, req, signature, &id, st);
        }
    }
    record_use(agent, req, id, peer, rc == 0 ? TESSERA_OK : st->code);
    if (rc < 0 && id != NULL) {
        ratelog_message("identity %s on token \"%s\": %s",
                        agent_identity_name(id),
                        token_label(agent_identity_token(id)), st->message);
        agent_events_publish(agent->events, AGENT_EVENT_SIGNATURE_FAILED,
                             agent_identity_name(id), st);
    }
    if (id != NULL)
        agent_identity_unref(id);
    return rc;
}

int
agent_decrypt_rsa(struct agent *agent, const char *name,
                  struct tessera_bytes ciphertext, struct tessera_blob *plain,
                  struct tessera_status *st)
{
    struct agent_identity *id = agent_identity_find(agent, name);
    struct sign_operation op = {.decrypt = TRUE,
                                .mechanism = {CKM_RSA_PKCS, NULL, 0}};
    int rc = -1;
    if (id == NULL)
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "no identity named \"%s\"", name);
    else if (agent_identity_key_type(id) != TESSERA_KEY_RSA ||
             ciphertext.len > sizeof(op.input))
        tessera_status_set(st, TESSERA_ERR_MECHANISM,
                           "identity %s cannot decrypt this: RSA only, up to "
                           "%zu bytes",
                           name, sizeof(op.input));
    else if (!token_present(agent_identity_token(id)))
        tessera_status_set(st, TESSERA_ERR_TOKEN_ABSENT,
                           "token \"%s\" is not present",
                           token_label(agent_identity_token(id)));
    else {
        memcpy(op.input, ciphertext.data, ciphertext.len);
        op.input_len = ciphertext.len;
        rc = run_on_token(id, &op, plain, st);
    }
    agent_identity_unref(id);
    return rc;
}
