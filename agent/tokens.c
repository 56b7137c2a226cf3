/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#11 modules through p11-kit, tokens, their session pools and login. */
#include "agent.h"
#include "../common/errors.h"
#include "../common/pinfile.h"

#include <openssl/crypto.h>
#include <string.h>

gboolean
agent_modules_load(struct agent *agent, GError **error)
{
    char **paths = agent->config.modules;
    if (paths == NULL) {
        agent->modules = p11_kit_modules_load_and_initialize(0);
        agent->modules_from_registry = TRUE;
        if (agent->modules == NULL) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                        "p11-kit could not load the registered modules: %s",
                        p11_kit_message());
            return FALSE;
        }
        return TRUE;
    }
    guint n = g_strv_length(paths);
    agent->modules = g_new0(CK_FUNCTION_LIST *, n + 1);
    for (guint i = 0; i < n; i++) {
        CK_FUNCTION_LIST *module = p11_kit_module_load(paths[i], 0);
        if (module == NULL) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                        "cannot load PKCS#11 module %s: %s", paths[i],
                        p11_kit_message());
            agent_modules_release(agent);
            return FALSE;
        }
        CK_RV rv = p11_kit_module_initialize(module);
        if (rv != CKR_OK) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                        "cannot initialize PKCS#11 module %s: %s", paths[i],
                        p11_kit_strerror(rv));
            p11_kit_module_release(module);
            agent_modules_release(agent);
            return FALSE;
        }
        agent->modules[i] = module;
    }
    return TRUE;
}

void
agent_modules_release(struct agent *agent)
{
    agent_modules_finalize(agent);
    agent_modules_unload(agent);
}

/*
 * A module whose slot-event thread is still blocked is not finalized (see
 * watch.c); closing every session on its slots logs its tokens out.
 */
static void
log_out_held(CK_FUNCTION_LIST *module)
{
    CK_ULONG n = 0;
    if (module->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK || n == 0)
        return;
    CK_SLOT_ID *slots = g_new(CK_SLOT_ID, n);
    if (module->C_GetSlotList(CK_TRUE, slots, &n) == CKR_OK)
        for (CK_ULONG i = 0; i < n; i++)
            module->C_CloseAllSessions(slots[i]);
    g_free(slots);
}

void
agent_modules_finalize(struct agent *agent)
{
    for (CK_FUNCTION_LIST **m = agent->modules; m && *m != NULL; m++) {
        if (agent_watch_holds(agent, *m))
            log_out_held(*m);
        else
            p11_kit_module_finalize(*m);
    }
}

void
agent_modules_unload(struct agent *agent)
{
    if (agent->modules == NULL)
        return;
    for (CK_FUNCTION_LIST **m = agent->modules; *m != NULL; m++)
        if (!agent_watch_holds(agent, *m))
            p11_kit_module_release(*m);
    if (agent->modules_from_registry)
        free(agent->modules); /* p11-kit allocated the array */
    else
        g_free(agent->modules);
    agent->modules = NULL;
}

char *
agent_trimmed(const unsigned char *padded, size_t len)
{
    while (len > 0 && (padded[len - 1] == ' ' || padded[len - 1] == '\0'))
        len--;
    return g_strndup((const char *)padded, len);
}

static char *
module_name(CK_FUNCTION_LIST *module)
{
    char *name = p11_kit_module_get_name(module);
    if (name == NULL)
        name = p11_kit_module_get_filename(module);
    char *copy = g_strdup(name ? name : "unknown module");
    free(name);
    return copy;
}

/*
 * Whether Tessera can make keys here: not write-protected, and a key-pair
 * generation mechanism offered. Emulated cards (CAC, PIV through OpenSC)
 * carry keys made elsewhere and offer neither.
 */
static gboolean
can_generate_keys(CK_FUNCTION_LIST *module, CK_SLOT_ID slot,
                  const CK_TOKEN_INFO *info)
{
    static const CK_MECHANISM_TYPE generators[] = {CKM_EC_KEY_PAIR_GEN,
                                                   CKM_RSA_PKCS_KEY_PAIR_GEN};
    if (info->flags & CKF_WRITE_PROTECTED)
        return FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS(generators); i++) {
        CK_MECHANISM_INFO mech;
        if (module->C_GetMechanismInfo(slot, generators[i], &mech) == CKR_OK &&
            (mech.flags & CKF_GENERATE_KEY_PAIR))
            return TRUE;
    }
    return FALSE;
}

