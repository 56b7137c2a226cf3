/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Idle connections against a running agent: what they cost it and whether
 * a new client is still served.
 *
 *   conn_load AGENT_PID SOCKET KEY TESSERA RAW PROGRAMS THREADS
 *
 * Opens RAW connections that never send a byte (100 per process), and
 * starts PROGRAMS programs that load KEY (a tessera: URI, providers from
 * OPENSSL_CONF) and sign once from THREADS threads at once, then stay, as
 * long-lived programs do with their pooled connections. Then reads the
 * agent's threads, descriptors and memory from /proc, runs `TESSERA list`
 * and prints a table. Nothing here judges a number.
 */
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/store.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RAW_PER_PROCESS 100

struct agent_stats {
    long threads, fds, rss_anon_kib, vm_rss_kib;
};

static long
status_field(const char *status, const char *field)
{
    const char *p = strstr(status, field);
    return p != NULL ? atol(p + strlen(field)) : -1;
}

static struct agent_stats
read_stats(int pid)
{
    struct agent_stats s = {0};
    char path[64], status[4096] = "";
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        size_t n = fread(status, 1, sizeof(status) - 1, f);
        status[n] = '\0';
        fclose(f);
    }
    s.threads = status_field(status, "\nThreads:");
    s.rss_anon_kib = status_field(status, "\nRssAnon:");
    s.vm_rss_kib = status_field(status, "\nVmRSS:");
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        s.fds += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return s;
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A child: opens n connections, reports how many the agent kept (it
 * neither answered nor closed them within a second), and stays. */
static void
hold_raw(const char *path, int n, int report)
{
    int fds[RAW_PER_PROCESS], held = 0;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fds[i], (struct sockaddr *)&addr, sizeof(addr)) < 0) {
            close(fds[i]);
            fds[i] = -1;
        }
    }
    sleep(1);
    for (int i = 0; i < n; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        held += fds[i] >= 0 && poll(&p, 1, 0) == 0;
    }
    if (write(report, &held, sizeof(held)) != sizeof(held))
        _exit(1);
    pause();
    _exit(0);
}

static EVP_PKEY *program_key;
static pthread_barrier_t all_ready;

static void *
sign_once(void *arg)
{
    static const unsigned char message[32] = "a long-lived program signs";
    unsigned char sig[512];
    size_t len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    pthread_barrier_wait(&all_ready);
    int ok = ctx != NULL &&
             EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, program_key,
                                   NULL) == 1 &&
             EVP_DigestSign(ctx, sig, &len, message, sizeof(message)) == 1;
    EVP_MD_CTX_free(ctx);
    *(int *)arg = ok;
    return NULL;
}

/* A child: a program whose threads sign at once, reporting how many
 * signed; it stays with its pool's connections. */
static void
long_lived_program(const char *key, int threads, int report)
{
    OSSL_STORE_CTX *st = OSSL_STORE_open(key, NULL, NULL, NULL, NULL);
    OSSL_STORE_INFO *info = st != NULL ? OSSL_STORE_load(st) : NULL;
    program_key = info != NULL ? OSSL_STORE_INFO_get1_PKEY(info) : NULL;
    OSSL_STORE_INFO_free(info);
    OSSL_STORE_close(st);
    int signed_ok = 0, ok[64] = {0};
    pthread_t tid[64];
    if (program_key != NULL) {
        pthread_barrier_init(&all_ready, NULL, (unsigned)threads);
        for (int i = 0; i < threads; i++)
            pthread_create(&tid[i], NULL, sign_once, &ok[i]);
        for (int i = 0; i < threads; i++) {
            pthread_join(tid[i], NULL);
            signed_ok += ok[i];
        }
    }
    if (write(report, &signed_ok, sizeof(signed_ok)) != sizeof(signed_ok))
        _exit(1);
    pause();
    _exit(0);
}

static int
run_list(const char *tessera, double *ms)
{
    double start = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(127);
        execl(tessera, tessera, "list", (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    *ms = now_ms() - start;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void
print_row(const char *what, const struct agent_stats *s)
{
    printf("%-28s %8ld %8ld %14ld %12ld\n", what, s->threads, s->fds,
           s->rss_anon_kib, s->vm_rss_kib);
}

int
main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: conn_load AGENT_PID SOCKET KEY TESSERA RAW "
                        "PROGRAMS THREADS\n");
        return 2;
    }
    int agent = atoi(argv[1]), raw = atoi(argv[5]), programs = atoi(argv[6]),
        threads = atoi(argv[7]);
    if (threads < 1 || threads > 64)
        return 2;
    int raw_report[2], program_report[2];
    if (pipe(raw_report) < 0 || pipe(program_report) < 0)
        return 1;
    struct agent_stats alone = read_stats(agent);
    int children = 0;
    pid_t pids[1024];
    for (int left = raw; left > 0 && children < 1024; left -= RAW_PER_PROCESS) {
        int n = left < RAW_PER_PROCESS ? left : RAW_PER_PROCESS;
        if ((pids[children++] = fork()) == 0)
            hold_raw(argv[2], n, raw_report[1]);
    }
    int raw_children = children;
    for (int i = 0; i < programs && children < 1024; i++) {
        if ((pids[children++] = fork()) == 0)
            long_lived_program(argv[3], threads, program_report[1]);
    }
    int held = 0, signatures = 0, n;
    for (int i = 0; i < children; i++) {
        int from = i < raw_children ? raw_report[0] : program_report[0];
        if (read(from, &n, sizeof(n)) != sizeof(n))
            break;
        *(i < raw_children ? &held : &signatures) += n;
    }
    /* Let the agent's threads park what is idle. */
    sleep(3);
    struct agent_stats loaded = read_stats(agent);
    double list_ms;
    int list_status = run_list(argv[4], &list_ms);
    for (int i = 0; i < children; i++)
        kill(pids[i], SIGTERM);
    for (int i = 0; i < children; i++)
        waitpid(pids[i], NULL, 0);

    printf("Idle connections: %d raw connections that never send (%d per "
           "process) and %d programs that signed once from %d threads each "
           "and stay\n\n",
           raw, RAW_PER_PROCESS, programs, threads);
    printf("%-28s %8s %8s %14s %12s\n", "agent", "threads", "fds",
           "RssAnon (KiB)", "VmRSS (KiB)");
    print_row("alone", &alone);
    print_row("with the idle clients", &loaded);
    printf("raw connections kept open: %d of %d; signatures: %d of %d\n", held,
           raw, signatures, programs * threads);
    printf("tessera list meanwhile: %s (exit %d), %.1f ms\n",
           list_status == 0 ? "served" : "refused", list_status, list_ms);
    return 0;
}
