/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Identities read from a token. Every key with a non-empty CKA_ID (a
 * private key, or before login the public key beside it) is an identity,
 * named from its label; with a certificate of the same CKA_ID it can be
 * presented. The public key comes from the certificate, and from the
 * token's key objects when there is no certificate yet.
 */
#include "identity.h"
#include "naming.h"
#include "objects.h"
#include "state.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

struct agent_identity {
    gint refcount;
    char *name;
    struct agent_token *token;
    GBytes *key_id;
    char *key_label;
    enum tessera_key_type key_type;
    unsigned key_bits;
    GBytes *spki;
    GPtrArray *certs;   /* GBytes DER, leaf first; empty without a cert */
    char *subject;      /* RFC 2253; "" without a certificate */
    char *issuer;       /* RFC 2253; "" without a certificate */
    guint64 not_before; /* seconds since the epoch; 0 without a certificate */
    guint64 not_after;
    unsigned char spki_hash[TESSERA_KEY_HASH_LEN]; /* SHA-256 of spki */
    gint64 key_handle; /* cached CK_OBJECT_HANDLE, -1 unknown; atomic */
    gboolean always_authenticate; /* CKA_ALWAYS_AUTHENTICATE on the key */
};

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
    token_unref(id->token);
    g_bytes_unref(id->key_id);
    g_bytes_unref(id->spki);
    g_ptr_array_unref(id->certs);
    g_free(id->name);
    g_free(id->key_label);
    g_free(id->subject);
    g_free(id->issuer);
    g_free(id);
}

void
agent_identity_rename(struct agent_identity *id, const char *name)
{
    g_free(id->name);
    id->name = g_strdup(name);
}

const char *
agent_identity_name(const struct agent_identity *id)
{
    return id->name;
}

struct agent_token *
agent_identity_token(const struct agent_identity *id)
{
    return id->token;
}

GBytes *
agent_identity_key_id(const struct agent_identity *id)
{
    return id->key_id;
}

enum tessera_key_type
agent_identity_key_type(const struct agent_identity *id)
{
    return id->key_type;
}

unsigned
agent_identity_key_bits(const struct agent_identity *id)
{
    return id->key_bits;
}

GBytes *
agent_identity_spki(const struct agent_identity *id)
{
    return id->spki;
}

gboolean
agent_identity_holds_key(const struct agent_identity *id, const uint8_t *hash,
                         size_t len)
{
    return len == 0 || (len == sizeof(id->spki_hash) &&
                        memcmp(hash, id->spki_hash, len) == 0);
}

GPtrArray *
agent_identity_certs(const struct agent_identity *id)
{
    return id->certs;
}

GBytes *
agent_identity_leaf(const struct agent_identity *id)
{
    return id->certs->len > 0 ? g_ptr_array_index(id->certs, 0) : NULL;
}

const char *
agent_identity_subject(const struct agent_identity *id)
{
    return id->subject;
}

const char *
agent_identity_issuer(const struct agent_identity *id)
{
    return id->issuer;
}

guint64
agent_identity_not_before(const struct agent_identity *id)
{
    return id->not_before;
}

guint64
agent_identity_not_after(const struct agent_identity *id)
{
    return id->not_after;
}

void
agent_identity_signing_key(struct agent_identity *id, struct token_key *out)
{
    *out = (struct token_key){id->name, id->key_id, &id->key_handle,
                              id->always_authenticate};
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

static void
add_to_entry(GHashTable *by_id, GPtrArray *entries,
             const struct token_object *o)
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
collect_keys(const struct token_session *s, GPtrArray *key_ids)
{
    /* Keys first, so that certificates find the entry of their key. */
    static const CK_OBJECT_CLASS classes[] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY,
                                              CKO_CERTIFICATE};
    GArray *objects = objects_list(s, key_ids);
    GPtrArray *entries =
        g_ptr_array_new_with_free_func((GDestroyNotify)key_entry_free);
    GHashTable *by_id = g_hash_table_new(g_bytes_hash, g_bytes_equal);
    for (size_t c = 0; c < G_N_ELEMENTS(classes); c++)
        for (guint i = 0; i < objects->len; i++) {
            const struct token_object *o =
                &g_array_index(objects, struct token_object, i);
            if (o->cls == classes[c] && o->id != NULL &&
                g_bytes_get_size(o->id) > 0)
                add_to_entry(by_id, entries, o);
        }
    objects_list_free(objects);
    g_hash_table_unref(by_id);
    return entries;
}

