/* SPDX-License-Identifier: Apache-2.0 */
/* Tokens, their session pools, login and the signing path (tokens.h). */
#include "tokens.h"
#include "../common/pinfile.h"
#include "p11.h"

#include <openssl/crypto.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_ATTEMPTS 3
#define PRESENCE_RECHECK_US (100 * 1000)

/*
 * A pin-file as it was when its PIN proved wrong. Not its content's hash:
 * a PIN's hash is as good as the PIN to whoever reads the agent's memory,
 * PINs being short. Any rewrite changes the ctime at least.
 */
struct pin_file_stamp {
    char *path; /* NULL: none refused */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
};

struct agent_token {
    gint refcount;
    struct agent_events *events;
    CK_FUNCTION_LIST *module;
    char *module_name;
    CK_SLOT_ID slot;
    char *label, *manufacturer, *model, *serial;
    gboolean read_only; /* cannot generate keys; fixed */
    /* What the token last said, read without a lock. */
    CK_FLAGS flags;   /* its last C_GetTokenInfo's; atomic */
    gint present;     /* atomic */
    gint logged_in;   /* atomic; changed under lock */
    gint64 last_used; /* monotonic us of the last signature or login; atomic */

    GMutex lock; /* the fields below; never held across a PKCS#11 call
                  * that may wait */
    GCond session_returned;
    GArray *idle_sessions; /* CK_SESSION_HANDLE */
    unsigned open_sessions;
    unsigned max_sessions;
    /* Login state lives as long as one session does: this one stays open. */
    CK_SESSION_HANDLE login_session;
    gboolean login_busy; /* a login or logout is talking to the token */
    GCond login_done;
    /* A renewal is changing objects (see token_objects_settle). */
    unsigned objects_changing;
    unsigned objects_generation; /* changes that ended; atomic */
    GCond objects_settled;
    /* Not tried again until it changes (token_login_from_file). */
    struct pin_file_stamp refused_pin_file;
};

static char *
trimmed(const unsigned char *padded, size_t len)
{
    while (len > 0 && (padded[len - 1] == ' ' || padded[len - 1] == '\0'))
        len--;
    return g_strndup((const char *)padded, len);
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
    return !(info->flags & CKF_WRITE_PROTECTED) &&
           (p11_offers(module, slot, CKM_EC_KEY_PAIR_GEN,
                       CKF_GENERATE_KEY_PAIR) ||
            p11_offers(module, slot, CKM_RSA_PKCS_KEY_PAIR_GEN,
                       CKF_GENERATE_KEY_PAIR));
}

static struct agent_token *
token_new(CK_FUNCTION_LIST *module, CK_SLOT_ID slot, const CK_TOKEN_INFO *info,
          unsigned max_sessions, struct agent_events *events)
{
    struct agent_token *t = g_new0(struct agent_token, 1);
    t->refcount = 1;
    t->events = events;
    t->module = module;
    t->module_name = modules_name(module);
    t->slot = slot;
    t->label = trimmed(info->label, sizeof(info->label));
    t->manufacturer =
        trimmed(info->manufacturerID, sizeof(info->manufacturerID));
    t->model = trimmed(info->model, sizeof(info->model));
    t->serial = trimmed(info->serialNumber, sizeof(info->serialNumber));
    t->flags = info->flags;
    t->read_only = !can_generate_keys(module, slot, info);
    g_mutex_init(&t->lock);
    g_cond_init(&t->session_returned);
    g_cond_init(&t->login_done);
    g_cond_init(&t->objects_settled);
    t->idle_sessions = g_array_new(FALSE, FALSE, sizeof(CK_SESSION_HANDLE));
    t->login_session = CK_INVALID_HANDLE;
    t->present = TRUE;
    /* One session is the login anchor; the rest are for signing. */
    t->max_sessions = max_sessions;
    CK_ULONG limit = info->ulMaxSessionCount;
    if (limit != CK_EFFECTIVELY_INFINITE &&
        limit != CK_UNAVAILABLE_INFORMATION && limit > 1 &&
        limit - 1 < t->max_sessions)
        t->max_sessions = (unsigned)(limit - 1);
    if (t->max_sessions == 0)
        t->max_sessions = 1;
    return t;
}