static struct agent_token *
token_new(struct agent *agent, CK_FUNCTION_LIST *module, CK_SLOT_ID slot,
          const CK_TOKEN_INFO *info)
{
    struct agent_token *t = g_new0(struct agent_token, 1);
    t->refcount = 1;
    t->module = module;
    t->module_name = module_name(module);
    t->slot = slot;
    t->label = agent_trimmed(info->label, sizeof(info->label));
    t->manufacturer =
        agent_trimmed(info->manufacturerID, sizeof(info->manufacturerID));
    t->model = agent_trimmed(info->model, sizeof(info->model));
    t->serial = agent_trimmed(info->serialNumber, sizeof(info->serialNumber));
    t->flags = info->flags;
    t->read_only = !can_generate_keys(module, slot, info);
    g_mutex_init(&t->lock);
    g_cond_init(&t->session_returned);
    g_cond_init(&t->objects_settled);
    t->idle_sessions = g_array_new(FALSE, FALSE, sizeof(CK_SESSION_HANDLE));
    t->login_session = CK_INVALID_HANDLE;
    t->present = TRUE;
    /* One session is the login anchor; the rest are for signing. */
    t->max_sessions = agent->config.max_sessions;
    CK_ULONG limit = info->ulMaxSessionCount;
    if (limit != CK_EFFECTIVELY_INFINITE &&
        limit != CK_UNAVAILABLE_INFORMATION && limit > 1 &&
        limit - 1 < t->max_sessions)
        t->max_sessions = (unsigned)(limit - 1);
    if (t->max_sessions == 0)
        t->max_sessions = 1;
    return t;
}

GPtrArray *
agent_tokens_discover(struct agent *agent)
{
    GPtrArray *tokens =
        g_ptr_array_new_with_free_func((GDestroyNotify)agent_token_unref);
    for (CK_FUNCTION_LIST **m = agent->modules; m && *m; m++) {
        CK_ULONG n = 0;
        CK_RV rv = (*m)->C_GetSlotList(CK_TRUE, NULL, &n);
        if (rv != CKR_OK || n == 0)
            continue;
        CK_SLOT_ID *slots = g_new0(CK_SLOT_ID, n);
        rv = (*m)->C_GetSlotList(CK_TRUE, slots, &n);
        for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
            CK_TOKEN_INFO info;
            if ((*m)->C_GetTokenInfo(slots[i], &info) != CKR_OK)
                continue;
            /* An uninitialized token has nothing to offer yet. */
            if (!(info.flags & CKF_TOKEN_INITIALIZED))
                continue;
            struct agent_token *t = token_new(agent, *m, slots[i], &info);
            g_info("token \"%s\" (%s) in slot %lu of %s", t->label, t->model,
                   (unsigned long)t->slot, t->module_name);
            g_ptr_array_add(tokens, t);
        }
        g_free(slots);
    }
    return tokens;
}

static gboolean
same_token(const struct agent_token *a, const struct agent_token *b)
{
    return a->module == b->module && a->slot == b->slot &&
           strcmp(a->serial, b->serial) == 0 && strcmp(a->label, b->label) == 0;
}

GPtrArray *
agent_tokens_merge(struct agent *agent, GPtrArray *known)
{
    GPtrArray *found = agent_tokens_discover(agent);
    GPtrArray *out =
        g_ptr_array_new_with_free_func((GDestroyNotify)agent_token_unref);
    /* Known tokens keep their sessions and login, present or not. */
    for (guint i = 0; i < known->len; i++)
        g_ptr_array_add(out, agent_token_ref(g_ptr_array_index(known, i)));
    for (guint i = 0; i < found->len; i++) {
        struct agent_token *f = g_ptr_array_index(found, i);
        gboolean seen = FALSE;
        for (guint k = 0; !seen && k < known->len; k++)
            seen = same_token(g_ptr_array_index(known, k), f);
        if (!seen) {
            g_message("token \"%s\" appeared in slot %lu of %s", f->label,
                      (unsigned long)f->slot, f->module_name);
            g_ptr_array_add(out, agent_token_ref(f));
        }
    }
    g_ptr_array_unref(found);
    return out;
}

