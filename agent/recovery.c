/* SPDX-License-Identifier: Apache-2.0 */
#include "recovery.h"

static enum recovery_action
due_action(enum journal_phase phase)
{
    switch (phase) {
    case JOURNAL_GENERATING:
    case JOURNAL_REQUESTING:
        return RECOVERY_ROLL_BACK;
    case JOURNAL_ISSUED:
    case JOURNAL_SWITCHING:
        return RECOVERY_FINISH;
    case JOURNAL_GRACE:
        return RECOVERY_END_GRACE;
    case JOURNAL_PENDING:
        return RECOVERY_ASK_AGAIN;
    }
    return RECOVERY_NOTHING;
}

enum recovery_action
recovery_decide(const struct recovery_facts *f)
{
    /* Its owner is at work: the journal is the owner's, not a leftover. */
    if (f->claimed)
        return RECOVERY_NOTHING;
    if (f->phase == JOURNAL_GRACE && f->now < f->grace_until)
        return RECOVERY_NOTHING;
    if (f->phase == JOURNAL_PENDING && f->settle)
        return f->token == RECOVERY_TOKEN_READY ? RECOVERY_ROLL_BACK
                                                : RECOVERY_WAIT;
    if (f->phase == JOURNAL_PENDING && f->now < f->next_try)
        return RECOVERY_NOTHING;
    if (f->token != RECOVERY_TOKEN_READY)
        return RECOVERY_WAIT;
    return due_action(f->phase);
}
