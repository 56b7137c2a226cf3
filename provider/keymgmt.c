/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KEYMGMT for EC, RSA and Ed25519 keys on a token. The public half is an
 * ordinary public key held by the default provider, and every public question
 * (bits, group, max signature size, export for a certificate match) is
 * answered by it. The private half is only a name; it cannot be exported.
 */
#include "provider.h"
#include "../common/keyspec.h"

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

static bool
hash_public_key(struct tessera_provctx *ctx, struct tessera_key *key)
{
    unsigned char *spki = NULL;
    int len = i2d_PUBKEY(key->public_key, &spki);
    EVP_MD *sha256 = EVP_MD_fetch(ctx->libctx, "SHA256", NULL);
    bool ok = len > 0 && sha256 != NULL &&
              EVP_Digest(spki, (size_t)len, key->hash, NULL, sha256, NULL);
    EVP_MD_free(sha256);
    OPENSSL_free(spki);
    return ok;
}

struct tessera_key *
tessera_key_new(struct tessera_provctx *ctx, const char *name,
                enum tessera_key_type type, EVP_PKEY *public_key)
{
    struct tessera_key *key = calloc(1, sizeof(*key));
    if (key == NULL)
        return NULL;
    key->provctx = ctx;
    key->type = type;
    if (name != NULL && (key->name = strdup(name)) == NULL) {
        free(key);
        return NULL;
    }
    if (public_key != NULL && EVP_PKEY_up_ref(public_key))
        key->public_key = public_key;
    key->has_hash = public_key != NULL && hash_public_key(ctx, key);
    return key;
}

struct tessera_key *
tessera_key_dup(const struct tessera_key *src)
{
    struct tessera_key *key = calloc(1, sizeof(*key));
    if (key == NULL)
        return NULL;
    *key = *src;
    key->name = NULL;
    key->public_key = NULL;
    if ((src->name != NULL && (key->name = strdup(src->name)) == NULL) ||
        (src->public_key != NULL && !EVP_PKEY_up_ref(src->public_key))) {
        free(key->name);
        free(key);
        return NULL;
    }
    key->public_key = src->public_key;
    return key;
}

void
tessera_key_free(struct tessera_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->public_key);
    free(key->name);
    free(key);
}

EVP_PKEY *
tessera_decode_spki(const struct tessera_provctx *ctx, const uint8_t *der,
                    size_t len)
{
    const unsigned char *p = der;
    EVP_PKEY *pkey =
        d2i_PUBKEY_ex(NULL, &p, (long)len, ctx->libctx, TESSERA_NOT_US);
    if (pkey != NULL && p != der + len) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

enum tessera_key_type
tessera_key_type_of(const EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "EC"))
        return TESSERA_KEY_EC;
    if (EVP_PKEY_is_a(pkey, "RSA"))
        return TESSERA_KEY_RSA;
    if (EVP_PKEY_is_a(pkey, "ED25519"))
        return TESSERA_KEY_ED25519;
    return TESSERA_KEY_NONE;
}

static void *
ec_new(void *provctx)
{
    return tessera_key_new(provctx, NULL, TESSERA_KEY_EC, NULL);
}

static void *
rsa_new(void *provctx)
{
    return tessera_key_new(provctx, NULL, TESSERA_KEY_RSA, NULL);
}

static void *
ed25519_new(void *provctx)
{
    return tessera_key_new(provctx, NULL, TESSERA_KEY_ED25519, NULL);
}

static void
km_free(void *keydata)
{
    tessera_key_free(keydata);
}

int
tessera_emit_key(struct tessera_key *key, OSSL_CALLBACK *object_cb,
                 void *object_cbarg)
{
    struct tessera_key_reference ref = {TESSERA_KEY_REFERENCE_MAGIC, key};
    int object_type = OSSL_OBJECT_PKEY;
    /* construct_utf8_string measures the string; the initializer does not. */
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &object_type),
        OSSL_PARAM_construct_utf8_string(
            OSSL_OBJECT_PARAM_DATA_TYPE,
            (char *)tessera_key_type_name(key->type), 0),
        OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &ref,
                                          sizeof(ref)),
        OSSL_PARAM_construct_end(),
    };
    return object_cb(params, object_cbarg);
}

/* STORE and DECODER lend their key; the caller gets its own copy. */
static void *
km_load(const void *reference, size_t reference_sz)
{
    const struct tessera_key_reference *ref = reference;
    if (ref == NULL || reference_sz != sizeof(*ref) ||
        ref->magic != TESSERA_KEY_REFERENCE_MAGIC || ref->key == NULL)
        return NULL;
    return tessera_key_dup(ref->key);
}

static void *
km_dup(const void *keydata, int selection)
{
    (void)selection;
    return tessera_key_dup(keydata);
}

