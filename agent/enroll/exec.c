/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Any CA tool as a program, as certmonger's helpers are. Profile keys:
 *   protocol=exec
 *   command=/usr/libexec/corp-ca-submit --profile laptops
 *   command-timeout=60      (seconds for one run)
 * The program gets the PEM CSR on stdin (it may leave it unread when it
 * answers from its own state) and its exit status says:
 *   0  issued: the PEM chain, leaf first, on stdout
 *   1  rejected: the reason on stderr's first line; not asked again
 *   2  pending: asked again later, until the enrolment's timeout
 *   other, or stopped after command-timeout: the CA could not be asked
 * TESSERA_CA_PROFILE names the profile for it.
 *
 * A helper is a stranger's program, so the agent bounds it: it runs in a
 * session (and process group) of its own; its output is read as it comes
 * and the helper stopped once it passes MAX_OUTPUT; at command-timeout, or
 * when the enrolment is cancelled (the client hangs up, the agent stops), its
 * whole group gets SIGTERM and, KILL_GRACE_SECONDS later, SIGKILL. When the
 * helper exits, whatever it left running in its group is killed: the exit
 * status is the answer, and nothing it started may keep its output open
 * and the agent waiting. Its stderr goes to the agent's log (and the
 * client's progress) line by line, bounded: MAX_LOG_LINES lines of at most
 * MAX_LOG_LINE bytes each per run, the rest counted.
 */
#include "enroll.h"
#include "../agent.h"
#include "../events.h"

#include <errno.h>
#include <glib-unix.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_OUTPUT (256 * 1024)
#define MAX_REASON 200 /* bytes of stderr kept: its first line is a reason */
#define MAX_LOG_LINES 20
#define MAX_LOG_LINE 200
#define KILL_GRACE_SECONDS 2
#define PIPE_WORTH (64 * 1024) /* Linux's default pipe capacity */
#define EXIT_ISSUED 0
#define EXIT_REJECTED 1
#define EXIT_PENDING 2

/* The helper's stderr on its way to the log, a line at a time. */
struct line_log {
    const struct enroll_profile *ca;
    GString *line;  /* the line being read, printable, cut at MAX_LOG_LINE */
    guint logged;   /* lines so far */
    guint unlogged; /* lines beyond MAX_LOG_LINES */
};

/* One of the helper's output pipes: its beginning kept, the rest read
 * and dropped. */
struct output {
    int fd; /* -1 once closed */
    GByteArray *kept;
    gsize keep;             /* at most this many bytes in kept */
    gsize length;           /* everything read */
    struct line_log *lines; /* stderr: every line logged too; or NULL */
};

enum ending {
    RUNNING,
    TIMED_OUT,
    TOO_LONG,
    CANCELLED,
};

struct helper {
    pid_t pid; /* also its process group's id */
    int pidfd; /* readable once it has exited */
    int in;    /* its stdin, -1 once the CSR is written */
    GBytes *csr;
    gsize written;
    struct output out, err;
    enum ending ending;
    gint64 deadline; /* monotonic: stop it, then kill it at kill_at */
    gint64 kill_at;
};

static GBytes *
csr_pem(GBytes *csr)
{
    gsize len;
    const unsigned char *p = g_bytes_get_data(csr, &len);
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    GBytes *pem = NULL;
    if (req != NULL && bio != NULL && PEM_write_bio_X509_REQ(bio, req)) {
        long n = BIO_get_mem_data(bio, &data);
        pem = g_bytes_new(data, (gsize)n);
    }
    BIO_free(bio);
    X509_REQ_free(req);
    return pem;
}

/* The first line of a program's stderr, printable and short. */
static char *
first_line(const GByteArray *err)
{
    gsize end = 0;
    while (end < err->len && err->data[end] != '\n')
        end++;
    char *line = g_strndup(end > 0 ? (const char *)err->data : "", end);
    for (char *p = line; *p; p++)
        if (!g_ascii_isprint(*p))
            *p = '?';
    return line;
}

