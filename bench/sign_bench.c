/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signing speed, in one process tree and one run, against two anchors:
 *   file     an in-process key from a PEM file, default provider;
 *   direct   the token through PKCS#11 in-process: a cached session and key
 *            handle, C_SignInit + C_Sign on a digest hashed here;
 *   tessera  the tessera provider -> agent -> the same token;
 * and, given their modules, two PKCS#11 paths to the same token, each a
 * cached session and key handle with C_SignInit + C_Sign as direct:
 *   module   tessera-pkcs11.so -> agent;
 *   remote   p11-kit-client.so -> `p11-kit server` (p11-kit's remoting),
 * and the floor under any agent: a UNIX-socket round trip of a 64-byte
 * request and a 256-byte reply to another process.
 *
 * Sections: the floor; signatures/s with p50/p99 latency per key kind;
 * 1..8 processes signing at once (tessera vs direct); one-shot processes
 * (fork + exec of sign_once with a file key vs a Tessera key; of p11_once
 * through each PKCS#11 module). Rounds are
 * interleaved and medians reported, so a noisy moment hurts every column
 * alike. Every path's signature is verified once before it is timed.
 *
 * sign_bench --module SO --token LABEL --pin-file F [--rounds N]
 *            [--seconds S] [--once PROGRAM --conf OPENSSL_CNF]
 *            [--tessera-module SO] [--remote-module SO]
 *            [--p11-once PROGRAM] KIND:KEYNAME:PEMFILE...
 * KIND is ec-p256, ec-p384, rsa2048 or rsa2048-pss; KEYNAME is both the
 * identity name and the key's label on the token.
 */
#include <errno.h>
#include <getopt.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include "bench_p11.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 15
#define MAX_SAMPLES 400000
#define ONE_SHOT_RUNS 20

enum way {
    WAY_FILE,
    WAY_DIRECT,
    WAY_TESSERA,
    WAY_MODULE, /* tessera-pkcs11.so */
    WAY_REMOTE, /* p11-kit-client.so and p11-kit server */
    N_WAYS
};

struct kind {
    const char *name, *title, *digest;
    bool rsa, pss;
};

static const struct kind kinds[] = {
    {"ec-p256", "ECDSA P-256", "SHA256", false, false},
    {"ec-p384", "ECDSA P-384", "SHA384", false, false},
    {"rsa2048", "RSA-2048 PKCS#1", "SHA256", true, false},
    {"rsa2048-pss", "RSA-2048 PSS", "SHA256", true, true},
};

/* DER prefixes of DigestInfo for PKCS#1 v1.5 (RFC 8017, 9.2 note 1). */
static const uint8_t sha256_prefix[] = {
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};

struct direct {
    CK_FUNCTION_LIST *p11;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
};

/* Per-operation latencies of one way, over all rounds. */
struct samples {
    double *v;
    size_t n;
};

struct subject {
    const struct kind *kind;
    const char *label, *pem_file;
    EVP_PKEY *file_key;
    EVP_PKEY *tessera_key;
    EVP_PKEY *public_key; /* of the token key, held by the default provider */
    struct direct direct, module, remote; /* p11 NULL: not measured */
    double rate[N_WAYS][MAX_ROUNDS];
    struct samples latency[N_WAYS];
};

static const uint8_t message[64] =
    "The quick brown fox signs over the lazy dog.";

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
    fprintf(stderr, "sign_bench: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static bool
set_padding(EVP_PKEY_CTX *pctx, const struct kind *k)
{
    return !k->pss ||
           (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) ==
                1);
}

static size_t
evp_sign(EVP_PKEY *key, const struct kind *k, uint8_t *sig, size_t size)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx;
    size_t len = size;
    if (ctx == NULL ||
        EVP_DigestSignInit_ex(ctx, &pctx, k->digest, NULL, NULL, key, NULL) !=
            1 ||
        !set_padding(pctx, k) ||
        EVP_DigestSign(ctx, sig, &len, message, sizeof(message)) != 1)
        die("EVP_DigestSign failed");
    EVP_MD_CTX_free(ctx);
    return len;
}

static size_t
direct_sign(struct direct *d, const struct kind *k, uint8_t *sig, size_t size)
{
    uint8_t input[sizeof(sha256_prefix) + EVP_MAX_MD_SIZE];
    size_t off = k->rsa && !k->pss ? sizeof(sha256_prefix) : 0;
    unsigned int dlen;
    memcpy(input, sha256_prefix, off);
    EVP_Digest(message, sizeof(message), input + off, &dlen,
               EVP_get_digestbyname(k->digest), NULL);
    CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    if (k->pss)
        mech = (CK_MECHANISM){CKM_RSA_PKCS_PSS, &pss, sizeof(pss)};
    else if (k->rsa)
        mech.mechanism = CKM_RSA_PKCS;
    CK_ULONG len = size;
    if (d->p11->C_SignInit(d->session, &mech, d->key) != CKR_OK ||
        d->p11->C_Sign(d->session, input, off + dlen, sig, &len) != CKR_OK)
        die("C_Sign failed");
    return len;
}

/* The PKCS#11 path of a way, or NULL for the EVP ones. */
static struct direct *
pkcs11_path(struct subject *s, enum way way)
{
    switch (way) {
    case WAY_DIRECT:
        return &s->direct;
    case WAY_MODULE:
        return &s->module;
    case WAY_REMOTE:
        return &s->remote;
    default:
        return NULL;
    }
}

static bool
measured(struct subject *s, enum way way)
{
    struct direct *d = pkcs11_path(s, way);
    return d == NULL || d->p11 != NULL;
}

static size_t
sign_one(struct subject *s, enum way way, uint8_t *sig, size_t size)
{
    struct direct *d = pkcs11_path(s, way);
    if (d != NULL)
        return direct_sign(d, s->kind, sig, size);
    return evp_sign(way == WAY_FILE ? s->file_key : s->tessera_key, s->kind,
                    sig, size);
}

/* PKCS#11 ECDSA is r || s; the EVP verifier wants DER. */
static bool
verify(EVP_PKEY *pub, const struct kind *k, const uint8_t *sig, size_t len,
       bool raw_ecdsa)
{
    uint8_t der[256];
    if (raw_ecdsa) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)len / 2, NULL),
                       BN_bin2bn(sig + len / 2, (int)len / 2, NULL));
        uint8_t *p = der;
        len = (size_t)i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        sig = der;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx;
    bool ok = EVP_DigestVerifyInit_ex(ctx, &pctx, k->digest, NULL, NULL, pub,
                                      NULL) == 1 &&
              set_padding(pctx, k) &&
              EVP_DigestVerify(ctx, sig, len, message, sizeof(message)) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static EVP_PKEY *
