/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fault-injecting PKCS#11 module for the tests: it forwards every call to
 * a real module (SoftHSM2) and, as a control file says, misbehaves the way
 * smartcards and TPMs do. SoftHSM2 never pulls itself out of its reader,
 * never reaches its last PIN try and never loses a session.
 *
 * Environment:
 *   FAULTY_MODULE   the real module (default SoftHSM2's)
 *   FAULTY_CONTROL  a file of key=value lines, read on every call:
 *     removed=1        the token is out of its reader
 *     final_try=1      the token reports CKF_USER_PIN_FINAL_TRY
 *     count_low=1      the token reports CKF_USER_PIN_COUNT_LOW
 *     stale_sessions=N the next N C_SignInit fail CKR_SESSION_HANDLE_INVALID
 *     stale_keys=N     the next N C_SignInit fail CKR_KEY_HANDLE_INVALID
 *     sign_error=RV    every C_Sign fails with RV (hex, e.g. 0x30)
 *     sign_delay_ms=N  every C_Sign takes N ms longer, as a smartcard does
 *     login_delay_ms=N every user C_Login takes N ms longer, as a PIN pad
 *                      does while its user types
 *     max_sessions=N   ulMaxSessionCount is N and C_OpenSession refuses more
 *     pin_locked=1     the token reports CKF_USER_PIN_LOCKED
 *     pin_to_be_changed=1 the token reports CKF_USER_PIN_TO_BE_CHANGED
 *     protected_path=1 the token has a PIN pad: C_Login with no PIN uses
 *                      FAULTY_PINPAD_PIN, as if typed there
 *     always_auth=1    private keys have CKA_ALWAYS_AUTHENTICATE: C_Sign
 *                      needs a CKU_CONTEXT_SPECIFIC login after C_SignInit
 *     slot_events=1    C_WaitForSlotEvent reports removal and insertion, as
 *                      OpenSC does (otherwise CKR_FUNCTION_NOT_SUPPORTED,
 *                      as SoftHSM2)
 *     no_eddsa=1       the token offers neither CKM_EC_EDWARDS_KEY_PAIR_GEN
 *                      nor CKM_EDDSA, as TPMs and most cards; generating
 *                      such a key anyway fails and is logged
 *   FAULTY_LOG      a file that gets one line per C_Login, C_SetPIN and
 *                   C_SignInit, "sessions N" whenever N sessions are open,
 *                   and "hidden mechanism" for each use of one no_eddsa hides
 *
 * Counters are written back as they are used. Tests drive one request at
 * a time, so the file needs no locking.
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define MAX_KEYS 8

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST faulty;
static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int finalized;
static long open_sessions;
/* Sessions between C_SignInit and their context-specific login. */
#define MAX_TRACKED 64
static CK_SESSION_HANDLE awaiting_login[MAX_TRACKED];

struct control {
    char key[MAX_KEYS][32];
    long value[MAX_KEYS];
    int n;
};

static void
read_control(struct control *c)
{
    const char *path = getenv("FAULTY_CONTROL");
    FILE *f = path ? fopen(path, "r") : NULL;
    char line[96];
    c->n = 0;
    while (f != NULL && c->n < MAX_KEYS && fgets(line, sizeof(line), f)) {
        char *eq = strchr(line, '=');
        if (eq == NULL || eq - line >= 32)
            continue;
        size_t len = (size_t)(eq - line);
        memcpy(c->key[c->n], line, len);
        c->key[c->n][len] = '\0';
        c->value[c->n++] = strtol(eq + 1, NULL, 0);
    }
    if (f != NULL)
        fclose(f);
}

static void
write_control(const struct control *c)
{
    const char *path = getenv("FAULTY_CONTROL");
    FILE *f = path ? fopen(path, "w") : NULL;
    for (int i = 0; f != NULL && i < c->n; i++)
        fprintf(f, "%s=%ld\n", c->key[i], c->value[i]);
    if (f != NULL)
        fclose(f);
}

static long
control(const char *key)
{
    struct control c;
    read_control(&c);
    for (int i = 0; i < c.n; i++)
        if (strcmp(c.key[i], key) == 0)
            return c.value[i];
    return 0;
}

/* Takes one from a counter; true if it was above zero. */
static int
use_one(const char *key)
{
    struct control c;
    read_control(&c);
    for (int i = 0; i < c.n; i++) {
        if (strcmp(c.key[i], key) == 0 && c.value[i] > 0) {
            c.value[i]--;
            write_control(&c);
            return 1;
        }
    }
    return 0;
}

static void
sleep_ms(long ms)
{
    if (ms > 0)
        nanosleep(&(struct timespec){ms / 1000, ms % 1000 * 1000000}, NULL);
}

static void
log_call(const char *name)
{
    const char *path = getenv("FAULTY_LOG");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (f != NULL) {
        fprintf(f, "%s\n", name);
        fclose(f);
    }
}

static CK_RV
faulty_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    if (present && control("removed")) {
        *count = 0;
        return CKR_OK;
    }
    return real->C_GetSlotList(present, list, count);
}

