/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One request, one PKCS#11 signature, on the thread that read the request.
 * Stale sessions and key handles (the token was re-inserted, the module
 * reset them) are replaced and the signature tried again, once each.
 * The same path decrypts, for the agent's own use only (a SCEP reply).
 */
#include "agent.h"
#include "../common/errors.h"
#include "../common/keyspec.h"

#include <string.h>

struct digest_params {
    enum tessera_digest id;
    size_t size;
    CK_MECHANISM_TYPE hash;
    CK_RSA_PKCS_MGF_TYPE mgf;
    /* DER of DigestInfo up to the digest itself (RFC 8017, 9.2 note 1) */
    const uint8_t *prefix;
    size_t prefix_len;
};

static const uint8_t sha1_prefix[] = {0x30, 0x21, 0x30, 0x09, 0x06,
                                      0x05, 0x2b, 0x0e, 0x03, 0x02,
                                      0x1a, 0x05, 0x00, 0x04, 0x14};
#define SHA2_PREFIX(len, n, size)                                              \
    {                                                                          \
        0x30, len, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, \
            0x04, 0x02, n, 0x05, 0x00, 0x04, size                              \
    }
static const uint8_t sha224_prefix[] = SHA2_PREFIX(0x2d, 0x04, 0x1c);
static const uint8_t sha256_prefix[] = SHA2_PREFIX(0x31, 0x01, 0x20);
static const uint8_t sha384_prefix[] = SHA2_PREFIX(0x41, 0x02, 0x30);
static const uint8_t sha512_prefix[] = SHA2_PREFIX(0x51, 0x03, 0x40);

static const struct digest_params digest_table[] = {
    {TESSERA_DIGEST_SHA1, 20, CKM_SHA_1, CKG_MGF1_SHA1, sha1_prefix,
     sizeof(sha1_prefix)},
    {TESSERA_DIGEST_SHA224, 28, CKM_SHA224, CKG_MGF1_SHA224, sha224_prefix,
     sizeof(sha224_prefix)},
    {TESSERA_DIGEST_SHA256, 32, CKM_SHA256, CKG_MGF1_SHA256, sha256_prefix,
     sizeof(sha256_prefix)},
    {TESSERA_DIGEST_SHA384, 48, CKM_SHA384, CKG_MGF1_SHA384, sha384_prefix,
     sizeof(sha384_prefix)},
    {TESSERA_DIGEST_SHA512, 64, CKM_SHA512, CKG_MGF1_SHA512, sha512_prefix,
     sizeof(sha512_prefix)},
};

static const struct digest_params *
digest_params(uint8_t id)
{
    for (size_t i = 0; i < G_N_ELEMENTS(digest_table); i++) {
        if (digest_table[i].id == id)
            return &digest_table[i];
    }
    return NULL;
}

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
    struct token_key key = {id->name, id->key_id, &id->key_handle,
                            id->always_authenticate};
    struct token_operation run = {op->decrypt, op->mechanism, op->input,
                                  op->input_len};
    return token_sign(id->token, &key, &run, out, st);
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
    if (id->key_type != needs) {
        tessera_status_set(st, TESSERA_ERR_MECHANISM,
                           "identity %s holds an %s key, which cannot make "
                           "this kind of signature",
                           id->name, tessera_key_type_name(id->key_type));
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

static struct agent_identity *
lookup(struct agent *agent, const char *name)
{
    struct agent_registry *reg = agent_registry_get(agent);
    struct agent_identity *id = g_hash_table_lookup(reg->by_name, name);
    if (id != NULL)
        agent_identity_ref(id);
    agent_registry_unref(reg);
    return id;
}

static gboolean
holds_key(const struct agent_identity *id, const struct tessera_blob *hash)
{
    return hash->len == 0 ||
           (hash->len == sizeof(id->spki_hash) &&
            memcmp(hash->data, id->spki_hash, hash->len) == 0);
}

/*
 * The key the client holds the certificate of: the identity's, or the one
 * its last renewal replaced while that is kept (NAME~old).
 */
static struct agent_identity *
lookup_key(struct agent *agent, const struct tessera_sign_request *req,
           struct tessera_status *st)
{
    struct agent_identity *id = lookup(agent, req->name);
    if (id == NULL) {
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "no identity named \"%s\"; `tessera list` shows "
                           "the identities the agent has",
                           req->name);
        return NULL;
    }
    if (holds_key(id, &req->key_hash))
        return id;
    char *old_name = g_strconcat(req->name, AGENT_OLD_SUFFIX, NULL);
    struct agent_identity *old = lookup(agent, old_name);
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
    unsigned generation = token_objects_generation(id->token);
    *rc = -1;
    if (!token_present(id->token)) {
        tessera_status_set(st, TESSERA_ERR_TOKEN_ABSENT,
                           "token \"%s\" is not present: insert it and try "
                           "again (identity %s)",
                           token_label(id->token), id->name);
        return FALSE;
    }
    if (prepare(id, req, &op, st) < 0)
        return FALSE;
    *rc = run_on_token(id, &op, signature, st);
    return *rc < 0 && token_objects_settle(id->token, generation);
}

int
agent_sign(struct agent *agent, const struct tessera_sign_request *req,
           struct tessera_blob *signature, struct tessera_status *st)
{
    struct agent_identity *id = lookup_key(agent, req, st);
    if (id == NULL)
        return -1;
    int rc;
    if (sign_once(req, signature, id, &rc, st)) {
        agent_identity_unref(id);
        *st = (struct tessera_status){0};
        if ((id = lookup_key(agent, req, st)) == NULL)
            return -1;
        sign_once(req, signature, id, &rc, st);
    }
    if (rc < 0) {
        g_message("identity %s on token \"%s\": %s", id->name,
                  token_label(id->token), st->message);
        agent_dbus_identity_failed(agent, id->name, st);
    }
    agent_identity_unref(id);
    return rc;
}

int
agent_decrypt_rsa(struct agent *agent, const char *name,
                  struct tessera_bytes ciphertext, struct tessera_blob *plain,
                  struct tessera_status *st)
{
    struct agent_identity *id = lookup(agent, name);
    struct sign_operation op = {.decrypt = TRUE,
                                .mechanism = {CKM_RSA_PKCS, NULL, 0}};
    int rc = -1;
    if (id == NULL)
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "no identity named \"%s\"", name);
    else if (id->key_type != TESSERA_KEY_RSA ||
             ciphertext.len > sizeof(op.input))
        tessera_status_set(st, TESSERA_ERR_MECHANISM,
                           "identity %s cannot decrypt this: RSA only, up to "
                           "%zu bytes",
                           name, sizeof(op.input));
    else if (!token_present(id->token))
        tessera_status_set(st, TESSERA_ERR_TOKEN_ABSENT,
                           "token \"%s\" is not present",
                           token_label(id->token));
    else {
        memcpy(op.input, ciphertext.data, ciphertext.len);
        op.input_len = ciphertext.len;
        rc = run_on_token(id, &op, plain, st);
    }
    if (id != NULL)
        agent_identity_unref(id);
    return rc;
}