public_half(EVP_PKEY *key)
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(key, &der);
    const unsigned char *p = der;
    EVP_PKEY *pub = len > 0 ? d2i_PUBKEY(NULL, &p, len) : NULL;
    OPENSSL_free(der);
    if (pub == NULL)
        die("cannot export the public key");
    return pub;
}

static void
record(struct samples *s, double value)
{
    if (s->n < MAX_SAMPLES)
        s->v[s->n++] = value;
}

/* Operations per second over `seconds`; each operation's time recorded. */
static double
measure(struct subject *s, enum way way, double seconds)
{
    uint8_t sig[1024];
    long n = 0;
    double start = now(), end = start + seconds, t = start;
    do {
        double before = t;
        sign_one(s, way, sig, sizeof(sig));
        t = now();
        record(&s->latency[way], t - before);
        n++;
    } while (t < end);
    return (double)n / (t - start);
}

static EVP_PKEY *
load_tessera_key(const char *name)
{
    char uri[256];
    snprintf(uri, sizeof(uri), "tessera:%s", name);
    OSSL_STORE_CTX *st = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    EVP_PKEY *key = NULL;
    OSSL_STORE_INFO *info;
    if (st != NULL && OSSL_STORE_expect(st, OSSL_STORE_INFO_PKEY) &&
        (info = OSSL_STORE_load(st)) != NULL) {
        key = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(st);
    if (key == NULL)
        die("cannot load the Tessera key");
    return key;
}

static EVP_PKEY *
load_file_key(const char *path)
{
    FILE *pem = fopen(path, "r");
    EVP_PKEY *key = pem ? PEM_read_PrivateKey(pem, NULL, NULL, NULL) : NULL;
    if (pem)
        fclose(pem);
    if (key == NULL)
        die("cannot read the file key");
    return key;
}

static int
compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0.5 = median) of v; sorts v. */
static double
quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), compare);
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    return lo + 1 < n ? v[lo] + (pos - (double)lo) * (v[lo + 1] - v[lo])
                      : v[lo];
}

