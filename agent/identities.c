/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identity discovery. Every key on a token (a private key, or before login
 * the public key beside it) is an identity, named from its label; with a
 * certificate of the same CKA_ID it can be presented. The public key comes
 * from the certificate, and from the token's key objects when there is no
 * certificate yet.
 */
#include "agent.h"
#include "../common/errors.h"
#include "../common/p11uri.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

#define MAX_OBJECTS 4096
#define MAX_ATTRIBUTE 65536
#define MAX_NAME 64
#define MAX_CHAIN_FILE (256 * 1024)

struct agent_registry *
agent_registry_get(struct agent *agent)
{
    g_mutex_lock(&agent->registry_lock);
    struct agent_registry *reg = agent->registry;
    g_atomic_int_inc(&reg->refcount);
    g_mutex_unlock(&agent->registry_lock);
    return reg;
}

void
agent_registry_unref(struct agent_registry *reg)
{
    if (reg == NULL || !g_atomic_int_dec_and_test(&reg->refcount))
        return;
    g_hash_table_unref(reg->by_name);
    g_ptr_array_unref(reg->identities);
    g_ptr_array_unref(reg->renewal_keys);
    g_ptr_array_unref(reg->tokens);
    g_free(reg);
}

static struct agent_registry *
registry_new(GPtrArray *tokens)
{
    struct agent_registry *reg = g_new0(struct agent_registry, 1);
    reg->refcount = 1;
    reg->tokens = tokens;
    reg->identities =
        g_ptr_array_new_with_free_func((GDestroyNotify)agent_identity_unref);
    reg->renewal_keys =
        g_ptr_array_new_with_free_func((GDestroyNotify)agent_identity_unref);
    reg->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    return reg;
}

struct agent_identity *
agent_identity_ref(struct agent_identity *id)
{
    g_atomic_int_inc(&id->refcount);
    return id;
}

void
agent_identity_unref(struct agent_identity *id)
{
    if (id == NULL || !g_atomic_int_dec_and_test(&id->refcount))
        return;
    agent_token_unref(id->token);
    g_bytes_unref(id->key_id);
    g_bytes_unref(id->spki);
    g_ptr_array_unref(id->certs);
    g_free(id->name);
    g_free(id->key_label);
    g_free(id->subject);
    g_free(id->issuer);
    g_free(id);
}

CK_RV
agent_find_object(struct agent_token *token, CK_SESSION_HANDLE session,
                  CK_OBJECT_CLASS cls, GBytes *key_id, CK_OBJECT_HANDLE *out)
{
    gsize id_len;
    const void *id = g_bytes_get_data(key_id, &id_len);
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_ID, (void *)id, id_len},
    };
    CK_ULONG found = 0;
    CK_RV rv = token->module->C_FindObjectsInit(session, tmpl, 2);
    if (rv != CKR_OK)
        return rv;
    rv = token->module->C_FindObjects(session, out, 1, &found);
    token->module->C_FindObjectsFinal(session);
    if (rv == CKR_OK && found == 0)
        rv = CKR_OBJECT_HANDLE_INVALID;
    return rv;
}

/* The objects the session can see (without a login: the public ones) that
 * match the template, appended to handles. */
static void
find_objects(struct agent_token *token, CK_SESSION_HANDLE session,
             CK_ATTRIBUTE *tmpl, CK_ULONG n_tmpl, GArray *handles)
{
    if (token->module->C_FindObjectsInit(session, tmpl, n_tmpl) != CKR_OK)
        return;
    CK_OBJECT_HANDLE batch[64];
    CK_ULONG n = 0;
    while (handles->len < MAX_OBJECTS &&
           token->module->C_FindObjects(session, batch, G_N_ELEMENTS(batch),
                                        &n) == CKR_OK &&
           n > 0)
        g_array_append_vals(handles, batch, (guint)n);
    token->module->C_FindObjectsFinal(session);
}

