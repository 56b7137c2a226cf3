/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DECODER for key-reference files (common/keyref.h). A program that reads a
 * private key file with PEM_read_bio_PrivateKey, SSL_CTX_use_PrivateKey_file
 * or OSSL_DECODER gets the token key of the identity the file names.
 *
 * There is one decoder per key type because OpenSSL chains decoders by the
 * key type they produce; each passes quietly on files that are not key
 * references, or that name an identity of the other type.
 */
#include "provider.h"
#include "../common/errors.h"
#include "../common/keyref.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

struct decoder_ctx {
    struct tessera_provctx *provctx;
    enum tessera_key_type type;
};

static void *
newctx(void *provctx, enum tessera_key_type type)
{
    struct decoder_ctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx != NULL) {
        ctx->provctx = provctx;
        ctx->type = type;
    }
    return ctx;
}

static void *
ec_newctx(void *provctx)
{
    return newctx(provctx, TESSERA_KEY_EC);
}

static void *
rsa_newctx(void *provctx)
{
    return newctx(provctx, TESSERA_KEY_RSA);
}

static void *
ed25519_newctx(void *provctx)
{
    return newctx(provctx, TESSERA_KEY_ED25519);
}

static void *
pem_newctx(void *provctx)
{
    return newctx(provctx, TESSERA_KEY_NONE);
}

static void
freectx(void *ctx)
{
    free(ctx);
}

static int
does_selection(void *provctx, int selection)
{
    (void)provctx;
    return selection == 0 ||
           (selection & (OSSL_KEYMGMT_SELECT_PRIVATE_KEY |
                         OSSL_KEYMGMT_SELECT_PUBLIC_KEY)) != 0;
}

/*
 * The first step of two: PEM in, the DER of a key reference out, named by
 * its structure. The second step (decode, below) turns that DER into a
 * token key. Why two: openssl(1) and OSSL_STORE_open("file:...") read key
 * files through the default provider's file store, which gives each
 * decoded object to the default provider's KEYMGMT unless it is still
 * data; as data (here), the store decodes it again with every provider's
 * decoders, and a key decoded by ours is loaded by our KEYMGMT.
 */
static int
pem_decode(void *vctx, OSSL_CORE_BIO *cin, int selection,
           OSSL_CALLBACK *object_cb, void *object_cbarg,
           OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct decoder_ctx *ctx = vctx;
    BIO *in = BIO_new_from_core_bio(ctx->provctx->libctx, cin);
    char *pem_name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long len = 0;
    int ok = 1; /* not a key reference: let other decoders try */
    (void)selection;
    (void)pw_cb;
    (void)pw_cbarg;
    struct tessera_keyref ref;
    ERR_set_mark();
    bool ours = in != NULL &&
                PEM_read_bio(in, &pem_name, &header, &der, &len) &&
                strcmp(pem_name, TESSERA_KEYREF_PEM_NAME) == 0;
    ERR_pop_to_mark();
    if (ours && !tessera_keyref_decode(der, (size_t)len, &ref)) {
        tessera_raise(ctx->provctx, TESSERA_ERR_INVALID,
                      "the TESSERA KEY block is malformed; write it again "
                      "with `tessera export`");
        ok = 0;
    } else if (ours) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, der,
                                              (size_t)len),
            OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE,
                                             (char *)TESSERA_KEYREF_STRUCTURE,
                                             0),
            OSSL_PARAM_construct_end(),
        };
        ok = object_cb(params, object_cbarg);
    }
    OPENSSL_free(pem_name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(in);
    return ok;
}

/*
 * Reads the whole input into der; true when it is the DER of a key
 * reference (ref then points into der). Anything else (another structure,
 * more bytes than a reference can have) is not ours.
 */
