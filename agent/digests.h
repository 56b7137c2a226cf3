/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The digests a client may have signed, as PKCS#11 names them: the hash
 * and MGF1 mechanisms of RSA-PSS, and the DER DigestInfo prefix that
 * PKCS#1 v1.5 signs before the digest (RFC 8017, 9.2 note 1), because the
 * client hashes and the token signs a prepared block (CKM_RSA_PKCS).
 */
#ifndef TESSERA_AGENT_DIGESTS_H
#define TESSERA_AGENT_DIGESTS_H

#include <p11-kit/pkcs11.h>
#include <stddef.h>
#include <stdint.h>

struct digest_params {
    uint8_t id; /* enum tessera_digest */
    size_t size;
    CK_MECHANISM_TYPE hash;
    CK_RSA_PKCS_MGF_TYPE mgf;
    /* DER of DigestInfo up to the digest itself */
    const uint8_t *prefix;
    size_t prefix_len;
};

/* NULL for TESSERA_DIGEST_NONE and anything unknown. */
const struct digest_params *digest_params(uint8_t id);

#endif
