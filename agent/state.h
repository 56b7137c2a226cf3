/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent keeps between runs, under its state directory
 * ($XDG_STATE_HOME/tessera): the chains above token certificates
 * (chains/), enrolment records (enrolled/) and renewal journals
 * (renewals/). This module alone knows that layout.
 */
#ifndef TESSERA_AGENT_STATE_H
#define TESSERA_AGENT_STATE_H

#include <glib.h>

/* chains/<token serial>-<key id>.pem */
char *state_chain_path(const char *state_dir, const char *token_serial,
                       GBytes *key_id);
/* enrolled/NAME.conf */
char *state_record_path(const char *state_dir, const char *name);
/* renewals/ */
char *state_journal_dir(const char *state_dir);

#endif
