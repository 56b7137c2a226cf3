/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signing and verifying. A signature is one SIGN to the agent carrying the
 * identity's name and the hash of the public key this session found, so
 * the agent signs with that key even after a renewal switched the name to
 * a new one (during the old key's grace period), and never with a key
 * other than the certificate's. Verifying needs no agent: the public key
 * is here.
 *
 * An operation leaves its session while a call hashes or waits for the
 * agent, so no lock is held meanwhile; an update puts it back.
 */
#include "module.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

enum direction { SIGNING, VERIFYING };

/* With the lock held: the session's operation of that direction. */
static struct operation **
operation_of(struct session *s, enum direction d, bool **busy)
{
    *busy = d == SIGNING ? &s->sign_busy : &s->verify_busy;
    return d == SIGNING ? &s->sign : &s->verify;
}

/* CKM_RSA_PKCS_PSS and its hash-and-sign twins: the parameters must fit
 * the mechanism and the key (RFC 8017, 9.1.1: emLen >= hLen + sLen + 2). */
static CK_RV
take_pss_parameters(struct operation *op, const CK_MECHANISM *mechanism,
                    CK_ULONG key_bits)
{
    if (mechanism->pParameter == NULL ||
        mechanism->ulParameterLen != sizeof(CK_RSA_PKCS_PSS_PARAMS))
        return CKR_MECHANISM_PARAM_INVALID;
    const CK_RSA_PKCS_PSS_PARAMS *p = mechanism->pParameter;
    uint8_t hash = digest_of_pss_parameter(p->hashAlg, false);
    uint8_t mgf = digest_of_pss_parameter(p->mgf, true);
    size_t em_len = (key_bits + 6) / 8;
    if (hash == TESSERA_DIGEST_NONE || mgf == TESSERA_DIGEST_NONE ||
        (op->mechanism->digest != TESSERA_DIGEST_NONE &&
         hash != op->mechanism->digest) ||
        em_len < digest_size(hash) + 2 ||
        p->sLen > em_len - digest_size(hash) - 2)
        return CKR_MECHANISM_PARAM_INVALID;
    op->pss_digest = hash;
    op->mgf1_digest = mgf;
    op->salt_len = (uint32_t)p->sLen;
    return CKR_OK;
}

/* With the lock held: an operation with key o, carrying copies of what it
 * needs, so that it outlives the objects (a later search may drop them). */
static CK_RV
operation_new(struct module *m, const CK_MECHANISM *mechanism,
              const struct object *o, enum direction d, struct operation **out)
{
    const struct mechanism *mech = mechanism_find(mechanism->mechanism);
    if (mech == NULL)
        return CKR_MECHANISM_INVALID;
    if (o->kind != (d == SIGNING ? OBJECT_PRIVATE : OBJECT_PUBLIC))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    const struct generation *g = o->generation;
    if (g->key_type != mech->key_type)
        return CKR_KEY_TYPE_INCONSISTENT;
    struct operation *op = calloc(1, sizeof(*op));
    if (op == NULL)
        return CKR_HOST_MEMORY;
    op->mechanism = mech;
    CK_RV rv = CKR_OK;
    if (mech->scheme == TESSERA_SIGN_RSA_PSS)
        rv = take_pss_parameters(op, mechanism, g->key_bits);
    else if (mechanism->ulParameterLen != 0)
        rv = CKR_MECHANISM_PARAM_INVALID;
    size_t bytes = (g->key_bits + 7) / 8;
    op->signature_len = g->key_type == CKK_EC ? 2 * bytes : bytes;
    memcpy(op->key_hash, g->key_hash, sizeof(op->key_hash));
    if (rv == CKR_OK && ((op->name = strdup(g->name)) == NULL ||
                         !EVP_PKEY_up_ref(g->public_key)))
        rv = CKR_HOST_MEMORY;
    else if (rv == CKR_OK)
        op->public_key = g->public_key;
    if (rv == CKR_OK && mech->digest != TESSERA_DIGEST_NONE) {
        EVP_MD *md = EVP_MD_fetch(m->libctx, digest_name(mech->digest), NULL);
        op->hash = EVP_MD_CTX_new();
        if (md == NULL || op->hash == NULL ||
            EVP_DigestInit_ex2(op->hash, md, NULL) != 1)
            rv = CKR_HOST_MEMORY;
        EVP_MD_free(md);
    }
    if (rv != CKR_OK)
        operation_free(op);
    else
        *out = op;
    return rv;
}

static CK_RV
operation_init(CK_SESSION_HANDLE handle, CK_MECHANISM_PTR mechanism,
               CK_OBJECT_HANDLE key, enum direction d)
{
    CK_RV rv;
    struct module *m = module_enter(mechanism != NULL, &rv);
    if (m == NULL)
        return rv;
    module_lock();
    struct session *s = session_find(m, handle);
    const struct object *o = object_find(m, key);
    const struct slot *slot = s != NULL ? slot_find(m, s->slot) : NULL;
    bool *busy;
    struct operation **op = s != NULL ? operation_of(s, d, &busy) : NULL;
    if (s == NULL)
        rv = CKR_SESSION_HANDLE_INVALID;
    else if (mechanism_find(mechanism->mechanism) == NULL)
        rv = CKR_MECHANISM_INVALID;
    else if (*op != NULL || *busy)
        rv = CKR_OPERATION_ACTIVE;
    else if (o == NULL || o->slot != s->slot)
        rv = CKR_KEY_HANDLE_INVALID;
    else if (d == SIGNING && slot != NULL && slot->logged_out_here)
        rv = CKR_USER_NOT_LOGGED_IN;
    else if (o->kind == OBJECT_CERT || o->kind == OBJECT_AUTHORITY)
        rv = CKR_KEY_TYPE_INCONSISTENT;
    else
        rv = operation_new(m, mechanism, o, d, op);
    module_unlock();
    module_leave(m);
    return rv;
}

/*
 * With the lock held: the session's operation, taken out of it for a call
 * that works without the lock; an update marks the session busy until it
 * puts it back. CKR_OK, or why there is none.
 */
static CK_RV
operation_take(struct module *m, CK_SESSION_HANDLE handle, enum direction d,
               bool for_update, struct operation **out)
{
    struct session *s = session_find(m, handle);
    if (s == NULL)
        return CKR_SESSION_HANDLE_INVALID;
    bool *busy;
    struct operation **op = operation_of(s, d, &busy);
    if (*op == NULL)
        return *busy ? CKR_OPERATION_ACTIVE : CKR_OPERATION_NOT_INITIALIZED;
    *out = *op;
    *op = NULL;
    *busy = for_update;
    return CKR_OK;
}

/* Ends an update: the operation goes back to its session, or is freed if
 * the session was closed meanwhile or the update failed. */
static void
operation_put_back(struct module *m, CK_SESSION_HANDLE handle, enum direction d,
                   struct operation *op, bool keep)
{
    module_lock();
    struct session *s = session_find(m, handle);
    bool *busy;
    struct operation **slot = s != NULL ? operation_of(s, d, &busy) : NULL;
    if (slot != NULL && *busy) {
        *busy = false;
        if (keep) {
            *slot = op;
            op = NULL;
        }
    }
    module_unlock();
    operation_free(op);
}

static CK_RV
operation_update(CK_SESSION_HANDLE handle, CK_BYTE_PTR part, CK_ULONG len,
                 enum direction d)
{
    CK_RV rv;
    struct module *m = module_enter(true, &rv);
    if (m == NULL)
        return rv;
    struct operation *op = NULL;
    module_lock();
    rv = operation_take(m, handle, d, true, &op);
    module_unlock();
    if (rv == CKR_OK) {
        bool ok = op->hash != NULL && (part != NULL || len == 0) &&
                  EVP_DigestUpdate(op->hash, part, len) == 1;
        /* Raw mechanisms are single-part only (PKCS#11 v2.40, 2.3). */
        rv = ok                 ? CKR_OK
             : op->hash == NULL ? CKR_FUNCTION_NOT_SUPPORTED
                                : CKR_ARGUMENTS_BAD;
        operation_put_back(m, handle, d, op, ok);
    }
    module_leave(m);
    return rv;
}

/*
 * What goes to the signature: the digest of everything hashed (data, if
 * any, last), or for a raw mechanism the data itself, checked against what
 * the mechanism accepts. buf holds a digest.
 */
static CK_RV
operation_input(struct operation *op, const uint8_t *data, CK_ULONG len,
                bool final, uint8_t buf[EVP_MAX_MD_SIZE],
                struct tessera_blob *input, uint8_t *digest)
{
    const struct mechanism *mech = op->mechanism;
    if (data == NULL && len > 0)
        return CKR_ARGUMENTS_BAD;
    if (op->hash != NULL) {
        unsigned int n = 0;
        if ((len > 0 && EVP_DigestUpdate(op->hash, data, len) != 1) ||
            EVP_DigestFinal_ex(op->hash, buf, &n) != 1)
            return CKR_FUNCTION_FAILED;
        *input = (struct tessera_blob){buf, n};
        *digest = mech->digest;
        return CKR_OK;
    }
    if (final) /* raw mechanisms have no multi-part form */
        return CKR_FUNCTION_NOT_SUPPORTED;
    *input = (struct tessera_blob){(uint8_t *)data, len};
    *digest = mech->scheme == TESSERA_SIGN_RSA_PSS ? op->pss_digest
                                                   : TESSERA_DIGEST_NONE;
    switch (mech->scheme) {
    case TESSERA_SIGN_ECDSA:
        return len > 0 && len <= TESSERA_SIGN_INPUT_MAX ? CKR_OK
                                                        : CKR_DATA_LEN_RANGE;
    case TESSERA_SIGN_RSA_PKCS1: /* PKCS#1 v1.5 padding takes 11 bytes */
        return len + 11 <= op->signature_len && len <= TESSERA_SIGN_INPUT_MAX
                   ? CKR_OK
                   : CKR_DATA_LEN_RANGE;
    default:
        return len == digest_size(op->pss_digest) ? CKR_OK : CKR_DATA_LEN_RANGE;
    }
}

/* What ends an operation once its input is known: the agent signs into
 * sig, or the public key here verifies sig. */
typedef CK_RV (*operation_end)(struct module *m, const struct operation *op,
                               const struct tessera_blob *input, uint8_t digest,
                               CK_BYTE_PTR sig, CK_ULONG_PTR sig_len);

/* Ends an operation taken out of its session, and frees it. */
static CK_RV
operation_finish(struct module *m, struct operation *op, CK_BYTE_PTR data,
                 CK_ULONG len, bool final, operation_end end, CK_BYTE_PTR sig,
                 CK_ULONG_PTR sig_len)
{
    uint8_t buf[EVP_MAX_MD_SIZE];
    struct tessera_blob input;
    uint8_t digest;
    CK_RV rv = operation_input(op, data, len, final, buf, &input, &digest);
    if (rv == CKR_OK)
        rv = end(m, op, &input, digest, sig, sig_len);
    OPENSSL_cleanse(buf, sizeof(buf));
    operation_free(op);
    return rv;
}

/* The agent signs; its answer must be exactly as long as the key says. */
static CK_RV
agent_sign(struct module *m, const struct operation *op,
           const struct tessera_blob *input, uint8_t digest, CK_BYTE_PTR out,
           CK_ULONG_PTR out_len)
{
    struct tessera_sign_request req = {
        .name = op->name,
        .key_hash = {(uint8_t *)op->key_hash, sizeof(op->key_hash)},
        .scheme = op->mechanism->scheme,
        .digest = digest,
        .mgf1_digest = op->mgf1_digest,
        .salt_len = op->salt_len,
        .input = *input,
    };
    struct tessera_blob signature = {0};
    struct tessera_status st = {0};
    if (tessera_client_sign(m->agent, &req, &signature, &st) < 0)
        return module_agent_error(&st, CKR_DEVICE_ERROR);
    CK_RV rv = CKR_OK;
    if (signature.len != op->signature_len) {
        module_debug("the agent sent a signature of %zu bytes for a key "
                     "that makes %lu",
                     signature.len, op->signature_len);
        rv = CKR_DEVICE_ERROR;
    } else {
        memcpy(out, signature.data, signature.len);
        *out_len = signature.len;
    }
    tessera_blob_clear(&signature);
    return rv;
}

static CK_RV
sign_final(CK_SESSION_HANDLE handle, CK_BYTE_PTR data, CK_ULONG len, bool final,
           CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    CK_RV rv;
    struct module *m = module_enter(out_len != NULL, &rv);
    if (m == NULL)
        return rv;
    struct operation *op = NULL;
    module_lock();
    struct session *s = session_find(m, handle);
    /* A size asked for, or a buffer too small, leaves it under way. */
    if (s != NULL && s->sign != NULL &&
        (out == NULL || *out_len < s->sign->signature_len)) {
        rv = out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        *out_len = s->sign->signature_len;
    } else {
        rv = operation_take(m, handle, SIGNING, false, &op);
    }
    module_unlock();
    if (op != NULL)
        rv =
            operation_finish(m, op, data, len, final, agent_sign, out, out_len);
    module_leave(m);
    return rv;
}

CK_RV
C_SignInit(CK_SESSION_HANDLE handle, CK_MECHANISM_PTR mechanism,
           CK_OBJECT_HANDLE key)
{
    return operation_init(handle, mechanism, key, SIGNING);
}

CK_RV
C_Sign(CK_SESSION_HANDLE handle, CK_BYTE_PTR data, CK_ULONG len,
       CK_BYTE_PTR signature, CK_ULONG_PTR signature_len)
{
    return sign_final(handle, data, len, false, signature, signature_len);
}

CK_RV
C_SignUpdate(CK_SESSION_HANDLE handle, CK_BYTE_PTR part, CK_ULONG len)
{
    return operation_update(handle, part, len, SIGNING);
}

CK_RV
C_SignFinal(CK_SESSION_HANDLE handle, CK_BYTE_PTR signature,
            CK_ULONG_PTR signature_len)
{
    return sign_final(handle, NULL, 0, true, signature, signature_len);
}

/* --- verifying, here with the public key */

/* PKCS#11's r || s as the DER SEQUENCE OpenSSL verifies; NULL if it is not
 * one. The caller frees the result with OPENSSL_free. */
static unsigned char *
ecdsa_der(const uint8_t *raw, size_t raw_len, int *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)(raw_len / 2), NULL);
    BIGNUM *s = BN_bin2bn(raw + raw_len / 2, (int)(raw_len / 2), NULL);
    unsigned char *der = NULL;
    *der_len = 0;
    if (sig != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s)) {
        r = s = NULL; /* the signature owns them */
        *der_len = i2d_ECDSA_SIG(sig, &der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return *der_len > 0 ? der : NULL;
}

/* The RSA padding and hashes of the operation on a verify context. */
static bool
set_rsa_padding(struct module *m, const struct operation *op, EVP_PKEY_CTX *ctx,
                uint8_t digest)
{
    bool pss = op->mechanism->scheme == TESSERA_SIGN_RSA_PSS;
    EVP_MD *md = digest != TESSERA_DIGEST_NONE
                     ? EVP_MD_fetch(m->libctx, digest_name(digest), NULL)
                     : NULL;
    EVP_MD *mgf1 =
        pss ? EVP_MD_fetch(m->libctx, digest_name(op->mgf1_digest), NULL)
            : NULL;
    bool ok = EVP_PKEY_CTX_set_rsa_padding(ctx, pss ? RSA_PKCS1_PSS_PADDING
                                                    : RSA_PKCS1_PADDING) > 0 &&
              (md == NULL || EVP_PKEY_CTX_set_signature_md(ctx, md) > 0) &&
              (!pss ||
               (mgf1 != NULL && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf1) > 0 &&
                EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)op->salt_len) > 0));
    EVP_MD_free(md);
    EVP_MD_free(mgf1);
    return ok;
}

