/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provider built into the agent: the same STORE, KEYMGMT and SIGNATURE
 * code as tessera.so, with a backend that calls the signer directly. The
 * agent signs CSRs (and later enrolment messages) with token keys through
 * ordinary OpenSSL calls on its own library context.
 */
#include "agent.h"
#include "../common/errors.h"
#include "../provider/provider.h"

#include <openssl/err.h>
#include <openssl/store.h>

#define BUILTIN_NAME "tessera-builtin"

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
    for (guint i = 0; i < reg->identities->len && rc == 0; i++) {
        struct tessera_identity_summary s;
        agent_identity_summary(g_ptr_array_index(reg->identities, i), &s);
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
    struct agent_registry *reg = agent_registry_get(backend);
    struct agent_identity *id = g_hash_table_lookup(reg->by_name, name);
    if (id != NULL)
        agent_identity_export(id, out);
    else
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "no identity named \"%s\"", name);
    agent_registry_unref(reg);
    return id != NULL ? 0 : -1;
}

static int
builtin_sign(void *backend, const struct tessera_sign_request *req,
             struct tessera_blob *signature, struct tessera_status *st)
{
    return agent_sign(backend, req, signature, st);
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

gboolean
agent_builtin_provider_load(struct agent *agent, GError **error)
{
    the_agent = agent;
    agent->libctx = OSSL_LIB_CTX_new();
    if (agent->libctx == NULL ||
        !OSSL_PROVIDER_add_builtin(agent->libctx, BUILTIN_NAME, builtin_init) ||
        (agent->default_provider =
             OSSL_PROVIDER_load(agent->libctx, "default")) == NULL ||
        (agent->builtin_provider =
             OSSL_PROVIDER_load(agent->libctx, BUILTIN_NAME)) == NULL) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "cannot set up the built-in OpenSSL provider: %s",
                    ERR_reason_error_string(ERR_peek_last_error()));
        return FALSE;
    }
    return TRUE;
}

void
agent_builtin_provider_unload(struct agent *agent)
{
    if (agent->builtin_provider != NULL)
        OSSL_PROVIDER_unload(agent->builtin_provider);
    if (agent->default_provider != NULL)
        OSSL_PROVIDER_unload(agent->default_provider);
    OSSL_LIB_CTX_free(agent->libctx);
    agent->libctx = NULL;
}

EVP_PKEY *
agent_load_private_key(struct agent *agent, const char *name,
                       struct tessera_status *st)
{
    char *uri = g_strdup_printf("tessera:%s", name);
    EVP_PKEY *pkey = NULL;
    OSSL_STORE_CTX *store = OSSL_STORE_open_ex(uri, agent->libctx, NULL, NULL,
                                               NULL, NULL, NULL, NULL);
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
