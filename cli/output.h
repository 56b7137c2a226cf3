/* SPDX-License-Identifier: Apache-2.0 */
/* What the tessera command prints: tables for people, JSON for programs. */
#ifndef TESSERA_CLI_OUTPUT_H
#define TESSERA_CLI_OUTPUT_H

#include "../common/messages.h"

/* A table with a header line (also when empty), or a JSON array ("[]"). */
void output_identities(const struct tessera_identity_list *ids, bool json);
void output_tokens(const struct tessera_token_list *tokens, bool json);

/* "enrolled NAME", then the certificate's subject, issuer and expiry. */
void output_certified(const char *what, const char *name,
                      const struct tessera_blob *der);

#endif
