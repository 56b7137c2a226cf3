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
 *   other, or killed after command-timeout: the CA could not be asked
 * TESSERA_CA_PROFILE names the profile for it. Its output is read whole;
 * command-timeout bounds how much it can print.
 */
#include "enroll.h"

#include <gio/gio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>

#define MAX_OUTPUT (256 * 1024)
#define EXIT_ISSUED 0
#define EXIT_REJECTED 1
#define EXIT_PENDING 2
#define EXIT_TIMED_OUT 124 /* timeout(1) */

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
first_line(GBytes *err)
{
    gsize len = 0;
    const char *text = err ? g_bytes_get_data(err, &len) : NULL;
    gsize end = 0;
    while (end < len && end < 200 && text[end] != '\n')
        end++;
    char *line = g_strndup(text ? text : "", end);
    for (char *p = line; *p; p++)
        if (!g_ascii_isprint(*p))
            *p = '?';
    return line;
}

static GSubprocess *
spawn(const struct enroll_profile *ca, const char *command, GError **error)
{
    long seconds = enroll_profile_number(ca, "command-timeout",
                                         ENROLL_DEFAULT_COMMAND_TIMEOUT);
    char secs[16];
    g_snprintf(secs, sizeof(secs), "%ld", seconds);
    /* timeout(1) kills a hung helper; its own exit status says so. */
    const char *argv[] = {"timeout", "--kill-after=2", secs, "/bin/sh",
                          "-c",      command,          NULL};
    GSubprocessLauncher *launcher = g_subprocess_launcher_new(
        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
        G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_subprocess_launcher_setenv(launcher, "TESSERA_CA_PROFILE", ca->name,
                                 TRUE);
    GSubprocess *proc = g_subprocess_launcher_spawnv(
        launcher, (const char *const *)argv, error);
    g_object_unref(launcher);
    return proc;
}

/*
 * Feeds the CSR and collects the output. A helper may answer without
 * reading its stdin ("still pending", decided from its own state): the
 * write then fails with EPIPE, and its exit status is still the answer.
 */
static gboolean
run_to_end(GSubprocess *proc, GBytes *csr, GCancellable *cancel, GBytes **out,
           GBytes **err, GError **error)
{
    GError *local = NULL;
    if (g_subprocess_communicate(proc, csr, cancel, out, err, &local))
        return TRUE;
    if (g_error_matches(local, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        /* The agent stops: timeout(1) passes the signal on to the helper. */
        g_subprocess_send_signal(proc, SIGTERM);
        g_subprocess_wait(proc, NULL, NULL);
    }
    if (!g_error_matches(local, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE)) {
        g_propagate_error(error, local);
        return FALSE;
    }
    g_error_free(local);
    return g_subprocess_wait(proc, NULL, error);
}

static enum enroll_outcome
exec_submit(const struct enroll_profile *ca, GBytes *csr,
            struct enroll_result *result, char **reason)
{
    char *command = enroll_profile_string(ca, "command");
    GBytes *pem = csr_pem(csr), *out = NULL, *err = NULL;
    GError *error = NULL;
    GSubprocess *proc = NULL;
    enum enroll_outcome outcome = ENROLL_UNREACHABLE;
    if (command == NULL) {
        *reason = g_strdup("the profile needs a command");
        goto done;
    }
    if (pem == NULL || (proc = spawn(ca, command, &error)) == NULL ||
        !run_to_end(proc, pem, ca->cancel, &out, &err, &error)) {
        *reason = g_strdup_printf("cannot run %s: %s", command,
                                  error ? error->message : "no CSR");
        goto done;
    }
    int status = g_subprocess_get_if_exited(proc)
                     ? g_subprocess_get_exit_status(proc)
                     : -1;
    char *line = first_line(err);
    gsize len = out ? g_bytes_get_size(out) : 0;
    if (status == EXIT_ISSUED && len > MAX_OUTPUT) {
        *reason = g_strdup_printf("%s printed more than %d bytes", command,
                                  MAX_OUTPUT);
        outcome = ENROLL_BAD_RESPONSE;
    } else if (status == EXIT_ISSUED) {
        outcome = enroll_parse_pem_chain(g_bytes_get_data(out, NULL), len,
                                         result->chain) &&
                          result->chain->len > 0
                      ? ENROLL_ISSUED
                      : ENROLL_BAD_RESPONSE;
        if (outcome != ENROLL_ISSUED)
            *reason = g_strdup_printf("%s printed no usable PEM certificate",
                                      command);
    } else if (status == EXIT_REJECTED) {
        *reason = g_strdup_printf("rejected: %s", line[0] ? line : "no reason");
        outcome = ENROLL_REJECTED;
    } else if (status == EXIT_PENDING) {
        outcome = ENROLL_PENDING;
    } else if (status == EXIT_TIMED_OUT) {
        *reason = g_strdup_printf("%s did not finish in time", command);
    } else {
        *reason = g_strdup_printf("%s failed (exit status %d)%s%s", command,
                                  status, line[0] ? ": " : "", line);
    }
    g_free(line);
done:
    g_clear_error(&error);
    g_clear_object(&proc);
    if (out)
        g_bytes_unref(out);
    if (err)
        g_bytes_unref(err);
    if (pem)
        g_bytes_unref(pem);
    g_free(command);
    return outcome;
}

const struct enroll_protocol enroll_exec = {"exec", "ec-p256", exec_submit};
