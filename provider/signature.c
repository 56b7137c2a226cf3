/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SIGNATURE for ECDSA, RSA (PKCS#1 v1.5 and PSS) and Ed25519. ECDSA and RSA
 * messages are hashed here, in the calling process, and only the digest
 * goes to the agent. EdDSA has no pre-hash form a token signs (CKM_EDDSA
 * takes the message), so an Ed25519 signature sends the whole message, up
 * to TESSERA_SIGN_INPUT_MAX bytes: TLS 1.3's CertificateVerify is under 200,
 * a certificate or CSR a few thousand. One signature is one backend call.
 */
#include "provider.h"
#include "../common/errors.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

struct digest_entry {
    enum tessera_digest id;
    const char *name;
    size_t size;
    int ecdsa_nid;
    int rsa_nid;
};

static const struct digest_entry digests[] = {
    {TESSERA_DIGEST_SHA1, "SHA1", 20, NID_ecdsa_with_SHA1,
     NID_sha1WithRSAEncryption},
    {TESSERA_DIGEST_SHA224, "SHA2-224", 28, NID_ecdsa_with_SHA224,
     NID_sha224WithRSAEncryption},
    {TESSERA_DIGEST_SHA256, "SHA2-256", 32, NID_ecdsa_with_SHA256,
     NID_sha256WithRSAEncryption},
    {TESSERA_DIGEST_SHA384, "SHA2-384", 48, NID_ecdsa_with_SHA384,
     NID_sha384WithRSAEncryption},
    {TESSERA_DIGEST_SHA512, "SHA2-512", 64, NID_ecdsa_with_SHA512,
     NID_sha512WithRSAEncryption},
};

struct sigctx {
    struct tessera_provctx *provctx;
    struct tessera_key *key;
    enum tessera_key_type type; /* of the algorithm: EC, RSA or ED25519 */
    int padding;                /* RSA_PKCS1_PADDING or RSA_PKCS1_PSS_PADDING */
    const struct digest_entry *digest;
    const struct digest_entry *mgf1;
    int salt_len; /* >= 0, or RSA_PSS_SALTLEN_DIGEST / _AUTO / _MAX */
    EVP_MD *md;   /* set by digest_sign_init: we hash */
    EVP_MD_CTX *mdctx;
    /* The agent's refusal of this operation's signature, and the error it
     * became in the caller's queue (see report_failure_again). */
    struct tessera_status failed;
    unsigned long failure;
};

static const struct digest_entry *
find_digest(struct tessera_provctx *provctx, const char *name)
{
    EVP_MD *md = EVP_MD_fetch(provctx->libctx, name, TESSERA_NOT_US);
    const struct digest_entry *found = NULL;
    for (size_t i = 0; md != NULL && i < sizeof(digests) / sizeof(digests[0]);
         i++) {
        if (EVP_MD_is_a(md, digests[i].name))
            found = &digests[i];
    }
    EVP_MD_free(md);
    return found;
}

static void *
newctx(void *provctx, enum tessera_key_type type)
{
    struct sigctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return NULL;
    ctx->provctx = provctx;
    ctx->type = type;
    ctx->padding = RSA_PKCS1_PADDING;
    ctx->salt_len = RSA_PSS_SALTLEN_AUTO;
    return ctx;
}

static void *
ecdsa_newctx(void *provctx, const char *propq)
{
    (void)propq;
    return newctx(provctx, TESSERA_KEY_EC);
}

static void *
rsa_newctx(void *provctx, const char *propq)
{
    (void)propq;
    return newctx(provctx, TESSERA_KEY_RSA);
}

static void *
ed25519_newctx(void *provctx, const char *propq)
{
    (void)propq;
    return newctx(provctx, TESSERA_KEY_ED25519);
}

/*
 * libssl answers a failed CertificateVerify signature with an error of its
 * own ("EVP lib") after ours, and Python shows only the last error of the
 * queue. When the operation is freed while our error still opens the
 * queue and something came after it (nobody has read or cleared it yet),
 * the sentence goes in once more at the end, so both the first and the
 * last error say what to do.
 */
static void
report_failure_again(const struct sigctx *ctx)
{
    if (ctx->failure != 0 && ERR_peek_error() == ctx->failure &&
        ERR_peek_last_error() != ctx->failure)
        tessera_raise_status(ctx->provctx, &ctx->failed);
}

static void
freectx(void *vctx)
{
    struct sigctx *ctx = vctx;
    if (ctx == NULL)
        return;
    report_failure_again(ctx);
    tessera_key_free(ctx->key);
    EVP_MD_CTX_free(ctx->mdctx);
    EVP_MD_free(ctx->md);
    free(ctx);
}

static void *
dupctx(void *vctx)
{
    const struct sigctx *src = vctx;
    struct sigctx *ctx = newctx(src->provctx, src->type);
    if (ctx == NULL)
        return NULL;
    *ctx = *src;
    ctx->key = NULL;
    ctx->md = NULL;
    ctx->mdctx = NULL;
    ctx->failure = 0;
    if (src->key != NULL && (ctx->key = tessera_key_dup(src->key)) == NULL)
        goto fail;
    if (src->md != NULL) {
        if (!EVP_MD_up_ref(src->md))
            goto fail;
        ctx->md = src->md;
        ctx->mdctx = EVP_MD_CTX_new();
        if (ctx->mdctx == NULL || !EVP_MD_CTX_copy_ex(ctx->mdctx, src->mdctx))
            goto fail;
    }
    return ctx;
fail:
    freectx(ctx);
    return NULL;
}

static int set_ctx_params(void *vctx, const OSSL_PARAM params[]);

static int
sign_init(void *vctx, void *provkey, const OSSL_PARAM params[])
{
    struct sigctx *ctx = vctx;
    const struct tessera_key *key = provkey;
    /* Initialising again without a key (a BIO_reset of openssl dgst's
     * signing BIO) keeps the key. */
    if (key == NULL && ctx->key != NULL)
        return set_ctx_params(ctx, params);
    if (key == NULL || key->name == NULL || key->public_key == NULL) {
        tessera_raise(ctx->provctx, TESSERA_ERR_INVALID,
                      "this key has no private half on a token");
        return 0;
    }
    if (key->type != ctx->type) {
        tessera_raise(ctx->provctx, TESSERA_ERR_MECHANISM,
                      "identity %s holds another kind of key", key->name);
        return 0;
    }
    tessera_key_free(ctx->key);
    ctx->key = tessera_key_dup(key); /* with its hash, computed once */
    return ctx->key != NULL && set_ctx_params(ctx, params);
}

static size_t
signature_size(const struct sigctx *ctx)
{
    return (size_t)EVP_PKEY_get_size(ctx->key->public_key);
}

/* RFC 8017 9.1.1: the largest salt the modulus leaves room for. */
static int
resolve_salt_len(const struct sigctx *ctx, uint32_t *out)
{
    int mod_bits = EVP_PKEY_get_bits(ctx->key->public_key);
    int em_len = (mod_bits - 1 + 7) / 8;
    int max = em_len - (int)ctx->digest->size - 2;
    int salt = ctx->salt_len;
    if (salt == RSA_PSS_SALTLEN_DIGEST)
        salt = (int)ctx->digest->size;
    else if (salt == RSA_PSS_SALTLEN_AUTO || salt == RSA_PSS_SALTLEN_MAX)
        salt = max;
    if (salt < 0 || salt > max)
        return 0;
    *out = (uint32_t)salt;
    return 1;
}

/* PKCS#11 returns r || s; X.509 and TLS want the DER SEQUENCE. */
static int
ecdsa_to_der(const struct tessera_blob *raw, uint8_t *sig, size_t *siglen,
             size_t sigsize)
{
    if (raw->len == 0 || raw->len % 2 != 0)
        return 0;
    size_t half = raw->len / 2;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw->data, (int)half, NULL);
    BIGNUM *s = BN_bin2bn(raw->data + half, (int)half, NULL);
    int ok = 0;
    if (es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s)) {
        r = s = NULL;
        int len = i2d_ECDSA_SIG(es, NULL);
        if (len > 0 && (size_t)len <= sigsize) {
            uint8_t *p = sig;
            *siglen = (size_t)i2d_ECDSA_SIG(es, &p);
            ok = 1;
        }
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return ok;
}

