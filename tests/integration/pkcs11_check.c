/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A PKCS#11 program for the tests, as a host would load tessera-pkcs11.so:
 * dlopen, C_GetFunctionList, C_Initialize. Every signature it makes is
 * verified with OpenSSL against the certificate the module showed beside
 * the key.
 *
 *   pkcs11_check MODULE functions      every function present; the rules
 *                                       of C_Initialize and C_Finalize
 *   pkcs11_check MODULE list           slots, token flags and objects
 *   pkcs11_check MODULE sign LABEL [-n COUNT] [-t THREADS] [-p]
 *                                       threads sign (-p: RSA-PSS)
 *   pkcs11_check MODULE fork LABEL     4 threads sign while 10 children
 *                                       fork, initialise again and sign
 *   pkcs11_check MODULE finalize       C_Finalize ends a blocked
 *                                       C_WaitForSlotEvent and in-flight
 *                                       signatures, then dlclose
 *   pkcs11_check MODULE hold LABEL FILE
 *                                       find and sign, print "paused", wait
 *                                       for FILE, sign with the same
 *                                       handles, then search again
 *   pkcs11_check MODULE login PIN      a locked token: state, keys, C_Login
 *                                       (PIN "-": none, for a PIN pad)
 *   pkcs11_check MODULE hostile        against tests' fake agent
 */
#include <dlfcn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static CK_FUNCTION_LIST *p11;
static void *module_handle;
static bool use_pss;

