/* SPDX-License-Identifier: Apache-2.0 */
/* pkcs11: URIs from users and configuration: parse, then match. */
#include "../../common/p11uri.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct tessera_p11uri uri;
    char err[256];
    if (tessera_p11uri_parse(text, &uri, err, sizeof(err))) {
        struct tessera_identity_summary s = {
            .name = "alice",
            .token_label = "Work Card",
            .token_manufacturer = "m",
            .token_model = "x",
            .token_serial = "1",
            .key_label = "alice",
        };
        tessera_p11uri_match_identity(&uri, &s);
        tessera_p11uri_clear(&uri);
    }
    free(text);
    return 0;
}