/* The tokens the modules show now. */
static GPtrArray *
discover(const struct agent_modules *modules, unsigned max_sessions,
         struct agent_events *events)
{
    GPtrArray *tokens =
        g_ptr_array_new_with_free_func((GDestroyNotify)token_unref);
    GArray *slots = g_array_new(FALSE, FALSE, sizeof(CK_SLOT_ID));
    for (CK_FUNCTION_LIST *const *m = modules_list(modules); m && *m; m++) {
        g_array_set_size(slots, 0);
        if (p11_present_slots(*m, slots) != CKR_OK)
            continue;
        for (guint i = 0; i < slots->len; i++) {
            CK_SLOT_ID slot = g_array_index(slots, CK_SLOT_ID, i);
            CK_TOKEN_INFO info;
            /* An uninitialized token has nothing to offer yet. */
            if (p11_token_info(*m, slot, &info) != CKR_OK ||
                !(info.flags & CKF_TOKEN_INITIALIZED))
                continue;
            struct agent_token *t =
                token_new(*m, slot, &info, max_sessions, events);
            g_info("token \"%s\" (%s) in slot %lu of %s", t->label, t->model,
                   (unsigned long)t->slot, t->module_name);
            g_ptr_array_add(tokens, t);
        }
    }
    g_array_unref(slots);
    return tokens;
}

static gboolean
same_token(const struct agent_token *a, const struct agent_token *b)
{
    return a->module == b->module && a->slot == b->slot &&
           strcmp(a->serial, b->serial) == 0 && strcmp(a->label, b->label) == 0;
}

GPtrArray *
tokens_merge(const struct agent_modules *modules, unsigned max_sessions,
             struct agent_events *events, GPtrArray *known)
{
    GPtrArray *found = discover(modules, max_sessions, events);
    GPtrArray *out =
        g_ptr_array_new_with_free_func((GDestroyNotify)token_unref);
    /* Known tokens keep their sessions and login, present or not. */
    for (guint i = 0; i < known->len; i++)
        g_ptr_array_add(out, token_ref(g_ptr_array_index(known, i)));
    for (guint i = 0; i < found->len; i++) {
        struct agent_token *f = g_ptr_array_index(found, i);
        gboolean seen = FALSE;
        for (guint k = 0; !seen && k < known->len; k++)
            seen = same_token(g_ptr_array_index(known, k), f);
        if (!seen) {
            g_message("token \"%s\" appeared in slot %lu of %s", f->label,
                      (unsigned long)f->slot, f->module_name);
            g_ptr_array_add(out, token_ref(f));
        }
    }
    g_ptr_array_unref(found);
    return out;
}

struct agent_token *
token_ref(struct agent_token *t)
{
    g_atomic_int_inc(&t->refcount);
    return t;
}

/*
 * Our sessions end: the idle ones, and the login session unless a login
 * is using it (that login then fails or succeeds by itself). Closed
 * outside the lock.
 */
static void
close_sessions(struct agent_token *t)
{
    g_mutex_lock(&t->lock);
    GArray *closing = g_array_ref(t->idle_sessions);
    t->idle_sessions = g_array_new(FALSE, FALSE, sizeof(CK_SESSION_HANDLE));
    t->open_sessions -= closing->len;
    if (!t->login_busy && t->login_session != CK_INVALID_HANDLE) {
        g_array_append_val(closing, t->login_session);
        t->login_session = CK_INVALID_HANDLE;
        g_atomic_int_set(&t->logged_in, FALSE);
    }
    g_cond_broadcast(&t->session_returned);
    g_mutex_unlock(&t->lock);
    for (guint i = 0; i < closing->len; i++)
        p11_close_session(t->module,
                          g_array_index(closing, CK_SESSION_HANDLE, i));
    g_array_unref(closing);
}

void
token_unref(struct agent_token *t)
{
    if (t == NULL || !g_atomic_int_dec_and_test(&t->refcount))
        return;
    close_sessions(t);
    g_array_unref(t->idle_sessions);
    g_mutex_clear(&t->lock);
    g_cond_clear(&t->session_returned);
    g_cond_clear(&t->login_done);
    g_cond_clear(&t->objects_settled);
    g_free(t->module_name);
    g_free(t->label);
    g_free(t->manufacturer);
    g_free(t->model);
    g_free(t->serial);
    g_free(t->refused_pin_file.path);
    g_free(t);
}

