/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key-reference files: a PEM block that names an identity, so programs that
 * only take a key *file* reach a token key through the provider's decoder.
 *
 *   -----BEGIN TESSERA KEY-----
 *   base64 of DER: SEQUENCE { version INTEGER (1), identity UTF8String }
 *   -----END TESSERA KEY-----
 *
 * It names the identity, not a key, so it stays valid across renewals.
 */
#ifndef TESSERA_KEYREF_H
#define TESSERA_KEYREF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TESSERA_KEYREF_PEM_NAME "TESSERA KEY"
/* What the provider's PEM decoder calls the DER it passes on. */
#define TESSERA_KEYREF_STRUCTURE "TesseraKeyReference"
#define TESSERA_KEYREF_VERSION 1
/* Identity names are far shorter; this bounds what a decoder accepts. */
#define TESSERA_KEYREF_NAME_MAX 255

/* The DER body for NAME; false if NAME is empty or too long. */
bool tessera_keyref_encode(const char *name, uint8_t *out, size_t size,
                           size_t *len);
/*
 * Parses a DER body into a NUL-terminated name. False for anything but
 * exactly one well-formed version-1 reference (no trailing bytes, no NUL in
 * the name).
 */
bool tessera_keyref_decode(const uint8_t *der, size_t len,
                           char name[TESSERA_KEYREF_NAME_MAX + 1]);

#endif