static double
median(double *v, int n)
{
    return quantile(v, (size_t)n, 0.5);
}

static bool
read_full(int fd, void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t r = read(fd, (char *)buf + done, len - done);
        if (r <= 0 && !(r < 0 && errno == EINTR))
            return false;
        done += r > 0 ? (size_t)r : 0;
    }
    return true;
}

static bool
write_full(int fd, const void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, (const char *)buf + done, len - done);
        if (w <= 0 && !(w < 0 && errno == EINTR))
            return false;
        done += w > 0 ? (size_t)w : 0;
    }
    return true;
}

/* The floor: SIGN-shaped round trips to a forked echo process. */
static double
measure_floor(double seconds, struct samples *latency)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        die("socketpair failed");
    uint8_t request[64] = {0}, reply[256] = {0};
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        while (read_full(sv[1], request, sizeof(request)) &&
               write_full(sv[1], reply, sizeof(reply)))
            ;
        _exit(0);
    }
    close(sv[1]);
    long n = 0;
    double start = now(), end = start + seconds, t = start;
    do {
        double before = t;
        if (!write_full(sv[0], request, sizeof(request)) ||
            !read_full(sv[0], reply, sizeof(reply)))
            die("the echo process went away");
        t = now();
        record(latency, t - before);
        n++;
    } while (t < end);
    close(sv[0]);
    waitpid(pid, NULL, 0);
    return (double)n / (t - start);
}

/*
 * `count` processes signing at once for `seconds`, started together; returns
 * their total signatures per second. Each direct child initialises and logs
 * in to the module itself, as a separate program would.
 */
static double
measure_processes(struct subject *s, enum way way, int count, double seconds,
                  const char *token, const char *pin)
{
    int go[2], results[2];
    if (pipe(go) || pipe(results))
        die("pipe failed");
    fflush(stdout); /* or each child would print the parent's buffer again */
    /* Children set up one at a time: SoftHSM's file store answers
     * C_GetTokenInfo with CKR_GENERAL_ERROR while another process logs in. */
    uint8_t byte = 0;
    for (int i = 0; i < count; i++) {
        int ready[2];
        if (pipe(ready))
            die("pipe failed");
        if (fork() != 0) {
            close(ready[1]); /* so a child that dies ends this read */
            if (!read_full(ready[0], &byte, 1))
                die("a signing process failed to start");
            close(ready[0]);
            continue;
        }
        if (way == WAY_DIRECT) {
            /* A forked child must initialise PKCS#11 afresh (v2.40, 6.7.7). */
            s->direct.p11->C_Finalize(NULL);
            if (s->direct.p11->C_Initialize(NULL) != CKR_OK)
                die("cannot initialise PKCS#11 in a child process");
            s->direct.session = bench_open_token(s->direct.p11, token, pin, 0);
            s->direct.key =
                bench_find_key(s->direct.p11, s->direct.session, s->label);
        }
        uint8_t sig[1024];
        double end;
        sign_one(s, way, sig, sizeof(sig)); /* connect, warm caches */
        if (!write_full(ready[1], &byte, 1) ||
            !read_full(go[0], &end, sizeof(end)))
            _exit(1);
        long n = 0;
        do {
            sign_one(s, way, sig, sizeof(sig));
            n++;
        } while (now() < end);
        _exit(write_full(results[1], &n, sizeof(n)) ? 0 : 1);
    }
    close(results[1]);
    close(go[0]);
    /* One window for all, timed here: the total rate is what the machine
     * did, not the sum of rates of windows that may not overlap. */
    double start = now(), end = start + seconds;
    for (int i = 0; i < count; i++)
        write_full(go[1], &end, sizeof(end));
    long total = 0, n;
    for (int i = 0; i < count; i++) {
        if (!read_full(results[0], &n, sizeof(n)))
            die("a signing process failed");
        total += n;
    }
    double elapsed = now() - start;
    while (wait(NULL) > 0)
        ;
    close(go[1]);
    close(results[0]);
    return (double)total / elapsed;
}

