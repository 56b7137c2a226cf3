/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an identity answer becomes: the certificate, public key and private
 * key objects and their attributes. Everything here comes from the agent
 * and is parsed as hostile input (tests/fuzz/fuzz_pkcs11.c): whole-DER
 * parses only, and a certificate whose key is not the identity's public
 * key is never shown beside it.
 */
#include "module.h"

#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

/* CKA_CERTIFICATE_CATEGORY values (PKCS#11 v2.40, 4.6.2). */
#define CATEGORY_TOKEN_USER 1
#define CATEGORY_AUTHORITY 2

static bool
blob_set(struct tessera_blob *b, const void *p, size_t n)
{
    struct tessera_bytes bytes = {p, n};
    return tessera_blob_copy(b, bytes);
}

/* An i2d_ result, taken over: the blob owns a copy, OpenSSL's is freed. */
static bool
blob_take(struct tessera_blob *b, unsigned char *der, int len)
{
    bool ok = len > 0 && blob_set(b, der, (size_t)len);
    OPENSSL_free(der);
    return ok;
}

/* obj encoded by OpenSSL's i2d function into a blob of ours. */
#define BLOB_I2D(blob, i2d, obj)                                               \
    ({                                                                         \
        unsigned char *der_ = NULL;                                            \
        int len_ = i2d(obj, &der_);                                            \
        blob_take(blob, der_, len_);                                           \
    })

static char *
certificate_label(const X509_NAME *subject)
{
    int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    int len = i >= 0 ? ASN1_STRING_to_UTF8(&utf8,
                                           X509_NAME_ENTRY_get_data(
                                               X509_NAME_get_entry(subject, i)))
                     : -1;
    char *label = NULL;
    if (len > 0 && memchr(utf8, '\0', (size_t)len) == NULL)
        label = strndup((const char *)utf8, (size_t)len);
    OPENSSL_free(utf8);
    if (label == NULL) {
        char *oneline = X509_NAME_oneline(subject, NULL, 0);
        label = strdup(oneline != NULL ? oneline : "certificate");
        OPENSSL_free(oneline);
    }
    return label;
}

bool
cert_view_init(struct cert_view *v, const uint8_t *der, size_t len,
               OSSL_LIB_CTX *libctx)
{
    memset(v, 0, sizeof(*v));
    X509 *x = X509_new_ex(libctx, NULL);
    const unsigned char *p = der;
    if (x == NULL || len > TESSERA_DER_MAX ||
        d2i_X509(&x, &p, (long)len) == NULL || p != der + len) {
        X509_free(x);
        return false;
    }
    bool ok =
        blob_set(&v->der, der, len) &&
        BLOB_I2D(&v->subject, i2d_X509_NAME, X509_get_subject_name(x)) &&
        BLOB_I2D(&v->issuer, i2d_X509_NAME, X509_get_issuer_name(x)) &&
        BLOB_I2D(&v->serial, i2d_ASN1_INTEGER, X509_get0_serialNumber(x)) &&
        BLOB_I2D(&v->spki, i2d_X509_PUBKEY, X509_get_X509_PUBKEY(x)) &&
        (v->label = certificate_label(X509_get_subject_name(x))) != NULL;
    X509_free(x);
    if (!ok)
        cert_view_clear(v);
    return ok;
}

void
cert_view_clear(struct cert_view *v)
{
    tessera_blob_clear(&v->der);
    tessera_blob_clear(&v->subject);
    tessera_blob_clear(&v->issuer);
    tessera_blob_clear(&v->serial);
    tessera_blob_clear(&v->spki);
    free(v->label);
    memset(v, 0, sizeof(*v));
}

void
generation_free(struct generation *g)
{
    if (g == NULL)
        return;
    free(g->name);
    tessera_blob_clear(&g->key_id);
    EVP_PKEY_free(g->public_key);
    tessera_blob_clear(&g->spki);
    tessera_blob_clear(&g->ec_params);
    tessera_blob_clear(&g->ec_point);
    tessera_blob_clear(&g->modulus);
    tessera_blob_clear(&g->exponent);
    cert_view_clear(&g->leaf);
    for (size_t i = 0; i < g->n_authorities; i++)
        cert_view_clear(&g->authorities[i]);
    free(g);
}