const char *
token_label(const struct agent_token *t)
{
    return t->label;
}

const char *
token_serial(const struct agent_token *t)
{
    return t->serial;
}

const char *
token_manufacturer(const struct agent_token *t)
{
    return t->manufacturer;
}

const char *
token_model(const struct agent_token *t)
{
    return t->model;
}

const char *
token_module_name(const struct agent_token *t)
{
    return t->module_name;
}

gboolean
token_read_only(const struct agent_token *t)
{
    return t->read_only;
}

/*
 * Ed25519 needs both mechanisms, which many tokens lack (tpm2-pkcs11, most
 * smartcards): refused before anything is made, with the reason.
 */
gboolean
token_can_make(struct agent_token *t, const struct tessera_keyspec *spec,
               struct tessera_status *st)
{
    static const struct {
        CK_MECHANISM_TYPE type;
        CK_FLAGS flag;
        const char *name;
    } eddsa[] = {{CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR,
                  "CKM_EC_EDWARDS_KEY_PAIR_GEN"},
                 {CKM_EDDSA, CKF_SIGN, "CKM_EDDSA"}};
    if (spec->type != TESSERA_KEY_ED25519)
        return TRUE;
    for (size_t i = 0; i < G_N_ELEMENTS(eddsa); i++) {
        if (!p11_offers(t->module, t->slot, eddsa[i].type, eddsa[i].flag)) {
            tessera_status_set(st, TESSERA_ERR_MECHANISM,
                               "token \"%s\" cannot make Ed25519 keys (it "
                               "offers no %s): choose ec-p256 or another "
                               "token",
                               t->label, eddsa[i].name);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
token_present(struct agent_token *t)
{
    return g_atomic_int_get(&t->present);
}

gboolean
token_logged_in(struct agent_token *t)
{
    return g_atomic_int_get(&t->logged_in);
}

static CK_FLAGS
last_flags(struct agent_token *t)
{
    return __atomic_load_n(&t->flags, __ATOMIC_RELAXED);
}

gboolean
token_login_required(struct agent_token *t)
{
    return (last_flags(t) & CKF_LOGIN_REQUIRED) != 0;
}

gint64
token_last_used(struct agent_token *t)
{
    return __atomic_load_n(&t->last_used, __ATOMIC_RELAXED);
}

static void
mark_used(struct agent_token *t)
{
    __atomic_store_n(&t->last_used, g_get_monotonic_time(), __ATOMIC_RELAXED);
}

uint32_t
token_state(struct agent_token *t)
{
    CK_FLAGS flags = last_flags(t);
    if (!token_present(t))
        return 0;
    uint32_t out = TESSERA_TOKEN_PRESENT;
    if (token_logged_in(t))
        out |= TESSERA_TOKEN_LOGGED_IN;
    if (flags & CKF_LOGIN_REQUIRED)
        out |= TESSERA_TOKEN_LOGIN_REQUIRED;
    if (flags & CKF_USER_PIN_COUNT_LOW)
        out |= TESSERA_TOKEN_PIN_COUNT_LOW;
    if (flags & CKF_USER_PIN_FINAL_TRY)
        out |= TESSERA_TOKEN_PIN_FINAL_TRY;
    if (flags & CKF_USER_PIN_LOCKED)
        out |= TESSERA_TOKEN_PIN_LOCKED;
    if ((flags & CKF_WRITE_PROTECTED) || t->read_only)
        out |= TESSERA_TOKEN_WRITE_PROTECTED;
    if (flags & CKF_PROTECTED_AUTHENTICATION_PATH)
        out |= TESSERA_TOKEN_PROTECTED_PATH;
    return out;
}

/* Asks the token for its flags and keeps them for token_state. */
static CK_RV
refresh_flags(struct agent_token *t, CK_FLAGS *flags)
{
    CK_TOKEN_INFO info;
    CK_RV rv = p11_token_info(t->module, t->slot, &info);
    if (rv == CKR_OK) {
        *flags = info.flags;
        __atomic_store_n(&t->flags, info.flags, __ATOMIC_RELAXED);
    }
    return rv;
}

void
token_info(struct agent_token *t, struct tessera_token_info *out)
{
    CK_FLAGS flags = 0;
    memset(out, 0, sizeof(*out));
    out->label = strdup(t->label);
    out->manufacturer = strdup(t->manufacturer);
    out->model = strdup(t->model);
    out->serial = strdup(t->serial);
    out->module = strdup(t->module_name);
    if (refresh_flags(t, &flags) == CKR_OK)
        out->flags = token_state(t);
}

gboolean
token_answers(struct agent_token *t)
{
    CK_TOKEN_INFO info;
    return p11_token_info(t->module, t->slot, &info) == CKR_OK;
}

gboolean
token_check_presence(struct agent_token *t)
{
    CK_FLAGS flags;
    gboolean present = refresh_flags(t, &flags) == CKR_OK;
    /*
     * SoftHSM2 rewrites a token's file when another process logs in, and a
     * C_GetTokenInfo meanwhile fails: ask once more before calling the
     * token gone, which costs it its login.
     */
    if (!present && token_present(t)) {
        g_usleep(PRESENCE_RECHECK_US);
        present = refresh_flags(t, &flags) == CKR_OK;
    }
    if (present == token_present(t))
        return FALSE;
    if (!present) {
        g_atomic_int_set(&t->present, FALSE);
        g_message("token \"%s\" is not present", t->label);
    } else {
        close_sessions(t);
        g_atomic_int_set(&t->present, TRUE);
        g_message("token \"%s\" is back; unlock it again", t->label);
    }
    agent_events_publish(t->events, AGENT_EVENT_TOKEN_CHANGED, NULL, NULL);
    return present;
}

void
token_fail(struct agent_token *t, CK_RV rv, const char *what,
           struct tessera_status *st)
{
    switch (rv) {
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_SLOT_ID_INVALID:
        g_atomic_int_set(&t->present, FALSE);
        tessera_status_set(st, TESSERA_ERR_TOKEN_ABSENT,
                           "token \"%s\" is not present: insert it and try "
                           "again (%s)",
                           t->label, what);
        return;
    case CKR_USER_NOT_LOGGED_IN:
        tessera_status_set(st, TESSERA_ERR_TOKEN_LOCKED,
                           "token \"%s\" is locked: run `tessera unlock`",
                           t->label);
        return;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
        tessera_status_set(st, TESSERA_ERR_MECHANISM,
                           "token \"%s\" cannot %s with this key: %s", t->label,
                           what, p11_kit_strerror(rv));
        return;
    case CKR_DATA_LEN_RANGE:
    case CKR_DATA_INVALID:
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "token \"%s\" refused the input to %s: %s", t->label,
                           what, p11_kit_strerror(rv));
        return;
    }
    tessera_status_set(st, TESSERA_ERR_TOKEN_FAILED,
                       "token \"%s\" failed to %s: %s", t->label, what,
                       p11_kit_strerror(rv));
}

/* --- login */

/*
 * A login or logout talks to the token without the lock: this marks it
 * busy (waiting for one that is) and hands over the login session.
 */
static CK_SESSION_HANDLE
begin_login(struct agent_token *t)
{
    g_mutex_lock(&t->lock);
    while (t->login_busy)
        g_cond_wait(&t->login_done, &t->lock);
    t->login_busy = TRUE;
    CK_SESSION_HANDLE session = t->login_session;
    g_mutex_unlock(&t->lock);
    return session;
}

static void
end_login(struct agent_token *t, CK_SESSION_HANDLE session, gboolean logged_in)
{
    g_mutex_lock(&t->lock);
    t->login_session = session;
    g_atomic_int_set(&t->logged_in, logged_in);
    t->login_busy = FALSE;
    g_cond_broadcast(&t->login_done);
    g_mutex_unlock(&t->lock);
    /* Logged in or out, or the PIN counters moved. */
    agent_events_publish(t->events, AGENT_EVENT_TOKEN_CHANGED, NULL, NULL);
}

static void
report_wrong_pin(struct agent_token *t, gboolean still_unlocked,
                 struct tessera_status *st)
{
    CK_FLAGS flags;
    tessera_status_set(st, TESSERA_ERR_PIN_INCORRECT,
                       "wrong PIN for token \"%s\"; it was tried once and "
                       "will not be retried%s",
                       t->label,
                       still_unlocked
                           ? " (the token stays unlocked by its earlier login)"
                           : "");
    g_warning("wrong PIN for token \"%s\"", t->label);
    refresh_flags(t, &flags); /* the PIN counter has moved */
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
check_pin_while_unlocked(struct agent_token *t, CK_SESSION_HANDLE session,
                         CK_FLAGS flags, const uint8_t *pin, size_t pin_len,
                         gboolean protected_path)
{
    if (protected_path) /* no PIN was given: nothing to check */
        return CKR_OK;
    if (flags & (CKF_USER_PIN_TO_BE_CHANGED | CKF_WRITE_PROTECTED))
        return CKR_FUNCTION_NOT_SUPPORTED;
    CK_RV rv = p11_check_pin(t->module, session, pin, pin_len);
    return rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE
               ? CKR_FUNCTION_NOT_SUPPORTED
               : rv;
}

/* What the token must say before a PIN is spent on it; -1 with st. */
static int
ready_for_pin(struct agent_token *t, CK_FLAGS *flags, gboolean force,
              struct tessera_status *st)
{
    CK_RV rv = refresh_flags(t, flags);
    if (rv != CKR_OK) {
        token_fail(t, rv, "report its state", st);
        return -1;
    }
    if (*flags & CKF_USER_PIN_LOCKED) {
        tessera_status_set(st, TESSERA_ERR_PIN_LOCKED,
                           "the PIN of token \"%s\" is blocked; unblock it "
                           "with the token's PUK or security officer",
                           t->label);
        return -1;
    }
    if ((*flags & CKF_USER_PIN_FINAL_TRY) && !force) {
        tessera_status_set(st, TESSERA_ERR_PIN_FINAL_TRY,
                           "token \"%s\" has one PIN try left; a wrong PIN "
                           "will block it. Re-run with --force to use it",
                           t->label);
        return -1;
    }
    return 0;
}

/* How the token answered the PIN, as a status; 0 when it took it. */
static int
judge_login(struct agent_token *t, CK_RV rv, gboolean was_unlocked,
            struct tessera_status *st)
{
    switch (rv) {
    case CKR_OK:
        g_message("token \"%s\" unlocked", t->label);
        return 0;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
        report_wrong_pin(t, was_unlocked, st);
        return -1;
    case CKR_PIN_LOCKED:
        tessera_status_set(st, TESSERA_ERR_PIN_LOCKED,
                           "the PIN of token \"%s\" is blocked", t->label);
        return -1;
    case CKR_FUNCTION_NOT_SUPPORTED:
        if (was_unlocked) {
            tessera_status_set(st, TESSERA_ERR_MECHANISM,
                               "token \"%s\" is unlocked already and cannot "
                               "check a PIN while it is, so the PIN was not "
                               "checked: `tessera lock` it first",
                               t->label);
            return -1;
        }
        token_fail(t, rv, "log in", st);
        return -1;
    default:
        token_fail(t, rv, was_unlocked ? "check the PIN" : "log in", st);
        return -1;
    }
}

int
token_login(struct agent_token *t, const uint8_t *pin, size_t pin_len,
            gboolean force, struct tessera_status *st)
{
    CK_FLAGS flags = 0;
    CK_SESSION_HANDLE session = begin_login(t);
    gboolean logged_in = token_logged_in(t);
    int rc = ready_for_pin(t, &flags, force, st);
    CK_RV rv = CKR_OK;
    if (rc == 0 && session == CK_INVALID_HANDLE) {
        rv = p11_open_session(t->module, t->slot, TRUE, &session);
        if (rv != CKR_OK) {
            session = CK_INVALID_HANDLE;
            token_fail(t, rv, "open a session", st);
            rc = -1;
        }
    }
    if (rc == 0) {
        gboolean protected_path =
            (flags & CKF_PROTECTED_AUTHENTICATION_PATH) && pin_len == 0;
        /* Logged in already: the PIN goes to the check alone, so that no
         * token that looks at it in C_Login anyway counts it twice. */
        gboolean was_unlocked =
            p11_session_logged_in(t->module, session) ||
            (rv = p11_login(
                 t->module, session, CKU_USER, protected_path ? NULL : pin,
                 protected_path ? 0 : pin_len)) == CKR_USER_ALREADY_LOGGED_IN;
        if (was_unlocked)
            rv = check_pin_while_unlocked(t, session, flags, pin, pin_len,
                                          protected_path);
        rc = judge_login(t, rv, was_unlocked, st);
        logged_in = rc == 0 || was_unlocked;
    }
    /* Used now, before anyone sees it logged in: the idle lock counts
     * from here. */
    if (rc == 0)
        mark_used(t);
    end_login(t, session, logged_in);
    return rc;
}

static gboolean
same_file(const struct pin_file_stamp *p, const char *path,
          const struct stat *sb)
{
    return p->path != NULL && strcmp(p->path, path) == 0 &&
           p->dev == sb->st_dev && p->ino == sb->st_ino &&
           p->size == sb->st_size && p->mtime.tv_sec == sb->st_mtim.tv_sec &&
           p->mtime.tv_nsec == sb->st_mtim.tv_nsec &&
           p->ctime.tv_sec == sb->st_ctim.tv_sec &&
           p->ctime.tv_nsec == sb->st_ctim.tv_nsec;
}

/* Records path as refused (sb: what it was), or with sb NULL forgets. */
static void
stamp_refused(struct agent_token *t, const char *path, const struct stat *sb)
{
    struct pin_file_stamp *p = &t->refused_pin_file;
    g_mutex_lock(&t->lock);
    g_free(p->path);
    *p = (struct pin_file_stamp){0};
    if (sb != NULL)
        *p = (struct pin_file_stamp){g_strdup(path), sb->st_dev,  sb->st_ino,
                                     sb->st_size,    sb->st_mtim, sb->st_ctim};
    g_mutex_unlock(&t->lock);
}

/*
 * A pin-file is read at start and whenever its token comes back; a wrong
 * PIN in it would cost a try at each, and lock the token after a few
 * re-insertions. So a file whose PIN was wrong is not tried again until it
 * changes.
 */
int
token_login_from_file(struct agent_token *t, const char *path,
                      struct tessera_status *st)
{
    struct stat sb;
    gboolean seen = stat(path, &sb) == 0;
    g_mutex_lock(&t->lock);
    gboolean refused = seen && same_file(&t->refused_pin_file, path, &sb);
    g_mutex_unlock(&t->lock);
    if (refused) {
        tessera_status_set(st, TESSERA_ERR_PIN_INCORRECT,
                           "token \"%s\": the PIN in %s was wrong; it is "
                           "not tried again until the file changes",
                           t->label, path);
        return -1;
    }
    char pin[TESSERA_PIN_MAX + 1];
    size_t len = 0;
    struct tessera_status why = {0};
    int rc = -1;
    if (!tessera_read_pin_file(path, pin, sizeof(pin), &len, &why))
        tessera_status_set(st, why.code, "token \"%s\": %s", t->label,
                           why.message);
    else
        rc = token_login(t, (uint8_t *)pin, len, FALSE, st);
    OPENSSL_cleanse(pin, sizeof(pin));
    if (rc < 0 && st->code == TESSERA_ERR_PIN_INCORRECT && seen) {
        stamp_refused(t, path, &sb);
        tessera_status_set(st, TESSERA_ERR_PIN_INCORRECT,
                           "wrong PIN in %s for token \"%s\"; it was tried "
                           "once and will not be tried again until the file "
                           "changes",
                           path, t->label);
    } else if (rc == 0) {
        stamp_refused(t, path, NULL);
    }
    return rc;
}

int
token_logout(struct agent_token *t, struct tessera_status *st)
{
    CK_SESSION_HANDLE session = begin_login(t);
    CK_RV rv =
        session != CK_INVALID_HANDLE ? p11_logout(t->module, session) : CKR_OK;
    gboolean failed = rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN;
    if (failed)
        token_fail(t, rv, "log out", st);
    else
        g_message("token \"%s\" locked", t->label);
    end_login(t, session, failed && token_logged_in(t));
    return failed ? -1 : 0;
}

/* --- sessions */

/* A pooled session, waiting while the token's limit is reached. */
static CK_RV
take_session(struct agent_token *t, struct token_session *s)
{
    *s = (struct token_session){t, t->module, CK_INVALID_HANDLE, TRUE};
    g_mutex_lock(&t->lock);
    while (t->idle_sessions->len == 0 && t->open_sessions >= t->max_sessions)
        g_cond_wait(&t->session_returned, &t->lock);
    if (t->idle_sessions->len > 0) {
        guint last = t->idle_sessions->len - 1;
        s->handle = g_array_index(t->idle_sessions, CK_SESSION_HANDLE, last);
        g_array_remove_index(t->idle_sessions, last);
        g_mutex_unlock(&t->lock);
        return CKR_OK;
    }
    /* Reserve the slot, then open outside the lock: opening can be slow. */
    t->open_sessions++;
    g_mutex_unlock(&t->lock);
    CK_RV rv = p11_open_session(t->module, t->slot, FALSE, &s->handle);
    if (rv != CKR_OK) {
        g_mutex_lock(&t->lock);
        t->open_sessions--;
        g_cond_signal(&t->session_returned);
        g_mutex_unlock(&t->lock);
    }
    return rv;
}

int
token_session_take(struct agent_token *t, struct token_session *s,
                   struct tessera_status *st)
{
    CK_RV rv = take_session(t, s);
    if (rv == CKR_OK)
        return 0;
    token_fail(t, rv, "open a session", st);
    return -1;
}

int
token_session_open(struct agent_token *t, const char *what,
                   struct token_session *s, struct tessera_status *st)
{
    *s = (struct token_session){t, t->module, CK_INVALID_HANDLE, FALSE};
    CK_RV rv = p11_open_session(t->module, t->slot, TRUE, &s->handle);
    if (rv == CKR_OK)
        return 0;
    token_fail(t, rv, what, st);
    return -1;
}

void
token_session_end(struct token_session *s, gboolean broken)
{
    struct agent_token *t = s->token;
    if (!s->pooled || broken)
        p11_close_session(t->module, s->handle);
    if (s->pooled) {
        g_mutex_lock(&t->lock);
        if (broken)
            t->open_sessions--;
        else
            g_array_append_val(t->idle_sessions, s->handle);
        g_cond_signal(&t->session_returned);
        g_mutex_unlock(&t->lock);
    }
    s->handle = CK_INVALID_HANDLE;
}

/* --- the signing path */

static CK_RV
key_handle(const struct token_key *key, CK_FUNCTION_LIST *m,
           CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *out)
{
    gint64 cached = __atomic_load_n(key->handle, __ATOMIC_RELAXED);
    if (cached >= 0) {
        *out = (CK_OBJECT_HANDLE)cached;
        return CKR_OK;
    }
    GArray *found = g_array_new(FALSE, FALSE, sizeof(CK_OBJECT_HANDLE));
    CK_RV rv = p11_find(m, session, key->id, NULL, CKO_PRIVATE_KEY, found, 1);
    if (rv == CKR_OK && found->len == 0)
        rv = CKR_OBJECT_HANDLE_INVALID;
    if (rv == CKR_OK) {
        *out = g_array_index(found, CK_OBJECT_HANDLE, 0);
        __atomic_store_n(key->handle, (gint64)*out, __ATOMIC_RELAXED);
    }
    g_array_unref(found);
    return rv;
}

static gboolean
session_broken(CK_RV rv)
{
    return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
           rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
           rv == CKR_DEVICE_ERROR || rv == CKR_OPERATION_ACTIVE;
}

static void
report_missing_key(struct agent_token *t, const struct token_key *key,
                   struct tessera_status *st)
{
    if (!token_logged_in(t))
        tessera_status_set(st, TESSERA_ERR_TOKEN_LOCKED,
                           "token \"%s\" is locked: run `tessera unlock`",
                           t->label);
    else
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "the private key of identity %s is no longer on "
                           "token \"%s\"",
                           key->name, t->label);
}

/*
 * A key with CKA_ALWAYS_AUTHENTICATE wants the user before every signature.
 * On a PIN-pad token the pad asks; otherwise the PIN would have to be kept
 * or asked per signature, and Tessera does neither.
 */
static int
context_login(struct agent_token *t, const struct token_key *key,
              CK_SESSION_HANDLE session, struct tessera_status *st)
{
    if (!(last_flags(t) & CKF_PROTECTED_AUTHENTICATION_PATH)) {
        tessera_status_set(st, TESSERA_ERR_MECHANISM,
                           "the key of identity %s asks for the PIN before "
                           "every signature (CKA_ALWAYS_AUTHENTICATE); "
                           "Tessera serves such keys only on tokens with a "
                           "PIN pad",
                           key->name);
        return -1;
    }
    CK_RV rv = p11_login(t->module, session, CKU_CONTEXT_SPECIFIC, NULL, 0);
    if (rv != CKR_OK) {
        token_fail(t, rv, "confirm the signature on its PIN pad", st);
        return -1;
    }
    return 0;
}

int
token_sign(struct agent_token *t, const struct token_key *key,
           struct token_operation *op, struct tessera_blob *out,
           struct tessera_status *st)
{
    uint8_t buf[TESSERA_SIGNATURE_MAX];
    CK_RV rv = CKR_GENERAL_ERROR;
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        struct token_session s;
        CK_OBJECT_HANDLE handle;
        if ((rv = take_session(t, &s)) != CKR_OK)
            break;
        rv = key_handle(key, t->module, s.handle, &handle);
        if (rv == CKR_OBJECT_HANDLE_INVALID) {
            token_session_end(&s, FALSE);
            report_missing_key(t, key, st);
            return -1;
        }
        CK_ULONG len = sizeof(buf);
        if (rv == CKR_OK)
            rv = p11_operation_init(t->module, s.handle, op->decrypt,
                                    &op->mechanism, handle);
        if (rv == CKR_OK && key->always_authenticate &&
            context_login(t, key, s.handle, st) < 0) {
            token_session_end(&s, TRUE);
            return -1;
        }
        if (rv == CKR_OK)
            rv = p11_operation_run(t->module, s.handle, op->decrypt, op->input,
                                   op->input_len, buf, &len);
        token_session_end(&s, session_broken(rv));
        if (rv == CKR_OK) {
            mark_used(t);
            tessera_blob_copy(out, (struct tessera_bytes){buf, len});
            return 0;
        }
        if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID) {
            __atomic_store_n(key->handle, -1, __ATOMIC_RELAXED);
            continue;
        }
        if (rv != CKR_SESSION_HANDLE_INVALID && rv != CKR_SESSION_CLOSED)
            break;
    }
    if (rv == CKR_USER_NOT_LOGGED_IN)
        g_atomic_int_set(&t->logged_in, FALSE);
    /* A card pulled mid-signature may say only "general error" (OpenSC):
     * ask whether it is still there, and say so if not. */
    if ((rv == CKR_GENERAL_ERROR || rv == CKR_DEVICE_ERROR ||
         rv == CKR_FUNCTION_FAILED) &&
        (token_check_presence(t), !token_present(t)))
        rv = CKR_DEVICE_REMOVED;
    token_fail(t, rv, op->decrypt ? "decrypt" : "sign", st);
    return -1;
}

/* --- objects changing under a renewal */

void
token_objects_changing(struct agent_token *t)
{
    g_mutex_lock(&t->lock);
    t->objects_changing++;
    g_mutex_unlock(&t->lock);
}

void
token_objects_changed(struct agent_token *t)
{
    g_mutex_lock(&t->lock);
    t->objects_changing--;
    __atomic_add_fetch(&t->objects_generation, 1, __ATOMIC_RELEASE);
    g_cond_broadcast(&t->objects_settled);
    g_mutex_unlock(&t->lock);
}

unsigned
token_objects_generation(struct agent_token *t)
{
    /* Read per signature: no lock. */
    return __atomic_load_n(&t->objects_generation, __ATOMIC_ACQUIRE);
}

gboolean
token_objects_settle(struct agent_token *t, unsigned generation)
{
    g_mutex_lock(&t->lock);
    while (t->objects_changing > 0)
        g_cond_wait(&t->objects_settled, &t->lock);
    gboolean changed = t->objects_generation != generation;
    g_mutex_unlock(&t->lock);
    return changed;
}