/* Wall time of fork + exec of argv to its exit, in ms. */
static double
time_exec(char *const argv[], const char *conf)
{
    double start = now();
    pid_t pid = fork();
    if (pid == 0) {
        setenv("OPENSSL_CONF", conf, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        die("a one-shot signing process failed");
    return (now() - start) * 1e3;
}

static void
check_subject(struct subject *s)
{
    uint8_t sig[1024];
    size_t len;
    bool ok = true;
    for (enum way w = WAY_DIRECT; w < N_WAYS; w++) {
        struct direct *d = pkcs11_path(s, w);
        if (d == NULL || d->p11 == NULL)
            continue;
        len = direct_sign(d, s->kind, sig, sizeof(sig));
        ok = ok && verify(s->public_key, s->kind, sig, len, !s->kind->rsa);
    }
    len = evp_sign(s->tessera_key, s->kind, sig, sizeof(sig));
    ok = ok && verify(s->public_key, s->kind, sig, len, false);
    len = evp_sign(s->file_key, s->kind, sig, sizeof(sig));
    ok = ok && verify(s->file_key, s->kind, sig, len, false);
    if (!ok)
        die("a signature did not verify");
}

/* A module and a logged-in session on the token, or nothing. */
struct path {
    CK_FUNCTION_LIST *p11;
    CK_SESSION_HANDLE session;
};

static struct direct
path_key(const struct path *p, const char *label)
{
    if (p->p11 == NULL)
        return (struct direct){0};
    return (struct direct){p->p11, p->session,
                           bench_find_key(p->p11, p->session, label)};
}

static void
parse_subject(struct subject *s, char *spec, const struct path *direct,
              const struct path *module, const struct path *remote)
{
    char *name = strchr(spec, ':'), *file = name ? strchr(name + 1, ':') : NULL;
    if (file == NULL)
        die("arguments are KIND:KEYNAME:PEMFILE");
    *name++ = '\0';
    *file++ = '\0';
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        if (strcmp(spec, kinds[k].name) == 0)
            s->kind = &kinds[k];
    if (s->kind == NULL)
        die("KIND is ec-p256, ec-p384, rsa2048 or rsa2048-pss");
    s->label = name;
    s->pem_file = file;
    s->file_key = load_file_key(file);
    s->tessera_key = load_tessera_key(name);
    s->public_key = public_half(s->tessera_key);
    s->direct = path_key(direct, name);
    s->module = path_key(module, name);
    s->remote = path_key(remote, name);
    for (int w = 0; w < N_WAYS; w++) {
        s->latency[w].v = calloc(MAX_SAMPLES, sizeof(double));
        if (s->latency[w].v == NULL)
            die("out of memory");
    }
}

static void
free_subject(struct subject *s)
{
    EVP_PKEY_free(s->file_key);
    EVP_PKEY_free(s->tessera_key);
    EVP_PKEY_free(s->public_key);
    for (int w = 0; w < N_WAYS; w++)
        free(s->latency[w].v);
}

static void
report_floor(double *rates, int rounds, struct samples *latency)
{
    double rate = median(rates, rounds);
    printf("Floor: UNIX-socket round trip to another process, 64-byte "
           "request, 256-byte reply\n");
    printf("  %.0f round trips/s; p50 %.1f us, p99 %.1f us\n\n", rate,
           quantile(latency->v, latency->n, 0.5) * 1e6,
           quantile(latency->v, latency->n, 0.99) * 1e6);
}

static void
report_signatures(struct subject *subjects, int n, int rounds, double floor_us)
{
    printf("Signatures/s (median of rounds) and latency p50/p99 in us\n\n");
    printf("%-16s %8s %8s %8s %7s %9s %6s %15s %15s %15s\n", "key", "file",
           "direct", "tessera", "c/b", "c-b (us)", "/floor", "file p50/p99",
           "direct p50/p99", "tessera p50/p99");
    for (int i = 0; i < n; i++) {
        struct subject *s = &subjects[i];
        double rate[N_WAYS];
        char lat[N_WAYS][32];
        for (int w = 0; w < N_WAYS; w++) {
            rate[w] = median(s->rate[w], rounds);
            struct samples *l = &s->latency[w];
            snprintf(lat[w], sizeof(lat[w]), "%.0f/%.0f",
                     quantile(l->v, l->n, 0.5) * 1e6,
                     quantile(l->v, l->n, 0.99) * 1e6);
        }
        double overhead = 1e6 / rate[WAY_TESSERA] - 1e6 / rate[WAY_DIRECT];
        printf("%-16s %8.0f %8.0f %8.0f %7.2f %9.1f %6.2f %15s %15s %15s\n",
               s->kind->title, rate[WAY_FILE], rate[WAY_DIRECT],
               rate[WAY_TESSERA], rate[WAY_TESSERA] / rate[WAY_DIRECT],
               overhead, overhead / floor_us, lat[WAY_FILE], lat[WAY_DIRECT],
               lat[WAY_TESSERA]);
    }
    printf("\nc/b = tessera/direct; c-b = tessera's per-signature time minus "
           "direct's;\n/floor = c-b over the median floor round trip.\n\n");
}

/* The PKCS#11 paths beside the provider, if measured. */
static void
report_pkcs11_paths(struct subject *subjects, int n, int rounds)
{
    if (subjects[0].module.p11 == NULL)
        return;
    bool remote = subjects[0].remote.p11 != NULL;
    printf("PKCS#11 programs: signatures/s (median of rounds), C_SignInit + "
           "C_Sign on a cached session and key\n\n");
    printf("%-16s %8s %8s %8s %8s %9s %9s %15s %15s\n", "key", "direct",
           "tessera", "module", "p11-kit", "m/tessera", "m/p11-kit",
           "module p50/p99", "p11-kit p50/p99");
    for (int i = 0; i < n; i++) {
        struct subject *s = &subjects[i];
        double direct = median(s->rate[WAY_DIRECT], rounds),
               tessera = median(s->rate[WAY_TESSERA], rounds),
               module = median(s->rate[WAY_MODULE], rounds),
               p11kit = remote ? median(s->rate[WAY_REMOTE], rounds) : 0;
        char lat[2][32];
        for (int w = 0; w < 2; w++) {
            struct samples *l = &s->latency[w == 0 ? WAY_MODULE : WAY_REMOTE];
            snprintf(lat[w], sizeof(lat[w]), "%.0f/%.0f",
                     quantile(l->v, l->n, 0.5) * 1e6,
                     quantile(l->v, l->n, 0.99) * 1e6);
        }
        printf("%-16s %8.0f %8.0f %8.0f %8.0f %9.2f %9.2f %15s %15s\n",
               s->kind->title, direct, tessera, module, p11kit,
               module / tessera, remote ? module / p11kit : 0, lat[0],
               remote ? lat[1] : "-");
    }
    printf("\nmodule = tessera-pkcs11.so through the agent; tessera = the "
           "provider through the agent;\np11-kit = p11-kit-client.so through "
           "`p11-kit server` (p11-kit's remoting) on the same token.\n\n");
}

static const int process_counts[] = {1, 2, 4, 8};
#define N_COUNTS (int)(sizeof(process_counts) / sizeof(process_counts[0]))

static void
run_concurrency(struct subject *subjects, int n, int rounds, double seconds,
                const char *token, const char *pin)
{
    printf("Processes signing at once: total signatures/s (median of %d)\n\n",
           rounds);
    printf("%-16s %10s %10s %10s %8s\n", "key", "processes", "direct",
           "tessera", "c/b");
    for (int i = 0; i < n; i++) {
        struct subject *s = &subjects[i];
        if (s->kind->pss || strcmp(s->kind->name, "ec-p384") == 0)
            continue; /* one EC and one RSA kind tell the story */
        for (int c = 0; c < N_COUNTS; c++) {
            double rate[2][MAX_ROUNDS];
            for (int r = 0; r < rounds; r++) {
                rate[0][r] = measure_processes(s, WAY_DIRECT, process_counts[c],
                                               seconds, token, pin);
                rate[1][r] = measure_processes(
                    s, WAY_TESSERA, process_counts[c], seconds, token, pin);
            }
            double direct = median(rate[0], rounds),
                   tessera = median(rate[1], rounds);
            printf("%-16s %10d %10.0f %10.0f %8.2f\n", s->kind->title,
                   process_counts[c], direct, tessera, tessera / direct);
        }
    }
    printf("\n");
}

/* `once KEY KIND` */
static double
time_one_shot(const char *once, const char *key, const char *kind,
              const char *conf)
{
    char *argv[] = {(char *)once, (char *)key, (char *)kind, NULL};
    return time_exec(argv, conf);
}

static void
run_one_shots(struct subject *s, const char *once, const char *conf)
{
    char uri[256];
    snprintf(uri, sizeof(uri), "tessera:%s", s->label);
    double file[ONE_SHOT_RUNS], tessera[ONE_SHOT_RUNS];
    time_one_shot(once, s->pem_file, s->kind->name, "/dev/null"); /* warm */
    time_one_shot(once, uri, s->kind->name, conf);
    for (int r = 0; r < ONE_SHOT_RUNS; r++) {
        file[r] = time_one_shot(once, s->pem_file, s->kind->name, "/dev/null");
        tessera[r] = time_one_shot(once, uri, s->kind->name, conf);
    }
    double f = median(file, ONE_SHOT_RUNS), t = median(tessera, ONE_SHOT_RUNS);
    printf("One-shot process (exec, load key, sign once, exit), median of %d, "
           "%s\n",
           ONE_SHOT_RUNS, s->kind->title);
    printf("  file key %.2f ms; tessera %.2f ms; tessera/file %.2f; "
           "pkcs11-provider: not packaged for Debian 12, not measured\n\n",
           f, t, t / f);
}

/*
 * A PKCS#11 program that signs once (`p11_once MODULE TOKEN LABEL PIN`),
 * through each module given: the token's own, tessera-pkcs11.so and
 * p11-kit-client.so. modules[i] NULL: not measured.
 */
static void
run_pkcs11_one_shots(struct subject *s, const char *p11_once,
                     const char *modules[3], const char *token, char *pin)
{
    static const char *const names[3] = {"direct", "module", "p11-kit"};
    double ms[3][ONE_SHOT_RUNS], median_ms[3] = {0};
    for (int r = -1; r < ONE_SHOT_RUNS; r++) { /* round -1 warms */
        for (int m = 0; m < 3; m++) {
            char *argv[] = {(char *)p11_once,
                            (char *)modules[m],
                            (char *)token,
                            (char *)s->label,
                            pin,
                            NULL};
            if (modules[m] == NULL)
                continue;
            double t = time_exec(argv, "/dev/null");
            if (r >= 0)
                ms[m][r] = t;
        }
    }
    printf("One-shot PKCS#11 process (exec, load the module, log in, find "
           "the key, sign once, exit), median of %d, %s\n ",
           ONE_SHOT_RUNS, s->kind->title);
    for (int m = 0; m < 3; m++) {
        if (modules[m] == NULL)
            continue;
        median_ms[m] = median(ms[m], ONE_SHOT_RUNS);
        printf(" %s %.2f ms;", names[m], median_ms[m]);
    }
    if (median_ms[1] > 0 && median_ms[2] > 0)
        printf(" p11-kit/module %.2f", median_ms[2] / median_ms[1]);
    printf("\n\n");
}

struct options {
    const char *module, *token, *pin_file, *once, *conf, *p11_once;
    const char *tessera_module, *remote_module; /* PKCS#11 paths, if given */
    int rounds;
    double seconds;
    bool signatures_only; /* the signature table alone (a slow token) */
};

static void
usage(void)
{
    fprintf(stderr, "usage: sign_bench --module SO --token LABEL --pin-file F "
                    "[--rounds N] [--seconds S]\n"
                    "                  [--once PROGRAM --conf OPENSSL_CNF] "
                    "[--signatures-only]\n"
                    "                  [--tessera-module SO] [--remote-module "
                    "SO] [--p11-once PROGRAM]\n"
                    "                  KIND:KEYNAME:PEMFILE...\n");
    exit(2);
}

static int
parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"module", required_argument, NULL, 'm'},
        {"token", required_argument, NULL, 't'},
        {"pin-file", required_argument, NULL, 'p'},
        {"rounds", required_argument, NULL, 'r'},
        {"seconds", required_argument, NULL, 's'},
        {"once", required_argument, NULL, 'o'},
        {"conf", required_argument, NULL, 'c'},
        {"signatures-only", no_argument, NULL, 'S'},
        {"tessera-module", required_argument, NULL, 'T'},
        {"remote-module", required_argument, NULL, 'R'},
        {"p11-once", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0}};
    *o = (struct options){.rounds = 5, .seconds = 0.5};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->module = optarg;
            break;
        case 't':
            o->token = optarg;
            break;
        case 'p':
            o->pin_file = optarg;
            break;
        case 'r':
            o->rounds = atoi(optarg);
            break;
        case 's':
            o->seconds = atof(optarg);
            break;
        case 'o':
            o->once = optarg;
            break;
        case 'S':
            o->signatures_only = true;
            break;
        case 'c':
            o->conf = optarg;
            break;
        case 'T':
            o->tessera_module = optarg;
            break;
        case 'R':
            o->remote_module = optarg;
            break;
        case 'P':
            o->p11_once = optarg;
            break;
        default:
            usage();
        }
    }
    if (!o->module || !o->token || !o->pin_file || optind == argc ||
        o->rounds < 1 || o->rounds > MAX_ROUNDS || o->seconds <= 0 ||
        !o->once != !o->conf)
        usage();
    return optind;
}

