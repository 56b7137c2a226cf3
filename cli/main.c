/* SPDX-License-Identifier: Apache-2.0 */
/* tessera: the command line for the Tessera agent. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* An idle connection is kept this long between one command's requests
 * (unlock asks for the tokens first). */
#define IDLE_SECONDS 60

int
cli_fail(const struct tessera_status *st)
{
    fprintf(stderr, "tessera: %s\n", st->message);
    switch (st->code) {
    case TESSERA_ERR_UNREACHABLE:
    case TESSERA_ERR_UNTRUSTED:
        return EXIT_UNREACHABLE;
    case TESSERA_ERR_CA_REJECTED:
        return EXIT_CA_REJECTED;
    case TESSERA_ERR_CA_UNREACHABLE:
        return EXIT_CA_UNREACHABLE;
    case TESSERA_ERR_CA_TIMEOUT:
        return EXIT_CA_TIMEOUT;
    case TESSERA_ERR_CA_RESPONSE:
        return EXIT_CA_RESPONSE;
    case TESSERA_ERR_RENEWAL_RUNNING:
        return EXIT_RENEWAL_RUNNING;
    default:
        return EXIT_FAILED;
    }
}

int
cli_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "tessera: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nRun `tessera --help` for usage.\n");
    return EXIT_USAGE;
}

static const struct command {
    const char *name;
    cli_command *run;
    const char *synopsis;
} commands[] = {
    {"list", cmd_list,
     "list [--json]\n      identities: name, token, key, "
     "expiry, state, subject"},
    {"tokens", cmd_tokens,
     "tokens [--json]\n      tokens the agent sees, and whether "
     "they are unlocked"},
    {"unlock", cmd_unlock,
     "unlock [TOKEN] [--pin-file FILE] [--force]\n      log the agent into a "
     "token (label or pkcs11: URI); the PIN is asked\n      on the terminal "
     "without echo, or read from FILE (yours, mode 0600, one\n      line; - "
     "for standard input). --force spends a token's final PIN try"},
    {"lock", cmd_lock,
     "lock [TOKEN]\n      log the agent out of one token, "
     "or of all"},
    {"enroll", cmd_enroll,
     "enroll NAME --token URI --ca PROFILE --subject DN [--san KIND:VALUE]...\n"
     "       [--key SPEC] [--timeout SECONDS]\n"
     "      generate a key on the token, have the CA profile's protocol\n"
     "      (local, exec, acme, scep) certify it, verify and store the\n"
     "      certificate; KIND: dns, email, uri, ip, upn. SPEC defaults to\n"
     "      the profile's key= (ec-p256; rsa2048 for scep). Exit 4\n"
     "      rejected, 5 CA unreachable, 6 still pending at the timeout,\n"
     "      7 unusable answer, 8 NAME is being renewed or enrolled"},
    {"renew", cmd_renew,
     "renew NAME\n      renew an enrolled identity now, through the CA it was\n"
     "      enrolled with (a new key unless rekey=false); the agent renews\n"
     "      on its own before expiry. Exit status as for enroll; 8 at once\n"
     "      when a renewal of NAME is running already"},
    {"keygen", cmd_keygen,
     "keygen NAME --token URI --subject DN [--key SPEC] [--out FILE]\n"
     "      generate a non-extractable key on a token and print its CSR;\n"
     "      SPEC: ec-p256 (default), ec-p384, rsa2048, rsa3072, rsa4096,\n"
     "      ed25519 (where the token offers CKM_EDDSA)"},
    {"import", cmd_import,
     "import NAME --cert FILE [--chain FILE]\n      store "
     "the issued certificate beside the key NAME"},
    {"doctor", cmd_doctor,
     "doctor [NAME] [--cert FILE --key FILE]\n"
     "      check what OpenSSL programs need, one line each with the fix:\n"
     "      OPENSSL_CONF, the provider and its order, the agent, each\n"
     "      identity's token, certificate and chain, and a key-reference\n"
     "      file with its certificate file. Exit 0 only when all is well"},
    {"export", cmd_export,
     "export NAME [--key-ref FILE] [--cert FILE] [--chain FILE]\n"
     "      write a key-reference file (a PEM block naming the identity, for\n"
     "      programs that take a key file) and the certificate and chain"},
};

static void
print_help(FILE *out)
{
    fprintf(out,
            "Usage: tessera [--socket PATH] COMMAND [ARGS]\n\n"
            "Controls the Tessera agent, which keeps client-certificate keys "
            "on PKCS#11\ntokens. OpenSSL programs use its identities as "
            "tessera:NAME through the\ntessera provider.\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %s\n", commands[i].synopsis);
    fprintf(out,
            "\nOptions:\n"
            "  --socket PATH  the agent's socket (default: $TESSERA_SOCKET, "
            "else\n                 $XDG_RUNTIME_DIR/tessera/agent.sock); "
            "nothing is sent unless\n                 it and its directory "
            "are yours (or root's)\n"
            "  --help, --version\n\n"
            "Exit status: 0 success, 1 the operation failed, 2 usage error, "
            "3 no agent of\nyours to talk to.\n");
}

static int
run_command(const struct command *command, const char *socket_path, int argc,
            char **argv)
{
    struct tessera_client_options options = {
        .socket_path = socket_path,
        .max_connections = 1,
        .idle_seconds = IDLE_SECONDS,
    };
    struct tessera_client *agent = tessera_client_new(&options);
    if (agent == NULL) {
        fprintf(stderr, "tessera: out of memory\n");
        return EXIT_FAILED;
    }
    int rc = command->run(agent, argc, argv);
    tessera_client_free(agent);
    return rc;
}

int
main(int argc, char **argv)
{
    const char *socket_path = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("tessera %s\n", TESSERA_VERSION);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
            socket_path = argv[++i];
            continue;
        }
        return cli_usage_error("unknown option %s", argv[i]);
    }
    if (i == argc) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        if (strcmp(argv[i], commands[c].name) == 0)
            return run_command(&commands[c], socket_path, argc - i, argv + i);
    }
    return cli_usage_error("unknown command %s", argv[i]);
}
