/* SPDX-License-Identifier: Apache-2.0 */
#include "keyspec.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *text;
    struct tessera_keyspec spec;
} known[] = {
    {"ec-p256", {TESSERA_KEY_EC, 256, "P-256"}},
    {"ec-p384", {TESSERA_KEY_EC, 384, "P-384"}},
    {"rsa2048", {TESSERA_KEY_RSA, 2048, NULL}},
    {"rsa3072", {TESSERA_KEY_RSA, 3072, NULL}},
    {"rsa4096", {TESSERA_KEY_RSA, 4096, NULL}},
    {"ed25519", {TESSERA_KEY_ED25519, 256, NULL}},
};

bool
tessera_keyspec_parse(const char *text, struct tessera_keyspec *out)
{
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(text, known[i].text) == 0) {
            *out = known[i].spec;
            return true;
        }
    }
    return false;
}

const char *
tessera_keyspec_name(size_t i)
{
    return i < sizeof(known) / sizeof(known[0]) ? known[i].text : NULL;
}

const char *
tessera_key_type_name(enum tessera_key_type type)
{
    switch (type) {
    case TESSERA_KEY_EC:
        return "EC";
    case TESSERA_KEY_RSA:
        return "RSA";
    case TESSERA_KEY_ED25519:
        return "Ed25519";
    case TESSERA_KEY_NONE:
        break;
    }
    return "unknown";
}
