/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enrolment record, $XDG_STATE_HOME/tessera/enrolled/NAME.conf: what
 * `tessera enroll` asked for, which renewal asks for again, and the CA's
 * latest renewal advice.
 */
#ifndef TESSERA_AGENT_RECORD_H
#define TESSERA_AGENT_RECORD_H

#include "../common/errors.h"

#include <glib.h>

struct agent_state;

struct enrolment_record {
    char *ca, *key_spec, *subject;
    char **sans;        /* NULL-terminated, may be NULL */
    gint64 renew_after; /* the CA's advice (RFC 9773), 0 if none */
};

/* FALSE when NAME has no (complete) record. */
gboolean record_read(const struct agent_state *state, const char *name,
                     struct enrolment_record *out);
int record_write(const struct agent_state *state, const char *name,
                 const struct enrolment_record *record,
                 struct tessera_status *st);
/* After a renewal: the CA's new advice replaces the old, or the old goes. */
void record_renewed(const struct agent_state *state, const char *name,
                    gint64 renew_after, gint64 now);
/* Removes NAME's record; no record is not an error. */
int record_remove(const struct agent_state *state, const char *name,
                  struct tessera_status *st);
void record_clear(struct enrolment_record *record);

#endif
