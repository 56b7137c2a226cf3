/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The journaled steps of a renewal or an enrolment, each on disk before its
 * side effect: request (the next key, its CSR, the CA's answer), finish
 * (store, switch, record, grace), roll back, end of grace. The drivers
 * (renew.c, enroll/enroll.c) run them in order; recovery (recover.c) runs
 * the one recovery_decide names after a crash.
 */
#ifndef TESSERA_AGENT_STEPS_H
#define TESSERA_AGENT_STEPS_H

#include "../common/transport.h"
#include "journal.h"

#include <gio/gio.h>

struct agent;
struct agent_token;
struct enroll_result;

/* $XDG_STATE_HOME/tessera/renewals: the journals. */
char *agent_journal_dir(const struct agent *agent);
/* The journal directory exists and nobody else can write it: a journal
 * written anywhere else would not be trusted by recovery. */
gboolean agent_journal_ready(struct agent *agent, struct tessera_status *st);

/* What the CA is asked for, and how long to wait. */
struct journal_request {
    const char *subject;
    char *const *sans;    /* NULL-terminated, or NULL */
    const char *renewing; /* the identity being renewed, or NULL */
    long timeout_seconds;
    int client_fd; /* hung up: cancel while pending; -1 for none */
};

/* GENERATING, REQUESTING, ISSUED: the next key (NAME~next, unless a
 * renewal keeps its key), a CSR signed by it, the CA's chain kept in j. */
int agent_journal_request(struct agent *agent, struct agent_token *token,
                          const char *name, struct journal *j,
                          const struct journal_request *req,
                          struct tessera_status *st);
/*
 * An enrolment whose CA still said pending when its client stopped
 * waiting: PENDING, the key named NAME (listed, without a certificate),
 * the CA asked again from the once-a-second look (recover.c).
 */
int agent_journal_keep_pending(struct agent *agent, struct agent_token *token,
                               const char *name, struct journal *j,
                               struct tessera_status *st);
/* From PENDING, once: 0 the CA issued (ISSUED, to finish), 1 still pending
 * or not reachable (PENDING, its next try) or nothing to ask for any more
 * (the key NAME has a certificate: the journal goes), -1 with st: it
 * refused or the
 * answer is unusable (rolled back: the key goes), or the journal could not
 * be written. */
int agent_journal_ask_again(struct agent *agent, struct agent_token *token,
                            const char *name, struct journal *j,
                            struct tessera_status *st);
/* From ISSUED: the certificate stored, the keys switched, the record
 * written; a renewal enters its grace period, an enrolment is done. */
int agent_journal_finish(struct agent *agent, struct agent_token *token,
                         const char *name, struct journal *j,
                         struct tessera_status *st);
/* Before the CA answered: the next key goes, then the journal. */
void agent_journal_roll_back(struct agent *agent, struct agent_token *token,
                             const char *name, const struct journal *j);
/* The replaced key goes (rekey), then the journal. */
int agent_journal_end_grace(struct agent *agent, struct agent_token *token,
                            const char *name, const struct journal *j,
                            struct tessera_status *st);

#endif
