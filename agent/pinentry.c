/* SPDX-License-Identifier: Apache-2.0 */
#include "pinentry.h"
#include "assuan.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct pinentry {
    GPid pid;
    int to_child, from_child;
    gint64 deadline;
    /* What came from the program and is not a whole line yet; may hold a
     * PIN, so wiped. */
    char buf[2 * (ASSUAN_LINE_MAX + 1)];
    size_t len;
    char line[ASSUAN_LINE_MAX + 1];
};

char *
pinentry_find(const char *configured)
{
    if (configured != NULL)
        return g_file_test(configured, G_FILE_TEST_IS_EXECUTABLE)
                   ? g_strdup(configured)
                   : NULL;
    return g_find_program_in_path("pinentry");
}

static char **
child_environment(const struct session_env *env)
{
    char **envp = g_get_environ();
    static const char *const names[] = {"DISPLAY", "WAYLAND_DISPLAY",
                                        "DBUS_SESSION_BUS_ADDRESS", "TERM"};
    const char *values[] = {env->display, env->wayland_display,
                            env->dbus_address, env->term};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        envp = values[i][0] ? g_environ_setenv(envp, names[i], values[i], TRUE)
                            : g_environ_unsetenv(envp, names[i]);
    return envp;
}

static void
timed_out(struct tessera_status *st)
{
    tessera_status_set(st, TESSERA_ERR_PROMPT_TIMEOUT,
                       "nobody answered the prompt in time");
}

/* The next line from the program into p->line, its length or -1 with st. */
static ssize_t
read_line(struct pinentry *p, struct tessera_status *st)
{
    for (;;) {
        char *end = memchr(p->buf, '\n', p->len);
        if (end != NULL) {
            size_t n = (size_t)(end - p->buf);
            if (n > ASSUAN_LINE_MAX)
                break;
            memcpy(p->line, p->buf, n);
            p->line[n] = '\0';
            memmove(p->buf, end + 1, p->len - n - 1);
            p->len -= n + 1;
            OPENSSL_cleanse(p->buf + p->len, sizeof(p->buf) - p->len);
            return (ssize_t)n;
        }
        if (p->len == sizeof(p->buf))
            break;
        gint64 left_ms = (p->deadline - g_get_monotonic_time()) / 1000;
        if (left_ms <= 0) {
            timed_out(st);
            return -1;
        }
        struct pollfd pfd = {p->from_child, POLLIN, 0};
        int ready = poll(&pfd, 1, (int)MIN(left_ms, G_MAXINT));
        if (ready < 0 && errno == EINTR)
            continue;
        ssize_t got = ready > 0 ? read(p->from_child, p->buf + p->len,
                                       sizeof(p->buf) - p->len)
                                : 0;
        if (ready == 0)
            continue; /* the deadline is checked above */
        if (got <= 0) {
            tessera_status_set(st, TESSERA_ERR_INTERNAL,
                               "the pinentry program ended without answering");
            return -1;
        }
        p->len += (size_t)got;
    }
    tessera_status_set(st, TESSERA_ERR_INTERNAL,
                       "the pinentry program sent a line longer than %d bytes",
                       ASSUAN_LINE_MAX);
    return -1;
}

static void
report_err(unsigned code, struct tessera_status *st)
{
    switch (code) {
    case ASSUAN_GPG_ERR_CANCELED:
        tessera_status_set(st, TESSERA_ERR_PROMPT_CANCELLED,
                           "the prompt was cancelled");
        return;
    case ASSUAN_GPG_ERR_TIMEOUT:
        timed_out(st);
        return;
    case ASSUAN_GPG_ERR_NOT_CONFIRMED:
        tessera_status_set(st, TESSERA_ERR_NOT_CONFIRMED, "the user said no");
        return;
    }
    tessera_status_set(st, TESSERA_ERR_INTERNAL,
                       "the pinentry program failed (error %u)", code);
}

/*
 * Sends line (NULL: only reads, for the greeting) and reads up to its OK;
 * the D lines' data into data (cap bytes; NULL: none expected).
 */
static int
transact(struct pinentry *p, const char *line, size_t line_len, char *data,
         size_t cap, size_t *data_len, struct tessera_status *st)
{
    if (line != NULL) {
        for (size_t done = 0; done < line_len;) {
            ssize_t n = write(p->to_child, line + done, line_len - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                tessera_status_set(st, TESSERA_ERR_INTERNAL,
                                   "the pinentry program stopped listening");
                return -1;
            }
            done += (size_t)n;
        }
    }
    for (;;) {
        ssize_t n = read_line(p, st);
        struct assuan_line parsed;
        if (n < 0)
            return -1;
        if (!assuan_parse_line(p->line, (size_t)n, &parsed)) {
            tessera_status_set(st, TESSERA_ERR_INTERNAL,
                               "the pinentry program does not speak Assuan");
            return -1;
        }
        switch (parsed.kind) {
        case ASSUAN_LINE_OK:
            return 0;
        case ASSUAN_LINE_ERR:
            report_err(parsed.code, st);
            return -1;
        case ASSUAN_LINE_DATA:
            if (data == NULL ||
                !assuan_unescape(parsed.rest, parsed.rest_len, (uint8_t *)data,
                                 cap, data_len)) {
                tessera_status_set(st, TESSERA_ERR_INVALID,
                                   "the PIN typed is too long");
                return -1;
            }
            break;
        case ASSUAN_LINE_INQUIRE:
            tessera_status_set(st, TESSERA_ERR_INTERNAL,
                               "the pinentry program asked something back");
            return -1;
        case ASSUAN_LINE_STATUS:
        case ASSUAN_LINE_COMMENT:
            break;
        }
    }
}

