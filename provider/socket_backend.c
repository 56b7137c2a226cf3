/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provider's path to the agent: the client library (common/client.h)
 * with a pool of connections, so threads sign in parallel without sharing
 * a socket and one signature costs one round trip. Connections are made on
 * first use, never at provider load, and checked before anything is sent.
 */
#include "provider.h"
#include "../common/client.h"

/*
 * A program loads a certificate and a key as two loads of one name (openssl
 * s_client's -cert and -key, SSL_CTX_use_* in most programs). A renewal
 * switching keys between the two would give it a new key for an old
 * certificate, so a name's identity is kept this long for the loads that
 * follow; signing then finds the right key by its hash either way.
 */
#define IDENTITY_CACHE_MS 2000

void *
tessera_socket_backend_new(void)
{
    struct tessera_client_options options;
    tessera_client_library_options(&options);
    options.identity_cache_ms = IDENTITY_CACHE_MS;
    return tessera_client_new(&options);
}

static void
socket_backend_destroy(void *backend)
{
    tessera_client_free(backend);
}

static int
socket_list(void *backend,
            int (*found)(const struct tessera_identity_summary *s, void *arg),
            void *arg, struct tessera_status *st)
{
    struct tessera_identity_list list;
    int rc = tessera_client_list(backend, &list, st);
    for (size_t i = 0; rc == 0 && i < list.n && found(&list.items[i], arg) == 0;
         i++)
        ;
    tessera_identity_list_clear(&list);
    return rc;
}

static int
socket_get_identity(void *backend, const char *name,
                    struct tessera_identity *out, struct tessera_status *st)
{
    return tessera_client_get_identity(backend, name, out, st);
}

static int
socket_sign(void *backend, const struct tessera_sign_request *req,
            struct tessera_blob *signature, struct tessera_status *st)
{
    return tessera_client_sign(backend, req, signature, st);
}

const struct tessera_backend_ops tessera_socket_backend_ops = {
    .list = socket_list,
    .get_identity = socket_get_identity,
    .sign = socket_sign,
    .destroy = socket_backend_destroy,
};