struct agent_token *
agent_token_ref(struct agent_token *token)
{
    g_atomic_int_inc(&token->refcount);
    return token;
}

/* Under token->lock. */
static void
close_sessions(struct agent_token *token)
{
    for (guint i = 0; i < token->idle_sessions->len; i++)
        token->module->C_CloseSession(
            g_array_index(token->idle_sessions, CK_SESSION_HANDLE, i));
    token->open_sessions -= token->idle_sessions->len;
    g_array_set_size(token->idle_sessions, 0);
    if (token->login_session != CK_INVALID_HANDLE)
        token->module->C_CloseSession(token->login_session);
    token->login_session = CK_INVALID_HANDLE;
    token->logged_in = FALSE;
}

void
agent_token_unref(struct agent_token *token)
{
    if (token == NULL || !g_atomic_int_dec_and_test(&token->refcount))
        return;
    close_sessions(token);
    g_array_unref(token->idle_sessions);
    g_mutex_clear(&token->lock);
    g_cond_clear(&token->session_returned);
    g_cond_clear(&token->objects_settled);
    g_free(token->module_name);
    g_free(token->label);
    g_free(token->manufacturer);
    g_free(token->model);
    g_free(token->serial);
    g_free(token);
}

CK_RV
agent_token_session_acquire(struct agent_token *token, CK_SESSION_HANDLE *out)
{
    g_mutex_lock(&token->lock);
    while (token->idle_sessions->len == 0 &&
           token->open_sessions >= token->max_sessions)
        g_cond_wait(&token->session_returned, &token->lock);
    if (token->idle_sessions->len > 0) {
        guint last = token->idle_sessions->len - 1;
        *out = g_array_index(token->idle_sessions, CK_SESSION_HANDLE, last);
        g_array_remove_index(token->idle_sessions, last);
        g_mutex_unlock(&token->lock);
        return CKR_OK;
    }
    /* Reserve the slot, then open outside the lock: opening can be slow. */
    token->open_sessions++;
    g_mutex_unlock(&token->lock);
    CK_RV rv = token->module->C_OpenSession(token->slot, CKF_SERIAL_SESSION,
                                            NULL, NULL, out);
    if (rv != CKR_OK) {
        g_mutex_lock(&token->lock);
        token->open_sessions--;
        g_cond_signal(&token->session_returned);
        g_mutex_unlock(&token->lock);
    }
    return rv;
}

void
agent_token_session_release(struct agent_token *token,
                            CK_SESSION_HANDLE session, gboolean broken)
{
    if (broken)
        token->module->C_CloseSession(session);
    g_mutex_lock(&token->lock);
    if (broken)
        token->open_sessions--;
    else
        g_array_append_val(token->idle_sessions, session);
    g_cond_signal(&token->session_returned);
    g_mutex_unlock(&token->lock);
}

gboolean
agent_token_logged_in(struct agent_token *token)
{
    g_mutex_lock(&token->lock);
    gboolean logged_in = token->logged_in;
    g_mutex_unlock(&token->lock);
    return logged_in;
}

void
agent_token_objects_changing(struct agent_token *token)
{
    g_mutex_lock(&token->lock);
    token->objects_changing++;
    g_mutex_unlock(&token->lock);
}

void
agent_token_objects_changed(struct agent_token *token)
{
    g_mutex_lock(&token->lock);
    token->objects_changing--;
    __atomic_add_fetch(&token->objects_generation, 1, __ATOMIC_RELEASE);
    g_cond_broadcast(&token->objects_settled);
    g_mutex_unlock(&token->lock);
}

unsigned
agent_token_objects_generation(struct agent_token *token)
{
    /* Read per signature: no lock. */
    return __atomic_load_n(&token->objects_generation, __ATOMIC_ACQUIRE);
}

gboolean
agent_token_objects_settle(struct agent_token *token, unsigned generation)
{
    g_mutex_lock(&token->lock);
    while (token->objects_changing > 0)
        g_cond_wait(&token->objects_settled, &token->lock);
    gboolean changed = token->objects_generation != generation;
    g_mutex_unlock(&token->lock);
    return changed;
}

