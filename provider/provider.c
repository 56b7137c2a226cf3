/* SPDX-License-Identifier: Apache-2.0 */
/* Provider entry point, algorithm tables and error reporting. */
#include "provider.h"
#include "../common/errors.h"
#include "../common/keyref.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define EC_NAMES "EC:id-ecPublicKey:1.2.840.10045.2.1"
#define RSA_NAMES "RSA:rsaEncryption:1.2.840.113549.1.1.1"
#define ED25519_NAMES "ED25519:1.3.101.112"

static const OSSL_ALGORITHM keymgmt_algorithms[] = {
    {EC_NAMES, TESSERA_PROPERTIES, tessera_ec_keymgmt_functions,
     "Tessera EC keys held on a token"},
    {RSA_NAMES, TESSERA_PROPERTIES, tessera_rsa_keymgmt_functions,
     "Tessera RSA keys held on a token"},
    {ED25519_NAMES, TESSERA_PROPERTIES, tessera_ed25519_keymgmt_functions,
     "Tessera Ed25519 keys held on a token"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM signature_algorithms[] = {
    {"ECDSA", TESSERA_PROPERTIES, tessera_ecdsa_signature_functions,
     "ECDSA on a token through the Tessera agent"},
    {RSA_NAMES, TESSERA_PROPERTIES, tessera_rsa_signature_functions,
     "RSA PKCS#1 v1.5 and PSS on a token through the Tessera agent"},
    {ED25519_NAMES, TESSERA_PROPERTIES, tessera_ed25519_signature_functions,
     "Ed25519 on a token through the Tessera agent"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM store_algorithms[] = {
    {"tessera", TESSERA_PROPERTIES, tessera_store_functions,
     "Tessera identities by name (tessera:NAME)"},
    {"pkcs11", TESSERA_PROPERTIES, tessera_store_functions,
     "Tessera identities by RFC 7512 URI"},
    {NULL, NULL, NULL, NULL},
};

/* Key-reference files: PEM in, a token key out. */
static const OSSL_ALGORITHM decoder_algorithms[] = {
    {"DER", TESSERA_PROPERTIES ",input=pem", tessera_pem_decoder_functions,
     "Tessera key-reference file (PEM) to its DER"},
    {EC_NAMES,
     TESSERA_PROPERTIES ",input=der,structure=" TESSERA_KEYREF_STRUCTURE,
     tessera_ec_decoder_functions,
     "Tessera key-reference file naming an EC identity"},
    {RSA_NAMES,
     TESSERA_PROPERTIES ",input=der,structure=" TESSERA_KEYREF_STRUCTURE,
     tessera_rsa_decoder_functions,
     "Tessera key-reference file naming an RSA identity"},
    {ED25519_NAMES,
     TESSERA_PROPERTIES ",input=der,structure=" TESSERA_KEYREF_STRUCTURE,
     tessera_ed25519_decoder_functions,
     "Tessera key-reference file naming an Ed25519 identity"},
    {NULL, NULL, NULL, NULL},
};

/*
 * Reason strings are what programs that print one line per error show
 * (curl prints the first error's, Python the last one's; neither prints
 * the sentence each error carries), so each says what to do.
 */
static const OSSL_ITEM reason_strings[] = {
    {TESSERA_ERR_PROTOCOL, "the Tessera agent's answer cannot be read"},
    {TESSERA_ERR_VERSION,
     "the Tessera agent and provider differ in version: restart the agent"},
    {TESSERA_ERR_NO_IDENTITY,
     "no such Tessera identity: `tessera list` shows them"},
    {TESSERA_ERR_TOKEN_ABSENT,
     "the identity's token is not present: insert it"},
    {TESSERA_ERR_TOKEN_LOCKED, "the token is locked: run `tessera unlock`"},
    {TESSERA_ERR_MECHANISM, "the token cannot make this signature"},
    {TESSERA_ERR_PIN_INCORRECT, "PIN incorrect"},
    {TESSERA_ERR_PIN_LOCKED, "the token has blocked its PIN"},
    {TESSERA_ERR_PIN_FINAL_TRY, "PIN final try"},
    {TESSERA_ERR_NO_TOKEN, "no such token"},
    {TESSERA_ERR_TOKEN_FAILED,
     "the token reported an error: the agent's log says which"},
    {TESSERA_ERR_INVALID, "invalid argument"},
    {TESSERA_ERR_EXISTS, "already exists"},
    {TESSERA_ERR_INTERNAL, "internal error"},
    {TESSERA_ERR_BUSY, "the Tessera agent is busy"},
    {TESSERA_ERR_DENIED, "the Tessera agent serves another user"},
    {TESSERA_ERR_PROMPT_CANCELLED,
     "the PIN prompt was cancelled: enter the PIN, or run `tessera unlock`"},
    {TESSERA_ERR_PROMPT_TIMEOUT,
     "nobody entered the PIN in time: run `tessera unlock`"},
    {TESSERA_ERR_PROGRAM_REFUSED,
     "this program may not use the identity (allow-programs in agent.conf; "
     "`tessera log` names it)"},
    {TESSERA_ERR_NOT_CONFIRMED,
     "the user did not allow this program to use the identity"},
    {TESSERA_ERR_UNREACHABLE,
     "cannot reach the Tessera agent: start it with `systemctl --user start "
     "tessera-agent.socket` or `tessera-agent`"},
    {0, NULL},
};

void
tessera_raise(const struct tessera_provctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (ctx != NULL && ctx->core_new_error != NULL &&
        ctx->core_vset_error != NULL) {
        ctx->core_new_error(ctx->handle);
        ctx->core_vset_error(ctx->handle, (uint32_t)code, fmt, ap);
    } else {
        ERR_new();
        ERR_vset_error(ERR_LIB_PROV, code, fmt, ap);
    }
    va_end(ap);
}

void
tessera_raise_status(const struct tessera_provctx *ctx,
                     const struct tessera_status *st)
{
    tessera_raise(ctx, st->code, "%s", st->message);
}

/*
 * Why Tessera's algorithms always come after every other provider's.
 *
 * OpenSSL 3.0 answers a fetch that names no provider (libssl's ECDHE keys
 * and group list, ordinary key files, certificate public keys) with the
 * implementation that entered its method store first, and a provider's
 * algorithms enter when it is first asked for that operation, in the order
 * the providers were loaded. So before answering for KEYMGMT or SIGNATURE,
 * we have every other provider of the same library context asked (a nested
 * do-all, during which we decline) and ours enter behind theirs, whichever
 * order the providers were loaded in. While no other provider holds
 * ordinary EC keys (Tessera was loaded alone, so far), we decline and are
 * asked again at the next fetch: a default provider loaded after us still
 * comes first. Tessera's own keys never depend on the order: STORE and
 * DECODER hand them to our KEYMGMT by provider, not by a generic fetch.
 */
static _Thread_local const struct tessera_provctx *ordering;

struct other_provider {
    const struct tessera_provctx *us;
    bool found;
};

static bool
is_other(const struct other_provider *o, const OSSL_PROVIDER *prov)
{
    return OSSL_PROVIDER_get0_provider_ctx(prov) != o->us;
}

static void
note_keymgmt(EVP_KEYMGMT *km, void *arg)
{
    struct other_provider *o = arg;
    if (is_other(o, EVP_KEYMGMT_get0_provider(km)) &&
        EVP_KEYMGMT_is_a(km, "EC"))
        o->found = true;
}

static void
note_signature(EVP_SIGNATURE *sig, void *arg)
{
    struct other_provider *o = arg;
    if (is_other(o, EVP_SIGNATURE_get0_provider(sig)) &&
        EVP_SIGNATURE_is_a(sig, "ECDSA"))
        o->found = true;
}

/* True when our table may enter the store now; see above. */
static bool
after_others(const struct tessera_provctx *ctx, int operation_id, int *no_cache)
{
    struct other_provider o = {ctx, false};
    if (ordering != ctx) {
        ordering = ctx;
        if (operation_id == OSSL_OP_KEYMGMT)
            EVP_KEYMGMT_do_all_provided(ctx->core_libctx, note_keymgmt, &o);
        else
            EVP_SIGNATURE_do_all_provided(ctx->core_libctx, note_signature, &o);
        ordering = NULL;
    }
    *no_cache = !o.found;
    return o.found;
}

static const OSSL_ALGORITHM *
query_operation(void *provctx, int operation_id, int *no_cache)
{
    *no_cache = 0;
    switch (operation_id) {
    case OSSL_OP_KEYMGMT:
        return after_others(provctx, operation_id, no_cache)
                   ? keymgmt_algorithms
                   : NULL;
    case OSSL_OP_SIGNATURE:
        return after_others(provctx, operation_id, no_cache)
                   ? signature_algorithms
                   : NULL;
    case OSSL_OP_STORE:
        return store_algorithms;
    case OSSL_OP_DECODER:
        return decoder_algorithms;
    }
    return NULL;
}

static const OSSL_ITEM *
get_reason_strings(void *provctx)
{
    (void)provctx;
    return reason_strings;
}

static const OSSL_PARAM *
gettable_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)provctx;
    return params;
}

static int
get_params(void *provctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;
    (void)provctx;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "Tessera credential agent"))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, TESSERA_VERSION))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
    if (p != NULL && !OSSL_PARAM_set_int(p, 1))
        return 0;
    return 1;
}

