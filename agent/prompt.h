/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Asking the user, through pinentry, for what a signature needs: the PIN
 * of a locked token whose pin-source is prompt, and whether a program may
 * use an identity (confirm=). On the requesting thread (a connection's,
 * a renewal's), never the main loop, and with no token lock held: the
 * login itself is token_login's. One question per token (or per program
 * and identity) is on screen at a time and every request waiting for it
 * shares its answer; one pinentry runs at a time. Nothing typed is ever
 * sent to the token again by itself; a wrong PIN opens the prompt again
 * with the tries the token says are left.
 */
#ifndef TESSERA_AGENT_PROMPT_H
#define TESSERA_AGENT_PROMPT_H

#include "../common/errors.h"
#include "agent.h"
#include "peer.h"
#include "tokens.h"

#include <glib.h>

struct agent_prompts;

struct agent_prompts *agent_prompts_new(void);
void agent_prompts_free(struct agent_prompts *prompts);

/*
 * The locked token's PIN from the user, for identity and the program
 * peer. TRUE when the token is logged in now. FALSE with st unchanged
 * when no prompt can be shown (pin-source is not prompt, no pinentry, no
 * display or terminal known): the caller's "locked" stands; FALSE with st
 * replaced when the user cancelled, nobody answered in time
 * (prompt-seconds) or the login failed.
 */
gboolean prompt_unlock(struct agent *agent, struct agent_token *token,
                       const char *identity, const struct agent_peer *peer,
                       struct tessera_status *st);

/* Whether the user lets peer use identity (pinentry CONFIRM); FALSE with
 * st when not, or when nobody can be asked. */
gboolean prompt_confirm(struct agent *agent, const char *identity,
                        const struct agent_peer *peer,
                        struct tessera_status *st);

#endif
