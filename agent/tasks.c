/* SPDX-License-Identifier: Apache-2.0 */
#include "agent.h"

struct job {
    void (*func)(gpointer data);
    gpointer data;
    GDestroyNotify free_data;
};

static void
job_free(struct job *job)
{
    if (job->free_data != NULL)
        job->free_data(job->data);
    g_free(job);
}

static void
run_job(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    (void)task;
    (void)source;
    (void)cancel;
    struct job *job = data;
    job->func(job->data);
}

void
agent_run_in_thread(void (*func)(gpointer data), gpointer data,
                    GDestroyNotify free_data)
{
    struct job *job = g_new(struct job, 1);
    *job = (struct job){func, data, free_data};
    GTask *task = g_task_new(NULL, NULL, NULL, NULL);
    g_task_set_task_data(task, job, (GDestroyNotify)job_free);
    g_task_run_in_thread(task, run_job);
    g_object_unref(task);
}
