/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log lines that repeat as fast as clients ask (a signature failing on a
 * token that vanished: thousands a second) are logged once per key in
 * each RATELOG_WINDOW_SECONDS; the repeats are counted, and the count is
 * logged with the last of them when the window ends. The journal is never
 * flooded and nothing is hidden. The key is the line itself: different
 * failures of one identity are each seen.
 */
#ifndef TESSERA_AGENT_RATELOG_H
#define TESSERA_AGENT_RATELOG_H

#define RATELOG_WINDOW_SECONDS 10

/* Logs the line (g_message), or counts it when the same line was logged
 * less than a window ago. Any thread. */
void ratelog_message(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