static int
sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
     const unsigned char *tbs, size_t tbslen)
{
    struct sigctx *ctx = vctx;
    struct tessera_provctx *pctx = ctx->provctx;
    if (ctx->key == NULL)
        return 0;
    if (sig == NULL) {
        *siglen = signature_size(ctx);
        return 1;
    }
    if (tbslen > TESSERA_SIGN_INPUT_MAX) {
        tessera_raise(pctx, TESSERA_ERR_INVALID,
                      "the message to sign is %zu bytes; the agent takes "
                      "at most %u",
                      tbslen, TESSERA_SIGN_INPUT_MAX);
        return 0;
    }
    if (ctx->digest != NULL && tbslen != ctx->digest->size) {
        tessera_raise(pctx, TESSERA_ERR_INVALID,
                      "input is %zu bytes, not a %s digest", tbslen,
                      ctx->digest->name);
        return 0;
    }
    struct tessera_sign_request req = {
        .name = ctx->key->name,
        .key_hash = {ctx->key->has_hash ? ctx->key->hash : NULL,
                     ctx->key->has_hash ? TESSERA_KEY_HASH_LEN : 0},
        .digest = ctx->digest ? ctx->digest->id : TESSERA_DIGEST_NONE,
        .input = {(uint8_t *)tbs, tbslen},
    };
    if (ctx->type == TESSERA_KEY_EC) {
        req.scheme = TESSERA_SIGN_ECDSA;
    } else if (ctx->type == TESSERA_KEY_ED25519) {
        req.scheme = TESSERA_SIGN_EDDSA;
    } else if (ctx->padding == RSA_PKCS1_PSS_PADDING) {
        req.scheme = TESSERA_SIGN_RSA_PSS;
        if (ctx->digest == NULL) {
            tessera_raise(pctx, TESSERA_ERR_INVALID,
                          "RSA-PSS needs a digest to be set");
            return 0;
        }
        req.mgf1_digest = (ctx->mgf1 ? ctx->mgf1 : ctx->digest)->id;
        if (!resolve_salt_len(ctx, &req.salt_len)) {
            tessera_raise(pctx, TESSERA_ERR_INVALID,
                          "the PSS salt length does not fit this key");
            return 0;
        }
    } else {
        req.scheme = TESSERA_SIGN_RSA_PKCS1;
    }

    struct tessera_blob raw = {0};
    struct tessera_status st = {0};
    if (pctx->backend_ops->sign(pctx->backend, &req, &raw, &st) < 0) {
        tessera_raise_status(pctx, &st);
        ctx->failed = st;
        ctx->failure = ERR_peek_last_error();
        return 0;
    }
    int ok;
    if (ctx->type == TESSERA_KEY_EC) {
        ok = ecdsa_to_der(&raw, sig, siglen, sigsize);
    } else {
        ok = raw.len <= sigsize;
        if (ok) {
            memcpy(sig, raw.data, raw.len);
            *siglen = raw.len;
        }
    }
    if (!ok)
        tessera_raise(pctx, TESSERA_ERR_PROTOCOL,
                      "the agent returned a signature of unexpected size");
    tessera_blob_clear(&raw);
    return ok;
}

