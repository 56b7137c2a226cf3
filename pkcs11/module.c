/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The entry point: C_GetFunctionList, the function list, C_Initialize and
 * C_Finalize, and the state they make and end.
 *
 * PKCS#11 2.40 only: no C_GetInterface. Version 3.0 adds nothing a token
 * that only signs needs (message-based encryption, C_LoginUser for named
 * users, C_SessionCancel), every program here (NSS, GnuTLS, p11-kit, libp11,
 * OpenSC's tools) loads 2.40 modules through C_GetFunctionList, and Debian
 * 12's p11-kit headers are 2.40: a 3.0 list would be 24 more stubs on
 * hand-written structures no consumer asks for.
 */
#include "module.h"
#include "../common/connect.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static struct module *current;
/* Bumped in every child after fork: a state of another generation is the
 * parent's, unusable until the child initialises again. */
static unsigned fork_generation;
/* States a child inherited: never used or freed (a thread of the parent
 * may have held them mid-operation), kept reachable. */
static struct module *inherited[16];
static size_t n_inherited;
static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;

static void
lock_before_fork(void)
{
    pthread_mutex_lock(&state_lock);
}

static void
unlock_in_parent(void)
{
    pthread_mutex_unlock(&state_lock);
}

static void
unlock_in_child(void)
{
    fork_generation++;
    pthread_mutex_unlock(&state_lock);
}

static void
install_fork_handler(void)
{
    pthread_atfork(lock_before_fork, unlock_in_parent, unlock_in_child);
}

void
module_lock(void)
{
    pthread_mutex_lock(&state_lock);
}

void
module_unlock(void)
{
    pthread_mutex_unlock(&state_lock);
}

void
module_wait_for_finalize(struct module *m)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 1;
    pthread_cond_timedwait(&m->finalizing, &state_lock, &deadline);
}

static struct module *
module_new(void)
{
    struct module *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    struct tessera_client_options options;
    tessera_client_library_options(&options);
    m->agent = tessera_client_new(&options);
    /* Our own library context: the host's openssl.cnf (a FIPS-only
     * default, a PKCS#11 provider that would load this module again)
     * must not decide how we hash and parse. */
    m->libctx = OSSL_LIB_CTX_new();
    if (m->agent == NULL || m->libctx == NULL) {
        tessera_client_free(m->agent);
        OSSL_LIB_CTX_free(m->libctx);
        free(m);
        return NULL;
    }
    m->refs = 1;
    m->fork_generation = fork_generation;
    m->next_object = 1;
    m->next_session = 1;
    pthread_cond_init(&m->finalizing, NULL);
    return m;
}

static void
module_free(struct module *m)
{
    sessions_free(m);
    objects_free(m);
    for (size_t i = 0; i < m->n_slots; i++)
        tessera_token_info_clear(&m->slots[i].token);
    free(m->slots);
    tessera_client_free(m->agent);
    OSSL_LIB_CTX_free(m->libctx);
    pthread_cond_destroy(&m->finalizing);
    free(m);
}

/* With the lock held: a state left by the parent stays, untouched. */
static void
forget_parent_state(void)
{
    if (current != NULL && current->fork_generation != fork_generation) {
        if (n_inherited < sizeof(inherited) / sizeof(inherited[0]))
            inherited[n_inherited++] = current;
        current = NULL;
    }
}

struct module *
module_enter(bool arguments_ok, CK_RV *rv)
{
    module_lock();
    forget_parent_state();
    struct module *m = current;
    if (m != NULL && arguments_ok)
        m->refs++;
    module_unlock();
    *rv = m == NULL       ? CKR_CRYPTOKI_NOT_INITIALIZED
          : !arguments_ok ? CKR_ARGUMENTS_BAD
                          : CKR_OK;
    return arguments_ok ? m : NULL;
}

void
module_leave(struct module *m)
{
    module_lock();
    bool last = --m->refs == 0;
    module_unlock();
    if (last)
        module_free(m);
}