static struct agent_identity *
identity_from_entry(const struct token_session *s, const struct key_entry *e,
                    const struct agent_state *state)
{
    struct agent_token *token = s->token;
    struct agent_identity *id = g_new0(struct agent_identity, 1);
    id->refcount = 1;
    id->token = token_ref(token);
    id->key_id = g_bytes_ref(e->id);
    id->key_label = g_strdup(e->label ? e->label : "");
    id->certs = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    id->key_handle =
        e->private_key != CK_INVALID_HANDLE ? (gint64)e->private_key : -1;
    id->always_authenticate =
        e->private_key != CK_INVALID_HANDLE &&
        objects_flag(s, e->private_key, CKA_ALWAYS_AUTHENTICATE);
    id->name = naming_from_label(e->label, e->id);
    gboolean ok;
    GBytes *cert = e->cert != CK_INVALID_HANDLE
                       ? objects_value(s, e->cert, CKA_VALUE)
                       : NULL;
    if (cert != NULL) {
        ok = describe_certificate(id, cert);
        g_bytes_unref(cert);
    } else {
        CK_OBJECT_HANDLE key =
            e->public_key != CK_INVALID_HANDLE ? e->public_key : e->private_key;
        id->spki = objects_public_key(s, key);
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
               token_label(token), id->name);
        agent_identity_unref(id);
        return NULL;
    }
    if (id->subject == NULL)
        id->subject = g_strdup("");
    if (id->issuer == NULL)
        id->issuer = g_strdup("");
    if (id->certs->len > 0)
        state_chain_load(state, token_serial(token), id->key_id, id->certs);
    return id;
}

GPtrArray *
agent_identities_read(struct agent_token *token, GPtrArray *key_ids,
                      const struct agent_state *state)
{
    struct token_session s;
    struct tessera_status st = {0};
    if (token_session_take(token, &s, &st) < 0) {
        g_warning("%s", st.message);
        return NULL;
    }
    GPtrArray *fresh =
        g_ptr_array_new_with_free_func((GDestroyNotify)agent_identity_unref);
    GPtrArray *entries = collect_keys(&s, key_ids);
    for (guint i = 0; i < entries->len; i++) {
        struct agent_identity *id =
            identity_from_entry(&s, g_ptr_array_index(entries, i), state);
        if (id != NULL)
            g_ptr_array_add(fresh, id);
    }
    g_ptr_array_unref(entries);
    token_session_end(&s, FALSE);
    return fresh;
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
    out->token_label = dup_string(token_label(t));
    out->token_manufacturer = dup_string(token_manufacturer(t));
    out->token_model = dup_string(token_model(t));
    out->token_serial = dup_string(token_serial(t));
    gsize len;
    const void *key_id = g_bytes_get_data(id->key_id, &len);
    tessera_blob_copy(&out->key_id, (struct tessera_bytes){key_id, len});
    out->key_label = dup_string(id->key_label);
    out->key_type = (uint8_t)id->key_type;
    out->key_bits = id->key_bits;
    out->flags = 0;
    if (id->certs->len > 0)
        out->flags |= TESSERA_ID_HAS_CERT;
    if (token_present(t))
        out->flags |= TESSERA_ID_TOKEN_PRESENT;
    if (token_read_only(t))
        out->flags |= TESSERA_ID_TOKEN_READ_ONLY;
    if (token_logged_in(t))
        out->flags |= TESSERA_ID_LOGGED_IN;
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