static int
set_digest(struct sigctx *ctx, const char *name)
{
    const struct digest_entry *d = find_digest(ctx->provctx, name);
    if (d == NULL) {
        tessera_raise(ctx->provctx, TESSERA_ERR_MECHANISM,
                      "digest %s is not supported for token signatures", name);
        return 0;
    }
    ctx->digest = d;
    return 1;
}

static int
digest_sign_init(void *vctx, const char *mdname, void *provkey,
                 const OSSL_PARAM params[])
{
    struct sigctx *ctx = vctx;
    if (!sign_init(vctx, provkey, params))
        return 0;
    if (ctx->type == TESSERA_KEY_ED25519) {
        if (mdname == NULL || mdname[0] == '\0')
            return 1;
        tessera_raise(ctx->provctx, TESSERA_ERR_MECHANISM,
                      "Ed25519 signs the message itself, not a %s digest",
                      mdname);
        return 0;
    }
    if (!set_digest(ctx, mdname != NULL ? mdname : "SHA2-256"))
        return 0;
    EVP_MD_free(ctx->md);
    ctx->md =
        EVP_MD_fetch(ctx->provctx->libctx, ctx->digest->name, TESSERA_NOT_US);
    if (ctx->mdctx == NULL)
        ctx->mdctx = EVP_MD_CTX_new();
    return ctx->md != NULL && ctx->mdctx != NULL &&
           EVP_DigestInit_ex2(ctx->mdctx, ctx->md, NULL) == 1;
}