static CK_RV
faulty_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    CK_RV rv = real->C_GetSlotInfo(slot, info);
    if (rv == CKR_OK && control("removed"))
        info->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
    return rv;
}

static CK_RV
faulty_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    if (control("removed"))
        return CKR_TOKEN_NOT_PRESENT;
    CK_RV rv = real->C_GetTokenInfo(slot, info);
    if (rv == CKR_OK && control("final_try"))
        info->flags |= CKF_USER_PIN_FINAL_TRY;
    if (rv == CKR_OK && control("count_low"))
        info->flags |= CKF_USER_PIN_COUNT_LOW;
    if (rv == CKR_OK && control("pin_locked"))
        info->flags |= CKF_USER_PIN_LOCKED;
    if (rv == CKR_OK && control("pin_to_be_changed"))
        info->flags |= CKF_USER_PIN_TO_BE_CHANGED;
    if (rv == CKR_OK && control("protected_path"))
        info->flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
    if (rv == CKR_OK && control("max_sessions"))
        info->ulMaxSessionCount = (CK_ULONG)control("max_sessions");
    return rv;
}

static CK_RV
faulty_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app,
                   CK_NOTIFY notify, CK_SESSION_HANDLE_PTR session)
{
    if (control("removed"))
        return CKR_TOKEN_NOT_PRESENT;
    long limit = control("max_sessions");
    pthread_mutex_lock(&sessions_lock);
    CK_RV rv = limit > 0 && open_sessions >= limit
                   ? CKR_SESSION_COUNT
                   : real->C_OpenSession(slot, flags, app, notify, session);
    if (rv == CKR_OK) {
        char line[32];
        snprintf(line, sizeof(line), "sessions %ld", ++open_sessions);
        log_call(line);
    }
    pthread_mutex_unlock(&sessions_lock);
    return rv;
}

static CK_RV
faulty_CloseSession(CK_SESSION_HANDLE session)
{
    CK_RV rv = real->C_CloseSession(session);
    pthread_mutex_lock(&sessions_lock);
    if (rv == CKR_OK)
        open_sessions--;
    pthread_mutex_unlock(&sessions_lock);
    return rv;
}

/* Marks or clears a session's pending context-specific login. */
static int
awaiting(CK_SESSION_HANDLE session, int set, int clear)
{
    int found = 0;
    pthread_mutex_lock(&sessions_lock);
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (awaiting_login[i] == session && session != 0) {
            found = 1;
            if (clear)
                awaiting_login[i] = 0;
        }
    }
    for (int i = 0; set && !found && i < MAX_TRACKED; i++) {
        if (awaiting_login[i] == 0) {
            awaiting_login[i] = session;
            break;
        }
    }
    pthread_mutex_unlock(&sessions_lock);
    return found;
}

static CK_RV
faulty_Login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
             CK_ULONG len)
{
    if (user == CKU_CONTEXT_SPECIFIC) {
        log_call("C_Login context");
        if (pin != NULL || !control("protected_path"))
            return CKR_PIN_INCORRECT; /* this test token has only a PIN pad */
        return awaiting(session, 0, 1) ? CKR_OK : CKR_OPERATION_NOT_INITIALIZED;
    }
    log_call("C_Login");
    sleep_ms(control("login_delay_ms"));
    if (control("removed"))
        return CKR_DEVICE_REMOVED;
    const char *pinpad = getenv("FAULTY_PINPAD_PIN");
    if (pin == NULL && control("protected_path") && pinpad != NULL)
        return real->C_Login(session, user, (CK_UTF8CHAR_PTR)pinpad,
                             strlen(pinpad));
    return real->C_Login(session, user, pin, len);
}

static CK_RV
faulty_SetPIN(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR old_pin,
              CK_ULONG old_len, CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
    log_call("C_SetPIN");
    return real->C_SetPIN(session, old_pin, old_len, new_pin, new_len);
}

static CK_RV
faulty_GetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                         CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
    CK_RV rv = real->C_GetAttributeValue(session, object, tmpl, count);
    if (!control("always_auth"))
        return rv;
    CK_OBJECT_CLASS cls;
    CK_ATTRIBUTE class_attr = {CKA_CLASS, &cls, sizeof(cls)};
    if (real->C_GetAttributeValue(session, object, &class_attr, 1) != CKR_OK ||
        cls != CKO_PRIVATE_KEY)
        return rv;
    for (CK_ULONG i = 0; i < count; i++) {
        if (tmpl[i].type == CKA_ALWAYS_AUTHENTICATE && tmpl[i].pValue != NULL &&
            tmpl[i].ulValueLen >= sizeof(CK_BBOOL)) {
            *(CK_BBOOL *)tmpl[i].pValue = CK_TRUE;
            tmpl[i].ulValueLen = sizeof(CK_BBOOL);
        }
    }
    return rv;
}

