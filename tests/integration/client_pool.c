/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client library's pool against a running agent ($TESSERA_SOCKET):
 * signatures by threads while the process forks, idle connections closed,
 * the connection cap. Counts this process's open sockets in /proc/self/fd.
 *
 *   client_pool fork NAME      8 threads sign while the main thread forks
 *                              20 times; each child signs 3 times
 *   client_pool idle NAME      4 connections, then 2 s idle: 1 left
 *   client_pool cap NAME       16 threads, at most 2 connections
 *   client_pool reconnect NAME SECONDS
 *                              one signature, SECONDS idle (the pool keeps
 *                              the connection), one more
 *
 * NAME is an EC identity. Prints one line per finding; exits 1 when a
 * signature failed.
 */
#include "../../common/client.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct tessera_client *agent;
static const char *name;
static _Atomic bool stop;
static _Atomic long signatures, failures;
static _Atomic int most_sockets;

static bool
sign_once(void)
{
    uint8_t digest[32] = {1};
    struct tessera_sign_request req = {
        .name = (char *)name,
        .scheme = TESSERA_SIGN_ECDSA,
        .digest = TESSERA_DIGEST_SHA256,
        .input = {digest, sizeof(digest)},
    };
    struct tessera_blob sig;
    struct tessera_status st = {0};
    if (tessera_client_sign(agent, &req, &sig, &st) < 0) {
        fprintf(stderr, "client_pool: %s\n", st.message);
        return false;
    }
    tessera_blob_clear(&sig);
    return true;
}

static int
open_sockets(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        char path[300];
        struct stat sb;
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        n += stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode);
    }
    if (d != NULL)
        closedir(d);
    return n;
}

static void *
sign_until_stopped(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        if (sign_once())
            atomic_fetch_add(&signatures, 1);
        else
            atomic_fetch_add(&failures, 1);
        int now = open_sockets(), most = atomic_load(&most_sockets);
        while (now > most &&
               !atomic_compare_exchange_weak(&most_sockets, &most, now))
            ;
    }
    return NULL;
}

static void
run_signers(int n, pthread_t *threads)
{
    for (int i = 0; i < n; i++)
        pthread_create(&threads[i], NULL, sign_until_stopped, NULL);
}

static void
stop_signers(int n, pthread_t *threads)
{
    atomic_store(&stop, true);
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
}

/* A child forked while the pool is in use must start with no connection
 * and no held lock: it signs, and the alarm turns a hang into a failure. */
static int
fork_while_signing(void)
{
    pthread_t threads[8];
    int children_ok = 0;
    run_signers(8, threads);
    for (int i = 0; i < 20; i++) {
        usleep(20000);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(20);
            bool ok = sign_once() && sign_once() && sign_once();
            _exit(ok ? 0 : 1);
        }
        int status;
        if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0)
            children_ok++;
    }
    stop_signers(8, threads);
    printf("%d of 20 children forked while 8 threads signed signed\n",
           children_ok);
    printf("%ld signed by the threads, %ld failed\n", atomic_load(&signatures),
           atomic_load(&failures));
    return children_ok == 20 && atomic_load(&failures) == 0 ? 0 : 1;
}

static int
idle_connections_close(void)
{
    pthread_t threads[4];
    run_signers(4, threads);
    usleep(300000);
    stop_signers(4, threads);
    printf("%d sockets open after 4 threads signed\n", open_sockets());
    sleep(2);
    bool ok = sign_once();
    printf("%d sockets open after 2 s idle and one signature\n",
           open_sockets());
    return ok && atomic_load(&failures) == 0 ? 0 : 1;
}

static int
connections_capped(void)
{
    pthread_t threads[16];
    run_signers(16, threads);
    usleep(500000);
    stop_signers(16, threads);
    printf("at most %d sockets open while 16 threads signed\n",
           atomic_load(&most_sockets));
    printf("%ld signed, %ld failed\n", atomic_load(&signatures),
           atomic_load(&failures));
    return atomic_load(&failures) == 0 ? 0 : 1;
}

/* The agent closes a connection idle past idle-connection-seconds; the
 * pool finds it closed and signs on a new one. */
static int
idle_connection_closed_by_agent(unsigned seconds)
{
    bool first = sign_once();
    sleep(seconds);
    bool second = sign_once();
    printf("%s before, %s after %u s idle\n", first ? "signed" : "failed",
           second ? "signed" : "failed", seconds);
    return first && second ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (argc != 3 && !(argc == 4 && strcmp(argv[1], "reconnect") == 0))
        return 2;
    name = argv[2];
    struct tessera_client_options options = {
        .max_connections = strcmp(argv[1], "cap") == 0 ? 2 : 8,
        .idle_seconds = argc == 4 ? 3600 : 1,
        .reply_timeout_seconds = 60,
    };
    agent = tessera_client_new(&options);
    if (agent == NULL)
        return 1;
    int rc = 2;
    if (strcmp(argv[1], "fork") == 0)
        rc = fork_while_signing();
    else if (strcmp(argv[1], "idle") == 0)
        rc = idle_connections_close();
    else if (strcmp(argv[1], "cap") == 0)
        rc = connections_capped();
    else if (strcmp(argv[1], "reconnect") == 0)
        rc = idle_connection_closed_by_agent((unsigned)atoi(argv[3]));
    tessera_client_free(agent);
    return rc;
}
