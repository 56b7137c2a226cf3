/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provider built into the agent: the same STORE, KEYMGMT and SIGNATURE
 * code as tessera.so, with a backend that calls the registry and the
 * signer directly, in a library context of the agent's own. The agent
 * signs CSRs and enrolment messages with token keys through ordinary
 * OpenSSL calls there.
 */
#ifndef TESSERA_AGENT_BUILTIN_H
#define TESSERA_AGENT_BUILTIN_H

#include "../common/errors.h"

#include <openssl/evp.h>

struct agent;

int agent_builtin_provider_load(struct agent *agent, struct tessera_status *st);
void agent_builtin_provider_unload(struct agent *agent);
/* The default provider and the built-in one. */
OSSL_LIB_CTX *agent_builtin_libctx(struct agent *agent);
/* The private key of identity NAME (or NAME~next), for OpenSSL calls in
 * that library context; NULL with st. */
EVP_PKEY *agent_load_private_key(struct agent *agent, const char *name,
                                 struct tessera_status *st);

#endif
