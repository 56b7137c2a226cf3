/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PKCS#11 modules the agent uses, loaded once through p11-kit: those
 * named (--module, [agent] modules) or every module p11-kit registers.
 */
#ifndef TESSERA_AGENT_MODULES_H
#define TESSERA_AGENT_MODULES_H

#include "../common/errors.h"

#include <glib.h>
#include <p11-kit/p11-kit.h>

struct agent_modules;

/* paths NULL: p11-kit's registered modules. NULL with st on failure. */
struct agent_modules *modules_load(char *const *paths,
                                   struct tessera_status *st);
/* NULL-terminated. */
CK_FUNCTION_LIST *const *modules_list(const struct agent_modules *m);
/* p11-kit's name for the module, else its file name. */
char *modules_name(CK_FUNCTION_LIST *module);

/*
 * At exit, in two steps: C_Finalize ends the threads blocked in
 * C_WaitForSlotEvent, which must return before the module is unloaded. A
 * module marked held (a slot-event thread is still blocked in it, see
 * watch.c) is neither finalized nor unloaded: its sessions are closed,
 * which logs its tokens out, and the process's end does the rest.
 */
void modules_hold(struct agent_modules *m, CK_FUNCTION_LIST *module);
void modules_finalize(struct agent_modules *m);
void modules_free(struct agent_modules *m);

/* Slot events of one module, for the token watch. */
enum module_event {
    MODULE_EVENT,     /* a slot changed: *slot says which */
    MODULE_NO_EVENT,  /* nothing happened (only without blocking) */
    MODULE_NO_EVENTS, /* the module has no events, or they ended */
};
/* MODULE_NO_EVENTS with *failure (static) when the wait itself failed. */
enum module_event modules_wait_event(CK_FUNCTION_LIST *module, gboolean block,
                                     CK_SLOT_ID *slot, const char **failure);
/*
 * Slot, label, serial and PIN state of every token the module shows, as
 * text that changes when any of them does; index tells modules apart.
 */
void modules_describe_slots(CK_FUNCTION_LIST *module, guint index,
                            GString *picture);

#endif
