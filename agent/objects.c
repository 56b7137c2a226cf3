/* SPDX-License-Identifier: Apache-2.0 */
#include "objects.h"
#include "p11.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <string.h>

#define MAX_OBJECTS 4096
#define MAX_ATTRIBUTE 65536
/* Objects one step handles by id and label: a key pair, its certificates. */
#define MAX_FOUND 16

static GArray *
handles_new(void)
{
    return g_array_new(FALSE, FALSE, sizeof(CK_OBJECT_HANDLE));
}

static GArray *
find(const struct token_session *s, GBytes *id, const char *label,
     CK_OBJECT_CLASS cls)
{
    GArray *found = handles_new();
    if (p11_find(s->module, s->handle, id, label, cls, found, MAX_FOUND) !=
        CKR_OK)
        g_array_set_size(found, 0);
    return found;
}

GBytes *
objects_value(const struct token_session *s, CK_OBJECT_HANDLE obj,
              CK_ATTRIBUTE_TYPE type)
{
    return p11_attribute(s->module, s->handle, obj, type, MAX_ATTRIBUTE);
}

gboolean
objects_flag(const struct token_session *s, CK_OBJECT_HANDLE obj,
             CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL value = CK_FALSE;
    CK_ATTRIBUTE attr = {type, &value, sizeof(value)};
    return p11_get_attributes(s->module, s->handle, obj, &attr, 1) == CKR_OK &&
           attr.ulValueLen == sizeof(value) && value == CK_TRUE;
}

static char *
string_value(const struct token_session *s, CK_OBJECT_HANDLE obj,
             CK_ATTRIBUTE_TYPE type)
{
    GBytes *b = objects_value(s, obj, type);
    if (b == NULL)
        return NULL;
    gsize len;
    const char *p = g_bytes_get_data(b, &len);
    char *text = g_strndup(p, len);
    g_bytes_unref(b);
    return text;
}

/* Class, id and label of one object, read in one call where they fit. */
static void
summarize(const struct token_session *s, CK_OBJECT_HANDLE h,
          struct token_object *out)
{
    uint8_t id[256];
    char label[256];
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &out->cls, sizeof(out->cls)},
                        {CKA_ID, id, sizeof(id)},
                        {CKA_LABEL, label, sizeof(label)}};
    *out = (struct token_object){.handle = h, .cls = OBJECTS_ANY_CLASS};
    /* Attributes that did not fit or cannot be read come back unavailable,
     * the others filled (PKCS#11 v2.40, C_GetAttributeValue). */
    p11_get_attributes(s->module, s->handle, h, t, G_N_ELEMENTS(t));
    if (t[0].ulValueLen != sizeof(out->cls))
        out->cls = OBJECTS_ANY_CLASS;
    out->id = t[1].ulValueLen != CK_UNAVAILABLE_INFORMATION
                  ? g_bytes_new(id, t[1].ulValueLen)
                  : objects_value(s, h, CKA_ID);
    out->label = t[2].ulValueLen != CK_UNAVAILABLE_INFORMATION
                     ? g_strndup(label, t[2].ulValueLen)
                     : string_value(s, h, CKA_LABEL);
}

static void
token_object_clear(struct token_object *o)
{
    if (o->id != NULL)
        g_bytes_unref(o->id);
    g_free(o->label);
}

GArray *
objects_list(const struct token_session *s, GPtrArray *key_ids)
{
    GArray *handles = handles_new();
    if (key_ids == NULL)
        p11_find(s->module, s->handle, NULL, NULL, P11_ANY_CLASS, handles,
                 MAX_OBJECTS);
    for (guint i = 0; key_ids != NULL && i < key_ids->len; i++)
        p11_find(s->module, s->handle, g_ptr_array_index(key_ids, i), NULL,
                 P11_ANY_CLASS, handles, MAX_OBJECTS);
    GArray *objects = g_array_new(FALSE, TRUE, sizeof(struct token_object));
    g_array_set_clear_func(objects, (GDestroyNotify)token_object_clear);
    g_array_set_size(objects, handles->len);
    for (guint i = 0; i < handles->len; i++)
        summarize(s, g_array_index(handles, CK_OBJECT_HANDLE, i),
                  &g_array_index(objects, struct token_object, i));
    g_array_unref(handles);
    return objects;
}

void
objects_list_free(GArray *objects)
{
    g_array_unref(objects);
}

/* --- public keys from key objects */

