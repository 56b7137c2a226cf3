/* SPDX-License-Identifier: Apache-2.0 */
/* tessera tokens, unlock and lock. */
#include "cli.h"
#include "output.h"
#include "pin.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <string.h>
#include <sys/prctl.h>

/* `--json` and no other argument: the options of list and tokens. */
int
cli_json_option(int argc, char **argv, bool *json)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    int c;
    *json = false;
    while ((c = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
        if (c != 'j')
            return EXIT_USAGE;
        *json = true;
    }
    if (optind < argc)
        return cli_usage_error("%s takes no arguments but --json", argv[0]);
    return EXIT_OK;
}

int
cmd_tokens(struct tessera_client *agent, int argc, char **argv)
{
    bool json;
    struct tessera_token_list tokens;
    struct tessera_status st = {0};
    int rc = cli_json_option(argc, argv, &json);
    if (rc != EXIT_OK)
        return rc;
    if (tessera_client_tokens(agent, &tokens, &st) < 0)
        return cli_fail(&st);
    output_tokens(&tokens, json);
    tessera_token_list_clear(&tokens);
    return EXIT_OK;
}

/* Whether token (a label, or "" for the only token) has a PIN pad. */
static bool
has_pin_pad(struct tessera_client *agent, const char *token)
{
    struct tessera_token_list tokens;
    struct tessera_status st = {0};
    bool pad = false;
    if (tessera_client_tokens(agent, &tokens, &st) < 0)
        return false;
    for (size_t i = 0; i < tokens.n; i++) {
        const struct tessera_token_info *t = &tokens.items[i];
        if ((token[0] == '\0' ? tokens.n == 1 : strcmp(t->label, token) == 0) &&
            (t->flags & TESSERA_TOKEN_PROTECTED_PATH))
            pad = true;
    }
    tessera_token_list_clear(&tokens);
    return pad;
}

int
cmd_unlock(struct tessera_client *agent, int argc, char **argv)
{
    const char *pin_file = NULL;
    bool force = false;
    static const struct option opts[] = {
        {"pin-file", required_argument, NULL, 'p'},
        {"force", no_argument, NULL, 'F'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "p:", opts, NULL)) != -1) {
        if (c == 'p')
            pin_file = optarg;
        else if (c == 'F')
            force = true;
        else
            return EXIT_USAGE;
    }
    if (argc - optind > 1)
        return cli_usage_error("unlock takes at most one token, not %s",
                               argv[optind + 1]);
    const char *token = optind < argc ? argv[optind] : "";
    /* The PIN passes through this process: no core dump may keep it. */
    prctl(PR_SET_DUMPABLE, 0);
    char pin[TESSERA_PIN_MAX + 1];
    int len = 0;
    if (pin_file != NULL)
        len = pin_from_option(pin_file, pin, sizeof(pin));
    else if (has_pin_pad(agent, token))
        fprintf(stderr, "tessera: enter the PIN on the token's PIN pad\n");
    else
        len = pin_prompt(token, pin, sizeof(pin));
    if (len < 0)
        return EXIT_FAILED;
    struct tessera_unlock_request req = {
        .token = (char *)token,
        .pin = {(uint8_t *)pin, (size_t)len},
        .force = force,
    };
    struct tessera_status st = {0};
    int rc = tessera_client_unlock(agent, &req, &st);
    OPENSSL_cleanse(pin, sizeof(pin));
    if (rc < 0)
        return cli_fail(&st);
    printf("unlocked%s%s\n", token[0] ? " " : "", token);
    return EXIT_OK;
}

int
cmd_lock(struct tessera_client *agent, int argc, char **argv)
{
    if (argc > 2)
        return cli_usage_error("lock takes at most one token, not %s", argv[2]);
    struct tessera_status st = {0};
    if (tessera_client_lock(agent, argc > 1 ? argv[1] : "", &st) < 0)
        return cli_fail(&st);
    return EXIT_OK;
}