GBytes *
agent_object_attribute(struct agent_token *token, CK_SESSION_HANDLE session,
                       CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
    uint8_t guess[4096];
    CK_ATTRIBUTE attr = {type, guess, sizeof(guess)};
    CK_RV rv = token->module->C_GetAttributeValue(session, obj, &attr, 1);
    if (rv == CKR_OK && attr.ulValueLen != CK_UNAVAILABLE_INFORMATION)
        return g_bytes_new(guess, attr.ulValueLen);
    if (rv != CKR_BUFFER_TOO_SMALL)
        return NULL;
    attr = (CK_ATTRIBUTE){type, NULL, 0};
    if (token->module->C_GetAttributeValue(session, obj, &attr, 1) != CKR_OK ||
        attr.ulValueLen == CK_UNAVAILABLE_INFORMATION ||
        attr.ulValueLen > MAX_ATTRIBUTE)
        return NULL;
    attr.pValue = g_malloc(attr.ulValueLen);
    if (token->module->C_GetAttributeValue(session, obj, &attr, 1) != CKR_OK) {
        g_free(attr.pValue);
        return NULL;
    }
    return g_bytes_new_take(attr.pValue, attr.ulValueLen);
}

static char *
get_string_attribute(struct agent_token *token, CK_SESSION_HANDLE session,
                     CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
    GBytes *b = agent_object_attribute(token, session, obj, type);
    if (b == NULL)
        return NULL;
    gsize len;
    const char *p = g_bytes_get_data(b, &len);
    char *s = g_strndup(p, len);
    g_bytes_unref(b);
    return s;
}

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

static GBytes *
spki_of(EVP_PKEY *pkey)
{
    unsigned char *der = NULL;
    int len = pkey ? i2d_PUBKEY(pkey, &der) : -1;
    if (len <= 0)
        return NULL;
    GBytes *b = g_bytes_new(der, (gsize)len);
    OPENSSL_free(der);
    return b;
}

GBytes *
agent_spki_from_key(struct agent_token *token, CK_SESSION_HANDLE session,
                    CK_OBJECT_HANDLE key)
{
    CK_KEY_TYPE type = 0;
    CK_ATTRIBUTE attr = {CKA_KEY_TYPE, &type, sizeof(type)};
    if (token->module->C_GetAttributeValue(session, key, &attr, 1) != CKR_OK)
        return NULL;
    GBytes *a = NULL, *b = NULL;
    EVP_PKEY *pkey = NULL;
    if (type == CKK_EC) {
        a = agent_object_attribute(token, session, key, CKA_EC_PARAMS);
        b = agent_object_attribute(token, session, key, CKA_EC_POINT);
        if (a && b)
            pkey = ec_public_key(a, b);
    } else if (type == CKK_EC_EDWARDS) {
        a = agent_object_attribute(token, session, key, CKA_EC_POINT);
        if (a)
            pkey = ed25519_public_key(a);
    } else if (type == CKK_RSA) {
        a = agent_object_attribute(token, session, key, CKA_MODULUS);
        b = agent_object_attribute(token, session, key, CKA_PUBLIC_EXPONENT);
        if (a && b)
            pkey = rsa_public_key(a, b);
    }
    GBytes *spki = spki_of(pkey);
    EVP_PKEY_free(pkey);
    if (a)
        g_bytes_unref(a);
    if (b)
        g_bytes_unref(b);
    return spki;
}

char *
agent_hex(GBytes *bytes)
{
    gsize len;
    const guint8 *p = g_bytes_get_data(bytes, &len);
    GString *s = g_string_sized_new(len * 2);
    for (gsize i = 0; i < len; i++)
        g_string_append_printf(s, "%02x", p[i]);
    return g_string_free(s, FALSE);
}

/* Names appear in URIs, file names and terminals: keep them plain. */
static char *
sanitized_name(const char *label, GBytes *key_id)
{
    if (label == NULL || label[0] == '\0') {
        char *hex = agent_hex(key_id);
        char *name = g_strdup_printf("key-%.16s", hex);
        g_free(hex);
        return name;
    }
    char *name = g_strndup(label, MAX_NAME + sizeof(AGENT_NEXT_SUFFIX));
    for (char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("._@+-~", *p))
            *p = '-';
    }
    return name;
}

gboolean
agent_name_is_renewal_key(const char *name)
{
    return g_str_has_suffix(name, AGENT_NEXT_SUFFIX) ||
           g_str_has_suffix(name, AGENT_OLD_SUFFIX);
}

