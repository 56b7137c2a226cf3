/* SPDX-License-Identifier: Apache-2.0 */
/*
 * STORE for `tessera:NAME` and RFC 7512 `pkcs11:` URIs. A URI resolves to
 * identities known to the agent; each yields its key (a reference the
 * KEYMGMT loads) and then its certificate chain, leaf first.
 */
#include "provider.h"
#include "../common/errors.h"
#include "../common/p11uri.h"

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/params.h>
#include <openssl/store.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TESSERA_SCHEME "tessera:"
#define MAX_MATCHES 64

struct store_ctx {
    struct tessera_provctx *provctx;
    int expect; /* OSSL_STORE_INFO_*, 0 for anything */
    bool by_uri;
    char *name;                /* tessera:NAME */
    struct tessera_p11uri uri; /* pkcs11:... */
    bool resolved;
    bool failed;
    /* Identities the URI names, and where loading is within them. */
    char *matches[MAX_MATCHES];
    size_t n_matches;
    size_t match;
    struct tessera_identity current;
    bool have_current;
    size_t item; /* 0: the key, 1..n: certificates */
};

static void *
store_open(void *provctx, const char *uri)
{
    struct tessera_provctx *pctx = provctx;
    struct store_ctx *ctx = calloc(1, sizeof(*ctx));
    char err[256];
    if (ctx == NULL)
        return NULL;
    ctx->provctx = pctx;
    if (strncasecmp(uri, TESSERA_SCHEME, strlen(TESSERA_SCHEME)) == 0) {
        const char *name = uri + strlen(TESSERA_SCHEME);
        if (name[0] == '\0' || strlen(name) > TESSERA_STRING_MAX) {
            tessera_raise(pctx, TESSERA_ERR_INVALID,
                          "'%s' does not name an identity: use tessera:NAME",
                          uri);
            free(ctx);
            return NULL;
        }
        ctx->name = strdup(name);
    } else if (tessera_p11uri_parse(uri, &ctx->uri, err, sizeof(err))) {
        ctx->by_uri = true;
    } else {
        tessera_raise(pctx, TESSERA_ERR_INVALID, "%s", err);
        free(ctx);
        return NULL;
    }
    return ctx;
}

static const OSSL_PARAM *
store_settable_ctx_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
        OSSL_PARAM_END,
    };
    (void)provctx;
    return params;
}

static int
store_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct store_ctx *ctx = vctx;
    const OSSL_PARAM *p =
        OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
    return p == NULL || OSSL_PARAM_get_int(p, &ctx->expect);
}

static int
collect_match(const struct tessera_identity_summary *s, void *arg)
{
    struct store_ctx *ctx = arg;
    if (!tessera_p11uri_match_identity(&ctx->uri, s))
        return 0;
    if (ctx->n_matches == MAX_MATCHES)
        return 1;
    ctx->matches[ctx->n_matches] = strdup(s->name);
    if (ctx->matches[ctx->n_matches] != NULL)
        ctx->n_matches++;
    return 0;
}

static int
resolve(struct store_ctx *ctx)
{
    struct tessera_provctx *pctx = ctx->provctx;
    struct tessera_status st = {0};
    ctx->resolved = true;
    if (!ctx->by_uri) {
        ctx->matches[0] = strdup(ctx->name);
        ctx->n_matches = ctx->matches[0] != NULL;
        return 1;
    }
    if (pctx->backend_ops->list(pctx->backend, collect_match, ctx, &st) < 0) {
        tessera_raise_status(pctx, &st);
        return 0;
    }
    if (ctx->n_matches == 0) {
        tessera_raise(pctx, TESSERA_ERR_NO_IDENTITY,
                      "no Tessera identity matches this pkcs11: URI; "
                      "`tessera list` shows what the agent has");
        return 0;
    }
    return 1;
}

static bool
wants_key(const struct store_ctx *ctx)
{
    if (ctx->expect != 0 && ctx->expect != OSSL_STORE_INFO_PKEY &&
        ctx->expect != OSSL_STORE_INFO_PUBKEY)
        return false;
    if (!ctx->by_uri)
        return true;
    return ctx->uri.type == TESSERA_P11URI_ANY ||
           ctx->uri.type == TESSERA_P11URI_PRIVATE ||
           ctx->uri.type == TESSERA_P11URI_PUBLIC;
}