static CK_RV
local_verify(struct module *m, const struct operation *op,
             const struct tessera_blob *input, uint8_t digest,
             CK_BYTE_PTR signature, CK_ULONG_PTR len)
{
    CK_ULONG signature_len = *len;
    if (signature == NULL)
        return CKR_ARGUMENTS_BAD;
    if (signature_len != op->signature_len)
        return CKR_SIGNATURE_LEN_RANGE;
    EVP_PKEY_CTX *ctx =
        EVP_PKEY_CTX_new_from_pkey(m->libctx, op->public_key, NULL);
    bool ec = op->mechanism->scheme == TESSERA_SIGN_ECDSA;
    int der_len = (int)signature_len;
    unsigned char *der =
        ec ? ecdsa_der(signature, signature_len, &der_len) : NULL;
    int verified = 0;
    if (ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
        (ec ? der != NULL : set_rsa_padding(m, op, ctx, digest)))
        verified = EVP_PKEY_verify(ctx, ec ? der : signature, (size_t)der_len,
                                   input->data, input->len);
    OPENSSL_free(der);
    EVP_PKEY_CTX_free(ctx);
    return verified == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
}

static CK_RV
verify_final(CK_SESSION_HANDLE handle, CK_BYTE_PTR data, CK_ULONG len,
             bool final, CK_BYTE_PTR signature, CK_ULONG signature_len)
{
    CK_RV rv;
    struct module *m = module_enter(true, &rv);
    if (m == NULL)
        return rv;
    struct operation *op = NULL;
    module_lock();
    rv = operation_take(m, handle, VERIFYING, false, &op);
    module_unlock();
    if (op != NULL)
        rv = operation_finish(m, op, data, len, final, local_verify, signature,
                              &signature_len);
    module_leave(m);
    return rv;
}

CK_RV
C_VerifyInit(CK_SESSION_HANDLE handle, CK_MECHANISM_PTR mechanism,
             CK_OBJECT_HANDLE key)
{
    return operation_init(handle, mechanism, key, VERIFYING);
}

CK_RV
C_Verify(CK_SESSION_HANDLE handle, CK_BYTE_PTR data, CK_ULONG len,
         CK_BYTE_PTR signature, CK_ULONG signature_len)
{
    return verify_final(handle, data, len, false, signature, signature_len);
}

CK_RV
C_VerifyUpdate(CK_SESSION_HANDLE handle, CK_BYTE_PTR part, CK_ULONG len)
{
    return operation_update(handle, part, len, VERIFYING);
}

CK_RV
C_VerifyFinal(CK_SESSION_HANDLE handle, CK_BYTE_PTR signature,
              CK_ULONG signature_len)
{
    return verify_final(handle, NULL, 0, true, signature, signature_len);
}