/* Asks the token for its flags and keeps them for agent_token_state. */
static CK_RV
refresh_flags(struct agent_token *token, CK_FLAGS *flags)
{
    CK_TOKEN_INFO info;
    CK_RV rv = token->module->C_GetTokenInfo(token->slot, &info);
    if (rv == CKR_OK) {
        *flags = info.flags;
        __atomic_store_n(&token->flags, info.flags, __ATOMIC_RELAXED);
    }
    return rv;
}

#define PRESENCE_RECHECK_US (100 * 1000)

/*
 * Asks the token whether it is in its reader. One that comes back after
 * being pulled out has lost its sessions and its login: ours are closed,
 * and it starts locked (the rescan logs in again only from a pin-file).
 */
gboolean
agent_token_check_presence(struct agent_token *token)
{
    CK_FLAGS flags;
    gboolean present = refresh_flags(token, &flags) == CKR_OK;
    /*
     * SoftHSM2 rewrites a token's file when another process logs in, and a
     * C_GetTokenInfo meanwhile fails: ask once more before calling the
     * token gone, which costs it its login.
     */
    if (!present && g_atomic_int_get(&token->present)) {
        g_usleep(PRESENCE_RECHECK_US);
        present = refresh_flags(token, &flags) == CKR_OK;
    }
    if (present == (gboolean)g_atomic_int_get(&token->present))
        return FALSE;
    if (!present) {
        g_atomic_int_set(&token->present, FALSE);
        g_message("token \"%s\" is not present", token->label);
        return FALSE;
    }
    g_mutex_lock(&token->lock);
    close_sessions(token);
    g_mutex_unlock(&token->lock);
    g_atomic_int_set(&token->present, TRUE);
    g_message("token \"%s\" is back; unlock it again", token->label);
    return TRUE;
}

void
agent_token_fail(struct agent_token *token, CK_RV rv, const char *what,
                 struct tessera_status *st)
{
    switch (rv) {
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_SLOT_ID_INVALID:
        g_atomic_int_set(&token->present, FALSE);
        tessera_status_set(st, TESSERA_ERR_TOKEN_ABSENT,
                           "token \"%s\" is not present: insert it and try "
                           "again (%s)",
                           token->label, what);
        return;
    case CKR_USER_NOT_LOGGED_IN:
        tessera_status_set(st, TESSERA_ERR_TOKEN_LOCKED,
                           "token \"%s\" is locked: run `tessera unlock`",
                           token->label);
        return;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
        tessera_status_set(st, TESSERA_ERR_MECHANISM,
                           "token \"%s\" cannot %s with this key: %s",
                           token->label, what, p11_kit_strerror(rv));
        return;
    case CKR_DATA_LEN_RANGE:
    case CKR_DATA_INVALID:
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "token \"%s\" refused the input to %s: %s",
                           token->label, what, p11_kit_strerror(rv));
        return;
    }
    tessera_status_set(st, TESSERA_ERR_TOKEN_FAILED,
                       "token \"%s\" failed to %s: %s", token->label, what,
                       p11_kit_strerror(rv));
}

static void
report_wrong_pin(struct agent_token *token, gboolean still_unlocked,
                 struct tessera_status *st)
{
    CK_FLAGS flags;
    tessera_status_set(st, TESSERA_ERR_PIN_INCORRECT,
                       "wrong PIN for token \"%s\"; it was tried once and "
                       "will not be retried%s",
                       token->label,
                       still_unlocked
                           ? " (the token stays unlocked by its earlier login)"
                           : "");
    g_warning("wrong PIN for token \"%s\"", token->label);
    refresh_flags(token, &flags); /* the PIN counter has moved */
}

static void
report_unlocked(struct agent_token *token)
{
    token->logged_in = TRUE;
    __atomic_store_n(&token->last_used, g_get_monotonic_time(),
                     __ATOMIC_RELAXED);
    g_message("token \"%s\" unlocked", token->label);
}

/*
 * A token that is logged in already answers C_Login without looking at the
 * PIN, so "unlocked" would confirm any PIN at all. Logging out and in again
 * to check it (NSS's PK11_CheckUserPassword) drops the login when the PIN
 * is wrong, and every client with it. C_SetPIN from the PIN to itself
 * checks it against the token, costs one try only when wrong (as C_Login
 * would), changes nothing, and leaves the login as it was. Not where it
 * would count as the PIN change the token asks for, nor on a
 * write-protected token: CKR_FUNCTION_NOT_SUPPORTED then, as when the
 * token's answer does not speak of the PIN given ("invalid" or "out of
 * range" may be its policy for a new PIN).
 */
