/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What identities are called. Names appear in URIs, file names, D-Bus
 * object paths and terminals, so they are plain: letters, digits and
 * . _ @ + - (and ~ in the names the agent makes itself).
 */
#ifndef TESSERA_AGENT_NAMING_H
#define TESSERA_AGENT_NAMING_H

#include <glib.h>

/* Longest name a user may give (keygen, enroll). */
#define NAMING_MAX 64

/*
 * A renewal builds the next key under the label NAME~next and keeps the key
 * it replaced as NAME~old for its grace period. Those are reachable by name
 * (to sign a CSR, to sign for a client still holding the old certificate)
 * but never listed.
 */
#define NAMING_NEXT_SUFFIX "~next"
#define NAMING_OLD_SUFFIX "~old"
gboolean naming_is_renewal_key(const char *name);

/*
 * An ACME profile's account key is acme-account.PROFILE on the token: the
 * agent's own key, reachable by name to sign the account's requests but
 * never listed (tessera list, D-Bus, the PKCS#11 module), and not a name
 * users may give.
 */
#define NAMING_ACME_ACCOUNT_PREFIX "acme-account."
gboolean naming_is_acme_account(const char *name);
/* Renewal keys and account keys: the agent's, not identities to list. */
gboolean naming_is_unlisted(const char *name);

/* A name a user may give: 1 to NAMING_MAX of [A-Za-z0-9._@+-], not
 * starting with . or -. */
gboolean naming_valid(const char *name);

/*
 * The name of a key found on a token, from its label: characters outside
 * [A-Za-z0-9._@+~-] become -, long labels are cut; without a label,
 * key-<the first 8 bytes of its id in hex>.
 */
char *naming_from_label(const char *label, GBytes *key_id);

/* The same name a second time in one registry: NAME~2, NAME~3, ... for
 * the nth (n >= 2). */
char *naming_nth(const char *name, int n);

/* Lower-case hex of bytes. */
char *naming_hex(GBytes *bytes);

#endif