static int
km_has(const void *keydata, int selection)
{
    const struct tessera_key *key = keydata;
    if (key == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && key->name == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_ALL_PARAMETERS) ||
        (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY))
        return key->public_key != NULL;
    return 1;
}

/* A token key equals another key when the public halves are equal. */
static int
km_match(const void *keydata1, const void *keydata2, int selection)
{
    const struct tessera_key *a = keydata1, *b = keydata2;
    (void)selection;
    if (a->public_key == NULL || b->public_key == NULL)
        return 0;
    return EVP_PKEY_eq(a->public_key, b->public_key) == 1;
}

/* Only public keys come in, for OpenSSL's certificate-to-key comparison. */
static int
km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
    struct tessera_key *key = keydata;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) ||
        !(selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) ||
        key->public_key != NULL)
        return 0;
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(
        key->provctx->libctx, tessera_key_type_name(key->type), TESSERA_NOT_US);
    int ok = pctx != NULL && EVP_PKEY_fromdata_init(pctx) == 1 &&
             EVP_PKEY_fromdata(pctx, &key->public_key, EVP_PKEY_PUBLIC_KEY,
                               (OSSL_PARAM *)params) == 1;
    EVP_PKEY_CTX_free(pctx);
    return ok;
}

static int
km_export(void *keydata, int selection, OSSL_CALLBACK *param_cb, void *cbarg)
{
    struct tessera_key *key = keydata;
    OSSL_PARAM *params = NULL;
    /* Refusing private export is what makes OpenSSL sign with us. */
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) ||
        key->public_key == NULL)
        return 0;
    if (EVP_PKEY_todata(key->public_key, EVP_PKEY_PUBLIC_KEY, &params) != 1)
        return 0;
    int ok = param_cb(params, cbarg);
    OSSL_PARAM_free(params);
    return ok;
}

static const OSSL_PARAM ec_public_types[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM rsa_public_types[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM ed25519_public_types[] = {
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *
ec_types(int selection)
{
    return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) ? NULL
                                                         : ec_public_types;
}

static const OSSL_PARAM *
rsa_types(int selection)
{
    return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) ? NULL
                                                         : rsa_public_types;
}

static const OSSL_PARAM *
ed25519_types(int selection)
{
    return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) ? NULL
                                                         : ed25519_public_types;
}

static int
km_get_params(void *keydata, OSSL_PARAM params[])
{
    struct tessera_key *key = keydata;
    if (key->public_key == NULL)
        return 0;
    return EVP_PKEY_get_params(key->public_key, params);
}

static const OSSL_PARAM *
gettable_for(void *provctx, const char *name)
{
    struct tessera_provctx *ctx = provctx;
    EVP_KEYMGMT *km = EVP_KEYMGMT_fetch(ctx->libctx, name, TESSERA_NOT_US);
    /* The table is static in the other provider, which outlives this call. */
    const OSSL_PARAM *params = km ? EVP_KEYMGMT_gettable_params(km) : NULL;
    EVP_KEYMGMT_free(km);
    return params;
}

static const OSSL_PARAM *
ec_gettable_params(void *provctx)
{
    return gettable_for(provctx, "EC");
}

static const OSSL_PARAM *
rsa_gettable_params(void *provctx)
{
    return gettable_for(provctx, "RSA");
}

static const OSSL_PARAM *
ed25519_gettable_params(void *provctx)
{
    return gettable_for(provctx, "ED25519");
}

static const char *
ec_operation_name(int operation_id)
{
    return operation_id == OSSL_OP_SIGNATURE ? "ECDSA" : NULL;
}

static const char *
rsa_operation_name(int operation_id)
{
    return operation_id == OSSL_OP_SIGNATURE ? "RSA" : NULL;
}

static const char *
ed25519_operation_name(int operation_id)
{
    return operation_id == OSSL_OP_SIGNATURE ? "ED25519" : NULL;
}

/* clang-format off */
#define KEYMGMT_FUNCTIONS(prefix)                                              \
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))prefix##_new},                     \
    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},                         \
    {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))km_load},                         \
    {OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))km_dup},                           \
    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},                           \
    {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match},                       \
    {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},                     \
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))prefix##_types},          \
    {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export},                     \
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))prefix##_types},          \
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},             \
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,                                        \
     (void (*)(void))prefix##_gettable_params},                                \
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,                                   \
     (void (*)(void))prefix##_operation_name},                                 \
    {0, NULL}
/* clang-format on */

const OSSL_DISPATCH tessera_ec_keymgmt_functions[] = {KEYMGMT_FUNCTIONS(ec)};
const OSSL_DISPATCH tessera_rsa_keymgmt_functions[] = {KEYMGMT_FUNCTIONS(rsa)};
const OSSL_DISPATCH tessera_ed25519_keymgmt_functions[] = {
    KEYMGMT_FUNCTIONS(ed25519)};