char *
agent_chain_path(const struct agent *agent, const struct agent_token *token,
                 GBytes *key_id)
{
    char *serial = sanitized_name(token->serial, key_id);
    char *hex = agent_hex(key_id);
    char *file = g_strdup_printf("%s-%s.pem", serial, hex);
    char *path =
        g_build_filename(agent->config.state_dir, "chains", file, NULL);
    g_free(file);
    g_free(hex);
    g_free(serial);
    return path;
}

static void
load_chain(const struct agent *agent, struct agent_identity *id)
{
    char *path = agent_chain_path(agent, id->token, id->key_id);
    GStatBuf sb;
    if (g_stat(path, &sb) != 0) {
        g_free(path);
        return;
    }
    BIO *bio = sb.st_size <= MAX_CHAIN_FILE ? BIO_new_file(path, "r") : NULL;
    X509 *x;
    while (bio != NULL && id->certs->len < TESSERA_CHAIN_MAX &&
           (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        unsigned char *der = NULL;
        int len = i2d_X509(x, &der);
        if (len > 0)
            g_ptr_array_add(id->certs, g_bytes_new(der, (gsize)len));
        OPENSSL_free(der);
        X509_free(x);
    }
    if (bio == NULL)
        g_warning("identity %s: cannot read chain file %s", id->name, path);
    BIO_free(bio);
    ERR_clear_error();
    g_free(path);
}

/* RFC 2253, as tessera list and D-Bus show names. */
static char *
name_string(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    if (bio != NULL && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        long n = BIO_get_mem_data(bio, &data);
        out = g_strndup(data, (gsize)n);
    }
    BIO_free(bio);
    return out;
}

static guint64
seconds_of(const ASN1_TIME *t)
{
    struct tm tm;
    return ASN1_TIME_to_tm(t, &tm) ? (guint64)timegm(&tm) : 0;
}

static gboolean
describe_certificate(struct agent_identity *id, GBytes *der)
{
    gsize len;
    const unsigned char *p = g_bytes_get_data(der, &len);
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL)
        return FALSE;
    id->spki = spki_of(X509_get0_pubkey(x));
    id->subject = name_string(X509_get_subject_name(x));
    id->issuer = name_string(X509_get_issuer_name(x));
    id->not_before = seconds_of(X509_get0_notBefore(x));
    id->not_after = seconds_of(X509_get0_notAfter(x));
    X509_free(x);
    g_ptr_array_add(id->certs, g_bytes_ref(der));
    return id->spki != NULL;
}

static gboolean
describe_key_type(struct agent_identity *id)
{
    gsize len;
    const unsigned char *p = g_bytes_get_data(id->spki, &len);
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)len);
    if (pkey == NULL)
        return FALSE;
    if (EVP_PKEY_is_a(pkey, "EC"))
        id->key_type = TESSERA_KEY_EC;
    else if (EVP_PKEY_is_a(pkey, "RSA"))
        id->key_type = TESSERA_KEY_RSA;
    else if (EVP_PKEY_is_a(pkey, "ED25519"))
        id->key_type = TESSERA_KEY_ED25519;
    id->key_bits = (unsigned)EVP_PKEY_get_bits(pkey);
    EVP_PKEY_free(pkey);
    return id->key_type != TESSERA_KEY_NONE;
}

struct key_entry {
    GBytes *id;
    char *label;
    CK_OBJECT_HANDLE private_key; /* CK_INVALID_HANDLE when not visible */
    CK_OBJECT_HANDLE public_key;
    CK_OBJECT_HANDLE cert;
};

static void
key_entry_free(struct key_entry *e)
{
    g_bytes_unref(e->id);
    g_free(e->label);
    g_free(e);
}

/* Class, id and label of one object, read in one call where they fit. */
struct object_summary {
    CK_OBJECT_HANDLE handle;
    CK_OBJECT_CLASS cls;
    GBytes *id;  /* NULL or empty: not part of an identity */
    char *label; /* NULL when the object has none */
};

