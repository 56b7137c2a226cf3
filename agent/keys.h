/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Putting identities on tokens: a key pair generated on the token (never
 * extractable, always sensitive), a CSR signed by it through the built-in
 * provider, and later the issued certificate stored beside the key, its
 * chain kept in the state directory. `tessera keygen` and `import` are
 * these steps alone; enrolment and renewal build on them.
 */
#ifndef TESSERA_AGENT_KEYS_H
#define TESSERA_AGENT_KEYS_H

#include "../common/errors.h"
#include "../common/keyspec.h"
#include "../common/messages.h"
#include "tokens.h"

#include <glib.h>
#include <openssl/x509.h>

struct agent;

/* A name as keygen's subject is typed (CN=alice,O=Corp, a backslash
 * before a comma in a value), so that it makes that name again: in the
 * order of RFC 4514, the last RDN first. */
char *agent_subject_text(const X509_NAME *name);
/* "dns:host", "email:a@b", "uri:...", "ip:addr", "upn:a@corp" as a
 * subjectAltName extension; NULL with st for anything else. */
X509_EXTENSION *agent_san_extension(char *const *sans, size_t n_sans,
                                    struct tessera_status *st);
/* The inverse: a certificate's subject alternative names in those
 * spellings (NULL-terminated, possibly empty); NULL with st when it has a
 * kind no CSR of ours can ask for. */
char **agent_sans_of(X509 *x, struct tessera_status *st);
/* The token a new key named req->name may be made on, after every check
 * (name free and usable, key type, subject, token writable and unlocked);
 * NULL with st otherwise. */
struct agent_token *agent_keygen_token(struct agent *agent,
                                       const struct tessera_keygen_request *req,
                                       struct tessera_keyspec *spec,
                                       struct tessera_status *st);
/* tessera keygen: the key pair and its CSR (csr_der NULL: none made),
 * which asks for the n_sans subject alternative names. */
int agent_keygen(struct agent *agent, const struct tessera_keygen_request *req,
                 char *const *sans, size_t n_sans, struct tessera_blob *csr_der,
                 struct tessera_status *st);
/* tessera import: the certificate (and chain) of a key without one. */
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
/* Destroys key_id's objects (or its certificates only); -1 if any
 * remain. */
int agent_destroy_key_objects(struct agent_token *token, GBytes *key_id,
                              gboolean certificates_only,
                              struct tessera_status *st);
/* Destroys an identity's objects on its token (or its certificates
 * only) and the chain kept for it; -1 if any remain. */
int agent_delete_identity(struct agent *agent, const char *name,
                          gboolean certificates_only,
                          struct tessera_status *st);

#endif
