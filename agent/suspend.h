/* SPDX-License-Identifier: Apache-2.0 */
/* Lock on suspend through logind on the system bus (suspend.c). */
#ifndef TESSERA_AGENT_SUSPEND_H
#define TESSERA_AGENT_SUSPEND_H

struct agent;
struct agent_suspend;

/* Listens to logind once a token wants it (at start, or from a reload
 * on); without a system bus the agent says that this is off. */
struct agent_suspend *agent_suspend_start(struct agent *agent);
void agent_suspend_stop(struct agent_suspend *suspend);

#endif
