/* SPDX-License-Identifier: Apache-2.0 */
/* Key specifications as users type them: ec-p256, ec-p384, rsa2048, … */
#ifndef TESSERA_KEYSPEC_H
#define TESSERA_KEYSPEC_H

#include "wire.h"

struct tessera_keyspec {
    enum tessera_key_type type;
    unsigned bits;     /* RSA modulus or EC field size */
    const char *curve; /* OpenSSL group name for EC, else NULL */
};

/* False for anything but the documented spellings. */
bool tessera_keyspec_parse(const char *text, struct tessera_keyspec *out);
/* The documented spellings, i from 0 until NULL: for help and completion. */
const char *tessera_keyspec_name(size_t i);
/* "EC", "RSA", "Ed25519": also OpenSSL's names of these key types, which
 * it compares without regard to case. */
const char *tessera_key_type_name(enum tessera_key_type type);

#endif
