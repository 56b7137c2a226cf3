/* SPDX-License-Identifier: Apache-2.0 */
/* When renewals happen (agent/schedule.c): percentage, jitter, the CA's
 * advice, the floor before expiry, and the backoff after failures. */
#include "../../agent/schedule.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static const struct renewal_policy defaults = {
    .at_percent = 67,
    .jitter_percent = 5,
    .floor_seconds = 86400,
    .retry_min = 60,
    .retry_max = 6 * 3600,
};

#define DAY 86400

static void
test_percentage_without_jitter(void **state)
{
    (void)state;
    struct renewal_policy p = defaults;
    p.at_percent = 50;
    p.jitter_percent = 0;
    assert_int_equal(renewal_time("wifi", 1000, 1030, 0, &p), 1015);
    p.at_percent = 67;
    assert_int_equal(renewal_time("laptop", 0, 90 * DAY, 0, &p),
                     90 * DAY * 67 / 100);
}

/* Within the jitter, fixed per name and certificate, spread over names. */
static void
test_jitter(void **state)
{
    (void)state;
    gint64 lifetime = 90 * DAY, base = lifetime * 67 / 100;
    gint64 low = G_MAXINT64, high = 0;
    for (int i = 0; i < 200; i++) {
        char name[16];
        g_snprintf(name, sizeof(name), "host%d", i);
        gint64 t = renewal_time(name, 0, lifetime, 0, &defaults);
        assert_true(t >= base - lifetime * 5 / 100);
        assert_true(t <= base + lifetime * 5 / 100);
        assert_int_equal(t, renewal_time(name, 0, lifetime, 0, &defaults));
        low = MIN(low, t);
        high = MAX(high, t);
    }
    /* 200 hosts spread over most of the +-5% (9 days) window. */
    assert_true(high - low > 6 * DAY);
}

static void
test_renewal_information(void **state)
{
    (void)state;
    struct renewal_policy p = defaults;
    p.jitter_percent = 0;
    gint64 scheduled = renewal_time("a", 0, 90 * DAY, 0, &p);
    assert_int_equal(renewal_time("a", 0, 90 * DAY, 10 * DAY, &p), 10 * DAY);
    /* Later advice does not postpone. */
    assert_int_equal(renewal_time("a", 0, 90 * DAY, 80 * DAY, &p), scheduled);
}

static void
test_floor(void **state)
{
    (void)state;
    struct renewal_policy p = defaults;
    p.at_percent = 95;
    p.jitter_percent = 0;
    /* 95% of 10 days is 12 h before expiry: the 1-day floor wins. */
    assert_int_equal(renewal_time("a", 0, 10 * DAY, 0, &p), 9 * DAY);
    /* Short-lived: the floor is at most a tenth of the lifetime. */
    assert_int_equal(renewal_time("a", 0, 100, 0, &p), 90);
    /* A date-less certificate does not divide by zero. */
    assert_true(renewal_time("a", 50, 50, 0, &p) <= 50);
}

static void
test_backoff(void **state)
{
    (void)state;
    gint64 delay = 60;
    for (guint failures = 1; failures <= 12; failures++) {
        gint64 cap = MIN(delay, defaults.retry_max);
        assert_int_equal(renewal_backoff(&defaults, failures, FALSE, 0),
                         cap / 2);
        assert_int_equal(
            renewal_backoff(&defaults, failures, FALSE, G_MAXUINT32 - 1),
            cap / 2 + (G_MAXUINT32 - 1) % (cap / 2 + 1));
        assert_true(renewal_backoff(&defaults, failures, FALSE, 12345) <= cap);
        delay *= 2;
    }
    assert_int_equal(renewal_backoff(&defaults, 1, TRUE, 7),
                     defaults.retry_max);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentage_without_jitter),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_renewal_information),
        cmocka_unit_test(test_floor),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
