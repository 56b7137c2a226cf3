/* SPDX-License-Identifier: Apache-2.0 */
/* What the command table says, for people: --help, and the pieces the man
 * page shares with it. */
#ifndef TESSERA_CLI_HELP_H
#define TESSERA_CLI_HELP_H

#include "cli.h"

/* tessera --help: the usage, the commands, the global options, the exit
 * statuses. */
void cli_print_overview(FILE *out);
/* tessera help COMMAND, tessera COMMAND --help: its usage, description,
 * options and exit statuses. */
void cli_print_command_help(FILE *out, const struct cli_command *command);

/* How the synopsis is written: names typed as they are (the command,
 * --options), the names of values (NAME, FILE), and the space inside a
 * [...] group, which a line must not break at. */
struct cli_synopsis_style {
    void (*literal)(FILE *out, const char *text);
    void (*metavar)(FILE *out, const char *text);
    const char *unbreakable_space;
};
/* "keygen NAME --token TOKEN ... [--key SPEC] [--json]", in the table's
 * order: the operand, the required options, then the others in [...]. */
void cli_write_synopsis(FILE *out, const struct cli_command *command,
                        const struct cli_synopsis_style *style);

/* "ec-p256, ec-p384, ...": the key types --key takes. */
void cli_key_specs(char *buf, size_t size);

/* An option's help with what the table adds: the values a CLI_KEY_SPEC
 * takes, and that a CLI_REPEATABLE one may be given again. */
void cli_option_help(const struct cli_option *o, char *buf, size_t size);

/* A command's exit statuses, by status: the common ones, each replaced by
 * the command's own meaning (own) where it has one, then its others. How
 * many were put in out (at most max). */
#define CLI_EXIT_STATUSES_MAX 16
size_t cli_exit_statuses(const struct cli_exit_status *own,
                         const struct cli_exit_status **out, size_t max);

#endif
