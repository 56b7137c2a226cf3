/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tessera-agent: tokens, identities, the signer and the socket server.
 *
 * Threads: the GLib main loop accepts connections and handles signals; each
 * connection has one thread that reads a request, does the work (a signature
 * included) and writes the reply, so a signature costs no thread hand-off.
 * Shared state is a refcounted, immutable registry snapshot swapped under a
 * mutex, and one session pool per token; no lock is held across C_Sign.
 */
#ifndef TESSERA_AGENT_H
#define TESSERA_AGENT_H

#include "../common/keyspec.h"
#include "../common/transport.h"
#include "files.h"
#include "modules.h"
#include "objects.h"
#include "tokens.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <p11-kit/p11-kit.h>

#define TESSERA_LOG_DOMAIN "tessera-agent"

struct agent_config {
    char **modules;             /* NULL: every module p11-kit registers */
    unsigned max_sessions;      /* per token, for signing */
    unsigned poll_us;           /* see tessera_poll_readable */
    unsigned slot_poll_seconds; /* watch.c; 0: off */
    char *socket_path;
    char *state_dir;
    char *path;        /* agent.conf, which may not exist */
    GKeyFile *keyfile; /* per-token groups: [token LABEL] */
};

struct agent_identity {
    gint refcount;
    char *name;
    struct agent_token *token;
    GBytes *key_id;
    char *key_label;
    enum tessera_key_type key_type;
    unsigned key_bits;
    GBytes *spki;
    GPtrArray *certs;   /* GBytes DER, leaf first; empty without a cert */
    char *subject;      /* RFC 2253; NULL or "" without a certificate */
    char *issuer;       /* RFC 2253; NULL without a certificate */
    guint64 not_before; /* seconds since the epoch; 0 without a certificate */
    guint64 not_after;
    unsigned char spki_hash[TESSERA_KEY_HASH_LEN]; /* SHA-256 of spki */
    gint64 key_handle; /* cached CK_OBJECT_HANDLE, -1 unknown; atomic */
    gboolean always_authenticate; /* CKA_ALWAYS_AUTHENTICATE on the key */
};

/*
 * A renewal builds the next key under the label NAME~next and keeps the key
 * it replaced as NAME~old for its grace period. Those are reachable by name
 * (to sign a CSR, to sign for a client still holding the old certificate)
 * but never listed.
 */
#define AGENT_NEXT_SUFFIX "~next"
#define AGENT_OLD_SUFFIX "~old"
gboolean agent_name_is_renewal_key(const char *name);

/* An immutable view of tokens and identities; replaced, never changed. */
struct agent_registry {
    gint refcount;
    GPtrArray *tokens;       /* struct agent_token * */
    GPtrArray *identities;   /* struct agent_identity *, in discovery order */
    GPtrArray *renewal_keys; /* NAME~next and NAME~old: not listed */
    GHashTable *by_name;     /* name -> struct agent_identity *, both kinds */
};

struct agent {
    struct agent_config config;
    struct agent_modules *modules;
    GMutex registry_lock;
    struct agent_registry *registry;
    GMutex rescan_lock;   /* one rescan at a time */
    gint stopping;        /* atomic, set under rescan_lock: no more rescans */
    OSSL_LIB_CTX *libctx; /* default + the built-in Tessera provider */
    OSSL_PROVIDER *default_provider;
    OSSL_PROVIDER *builtin_provider;
    struct agent_dbus *dbus;         /* NULL without a session bus */
    struct agent_watch *watch;       /* watch.c */
    struct agent_suspend *suspend;   /* suspend.c; NULL when not wanted */
    struct agent_renewals *renewals; /* renewals.c */
    struct agent_claims *claims;     /* claims.c: one owner per identity */
    GThreadPool *ca_pool;            /* tasks.c */
};

/* config.c */
/* Where a token's PIN may come from ([token LABEL] pin-source). */
enum agent_pin_source {
    AGENT_PIN_PROMPT, /* tessera unlock or D-Bus Unlock */
    AGENT_PIN_FILE,   /* the pin-file, at start, and nothing else */
    AGENT_PIN_NONE,   /* never logged in */
};
enum agent_pin_source agent_pin_source(const struct agent_config *cfg,
                                       const char *label);
