/* SPDX-License-Identifier: Apache-2.0 */
/* What recovery does with a journal (agent/recovery.c), for every phase,
 * token state, claim and time: the table of docs/architecture.md. */
#include "../../agent/recovery.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define NOW 1000000

static enum recovery_action
decide(enum journal_phase phase, enum recovery_token token, gboolean claimed,
       gint64 grace_until)
{
    struct recovery_facts f = {.phase = phase,
                               .token = token,
                               .claimed = claimed,
                               .now = NOW,
                               .grace_until = grace_until};
    return recovery_decide(&f);
}

/* Unclaimed, token ready, grace over: each phase's own action. */
static void
test_each_phase_when_ready(void **state)
{
    (void)state;
    static const enum recovery_action want[JOURNAL_PHASES] = {
        [JOURNAL_GENERATING] = RECOVERY_ROLL_BACK,
        [JOURNAL_REQUESTING] = RECOVERY_ROLL_BACK,
        [JOURNAL_PENDING] = RECOVERY_ASK_AGAIN,
        [JOURNAL_ISSUED] = RECOVERY_FINISH,
        [JOURNAL_SWITCHING] = RECOVERY_FINISH,
        [JOURNAL_GRACE] = RECOVERY_END_GRACE,
    };
    for (int p = 0; p < JOURNAL_PHASES; p++)
        assert_int_equal(decide(p, RECOVERY_TOKEN_READY, FALSE, NOW), want[p]);
}

/* A claimed journal belongs to a renewal at work: never touched, whatever
 * the phase, token or time. */
static void
test_claimed_is_never_touched(void **state)
{
    (void)state;
    for (int p = 0; p < JOURNAL_PHASES; p++)
        for (int t = RECOVERY_TOKEN_ABSENT; t <= RECOVERY_TOKEN_READY; t++) {
            assert_int_equal(decide(p, t, TRUE, 0), RECOVERY_NOTHING);
            assert_int_equal(decide(p, t, TRUE, NOW + 60), RECOVERY_NOTHING);
        }
}

/* An absent or locked token: the work waits for it, except a grace period
 * that has not ended, which needs nothing yet. */
static void
test_token_not_ready(void **state)
{
    (void)state;
    enum recovery_token not_ready[] = {RECOVERY_TOKEN_ABSENT,
                                       RECOVERY_TOKEN_LOCKED};
    for (size_t i = 0; i < G_N_ELEMENTS(not_ready); i++) {
        for (int p = 0; p < JOURNAL_PHASES; p++)
            assert_int_equal(decide(p, not_ready[i], FALSE, NOW),
                             RECOVERY_WAIT);
        assert_int_equal(decide(JOURNAL_GRACE, not_ready[i], FALSE, NOW + 1),
                         RECOVERY_NOTHING);
    }
}

/* The grace period ends at grace_until, not a second before; the other
 * phases do not look at it. */
static void
test_grace_time(void **state)
{
    (void)state;
    assert_int_equal(
        decide(JOURNAL_GRACE, RECOVERY_TOKEN_READY, FALSE, NOW + 1),
        RECOVERY_NOTHING);
    assert_int_equal(decide(JOURNAL_GRACE, RECOVERY_TOKEN_READY, FALSE, NOW),
                     RECOVERY_END_GRACE);
    assert_int_equal(decide(JOURNAL_GRACE, RECOVERY_TOKEN_READY, FALSE, 0),
                     RECOVERY_END_GRACE);
    assert_int_equal(
        decide(JOURNAL_REQUESTING, RECOVERY_TOKEN_READY, FALSE, NOW + 99),
        RECOVERY_ROLL_BACK);
    assert_int_equal(
        decide(JOURNAL_SWITCHING, RECOVERY_TOKEN_READY, FALSE, NOW + 99),
        RECOVERY_FINISH);
}

static enum recovery_action
decide_pending(enum recovery_token token, gint64 next_try, gboolean settle)
{
    struct recovery_facts f = {.phase = JOURNAL_PENDING,
                               .token = token,
                               .now = NOW,
                               .next_try = next_try,
                               .settle = settle};
    return recovery_decide(&f);
}

/* A pending enrolment is asked again at next_try, not a second before,
 * and given up (its key goes) only when it must come to an end. */
static void
test_pending(void **state)
{
    (void)state;
    assert_int_equal(decide_pending(RECOVERY_TOKEN_READY, NOW + 1, FALSE),
                     RECOVERY_NOTHING);
    assert_int_equal(decide_pending(RECOVERY_TOKEN_READY, NOW, FALSE),
                     RECOVERY_ASK_AGAIN);
    assert_int_equal(decide_pending(RECOVERY_TOKEN_LOCKED, NOW + 1, FALSE),
                     RECOVERY_NOTHING);
    assert_int_equal(decide_pending(RECOVERY_TOKEN_ABSENT, NOW - 1, FALSE),
                     RECOVERY_WAIT);
    assert_int_equal(decide_pending(RECOVERY_TOKEN_READY, NOW + 99, TRUE),
                     RECOVERY_ROLL_BACK);
    assert_int_equal(decide_pending(RECOVERY_TOKEN_LOCKED, NOW + 99, TRUE),
                     RECOVERY_WAIT);
    /* Settling leaves the other phases as they were. */
    struct recovery_facts f = {.phase = JOURNAL_ISSUED,
                               .token = RECOVERY_TOKEN_READY,
                               .now = NOW,
                               .settle = TRUE};
    assert_int_equal(recovery_decide(&f), RECOVERY_FINISH);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_phase_when_ready),
        cmocka_unit_test(test_claimed_is_never_touched),
        cmocka_unit_test(test_token_not_ready),
        cmocka_unit_test(test_grace_time),
        cmocka_unit_test(test_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