static void
summarize_object(struct agent_token *token, CK_SESSION_HANDLE session,
                 CK_OBJECT_HANDLE h, struct object_summary *out)
{
    uint8_t id[256];
    char label[256];
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &out->cls, sizeof(out->cls)},
                        {CKA_ID, id, sizeof(id)},
                        {CKA_LABEL, label, sizeof(label)}};
    *out = (struct object_summary){.handle = h, .cls = (CK_OBJECT_CLASS)-1};
    /* Attributes that did not fit or cannot be read come back unavailable,
     * the others filled (PKCS#11 v2.40, C_GetAttributeValue). */
    token->module->C_GetAttributeValue(session, h, t, G_N_ELEMENTS(t));
    if (t[0].ulValueLen != sizeof(out->cls))
        out->cls = (CK_OBJECT_CLASS)-1;
    out->id = t[1].ulValueLen != CK_UNAVAILABLE_INFORMATION
                  ? g_bytes_new(id, t[1].ulValueLen)
                  : agent_object_attribute(token, session, h, CKA_ID);
    out->label = t[2].ulValueLen != CK_UNAVAILABLE_INFORMATION
                     ? g_strndup(label, t[2].ulValueLen)
                     : get_string_attribute(token, session, h, CKA_LABEL);
}

static void
object_summary_clear(struct object_summary *o)
{
    if (o->id != NULL)
        g_bytes_unref(o->id);
    g_free(o->label);
}

static void
add_to_entry(GHashTable *by_id, GPtrArray *entries, struct object_summary *o)
{
    struct key_entry *e = g_hash_table_lookup(by_id, o->id);
    if (e == NULL && o->cls == CKO_CERTIFICATE)
        return; /* a certificate without a key */
    if (e == NULL) {
        e = g_new0(struct key_entry, 1);
        e->id = g_bytes_ref(o->id);
        e->private_key = e->public_key = e->cert = CK_INVALID_HANDLE;
        g_hash_table_insert(by_id, e->id, e);
        g_ptr_array_add(entries, e);
    }
    CK_OBJECT_HANDLE *slot = o->cls == CKO_PRIVATE_KEY  ? &e->private_key
                             : o->cls == CKO_PUBLIC_KEY ? &e->public_key
                                                        : &e->cert;
    if (*slot != CK_INVALID_HANDLE)
        return;
    *slot = o->handle;
    /* The certificate's label names the identity, else the key's. */
    if ((o->cls == CKO_CERTIFICATE || e->label == NULL) && o->label != NULL &&
        o->label[0] != '\0') {
        g_free(e->label);
        e->label = g_strdup(o->label);
    }
}

/* Groups a token's keys and certificates by CKA_ID: all of them, or those
 * of key_ids (GBytes) only. */
static GPtrArray *
collect_keys(struct agent_token *token, CK_SESSION_HANDLE session,
             GPtrArray *key_ids)
{
    /* Keys first, so that certificates find the entry of their key. */
    static const CK_OBJECT_CLASS classes[] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY,
                                              CKO_CERTIFICATE};
    GArray *handles = g_array_new(FALSE, FALSE, sizeof(CK_OBJECT_HANDLE));
    if (key_ids == NULL)
        find_objects(token, session, NULL, 0, handles);
    for (guint i = 0; key_ids != NULL && i < key_ids->len; i++) {
        gsize len;
        const void *id = g_bytes_get_data(g_ptr_array_index(key_ids, i), &len);
        CK_ATTRIBUTE tmpl = {CKA_ID, (void *)id, len};
        find_objects(token, session, &tmpl, 1, handles);
    }
    struct object_summary *objects =
        g_new0(struct object_summary, handles->len);
    for (guint i = 0; i < handles->len; i++)
        summarize_object(token, session,
                         g_array_index(handles, CK_OBJECT_HANDLE, i),
                         &objects[i]);
    GPtrArray *entries =
        g_ptr_array_new_with_free_func((GDestroyNotify)key_entry_free);
    GHashTable *by_id = g_hash_table_new(g_bytes_hash, g_bytes_equal);
    for (size_t c = 0; c < G_N_ELEMENTS(classes); c++)
        for (guint i = 0; i < handles->len; i++)
            if (objects[i].cls == classes[c] && objects[i].id != NULL &&
                g_bytes_get_size(objects[i].id) > 0)
                add_to_entry(by_id, entries, &objects[i]);
    for (guint i = 0; i < handles->len; i++)
        object_summary_clear(&objects[i]);
    g_free(objects);
    g_array_unref(handles);
    g_hash_table_unref(by_id);
    return entries;
}

