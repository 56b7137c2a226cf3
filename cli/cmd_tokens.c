/* SPDX-License-Identifier: Apache-2.0 */
/* tessera tokens, unlock and lock. */
#include "cli.h"
#include "json.h"
#include "output.h"
#include "pin.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

int
cmd_tokens(struct tessera_client *agent, const struct cli_args *args)
{
    struct tessera_token_list tokens;
    struct tessera_status st = {0};
    if (tessera_client_tokens(agent, &tokens, &st) < 0)
        return cli_fail(args, &st);
    output_tokens(&tokens, args->json);
    tessera_token_list_clear(&tokens);
    return EXIT_OK;
}

/* The token that token names ("" for the only one), if exactly one
 * matches: its label into *label (the caller frees it) and whether it has
 * a PIN pad. -1 if the agent could not be asked. */
static int
find_token(struct tessera_client *agent, const char *token, char **label,
           bool *pin_pad, struct tessera_status *st)
{
    struct tessera_token_list tokens;
    const struct tessera_token_info *found = NULL;
    size_t matches = 0;
    *label = NULL;
    *pin_pad = false;
    if (tessera_client_tokens(agent, &tokens, st) < 0)
        return -1;
    for (size_t i = 0; i < tokens.n; i++) {
        if (token[0] == '\0' || strcmp(tokens.items[i].label, token) == 0) {
            found = &tokens.items[i];
            matches++;
        }
    }
    if (matches == 1) {
        *label = strdup(found->label);
        *pin_pad = found->flags & TESSERA_TOKEN_PROTECTED_PATH;
    }
    tessera_token_list_clear(&tokens);
    return 0;
}

/* "unlocked Work Card", or {"token": "Work Card", "state": "unlocked"};
 * a null token is every token. */
static void
say_done(const struct cli_args *args, const char *state, const char *token)
{
    if (args->json) {
        struct json j = {.out = stdout};
        json_begin_object(&j, NULL);
        json_string(&j, "token", token);
        json_string(&j, "state", state);
        json_end(&j);
    } else {
        printf("%s %s\n", state, token ? token : "every token");
    }
}

int
cmd_unlock(struct tessera_client *agent, const struct cli_args *args)
{
    const char *pin_file = cli_value(args, "pin-file");
    const char *token = args->operand ? args->operand : "";
    struct tessera_status st = {0};
    bool pin_pad;
    char *label;
    /* Before the PIN is typed: is there an agent, and a PIN pad? The
     * token is said back by its label (a pkcs11: URI as given). */
    if (find_token(agent, token, &label, &pin_pad, &st) < 0)
        return cli_fail(args, &st);
    /* The PIN passes through this process: no core dump may keep it. */
    prctl(PR_SET_DUMPABLE, 0);
    char pin[TESSERA_PIN_MAX + 1];
    int len = 0;
    if (pin_file != NULL)
        len = pin_from_option(pin_file, pin, sizeof(pin));
    else if (pin_pad)
        fprintf(stderr, "tessera: enter the PIN on the token's PIN pad\n");
    else
        len = pin_prompt(token, pin, sizeof(pin));
    if (len < 0) {
        free(label);
        return EXIT_FAILED;
    }
    struct tessera_unlock_request req = {
        .token = (char *)token,
        .pin = {(uint8_t *)pin, (size_t)len},
        .force = cli_value(args, "force") != NULL,
    };
    int rc = tessera_client_unlock(agent, &req, &st);
    OPENSSL_cleanse(pin, sizeof(pin));
    if (rc == 0)
        say_done(args, "unlocked", label ? label : token);
    free(label);
    return rc == 0 ? EXIT_OK : cli_fail(args, &st);
}

int
cmd_lock(struct tessera_client *agent, const struct cli_args *args)
{
    struct tessera_status st = {0};
    if (tessera_client_lock(agent, args->operand ? args->operand : "", &st) < 0)
        return cli_fail(args, &st);
    say_done(args, "locked", args->operand);
    return EXIT_OK;
}
