/* SPDX-License-Identifier: Apache-2.0 */
/* A command's arguments, parsed by its entry in the command table. */
#include "cli.h"
#include "help.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long's value for option i of the table, above any character. */
#define OPTION_BASE 0x100
#define HELP 'h'

int
cli_usage_error(const struct cli_command *command, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tessera %s: ", command->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun `tessera help %s` for usage.\n", command->name);
    return EXIT_USAGE;
}

static size_t
count_options(const struct cli_command *command)
{
    size_t n = 0;
    while (command->options[n].name != NULL)
        n++;
    return n;
}

/* The option of the table that ARG ("--name" or "--name=value") names. */
static const struct cli_option *
option_named(const struct cli_command *command, const char *arg)
{
    const char *name = arg + strspn(arg, "-");
    size_t len = strcspn(name, "=");
    for (const struct cli_option *o = command->options; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

/* What getopt_long refused: ARG is the argument it stopped at. */
static int
option_error(const struct cli_command *command, int c, const char *arg)
{
    const struct cli_option *o = option_named(command, arg);
    if (c == ':')
        return cli_usage_error(command, "%s needs a value", arg);
    if (o != NULL && o->value == CLI_FLAG && strchr(arg, '=') != NULL)
        return cli_usage_error(command, "--%s takes no value", o->name);
    if (optopt > 0 && optopt < OPTION_BASE)
        return cli_usage_error(command, "unknown option -%c", optopt);
    return cli_usage_error(command, "unknown option %.*s",
                           (int)strcspn(arg, "="), arg);
}

static int
store_option(const struct cli_command *command, size_t i, struct cli_args *args)
{
    const struct cli_option *o = &command->options[i];
    const char *value = o->value == CLI_FLAG ? "" : optarg;
    if (o->flags & CLI_REPEATABLE) {
        if (args->n_repeated == CLI_REPEAT_MAX)
            return cli_usage_error(command, "at most %u --%s options",
                                   CLI_REPEAT_MAX, o->name);
        args->repeated[args->n_repeated++] = value;
    }
    args->values[i] = value;
    return CLI_PARSED;
}

/* "--token TOKEN and --subject DN": the required options not given. */
static int
missing_options(const struct cli_command *command, const struct cli_args *args)
{
    char missing[256] = "";
    size_t len = 0;
    for (size_t i = 0; command->options[i].name; i++) {
        const struct cli_option *o = &command->options[i];
        if (!(o->flags & CLI_REQUIRED) || args->values[i] != NULL)
            continue;
        int n = snprintf(missing + len, sizeof(missing) - len, "%s--%s %s",
                         len ? " and " : "", o->name, o->metavar);
        if (n > 0 && (size_t)n < sizeof(missing) - len)
            len += (size_t)n;
    }
    return len ? cli_usage_error(command, "needs %s", missing) : CLI_PARSED;
}

static int
check_operands(const struct cli_command *command, int n, char **operands,
               struct cli_args *args)
{
    if (command->operand == NULL && n > 0)
        return cli_usage_error(command, "takes no operand, not %s",
                               operands[0]);
    if (n > 1 || (n == 0 && command->operand_required))
        return cli_usage_error(
            command, "%s one %s%s%s",
            command->operand_required ? "needs exactly" : "takes at most",
            command->operand, n > 1 ? ", not " : "", n > 1 ? operands[1] : "");
    args->operand = n == 1 ? operands[0] : NULL;
    return CLI_PARSED;
}

int
cli_parse(const struct cli_command *command, int argc, char **argv,
          struct cli_args *args)
{
    struct option longopts[CLI_OPTIONS_MAX + 2];
    size_t n = count_options(command);
    if (n > CLI_OPTIONS_MAX)
        abort(); /* the table is wrong: its test fails */
    for (size_t i = 0; i < n; i++) {
        const struct cli_option *o = &command->options[i];
        longopts[i] = (struct option){
            o->name, o->value == CLI_FLAG ? no_argument : required_argument,
            NULL, OPTION_BASE + (int)i};
    }
    longopts[n] = (struct option){"help", no_argument, NULL, HELP};
    longopts[n + 1] = (struct option){NULL, 0, NULL, 0};
    *args = (struct cli_args){.command = command};
    optind = 0; /* glibc: start afresh */
    opterr = 0; /* the errors are said here, naming the command */
    int c, rc = CLI_PARSED;
    while (rc == CLI_PARSED &&
           (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == HELP) {
            cli_print_command_help(stdout, command);
            return EXIT_OK;
        }
        if (c >= OPTION_BASE && c < OPTION_BASE + (int)n)
            rc = store_option(command, (size_t)(c - OPTION_BASE), args);
        else
            rc = option_error(command, c, argv[optind - 1]);
    }
    if (rc != CLI_PARSED)
        return rc;
    rc = check_operands(command, argc - optind, argv + optind, args);
    if (rc == CLI_PARSED)
        rc = missing_options(command, args);
    args->json = rc == CLI_PARSED && cli_value(args, "json") != NULL;
    return rc;
}

const char *
cli_value(const struct cli_args *args, const char *name)
{
    const struct cli_option *options = args->command->options;
    for (size_t i = 0; options[i].name; i++)
        if (strcmp(options[i].name, name) == 0)
            return args->values[i];
    return NULL;
}