static int
digest_sign_update(void *vctx, const unsigned char *data, size_t datalen)
{
    struct sigctx *ctx = vctx;
    return ctx->mdctx != NULL &&
           EVP_DigestUpdate(ctx->mdctx, data, datalen) == 1;
}

static int
digest_sign_final(void *vctx, unsigned char *sig, size_t *siglen,
                  size_t sigsize)
{
    struct sigctx *ctx = vctx;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (ctx->mdctx == NULL || ctx->key == NULL)
        return 0;
    /* A size query must not finish the hash: the real call follows. */
    if (sig == NULL) {
        *siglen = signature_size(ctx);
        return 1;
    }
    if (EVP_DigestFinal_ex(ctx->mdctx, digest, &len) != 1)
        return 0;
    return sign(vctx, sig, siglen, sigsize, digest, len);
}

/* EVP_DigestSign's one-shot: libssl signs CertificateVerify this way. */
static int
digest_sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
            const unsigned char *tbs, size_t tbslen)
{
    struct sigctx *ctx = vctx;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (ctx->type == TESSERA_KEY_ED25519)
        return sign(vctx, sig, siglen, sigsize, tbs, tbslen);
    if (ctx->md == NULL || ctx->key == NULL)
        return 0;
    if (sig == NULL) {
        *siglen = signature_size(ctx);
        return 1;
    }
    if (EVP_Digest(tbs, tbslen, digest, &len, ctx->md, NULL) != 1)
        return 0;
    return sign(vctx, sig, siglen, sigsize, digest, len);
}

/* The signature's AlgorithmIdentifier (RFC 3279, 4055, 8410). */
static int
algorithm_nid(const struct sigctx *ctx)
{
    if (ctx->type == TESSERA_KEY_ED25519)
        return NID_ED25519;
    if (ctx->digest == NULL ||
        (ctx->type == TESSERA_KEY_RSA && ctx->padding != RSA_PKCS1_PADDING))
        return NID_undef;
    return ctx->type == TESSERA_KEY_RSA ? ctx->digest->rsa_nid
                                        : ctx->digest->ecdsa_nid;
}

static int
algorithm_id(const struct sigctx *ctx, OSSL_PARAM *p)
{
    int nid = algorithm_nid(ctx);
    if (nid == NID_undef)
        return 0;
    X509_ALGOR *alg = X509_ALGOR_new();
    unsigned char *der = NULL;
    int len = -1;
    if (alg != NULL &&
        X509_ALGOR_set0(
            alg, OBJ_nid2obj(nid),
            ctx->type == TESSERA_KEY_RSA ? V_ASN1_NULL : V_ASN1_UNDEF, NULL))
        len = i2d_X509_ALGOR(alg, &der);
    int ok = len > 0 && OSSL_PARAM_set_octet_string(p, der, (size_t)len);
    OPENSSL_free(der);
    X509_ALGOR_free(alg);
    return ok;
}

static int
get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct sigctx *ctx = vctx;
    OSSL_PARAM *p =
        OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
    if (p != NULL && !algorithm_id(ctx, p))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST);
    if (p != NULL && ctx->digest != NULL &&
        !OSSL_PARAM_set_utf8_string(p, ctx->digest->name))
        return 0;
    if (ctx->type != TESSERA_KEY_RSA)
        return 1;
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
    if (p != NULL && !OSSL_PARAM_set_int(p, ctx->padding))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
    if (p != NULL && !OSSL_PARAM_set_int(p, ctx->salt_len))
        return 0;
    return 1;
}

