/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The record of every use: each signature and each refusal is one
 * structured log entry (journald fields TESSERA_IDENTITY, TESSERA_TOKEN,
 * TESSERA_KEY_TYPE, TESSERA_PROGRAM, TESSERA_PID, TESSERA_OUTCOME,
 * TESSERA_COUNT; never a PIN or a digest), and the recent ones are kept in
 * a bounded ring for `tessera log` and D-Bus. A program (an executable,
 * whatever its processes) that signs many times a second makes one entry
 * per interval: the first use is logged at once, the rest of the interval
 * once, with its count and last pid, when it is over.
 * Any thread.
 */
#ifndef TESSERA_AGENT_USES_H
#define TESSERA_AGENT_USES_H

#include "../common/messages.h"
#include "peer.h"

#include <glib.h>

/* The ring's size: what `tessera log` can show. */
#define USES_KEPT 128

struct agent_uses;

struct agent_uses *agent_uses_new(void);
void agent_uses_free(struct agent_uses *uses);

/* One use: outcome is TESSERA_OK for a signature, else its refusal's
 * code; interval in seconds (0: every use its own entry). */
struct use {
    const char *identity;
    const char *token; /* "" when the identity is unknown */
    uint8_t key_type;  /* enum tessera_key_type */
    const struct agent_peer *peer;
    int outcome;
};
void agent_uses_record(struct agent_uses *uses, const struct use *use,
                       unsigned interval);
/* Logs the counts of intervals that are over. */
void agent_uses_flush(struct agent_uses *uses);
/* The recent uses of identity (NULL: all), oldest first; the caller
 * frees it with tessera_use_list_clear. */
void agent_uses_recent(struct agent_uses *uses, const char *identity,
                       struct tessera_use_list *out);

#endif