static CK_RV
check_pin_while_unlocked(struct agent_token *token, CK_FLAGS flags,
                         const uint8_t *pin, size_t pin_len,
                         gboolean protected_path)
{
    if (protected_path) /* no PIN was given: nothing to check */
        return CKR_OK;
    if (flags & (CKF_USER_PIN_TO_BE_CHANGED | CKF_WRITE_PROTECTED))
        return CKR_FUNCTION_NOT_SUPPORTED;
    CK_RV rv =
        token->module->C_SetPIN(token->login_session, (CK_UTF8CHAR_PTR)pin,
                                pin_len, (CK_UTF8CHAR_PTR)pin, pin_len);
    return rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE
               ? CKR_FUNCTION_NOT_SUPPORTED
               : rv;
}

/*
 * Logs in once with the given PIN. A wrong PIN is reported, never retried:
 * tokens block themselves after a few. At the final try, only an explicit
 * force may spend it.
 */
int
agent_token_login(struct agent_token *token, const uint8_t *pin, size_t pin_len,
                  gboolean force, struct tessera_status *st)
{
    CK_FLAGS flags = 0;
    int result = -1;
    g_mutex_lock(&token->lock);
    CK_RV rv = refresh_flags(token, &flags);
    if (rv != CKR_OK) {
        agent_token_fail(token, rv, "report its state", st);
        goto out;
    }
    if (flags & CKF_USER_PIN_LOCKED) {
        tessera_status_set(st, TESSERA_ERR_PIN_LOCKED,
                           "the PIN of token \"%s\" is blocked; unblock it "
                           "with the token's PUK or security officer",
                           token->label);
        goto out;
    }
    if ((flags & CKF_USER_PIN_FINAL_TRY) && !force) {
        tessera_status_set(st, TESSERA_ERR_PIN_FINAL_TRY,
                           "token \"%s\" has one PIN try left; a wrong PIN "
                           "will block it. Re-run with --force to use it",
                           token->label);
        goto out;
    }
    if (token->login_session == CK_INVALID_HANDLE) {
        rv = token->module->C_OpenSession(token->slot,
                                          CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                          NULL, NULL, &token->login_session);
        if (rv != CKR_OK) {
            token->login_session = CK_INVALID_HANDLE;
            agent_token_fail(token, rv, "open a session", st);
            goto out;
        }
    }
    gboolean protected_path =
        (flags & CKF_PROTECTED_AUTHENTICATION_PATH) && pin_len == 0;
    /* Logged in already: the PIN goes to the check alone, so that no token
     * that looks at it in C_Login anyway counts it twice. */
    CK_SESSION_INFO session;
    rv = token->module->C_GetSessionInfo(token->login_session, &session);
    if (rv == CKR_OK && session.state == CKS_RW_USER_FUNCTIONS)
        rv = CKR_USER_ALREADY_LOGGED_IN;
    else
        rv =
            token->module->C_Login(token->login_session, CKU_USER,
                                   protected_path ? NULL : (CK_UTF8CHAR_PTR)pin,
                                   protected_path ? 0 : pin_len);
    gboolean was_unlocked = rv == CKR_USER_ALREADY_LOGGED_IN;
    if (was_unlocked)
        rv = check_pin_while_unlocked(token, flags, pin, pin_len,
                                      protected_path);
    switch (rv) {
    case CKR_OK:
        report_unlocked(token);
        result = 0;
        break;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
        report_wrong_pin(token, was_unlocked, st);
        break;
    case CKR_PIN_LOCKED:
        tessera_status_set(st, TESSERA_ERR_PIN_LOCKED,
                           "the PIN of token \"%s\" is blocked", token->label);
        break;
    case CKR_FUNCTION_NOT_SUPPORTED:
        if (was_unlocked) {
            tessera_status_set(st, TESSERA_ERR_MECHANISM,
                               "token \"%s\" is unlocked already and cannot "
                               "check a PIN while it is, so the PIN was not "
                               "checked: `tessera lock` it first",
                               token->label);
            break;
        }
        agent_token_fail(token, rv, "log in", st);
        break;
    default:
        agent_token_fail(token, rv, was_unlocked ? "check the PIN" : "log in",
                         st);
    }
out:
    g_mutex_unlock(&token->lock);
    return result;
}