static int
set_padding(struct sigctx *ctx, const OSSL_PARAM *p)
{
    int mode = 0;
    if (p->data_type == OSSL_PARAM_UTF8_STRING) {
        if (strcmp(p->data, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0)
            mode = RSA_PKCS1_PADDING;
        else if (strcmp(p->data, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0)
            mode = RSA_PKCS1_PSS_PADDING;
    } else if (!OSSL_PARAM_get_int(p, &mode)) {
        return 0;
    }
    if (mode != RSA_PKCS1_PADDING && mode != RSA_PKCS1_PSS_PADDING) {
        tessera_raise(ctx->provctx, TESSERA_ERR_MECHANISM,
                      "only PKCS#1 v1.5 and PSS padding are supported");
        return 0;
    }
    ctx->padding = mode;
    return 1;
}

static int
set_salt_len(struct sigctx *ctx, const OSSL_PARAM *p)
{
    if (p->data_type != OSSL_PARAM_UTF8_STRING)
        return OSSL_PARAM_get_int(p, &ctx->salt_len);
    if (strcmp(p->data, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0)
        ctx->salt_len = RSA_PSS_SALTLEN_DIGEST;
    else if (strcmp(p->data, OSSL_PKEY_RSA_PSS_SALT_LEN_MAX) == 0)
        ctx->salt_len = RSA_PSS_SALTLEN_MAX;
    else if (strcmp(p->data, OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO) == 0)
        ctx->salt_len = RSA_PSS_SALTLEN_AUTO;
    else
        ctx->salt_len = atoi(p->data);
    return 1;
}

static int
set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct sigctx *ctx = vctx;
    const OSSL_PARAM *p;
    const char *name;
    if (params == NULL)
        return 1;
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST);
    /* The hash of a digest-sign operation is fixed once it has begun. */
    if (p != NULL && ctx->md == NULL &&
        (!OSSL_PARAM_get_utf8_string_ptr(p, &name) || !set_digest(ctx, name)))
        return 0;
    if (ctx->type != TESSERA_KEY_RSA)
        return 1;
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
    if (p != NULL && !set_padding(ctx, p))
        return 0;
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
    if (p != NULL && !set_salt_len(ctx, p))
        return 0;
    p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST);
    if (p != NULL) {
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &name))
            return 0;
        ctx->mgf1 = find_digest(ctx->provctx, name);
        if (ctx->mgf1 == NULL)
            return 0;
    }
    return 1;
}

static const OSSL_PARAM *
ecdsa_settable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)vctx;
    (void)provctx;
    return params;
}

static const OSSL_PARAM *
rsa_settable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)vctx;
    (void)provctx;
    return params;
}

static const OSSL_PARAM *
ed25519_settable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM params[] = {OSSL_PARAM_END};
    (void)vctx;
    (void)provctx;
    return params;
}

static const OSSL_PARAM *
gettable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL),
        OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL),
        OSSL_PARAM_END,
    };
    (void)vctx;
    (void)provctx;
    return params;
}

/* clang-format off */
#define SIGNATURE_FUNCTIONS(prefix)                                            \
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))prefix##_newctx},             \
    {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))freectx},                    \
    {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))dupctx},                      \
    {OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sign_init},                \
    {OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sign},                          \
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))digest_sign_init},  \
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE,                                   \
     (void (*)(void))digest_sign_update},                                      \
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))digest_sign_final}, \
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))digest_sign},            \
    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))get_ctx_params},      \
    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS,                                  \
     (void (*)(void))gettable_ctx_params},                                     \
    {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))set_ctx_params},      \
    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,                                  \
     (void (*)(void))prefix##_settable_ctx_params},                            \
    {0, NULL}
/* clang-format on */

const OSSL_DISPATCH tessera_ecdsa_signature_functions[] = {
    SIGNATURE_FUNCTIONS(ecdsa)};
const OSSL_DISPATCH tessera_rsa_signature_functions[] = {
    SIGNATURE_FUNCTIONS(rsa)};
/* EdDSA in OpenSSL 3.0 is one-shot only: no update, no final. */
const OSSL_DISPATCH tessera_ed25519_signature_functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))ed25519_newctx},
    {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))freectx},
    {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))dupctx},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))digest_sign_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))digest_sign},
    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))get_ctx_params},
    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS,
     (void (*)(void))gettable_ctx_params},
    {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))set_ctx_params},
    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
     (void (*)(void))ed25519_settable_ctx_params},
    {0, NULL},
};
