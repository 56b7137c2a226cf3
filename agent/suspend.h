/* SPDX-License-Identifier: Apache-2.0 */
/* Lock on suspend through logind on the system bus (suspend.c). */
#ifndef TESSERA_AGENT_SUSPEND_H
#define TESSERA_AGENT_SUSPEND_H

struct agent;

void agent_suspend_start(struct agent *agent);
void agent_suspend_stop(struct agent *agent);

#endif
