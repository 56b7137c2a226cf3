/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every client accepts of an identity's chain, checked before
 * anything is stored (enrolment, renewal, import): a chain a client cannot
 * load would be listed as enrolled and fail at every use.
 */
#ifndef TESSERA_AGENT_CHAINCHECK_H
#define TESSERA_AGENT_CHAINCHECK_H

#include "../common/messages.h"

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* One DER certificate, nothing after it; NULL otherwise. */
X509 *agent_certificate_parse(const struct tessera_blob *der);

/*
 * NULL when the chain certs (leaf first) of identity name is usable:
 * each certificate within the clients' size limit and the whole within
 * their identity answer; a leaf for key (NULL: not checked) of a type the
 * provider and the PKCS#11 module sign with; with client_auth, a leaf whose
 * extendedKeyUsage names clientAuth; every certificate after the leaf a CA
 * certificate. Otherwise one sentence why not (g_free it).
 */
char *agent_chain_unusable(const char *name, const struct tessera_blob *certs,
                           size_t n_certs, EVP_PKEY *key, gboolean client_auth);

#endif
