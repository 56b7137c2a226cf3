/* SPDX-License-Identifier: Apache-2.0 */
/* Key-reference bodies, from files anyone may hand a program. */
#include "../../common/keyref.h"

#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tessera_keyref ref;
    uint8_t again[TESSERA_KEYREF_DER_MAX];
    size_t len;
    /* DER is canonical: whatever decodes must encode to the same bytes. */
    if (tessera_keyref_decode(data, size, &ref) &&
        (!tessera_keyref_encode(ref.name, ref.spki, ref.spki_len, again,
                                sizeof(again), &len) ||
         len != size || memcmp(again, data, size) != 0))
        __builtin_trap();
    return 0;
}
