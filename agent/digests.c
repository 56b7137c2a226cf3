/* SPDX-License-Identifier: Apache-2.0 */
#include "digests.h"
#include "../common/wire.h"

static const uint8_t sha1_prefix[] = {0x30, 0x21, 0x30, 0x09, 0x06,
                                      0x05, 0x2b, 0x0e, 0x03, 0x02,
                                      0x1a, 0x05, 0x00, 0x04, 0x14};
#define SHA2_PREFIX(len, n, size)                                              \
    {                                                                          \
        0x30, len, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, \
            0x04, 0x02, n, 0x05, 0x00, 0x04, size                              \
    }
static const uint8_t sha224_prefix[] = SHA2_PREFIX(0x2d, 0x04, 0x1c);
static const uint8_t sha256_prefix[] = SHA2_PREFIX(0x31, 0x01, 0x20);
static const uint8_t sha384_prefix[] = SHA2_PREFIX(0x41, 0x02, 0x30);
static const uint8_t sha512_prefix[] = SHA2_PREFIX(0x51, 0x03, 0x40);

static const struct digest_params digest_table[] = {
    {TESSERA_DIGEST_SHA1, 20, CKM_SHA_1, CKG_MGF1_SHA1, sha1_prefix,
     sizeof(sha1_prefix)},
    {TESSERA_DIGEST_SHA224, 28, CKM_SHA224, CKG_MGF1_SHA224, sha224_prefix,
     sizeof(sha224_prefix)},
    {TESSERA_DIGEST_SHA256, 32, CKM_SHA256, CKG_MGF1_SHA256, sha256_prefix,
     sizeof(sha256_prefix)},
    {TESSERA_DIGEST_SHA384, 48, CKM_SHA384, CKG_MGF1_SHA384, sha384_prefix,
     sizeof(sha384_prefix)},
    {TESSERA_DIGEST_SHA512, 64, CKM_SHA512, CKG_MGF1_SHA512, sha512_prefix,
     sizeof(sha512_prefix)},
};

const struct digest_params *
digest_params(uint8_t id)
{
    for (size_t i = 0; i < sizeof(digest_table) / sizeof(digest_table[0]);
         i++) {
        if (digest_table[i].id == id)
            return &digest_table[i];
    }
    return NULL;
}
