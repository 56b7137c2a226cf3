/* SPDX-License-Identifier: Apache-2.0 */
#include "agent.h"

void
agent_run_in_thread(GTaskThreadFunc func, gpointer data,
                    GDestroyNotify free_data)
{
    GTask *task = g_task_new(NULL, NULL, NULL, NULL);
    g_task_set_task_data(task, data, free_data);
    g_task_run_in_thread(task, func);
    g_object_unref(task);
}