static struct agent_identity *
identity_from_entry(struct agent *agent, struct agent_token *token,
                    CK_SESSION_HANDLE session, const struct key_entry *e)
{
    struct agent_identity *id = g_new0(struct agent_identity, 1);
    id->refcount = 1;
    id->token = agent_token_ref(token);
    id->key_id = g_bytes_ref(e->id);
    id->key_label = g_strdup(e->label ? e->label : "");
    id->certs = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    id->key_handle =
        e->private_key != CK_INVALID_HANDLE ? (gint64)e->private_key : -1;
    if (e->private_key != CK_INVALID_HANDLE) {
        GBytes *always = agent_object_attribute(token, session, e->private_key,
                                                CKA_ALWAYS_AUTHENTICATE);
        gsize n = 0;
        const CK_BBOOL *b = always ? g_bytes_get_data(always, &n) : NULL;
        id->always_authenticate = n == sizeof(CK_BBOOL) && *b == CK_TRUE;
        if (always != NULL)
            g_bytes_unref(always);
    }
    id->name = sanitized_name(e->label, e->id);
    gboolean ok;
    GBytes *cert =
        e->cert != CK_INVALID_HANDLE
            ? agent_object_attribute(token, session, e->cert, CKA_VALUE)
            : NULL;
    if (cert != NULL) {
        ok = describe_certificate(id, cert);
        g_bytes_unref(cert);
    } else {
        CK_OBJECT_HANDLE key =
            e->public_key != CK_INVALID_HANDLE ? e->public_key : e->private_key;
        id->spki = agent_spki_from_key(token, session, key);
        ok = id->spki != NULL;
    }
    if (ok)
        ok = describe_key_type(id);
    if (ok) {
        gsize len;
        const void *spki = g_bytes_get_data(id->spki, &len);
        ok = EVP_Digest(spki, len, id->spki_hash, NULL, EVP_sha256(), NULL);
    }
    if (!ok) {
        g_info("token \"%s\": skipping key %s, its public key is unreadable "
               "or of an unsupported type",
               token->label, id->name);
        agent_identity_unref(id);
        return NULL;
    }
    if (id->subject == NULL)
        id->subject = g_strdup("");
    if (id->issuer == NULL)
        id->issuer = g_strdup("");
    if (id->certs->len > 0)
        load_chain(agent, id);
    return id;
}

static void
add_identity(struct agent_registry *reg, struct agent_identity *id)
{
    /* Two tokens may carry the same label: later ones get a suffix. */
    if (g_hash_table_contains(reg->by_name, id->name)) {
        char *base = id->name;
        for (int n = 2;; n++) {
            id->name = g_strdup_printf("%s~%d", base, n);
            if (!g_hash_table_contains(reg->by_name, id->name))
                break;
            g_free(id->name);
        }
        g_free(base);
    }
    g_ptr_array_add(agent_name_is_renewal_key(id->name) ? reg->renewal_keys
                                                        : reg->identities,
                    id);
    g_hash_table_insert(reg->by_name, id->name, id);
}

/* An absent token's identities stay listed, so clients hear "not present"
 * rather than "no such identity". */
static void
keep_identities(struct agent_registry *reg, const struct agent_registry *old,
                const struct agent_token *token)
{
    GPtrArray *kinds[] = {old ? old->identities : NULL,
                          old ? old->renewal_keys : NULL};
    for (size_t k = 0; k < G_N_ELEMENTS(kinds) && kinds[k] != NULL; k++)
        for (guint i = 0; i < kinds[k]->len; i++) {
            struct agent_identity *id = g_ptr_array_index(kinds[k], i);
            /* Shared with the old snapshot: never renamed, never doubled. */
            if (id->token == token &&
                !g_hash_table_contains(reg->by_name, id->name))
                add_identity(reg, agent_identity_ref(id));
        }
}

/* The identities on token as the token has them now: all, or those of
 * key_ids (GBytes). NULL when the token cannot be read. */
static GPtrArray *
read_keys(struct agent *agent, struct agent_token *token, GPtrArray *key_ids)
{
    CK_SESSION_HANDLE session;
    CK_RV rv = agent_token_session_acquire(token, &session);
    if (rv != CKR_OK) {
        g_warning("token \"%s\": cannot open a session: %s", token->label,
                  p11_kit_strerror(rv));
        return NULL;
    }
    GPtrArray *fresh =
        g_ptr_array_new_with_free_func((GDestroyNotify)agent_identity_unref);
    GPtrArray *entries = collect_keys(token, session, key_ids);
    for (guint i = 0; i < entries->len; i++) {
        struct agent_identity *id = identity_from_entry(
            agent, token, session, g_ptr_array_index(entries, i));
        if (id != NULL)
            g_ptr_array_add(fresh, id);
    }
    g_ptr_array_unref(entries);
    agent_token_session_release(token, session, FALSE);
    return fresh;
}