static CK_RV
check_locking(const CK_C_INITIALIZE_ARGS *args)
{
    int given = (args->CreateMutex != NULL) + (args->DestroyMutex != NULL) +
                (args->LockMutex != NULL) + (args->UnlockMutex != NULL);
    if (given != 0 && given != 4)
        return CKR_ARGUMENTS_BAD;
    /* We lock with the OS's primitives; an application that insists on
     * its own must be told we cannot use them. */
    if (given == 4 && !(args->flags & CKF_OS_LOCKING_OK))
        return CKR_CANT_LOCK;
    /* pReserved is not looked at: NSS passes its module parameters there. */
    return CKR_OK;
}

CK_RV
C_Initialize(CK_VOID_PTR init_args)
{
    if (init_args != NULL) {
        CK_RV rv = check_locking(init_args);
        if (rv != CKR_OK)
            return rv;
    }
    if (tessera_inside_agent()) {
        module_debug("refusing to initialise inside tessera-agent: the "
                     "agent must not load its own PKCS#11 module");
        return CKR_FUNCTION_FAILED;
    }
    pthread_once(&fork_handler_once, install_fork_handler);
    module_lock();
    forget_parent_state();
    bool initialized = current != NULL;
    module_unlock();
    if (initialized)
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    struct module *m = module_new();
    if (m == NULL)
        return CKR_HOST_MEMORY;
    module_lock();
    initialized = current != NULL; /* another thread may have won */
    if (!initialized)
        current = m;
    module_unlock();
    if (initialized) {
        module_free(m);
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    }
    return CKR_OK;
}

CK_RV
C_Finalize(CK_VOID_PTR reserved)
{
    if (reserved != NULL)
        return CKR_ARGUMENTS_BAD;
    module_lock();
    forget_parent_state();
    struct module *m = current;
    current = NULL;
    bool last = false;
    if (m != NULL) {
        m->finalized = true;
        pthread_cond_broadcast(&m->finalizing);
        last = --m->refs == 0;
    }
    module_unlock();
    if (last)
        module_free(m);
    return m != NULL ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
}

void
module_pad(CK_UTF8CHAR *field, size_t size, const char *text)
{
    size_t len = strlen(text);
    if (len > size) {
        len = size;
        /* Back to the start of the character the cut would split. */
        while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
            len--;
    }
    memset(field, ' ', size);
    memcpy(field, text, len);
}

CK_RV
C_GetInfo(CK_INFO_PTR info)
{
    CK_RV rv;
    struct module *m = module_enter(info != NULL, &rv);
    if (m == NULL)
        return rv;
    memset(info, 0, sizeof(*info));
    info->cryptokiVersion = (CK_VERSION){2, 40};
    module_pad(info->manufacturerID, sizeof(info->manufacturerID),
               MODULE_MANUFACTURER);
    module_pad(info->libraryDescription, sizeof(info->libraryDescription),
               "Tessera agent identities");
    unsigned major = 0, minor = 0;
    sscanf(TESSERA_VERSION, "%u.%u", &major, &minor);
    info->libraryVersion = (CK_VERSION){(CK_BYTE)major, (CK_BYTE)minor};
    module_leave(m);
    return CKR_OK;
}

