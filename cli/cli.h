/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tessera command's parts: commands.c (the command table: every
 * command's operand, options, help text and exit statuses), args.c (the
 * arguments parsed by that table), help.c (--help, and the man page and
 * shell completion that gendoc.c makes from the same table), main.c (the
 * global options and the dispatch), one file per group of commands
 * (cmd_*.c, doctor.c), output.c and json.c (tables and JSON), pin.c (PIN
 * entry) and files.c (the files it reads and writes).
 */
#ifndef TESSERA_CLI_H
#define TESSERA_CLI_H

#include "../common/client.h"
#include "../common/messages.h"

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

/* What an option's value or a command's operand is: the help shows it,
 * and shell completion offers what fits. */
enum cli_value {
    CLI_FLAG,     /* an option that takes no value */
    CLI_TEXT,     /* anything: nothing to offer */
    CLI_FILE,     /* a path */
    CLI_IDENTITY, /* a name `tessera list` shows */
    CLI_TOKEN,    /* a label `tessera tokens` shows, or a pkcs11: URI */
    CLI_KEY_SPEC, /* one of tessera_keyspec_name()'s */
    CLI_COMMAND,  /* one of the commands */
};

enum cli_option_flags {
    CLI_REQUIRED = 1 << 0,   /* the command needs it */
    CLI_REPEATABLE = 1 << 1, /* each value is kept (at most CLI_REPEAT_MAX) */
};

struct cli_option {
    const char *name; /* without the leading "--" */
    enum cli_value value;
    const char *metavar; /* the value's name in help: FILE, TOKEN */
    unsigned flags;      /* enum cli_option_flags */
    /* One phrase; `backquoted` text is literal (bold in the man page). */
    const char *help;
};

struct cli_exit_status {
    int status;
    const char *meaning;
};

struct cli_args;
/* A command: the agent's client (no connection until a call) and its
 * parsed arguments; the exit status. */
typedef int cli_run(struct tessera_client *agent, const struct cli_args *args);

struct cli_command {
    const char *name;
    cli_run *run;
    /* Its one operand's name (NULL: it takes none), whether it must be
     * given, and what it is. */
    const char *operand;
    bool operand_required;
    enum cli_value operand_value;
    const char *summary; /* a line for the list of commands */
    /* Paragraphs separated by blank lines; `backquoted` text is literal. */
    const char *description;
    const struct cli_option *options;            /* until a NULL name */
    const struct cli_exit_status *exit_statuses; /* beyond the common */
};

#define CLI_OPTIONS_MAX 8
#define CLI_REPEAT_MAX TESSERA_SANS_MAX /* --san is the repeatable one */

/* What a command was given, by its options' names. */
struct cli_args {
    const struct cli_command *command;
    const char *operand; /* NULL: not given */
    /* By option, in the table's order: the last value given ("" for a
     * flag), or NULL. */
    const char *values[CLI_OPTIONS_MAX];
    /* Every value of the command's CLI_REPEATABLE option, in order. */
    const char *repeated[CLI_REPEAT_MAX];
    size_t n_repeated;
    /* --json was given: results, and failures, as JSON on stdout. */
    bool json;
};

/* commands.c: the table, and what `tessera --help` says around it. */
extern const struct cli_command cli_commands[];
extern const size_t cli_n_commands;
extern const struct cli_option cli_global_options[];
extern const struct cli_exit_status cli_common_exit_statuses[];
extern const char cli_description[];
struct cli_note {
    const char *name;
    const char *meaning;
};
extern const struct cli_note cli_environment[]; /* ends with {NULL} */
extern const struct cli_note cli_files[];       /* ends with {NULL} */
const struct cli_command *cli_find_command(const char *name);

/* args.c */
/* CLI_PARSED with args filled in, or the exit status for having printed
 * the command's help (EXIT_OK) or a usage error (EXIT_USAGE). argv[0] is
 * the command's name. */
#define CLI_PARSED (-1)
int cli_parse(const struct cli_command *command, int argc, char **argv,
              struct cli_args *args);
/* The value of the command's option NAME, or NULL if it was not given. */
const char *cli_value(const struct cli_args *args, const char *name);
/* Says "tessera COMMAND: MESSAGE" and where its usage is; EXIT_USAGE. */
int cli_usage_error(const struct cli_command *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* output.c: says why on stderr (and as JSON on stdout with --json) and
 * returns the exit status for it. */
int cli_fail(const struct cli_args *args, const struct tessera_status *st);

/* cmd_uses.c */
cli_run cmd_update_env, cmd_log;
/* cmd_tokens.c */
cli_run cmd_tokens, cmd_unlock, cmd_lock;
/* cmd_identities.c */
cli_run cmd_list, cmd_keygen, cmd_import, cmd_export, cmd_forget;
/* cmd_enroll.c */
cli_run cmd_enroll, cmd_renew;
/* doctor.c: EXIT_OK only when all is well. */
cli_run cmd_doctor;
/* help.c */
cli_run cmd_help;

#endif