static void
teardown(void *provctx)
{
    struct tessera_provctx *ctx = provctx;
    if (ctx == NULL)
        return;
    if (ctx->backend_ops != NULL && ctx->backend_ops->destroy != NULL)
        ctx->backend_ops->destroy(ctx->backend);
    OSSL_LIB_CTX_free(ctx->libctx);
    free(ctx);
}

static const OSSL_DISPATCH provider_functions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))teardown},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query_operation},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))get_reason_strings},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))gettable_params},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))get_params},
    {0, NULL},
};

int
tessera_provider_init_with(const OSSL_CORE_HANDLE *handle,
                           const OSSL_DISPATCH *in, const OSSL_DISPATCH **out,
                           void **provctx,
                           const struct tessera_backend_ops *ops, void *backend)
{
    struct tessera_provctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        goto fail;
    ctx->handle = handle;
    ctx->backend_ops = ops;
    ctx->backend = backend;
    for (const OSSL_DISPATCH *f = in; f->function_id != 0; f++) {
        switch (f->function_id) {
        case OSSL_FUNC_CORE_NEW_ERROR:
            ctx->core_new_error = OSSL_FUNC_core_new_error(f);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            ctx->core_set_error_debug = OSSL_FUNC_core_set_error_debug(f);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            ctx->core_vset_error = OSSL_FUNC_core_vset_error(f);
            break;
        case OSSL_FUNC_CORE_GET_LIBCTX:
            ctx->core_libctx =
                (OSSL_LIB_CTX *)OSSL_FUNC_core_get_libctx(f)(handle);
            break;
        }
    }
    /*
     * Nothing here talks to the agent: loading the provider must cost a
     * program that never uses a Tessera key nothing, even with no agent.
     */
    ctx->libctx = OSSL_LIB_CTX_new_child(handle, in);
    if (ctx->libctx == NULL)
        goto fail;
    *out = provider_functions;
    *provctx = ctx;
    return 1;
fail:
    if (ops != NULL && ops->destroy != NULL)
        ops->destroy(backend);
    if (ctx != NULL)
        OSSL_LIB_CTX_free(ctx->libctx);
    free(ctx);
    return 0;
}
