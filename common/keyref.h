/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key-reference files: a PEM block that names an identity, so programs that
 * only take a key *file* reach a token key through the provider's decoder.
 *
 *   -----BEGIN TESSERA KEY-----
 *   base64 of DER: SEQUENCE {
 *       version   INTEGER (1 or 2),
 *       identity  UTF8String,
 *       publicKey SubjectPublicKeyInfo   -- version 2 only
 *   }
 *   -----END TESSERA KEY-----
 *
 * It names the identity, not a key, so it stays valid across renewals: the
 * agent's answer for the name is what counts. Version 2 also carries the
 * public key the identity had when the file was written, which the
 * provider uses only while the agent cannot be asked, so that a program
 * still loads its key and hears why at its first signature.
 */
#ifndef TESSERA_KEYREF_H
#define TESSERA_KEYREF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TESSERA_KEYREF_PEM_NAME "TESSERA KEY"
/* What the provider's PEM decoder calls the DER it passes on. */
#define TESSERA_KEYREF_STRUCTURE "TesseraKeyReference"
/* Identity names are far shorter; this bounds what a decoder accepts. */
#define TESSERA_KEYREF_NAME_MAX 255
/* An RSA-4096 SubjectPublicKeyInfo is 550 bytes. */
#define TESSERA_KEYREF_SPKI_MAX 1024
#define TESSERA_KEYREF_DER_MAX                                                 \
    (TESSERA_KEYREF_NAME_MAX + TESSERA_KEYREF_SPKI_MAX + 16)

struct tessera_keyref {
    char name[TESSERA_KEYREF_NAME_MAX + 1];
    const uint8_t *spki; /* into the decoded DER; NULL in version 1 */
    size_t spki_len;
};

/*
 * The DER body for NAME and, unless spki is NULL, the DER of its public key
 * (one SEQUENCE, at most TESSERA_KEYREF_SPKI_MAX bytes). False if the name
 * is empty or too long, the key is not one DER SEQUENCE, or out is small.
 */
bool tessera_keyref_encode(const char *name, const uint8_t *spki,
                           size_t spki_len, uint8_t *out, size_t size,
                           size_t *len);
/*
 * The whole file: the reference of NAME and spki as PEM, malloc'd, *len
 * its length; NULL when encode would fail. Written mode 0600: it tells
 * whoever reads it which identity and key to ask the agent for.
 */
char *tessera_keyref_pem(const char *name, const uint8_t *spki, size_t spki_len,
                         size_t *len);
/*
 * Parses a DER body. False for anything but exactly one well-formed
 * reference (no trailing bytes, no NUL in the name, minimal lengths).
 */
bool tessera_keyref_decode(const uint8_t *der, size_t len,
                           struct tessera_keyref *out);

#endif
