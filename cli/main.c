/* SPDX-License-Identifier: Apache-2.0 */
/* tessera: the command line for the Tessera agent. */
#include "cli.h"
#include "help.h"

#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

/* An idle connection is kept this long between one command's requests
 * (unlock asks for the tokens first). */
#define IDLE_SECONDS 60

static int
run_command(const struct cli_command *command, const char *socket_path,
            int argc, char **argv)
{
    struct cli_args args;
    int rc = cli_parse(command, argc, argv, &args);
    if (rc != CLI_PARSED)
        return rc;
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
    rc = command->run(agent, &args);
    tessera_client_free(agent);
    return rc;
}

static int
global_usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "tessera: %s %s\nRun `tessera --help` for usage.\n", what,
            arg);
    return EXIT_USAGE;
}

int
main(int argc, char **argv)
{
    const char *socket_path = NULL;
    char system_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_print_overview(stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("tessera %s\n", TESSERA_VERSION);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--socket") == 0) {
            if (i + 1 == argc)
                return global_usage_error("--socket needs a", "PATH");
            socket_path = argv[++i];
            continue;
        }
        if (strncmp(argv[i], "--socket=", 9) == 0) {
            socket_path = argv[i] + 9;
            continue;
        }
        if (strcmp(argv[i], "--system") == 0) {
            struct tessera_status st = {0};
            if (!tessera_system_socket_path(system_socket,
                                            sizeof(system_socket), &st)) {
                fprintf(stderr, "tessera: %s\n", st.message);
                return EXIT_USAGE;
            }
            socket_path = system_socket;
            continue;
        }
        return global_usage_error("unknown option", argv[i]);
    }
    if (i == argc) {
        cli_print_overview(stderr);
        return EXIT_USAGE;
    }
    const struct cli_command *command = cli_find_command(argv[i]);
    if (command == NULL)
        return global_usage_error("unknown command", argv[i]);
    return run_command(command, socket_path, argc - i, argv + i);
}