gboolean agent_config_load(struct agent_config *cfg, const char *path,
                           GError **error);
void agent_config_clear(struct agent_config *cfg);
/* The value of KEY in group "[KIND NAME]", e.g. [token Work Card]. */
char *agent_config_string(const struct agent_config *cfg, const char *kind,
                          const char *name, const char *key);

/* Whether a PIN may be typed for the token (its pin-source is prompt). */
gboolean agent_token_unlock_allowed(struct agent *agent,
                                    struct agent_token *token,
                                    struct tessera_status *st);
/* Login from the per-token pin-file, once, for headless machines; TRUE
 * when any token was logged in. */
gboolean agent_tokens_login_from_config(struct agent *agent,
                                        struct agent_registry *reg);

/* identities.c */
struct agent_registry *agent_registry_get(struct agent *agent);
void agent_registry_unref(struct agent_registry *reg);
void agent_rescan(struct agent *agent);
struct agent_identity *agent_identity_ref(struct agent_identity *id);
void agent_identity_unref(struct agent_identity *id);
void agent_identity_summary(const struct agent_identity *id,
                            struct tessera_identity_summary *out);
void agent_identity_export(const struct agent_identity *id,
                           struct tessera_identity *out);
struct agent_token *agent_find_token(struct agent_registry *reg,
                                     const char *spec,
                                     struct tessera_status *st);
/* Lower-case hex of bytes. */
char *agent_hex(GBytes *bytes);
char *agent_chain_path(const struct agent *agent,
                       const struct agent_token *token, GBytes *key_id);
/* Re-reads the objects of key_ids (GBytes) on token and publishes a
 * registry in which only their identities changed; under rescan_lock. */
void agent_registry_refresh_keys(struct agent *agent, struct agent_token *token,
                                 GPtrArray *key_ids);
/* The DER of NAME's certificate, or NULL; or copied into out. */
GBytes *agent_leaf_of(struct agent *agent, const char *name);
void agent_leaf_copy(struct agent *agent, const char *name,
                     struct tessera_blob *out);

/* signer.c */
int agent_sign(struct agent *agent, const struct tessera_sign_request *req,
               struct tessera_blob *signature, struct tessera_status *st);

/* builtin.c: the provider inside the agent */
gboolean agent_builtin_provider_load(struct agent *agent, GError **error);
void agent_builtin_provider_unload(struct agent *agent);
EVP_PKEY *agent_load_private_key(struct agent *agent, const char *name,
                                 struct tessera_status *st);

/* RSA PKCS#1 v1.5 decryption with an identity's key: the agent's own use
 * (the key of a SCEP reply), never offered to clients. */
int agent_decrypt_rsa(struct agent *agent, const char *name,
                      struct tessera_bytes ciphertext,
                      struct tessera_blob *plain, struct tessera_status *st);

/* provision.c: keygen and import */
X509_EXTENSION *agent_san_extension(char *const *sans, size_t n_sans,
                                    struct tessera_status *st);
/* The token a new key named req->name may be made on, after every check
 * (name free and usable, key type, subject, token writable and unlocked);
 * NULL with st otherwise. */
struct agent_token *agent_keygen_token(struct agent *agent,
                                       const struct tessera_keygen_request *req,
                                       struct tessera_keyspec *spec,
                                       struct tessera_status *st);
int agent_keygen(struct agent *agent, const struct tessera_keygen_request *req,
                 struct tessera_blob *csr_der, struct tessera_status *st);
int agent_import(struct agent *agent, const struct tessera_import_request *req,
                 struct tessera_status *st);
/* The pieces renewal puts together differently. */
GBytes *agent_new_key_id(void);
int agent_generate_key(struct agent_token *token, const char *label,
                       const struct tessera_keyspec *spec, GBytes *key_id,
                       struct tessera_status *st);
/* A CSR signed by the key reachable as key_name (an identity, NAME~next). */
int agent_make_csr(struct agent *agent, const char *key_name,
                   const char *subject, X509_EXTENSION *san,
                   struct tessera_blob *csr_der, struct tessera_status *st);
