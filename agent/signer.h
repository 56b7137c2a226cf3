/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The signer: one request, one PKCS#11 signature, on the thread that read
 * the request (no hand-off), with the key the client holds: the
 * identity's, or NAME~old's through a renewal's grace period. A signature
 * that met a renewal's object change is made once more once it is over.
 * A failed signature publishes an event; a successful one publishes
 * nothing.
 */
#ifndef TESSERA_AGENT_SIGNER_H
#define TESSERA_AGENT_SIGNER_H

#include "../common/errors.h"
#include "../common/messages.h"

struct agent;
struct agent_peer;

/*
 * One SIGN for peer (the program asking; peer.h): the identity's policy
 * (policy.h), the signature, and when the token is locked and its PIN may
 * be typed, the PIN prompt first (prompt.h); recorded in the log of uses
 * (uses.h) whatever the outcome.
 */
int agent_sign(struct agent *agent, const struct tessera_sign_request *req,
               const struct agent_peer *peer, struct tessera_blob *signature,
               struct tessera_status *st);

/* RSA PKCS#1 v1.5 decryption with an identity's key: the agent's own use
 * (the key of a SCEP reply), never offered to clients. */
int agent_decrypt_rsa(struct agent *agent, const char *name,
                      struct tessera_bytes ciphertext,
                      struct tessera_blob *plain, struct tessera_status *st);

#endif