static const char *
rv_name(CK_RV rv)
{
    static const struct {
        CK_RV rv;
        const char *name;
    } names[] = {
        {CKR_OK, "CKR_OK"},
        {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
        {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
        {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
        {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
        {CKR_CANT_LOCK, "CKR_CANT_LOCK"},
        {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
        {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
        {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED"},
        {CKR_FUNCTION_REJECTED, "CKR_FUNCTION_REJECTED"},
        {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
        {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
        {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
        {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
        {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
        {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
        {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED"},
        {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
        {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
        {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED"},
        {CKR_SESSION_PARALLEL_NOT_SUPPORTED,
         "CKR_SESSION_PARALLEL_NOT_SUPPORTED"},
        {CKR_FUNCTION_NOT_PARALLEL, "CKR_FUNCTION_NOT_PARALLEL"},
        {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
        {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].rv == rv)
            return names[i].name;
    }
    static char other[32];
    snprintf(other, sizeof(other), "CKR 0x%lx", rv);
    return other;
}

static void
die(const char *what, CK_RV rv)
{
    fprintf(stderr, "pkcs11_check: %s: %s\n", what, rv_name(rv));
    exit(1);
}

static void
load(const char *path)
{
    module_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList get =
        module_handle
            ? (CK_C_GetFunctionList)dlsym(module_handle, "C_GetFunctionList")
            : NULL;
    if (get == NULL || get(&p11) != CKR_OK) {
        fprintf(stderr, "pkcs11_check: cannot load %s: %s\n", path, dlerror());
        exit(1);
    }
}

static void
initialize(void)
{
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_RV rv = p11->C_Initialize(&args);
    if (rv != CKR_OK)
        die("C_Initialize", rv);
}

static CK_SLOT_ID
first_slot(void)
{
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    CK_RV rv = p11->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK)
        die("C_GetSlotList", rv);
    if (n == 0) {
        fprintf(stderr, "pkcs11_check: no token\n");
        exit(1);
    }
    return slots[0];
}

static CK_SESSION_HANDLE
open_session(void)
{
    CK_SESSION_HANDLE s;
    CK_RV rv =
        p11->C_OpenSession(first_slot(), CKF_SERIAL_SESSION, NULL, NULL, &s);
    if (rv != CKR_OK)
        die("C_OpenSession", rv);
    return s;
}

/* Objects of a class (and label, and id, if given): how many, first max. */
static CK_ULONG
find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label,
     const uint8_t *id, size_t id_len, CK_OBJECT_HANDLE *out, CK_ULONG max)
{
    CK_ATTRIBUTE t[3] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_ULONG n = 1, found = 0;
    if (label != NULL)
        t[n++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
    if (id != NULL)
        t[n++] = (CK_ATTRIBUTE){CKA_ID, (void *)id, id_len};
    CK_RV rv = p11->C_FindObjectsInit(s, t, n);
    if (rv != CKR_OK)
        die("C_FindObjectsInit", rv);
    rv = p11->C_FindObjects(s, out, max, &found);
    if (rv != CKR_OK)
        die("C_FindObjects", rv);
    p11->C_FindObjectsFinal(s);
    return found;
}

/* An attribute into a fresh buffer; NULL if the object has none. */
static uint8_t *
attribute(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
          CK_ULONG *len)
{
    CK_ATTRIBUTE a = {type, NULL, 0};
    if (p11->C_GetAttributeValue(s, o, &a, 1) != CKR_OK ||
        a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return NULL;
    a.pValue = malloc(a.ulValueLen + 1);
    if (p11->C_GetAttributeValue(s, o, &a, 1) != CKR_OK) {
        free(a.pValue);
        return NULL;
    }
    *len = a.ulValueLen;
    return a.pValue;
}

/* An identity as a session found it: its key, and its certificate. */
struct pair {
    CK_OBJECT_HANDLE key;
    X509 *cert;
    uint8_t id[256];
    CK_ULONG id_len;
};

static bool
find_pair(CK_SESSION_HANDLE s, const char *label, struct pair *p)
{
    CK_OBJECT_HANDLE cert;
    memset(p, 0, sizeof(*p));
    if (find(s, CKO_CERTIFICATE, label, NULL, 0, &cert, 1) != 1)
        return false;
    CK_ULONG len = 0, id_len = 0;
    uint8_t *der = attribute(s, cert, CKA_VALUE, &len);
    uint8_t *id = attribute(s, cert, CKA_ID, &id_len);
    const unsigned char *q = der;
    p->cert = der ? d2i_X509(NULL, &q, (long)len) : NULL;
    if (id != NULL && id_len <= sizeof(p->id)) {
        memcpy(p->id, id, id_len);
        p->id_len = id_len;
    }
    free(der);
    free(id);
    return p->cert != NULL &&
           find(s, CKO_PRIVATE_KEY, NULL, p->id, p->id_len, &p->key, 1) == 1;
}

/* PKCS#11's r || s as DER, for OpenSSL. */
static bool
raw_to_der(const uint8_t *raw, CK_ULONG len, uint8_t *der, size_t *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(sig, BN_bin2bn(raw, (int)len / 2, NULL),
                   BN_bin2bn(raw + len / 2, (int)len / 2, NULL));
    unsigned char *p = der;
    int n = i2d_ECDSA_SIG(sig, &p);
    ECDSA_SIG_free(sig);
    *der_len = n > 0 ? (size_t)n : 0;
    return n > 0;
}

/* One signature of a random message, verified against the certificate. */
static CK_RV
sign_verify(CK_SESSION_HANDLE s, const struct pair *p, bool *verified)
{
    EVP_PKEY *pub = X509_get0_pubkey(p->cert);
    bool ec = EVP_PKEY_is_a(pub, "EC");
    CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mech = {ec ? CKM_ECDSA_SHA256 : CKM_SHA256_RSA_PKCS, NULL, 0};
    if (!ec && use_pss)
        mech = (CK_MECHANISM){CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof(pss)};
    uint8_t msg[64], sig[1024], der[1024];
    CK_ULONG sig_len = sizeof(sig);
    size_t der_len;
    *verified = false;
    RAND_bytes(msg, sizeof(msg));
    CK_RV rv = p11->C_SignInit(s, &mech, p->key);
    if (rv == CKR_OK)
        rv = p11->C_Sign(s, msg, sizeof(msg), sig, &sig_len);
    if (rv != CKR_OK)
        return rv;
    const uint8_t *checked = sig;
    size_t checked_len = sig_len;
    if (ec && raw_to_der(sig, sig_len, der, &der_len)) {
        checked = der;
        checked_len = der_len;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx;
    *verified =
        EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pub) == 1 &&
        (ec || !use_pss ||
         (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
          EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1)) &&
        EVP_DigestVerify(ctx, checked, checked_len, msg, sizeof(msg)) == 1;
    EVP_MD_CTX_free(ctx);
    return CKR_OK;
}

/* --- functions: the interface and the rules of initialisation */

static int
check_functions(void)
{
    int failures = 0;
#define EXPECT(what, call, want)                                               \
    do {                                                                       \
        CK_RV got_ = (call);                                                   \
        printf("%s - %s: %s\n", got_ == (want) ? "ok" : "not ok", what,        \
               rv_name(got_));                                                 \
        failures += got_ != (want);                                            \
    } while (0)
    /* The list is the version and then nothing but function pointers. */
    CK_VOID_PTR *fn = (CK_VOID_PTR *)&p11->C_Initialize;
    size_t n = (sizeof(*p11) - offsetof(CK_FUNCTION_LIST, C_Initialize)) /
               sizeof(void *);
    size_t present = 0;
    for (size_t i = 0; i < n; i++)
        present += fn[i] != NULL;
    printf("%s - %zu of %zu functions present, version %u.%u\n",
           present == n && n == 68 ? "ok" : "not ok", present, n,
           p11->version.major, p11->version.minor);
    failures += present != n || n != 68;
    EXPECT("a call before C_Initialize", p11->C_GetSlotList(0, NULL, NULL),
           CKR_CRYPTOKI_NOT_INITIALIZED);
    CK_C_INITIALIZE_ARGS own_locks = {.CreateMutex = (CK_CREATEMUTEX)1,
                                      .DestroyMutex = (CK_DESTROYMUTEX)1,
                                      .LockMutex = (CK_LOCKMUTEX)1,
                                      .UnlockMutex = (CK_UNLOCKMUTEX)1};
    EXPECT("C_Initialize with the application's locks only",
           p11->C_Initialize(&own_locks), CKR_CANT_LOCK);
    own_locks.flags = CKF_OS_LOCKING_OK;
    EXPECT("C_Initialize with CKF_OS_LOCKING_OK", p11->C_Initialize(&own_locks),
           CKR_OK);
    EXPECT("a second C_Initialize", p11->C_Initialize(NULL),
           CKR_CRYPTOKI_ALREADY_INITIALIZED);
    CK_SESSION_HANDLE s = 0;
    CK_SLOT_ID slot = first_slot();
    EXPECT("a read-write session on a write-protected token",
           p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                              NULL, &s),
           CKR_TOKEN_WRITE_PROTECTED);
    EXPECT("a session without CKF_SERIAL_SESSION",
           p11->C_OpenSession(slot, 0, NULL, NULL, &s),
           CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    EXPECT("C_OpenSession",
           p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s),
           CKR_OK);
    CK_MECHANISM des = {CKM_DES3_CBC, NULL, 0};
    EXPECT("C_EncryptInit", p11->C_EncryptInit(s, &des, 1),
           CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT("C_DecryptInit", p11->C_DecryptInit(s, &des, 1),
           CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT("C_GenerateKeyPair",
           p11->C_GenerateKeyPair(s, &des, NULL, 0, NULL, 0, NULL, NULL),
           CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT("C_GenerateRandom", p11->C_GenerateRandom(s, (CK_BYTE_PTR) "x", 1),
           CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT("C_CreateObject", p11->C_CreateObject(s, NULL, 0, NULL),
           CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT("C_InitToken", p11->C_InitToken(slot, NULL, 0, NULL),
           CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT("C_SignRecoverInit", p11->C_SignRecoverInit(s, &des, 1),
           CKR_FUNCTION_NOT_SUPPORTED);
    EXPECT("C_GetFunctionStatus", p11->C_GetFunctionStatus(s),
           CKR_FUNCTION_NOT_PARALLEL);
    EXPECT("an unknown signature mechanism", p11->C_SignInit(s, &des, 1),
           CKR_MECHANISM_INVALID);
    EXPECT("an unknown session", p11->C_CloseSession(s + 1000),
           CKR_SESSION_HANDLE_INVALID);
    EXPECT("C_Finalize with a reserved pointer", p11->C_Finalize(&s),
           CKR_ARGUMENTS_BAD);
    EXPECT("C_Finalize", p11->C_Finalize(NULL), CKR_OK);
    EXPECT("a call after C_Finalize", p11->C_CloseSession(s),
           CKR_CRYPTOKI_NOT_INITIALIZED);
    EXPECT("C_Initialize again", p11->C_Initialize(NULL), CKR_OK);
    EXPECT("its sessions are gone", p11->C_CloseSession(s),
           CKR_SESSION_HANDLE_INVALID);
    EXPECT("C_Finalize again", p11->C_Finalize(NULL), CKR_OK);
#undef EXPECT
    return failures == 0 ? 0 : 1;
}

/* --- list */

static void
print_hex(const uint8_t *p, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static int
list(void)
{
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    initialize();
    if (p11->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        return 1;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO t;
        CK_SESSION_HANDLE s;
        if (p11->C_GetTokenInfo(slots[i], &t) != CKR_OK ||
            p11->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s) !=
                CKR_OK)
            return 1;
        printf("token %.32s flags:%s%s%s%s\n", t.label,
               t.flags & CKF_LOGIN_REQUIRED ? " login-required" : "",
               t.flags & CKF_PROTECTED_AUTHENTICATION_PATH ? " pin-pad" : "",
               t.flags & CKF_WRITE_PROTECTED ? " write-protected" : "",
               t.flags & CKF_USER_PIN_FINAL_TRY ? " final-try" : "");
        CK_OBJECT_HANDLE objects[256];
        CK_ULONG found = 0;
        p11->C_FindObjectsInit(s, NULL, 0);
        p11->C_FindObjects(s, objects, 256, &found);
        p11->C_FindObjectsFinal(s);
        for (CK_ULONG j = 0; j < found; j++) {
            CK_ULONG len = 0, id_len = 0, cls_len = 0, cat_len = 0;
            uint8_t *label = attribute(s, objects[j], CKA_LABEL, &len);
            uint8_t *id = attribute(s, objects[j], CKA_ID, &id_len);
            CK_ULONG *cls =
                (CK_ULONG *)attribute(s, objects[j], CKA_CLASS, &cls_len);
            CK_ULONG *cat = (CK_ULONG *)attribute(
                s, objects[j], CKA_CERTIFICATE_CATEGORY, &cat_len);
            const char *kind = *cls == CKO_CERTIFICATE  ? "certificate"
                               : *cls == CKO_PUBLIC_KEY ? "public-key"
                                                        : "private-key";
            printf("  %s %.*s", kind, (int)len, label ? (char *)label : "");
            if (cat != NULL)
                printf(" category=%lu", *cat);
            printf(" id=");
            print_hex(id, id_len);
            printf("\n");
            free(label);
            free(id);
            free(cls);
            free(cat);
        }
    }
    p11->C_Finalize(NULL);
    return 0;
}

/* --- sign: threads with sessions of their own */

struct signer {
    const char *label;
    int count;
    int good;
    CK_RV last;
    struct pair pair; /* sign_until_stopped: what it found */
    uint8_t sig[256]; /* and its last good signature */
    CK_ULONG sig_len;
};

static void *
sign_thread(void *arg)
{
    struct signer *w = arg;
    CK_SESSION_HANDLE s = open_session();
    struct pair p;
    if (!find_pair(s, w->label, &p)) {
        fprintf(stderr, "pkcs11_check: no certificate and key for %s\n",
                w->label);
        return NULL;
    }
    for (int i = 0; i < w->count; i++) {
        bool verified;
        w->last = sign_verify(s, &p, &verified);
        w->good += w->last == CKR_OK && verified;
    }
    X509_free(p.cert);
    p11->C_CloseSession(s);
    return NULL;
}

static int
sign(const char *label, int count, int threads)
{
    pthread_t t[64];
    struct signer w[64];
    initialize();
    for (int i = 0; i < threads; i++) {
        w[i] = (struct signer){.label = label, .count = count};
        pthread_create(&t[i], NULL, sign_thread, &w[i]);
    }
    int good = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        good += w[i].good;
        if (w[i].last != CKR_OK)
            printf("thread %d: %s\n", i, rv_name(w[i].last));
    }
    printf("%d of %d signed and verified\n", good, count * threads);
    p11->C_Finalize(NULL);
    return good == count * threads ? 0 : 1;
}

/* --- fork: children of a process whose threads are signing */

static volatile bool stop_signing;
static pthread_barrier_t started;
static uint8_t loop_digest[32];
/*
 * Under the sanitizers (TESSERA_SANITIZED) the signing threads pause
 * around each fork: GCC 12's ASan allocator has no fork handlers, so a
 * child forked while another thread is inside malloc hangs on the
 * allocator's lock (glibc's malloc is fork-safe; seen only under ASan).
 * The normal build forks while the threads are anywhere, locks held.
 */
/* Writers first: with glibc's default (readers first) four signing threads
 * that take the gate in turn keep it held for ever and the fork waits. */
static pthread_rwlock_t fork_gate =
    PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static bool gate_forks;

/*
 * Signs one digest with raw CKM_ECDSA until stopped, and keeps the last
 * signature to verify afterwards: the loop makes no OpenSSL call, so a
 * fork never meets one of OpenSSL's locks held by this thread (OpenSSL
 * 3.0's own locks have no fork handlers; the module's and the client
 * library's do). Every thread has found its key when `started` opens.
 */
static void *
sign_until_stopped(void *arg)
{
    struct signer *w = arg;
    CK_SESSION_HANDLE s = open_session();
    bool found = find_pair(s, w->label, &w->pair);
    pthread_barrier_wait(&started);
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    while (found && !stop_signing) {
        uint8_t sig[256];
        CK_ULONG len = sizeof(sig);
        if (gate_forks)
            pthread_rwlock_rdlock(&fork_gate);
        w->last = p11->C_SignInit(s, &mech, w->pair.key);
        if (w->last == CKR_OK)
            w->last =
                p11->C_Sign(s, loop_digest, sizeof(loop_digest), sig, &len);
        if (w->last == CKR_OK) {
            memcpy(w->sig, sig, len);
            w->sig_len = len;
            w->good++;
        }
        w->count++;
        if (gate_forks)
            pthread_rwlock_unlock(&fork_gate);
    }
    return NULL;
}

/* Whether the thread's last signature verifies against its certificate. */
static bool
last_signature_verifies(struct signer *w)
{
    uint8_t der[300];
    size_t der_len;
    EVP_PKEY_CTX *ctx =
        w->pair.cert ? EVP_PKEY_CTX_new(X509_get0_pubkey(w->pair.cert), NULL)
                     : NULL;
    bool ok = ctx != NULL && w->sig_len > 0 &&
              raw_to_der(w->sig, w->sig_len, der, &der_len) &&
              EVP_PKEY_verify_init(ctx) == 1 &&
              EVP_PKEY_verify(ctx, der, der_len, loop_digest,
                              sizeof(loop_digest)) == 1;
    EVP_PKEY_CTX_free(ctx);
    X509_free(w->pair.cert);
    return ok;
}

/* 4 threads signing, started; `started` and the digest set up. */
static void
start_signers(pthread_t t[4], struct signer w[4], const char *label)
{
    RAND_bytes(loop_digest, sizeof(loop_digest));
    pthread_barrier_init(&started, NULL, 5);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct signer){.label = label};
        pthread_create(&t[i], NULL, sign_until_stopped, &w[i]);
    }
    pthread_barrier_wait(&started);
}

/* Stops them: how many signatures, and how many threads' last verified. */
static void
stop_signers(pthread_t t[4], struct signer w[4], int *good, int *total,
             int *verified)
{
    stop_signing = true;
    *good = *total = *verified = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        *good += w[i].good;
        *total += w[i].count;
        *verified += last_signature_verifies(&w[i]);
    }
}

/* In the child: the parent's initialisation is not its own. */
static int
child(const char *label)
{
    CK_ULONG n = 0;
    if (p11->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED)
        return 2;
    if (p11->C_Initialize(NULL) != CKR_OK)
        return 3;
    CK_SESSION_HANDLE s = open_session();
    struct pair p;
    bool verified = false;
    if (!find_pair(s, label, &p) || sign_verify(s, &p, &verified) != CKR_OK ||
        !verified)
        return 4;
    X509_free(p.cert);
    p11->C_Finalize(NULL);
    return 0;
}

static int
fork_while_signing(const char *label)
{
    pthread_t t[4];
    struct signer w[4];
    initialize();
    gate_forks = getenv("TESSERA_SANITIZED") != NULL;
    start_signers(t, w, label);
    int children_ok = 0;
    for (int i = 0; i < 10; i++) {
        usleep(20000);
        if (gate_forks)
            pthread_rwlock_wrlock(&fork_gate);
        pid_t pid = fork();
        if (gate_forks && pid != 0)
            pthread_rwlock_unlock(&fork_gate);
        if (pid == 0)
            _exit(child(label));
        int status;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            children_ok++;
        else
            printf("child %d: exit status %d\n", i,
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    int good, total, verified;
    stop_signers(t, w, &good, &total, &verified);
    printf("%d of 10 children initialised again and signed; the parent's "
           "threads: %d of %d signed, the last of %d of 4 verified\n",
           children_ok, good, total, verified);
    p11->C_Finalize(NULL);
    return children_ok == 10 && good == total && total > 0 && verified == 4 ? 0
                                                                            : 1;
}

/* --- finalize: nothing in flight keeps it waiting, or crashes after */

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *
wait_for_events(void *arg)
{
    CK_RV *rv = arg;
    CK_SLOT_ID slot;
    /* Tokens already there are reported first. */
    while ((*rv = p11->C_WaitForSlotEvent(0, &slot, NULL)) == CKR_OK)
        ;
    return NULL;
}

static int
finalize(const char *label)
{
    pthread_t waiter, signers[4];
    struct signer w[4];
    CK_RV waited = CKR_OK;
    initialize();
    pthread_create(&waiter, NULL, wait_for_events, &waited);
    start_signers(signers, w, label);
    usleep(300000);
    double start = now_ms();
    CK_RV rv = p11->C_Finalize(NULL);
    pthread_join(waiter, NULL);
    double waited_ms = now_ms() - start;
    int good, total, verified;
    stop_signers(signers, w, &good, &total, &verified);
    printf("C_Finalize: %s; C_WaitForSlotEvent then returned %s after "
           "%.0f ms; %d of %d signatures made before it, the last of %d of 4 "
           "threads verified\n",
           rv_name(rv), rv_name(waited), waited_ms, good, total, verified);
    dlclose(module_handle);
    printf("unloaded\n");
    return rv == CKR_OK && waited == CKR_CRYPTOKI_NOT_INITIALIZED &&
                   waited_ms < 2000 && good > 0 && verified == 4
               ? 0
               : 1;
}

/* --- hold: a session across a renewal or an agent restart */

static void
serial_text(X509 *cert, char *buf, size_t size)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = BN_bn2hex(bn);
    snprintf(buf, size, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
}

static int
hold(const char *label, const char *go)
{
    initialize();
    CK_SESSION_HANDLE s = open_session();
    struct pair old, fresh;
    bool verified;
    if (!find_pair(s, label, &old) ||
        sign_verify(s, &old, &verified) != CKR_OK || !verified)
        return 1;
    printf("paused\n");
    fflush(stdout);
    struct stat sb;
    while (stat(go, &sb) != 0)
        usleep(50000);
    CK_RV rv = sign_verify(s, &old, &verified);
    printf("the key found before: %s, %s the certificate found with it\n",
           rv_name(rv), verified ? "verified against" : "NOT verified against");
    if (!find_pair(s, label, &fresh)) {
        printf("a new search found no certificate and key\n");
        return 1;
    }
    char before[128], after[128];
    serial_text(old.cert, before, sizeof(before));
    serial_text(fresh.cert, after, sizeof(after));
    printf("a new search found %s certificate (serial %s, was %s), %s key\n",
           strcmp(before, after) == 0 ? "the same" : "a new", after, before,
           old.id_len == fresh.id_len &&
                   memcmp(old.id, fresh.id, old.id_len) == 0
               ? "the same"
               : "a new");
    bool fresh_verified;
    CK_RV fresh_rv = sign_verify(s, &fresh, &fresh_verified);
    printf("the key found now: %s, %s its certificate\n", rv_name(fresh_rv),
           fresh_verified ? "verified against" : "NOT verified against");
    CK_OBJECT_HANDLE h[8];
    printf("a new search for the old key id finds %lu key(s)\n",
           find(s, CKO_PRIVATE_KEY, NULL, old.id, old.id_len, h, 8));
    X509_free(old.cert);
    X509_free(fresh.cert);
    p11->C_Finalize(NULL);
    return 0;
}

/* --- login: a locked token unlocked from a program */

static int
login(const char *pin)
{
    initialize();
    CK_SESSION_HANDLE s = open_session();
    CK_SESSION_INFO info;
    CK_OBJECT_HANDLE keys[16];
    p11->C_GetSessionInfo(s, &info);
    printf("before: %s, %lu private key(s) found\n",
           info.state == CKS_RO_USER_FUNCTIONS ? "logged in" : "public",
           find(s, CKO_PRIVATE_KEY, NULL, NULL, 0, keys, 16));
    bool pad = strcmp(pin, "-") == 0;
    CK_RV rv = p11->C_Login(s, CKU_USER, pad ? NULL : (CK_UTF8CHAR_PTR)pin,
                            pad ? 0 : strlen(pin));
    p11->C_GetSessionInfo(s, &info);
    printf("C_Login: %s; after: %s, %lu private key(s) found\n", rv_name(rv),
           info.state == CKS_RO_USER_FUNCTIONS ? "logged in" : "public",
           find(s, CKO_PRIVATE_KEY, NULL, NULL, 0, keys, 16));
    p11->C_Finalize(NULL);
    return 0;
}

/* --- hostile: the fake agent's answers, read without a crash */

static int
hostile(void)
{
    initialize();
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_RV rv = p11->C_GetSlotList(CK_TRUE, slots, &n);
    printf("C_GetSlotList: %s, %lu slot(s)\n", rv_name(rv), n);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        CK_TOKEN_INFO t;
        CK_SESSION_HANDLE s;
        CK_RV trv = p11->C_GetTokenInfo(slots[i], &t);
        printf("slot %lu: C_GetTokenInfo %s, label %.32s\n", slots[i],
               rv_name(trv), trv == CKR_OK ? (char *)t.label : "-");
        if (p11->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s) !=
            CKR_OK)
            continue;
        CK_OBJECT_HANDLE objects[64];
        CK_ULONG found = 0;
        p11->C_FindObjectsInit(s, NULL, 0);
        p11->C_FindObjects(s, objects, 64, &found);
        p11->C_FindObjectsFinal(s);
        for (CK_ULONG j = 0; j < found; j++) {
            CK_ULONG len = 0;
            uint8_t *label = attribute(s, objects[j], CKA_LABEL, &len);
            printf("  object %.*s\n", (int)len, label ? (char *)label : "");
            free(label);
        }
        struct pair p;
        if (find_pair(s, "good", &p)) {
            bool verified;
            printf("signing with good: %s\n",
                   rv_name(sign_verify(s, &p, &verified)));
            X509_free(p.cert);
        }
        printf("C_Login: %s\n",
               rv_name(p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "1", 1)));
    }
    p11->C_Finalize(NULL);
    printf("survived\n");
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: pkcs11_check MODULE COMMAND [ARGS]\n");
        return 2;
    }
    load(argv[1]);
    const char *command = argv[2];
    int count = 1, threads = 1;
    for (int i = 3; i + 1 < argc; i++) {
        if (strcmp(argv[i], "-n") == 0)
            count = atoi(argv[++i]);
        else if (strcmp(argv[i], "-t") == 0)
            threads = atoi(argv[++i]);
    }
    for (int i = 3; i < argc; i++)
        use_pss = use_pss || strcmp(argv[i], "-p") == 0;
    if (threads < 1 || threads > 64)
        threads = 1;
    if (strcmp(command, "functions") == 0)
        return check_functions();
    if (strcmp(command, "list") == 0)
        return list();
    if (strcmp(command, "sign") == 0 && argc > 3)
        return sign(argv[3], count, threads);
    if (strcmp(command, "fork") == 0 && argc > 3)
        return fork_while_signing(argv[3]);
    if (strcmp(command, "finalize") == 0 && argc > 3)
        return finalize(argv[3]);
    if (strcmp(command, "hold") == 0 && argc > 4)
        return hold(argv[3], argv[4]);
    if (strcmp(command, "login") == 0 && argc > 3)
        return login(argv[3]);
    if (strcmp(command, "hostile") == 0)
        return hostile();
    fprintf(stderr, "pkcs11_check: unknown command %s\n", command);
    return 2;
}