/* Stores the leaf under key_id with label and keeps the rest as its chain. */
int agent_store_certificates(struct agent *agent, struct agent_token *token,
                             GBytes *key_id, const char *label,
                             const struct tessera_blob *certs, size_t n_certs,
                             struct tessera_status *st);
gboolean agent_certificate_matches_key(X509 *x, GBytes *spki);
gboolean agent_destroy_key_objects(struct agent_token *token, GBytes *key_id,
                                   gboolean certificates_only);
gboolean agent_name_valid(const char *name);
/* enroll/enroll.c: tessera enroll; on success the leaf's DER. */
int agent_enroll(struct agent *agent, const struct tessera_enroll_request *req,
                 int client_fd, struct tessera_blob *leaf,
                 struct tessera_status *st);
/* The CA half of an enrolment, for renewal: a CSR certified by a CA profile
 * and the chain verified. */
struct enroll_result;
struct agent_certify_request {
    const char *ca, *token;
    const char *key_name; /* the key the CSR is for (SCEP decrypts with it) */
    const char *renewing; /* the identity being renewed, or NULL */
    struct tessera_bytes csr;
    long timeout_seconds;
    int client_fd;        /* hung up: cancel while pending; -1 for none */
    GCancellable *cancel; /* the agent stops: the CA is not waited for */
};
int agent_certify(struct agent *agent, const struct agent_certify_request *req,
                  struct enroll_result *result, struct tessera_status *st);
/* Drops NAME's [identity] group from agent.conf and its enrolment record;
 * with delete_objects also its objects on the token. */
int agent_forget_identity(struct agent *agent, const char *name,
                          gboolean delete_objects, struct tessera_status *st);
/* Destroys an identity's objects on its token; FALSE if any remain. */
gboolean agent_delete_identity(struct agent *agent, const char *name);

/* publish.c: files others read, kept current by the agent */
/* Certificates [first, end) as PEM; NULL if one is not valid DER. */
char *agent_certificates_pem(GPtrArray *certs, guint first, guint end);
void agent_publish_certificate(struct agent *agent, const char *name);

/* server.c */
struct agent_server;
struct agent_server *agent_server_start(struct agent *agent, const char *path,
                                        GError **error);
void agent_server_stop(struct agent_server *server);

/* dbus.c: the session-bus API; every function is a no-op without a bus. */
void agent_dbus_start(struct agent *agent);
void agent_dbus_stop(struct agent *agent);
/* Any thread: the registry or a token's state changed. */
void agent_dbus_changed(struct agent *agent);
/* Any thread: something NAME needs failed: a client's signature, or a due
 * renewal that waits for a PIN (TOKEN_LOCKED sends PinNeeded). */
void agent_dbus_identity_failed(struct agent *agent, const char *name,
                                const struct tessera_status *st);
/* Any thread: a renewal of NAME ended; reason NULL when it succeeded. */
void agent_dbus_renewal_done(struct agent *agent, const char *name,
                             const char *reason);

/* watch.c: tokens that appear, leave and return; idle locking. */
void agent_watch_start(struct agent *agent);
/* Stops polling and the slot-event threads that can stop;
 * agent_watch_finish after the modules are unloaded. */
void agent_watch_stop(struct agent *agent);
void agent_watch_finish(struct agent *agent);

/* suspend.c: lock-on-suspend through logind on the system bus. */
void agent_suspend_start(struct agent *agent);
void agent_suspend_stop(struct agent *agent);

/* tasks.c: work that may block on a token, off the main loop. */
void agent_run_in_thread(void (*func)(gpointer data), gpointer data,
                         GDestroyNotify free_data);
/* Work that waits on a CA (renewals, D-Bus Enroll and Renew), up to its
 * profile's timeout, on a pool of its own: it never holds up the shared
 * pool that the look, token calls and D-Bus use. */
void agent_ca_pool_start(struct agent *agent);
/* Runs what is queued, then ends the pool's threads. */
void agent_ca_pool_stop(struct agent *agent);
void agent_run_ca_job(struct agent *agent, void (*func)(gpointer data),
                      gpointer data, GDestroyNotify free_data);

/* Renewal and enrolment, each module with its own header. */
#include "claims.h"
#include "renew.h"
#include "renewals.h"

#endif
