/* SPDX-License-Identifier: Apache-2.0 */
#include "help.h"
#include "../common/keyspec.h"

#include <stdlib.h>
#include <string.h>

#define WIDTH 79
#define LABEL_WIDTH_MAX 24 /* an option's name column, at most */
#define HELP_OPTION "-h, --help"

static void
put_plain(FILE *out, const char *text)
{
    fputs(text, out);
}

/* write_wrapped keeps [...] groups whole itself. */
static const struct cli_synopsis_style plain = {put_plain, put_plain, " "};

/* The length of the unit of text at p that a line may not break inside:
 * a word, or with brackets whole, a [...] group. */
static size_t
unit_length(const char *p, bool brackets_whole)
{
    size_t len = 0;
    int depth = 0;
    for (; p[len] != '\0' && p[len] != '\n'; len++) {
        if (p[len] == ' ' && depth == 0)
            break;
        if (brackets_whole && p[len] == '[')
            depth++;
        else if (brackets_whole && p[len] == ']' && depth > 0)
            depth--;
    }
    return len;
}

/* The width of text as shown: backquotes mark literals, and are not. */
static size_t
shown_width(const char *p, size_t len)
{
    size_t width = 0;
    for (size_t i = 0; i < len; i++)
        width += p[i] != '`';
    return width;
}

/*
 * Writes text from column on, wrapped at WIDTH with lines after the first
 * indented to indent; a blank line in text starts a new paragraph. The
 * column it ends at.
 */
static size_t
write_wrapped(FILE *out, const char *text, size_t column, size_t indent,
              bool brackets_whole)
{
    const char *p = text;
    bool line_start = true;
    while (*p != '\0') {
        if (*p == '\n') {
            fprintf(out, "\n%s%*s", p[1] == '\n' ? "\n" : "", (int)indent, "");
            p += p[1] == '\n' ? 2 : 1;
            column = indent;
            line_start = true;
            continue;
        }
        if (*p == ' ') {
            p++;
            continue;
        }
        size_t len = unit_length(p, brackets_whole);
        size_t width = shown_width(p, len);
        if (!line_start && column + 1 + width > WIDTH) {
            fprintf(out, "\n%*s", (int)indent, "");
            column = indent;
            line_start = true;
        }
        if (!line_start) {
            fputc(' ', out);
            column++;
        }
        for (size_t i = 0; i < len; i++)
            if (p[i] != '`')
                fputc(p[i], out);
        column += width;
        line_start = false;
        p += len;
    }
    return column;
}

void
cli_write_synopsis(FILE *out, const struct cli_command *command,
                   const struct cli_synopsis_style *style)
{
    style->literal(out, command->name);
    if (command->operand != NULL) {
        fputs(command->operand_required ? " " : " [", out);
        style->metavar(out, command->operand);
        fputs(command->operand_required ? "" : "]", out);
    }
    /* The required options first: they are the command's sentence. */
    for (int pass = 0; pass < 2; pass++) {
        for (const struct cli_option *o = command->options; o->name; o++) {
            bool required = o->flags & CLI_REQUIRED;
            if (required != (pass == 0))
                continue;
            char name[64];
            snprintf(name, sizeof(name), "--%s", o->name);
            fputs(required ? " " : " [", out);
            style->literal(out, name);
            if (o->metavar != NULL) {
                fputs(style->unbreakable_space, out);
                style->metavar(out, o->metavar);
            }
            fputs(required ? "" : "]", out);
            if (o->flags & CLI_REPEATABLE)
                fputs("...", out);
        }
    }
}

void
cli_key_specs(char *buf, size_t size)
{
    const char *name;
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; (name = tessera_keyspec_name(i)) && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                i == 0 ? "" : ", ", name);
}

void
cli_option_help(const struct cli_option *o, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "%s", o->help);
    if (o->value == CLI_KEY_SPEC && len < size) {
        char specs[128];
        cli_key_specs(specs, sizeof(specs));
        len += (size_t)snprintf(buf + len, size - len, "; SPEC is one of %s",
                                specs);
    }
    if ((o->flags & CLI_REPEATABLE) && len < size)
        snprintf(buf + len, size - len, "; may be given up to %u times",
                 CLI_REPEAT_MAX);
}

static size_t
label_width(const struct cli_option *options)
{
    size_t width = strlen(HELP_OPTION);
    for (const struct cli_option *o = options; o->name; o++) {
        size_t w =
            2 + strlen(o->name) + (o->metavar ? 1 + strlen(o->metavar) : 0);
        if (w > width && w <= LABEL_WIDTH_MAX)
            width = w;
    }
    return width;
}

