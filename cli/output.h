/* SPDX-License-Identifier: Apache-2.0 */
/* What the tessera command prints: tables and lines for people, JSON for
 * programs (the field names are in docs/cli.md). */
#ifndef TESSERA_CLI_OUTPUT_H
#define TESSERA_CLI_OUTPUT_H

#include "../common/messages.h"

#include <openssl/x509.h>

/* A table with a header line (also when empty), or a JSON array ("[]"). */
void output_identities(const struct tessera_identity_list *ids, bool json);
void output_tokens(const struct tessera_token_list *tokens, bool json);
/* tessera log: one line per entry, or a JSON array. */
void output_uses(const struct tessera_use_list *uses, bool json);

/* "enrolled NAME", then the leaf's subject, issuer and expiry; or the
 * same, with its serial number and validity, as one JSON object. */
void output_certified(const char *what, const char *name,
                      const struct tessera_blob *leaf, bool json);

/* "CN=alice,O=Corp" (RFC 4514); the caller frees it. NULL if out of
 * memory. */
char *output_name_text(const X509_NAME *name);

#endif
