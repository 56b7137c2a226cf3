/* SPDX-License-Identifier: Apache-2.0 */
#include "modules.h"
#include "p11.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* What a module may print while it initialises, kept for the log. */
#define SAID_MAX 4096

struct agent_modules {
    CK_FUNCTION_LIST **list; /* NULL-terminated */
    GPtrArray *held;         /* CK_FUNCTION_LIST *: see modules_hold */
};

/*
 * C_Initialize with the module's stderr caught: a registered module that
 * cannot work here says so there at length (tpm2-pkcs11 without a TPM:
 * a dozen TCTI errors, a GLib CRITICAL), which is for the debug log; the
 * agent says in one line what became of the module. *said: what it
 * printed, or NULL.
 */
static CK_RV
initialize_caught(CK_FUNCTION_LIST *module, char **said)
{
    *said = NULL;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int caught = memfd_create("module-stderr", MFD_CLOEXEC);
    if (saved < 0 || caught < 0 || dup2(caught, STDERR_FILENO) < 0) {
        if (saved >= 0)
            close(saved);
        if (caught >= 0)
            close(caught);
        return p11_kit_module_initialize(module);
    }
    CK_RV rv = p11_kit_module_initialize(module);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char text[SAID_MAX];
    ssize_t n = pread(caught, text, sizeof(text) - 1, 0);
    close(caught);
    if (n > 0)
        *said = g_strstrip(g_strndup(text, (gsize)n));
    return rv;
}

/* A module that holds trust anchors only (p11-kit's trust-policy option,
 * p11-kit-trust): no private key can be on it. */
static gboolean
trust_only(CK_FUNCTION_LIST *module)
{
    char *policy = p11_kit_config_option(module, "trust-policy");
    gboolean yes = policy != NULL && g_ascii_strcasecmp(policy, "yes") == 0;
    free(policy);
    return yes;
}

/* p11-kit's registered modules that can hold keys and initialise: a
 * module that cannot is one INFO line and left out. */
static CK_FUNCTION_LIST **
load_registered(struct tessera_status *st)
{
    CK_FUNCTION_LIST **all = p11_kit_modules_load(NULL, 0);
    if (all == NULL) {
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "p11-kit could not load the registered modules: %s",
                           p11_kit_message());
        return NULL;
    }
    GPtrArray *used = g_ptr_array_new();
    for (CK_FUNCTION_LIST **p = all; *p != NULL; p++) {
        char *name = modules_name(*p);
        char *said = NULL;
        CK_RV rv = CKR_OK;
        gboolean trust = trust_only(*p);
        if (trust)
            g_info("PKCS#11 module %s holds trust anchors only: not used",
                   name);
        else if ((rv = initialize_caught(*p, &said)) != CKR_OK)
            g_info("PKCS#11 module %s is not used: it failed to initialise "
                   "(%s)",
                   name, p11_kit_strerror(rv));
        if (said != NULL)
            g_debug("PKCS#11 module %s said while initialising: %s", name,
                    said);
        if (rv == CKR_OK && !trust)
            g_ptr_array_add(used, *p);
        else
            p11_kit_module_release(*p);
        g_free(said);
        g_free(name);
    }
    free(all); /* p11-kit's array; the modules are in used or released */
    g_ptr_array_add(used, NULL);
    return (CK_FUNCTION_LIST **)g_ptr_array_free(used, FALSE);
}

struct agent_modules *
modules_load(char *const *paths, struct tessera_status *st)
{
    struct agent_modules *m = g_new0(struct agent_modules, 1);
    m->held = g_ptr_array_new();
    if (paths == NULL) {
        if ((m->list = load_registered(st)) == NULL) {
            modules_free(m);
            return NULL;
        }
        return m;
    }
    guint n = g_strv_length((char **)paths);
    m->list = g_new0(CK_FUNCTION_LIST *, n + 1);
    for (guint i = 0; i < n; i++) {
        CK_FUNCTION_LIST *module = p11_kit_module_load(paths[i], 0);
        CK_RV rv = module ? p11_kit_module_initialize(module) : CKR_OK;
        if (module == NULL)
            tessera_status_set(st, TESSERA_ERR_INTERNAL,
                               "cannot load PKCS#11 module %s: %s", paths[i],
                               p11_kit_message());
        else if (rv != CKR_OK)
            tessera_status_set(st, TESSERA_ERR_INTERNAL,
                               "cannot initialize PKCS#11 module %s: %s",
                               paths[i], p11_kit_strerror(rv));
        if (module == NULL || rv != CKR_OK) {
            if (module != NULL)
                p11_kit_module_release(module);
            modules_finalize(m);
            modules_free(m);
            return NULL;
        }
        m->list[i] = module;
    }
    return m;
}

