/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provider built into the agent: the same STORE, KEYMGMT and SIGNATURE
 * code as tessera.so, with a backend that calls the signer directly. The
 * agent signs CSRs (and later enrolment messages) with token keys through
 * ordinary OpenSSL calls on its own library context.
 */
#include "builtin.h"
#include "../common/errors.h"
#include "../provider/provider.h"
#include "agent.h"
#include "peer.h"
#include "registry.h"
#include "signer.h"

#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/store.h>

#define BUILTIN_NAME "tessera-builtin"

struct agent_builtin {
    OSSL_LIB_CTX *libctx; /* default + the built-in Tessera provider */
    OSSL_PROVIDER *default_provider;
    OSSL_PROVIDER *builtin_provider;
};

/* OSSL_provider_init_fn takes no user data; there is one agent a process. */
static struct agent *the_agent;

static int
builtin_list(void *backend,
             int (*found)(const struct tessera_identity_summary *s, void *arg),
             void *arg, struct tessera_status *st)
{
    struct agent_registry *reg = agent_registry_get(backend);
    int rc = 0;
    (void)st;
    for (guint i = 0; i < agent_registry_n_identities(reg) && rc == 0; i++) {
        struct tessera_identity_summary s;
        agent_identity_summary(agent_registry_identity(reg, i), &s);
        rc = found(&s, arg);
        tessera_identity_summary_clear(&s);
    }
    agent_registry_unref(reg);
    return 0;
}

static int
builtin_get_identity(void *backend, const char *name,
                     struct tessera_identity *out, struct tessera_status *st)
{
    struct agent_identity *id = agent_identity_find(backend, name);
    int rc = id != NULL ? 0 : -1;
    if (id != NULL)
        agent_identity_export(id, out);
    else
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "no identity named \"%s\"", name);
    agent_identity_unref(id);
    return rc;
}

static int
builtin_sign(void *backend, const struct tessera_sign_request *req,
             struct tessera_blob *signature, struct tessera_status *st)
{
    struct agent_peer self;
    agent_peer_self(&self);
    return agent_sign(backend, req, &self, signature, st);
}

static const struct tessera_backend_ops builtin_ops = {
    .list = builtin_list,
    .get_identity = builtin_get_identity,
    .sign = builtin_sign,
    .destroy = NULL,
};

static int
builtin_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
             const OSSL_DISPATCH **out, void **provctx)
{
    return tessera_provider_init_with(handle, in, out, provctx, &builtin_ops,
                                      the_agent);
}

int
agent_builtin_provider_load(struct agent *agent, struct tessera_status *st)
{
    struct agent_builtin *b = g_new0(struct agent_builtin, 1);
    the_agent = agent;
    agent->builtin = b;
    b->libctx = OSSL_LIB_CTX_new();
    if (b->libctx == NULL ||
        !OSSL_PROVIDER_add_builtin(b->libctx, BUILTIN_NAME, builtin_init) ||
        (b->default_provider = OSSL_PROVIDER_load(b->libctx, "default")) ==
            NULL ||
        (b->builtin_provider = OSSL_PROVIDER_load(b->libctx, BUILTIN_NAME)) ==
            NULL) {
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "cannot set up the built-in OpenSSL provider: %s",
                           ERR_reason_error_string(ERR_peek_last_error()));
        return -1;
    }
    return 0;
}

void
agent_builtin_provider_unload(struct agent *agent)
{
    struct agent_builtin *b = agent->builtin;
    if (b == NULL)
        return;
    if (b->builtin_provider != NULL)
        OSSL_PROVIDER_unload(b->builtin_provider);
    if (b->default_provider != NULL)
        OSSL_PROVIDER_unload(b->default_provider);
    OSSL_LIB_CTX_free(b->libctx);
    g_free(b);
    agent->builtin = NULL;
}

OSSL_LIB_CTX *
agent_builtin_libctx(struct agent *agent)
{
    return agent->builtin->libctx;
}

EVP_PKEY *
agent_load_private_key(struct agent *agent, const char *name,
                       struct tessera_status *st)
{
    char *uri = g_strdup_printf("tessera:%s", name);
    EVP_PKEY *pkey = NULL;
    OSSL_STORE_CTX *store = OSSL_STORE_open_ex(
        uri, agent_builtin_libctx(agent), NULL, NULL, NULL, NULL, NULL, NULL);
    if (store != NULL && OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(store);
        if (info != NULL)
            pkey = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(store);
    if (pkey == NULL)
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "cannot load the key of identity %s: %s", name,
                           ERR_reason_error_string(ERR_peek_last_error()));
    ERR_clear_error();
    g_free(uri);
    return pkey;
}
