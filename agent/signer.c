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

#define MAX_ATTEMPTS 3

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

static CK_RV
key_handle(struct agent_identity *id, CK_SESSION_HANDLE session,
           CK_OBJECT_HANDLE *out)
{
    gint64 cached = __atomic_load_n(&id->key_handle, __ATOMIC_RELAXED);
    if (cached >= 0) {
        *out = (CK_OBJECT_HANDLE)cached;
        return CKR_OK;
    }
    CK_RV rv =
        agent_find_object(id->token, session, CKO_PRIVATE_KEY, id->key_id, out);
    if (rv == CKR_OK)
        __atomic_store_n(&id->key_handle, (gint64)*out, __ATOMIC_RELAXED);
    return rv;
}

static gboolean
session_broken(CK_RV rv)
{
    return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
           rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
           rv == CKR_DEVICE_ERROR || rv == CKR_OPERATION_ACTIVE;
}

static void
report_missing_key(struct agent_identity *id, struct tessera_status *st)
{
    struct agent_token *t = id->token;
    g_mutex_lock(&t->lock);
    gboolean logged_in = t->logged_in;
    g_mutex_unlock(&t->lock);
    if (!logged_in)
        tessera_status_set(st, TESSERA_ERR_TOKEN_LOCKED,
                           "token \"%s\" is locked: run `tessera unlock`",
                           t->label);
    else
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "the private key of identity %s is no longer on "
                           "token \"%s\"",
                           id->name, t->label);
}

/*
 * A key with CKA_ALWAYS_AUTHENTICATE wants the user before every signature.
 * On a PIN-pad token the pad asks; otherwise the PIN would have to be kept
 * or asked per signature, and Tessera does neither.
 */
static int
context_login(struct agent_identity *id, CK_SESSION_HANDLE session,
              struct tessera_status *st)
{
    struct agent_token *t = id->token;
    if (!(t->flags & CKF_PROTECTED_AUTHENTICATION_PATH)) {
        tessera_status_set(st, TESSERA_ERR_MECHANISM,
                           "the key of identity %s asks for the PIN before "
                           "every signature (CKA_ALWAYS_AUTHENTICATE); "
                           "Tessera serves such keys only on tokens with a "
                           "PIN pad",
                           id->name);
        return -1;
    }
    CK_RV rv = t->module->C_Login(session, CKU_CONTEXT_SPECIFIC, NULL, 0);
    if (rv != CKR_OK) {
        agent_token_fail(t, rv, "confirm the signature on its PIN pad", st);
        return -1;
    }
    return 0;
}

static int
sign_on_token(struct agent_identity *id, struct sign_operation *op,
              struct tessera_blob *signature, struct tessera_status *st)
{
    struct agent_token *t = id->token;
    CK_C_SignInit init =
        op->decrypt ? t->module->C_DecryptInit : t->module->C_SignInit;
    CK_C_Sign run = op->decrypt ? t->module->C_Decrypt : t->module->C_Sign;
    uint8_t buf[TESSERA_SIGNATURE_MAX];
    CK_RV rv = CKR_GENERAL_ERROR;
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        CK_SESSION_HANDLE session;
        CK_OBJECT_HANDLE key;
        rv = agent_token_session_acquire(t, &session);
        if (rv != CKR_OK)
            break;
        rv = key_handle(id, session, &key);
        if (rv == CKR_OBJECT_HANDLE_INVALID) {
            agent_token_session_release(t, session, FALSE);
            report_missing_key(id, st);
            return -1;
        }
        CK_ULONG len = sizeof(buf);
        if (rv == CKR_OK)
            rv = init(session, &op->mechanism, key);
        if (rv == CKR_OK && id->always_authenticate &&
            context_login(id, session, st) < 0) {
            agent_token_session_release(t, session, TRUE);
            return -1;
        }
        if (rv == CKR_OK)
            rv = run(session, op->input, op->input_len, buf, &len);
        agent_token_session_release(t, session, session_broken(rv));
        if (rv == CKR_OK) {
            __atomic_store_n(&t->last_used, g_get_monotonic_time(),
                             __ATOMIC_RELAXED);
            tessera_blob_copy(signature, (struct tessera_bytes){buf, len});
            return 0;
        }
        if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID) {
            __atomic_store_n(&id->key_handle, -1, __ATOMIC_RELAXED);
            continue;
        }
        if (rv != CKR_SESSION_HANDLE_INVALID && rv != CKR_SESSION_CLOSED)
            break;
    }
    if (rv == CKR_USER_NOT_LOGGED_IN) {
        g_mutex_lock(&t->lock);
        t->logged_in = FALSE;
        g_mutex_unlock(&t->lock);
    }
    /* A card pulled mid-signature may say only "general error" (OpenSC):
     * ask whether it is still there, and say so if not. */
    if ((rv == CKR_GENERAL_ERROR || rv == CKR_DEVICE_ERROR ||
         rv == CKR_FUNCTION_FAILED) &&
        (agent_token_check_presence(t), !g_atomic_int_get(&t->present)))
        rv = CKR_DEVICE_REMOVED;
    agent_token_fail(t, rv, op->decrypt ? "decrypt" : "sign", st);
    return -1;
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
    unsigned generation = agent_token_objects_generation(id->token);
    *rc = -1;
    if (!g_atomic_int_get(&id->token->present)) {
        tessera_status_set(st, TESSERA_ERR_TOKEN_ABSENT,
                           "token \"%s\" is not present: insert it and try "
                           "again (identity %s)",
                           id->token->label, id->name);
        return FALSE;
    }
    if (prepare(id, req, &op, st) < 0)
        return FALSE;
    *rc = sign_on_token(id, &op, signature, st);
    return *rc < 0 && agent_token_objects_settle(id->token, generation);
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
        g_message("identity %s on token \"%s\": %s", id->name, id->token->label,
                  st->message);
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
    else if (!g_atomic_int_get(&id->token->present))
        tessera_status_set(st, TESSERA_ERR_TOKEN_ABSENT,
                           "token \"%s\" is not present", id->token->label);
    else {
        memcpy(op.input, ciphertext.data, ciphertext.len);
        op.input_len = ciphertext.len;
        rc = sign_on_token(id, &op, plain, st);
    }
    if (id != NULL)
        agent_identity_unref(id);
    return rc;
}
