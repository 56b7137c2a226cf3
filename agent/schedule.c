/* SPDX-License-Identifier: Apache-2.0 */
#include "schedule.h"

gint64
renewal_time(const char *name, gint64 not_before, gint64 not_after,
             gint64 renew_after, const struct renewal_policy *p)
{
    gint64 lifetime = MAX(not_after - not_before, 1);
    gint64 t = not_before + lifetime * p->at_percent / 100;
    char *seed = g_strdup_printf("%s/%" G_GINT64_FORMAT, name, not_after);
    guint spread = g_str_hash(seed) % 2001; /* 0..2000 */
    g_free(seed);
    t += lifetime * p->jitter_percent * ((gint64)spread - 1000) / 100000;
    if (renew_after > 0 && renew_after < t)
        t = renew_after;
    gint64 floor = MIN(p->floor_seconds, lifetime / 10);
    return MIN(t, not_after - floor);
}

gint64
renewal_backoff(const struct renewal_policy *p, guint failures,
                gboolean rejected, guint32 random)
{
    if (rejected)
        return p->retry_max;
    gint64 delay = p->retry_min;
    for (guint i = 1; i < failures && delay < p->retry_max; i++)
        delay *= 2;
    delay = MIN(delay, p->retry_max);
    /* So that clients who failed together do not come back together. */
    return delay / 2 + (gint64)(random % (guint64)(delay / 2 + 1));
}
