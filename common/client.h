/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client side of the agent wire protocol, for every program that talks
 * to the agent: the CLI, the OpenSSL provider, the PKCS#11 module. Plain C,
 * libcrypto and pthreads; safe in multi-threaded hosts, and in their
 * children after fork.
 *
 * Every connection is made by tessera_agent_connect (connect.h): nothing
 * reaches an agent that is not this user's (or root's).
 */
#ifndef TESSERA_CLIENT_H
#define TESSERA_CLIENT_H

#include "connect.h"

struct tessera_client_options {
    /* The agent's socket; NULL: $TESSERA_SOCKET, else
     * $XDG_RUNTIME_DIR/tessera/agent.sock when it exists, else the system
     * agent's (tessera_client_socket_path), looked up at each connection. */
    const char *socket_path;
    /* Who may serve it (and own its directory); NULL: this process's
     * effective uid, and root (a system agent). */
    const uid_t *agent_uids;
    size_t n_agent_uids;
    /* Connections open at once, idle or in use; more callers wait for one.
     * 0 counts as 1. */
    unsigned max_connections;
    /* An idle connection is closed when a caller finds it older than this
     * (0: after every call), so a process holds none for its life. */
    unsigned idle_seconds;
    /* A reply slower than this fails the call; 0: wait as long as the agent
     * takes (an enrolment waits for its CA). */
    unsigned reply_timeout_seconds;
    /* How long a SIGN may poll for its reply before sleeping
     * (tessera_poll_readable); the client adapts it per identity to the
     * signatures it has timed. 0: never poll. */
    unsigned sign_poll_us;
    /* A GET_IDENTITY answer is reused this long for the same name (a
     * program loads a certificate and then its key); 0: never. */
    unsigned identity_cache_ms;
};

struct tessera_client;

/*
 * The options of a client loaded into someone else's program (the OpenSSL
 * provider, the PKCS#11 module): a few connections, closed when idle, a
 * bound on how long a reply may take, and the SIGN poll bound from
 * TESSERA_POLL_US (docs/performance.md). No identity cache: a caller that
 * wants one sets it.
 */
void tessera_client_library_options(struct tessera_client_options *options);

/* NULL when out of memory; no connection is made yet. */
struct tessera_client *
tessera_client_new(const struct tessera_client_options *options);
void tessera_client_free(struct tessera_client *c);

/*
 * One call per request. Each returns 0 with its answer decoded (the caller
 * clears it), or -1 with st saying why: the agent's error and sentence, or
 * TESSERA_ERR_UNREACHABLE (no agent), TESSERA_ERR_UNTRUSTED (the socket is
 * another user's), TESSERA_ERR_PROTOCOL (a malformed answer). A pooled
 * connection the agent had closed (a restart, an idle timeout) is replaced
 * once; a request that acts (UNLOCK, KEYGEN, IMPORT, FORGET, ENROLL, RENEW) is
 * sent again only if it never left, so a PIN is never tried twice.
 */
int tessera_client_list(struct tessera_client *c,
                        struct tessera_identity_list *out,
                        struct tessera_status *st);
int tessera_client_tokens(struct tessera_client *c,
                          struct tessera_token_list *out,
                          struct tessera_status *st);
int tessera_client_get_identity(struct tessera_client *c, const char *name,
                                struct tessera_identity *out,
                                struct tessera_status *st);
int tessera_client_sign(struct tessera_client *c,
                        const struct tessera_sign_request *req,
                        struct tessera_blob *signature,
                        struct tessera_status *st);
int tessera_client_unlock(struct tessera_client *c,
                          const struct tessera_unlock_request *req,
                          struct tessera_status *st);
/* token: a label or pkcs11: URI; "" for every token. */
int tessera_client_lock(struct tessera_client *c, const char *token,
                        struct tessera_status *st);
/* Where the agent's PIN prompts go from now on (tessera update-env). */
int tessera_client_update_env(struct tessera_client *c,
                              const struct tessera_env_update *env,
                              struct tessera_status *st);
/* The recent uses of name ("" for all), oldest first. */
int tessera_client_log(struct tessera_client *c, const char *name,
                       struct tessera_use_list *uses,
                       struct tessera_status *st);
/* KEYGEN, ENROLL and RENEW with a sink (or NULL) that hears each step
 * the agent takes as it takes it (transport.h). */
int tessera_client_keygen(struct tessera_client *c,
                          const struct tessera_keygen_sans_request *req,
                          const struct tessera_progress_sink *sink,
                          struct tessera_blob *csr_der,
                          struct tessera_status *st);
int tessera_client_import(struct tessera_client *c,
                          const struct tessera_import_request *req,
                          struct tessera_status *st);
/* EXPORT: the agent writes the files and keeps them current. */
int tessera_client_export(struct tessera_client *c,
                          const struct tessera_export_request *req,
                          struct tessera_status *st);
/* FORGET: the identity's certificate, records and state; its key too if
 * asked. */
int tessera_client_forget(struct tessera_client *c,
                          const struct tessera_forget_request *req,
                          struct tessera_status *st);
/* ENROLL and RENEW: the new leaf's DER. Hanging up cancels (the agent
 * removes the new key), so a caller interrupted may just exit. */
int tessera_client_enroll(struct tessera_client *c,
                          const struct tessera_enroll_request *req,
                          const struct tessera_progress_sink *sink,
                          struct tessera_blob *leaf, struct tessera_status *st);
int tessera_client_renew(struct tessera_client *c, const char *name,
                         const struct tessera_progress_sink *sink,
                         struct tessera_blob *leaf, struct tessera_status *st);

#endif
