/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tokens that appear, leave and come back without anyone asking for a
 * rescan. Every [agent] slot-poll-seconds a worker thread lists each
 * module's slots and tokens; when that picture changes it rescans, which
 * marks tokens absent or back and adds new ones (docs/architecture.md,
 * "Tokens that come and go"). The main loop only starts the worker, so a
 * slow token never stalls the agent. SoftHSM2, tpm2-pkcs11 and p11-kit's
 * proxy have no C_WaitForSlotEvent, so polling is the common path; waiting
 * for slot events where a module offers them (OpenSC) is not built yet.
 */
#include "agent.h"

#include <string.h>

struct agent_hotplug {
    struct agent *agent;
    guint timer;
    gint busy;  /* atomic: a worker is looking */
    char *seen; /* the last picture; only the worker touches it */
};

/* Module, slot, label and serial of every present token, as one string. */
static char *
slot_picture(struct agent *agent)
{
    GString *picture = g_string_new(NULL);
    guint index = 0;
    for (CK_FUNCTION_LIST **m = agent->modules; m && *m; m++, index++) {
        CK_SLOT_ID slots[32];
        CK_ULONG n = G_N_ELEMENTS(slots);
        if ((*m)->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
            continue;
        for (CK_ULONG i = 0; i < n; i++) {
            CK_TOKEN_INFO info;
            if ((*m)->C_GetTokenInfo(slots[i], &info) != CKR_OK)
                continue;
            g_string_append_printf(picture, "%u/%lu/%.32s/%.16s;", index,
                                   (unsigned long)slots[i], info.label,
                                   info.serialNumber);
        }
    }
    return g_string_free(picture, FALSE);
}

static void
look(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    (void)task;
    (void)source;
    (void)cancel;
    struct agent_hotplug *h = data;
    char *picture = slot_picture(h->agent);
    if (h->seen != NULL && strcmp(picture, h->seen) != 0) {
        g_message("the tokens changed: rescanning");
        agent_rescan(h->agent);
    }
    g_free(h->seen);
    h->seen = picture;
    g_atomic_int_set(&h->busy, 0);
}

static gboolean
on_timer(gpointer data)
{
    struct agent_hotplug *h = data;
    if (g_atomic_int_compare_and_exchange(&h->busy, 0, 1)) {
        GTask *task = g_task_new(NULL, NULL, NULL, NULL);
        g_task_set_task_data(task, h, NULL);
        g_task_run_in_thread(task, look);
        g_object_unref(task);
    }
    return G_SOURCE_CONTINUE;
}

void
agent_hotplug_start(struct agent *agent)
{
    if (agent->config.slot_poll_seconds == 0)
        return;
    struct agent_hotplug *h = g_new0(struct agent_hotplug, 1);
    h->agent = agent;
    h->seen = slot_picture(agent);
    h->timer =
        g_timeout_add_seconds(agent->config.slot_poll_seconds, on_timer, h);
    agent->hotplug = h;
}

void
agent_hotplug_stop(struct agent *agent)
{
    struct agent_hotplug *h = agent->hotplug;
    if (h == NULL)
        return;
    agent->hotplug = NULL;
    g_source_remove(h->timer);
    /* No new worker can start now; wait for one still looking. */
    while (g_atomic_int_get(&h->busy))
        g_usleep(10000);
    g_free(h->seen);
    g_free(h);
}
