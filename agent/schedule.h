/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When renewals happen: pure arithmetic over a certificate's dates and the
 * renewal policy (docs/architecture.md, Renewal), apart from renew.c so
 * that the unit tests check it without an agent.
 */
#ifndef TESSERA_SCHEDULE_H
#define TESSERA_SCHEDULE_H

#include <glib.h>

struct renewal_policy {
    gint64 at_percent, jitter_percent, floor_seconds, grace_seconds;
    gint64 retry_min, retry_max;
    gboolean rekey;
};

/*
 * The time (seconds since the epoch) to renew a certificate of name valid
 * from not_before to not_after: at_percent of its lifetime, moved by up to
 * jitter_percent of it (fixed per name and certificate, so the time shown
 * does not wander), the CA's renew_after if earlier (0: none), and never
 * later than the floor (at most a tenth of the lifetime) before expiry.
 */
gint64 renewal_time(const char *name, gint64 not_before, gint64 not_after,
                    gint64 renew_after, const struct renewal_policy *p);

/*
 * Seconds to wait after the failures-th failure in a row: retry_min
 * doubling up to retry_max, then drawn between half and all of it (random
 * is uniform in 0..G_MAXUINT32); retry_max at once after a rejection.
 */
gint64 renewal_backoff(const struct renewal_policy *p, guint failures,
                       gboolean rejected, guint32 random);

#endif
