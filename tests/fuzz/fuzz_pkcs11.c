/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tessera-pkcs11.so's reading of an identity answer (pkcs11/attributes.c),
 * fed arbitrary IDENTITY_REPLY bodies (after the type byte): the decoder,
 * the DER parses, and every attribute of every object made from it. Seeds:
 * tests/fuzz/corpus/pkcs11, answers for an EC identity with its chain, an
 * RSA one, and a key without a certificate.
 */
#include "../../pkcs11/module.h"

#include <stdlib.h>

static const CK_ATTRIBUTE_TYPE types[] = {
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_VALUE,
    CKA_SUBJECT,
    CKA_ISSUER,
    CKA_SERIAL_NUMBER,
    CKA_ID,
    CKA_KEY_TYPE,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_MODULUS,
    CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT,
    CKA_SIGN,
    CKA_SENSITIVE,
    CKA_PUBLIC_KEY_INFO,
    CKA_ALLOWED_MECHANISMS,
    CKA_CERTIFICATE_CATEGORY,
    CKA_START_DATE,
};

static void
read_all(const struct object *o)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        union attribute_scratch scratch;
        const void *value;
        CK_ULONG len;
        if (object_attribute(o, types[i], &scratch, &value, &len) ==
                ATTRIBUTE_FOUND &&
            len > 0)
            (void)((const volatile uint8_t *)value)[len - 1];
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static OSSL_LIB_CTX *libctx;
    if (libctx == NULL)
        libctx = OSSL_LIB_CTX_new();
    struct tessera_reader r;
    struct tessera_identity id;
    char why[256];
    tessera_reader_init(&r, data, size);
    if (!tessera_decode_identity(&r, &id))
        return 0;
    struct generation *g =
        generation_from_identity(&id, libctx, why, sizeof(why));
    if (g != NULL) {
        struct object objects[] = {
            {.kind = OBJECT_CERT, .generation = g},
            {.kind = OBJECT_PUBLIC, .generation = g},
            {.kind = OBJECT_PRIVATE, .generation = g},
        };
        for (size_t i = g->has_cert ? 0 : 1; i < 3; i++)
            read_all(&objects[i]);
        for (size_t i = 0; i < g->n_authorities; i++) {
            struct object ca = {.kind = OBJECT_AUTHORITY,
                                .authority = &g->authorities[i]};
            read_all(&ca);
        }
        generation_free(g);
    }
    tessera_identity_clear(&id);
    return 0;
}
