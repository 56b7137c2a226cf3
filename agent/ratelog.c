/* SPDX-License-Identifier: Apache-2.0 */
#include "ratelog.h"

#include <glib.h>

struct window {
    gint64 start_us;  /* when the line was last logged */
    unsigned repeats; /* counted since, not logged */
    gboolean flush_pending;
};

static GMutex lock;
static GHashTable *windows; /* line -> struct window */

/* At a window's end, in the main loop: what it counted. */
static gboolean
flush_window(gpointer line)
{
    g_mutex_lock(&lock);
    struct window *w = g_hash_table_lookup(windows, line);
    unsigned repeats = w->repeats;
    w->repeats = 0;
    w->flush_pending = FALSE;
    g_mutex_unlock(&lock);
    if (repeats > 0)
        g_message("%s (%u more times in %d s, logged once)", (const char *)line,
                  repeats, RATELOG_WINDOW_SECONDS);
    return G_SOURCE_REMOVE;
}

void
ratelog_message(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    gint64 now = g_get_monotonic_time(),
           window_us = RATELOG_WINDOW_SECONDS * G_USEC_PER_SEC;
    g_mutex_lock(&lock);
    if (windows == NULL)
        windows =
            g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    struct window *w = g_hash_table_lookup(windows, text);
    if (w == NULL) {
        w = g_new0(struct window, 1);
        g_hash_table_insert(windows, g_strdup(text), w);
    } else if (now - w->start_us < window_us) {
        w->repeats++;
        if (!w->flush_pending) {
            w->flush_pending = TRUE;
            guint ms = (guint)((w->start_us + window_us - now) / 1000) + 1;
            g_timeout_add_full(G_PRIORITY_DEFAULT, ms, flush_window,
                               g_strdup(text), g_free);
        }
        g_mutex_unlock(&lock);
        g_free(text);
        return;
    }
    w->start_us = now;
    g_mutex_unlock(&lock);
    g_message("%s", text);
    g_free(text);
}
