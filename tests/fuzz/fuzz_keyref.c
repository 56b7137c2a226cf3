/* SPDX-License-Identifier: Apache-2.0 */
/* Key-reference bodies, from files anyone may hand a program. */
#include "../../common/keyref.h"

#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[TESSERA_KEYREF_NAME_MAX + 1];
    uint8_t again[TESSERA_KEYREF_NAME_MAX + 16];
    size_t len;
    /* DER is canonical: whatever decodes must encode to the same bytes. */
    if (tessera_keyref_decode(data, size, name) &&
        (!tessera_keyref_encode(name, again, sizeof(again), &len) ||
         len != size || memcmp(again, data, size) != 0))
        __builtin_trap();
    return 0;
}
