/* SPDX-License-Identifier: Apache-2.0 */
/* Work off the main loop: GLib's shared pool, and a pool for CA waits. */
#ifndef TESSERA_AGENT_TASKS_H
#define TESSERA_AGENT_TASKS_H

#include <glib.h>

struct agent;

/* Work that may block on a token, on GLib's shared task pool. */
void agent_run_in_thread(void (*func)(gpointer data), gpointer data,
                         GDestroyNotify free_data);
/* Work that waits on a CA (renewals, D-Bus Enroll and Renew), up to its
 * profile's timeout, on a pool of its own: it never holds up the shared
 * pool that the look, token calls and D-Bus use. */
void agent_ca_pool_start(struct agent *agent);
/* Runs what is queued, then ends the pool's threads. */
void agent_ca_pool_stop(struct agent *agent);
void agent_run_ca_job(struct agent *agent, void (*func)(gpointer data),
                      gpointer data, GDestroyNotify free_data);

#endif