static bool
sha256(OSSL_LIB_CTX *libctx, const void *p, size_t n,
       uint8_t out[TESSERA_KEY_HASH_LEN])
{
    EVP_MD *md = EVP_MD_fetch(libctx, "SHA2-256", NULL);
    bool ok = md != NULL && EVP_Digest(p, n, out, NULL, md, NULL) == 1;
    EVP_MD_free(md);
    return ok;
}

bool
summary_fingerprint(const struct tessera_identity_summary *s,
                    OSSL_LIB_CTX *libctx, uint8_t out[TESSERA_KEY_HASH_LEN])
{
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_put_string(&w, s->name);
    tessera_put_string(&w, s->token_label);
    tessera_put_string(&w, s->token_manufacturer);
    tessera_put_string(&w, s->token_model);
    tessera_put_string(&w, s->token_serial);
    tessera_put_bytes(&w, s->key_id.data, s->key_id.len);
    tessera_put_u8(&w, s->key_type);
    tessera_put_u32(&w, s->key_bits);
    tessera_put_u8(&w, (s->flags & TESSERA_ID_HAS_CERT) != 0);
    tessera_put_string(&w, s->subject);
    tessera_put_u64(&w, s->not_after);
    bool ok = !w.failed && sha256(libctx, w.data, w.len, out);
    tessera_writer_clear(&w);
    return ok;
}

/* The curve's OID (named curves only: what PKCS#11 programs expect) and
 * the point as a DER OCTET STRING, from the SPKI. */
static bool
ec_attributes(struct generation *g, const X509_PUBKEY *pub)
{
    const unsigned char *point;
    int point_len;
    X509_ALGOR *alg;
    const ASN1_OBJECT *curve;
    int param_type;
    const void *param;
    if (!X509_PUBKEY_get0_param(NULL, &point, &point_len, &alg, pub))
        return false;
    X509_ALGOR_get0(NULL, &param_type, &param, alg);
    if (param_type != V_ASN1_OBJECT)
        return false;
    curve = param;
    if (!BLOB_I2D(&g->ec_params, i2d_ASN1_OBJECT, curve))
        return false;
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    bool ok = os != NULL && ASN1_OCTET_STRING_set(os, point, point_len) &&
              BLOB_I2D(&g->ec_point, i2d_ASN1_OCTET_STRING, os);
    ASN1_OCTET_STRING_free(os);
    return ok;
}

static bool
bignum_attribute(const EVP_PKEY *key, const char *param,
                 struct tessera_blob *out)
{
    BIGNUM *bn = NULL;
    bool ok = EVP_PKEY_get_bn_param(key, param, &bn) == 1 &&
              (out->len = (size_t)BN_num_bytes(bn)) > 0 &&
              (out->data = malloc(out->len)) != NULL &&
              BN_bn2bin(bn, out->data) == (int)out->len;
    BN_free(bn);
    return ok;
}

/* Key type, size, hash and the type's attributes, from the agent's SPKI.
 * The hash is of the bytes the agent sent: the agent compares it with
 * the hash of its own copy of those bytes. */
static bool
describe_key(struct generation *g, const struct tessera_blob *spki,
             OSSL_LIB_CTX *libctx, const char **why)
{
    const unsigned char *p = spki->data;
    X509_PUBKEY *pub = NULL;
    *why = "its public key does not parse";
    if (spki->len == 0 || spki->len > TESSERA_DER_MAX ||
        d2i_X509_PUBKEY(&pub, &p, (long)spki->len) == NULL ||
        p != spki->data + spki->len) {
        X509_PUBKEY_free(pub);
        return false;
    }
    p = spki->data;
    g->public_key = d2i_PUBKEY_ex(NULL, &p, (long)spki->len, libctx, NULL);
    bool ok = g->public_key != NULL &&
              blob_set(&g->spki, spki->data, spki->len) &&
              sha256(libctx, spki->data, spki->len, g->key_hash);
    if (ok && EVP_PKEY_is_a(g->public_key, "EC")) {
        g->key_type = CKK_EC;
        *why = "its EC key is not on a named curve";
        ok = ec_attributes(g, pub);
    } else if (ok && EVP_PKEY_is_a(g->public_key, "RSA")) {
        g->key_type = CKK_RSA;
        ok = bignum_attribute(g->public_key, "n", &g->modulus) &&
             bignum_attribute(g->public_key, "e", &g->exponent);
    } else if (ok) {
        *why = "its key is neither EC nor RSA";
        ok = false;
    }
    if (ok)
        g->key_bits = (CK_ULONG)EVP_PKEY_get_bits(g->public_key);
    X509_PUBKEY_free(pub);
    return ok && g->key_bits > 0;
}

