/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token watch: tokens that appear, leave and return, idle locking,
 * and the once-a-second look of renewals (watch.c).
 */
#ifndef TESSERA_AGENT_WATCH_H
#define TESSERA_AGENT_WATCH_H

struct agent;
struct agent_watch;

struct agent_watch *agent_watch_start(struct agent *agent);
/* Stops polling and the slot-event threads that can stop; those that
 * cannot keep their module loaded (modules_hold); agent_watch_finish
 * after the modules are unloaded. */
void agent_watch_stop(struct agent_watch *watch);
void agent_watch_finish(struct agent_watch *watch);

#endif