static void
read_pin(const char *path, char *pin, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(pin, (int)size, f) == NULL)
        die("cannot read the PIN file");
    fclose(f);
    pin[strcspn(pin, "\r\n")] = '\0';
}

int
main(int argc, char **argv)
{
    struct options o;
    int first = parse_options(argc, argv, &o);
    char pin[128] = "";
    read_pin(o.pin_file, pin, sizeof(pin));
    if (!OSSL_PROVIDER_load(NULL, "default") ||
        !OSSL_PROVIDER_load(NULL, "tessera"))
        die("cannot load the providers");
    struct path paths[3] = {{0}}; /* direct, module, remote */
    const char *modules[3] = {o.module, o.tessera_module, o.remote_module};
    for (int i = 0; i < 3; i++) {
        if (modules[i] == NULL)
            continue;
        paths[i].p11 = bench_load_module(modules[i]);
        paths[i].session = bench_open_token(paths[i].p11, o.token, pin, 0);
    }

    int n = argc - first;
    struct subject *subjects = calloc((size_t)n, sizeof(*subjects));
    for (int i = 0; i < n; i++) {
        parse_subject(&subjects[i], argv[first + i], &paths[0], &paths[1],
                      &paths[2]);
        check_subject(&subjects[i]);
    }

    double floor_rate[MAX_ROUNDS];
    struct samples floor_latency = {calloc(MAX_SAMPLES, sizeof(double)), 0};
    for (int r = 0; r < o.rounds; r++) {
        floor_rate[r] = measure_floor(o.seconds, &floor_latency);
        for (int i = 0; i < n; i++)
            for (int w = 0; w < N_WAYS; w++)
                if (measured(&subjects[i], (enum way)w))
                    subjects[i].rate[w][r] =
                        measure(&subjects[i], (enum way)w, o.seconds);
    }
    double floor_us = 1e6 / median(floor_rate, o.rounds);
    report_floor(floor_rate, o.rounds, &floor_latency);
    report_signatures(subjects, n, o.rounds, floor_us);
    report_pkcs11_paths(subjects, n, o.rounds);
    if (!o.signatures_only)
        run_concurrency(subjects, n, o.rounds, o.seconds, o.token, pin);
    if (o.once != NULL && !o.signatures_only)
        run_one_shots(&subjects[0], o.once, o.conf);
    if (o.p11_once != NULL && !o.signatures_only)
        run_pkcs11_one_shots(&subjects[0], o.p11_once, modules, o.token, pin);

    for (int i = 0; i < n; i++)
        free_subject(&subjects[i]);
    free(subjects);
    free(floor_latency.v);
    for (int i = 0; i < 3; i++) {
        if (paths[i].p11 != NULL) {
            paths[i].p11->C_Logout(paths[i].session);
            paths[i].p11->C_Finalize(NULL);
        }
    }
    OPENSSL_cleanse(pin, sizeof(pin));
    return 0;
}