/* The leaf, which must carry exactly the identity's public key, and the CA
 * certificates above it (one that does not parse is left out). */
static bool
describe_chain(struct generation *g, const struct tessera_identity *id,
               OSSL_LIB_CTX *libctx, const char **why)
{
    g->has_cert = (id->summary.flags & TESSERA_ID_HAS_CERT) && id->n_certs > 0;
    if (!g->has_cert)
        return true;
    if (!cert_view_init(&g->leaf, id->certs[0].data, id->certs[0].len,
                        libctx)) {
        *why = "its certificate does not parse";
        return false;
    }
    if (g->leaf.spki.len != g->spki.len ||
        memcmp(g->leaf.spki.data, g->spki.data, g->spki.len) != 0) {
        *why = "its certificate is not for its key";
        return false;
    }
    for (size_t i = 1; i < id->n_certs && i < TESSERA_CHAIN_MAX; i++) {
        if (cert_view_init(&g->authorities[g->n_authorities], id->certs[i].data,
                           id->certs[i].len, libctx))
            g->n_authorities++;
    }
    return true;
}

struct generation *
generation_from_identity(const struct tessera_identity *id,
                         OSSL_LIB_CTX *libctx, char *why, size_t why_size)
{
    struct generation *g = calloc(1, sizeof(*g));
    bool named = id->summary.name != NULL && id->summary.name[0] != '\0';
    const char *reason = named ? "out of memory" : "it has no name";
    bool ok =
        g != NULL && named && (g->name = strdup(id->summary.name)) != NULL &&
        blob_set(&g->key_id, id->summary.key_id.data, id->summary.key_id.len) &&
        describe_key(g, &id->spki, libctx, &reason) &&
        describe_chain(g, id, libctx, &reason) &&
        summary_fingerprint(&id->summary, libctx, g->seen);
    if (ok)
        return g;
    snprintf(why, why_size, "identity %s is not shown: %s",
             id->summary.name != NULL ? id->summary.name : "(unnamed)", reason);
    generation_free(g);
    return NULL;
}

/* --- attribute values */

static enum attribute_outcome
found(const void *p, CK_ULONG n, const void **value, CK_ULONG *len)
{
    *value = p;
    *len = n;
    return ATTRIBUTE_FOUND;
}

static enum attribute_outcome
found_blob(const struct tessera_blob *b, const void **value, CK_ULONG *len)
{
    return found(b->data, b->len, value, len);
}

static enum attribute_outcome
found_ulong(union attribute_scratch *scratch, CK_ULONG v, const void **value,
            CK_ULONG *len)
{
    scratch->ulong = v;
    return found(&scratch->ulong, sizeof(scratch->ulong), value, len);
}

static enum attribute_outcome
found_bool(union attribute_scratch *scratch, bool v, const void **value,
           CK_ULONG *len)
{
    scratch->bbool = v ? CK_TRUE : CK_FALSE;
    return found(&scratch->bbool, sizeof(scratch->bbool), value, len);
}

static CK_OBJECT_CLASS
object_class(enum object_kind kind)
{
    switch (kind) {
    case OBJECT_PUBLIC:
        return CKO_PUBLIC_KEY;
    case OBJECT_PRIVATE:
        return CKO_PRIVATE_KEY;
    default:
        return CKO_CERTIFICATE;
    }
}