static void
scan_token(struct agent *agent, struct agent_registry *reg,
           const struct agent_registry *old, struct agent_token *token)
{
    /* A returning headless token logs in again from its file, once. */
    if (agent_token_check_presence(token) &&
        agent_pin_source(&agent->config, token->label) == AGENT_PIN_FILE)
        agent_token_login_from_file(agent, token);
    if (!g_atomic_int_get(&token->present)) {
        keep_identities(reg, old, token);
        return;
    }
    GPtrArray *found = read_keys(agent, token, NULL);
    for (guint i = 0; found != NULL && i < found->len; i++)
        add_identity(reg, agent_identity_ref(g_ptr_array_index(found, i)));
    if (found != NULL)
        g_ptr_array_unref(found);
}

/* Under rescan_lock: reg becomes the agent's registry. */
static void
publish(struct agent *agent, struct agent_registry *reg)
{
    g_mutex_lock(&agent->registry_lock);
    struct agent_registry *old = agent->registry;
    agent->registry = reg;
    g_mutex_unlock(&agent->registry_lock);
    agent_registry_unref(old);
}

static gboolean
refreshed(const struct agent_identity *id, const struct agent_token *token,
          GPtrArray *key_ids)
{
    for (guint i = 0; id->token == token && i < key_ids->len; i++)
        if (g_bytes_equal(id->key_id, g_ptr_array_index(key_ids, i)))
            return TRUE;
    return FALSE;
}

void
agent_registry_refresh_keys(struct agent *agent, struct agent_token *token,
                            GPtrArray *key_ids)
{
    GPtrArray *fresh = read_keys(agent, token, key_ids);
    if (fresh == NULL)
        return;
    struct agent_registry *old = agent->registry;
    struct agent_registry *reg = registry_new(g_ptr_array_ref(old->tokens));
    GPtrArray *kinds[] = {old->identities, old->renewal_keys};
    /* The list keeps its order: a name read again takes its old place (a
     * renewed NAME, now another key), the names that are new go last. */
    for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++)
        for (guint i = 0; i < kinds[k]->len; i++) {
            struct agent_identity *id = g_ptr_array_index(kinds[k], i);
            if (!refreshed(id, token, key_ids)) {
                add_identity(reg, agent_identity_ref(id));
                continue;
            }
            for (guint f = 0; f < fresh->len; f++) {
                struct agent_identity *now = g_ptr_array_index(fresh, f);
                if (strcmp(now->name, id->name) == 0) {
                    add_identity(reg, g_ptr_array_steal_index(fresh, f));
                    break;
                }
            }
        }
    for (guint i = 0; i < fresh->len; i++)
        add_identity(reg, agent_identity_ref(g_ptr_array_index(fresh, i)));
    g_ptr_array_unref(fresh);
    publish(agent, reg);
    agent_dbus_changed(agent);
}

void
agent_rescan(struct agent *agent)
{
    g_mutex_lock(&agent->rescan_lock);
    if (g_atomic_int_get(&agent->stopping)) {
        g_mutex_unlock(&agent->rescan_lock);
        return;
    }
    struct agent_registry *old = agent->registry;
    GPtrArray *tokens = old ? agent_tokens_merge(agent, old->tokens)
                            : agent_tokens_discover(agent);
    struct agent_registry *reg = registry_new(tokens);
    for (guint i = 0; i < tokens->len; i++)
        scan_token(agent, reg, old, g_ptr_array_index(tokens, i));

    g_info("%u identities on %u tokens", reg->identities->len, tokens->len);
    publish(agent, reg);
    g_mutex_unlock(&agent->rescan_lock);
    agent_dbus_changed(agent);
}

