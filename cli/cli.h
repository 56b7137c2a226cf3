/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tessera command's parts: main.c (arguments, help, exit status), one
 * file per group of commands (cmd_*.c), output.c (tables and JSON),
 * pin.c (PIN entry) and files.c (the files it reads and writes).
 */
#ifndef TESSERA_CLI_H
#define TESSERA_CLI_H

#include "../common/client.h"

#include <stdio.h>

enum exit_code {
    EXIT_OK = 0,
    EXIT_FAILED = 1,      /* the agent refused or the operation failed */
    EXIT_USAGE = 2,       /* the command line is wrong */
    EXIT_UNREACHABLE = 3, /* no agent of this user's to talk to */
    /* enroll: why the CA gave no certificate */
    EXIT_CA_REJECTED = 4,    /* the CA refused; asking again will not help */
    EXIT_CA_UNREACHABLE = 5, /* the CA could not be asked */
    EXIT_CA_TIMEOUT = 6,     /* still pending when --timeout ran out */
    EXIT_CA_RESPONSE = 7,    /* the CA's answer was unusable */
    /* enroll, renew: another renewal or enrolment of NAME is running */
    EXIT_RENEWAL_RUNNING = 8,
};

/* main.c: says why on stderr and returns the exit status for it. */
int cli_fail(const struct tessera_status *st);
/* Says fmt (with arg) and where to find usage; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, const char *arg);

/* A command: the agent's client (no connection until a call), and its
 * arguments from its own name on. */
typedef int cli_command(struct tessera_client *agent, int argc, char **argv);

/* cmd_tokens.c */
cli_command cmd_tokens, cmd_unlock, cmd_lock;
/* `--json` and nothing else (list, tokens): EXIT_OK, or the status to exit
 * with having said why. */
int cli_json_option(int argc, char **argv, bool *json);
/* cmd_identities.c */
cli_command cmd_list, cmd_keygen, cmd_import, cmd_export;
/* cmd_enroll.c */
cli_command cmd_enroll, cmd_renew;
/* doctor.c: tessera doctor [NAME] [--cert FILE --key FILE]; EXIT_OK only
 * when all is well. */
cli_command cmd_doctor;

#endif