static bool
read_reference(struct decoder_ctx *ctx, OSSL_CORE_BIO *cin,
               uint8_t der[TESSERA_KEYREF_DER_MAX], struct tessera_keyref *ref)
{
    BIO *in = BIO_new_from_core_bio(ctx->provctx->libctx, cin);
    size_t len = 0;
    int n = 0;
    while (in != NULL && len < TESSERA_KEYREF_DER_MAX &&
           (n = BIO_read(in, der + len, (int)(TESSERA_KEYREF_DER_MAX - len))) >
               0)
        len += (size_t)n;
    bool ours = in != NULL && len < TESSERA_KEYREF_DER_MAX &&
                tessera_keyref_decode(der, len, ref);
    BIO_free(in);
    return ours;
}

/*
 * The identity's public key: the agent's answer, or while the agent cannot
 * be reached the one the file was written with. A key made from the
 * latter loads, so the program runs on and hears at its first signature
 * why that cannot be made (or signs, if the agent has come up by then and
 * the identity still has that key); a stale one simply does not match the
 * program's certificate.
 */
static EVP_PKEY *
public_key(struct tessera_provctx *pctx, const struct tessera_keyref *ref,
           struct tessera_status *st)
{
    struct tessera_identity id;
    EVP_PKEY *pub = NULL;
    if (pctx->backend_ops->get_identity(pctx->backend, ref->name, &id, st) ==
        0) {
        pub = tessera_decode_spki(pctx, id.spki.data, id.spki.len);
        tessera_identity_clear(&id);
        if (pub == NULL)
            tessera_status_set(st, TESSERA_ERR_PROTOCOL,
                               "the public key of identity '%s' cannot be "
                               "read",
                               ref->name);
    } else if (st->code == TESSERA_ERR_UNREACHABLE && ref->spki != NULL) {
        pub = tessera_decode_spki(pctx, ref->spki, ref->spki_len);
        if (pub == NULL)
            tessera_status_set(st, TESSERA_ERR_INVALID,
                               "the public key in the key-reference file of "
                               "'%s' cannot be read; write it again with "
                               "`tessera export`",
                               ref->name);
    }
    return pub;
}

static int
decode(void *vctx, OSSL_CORE_BIO *cin, int selection, OSSL_CALLBACK *object_cb,
       void *object_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct decoder_ctx *ctx = vctx;
    struct tessera_provctx *pctx = ctx->provctx;
    uint8_t der[TESSERA_KEYREF_DER_MAX];
    struct tessera_keyref ref;
    struct tessera_status st = {0};
    (void)selection;
    (void)pw_cb;
    (void)pw_cbarg;
    if (!read_reference(ctx, cin, der, &ref))
        return 1; /* not a key reference: let other decoders try */
    EVP_PKEY *pub = public_key(pctx, &ref, &st);
    if (pub == NULL) {
        tessera_raise_status(pctx, &st);
        return 0;
    }
    int ok = 1;
    if (tessera_key_type_of(pub) == ctx->type) {
        struct tessera_key *key =
            tessera_key_new(pctx, ref.name, ctx->type, pub);
        ok = key != NULL && tessera_emit_key(key, object_cb, object_cbarg);
        tessera_key_free(key);
    }
    EVP_PKEY_free(pub);
    return ok;
}

/* clang-format off */
#define DECODER_FUNCTIONS(prefix)                                              \
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))prefix##_newctx},               \
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))freectx},                      \
    {OSSL_FUNC_DECODER_DOES_SELECTION, (void (*)(void))does_selection},        \
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))decode},                        \
    {0, NULL}
/* clang-format on */

const OSSL_DISPATCH tessera_pem_decoder_functions[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))pem_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))freectx},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))pem_decode},
    {0, NULL},
};
const OSSL_DISPATCH tessera_ec_decoder_functions[] = {DECODER_FUNCTIONS(ec)};
const OSSL_DISPATCH tessera_rsa_decoder_functions[] = {DECODER_FUNCTIONS(rsa)};
const OSSL_DISPATCH tessera_ed25519_decoder_functions[] = {
    DECODER_FUNCTIONS(ed25519)};