static bool
wants_certs(const struct store_ctx *ctx)
{
    if (ctx->expect != 0 && ctx->expect != OSSL_STORE_INFO_CERT)
        return false;
    return !ctx->by_uri || ctx->uri.type == TESSERA_P11URI_ANY ||
           ctx->uri.type == TESSERA_P11URI_CERT;
}

static int
emit_key(struct store_ctx *ctx, OSSL_CALLBACK *object_cb, void *object_cbarg)
{
    const struct tessera_identity *id = &ctx->current;
    EVP_PKEY *pub =
        tessera_decode_spki(ctx->provctx, id->spki.data, id->spki.len);
    if (pub == NULL) {
        tessera_raise(ctx->provctx, TESSERA_ERR_PROTOCOL,
                      "the public key of identity '%s' cannot be read",
                      id->summary.name);
        return 0;
    }
    enum tessera_key_type type = id->summary.key_type;
    struct tessera_key *key =
        tessera_key_new(ctx->provctx, id->summary.name, type, pub);
    EVP_PKEY_free(pub);
    if (key == NULL)
        return 0;
    int ok = tessera_emit_key(key, object_cb, object_cbarg);
    tessera_key_free(key);
    return ok;
}

static int
emit_cert(const struct tessera_blob *der, OSSL_CALLBACK *object_cb,
          void *object_cbarg)
{
    int object_type = OSSL_OBJECT_CERT;
    OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_OBJECT_PARAM_TYPE, &object_type),
        OSSL_PARAM_octet_string(OSSL_OBJECT_PARAM_DATA, der->data, der->len),
        OSSL_PARAM_END,
    };
    return object_cb(params, object_cbarg);
}

static int
next_identity(struct store_ctx *ctx)
{
    struct tessera_provctx *pctx = ctx->provctx;
    struct tessera_status st = {0};
    if (ctx->have_current) {
        tessera_identity_clear(&ctx->current);
        ctx->have_current = false;
    }
    if (ctx->match >= ctx->n_matches)
        return 0;
    const char *name = ctx->matches[ctx->match++];
    if (pctx->backend_ops->get_identity(pctx->backend, name, &ctx->current,
                                        &st) < 0) {
        tessera_raise_status(pctx, &st);
        ctx->failed = true;
        return 0;
    }
    if (ctx->current.summary.key_type != TESSERA_KEY_EC &&
        ctx->current.summary.key_type != TESSERA_KEY_RSA &&
        ctx->current.summary.key_type != TESSERA_KEY_ED25519) {
        tessera_raise(pctx, TESSERA_ERR_MECHANISM,
                      "identity '%s' has a key type this provider cannot use",
                      name);
        tessera_identity_clear(&ctx->current);
        ctx->failed = true;
        return 0;
    }
    ctx->have_current = true;
    ctx->item = 0;
    return 1;
}

static int
store_load(void *vctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
           OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct store_ctx *ctx = vctx;
    (void)pw_cb;
    (void)pw_cbarg;
    if (!ctx->resolved && !resolve(ctx)) {
        ctx->failed = true;
        return 0;
    }
    while (!ctx->failed) {
        if (!ctx->have_current && !next_identity(ctx))
            return 0;
        const struct tessera_identity *id = &ctx->current;
        size_t item = ctx->item++;
        if (item == 0 && wants_key(ctx))
            return emit_key(ctx, object_cb, object_cbarg);
        if (item >= 1 && item <= id->n_certs && wants_certs(ctx))
            return emit_cert(&id->certs[item - 1], object_cb, object_cbarg);
        if (item > id->n_certs) {
            tessera_identity_clear(&ctx->current);
            ctx->have_current = false;
        }
    }
    return 0;
}

static int
store_eof(void *vctx)
{
    const struct store_ctx *ctx = vctx;
    if (ctx->failed)
        return 1;
    if (!ctx->resolved)
        return 0;
    return !ctx->have_current && ctx->match >= ctx->n_matches;
}

static int
store_close(void *vctx)
{
    struct store_ctx *ctx = vctx;
    if (ctx->have_current)
        tessera_identity_clear(&ctx->current);
    for (size_t i = 0; i < ctx->n_matches; i++)
        free(ctx->matches[i]);
    tessera_p11uri_clear(&ctx->uri);
    free(ctx->name);
    free(ctx);
    return 1;
}

const OSSL_DISPATCH tessera_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS,
     (void (*)(void))store_settable_ctx_params},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close},
    {0, NULL},
};