static CK_RV
faulty_SignInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech,
                CK_OBJECT_HANDLE key)
{
    log_call("C_SignInit");
    if (control("removed"))
        return CKR_DEVICE_REMOVED;
    if (use_one("stale_sessions"))
        return CKR_SESSION_HANDLE_INVALID;
    if (use_one("stale_keys"))
        return CKR_KEY_HANDLE_INVALID;
    CK_RV rv = real->C_SignInit(session, mech, key);
    if (rv == CKR_OK && control("always_auth"))
        awaiting(session, 1, 0);
    return rv;
}

static CK_RV
faulty_Sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG len,
            CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    if (control("always_auth") && awaiting(session, 0, 1)) {
        CK_ULONG n = *sig_len;
        real->C_Sign(session, data, len, sig, &n); /* end the operation */
        return CKR_USER_NOT_LOGGED_IN;
    }
    sleep_ms(control("sign_delay_ms"));
    /* Read after the delay: a card pulled out mid-signature fails it. */
    CK_RV injected = (CK_RV)control("sign_error");
    if (control("removed"))
        injected = CKR_DEVICE_REMOVED;
    CK_RV rv = real->C_Sign(session, data, len, sig, sig_len);
    /* The real operation is finished either way, as on a failing card. */
    return injected != CKR_OK ? injected : rv;
}

static int
hidden(CK_MECHANISM_TYPE type)
{
    return (type == CKM_EC_EDWARDS_KEY_PAIR_GEN || type == CKM_EDDSA) &&
           control("no_eddsa");
}

static CK_RV
faulty_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list,
                        CK_ULONG_PTR count)
{
    CK_RV rv = real->C_GetMechanismList(slot, list, count);
    CK_ULONG kept = 0;
    for (CK_ULONG i = 0; rv == CKR_OK && list != NULL && i < *count; i++)
        if (!hidden(list[i]))
            list[kept++] = list[i];
    if (rv == CKR_OK && list != NULL)
        *count = kept;
    return rv;
}

static CK_RV
faulty_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                        CK_MECHANISM_INFO_PTR info)
{
    if (hidden(type))
        return CKR_MECHANISM_INVALID;
    return real->C_GetMechanismInfo(slot, type, info);
}

static CK_RV
faulty_GenerateKeyPair(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech,
                       CK_ATTRIBUTE_PTR pub, CK_ULONG n_pub,
                       CK_ATTRIBUTE_PTR priv, CK_ULONG n_priv,
                       CK_OBJECT_HANDLE_PTR pub_key,
                       CK_OBJECT_HANDLE_PTR priv_key)
{
    if (mech != NULL && hidden(mech->mechanism)) {
        log_call("hidden mechanism");
        return CKR_MECHANISM_INVALID;
    }
    return real->C_GenerateKeyPair(session, mech, pub, n_pub, priv, n_priv,
                                   pub_key, priv_key);
}

static CK_RV
faulty_Finalize(CK_VOID_PTR reserved)
{
    finalized = 1; /* ends a C_WaitForSlotEvent blocked in another thread */
    return real->C_Finalize(reserved);
}

static CK_RV
faulty_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR rsvd)
{
    static long seen = -1; /* the removed state last reported */
    if (!control("slot_events"))
        return CKR_FUNCTION_NOT_SUPPORTED;
    for (;;) {
        if (finalized)
            return CKR_CRYPTOKI_NOT_INITIALIZED;
        long removed = control("removed");
        if (seen < 0)
            seen = removed;
        if (removed != seen) {
            CK_ULONG n = 1;
            seen = removed;
            real->C_GetSlotList(CK_FALSE, slot, &n);
            log_call("slot event");
            return CKR_OK;
        }
        if (flags & CKF_DONT_BLOCK)
            return CKR_NO_EVENT;
        nanosleep(&(struct timespec){0, 50 * 1000000}, NULL);
    }
}

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    if (real == NULL) {
        const char *path = getenv("FAULTY_MODULE");
        void *h = dlopen(path ? path : DEFAULT_MODULE, RTLD_NOW | RTLD_LOCAL);
        CK_C_GetFunctionList get =
            h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
        if (get == NULL || get(&real) != CKR_OK)
            return CKR_GENERAL_ERROR;
        faulty = *real;
        faulty.C_GetSlotList = faulty_GetSlotList;
        faulty.C_GetSlotInfo = faulty_GetSlotInfo;
        faulty.C_GetTokenInfo = faulty_GetTokenInfo;
        faulty.C_OpenSession = faulty_OpenSession;
        faulty.C_CloseSession = faulty_CloseSession;
        faulty.C_Login = faulty_Login;
        faulty.C_SetPIN = faulty_SetPIN;
        faulty.C_Finalize = faulty_Finalize;
        faulty.C_WaitForSlotEvent = faulty_WaitForSlotEvent;
        faulty.C_GetAttributeValue = faulty_GetAttributeValue;
        faulty.C_SignInit = faulty_SignInit;
        faulty.C_Sign = faulty_Sign;
        faulty.C_GetMechanismList = faulty_GetMechanismList;
        faulty.C_GetMechanismInfo = faulty_GetMechanismInfo;
        faulty.C_GenerateKeyPair = faulty_GenerateKeyPair;
    }
    *list = &faulty;
    return CKR_OK;
}