void
module_debug(const char *fmt, ...)
{
    const char *debug = getenv("TESSERA_PKCS11_DEBUG");
    if (debug == NULL || debug[0] == '\0' || strcmp(debug, "0") == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tessera-pkcs11: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

CK_RV
module_agent_error(const struct tessera_status *st, CK_RV otherwise)
{
    module_debug("%s", st->message);
    switch (st->code) {
    case TESSERA_ERR_TOKEN_LOCKED:
        return CKR_USER_NOT_LOGGED_IN;
    case TESSERA_ERR_TOKEN_ABSENT:
    case TESSERA_ERR_NO_TOKEN:
        return CKR_DEVICE_REMOVED;
    case TESSERA_ERR_NO_IDENTITY: /* renewed, and its grace period is over */
        return CKR_KEY_HANDLE_INVALID;
    case TESSERA_ERR_MECHANISM:
        return CKR_MECHANISM_INVALID;
    case TESSERA_ERR_PIN_INCORRECT:
        return CKR_PIN_INCORRECT;
    case TESSERA_ERR_PIN_LOCKED:
        return CKR_PIN_LOCKED;
    case TESSERA_ERR_PROMPT_CANCELLED: /* the agent's PIN prompt */
    case TESSERA_ERR_PROMPT_TIMEOUT:
        return CKR_FUNCTION_CANCELED;
    case TESSERA_ERR_PROGRAM_REFUSED: /* the identity's policy */
    case TESSERA_ERR_NOT_CONFIRMED:
        return CKR_FUNCTION_REJECTED;
    default:
        return otherwise;
    }
}

static CK_FUNCTION_LIST function_list = {
    .version = {2, 40},
    .C_Initialize = C_Initialize,
    .C_Finalize = C_Finalize,
    .C_GetInfo = C_GetInfo,
    .C_GetFunctionList = C_GetFunctionList,
    .C_GetSlotList = C_GetSlotList,
    .C_GetSlotInfo = C_GetSlotInfo,
    .C_GetTokenInfo = C_GetTokenInfo,
    .C_GetMechanismList = C_GetMechanismList,
    .C_GetMechanismInfo = C_GetMechanismInfo,
    .C_InitToken = C_InitToken,
    .C_InitPIN = C_InitPIN,
    .C_SetPIN = C_SetPIN,
    .C_OpenSession = C_OpenSession,
    .C_CloseSession = C_CloseSession,
    .C_CloseAllSessions = C_CloseAllSessions,
    .C_GetSessionInfo = C_GetSessionInfo,
    .C_GetOperationState = C_GetOperationState,
    .C_SetOperationState = C_SetOperationState,
    .C_Login = C_Login,
    .C_Logout = C_Logout,
    .C_CreateObject = C_CreateObject,
    .C_CopyObject = C_CopyObject,
    .C_DestroyObject = C_DestroyObject,
    .C_GetObjectSize = C_GetObjectSize,
    .C_GetAttributeValue = C_GetAttributeValue,
    .C_SetAttributeValue = C_SetAttributeValue,
    .C_FindObjectsInit = C_FindObjectsInit,
    .C_FindObjects = C_FindObjects,
    .C_FindObjectsFinal = C_FindObjectsFinal,
    .C_EncryptInit = C_EncryptInit,
    .C_Encrypt = C_Encrypt,
    .C_EncryptUpdate = C_EncryptUpdate,
    .C_EncryptFinal = C_EncryptFinal,
    .C_DecryptInit = C_DecryptInit,
    .C_Decrypt = C_Decrypt,
    .C_DecryptUpdate = C_DecryptUpdate,
    .C_DecryptFinal = C_DecryptFinal,
    .C_DigestInit = C_DigestInit,
    .C_Digest = C_Digest,
    .C_DigestUpdate = C_DigestUpdate,
    .C_DigestKey = C_DigestKey,
    .C_DigestFinal = C_DigestFinal,
    .C_SignInit = C_SignInit,
    .C_Sign = C_Sign,
    .C_SignUpdate = C_SignUpdate,
    .C_SignFinal = C_SignFinal,
    .C_SignRecoverInit = C_SignRecoverInit,
    .C_SignRecover = C_SignRecover,
    .C_VerifyInit = C_VerifyInit,
    .C_Verify = C_Verify,
    .C_VerifyUpdate = C_VerifyUpdate,
    .C_VerifyFinal = C_VerifyFinal,
    .C_VerifyRecoverInit = C_VerifyRecoverInit,
    .C_VerifyRecover = C_VerifyRecover,
    .C_DigestEncryptUpdate = C_DigestEncryptUpdate,
    .C_DecryptDigestUpdate = C_DecryptDigestUpdate,
    .C_SignEncryptUpdate = C_SignEncryptUpdate,
    .C_DecryptVerifyUpdate = C_DecryptVerifyUpdate,
    .C_GenerateKey = C_GenerateKey,
    .C_GenerateKeyPair = C_GenerateKeyPair,
    .C_WrapKey = C_WrapKey,
    .C_UnwrapKey = C_UnwrapKey,
    .C_DeriveKey = C_DeriveKey,
    .C_SeedRandom = C_SeedRandom,
    .C_GenerateRandom = C_GenerateRandom,
    .C_GetFunctionStatus = C_GetFunctionStatus,
    .C_CancelFunction = C_CancelFunction,
    .C_WaitForSlotEvent = C_WaitForSlotEvent,
};

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    if (list == NULL)
        return CKR_ARGUMENTS_BAD;
    *list = &function_list;
    return CKR_OK;
}