static void
print_option_line(FILE *out, const char *label, const char *help, size_t width)
{
    size_t column = (size_t)fprintf(out, "  %s", label);
    if (column > 2 + width) {
        fprintf(out, "\n");
        column = 0;
    }
    fprintf(out, "%*s", (int)(2 + width + 2 - column), "");
    write_wrapped(out, help, 2 + width + 2, 2 + width + 2, false);
    fputc('\n', out);
}

static void
print_options(FILE *out, const struct cli_option *options, const char *help)
{
    size_t width = label_width(options);
    char text[512];
    fprintf(out, "\nOptions:\n");
    for (const struct cli_option *o = options; o->name; o++) {
        char label[64];
        snprintf(label, sizeof(label), "--%s%s%s", o->name,
                 o->metavar ? " " : "", o->metavar ? o->metavar : "");
        cli_option_help(o, text, sizeof(text));
        print_option_line(out, label, text, width);
    }
    print_option_line(out, HELP_OPTION, help, width);
}

size_t
cli_exit_statuses(const struct cli_exit_status *own,
                  const struct cli_exit_status **out, size_t max)
{
    size_t n = 0;
    for (const struct cli_exit_status *c = cli_common_exit_statuses;
         c->meaning && n < max; c++) {
        out[n] = c;
        for (const struct cli_exit_status *e = own; e->meaning; e++)
            if (e->status == c->status)
                out[n] = e;
        n++;
    }
    for (const struct cli_exit_status *e = own; e->meaning && n < max; e++) {
        bool common = false;
        for (const struct cli_exit_status *c = cli_common_exit_statuses;
             c->meaning; c++)
            common = common || c->status == e->status;
        if (!common)
            out[n++] = e;
    }
    return n;
}

static void
print_exit_statuses(FILE *out, const struct cli_exit_status *own)
{
    const struct cli_exit_status *statuses[CLI_EXIT_STATUSES_MAX];
    size_t n = cli_exit_statuses(own, statuses, CLI_EXIT_STATUSES_MAX);
    fprintf(out, "\nExit status:\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "  %d  ", statuses[i]->status);
        write_wrapped(out, statuses[i]->meaning, 5, 5, false);
        fputc('\n', out);
    }
}

void
cli_print_command_help(FILE *out, const struct cli_command *command)
{
    char *synopsis = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&synopsis, &size);
    if (mem == NULL)
        return;
    cli_write_synopsis(mem, command, &plain);
    fclose(mem);
    /* Continuation lines start under the first operand or option. */
    size_t indent = (size_t)fprintf(out, "Usage: tessera %s ", command->name);
    write_wrapped(out, synopsis + strlen(command->name), indent, indent, true);
    free(synopsis);
    fprintf(out, "\n\n");
    write_wrapped(out, command->description, 0, 0, false);
    fputc('\n', out);
    print_options(out, command->options, "show this help");
    print_exit_statuses(out, command->exit_statuses);
}

void
cli_print_overview(FILE *out)
{
    static const struct cli_exit_status none[] = {{0, NULL}};
    size_t width = 0;
    for (size_t i = 0; i < cli_n_commands; i++)
        if (strlen(cli_commands[i].name) > width)
            width = strlen(cli_commands[i].name);
    fprintf(out, "Usage: tessera [--socket PATH] COMMAND [ARGS]\n"
                 "       tessera help COMMAND\n\n");
    write_wrapped(out, cli_description, 0, 0, false);
    fprintf(out, "\n\nCommands:\n");
    for (size_t i = 0; i < cli_n_commands; i++) {
        fprintf(out, "  %-*s  ", (int)width, cli_commands[i].name);
        write_wrapped(out, cli_commands[i].summary, 4 + width, 4 + width,
                      false);
        fputc('\n', out);
    }
    print_options(out, cli_global_options,
                  "show this help; `tessera help COMMAND` shows a "
                  "command's");
    print_exit_statuses(out, none);
}

int
cmd_help(struct tessera_client *agent, const struct cli_args *args)
{
    (void)agent;
    if (args->operand == NULL) {
        cli_print_overview(stdout);
        return EXIT_OK;
    }
    const struct cli_command *command = cli_find_command(args->operand);
    if (command == NULL)
        return cli_usage_error(args->command, "no command %s", args->operand);
    cli_print_command_help(stdout, command);
    return EXIT_OK;
}