GBytes *
agent_leaf_of(struct agent *agent, const char *name)
{
    struct agent_registry *reg = agent_registry_get(agent);
    struct agent_identity *id = g_hash_table_lookup(reg->by_name, name);
    GBytes *leaf = id != NULL && id->certs->len > 0
                       ? g_bytes_ref(g_ptr_array_index(id->certs, 0))
                       : NULL;
    agent_registry_unref(reg);
    return leaf;
}

void
agent_leaf_copy(struct agent *agent, const char *name, struct tessera_blob *out)
{
    GBytes *leaf = agent_leaf_of(agent, name);
    if (leaf == NULL)
        return;
    gsize len;
    const void *der = g_bytes_get_data(leaf, &len);
    tessera_blob_copy(out, (struct tessera_bytes){der, len});
    g_bytes_unref(leaf);
}

static char *
dup_string(const char *s)
{
    return strdup(s ? s : "");
}

void
agent_identity_summary(const struct agent_identity *id,
                       struct tessera_identity_summary *out)
{
    struct agent_token *t = id->token;
    memset(out, 0, sizeof(*out));
    out->name = dup_string(id->name);
    out->token_label = dup_string(t->label);
    out->token_manufacturer = dup_string(t->manufacturer);
    out->token_model = dup_string(t->model);
    out->token_serial = dup_string(t->serial);
    gsize len;
    const void *key_id = g_bytes_get_data(id->key_id, &len);
    tessera_blob_copy(&out->key_id, (struct tessera_bytes){key_id, len});
    out->key_label = dup_string(id->key_label);
    out->key_type = (uint8_t)id->key_type;
    out->key_bits = id->key_bits;
    out->flags = 0;
    if (id->certs->len > 0)
        out->flags |= TESSERA_ID_HAS_CERT;
    if (g_atomic_int_get(&t->present))
        out->flags |= TESSERA_ID_TOKEN_PRESENT;
    if (t->read_only)
        out->flags |= TESSERA_ID_TOKEN_READ_ONLY;
    g_mutex_lock(&t->lock);
    if (t->logged_in)
        out->flags |= TESSERA_ID_LOGGED_IN;
    g_mutex_unlock(&t->lock);
    out->subject = dup_string(id->subject);
    out->not_after = id->not_after;
}

static void
copy_bytes(struct tessera_blob *dst, GBytes *src)
{
    gsize len;
    const void *data = g_bytes_get_data(src, &len);
    tessera_blob_copy(dst, (struct tessera_bytes){data, len});
}

void
agent_identity_export(const struct agent_identity *id,
                      struct tessera_identity *out)
{
    memset(out, 0, sizeof(*out));
    agent_identity_summary(id, &out->summary);
    copy_bytes(&out->spki, id->spki);
    for (guint i = 0; i < id->certs->len && i < TESSERA_CHAIN_MAX; i++)
        copy_bytes(&out->certs[out->n_certs++],
                   g_ptr_array_index(id->certs, i));
}

struct agent_token *
agent_find_token(struct agent_registry *reg, const char *spec,
                 struct tessera_status *st)
{
    struct tessera_p11uri uri;
    gboolean by_uri = g_str_has_prefix(spec, "pkcs11:");
    char err[256];
    if (by_uri && !tessera_p11uri_parse(spec, &uri, err, sizeof(err))) {
        tessera_status_set(st, TESSERA_ERR_INVALID, "%s", err);
        return NULL;
    }
    struct agent_token *found = NULL;
    guint matches = 0;
    for (guint i = 0; i < reg->tokens->len; i++) {
        struct agent_token *t = g_ptr_array_index(reg->tokens, i);
        gboolean match =
            spec[0] == '\0' ||
            (by_uri ? tessera_p11uri_match_token(
                          &uri, t->label, t->manufacturer, t->model, t->serial)
                    : strcmp(spec, t->label) == 0);
        if (match && matches++ == 0)
            found = t;
    }
    if (by_uri)
        tessera_p11uri_clear(&uri);
    if (matches == 1)
        return found;
    if (matches == 0)
        tessera_status_set(st, TESSERA_ERR_NO_TOKEN,
                           "no token matches \"%s\"; `tessera tokens` lists "
                           "them",
                           spec);
    else
        tessera_status_set(st, TESSERA_ERR_NO_TOKEN,
                           "%u tokens match \"%s\"; name one by its label or "
                           "a pkcs11: URI",
                           matches, spec);
    return NULL;
}