/* CKA_EC_POINT is a DER OCTET STRING by the standard; some tokens omit it. */
static GBytes *
unwrap_ec_point(GBytes *value)
{
    gsize len;
    const unsigned char *p = g_bytes_get_data(value, &len), *q = p;
    ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &q, (long)len);
    GBytes *point;
    if (os != NULL && q == p + len)
        point = g_bytes_new(ASN1_STRING_get0_data(os), ASN1_STRING_length(os));
    else
        point = g_bytes_ref(value);
    ASN1_OCTET_STRING_free(os);
    return point;
}

static EVP_PKEY *
ec_public_key(GBytes *params_der, GBytes *point_value)
{
    gsize len;
    const unsigned char *p = g_bytes_get_data(params_der, &len);
    ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &p, (long)len);
    const char *group = oid ? OBJ_nid2sn(OBJ_obj2nid(oid)) : NULL;
    ASN1_OBJECT_free(oid);
    if (group == NULL)
        return NULL;
    GBytes *point = unwrap_ec_point(point_value);
    gsize point_len;
    const void *point_data = g_bytes_get_data(point, &point_len);
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point_data,
                                point_len),
        OSSL_PARAM_END,
    };
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    g_bytes_unref(point);
    return pkey;
}

static EVP_PKEY *
rsa_public_key(GBytes *modulus, GBytes *exponent)
{
    gsize nlen, elen;
    const unsigned char *n = g_bytes_get_data(modulus, &nlen);
    const unsigned char *e = g_bytes_get_data(exponent, &elen);
    BIGNUM *bn_n = BN_bin2bn(n, (int)nlen, NULL);
    BIGNUM *bn_e = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    int ok = bn_n && bn_e && bld &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) &&
             (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && ctx &&
             EVP_PKEY_fromdata_init(ctx) == 1 &&
             EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
    if (!ok) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

static EVP_PKEY *
ed25519_public_key(GBytes *point_value)
{
    GBytes *point = unwrap_ec_point(point_value);
    gsize len;
    const unsigned char *p = g_bytes_get_data(point, &len);
    EVP_PKEY *pkey =
        EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, p, len);
    g_bytes_unref(point);
    return pkey;
}

GBytes *
objects_public_key(const struct token_session *s, CK_OBJECT_HANDLE key)
{
    CK_KEY_TYPE type = 0;
    CK_ATTRIBUTE attr = {CKA_KEY_TYPE, &type, sizeof(type)};
    if (p11_get_attributes(s->module, s->handle, key, &attr, 1) != CKR_OK)
        return NULL;
    GBytes *a = NULL, *b = NULL;
    EVP_PKEY *pkey = NULL;
    if (type == CKK_EC) {
        a = objects_value(s, key, CKA_EC_PARAMS);
        b = objects_value(s, key, CKA_EC_POINT);
        if (a && b)
            pkey = ec_public_key(a, b);
    } else if (type == CKK_EC_EDWARDS) {
        a = objects_value(s, key, CKA_EC_POINT);
        if (a)
            pkey = ed25519_public_key(a);
    } else if (type == CKK_RSA) {
        a = objects_value(s, key, CKA_MODULUS);
        b = objects_value(s, key, CKA_PUBLIC_EXPONENT);
        if (a && b)
            pkey = rsa_public_key(a, b);
    }
    unsigned char *der = NULL;
    int len = pkey ? i2d_PUBKEY(pkey, &der) : -1;
    GBytes *spki = len > 0 ? g_bytes_new(der, (gsize)len) : NULL;
    OPENSSL_free(der);
    EVP_PKEY_free(pkey);
    if (a)
        g_bytes_unref(a);
    if (b)
        g_bytes_unref(b);
    return spki;
}

/* --- by id and label */

guint
objects_count(const struct token_session *s, GBytes *id, const char *label,
              CK_OBJECT_CLASS cls)
{
    GArray *found = find(s, id, label, cls);
    guint n = found->len;
    g_array_unref(found);
    return n;
}

gboolean
objects_hold_certificate(const struct token_session *s, GBytes *id,
                         const char *label, GBytes *der)
{
    GArray *found = find(s, id, label, CKO_CERTIFICATE);
    gboolean held = FALSE;
    for (guint i = 0; !held && i < found->len; i++) {
        GBytes *value = objects_value(
            s, g_array_index(found, CK_OBJECT_HANDLE, i), CKA_VALUE);
        held = value != NULL && g_bytes_equal(value, der);
        if (value != NULL)
            g_bytes_unref(value);
    }
    g_array_unref(found);
    return held;
}

