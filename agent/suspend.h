/* SPDX-License-Identifier: Apache-2.0 */
/* Lock on suspend through logind on the system bus (suspend.c). */
#ifndef TESSERA_AGENT_SUSPEND_H
#define TESSERA_AGENT_SUSPEND_H

struct agent;
struct agent_suspend;

/* NULL when no token wants it, or without a system bus. */
struct agent_suspend *agent_suspend_start(struct agent *agent);
void agent_suspend_stop(struct agent_suspend *suspend);

#endif