/*
 * In the child, before exec: a session of its own, so that its whole
 * process group can be signalled; and the signal state of a program
 * started from a shell, not the agent's (which ignores SIGPIPE).
 */
static void
start_session(gpointer unused)
{
    (void)unused;
    sigset_t none;
    setsid();
    signal(SIGPIPE, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void
close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static gboolean
helper_start(struct helper *h, const struct enroll_profile *ca,
             const char *command, GError **error)
{
    const char *argv[] = {"/bin/sh", "-c", command, NULL};
    char **env =
        g_environ_setenv(g_get_environ(), "TESSERA_CA_PROFILE", ca->name, TRUE);
    GPid pid;
    gboolean ok = g_spawn_async_with_pipes_and_fds(
        NULL, argv, (const char *const *)env, G_SPAWN_DO_NOT_REAP_CHILD,
        start_session, NULL, -1, -1, -1, NULL, NULL, 0, &pid, &h->in,
        &h->out.fd, &h->err.fd, error);
    g_strfreev(env);
    if (!ok)
        return FALSE;
    h->pid = pid;
    /* Not reaped until helper_finish: its id cannot go to another group. */
    h->pidfd = pidfd_open(pid, 0);
    if (h->pidfd < 0) {
        g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                    "cannot watch it: %s", g_strerror(errno));
        return FALSE;
    }
    return g_unix_set_fd_nonblocking(h->in, TRUE, error) &&
           g_unix_set_fd_nonblocking(h->out.fd, TRUE, error) &&
           g_unix_set_fd_nonblocking(h->err.fd, TRUE, error);
}

/* SIGTERM to the helper's group now, SIGKILL after the grace period. */
static void
helper_stop(struct helper *h, enum ending why)
{
    if (h->ending != RUNNING)
        return;
    h->ending = why;
    kill(-h->pid, SIGTERM);
    h->kill_at = g_get_monotonic_time() + KILL_GRACE_SECONDS * G_USEC_PER_SEC;
}

static void
line_log_end_line(struct line_log *log)
{
    if (log->logged < MAX_LOG_LINES) {
        log->logged++;
        agent_events_progress(log->ca->agent ? log->ca->agent->events : NULL,
                              log->ca->enrolling, TESSERA_STEP_HELPER, 0,
                              "CA %s says: %s", log->ca->name, log->line->str);
    } else {
        log->unlogged++;
    }
    g_string_truncate(log->line, 0);
}

static void
line_log_feed(struct line_log *log, const char *data, gsize n)
{
    for (gsize i = 0; i < n; i++) {
        if (data[i] == '\n')
            line_log_end_line(log);
        else if (log->line->len < MAX_LOG_LINE)
            g_string_append_c(log->line,
                              g_ascii_isprint(data[i]) ? data[i] : '?');
    }
}

/* The last line, even without its newline, and what was left out. */
static void
line_log_finish(struct line_log *log)
{
    if (log->line->len > 0)
        line_log_end_line(log);
    if (log->unlogged > 0)
        g_message("%s: CA %s: %u more lines on the helper's stderr, not "
                  "logged",
                  log->ca->enrolling, log->ca->name, log->unlogged);
    g_string_free(log->line, TRUE);
}

/*
 * Reads what the pipe holds, at most a pipe's worth at a time (a writer as
 * fast as the agent cannot keep it here); FALSE once it has nothing more.
 */
static gboolean
output_read(struct output *o)
{
    char chunk[16384];
    for (gsize got = 0; got < PIPE_WORTH;) {
        ssize_t n = read(o->fd, chunk, sizeof(chunk));
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        if (n == 0)
            return FALSE;
        g_byte_array_append(o->kept, (guint8 *)chunk,
                            (guint)MIN((gsize)n, o->keep - o->kept->len));
        if (o->lines != NULL)
            line_log_feed(o->lines, chunk, (gsize)n);
        o->length += (gsize)n;
        got += (gsize)n;
    }
    return TRUE;
}

static void
output_serve(struct output *o)
{
    if (!output_read(o))
        close_fd(&o->fd);
}

/* stdout, cut at MAX_OUTPUT: more than that is no answer. */
static void
helper_read_answer(struct helper *h)
{
    output_serve(&h->out);
    if (h->out.length > MAX_OUTPUT) {
        close_fd(&h->out.fd);
        helper_stop(h, TOO_LONG);
    }
}

/* Feeds the CSR. A helper may answer without reading it ("still pending",
 * from its own state): EPIPE then, and its exit status is the answer. */
static void
helper_feed(struct helper *h)
{
    gsize len;
    const char *pem = g_bytes_get_data(h->csr, &len);
    ssize_t n = write(h->in, pem + h->written, len - h->written);
    if (n > 0)
        h->written += (gsize)n;
    if (h->written == len || (n < 0 && errno != EAGAIN && errno != EINTR))
        close_fd(&h->in);
}

static int
add_poll(struct pollfd *fds, nfds_t *n, int fd, short events)
{
    if (fd < 0)
        return -1;
    fds[*n] = (struct pollfd){.fd = fd, .events = events};
    return (int)(*n)++;
}

static gboolean
ready(const struct pollfd *fds, int i)
{
    return i >= 0 && fds[i].revents != 0;
}

/*
 * Serves the helper's pipes until it exits, stopping it at the deadline,
 * at too much output, or when the enrolment is cancelled: the client hangs
 * up (its socket readable: it sends nothing while it waits) or the agent
 * stops (the profile's GCancellable).
 */
static void
helper_wait(struct helper *h, const struct enroll_profile *ca)
{
    int stopping_fd = ca->cancel ? g_cancellable_get_fd(ca->cancel) : -1;
    for (;;) {
        struct pollfd fds[6];
        nfds_t n = 0;
        int exited = add_poll(fds, &n, h->pidfd, POLLIN);
        int in = add_poll(fds, &n, h->in, POLLOUT);
        int out = add_poll(fds, &n, h->out.fd, POLLIN);
        int err = add_poll(fds, &n, h->err.fd, POLLIN);
        int hung_up =
            add_poll(fds, &n, h->ending == RUNNING ? ca->client_fd : -1,
                     POLLIN | POLLRDHUP);
        int stopping =
            add_poll(fds, &n, h->ending == RUNNING ? stopping_fd : -1, POLLIN);
        gint64 until = h->ending == RUNNING ? h->deadline : h->kill_at;
        gint64 wait_us = MAX(0, until - g_get_monotonic_time());
        int wait_ms = until == G_MAXINT64 ? -1 : (int)((wait_us + 999) / 1000);
        if (poll(fds, n, wait_ms) < 0 && errno != EINTR)
            break;
        if (ready(fds, out))
            helper_read_answer(h);
        if (ready(fds, err))
            output_serve(&h->err);
        if (ready(fds, in))
            helper_feed(h);
        if (ready(fds, hung_up) || ready(fds, stopping))
            helper_stop(h, CANCELLED);
        if (ready(fds, exited))
            break;
        gint64 now = g_get_monotonic_time();
        if (h->ending == RUNNING && now >= h->deadline)
            helper_stop(h, TIMED_OUT);
        else if (h->ending != RUNNING && now >= h->kill_at) {
            kill(-h->pid, SIGKILL);
            h->kill_at = G_MAXINT64; /* now only its exit is awaited */
        }
    }
    if (ca->cancel != NULL)
        g_cancellable_release_fd(ca->cancel);
}

/*
 * Kills what the helper left in its group (its pid, unreaped, still names
 * the group), takes what is already in the pipes, and reaps it. A process
 * that left the group is not waited for: its pipes are simply closed.
 */
static int
helper_finish(struct helper *h)
{
    int status = -1;
    if (h->pid > 0) {
        kill(-h->pid, SIGKILL);
        if (h->out.fd >= 0)
            helper_read_answer(h);
        if (h->err.fd >= 0)
            output_serve(&h->err);
        while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    close_fd(&h->pidfd);
    close_fd(&h->in);
    close_fd(&h->out.fd);
    close_fd(&h->err.fd);
    return status;
}

/* The answer of a helper that ran to its end. */
static enum enroll_outcome
exit_outcome(const char *command, int status, const struct helper *h,
             struct enroll_result *result, char **reason)
{
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    char *line = first_line(h->err.kept);
    enum enroll_outcome outcome = ENROLL_UNREACHABLE;
    if (code == EXIT_ISSUED) {
        outcome = enroll_parse_pem_chain((const char *)h->out.kept->data,
                                         h->out.kept->len, result->chain) &&
                          result->chain->len > 0
                      ? ENROLL_ISSUED
                      : ENROLL_BAD_RESPONSE;
        if (outcome != ENROLL_ISSUED)
            *reason = g_strdup_printf("%s printed no usable PEM certificate",
                                      command);
    } else if (code == EXIT_REJECTED) {
        *reason = g_strdup_printf("rejected: %s", line[0] ? line : "no reason");
        outcome = ENROLL_REJECTED;
    } else if (code == EXIT_PENDING) {
        outcome = ENROLL_PENDING;
    } else if (WIFSIGNALED(status)) {
        *reason = g_strdup_printf("%s was killed by signal %d", command,
                                  WTERMSIG(status));
    } else {
        *reason = g_strdup_printf("%s failed (exit status %d)%s%s", command,
                                  code, line[0] ? ": " : "", line);
    }
    g_free(line);
    return outcome;
}

static enum enroll_outcome
run_helper(const struct enroll_profile *ca, const char *command, GBytes *pem,
           struct enroll_result *result, char **reason)
{
    long seconds = (long)ca->profile->command_timeout;
    struct line_log lines = {ca, g_string_new(NULL), 0, 0};
    struct helper h = {
        .pidfd = -1,
        .in = -1,
        .csr = pem,
        .out = {-1, g_byte_array_new(), MAX_OUTPUT + 1, 0, NULL},
        .err = {-1, g_byte_array_new(), MAX_REASON, 0, &lines},
        .deadline = g_get_monotonic_time() + seconds * G_USEC_PER_SEC,
    };
    GError *error = NULL;
    enum enroll_outcome outcome = ENROLL_UNREACHABLE;
    gboolean started = helper_start(&h, ca, command, &error);
    if (started)
        helper_wait(&h, ca);
    int status = helper_finish(&h);
    line_log_finish(&lines);
    if (!started)
        *reason = g_strdup_printf("cannot run %s: %s", command, error->message);
    else if (h.ending == CANCELLED) {
        *reason = g_strdup_printf("%s was stopped: the enrolment was "
                                  "interrupted",
                                  command);
        outcome = ENROLL_CANCELLED;
    } else if (h.ending == TIMED_OUT)
        *reason = g_strdup_printf("%s did not finish in time", command);
    else if (h.ending == TOO_LONG) {
        *reason = g_strdup_printf("%s printed more than %d bytes", command,
                                  MAX_OUTPUT);
        outcome = ENROLL_BAD_RESPONSE;
    } else
        outcome = exit_outcome(command, status, &h, result, reason);
    g_clear_error(&error);
    g_byte_array_unref(h.out.kept);
    g_byte_array_unref(h.err.kept);
    return outcome;
}

static enum enroll_outcome
exec_submit(const struct enroll_profile *ca, GBytes *csr,
            struct enroll_result *result, char **reason)
{
    const char *command = ca->profile->command;
    GBytes *pem = csr_pem(csr);
    enum enroll_outcome outcome = ENROLL_UNREACHABLE;
    if (pem == NULL)
        *reason = g_strdup_printf("cannot run %s: no CSR", command);
    else
        outcome = run_helper(ca, command, pem, result, reason);
    if (pem)
        g_bytes_unref(pem);
    return outcome;
}

const struct enroll_protocol enroll_exec = {"exec", "ec-p256", exec_submit};
