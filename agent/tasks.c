/* SPDX-License-Identifier: Apache-2.0 */
#include "tasks.h"
#include "agent.h"

#include <gio/gio.h>

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

/* Enough for every renewal of a laptop's identities to wait at once; more
 * are queued. */
#define CA_POOL_THREADS 8

static void
run_ca_job(gpointer data, gpointer unused)
{
    (void)unused;
    struct job *job = data;
    job->func(job->data);
    job_free(job);
}

void
agent_ca_pool_start(struct agent *agent)
{
    agent->ca_pool =
        g_thread_pool_new(run_ca_job, NULL, CA_POOL_THREADS, FALSE, NULL);
}

void
agent_ca_pool_stop(struct agent *agent)
{
    if (agent->ca_pool != NULL)
        g_thread_pool_free(agent->ca_pool, FALSE, TRUE);
    agent->ca_pool = NULL;
}

void
agent_run_ca_job(struct agent *agent, void (*func)(gpointer data),
                 gpointer data, GDestroyNotify free_data)
{
    struct job *job = g_new(struct job, 1);
    *job = (struct job){func, data, free_data};
    g_thread_pool_push(agent->ca_pool, job, NULL);
}