GBytes *
objects_key_spki(const struct token_session *s, GBytes *id, const char *label)
{
    GArray *found = find(s, id, label, CKO_PUBLIC_KEY);
    if (found->len == 0) {
        g_array_unref(found);
        found = find(s, id, label, CKO_PRIVATE_KEY);
    }
    GBytes *spki =
        found->len > 0
            ? objects_public_key(s, g_array_index(found, CK_OBJECT_HANDLE, 0))
            : NULL;
    g_array_unref(found);
    return spki;
}

/* --- changes */

/* CKA_EC_PARAMS: the curve's OID (RFC 8410's for Ed25519). */
static GBytes *
curve_params(const struct tessera_keyspec *spec)
{
    int nid = spec->type == TESSERA_KEY_ED25519
                  ? NID_ED25519
                  : EC_curve_nist2nid(spec->curve);
    unsigned char *der = NULL;
    int len = nid != NID_undef ? i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &der) : -1;
    if (len <= 0)
        return NULL;
    GBytes *b = g_bytes_new(der, (gsize)len);
    OPENSSL_free(der);
    return b;
}

/*
 * Every usage attribute is stated: a token's defaults would otherwise
 * decide, and SoftHSM2's let a private key decrypt, unwrap and
 * sign-recover, and its public key encrypt, wrap and verify-recover.
 *
 * A TPM has one flag for sign-and-encrypt and one for decrypt, and signs
 * RSA PKCS#1 as a raw decryption: tpm2-pkcs11 derives the public key's
 * CKA_ENCRYPT from CKA_SIGN and its CKA_VERIFY from CKA_DECRYPT, refuses a
 * template that states them otherwise, and cannot sign with an RSA key
 * that may not decrypt. With token_derived (a token that refused the
 * whole template) those attributes, and an RSA key's CKA_DECRYPT, are left
 * to the token.
 */
static CK_RV
generate(const struct token_session *s, const char *label,
         const struct tessera_keyspec *spec, enum objects_key_use use,
         gboolean token_derived, GBytes *key_id)
{
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_BBOOL decrypt =
        spec->type == TESSERA_KEY_RSA && use == OBJECTS_SIGN_AND_DECRYPT;
    CK_ULONG bits = spec->bits;
    CK_BYTE exponent[] = {0x01, 0x00, 0x01};
    gsize id_len;
    const void *id = g_bytes_get_data(key_id, &id_len);
    GBytes *ec_params = NULL;
    CK_ATTRIBUTE pub_tmpl[12] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_WRAP, &no, sizeof(no)},
        {CKA_VERIFY_RECOVER, &no, sizeof(no)},
        {CKA_DERIVE, &no, sizeof(no)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, (void *)id, id_len},
    };
    CK_ULONG n_pub = 7;
    if (!token_derived) {
        pub_tmpl[n_pub++] = (CK_ATTRIBUTE){CKA_VERIFY, &yes, sizeof(yes)};
        pub_tmpl[n_pub++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &no, sizeof(no)};
    }
    /* The point of the whole project: the key can never leave the token. */
    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_UNWRAP, &no, sizeof(no)},
        {CKA_SIGN_RECOVER, &no, sizeof(no)},
        {CKA_DERIVE, &no, sizeof(no)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, (void *)id, id_len},
        /* Only an RSA key a SCEP CA answers: its reply is encrypted to it.
         * Last, so that it can be left out. */
        {CKA_DECRYPT, &decrypt, sizeof(decrypt)},
    };
    CK_ULONG n_priv = G_N_ELEMENTS(priv_tmpl);
    if (token_derived && spec->type == TESSERA_KEY_RSA)
        n_priv--;
    CK_MECHANISM mech;
    if (spec->type != TESSERA_KEY_RSA) {
        ec_params = curve_params(spec);
        if (ec_params == NULL)
            return CKR_CURVE_NOT_SUPPORTED;
        gsize len;
        const void *der = g_bytes_get_data(ec_params, &len);
        pub_tmpl[n_pub++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)der, len};
        mech = (CK_MECHANISM){spec->type == TESSERA_KEY_EC
                                  ? CKM_EC_KEY_PAIR_GEN
                                  : CKM_EC_EDWARDS_KEY_PAIR_GEN,
                              NULL, 0};
    } else {
        pub_tmpl[n_pub++] =
            (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)};
        pub_tmpl[n_pub++] =
            (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)};
        mech = (CK_MECHANISM){CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    }
    CK_OBJECT_HANDLE pub, priv;
    CK_RV rv = p11_generate_key_pair(s->module, s->handle, &mech, pub_tmpl,
                                     n_pub, priv_tmpl, n_priv, &pub, &priv);
    if (ec_params != NULL)
        g_bytes_unref(ec_params);
    return rv;
}