/* Attributes every object has; INVALID hands over to its kind's. */
static enum attribute_outcome
storage_attribute(const struct object *o, CK_ATTRIBUTE_TYPE type,
                  union attribute_scratch *scratch, const void **value,
                  CK_ULONG *len)
{
    switch (type) {
    case CKA_CLASS:
        return found_ulong(scratch, object_class(o->kind), value, len);
    case CKA_TOKEN:
        return found_bool(scratch, true, value, len);
    case CKA_PRIVATE:
        return found_bool(scratch, o->kind == OBJECT_PRIVATE, value, len);
    case CKA_MODIFIABLE:
    case CKA_COPYABLE:
    case CKA_DESTROYABLE:
        return found_bool(scratch, false, value, len);
    case CKA_LABEL: {
        const char *label = o->kind == OBJECT_AUTHORITY ? o->authority->label
                                                        : o->generation->name;
        return found(label, strlen(label), value, len);
    }
    default:
        return ATTRIBUTE_INVALID;
    }
}

static enum attribute_outcome
certificate_attribute(const struct object *o, CK_ATTRIBUTE_TYPE type,
                      union attribute_scratch *scratch, const void **value,
                      CK_ULONG *len)
{
    bool authority = o->kind == OBJECT_AUTHORITY;
    const struct cert_view *c = authority ? o->authority : &o->generation->leaf;
    switch (type) {
    case CKA_CERTIFICATE_TYPE:
        return found_ulong(scratch, CKC_X_509, value, len);
    case CKA_CERTIFICATE_CATEGORY:
        return found_ulong(scratch,
                           authority ? CATEGORY_AUTHORITY : CATEGORY_TOKEN_USER,
                           value, len);
    case CKA_TRUSTED:
        return found_bool(scratch, false, value, len);
    case CKA_VALUE:
        return found_blob(&c->der, value, len);
    case CKA_SUBJECT:
        return found_blob(&c->subject, value, len);
    case CKA_ISSUER:
        return found_blob(&c->issuer, value, len);
    case CKA_SERIAL_NUMBER:
        return found_blob(&c->serial, value, len);
    case CKA_PUBLIC_KEY_INFO:
        return found_blob(&c->spki, value, len);
    case CKA_ID: /* a CA's certificate has no key here */
        return authority ? found(NULL, 0, value, len)
                         : found_blob(&o->generation->key_id, value, len);
    case CKA_START_DATE:
    case CKA_END_DATE:
    case CKA_URL:
    case CKA_HASH_OF_SUBJECT_PUBLIC_KEY:
    case CKA_HASH_OF_ISSUER_PUBLIC_KEY:
        return found(NULL, 0, value, len);
    case CKA_JAVA_MIDP_SECURITY_DOMAIN:
        return found_ulong(scratch, 0, value, len);
    default:
        return ATTRIBUTE_INVALID;
    }
}

static enum attribute_outcome
allowed_mechanisms(CK_KEY_TYPE key_type, union attribute_scratch *scratch,
                   const void **value, CK_ULONG *len)
{
    size_t n = mechanisms_of_key_type(key_type, scratch->mechanisms,
                                      sizeof(scratch->mechanisms) /
                                          sizeof(scratch->mechanisms[0]));
    return found(scratch->mechanisms, n * sizeof(CK_MECHANISM_TYPE), value,
                 len);
}

