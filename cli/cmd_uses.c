/* SPDX-License-Identifier: Apache-2.0 */
/* tessera update-env and log: where the agent asks, and what it did. */
#include "../common/keyspec.h"
#include "cli.h"
#include "json.h"
#include "output.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
cmd_update_env(struct tessera_client *agent, const struct cli_args *args)
{
    struct tessera_status st = {0};
    const char *tty = isatty(STDIN_FILENO) ? ttyname(STDIN_FILENO) : NULL;
    char *tty_copy = strdup(tty ? tty : "");
    const char *display = getenv("DISPLAY"),
               *wayland = getenv("WAYLAND_DISPLAY"),
               *bus = getenv("DBUS_SESSION_BUS_ADDRESS"),
               *term = getenv("TERM");
    struct tessera_env_update env = {
        .display = (char *)(display ? display : ""),
        .wayland_display = (char *)(wayland ? wayland : ""),
        .dbus_address = (char *)(bus ? bus : ""),
        .tty = tty_copy,
        .term = (char *)(term ? term : ""),
    };
    int rc = tessera_client_update_env(agent, &env, &st);
    if (rc == 0 && args->json) {
        struct json j = {.out = stdout};
        json_begin_object(&j, NULL);
        json_string(&j, "tty", env.tty);
        json_string(&j, "display", env.display);
        json_string(&j, "wayland_display", env.wayland_display);
        json_end(&j);
    } else if (rc == 0) {
        printf("PIN prompts go to %s%s%s\n",
               env.tty[0] ? env.tty : "no terminal",
               env.display[0] || env.wayland_display[0] ? " and display " : "",
               env.display[0] ? env.display : env.wayland_display);
    }
    free(tty_copy);
    return rc == 0 ? EXIT_OK : cli_fail(args, &st);
}

int
cmd_log(struct tessera_client *agent, const struct cli_args *args)
{
    struct tessera_status st = {0};
    struct tessera_use_list uses;
    if (tessera_client_log(agent, args->operand ? args->operand : "", &uses,
                           &st) < 0)
        return cli_fail(args, &st);
    output_uses(&uses, args->json);
    tessera_use_list_clear(&uses);
    return EXIT_OK;
}
