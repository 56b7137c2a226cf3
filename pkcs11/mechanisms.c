/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The signature mechanisms: what each asks of the key, which SIGN scheme
 * carries it to the agent and which digest this module computes first
 * (hash-and-sign mechanisms hash here, so only a digest crosses the
 * socket). A new key type or scheme is a new row.
 */
#include "module.h"

static const struct mechanism mechanisms[] = {
    {CKM_ECDSA, CKK_EC, TESSERA_SIGN_ECDSA, TESSERA_DIGEST_NONE},
    {CKM_ECDSA_SHA1, CKK_EC, TESSERA_SIGN_ECDSA, TESSERA_DIGEST_SHA1},
    {CKM_ECDSA_SHA224, CKK_EC, TESSERA_SIGN_ECDSA, TESSERA_DIGEST_SHA224},
    {CKM_ECDSA_SHA256, CKK_EC, TESSERA_SIGN_ECDSA, TESSERA_DIGEST_SHA256},
    {CKM_ECDSA_SHA384, CKK_EC, TESSERA_SIGN_ECDSA, TESSERA_DIGEST_SHA384},
    {CKM_ECDSA_SHA512, CKK_EC, TESSERA_SIGN_ECDSA, TESSERA_DIGEST_SHA512},
    {CKM_RSA_PKCS, CKK_RSA, TESSERA_SIGN_RSA_PKCS1, TESSERA_DIGEST_NONE},
    {CKM_SHA1_RSA_PKCS, CKK_RSA, TESSERA_SIGN_RSA_PKCS1, TESSERA_DIGEST_SHA1},
    {CKM_SHA224_RSA_PKCS, CKK_RSA, TESSERA_SIGN_RSA_PKCS1,
     TESSERA_DIGEST_SHA224},
    {CKM_SHA256_RSA_PKCS, CKK_RSA, TESSERA_SIGN_RSA_PKCS1,
     TESSERA_DIGEST_SHA256},
    {CKM_SHA384_RSA_PKCS, CKK_RSA, TESSERA_SIGN_RSA_PKCS1,
     TESSERA_DIGEST_SHA384},
    {CKM_SHA512_RSA_PKCS, CKK_RSA, TESSERA_SIGN_RSA_PKCS1,
     TESSERA_DIGEST_SHA512},
    {CKM_RSA_PKCS_PSS, CKK_RSA, TESSERA_SIGN_RSA_PSS, TESSERA_DIGEST_NONE},
    {CKM_SHA1_RSA_PKCS_PSS, CKK_RSA, TESSERA_SIGN_RSA_PSS, TESSERA_DIGEST_SHA1},
    {CKM_SHA224_RSA_PKCS_PSS, CKK_RSA, TESSERA_SIGN_RSA_PSS,
     TESSERA_DIGEST_SHA224},
    {CKM_SHA256_RSA_PKCS_PSS, CKK_RSA, TESSERA_SIGN_RSA_PSS,
     TESSERA_DIGEST_SHA256},
    {CKM_SHA384_RSA_PKCS_PSS, CKK_RSA, TESSERA_SIGN_RSA_PSS,
     TESSERA_DIGEST_SHA384},
    {CKM_SHA512_RSA_PKCS_PSS, CKK_RSA, TESSERA_SIGN_RSA_PSS,
     TESSERA_DIGEST_SHA512},
};
#define N_MECHANISMS (sizeof(mechanisms) / sizeof(mechanisms[0]))

struct digest {
    uint8_t id; /* enum tessera_digest */
    size_t size;
    const char *name; /* OpenSSL's */
    CK_MECHANISM_TYPE hash;
    CK_RSA_PKCS_MGF_TYPE mgf;
};

static const struct digest digests[] = {
    {TESSERA_DIGEST_SHA1, 20, "SHA1", CKM_SHA_1, CKG_MGF1_SHA1},
    {TESSERA_DIGEST_SHA224, 28, "SHA2-224", CKM_SHA224, CKG_MGF1_SHA224},
    {TESSERA_DIGEST_SHA256, 32, "SHA2-256", CKM_SHA256, CKG_MGF1_SHA256},
    {TESSERA_DIGEST_SHA384, 48, "SHA2-384", CKM_SHA384, CKG_MGF1_SHA384},
    {TESSERA_DIGEST_SHA512, 64, "SHA2-512", CKM_SHA512, CKG_MGF1_SHA512},
};
#define N_DIGESTS (sizeof(digests) / sizeof(digests[0]))

const struct mechanism *
mechanism_find(CK_MECHANISM_TYPE type)
{
    for (size_t i = 0; i < N_MECHANISMS; i++) {
        if (mechanisms[i].type == type)
            return &mechanisms[i];
    }
    return NULL;
}

size_t
mechanisms_of_key_type(CK_KEY_TYPE key_type, CK_MECHANISM_TYPE *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < N_MECHANISMS; i++) {
        if (key_type != CK_UNAVAILABLE_INFORMATION &&
            mechanisms[i].key_type != key_type)
            continue;
        if (out != NULL && n < max)
            out[n] = mechanisms[i].type;
        n++;
    }
    return n;
}

static const struct digest *
digest_row(uint8_t id)
{
    for (size_t i = 0; i < N_DIGESTS; i++) {
        if (digests[i].id == id)
            return &digests[i];
    }
    return NULL;
}

size_t
digest_size(uint8_t digest)
{
    const struct digest *d = digest_row(digest);
    return d != NULL ? d->size : 0;
}

const char *
digest_name(uint8_t digest)
{
    const struct digest *d = digest_row(digest);
    return d != NULL ? d->name : NULL;
}

uint8_t
digest_of_pss_parameter(CK_ULONG value, bool mgf)
{
    for (size_t i = 0; i < N_DIGESTS; i++) {
        if ((mgf ? digests[i].mgf : digests[i].hash) == value)
            return digests[i].id;
    }
    return TESSERA_DIGEST_NONE;
}