static int
command(struct pinentry *p, const char *name, const char *arg, char *data,
        size_t cap, size_t *data_len, struct tessera_status *st)
{
    char line[ASSUAN_LINE_MAX + 2];
    size_t len;
    if (!assuan_command(name, arg, line, sizeof(line), &len)) {
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "the text for %s is too long", name);
        return -1;
    }
    return transact(p, line, len, data, cap, data_len, st);
}

/* The terminal and display the program is to use, and its timeout. */
static int
set_options(struct pinentry *p, const struct session_env *env,
            struct tessera_status *st)
{
    char option[600];
    int rc = 0;
    if (env->tty[0]) {
        snprintf(option, sizeof(option), "ttyname=%s", env->tty);
        rc = command(p, "OPTION", option, NULL, 0, NULL, st);
        snprintf(option, sizeof(option), "ttytype=%s",
                 env->term[0] ? env->term : "vt100");
        if (rc == 0)
            rc = command(p, "OPTION", option, NULL, 0, NULL, st);
    }
    if (rc == 0 && env->display[0]) {
        snprintf(option, sizeof(option), "display=%s", env->display);
        rc = command(p, "OPTION", option, NULL, 0, NULL, st);
    }
    gint64 seconds = (p->deadline - g_get_monotonic_time()) / G_USEC_PER_SEC;
    snprintf(option, sizeof(option), "%" G_GINT64_FORMAT, MAX(seconds, 1));
    /* pinentry counts down itself where it can; the deadline still holds. */
    if (rc == 0)
        rc = command(p, "SETTIMEOUT", option, NULL, 0, NULL, st);
    return rc;
}

struct pinentry *
pinentry_open(const char *program, const struct session_env *env,
              gint64 deadline, struct tessera_status *st)
{
    struct pinentry *p = g_new0(struct pinentry, 1);
    char *argv[] = {(char *)program, NULL};
    char **envp = child_environment(env);
    GError *error = NULL;
    p->deadline = deadline;
    p->to_child = p->from_child = -1;
    gboolean started = g_spawn_async_with_pipes(
        NULL, argv, envp,
        G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
        &p->pid, &p->to_child, &p->from_child, NULL, &error);
    g_strfreev(envp);
    if (!started) {
        tessera_status_set(st, TESSERA_ERR_INTERNAL, "cannot run %s: %s",
                           program, error->message);
        g_error_free(error);
        g_free(p);
        return NULL;
    }
    if (transact(p, NULL, 0, NULL, 0, NULL, st) < 0 ||
        set_options(p, env, st) < 0) {
        pinentry_close(p);
        return NULL;
    }
    return p;
}

int
pinentry_set(struct pinentry *p, const char *name, const char *text,
             struct tessera_status *st)
{
    return command(p, name, text, NULL, 0, NULL, st);
}

int
pinentry_get_pin(struct pinentry *p, char *pin, size_t cap, size_t *len,
                 struct tessera_status *st)
{
    *len = 0;
    return command(p, "GETPIN", NULL, pin, cap, len, st);
}

int
pinentry_confirm(struct pinentry *p, struct tessera_status *st)
{
    return command(p, "CONFIRM", NULL, NULL, 0, NULL, st);
}

int
pinentry_show_message(struct pinentry *p, struct tessera_status *st)
{
    static const char message[] = "MESSAGE\n";
    if (write(p->to_child, message, sizeof(message) - 1) ==
        (ssize_t)sizeof(message) - 1)
        return 0;
    tessera_status_set(st, TESSERA_ERR_INTERNAL,
                       "the pinentry program stopped listening");
    return -1;
}

/* Waits up to ms for the program to end; TRUE when it has. */
static gboolean
ended_within(GPid pid, int ms)
{
    for (int waited = 0; waited < ms; waited += 10) {
        if (waitpid(pid, NULL, WNOHANG) != 0)
            return TRUE;
        g_usleep(10000);
    }
    return FALSE;
}

/* A pinentry still showing its prompt does not read BYE: SIGTERM lets it
 * put the terminal back as it was, SIGKILL ends one that does not go. */
static void
reap(GPid pid)
{
    if (ended_within(pid, 200))
        return;
    kill(pid, SIGTERM);
    if (ended_within(pid, 1000))
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

void
pinentry_close(struct pinentry *p)
{
    if (p == NULL)
        return;
    static const char bye[] = "BYE\n";
    if (p->to_child >= 0 && write(p->to_child, bye, sizeof(bye) - 1) < 0)
        g_debug("pinentry gone before BYE");
    if (p->to_child >= 0)
        close(p->to_child);
    if (p->from_child >= 0)
        close(p->from_child);
    reap(p->pid);
    g_spawn_close_pid(p->pid);
    OPENSSL_cleanse(p, sizeof(*p));
    g_free(p);
}
