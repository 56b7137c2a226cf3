/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What to do with a journal found on disk: a pure function of what is
 * known at that moment, so that every case is a unit test
 * (tests/unit/test_recovery.c) and the table in docs/architecture.md
 * (Renewal) is the code.
 */
#ifndef TESSERA_AGENT_RECOVERY_H
#define TESSERA_AGENT_RECOVERY_H

#include "journal.h"

#include <glib.h>

enum recovery_token {
    RECOVERY_TOKEN_ABSENT, /* not found, or not answering */
    RECOVERY_TOKEN_LOCKED, /* present, not logged in */
    RECOVERY_TOKEN_READY,
};

struct recovery_facts {
    enum journal_phase phase;
    enum recovery_token token;
    gboolean claimed; /* a renewal or enrolment of the identity runs */
    gint64 now, grace_until;
    gint64 next_try; /* PENDING: when the CA is asked again */
    /* The journal must come to an end now (before another enrolment of
     * the name, a Forget): a pending one is given up. */
    gboolean settle;
};

enum recovery_action {
    RECOVERY_NOTHING,   /* nothing to do now */
    RECOVERY_WAIT,      /* something to do once the token is ready */
    RECOVERY_ROLL_BACK, /* the CA had not answered: undo the attempt */
    RECOVERY_FINISH,    /* the CA had answered: store, switch */
    RECOVERY_END_GRACE, /* destroy the replaced key, forget the journal */
    RECOVERY_ASK_AGAIN, /* a pending enrolment's time to ask the CA again */
};

enum recovery_action recovery_decide(const struct recovery_facts *f);

#endif
