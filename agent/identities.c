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
    char *serial = sanitized_name(token_serial(token), key_id);
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
identity_from_entry(struct agent *agent, const struct token_session *s,
                    const struct key_entry *e)
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
    id->name = sanitized_name(e->label, e->id);
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
            identity_from_entry(agent, &s, g_ptr_array_index(entries, i));
        if (id != NULL)
            g_ptr_array_add(fresh, id);
    }
    g_ptr_array_unref(entries);
    token_session_end(&s, FALSE);
    return fresh;
}

/* One login from the token's pin-file. */
static gboolean
login_from_file(struct agent *agent, struct agent_token *token)
{
    char *path = agent_config_string(&agent->config, "token",
                                     token_label(token), "pin-file");
    gboolean ok = token_login_from_file(token, path);
    g_free(path);
    return ok;
}

gboolean
agent_tokens_login_from_config(struct agent *agent, struct agent_registry *reg)
{
    gboolean any = FALSE;
    for (guint i = 0; i < reg->tokens->len; i++) {
        struct agent_token *t = g_ptr_array_index(reg->tokens, i);
        if (agent_pin_source(&agent->config, token_label(t)) == AGENT_PIN_FILE)
            any = login_from_file(agent, t) || any;
    }
    return any;
}

static void
scan_token(struct agent *agent, struct agent_registry *reg,
           const struct agent_registry *old, struct agent_token *token)
{
    /* A returning headless token logs in again from its file, once. */
    if (token_check_presence(token) &&
        agent_pin_source(&agent->config, token_label(token)) == AGENT_PIN_FILE)
        login_from_file(agent, token);
    if (!token_present(token)) {
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
    unsigned max = agent->config.max_sessions;
    GPtrArray *tokens = old ? tokens_merge(agent->modules, max, old->tokens)
                            : tokens_discover(agent->modules, max);
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
                          &uri, token_label(t), token_manufacturer(t),
                          token_model(t), token_serial(t))
                    : strcmp(spec, token_label(t)) == 0);
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
