/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tokens: one object per token a module shows, kept across rescans with
 * its session pool and its login. The object is opaque: the rest of the
 * agent asks it what it is and what state it is in.
 *
 * Threads and locks. Any thread may use a token. Its state lock guards
 * the session pool and the login session and is held only to read or
 * change them, never across a PKCS#11 call that may wait (p11.h). A login
 * or logout marks the token busy and talks to it without the lock; a
 * second one waits for the first on a condition. What the token last said
 * (present, logged in, its flags, last use) is read without waiting for
 * anything, so a PIN pad being typed on stalls neither the main loop, nor
 * `tessera list`, nor the signers.
 */
#ifndef TESSERA_AGENT_TOKENS_H
#define TESSERA_AGENT_TOKENS_H

#include "../common/errors.h"
#include "../common/keyspec.h"
#include "../common/messages.h"
#include "events.h"
#include "modules.h"

#include <glib.h>
#include <p11-kit/pkcs11.h>

struct agent_token;

/*
 * The tokens the modules show now and were not known (the same objects,
 * present or not, in known), after those known. A new token has a
 * session pool of at most max_sessions (less when the token allows
 * fewer), and tells events when its login, presence or PIN counters
 * change (AGENT_EVENT_TOKEN_CHANGED).
 */
GPtrArray *tokens_merge(const struct agent_modules *modules,
                        unsigned max_sessions, struct agent_events *events,
                        GPtrArray *known);
struct agent_token *token_ref(struct agent_token *t);
void token_unref(struct agent_token *t);

/* What it is: fixed for the token's life. */
const char *token_label(const struct agent_token *t);
const char *token_serial(const struct agent_token *t);
const char *token_manufacturer(const struct agent_token *t);
const char *token_model(const struct agent_token *t);
const char *token_module_name(const struct agent_token *t);
/* Cannot make keys: write-protected, or no key-pair generation. */
gboolean token_read_only(const struct agent_token *t);
/* The token says whether it can make keys of spec; FALSE with st. */
gboolean token_can_make(struct agent_token *t,
                        const struct tessera_keyspec *spec,
                        struct tessera_status *st);

/* What the agent last heard; no PKCS#11 call, no waiting. */
gboolean token_present(struct agent_token *t);
gboolean token_logged_in(struct agent_token *t);
/* Private objects need a login (CKF_LOGIN_REQUIRED). */
gboolean token_login_required(struct agent_token *t);
/* TESSERA_TOKEN_* */
uint32_t token_state(struct agent_token *t);
/* Monotonic us of the last signature or login. */
gint64 token_last_used(struct agent_token *t);
/* Asks the token (PKCS#11) and describes it. */
void token_info(struct agent_token *t, struct tessera_token_info *out);

/*
 * Asks the token whether it is in its reader and marks it so. One that
 * comes back after being pulled out has lost its sessions and its login:
 * ours are closed and it starts locked. TRUE when it has just come back.
 */
gboolean token_check_presence(struct agent_token *t);
/* Answers C_GetTokenInfo now; changes nothing. */
gboolean token_answers(struct agent_token *t);

/*
 * Logs in once with the PIN (pin_len 0 on a PIN-pad token: the pad asks).
 * A wrong PIN is reported and never retried; at the final try only force
 * may spend it. On a token logged in already the PIN is checked without
 * losing the login.
 */
int token_login(struct agent_token *t, const uint8_t *pin, size_t pin_len,
                gboolean force, struct tessera_status *st);
/* One login with the PIN in the file (common/pinfile.c's rules); a file
 * whose PIN was wrong is refused until it changes. */
int token_login_from_file(struct agent_token *t, const char *path,
                          struct tessera_status *st);
int token_logout(struct agent_token *t, struct tessera_status *st);

/* A session: from the pool (token_session_take), or a read-write one of
 * its own (token_session_open). */
struct token_session {
    struct agent_token *token; /* borrowed */
    CK_FUNCTION_LIST *module;
    CK_SESSION_HANDLE handle;
    gboolean pooled;
};
/* Waits while the token's session limit is reached. */
int token_session_take(struct agent_token *t, struct token_session *s,
                       struct tessera_status *st);
/* what: the step the session is for, named when it cannot be opened. */
int token_session_open(struct agent_token *t, const char *what,
                       struct token_session *s, struct tessera_status *st);
/* broken: a pooled session is closed, not returned. */
void token_session_end(struct token_session *s, gboolean broken);

/* One private key to sign or decrypt with. */
struct token_key {
    const char *name; /* the identity, for messages */
    GBytes *id;
    gint64 *handle; /* cached CK_OBJECT_HANDLE, -1 unknown; atomic */
    gboolean always_authenticate;
};
struct token_operation {
    gboolean decrypt; /* C_Decrypt instead of C_Sign */
    CK_MECHANISM mechanism;
    const uint8_t *input;
    size_t input_len;
};
/*
 * The signing path, on the calling thread: a pooled session, the key's
 * handle (found once, cached), C_SignInit and C_Sign. A stale session or
 * key handle is replaced and the operation tried again; a key that wants
 * the user every time (CKA_ALWAYS_AUTHENTICATE) is confirmed on the PIN
 * pad; a card pulled out midway is reported as absent. No lock is held
 * across C_Sign.
 */
int token_sign(struct agent_token *t, const struct token_key *key,
               struct token_operation *op, struct tessera_blob *out,
               struct tessera_status *st);

/*
 * A renewal's steps bracket their object changes with these. While another
 * session relabels a key, SoftHSM2 can report the key's handle invalid and
 * find nothing by its id; a signature that meets that waits for the change
 * to end (token_objects_settle: TRUE when a change ended after generation
 * was read) and tries the same key again.
 */
void token_objects_changing(struct agent_token *t);
void token_objects_changed(struct agent_token *t);
unsigned token_objects_generation(struct agent_token *t);
gboolean token_objects_settle(struct agent_token *t, unsigned generation);

#endif