int
objects_generate_key_pair(const struct token_session *s, const char *label,
                          const struct tessera_keyspec *spec,
                          enum objects_key_use use, GBytes *id,
                          struct tessera_status *st)
{
    CK_RV rv = generate(s, label, spec, use, FALSE, id);
    if (rv == CKR_TEMPLATE_INCONSISTENT || rv == CKR_ATTRIBUTE_VALUE_INVALID ||
        rv == CKR_GENERAL_ERROR) {
        g_message("token \"%s\" refused a key template that states every "
                  "usage (%s): the key's CKA_VERIFY, CKA_ENCRYPT and, for "
                  "RSA, CKA_DECRYPT are the token's",
                  token_label(s->token), p11_kit_strerror(rv));
        rv = generate(s, label, spec, use, TRUE, id);
    }
    if (rv == CKR_OK)
        return 0;
    token_fail(s->token, rv, "generate a key", st);
    return -1;
}

int
objects_store_certificate(const struct token_session *s, const char *label,
                          GBytes *key_id, X509 *x, const uint8_t *der,
                          size_t der_len, struct tessera_status *st)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE type = CKC_X_509;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    unsigned char *subject = NULL, *issuer = NULL, *serial = NULL;
    int subject_len = i2d_X509_NAME(X509_get_subject_name(x), &subject);
    int issuer_len = i2d_X509_NAME(X509_get_issuer_name(x), &issuer);
    int serial_len = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &serial);
    gsize id_len;
    const void *id = g_bytes_get_data(key_id, &id_len);
    CK_RV rv = CKR_HOST_MEMORY;
    if (subject_len > 0 && issuer_len > 0 && serial_len > 0) {
        CK_ATTRIBUTE tmpl[] = {
            {CKA_CLASS, &cls, sizeof(cls)},
            {CKA_CERTIFICATE_TYPE, &type, sizeof(type)},
            {CKA_TOKEN, &yes, sizeof(yes)},
            {CKA_PRIVATE, &no, sizeof(no)},
            {CKA_LABEL, (void *)label, strlen(label)},
            {CKA_ID, (void *)id, id_len},
            {CKA_SUBJECT, subject, (CK_ULONG)subject_len},
            {CKA_ISSUER, issuer, (CK_ULONG)issuer_len},
            {CKA_SERIAL_NUMBER, serial, (CK_ULONG)serial_len},
            {CKA_VALUE, (void *)der, der_len},
        };
        CK_OBJECT_HANDLE obj;
        rv = p11_create(s->module, s->handle, tmpl, G_N_ELEMENTS(tmpl), &obj);
    }
    OPENSSL_free(subject);
    OPENSSL_free(issuer);
    OPENSSL_free(serial);
    if (rv == CKR_OK)
        return 0;
    token_fail(s->token, rv, "store the certificate", st);
    return -1;
}

int
objects_relabel(const struct token_session *s, GBytes *id, const char *from,
                const char *to, struct tessera_status *st)
{
    GArray *found = find(s, id, from, P11_ANY_CLASS);
    CK_RV rv = CKR_OK;
    for (guint i = 0; rv == CKR_OK && i < found->len; i++)
        rv = p11_set_label(s->module, s->handle,
                           g_array_index(found, CK_OBJECT_HANDLE, i), to);
    g_array_unref(found);
    if (rv == CKR_OK)
        return 0;
    token_fail(s->token, rv, "relabel the renewed keys", st);
    return -1;
}

int
objects_destroy(const struct token_session *s, GBytes *id, const char *label,
                CK_OBJECT_CLASS cls, GBytes *keep, struct tessera_status *st)
{
    GArray *found = handles_new();
    CK_RV rv = p11_find(s->module, s->handle, id, label, cls, found, MAX_FOUND);
    CK_RV failed = rv;
    for (guint i = 0; i < found->len; i++) {
        CK_OBJECT_HANDLE obj = g_array_index(found, CK_OBJECT_HANDLE, i);
        GBytes *value = keep ? objects_value(s, obj, CKA_VALUE) : NULL;
        if (keep == NULL || value == NULL || !g_bytes_equal(value, keep))
            rv = p11_destroy(s->module, s->handle, obj);
        if (rv != CKR_OK)
            failed = rv;
        if (value != NULL)
            g_bytes_unref(value);
    }
    g_array_unref(found);
    if (failed == CKR_OK)
        return 0;
    token_fail(s->token, failed, "delete an object", st);
    return -1;
}