CK_FUNCTION_LIST *const *
modules_list(const struct agent_modules *m)
{
    return m->list;
}

char *
modules_name(CK_FUNCTION_LIST *module)
{
    char *name = p11_kit_module_get_name(module);
    if (name == NULL)
        name = p11_kit_module_get_filename(module);
    char *copy = g_strdup(name ? name : "unknown module");
    free(name);
    return copy;
}

void
modules_hold(struct agent_modules *m, CK_FUNCTION_LIST *module)
{
    g_ptr_array_add(m->held, module);
}

static gboolean
held(const struct agent_modules *m, CK_FUNCTION_LIST *module)
{
    return g_ptr_array_find(m->held, module, NULL);
}

/* Closing every session on its slots logs its tokens out. */
static void
log_out_held(CK_FUNCTION_LIST *module)
{
    GArray *slots = g_array_new(FALSE, FALSE, sizeof(CK_SLOT_ID));
    if (p11_present_slots(module, slots) == CKR_OK)
        for (guint i = 0; i < slots->len; i++)
            p11_close_all_sessions(module, g_array_index(slots, CK_SLOT_ID, i));
    g_array_unref(slots);
}

void
modules_finalize(struct agent_modules *m)
{
    for (CK_FUNCTION_LIST **p = m ? m->list : NULL; p && *p; p++) {
        if (held(m, *p))
            log_out_held(*p);
        else
            p11_kit_module_finalize(*p);
    }
}

void
modules_free(struct agent_modules *m)
{
    if (m == NULL)
        return;
    for (CK_FUNCTION_LIST **p = m->list; p && *p; p++)
        if (!held(m, *p))
            p11_kit_module_release(*p);
    g_free(m->list);
    g_ptr_array_unref(m->held);
    g_free(m);
}

enum module_event
modules_wait_event(CK_FUNCTION_LIST *module, gboolean block, CK_SLOT_ID *slot,
                   const char **failure)
{
    CK_RV rv = p11_wait_for_slot_event(module, block, slot);
    *failure = NULL;
    if (rv == CKR_OK)
        return MODULE_EVENT;
    if (rv == CKR_NO_EVENT)
        return MODULE_NO_EVENT;
    /* Not supported, or finalized under the waiting thread: no failure. */
    if (rv != CKR_FUNCTION_NOT_SUPPORTED && rv != CKR_CRYPTOKI_NOT_INITIALIZED)
        *failure = p11_kit_strerror(rv);
    return MODULE_NO_EVENTS;
}

void
modules_describe_slots(CK_FUNCTION_LIST *module, guint index, GString *picture)
{
    GArray *slots = g_array_new(FALSE, FALSE, sizeof(CK_SLOT_ID));
    if (p11_present_slots(module, slots) != CKR_OK)
        g_array_set_size(slots, 0);
    for (guint i = 0; i < slots->len; i++) {
        CK_SLOT_ID slot = g_array_index(slots, CK_SLOT_ID, i);
        CK_TOKEN_INFO info;
        if (p11_token_info(module, slot, &info) != CKR_OK)
            continue;
        /* PIN counters too: a changed one is news for D-Bus clients. */
        g_string_append_printf(
            picture, "%u/%lu/%.32s/%.16s/%lx;", index, (unsigned long)slot,
            info.label, info.serialNumber,
            (unsigned long)(info.flags &
                            (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY |
                             CKF_USER_PIN_LOCKED)));
    }
    g_array_unref(slots);
}
