/* SPDX-License-Identifier: Apache-2.0 */
/* tessera enroll and renew: a certificate from a CA, through the agent. */
#include "cli.h"
#include "output.h"
#include "progress.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

/* Ctrl-C while the CA says pending: the agent sees the hang-up, stops
 * asking and removes the new key; say so on the way out. (The same for a
 * renewal: its new key goes, the current one stays.) */
static void
on_interrupt(int sig)
{
    static const char message[] =
        "\ntessera: interrupted; the agent stops asking the CA and removes "
        "the new key\n";
    (void)sig;
    ssize_t ignored = write(STDERR_FILENO, message, sizeof(message) - 1);
    (void)ignored;
    _exit(130);
}

static void
cancel_on_interrupt(void)
{
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
}

/* What ENROLL or RENEW brought back (rc 0), or why not. */
static int
report_certificate(const struct cli_args *args, int rc, const char *what,
                   const char *name, struct tessera_blob *leaf,
                   const struct tessera_status *st)
{
    if (rc == 0)
        output_certified(what, name, leaf, args->json);
    tessera_blob_clear(leaf);
    return rc == 0 ? EXIT_OK : cli_fail(args, st);
}

int
cmd_enroll(struct tessera_client *agent, const struct cli_args *args)
{
    const char *key = cli_value(args, "key");
    const char *timeout = cli_value(args, "timeout");
    /* The request's strings are argv's, never freed through it. No --key:
     * the CA profile's key=, else the protocol's default. */
    struct tessera_enroll_request req = {
        .key = {.name = (char *)args->operand,
                .token = (char *)cli_value(args, "token"),
                .subject = (char *)cli_value(args, "subject"),
                .key_spec = (char *)(key ? key : "")},
        .ca = (char *)cli_value(args, "ca"),
        .n_sans = (uint32_t)args->n_repeated,
        .timeout_seconds = 300,
    };
    for (size_t i = 0; i < args->n_repeated; i++)
        req.sans[i] = (char *)args->repeated[i];
    if (timeout != NULL) {
        char *end;
        unsigned long seconds = strtoul(timeout, &end, 10);
        if (*end != '\0' || seconds == 0 || seconds > 86400)
            return cli_usage_error(args->command,
                                   "--timeout %s: give 1 to 86400 seconds",
                                   timeout);
        req.timeout_seconds = (uint32_t)seconds;
    }
    /* With --json, stderr carries the steps' JSON lines alone. */
    if (!args->json)
        fprintf(stderr,
                "tessera: enrolling %s with CA %s (waiting up to %u s if the "
                "CA says pending)\n",
                req.key.name, req.ca, req.timeout_seconds);
    cancel_on_interrupt();
    struct tessera_blob leaf;
    struct tessera_status st = {0};
    struct progress progress;
    progress_begin(&progress, args->json);
    int rc = tessera_client_enroll(agent, &req, &progress.sink, &leaf, &st);
    progress_end(&progress);
    return report_certificate(args, rc, "enrolled", req.key.name, &leaf, &st);
}

int
cmd_renew(struct tessera_client *agent, const struct cli_args *args)
{
    const char *name = args->operand;
    if (!args->json)
        fprintf(stderr,
                "tessera: renewing %s with the CA it was enrolled with\n",
                name);
    cancel_on_interrupt();
    struct tessera_blob leaf;
    struct tessera_status st = {0};
    struct progress progress;
    progress_begin(&progress, args->json);
    int rc = tessera_client_renew(agent, name, &progress.sink, &leaf, &st);
    progress_end(&progress);
    return report_certificate(args, rc, "renewed", name, &leaf, &st);
}