static enum attribute_outcome
key_attribute(const struct object *o, CK_ATTRIBUTE_TYPE type,
              union attribute_scratch *scratch, const void **value,
              CK_ULONG *len)
{
    const struct generation *g = o->generation;
    bool ec = g->key_type == CKK_EC;
    switch (type) {
    case CKA_KEY_TYPE:
        return found_ulong(scratch, g->key_type, value, len);
    case CKA_ID:
        return found_blob(&g->key_id, value, len);
    case CKA_SUBJECT: /* the certificate's, if there is one */
        return found_blob(&g->leaf.subject, value, len);
    case CKA_PUBLIC_KEY_INFO:
        return found_blob(&g->spki, value, len);
    case CKA_START_DATE:
    case CKA_END_DATE:
        return found(NULL, 0, value, len);
    case CKA_DERIVE:
        return found_bool(scratch, false, value, len);
    case CKA_KEY_GEN_MECHANISM:
        return found_ulong(scratch, CK_UNAVAILABLE_INFORMATION, value, len);
    case CKA_ALLOWED_MECHANISMS:
        return allowed_mechanisms(g->key_type, scratch, value, len);
    case CKA_EC_PARAMS:
        return ec ? found_blob(&g->ec_params, value, len) : ATTRIBUTE_INVALID;
    case CKA_EC_POINT:
        return ec ? found_blob(&g->ec_point, value, len) : ATTRIBUTE_INVALID;
    case CKA_MODULUS:
        return ec ? ATTRIBUTE_INVALID : found_blob(&g->modulus, value, len);
    case CKA_PUBLIC_EXPONENT:
        return ec ? ATTRIBUTE_INVALID : found_blob(&g->exponent, value, len);
    case CKA_MODULUS_BITS:
        return ec ? ATTRIBUTE_INVALID
                  : found_ulong(scratch, g->key_bits, value, len);
    default:
        return ATTRIBUTE_INVALID;
    }
}

static enum attribute_outcome
public_key_attribute(CK_ATTRIBUTE_TYPE type, union attribute_scratch *scratch,
                     const void **value, CK_ULONG *len)
{
    switch (type) {
    case CKA_VERIFY:
        return found_bool(scratch, true, value, len);
    case CKA_ENCRYPT:
    case CKA_VERIFY_RECOVER:
    case CKA_WRAP:
    case CKA_TRUSTED:
        return found_bool(scratch, false, value, len);
    default:
        return ATTRIBUTE_INVALID;
    }
}

static enum attribute_outcome
private_key_attribute(CK_ATTRIBUTE_TYPE type, union attribute_scratch *scratch,
                      const void **value, CK_ULONG *len)
{
    switch (type) {
    case CKA_SIGN:
    case CKA_SENSITIVE:
    /* Of the object this module shows: it never had its value out. */
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
        return found_bool(scratch, true, value, len);
    case CKA_EXTRACTABLE:
    case CKA_DECRYPT:
    case CKA_SIGN_RECOVER:
    case CKA_UNWRAP:
    case CKA_WRAP_WITH_TRUSTED:
    case CKA_ALWAYS_AUTHENTICATE: /* the agent logs in; never per use */
        return found_bool(scratch, false, value, len);
    case CKA_VALUE:
    case CKA_PRIVATE_EXPONENT:
    case CKA_PRIME_1:
    case CKA_PRIME_2:
    case CKA_EXPONENT_1:
    case CKA_EXPONENT_2:
    case CKA_COEFFICIENT:
        return ATTRIBUTE_SENSITIVE;
    default:
        return ATTRIBUTE_INVALID;
    }
}

enum attribute_outcome
object_attribute(const struct object *o, CK_ATTRIBUTE_TYPE type,
                 union attribute_scratch *scratch, const void **value,
                 CK_ULONG *len)
{
    enum attribute_outcome r = storage_attribute(o, type, scratch, value, len);
    if (r != ATTRIBUTE_INVALID)
        return r;
    switch (o->kind) {
    case OBJECT_CERT:
    case OBJECT_AUTHORITY:
        return certificate_attribute(o, type, scratch, value, len);
    case OBJECT_PUBLIC:
        r = public_key_attribute(type, scratch, value, len);
        break;
    case OBJECT_PRIVATE:
        r = private_key_attribute(type, scratch, value, len);
        break;
    }
    return r != ATTRIBUTE_INVALID ? r
                                  : key_attribute(o, type, scratch, value, len);
}

bool
object_matches(const struct object *o, const CK_ATTRIBUTE *template,
               CK_ULONG count)
{
    for (CK_ULONG i = 0; i < count; i++) {
        union attribute_scratch scratch;
        const void *value;
        CK_ULONG len;
        if (object_attribute(o, template[i].type, &scratch, &value, &len) !=
                ATTRIBUTE_FOUND ||
            len != template[i].ulValueLen ||
            (len > 0 && memcmp(value, template[i].pValue, len) != 0))
            return false;
    }
    return true;
}
