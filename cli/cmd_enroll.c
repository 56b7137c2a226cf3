/* SPDX-License-Identifier: Apache-2.0 */
/* tessera enroll and renew: a certificate from a CA, through the agent. */
#include "cli.h"
#include "output.h"

#include <getopt.h>
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
report_certificate(int rc, const char *what, const char *name,
                   struct tessera_blob *leaf, const struct tessera_status *st)
{
    if (rc == 0)
        output_certified(what, name, leaf);
    tessera_blob_clear(leaf);
    return rc == 0 ? EXIT_OK : cli_fail(st);
}

int
cmd_enroll(struct tessera_client *agent, int argc, char **argv)
{
    /* No --key: the CA profile's key=, else the protocol's default. */
    struct tessera_enroll_request req = {.key = {.key_spec = ""},
                                         .timeout_seconds = 300};
    static const struct option opts[] = {
        {"token", required_argument, NULL, 't'},
        {"ca", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"subject", required_argument, NULL, 's'},
        {"san", required_argument, NULL, 'a'},
        {"timeout", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0}};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "t:c:k:s:a:T:", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            req.key.token = optarg;
            break;
        case 'c':
            req.ca = optarg;
            break;
        case 'k':
            req.key.key_spec = optarg;
            break;
        case 's':
            req.key.subject = optarg;
            break;
        case 'a':
            if (req.n_sans == TESSERA_SANS_MAX)
                return cli_usage_error("at most %s --san options", "16");
            req.sans[req.n_sans++] = optarg;
            break;
        case 'T':
            req.timeout_seconds = (uint32_t)strtoul(optarg, &end, 10);
            if (*end != '\0' || req.timeout_seconds == 0 ||
                req.timeout_seconds > 86400)
                return cli_usage_error("--timeout %s: give 1 to 86400 seconds",
                                       optarg);
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("enroll needs exactly one NAME%s", "");
    if (req.key.token == NULL || req.ca == NULL || req.key.subject == NULL)
        return cli_usage_error("enroll needs --token, --ca and --subject%s",
                               "");
    req.key.name = argv[optind];
    fprintf(stderr,
            "tessera: enrolling %s with CA %s (waiting up to %u s if the CA "
            "says pending)\n",
            req.key.name, req.ca, req.timeout_seconds);
    cancel_on_interrupt();
    struct tessera_blob leaf;
    struct tessera_status st = {0};
    int rc = tessera_client_enroll(agent, &req, &leaf, &st);
    return report_certificate(rc, "enrolled", req.key.name, &leaf, &st);
}

int
cmd_renew(struct tessera_client *agent, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-')
        return cli_usage_error("renew needs exactly one NAME%s", "");
    const char *name = argv[1];
    fprintf(stderr,
            "tessera: renewing %s with the CA it was enrolled with; the agent "
            "logs each step\n",
            name);
    cancel_on_interrupt();
    struct tessera_blob leaf;
    struct tessera_status st = {0};
    int rc = tessera_client_renew(agent, name, &leaf, &st);
    return report_certificate(rc, "renewed", name, &leaf, &st);
}
