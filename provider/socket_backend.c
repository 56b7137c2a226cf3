/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provider's path to the agent: the client library (common/client.h)
 * with a pool of connections, so threads sign in parallel without sharing
 * a socket and one signature costs one round trip. Connections are made on
 * first use, never at provider load, and checked before anything is sent.
 */
#include "provider.h"
#include "../common/client.h"

#include <errno.h>
#include <stdlib.h>

/* Connections one provider instance keeps open at most; signing threads
 * beyond this wait for one. */
#define MAX_CONNECTIONS 8
/* An idle connection older than this is closed at the next call. */
#define IDLE_SECONDS 10
/* A signature on a slow smartcard takes about a second; this is far above. */
#define REPLY_TIMEOUT_SECONDS 60
/* Covers a SoftHSM or HSM signature up to ECDSA P-384, so the reply finds
 * this thread running; a smartcard's or TPM's is slept through. */
#define DEFAULT_POLL_US 2000
/*
 * A program loads a certificate and a key as two loads of one name (openssl
 * s_client's -cert and -key, SSL_CTX_use_* in most programs). A renewal
 * switching keys between the two would give it a new key for an old
 * certificate, so a name's identity is kept this long for the loads that
 * follow; signing then finds the right key by its hash either way.
 */
#define IDENTITY_CACHE_MS 2000

static unsigned
poll_us_from_environment(void)
{
    const char *text = getenv("TESSERA_POLL_US");
    char *end;
    if (text == NULL || text[0] == '\0')
        return DEFAULT_POLL_US;
    unsigned long us = strtoul(text, &end, 10);
    return *end == '\0' && us <= TESSERA_POLL_US_MAX ? (unsigned)us
                                                     : DEFAULT_POLL_US;
}

void *
tessera_socket_backend_new(void)
{
    struct tessera_client_options options = {
        .max_connections = MAX_CONNECTIONS,
        .idle_seconds = IDLE_SECONDS,
        .reply_timeout_seconds = REPLY_TIMEOUT_SECONDS,
        .sign_poll_us = poll_us_from_environment(),
        .identity_cache_ms = IDENTITY_CACHE_MS,
    };
    return tessera_client_new(&options);
}

static void
socket_backend_destroy(void *backend)
{
    tessera_client_free(backend);
}

/*
 * The host program's errno is not ours to change: Python, for one, reports
 * a failed key load as the errno it finds (ENOENT from our connect) instead
 * of the error we put in OpenSSL's queue.
 */
static int
socket_list(void *backend,
            int (*found)(const struct tessera_identity_summary *s, void *arg),
            void *arg, struct tessera_status *st)
{
    struct tessera_identity_list list;
    int saved_errno = errno;
    int rc = tessera_client_list(backend, &list, st);
    errno = saved_errno;
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
    int saved_errno = errno;
    int rc = tessera_client_get_identity(backend, name, out, st);
    errno = saved_errno;
    return rc;
}

static int
socket_sign(void *backend, const struct tessera_sign_request *req,
            struct tessera_blob *signature, struct tessera_status *st)
{
    int saved_errno = errno;
    int rc = tessera_client_sign(backend, req, signature, st);
    errno = saved_errno;
    return rc;
}

const struct tessera_backend_ops tessera_socket_backend_ops = {
    .list = socket_list,
    .get_identity = socket_get_identity,
    .sign = socket_sign,
    .destroy = socket_backend_destroy,
};