int
agent_token_logout(struct agent_token *token, struct tessera_status *st)
{
    int result = 0;
    g_mutex_lock(&token->lock);
    if (token->login_session != CK_INVALID_HANDLE) {
        CK_RV rv = token->module->C_Logout(token->login_session);
        if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN) {
            agent_token_fail(token, rv, "log out", st);
            result = -1;
        }
    }
    if (result == 0) {
        token->logged_in = FALSE;
        g_message("token \"%s\" locked", token->label);
    }
    g_mutex_unlock(&token->lock);
    return result;
}

void
agent_token_info(struct agent_token *token, struct tessera_token_info *out)
{
    CK_FLAGS flags = 0;
    memset(out, 0, sizeof(*out));
    out->label = strdup(token->label);
    out->manufacturer = strdup(token->manufacturer);
    out->model = strdup(token->model);
    out->serial = strdup(token->serial);
    out->module = strdup(token->module_name);
    if (refresh_flags(token, &flags) != CKR_OK)
        return;
    out->flags = agent_token_state(token);
}

uint32_t
agent_token_state(struct agent_token *token)
{
    CK_FLAGS flags = __atomic_load_n(&token->flags, __ATOMIC_RELAXED);
    if (!g_atomic_int_get(&token->present))
        return 0;
    g_mutex_lock(&token->lock);
    gboolean logged_in = token->logged_in;
    g_mutex_unlock(&token->lock);
    uint32_t out = TESSERA_TOKEN_PRESENT;
    if (logged_in)
        out |= TESSERA_TOKEN_LOGGED_IN;
    if (flags & CKF_LOGIN_REQUIRED)
        out |= TESSERA_TOKEN_LOGIN_REQUIRED;
    if (flags & CKF_USER_PIN_COUNT_LOW)
        out |= TESSERA_TOKEN_PIN_COUNT_LOW;
    if (flags & CKF_USER_PIN_FINAL_TRY)
        out |= TESSERA_TOKEN_PIN_FINAL_TRY;
    if (flags & CKF_USER_PIN_LOCKED)
        out |= TESSERA_TOKEN_PIN_LOCKED;
    if ((flags & CKF_WRITE_PROTECTED) || token->read_only)
        out |= TESSERA_TOKEN_WRITE_PROTECTED;
    if (flags & CKF_PROTECTED_AUTHENTICATION_PATH)
        out |= TESSERA_TOKEN_PROTECTED_PATH;
    return out;
}

/* One login from the token's pin-file; TRUE if it worked. */
gboolean
agent_token_login_from_file(struct agent *agent, struct agent_token *t)
{
    char *path =
        agent_config_string(&agent->config, "token", t->label, "pin-file");
    char pin[TESSERA_PIN_MAX + 1];
    size_t len = 0;
    struct tessera_status st = {0};
    gboolean ok = FALSE;
    if (!tessera_read_pin_file(path, pin, sizeof(pin), &len, &st))
        g_warning("token \"%s\": %s", t->label, st.message);
    else if (agent_token_login(t, (uint8_t *)pin, len, FALSE, &st) < 0)
        g_warning("%s", st.message);
    else
        ok = TRUE;
    OPENSSL_cleanse(pin, sizeof(pin));
    g_free(path);
    return ok;
}

gboolean
agent_tokens_login_from_config(struct agent *agent, struct agent_registry *reg)
{
    gboolean any = FALSE;
    for (guint i = 0; i < reg->tokens->len; i++) {
        struct agent_token *t = g_ptr_array_index(reg->tokens, i);
        if (agent_pin_source(&agent->config, t->label) == AGENT_PIN_FILE)
            any = agent_token_login_from_file(agent, t) || any;
    }
    return any;
}

gboolean
agent_token_unlock_allowed(struct agent *agent, struct agent_token *token,
                           struct tessera_status *st)
{
    switch (agent_pin_source(&agent->config, token->label)) {
    case AGENT_PIN_FILE:
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "token \"%s\" takes its PIN from its pin-file "
                           "(pin-source=file in agent.conf)",
                           token->label);
        return FALSE;
    case AGENT_PIN_NONE:
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "token \"%s\" is never unlocked (pin-source=none "
                           "in agent.conf)",
                           token->label);
        return FALSE;
    default:
        return TRUE;
    }
}
