/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Putting identities on tokens: a key pair generated on the token (never
 * extractable, always sensitive), a CSR signed by it through the built-in
 * provider, and later the issued certificate stored beside the key.
 * Enrolment (issue: CA protocols) and renewal build on these two steps.
 */
#include "keys.h"
#include "../common/errors.h"
#include "../common/keyspec.h"
#include "agent.h"
#include "chaincheck.h"
#include "builtin.h"
#include "config.h"
#include "events.h"
#include "files.h"
#include "naming.h"
#include "objects.h"
#include "publish.h"
#include "registry.h"
#include "state.h"
#include "transitions.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <unistd.h>

#define KEY_ID_LEN 16

/*
 * "CN=alice,O=Corp" (RFC 4514: the most specific RDN first, so the last in
 * the DER) or "/O=Corp/CN=alice" (OpenSSL's: in DER order); "\," escapes a
 * comma.
 */
static X509_NAME *
parse_subject(const char *text)
{
    gboolean slashes = text[0] == '/';
    char sep = slashes ? '/' : ',';
    X509_NAME *name = X509_NAME_new();
    GString *part = g_string_new(NULL);
    const char *p = slashes ? text + 1 : text;
    gboolean ok = name != NULL && *p != '\0';
    for (; ok; p++) {
        if (*p == '\\' && p[1] != '\0') {
            g_string_append_c(part, *++p);
            continue;
        }
        if (*p != sep && *p != '\0') {
            g_string_append_c(part, *p);
            continue;
        }
        char *field = g_strstrip(part->str);
        char *eq = strchr(field, '=');
        ok = eq != NULL && eq != field && eq[1] != '\0';
        if (ok) {
            *eq = '\0';
            ok = X509_NAME_add_entry_by_txt(
                     name, g_strstrip(field), MBSTRING_UTF8,
                     (unsigned char *)eq + 1, -1, slashes ? -1 : 0, 0) == 1;
        }
        g_string_truncate(part, 0);
        if (*p == '\0')
            break;
    }
    g_string_free(part, TRUE);
    ERR_clear_error();
    if (!ok) {
        X509_NAME_free(name);
        return NULL;
    }
    return name;
}

char *
agent_subject_text(const X509_NAME *name)
{
    GString *text = g_string_new(NULL);
    /* RFC 4514's order, which parse_subject reads back: the last first. */
    int count = X509_NAME_entry_count(name);
    for (int i = 0; i < count; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, count - 1 - i);
        const ASN1_STRING *value = X509_NAME_ENTRY_get_data(e);
        unsigned char *utf8 = NULL;
        int len = ASN1_STRING_to_UTF8(&utf8, value);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        char oid[80];
        const char *key = OBJ_nid2sn(nid);
        if (nid == NID_undef || key == NULL) {
            OBJ_obj2txt(oid, sizeof(oid), X509_NAME_ENTRY_get_object(e), 1);
            key = oid;
        }
        g_string_append_printf(text, "%s%s=", i ? "," : "", key);
        for (int k = 0; k < len; k++) {
            if (utf8[k] == ',' || utf8[k] == '\\')
                g_string_append_c(text, '\\');
            g_string_append_c(text, (char)utf8[k]);
        }
        OPENSSL_free(utf8);
    }
    return g_string_free(text, FALSE);
}

GBytes *
agent_new_key_id(void)
{
    uint8_t id[KEY_ID_LEN];
    if (RAND_bytes(id, sizeof(id)) != 1)
        return NULL;
    return g_bytes_new(id, sizeof(id));
}

/* Our SAN spellings, and OpenSSL's configuration syntax for each. */
static const struct {
    const char *ours, *openssl;
} san_kinds[] = {
    {"dns:", "DNS:"},
    {"email:", "email:"},
    {"uri:", "URI:"},
    {"ip:", "IP:"},
    /* Microsoft's user principal name, as Windows and RADIUS servers read. */
    {"upn:", "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:"},
};

/*
 * "dns:host", "email:a@b", "uri:...", "ip:addr", "upn:a@corp" into a
 * subjectAltName extension. Values go into OpenSSL's configuration syntax,
 * so the characters that syntax gives meaning to are refused, not escaped.
 */
X509_EXTENSION *
agent_san_extension(char *const *sans, size_t n_sans, struct tessera_status *st)
{
    GString *conf = g_string_new(NULL);
    for (size_t i = 0; i < n_sans; i++) {
        const char *san = sans[i], *value = NULL;
        size_t k;
        for (k = 0; k < G_N_ELEMENTS(san_kinds); k++) {
            if (g_str_has_prefix(san, san_kinds[k].ours)) {
                value = san + strlen(san_kinds[k].ours);
                break;
            }
        }
        gboolean clean = value != NULL && value[0] != '\0';
        for (const char *p = value; clean && *p; p++)
            clean = g_ascii_isgraph(*p) && !strchr(",;\\\"'", *p);
        if (!clean) {
            tessera_status_set(st, TESSERA_ERR_INVALID,
                               "cannot use subject alternative name \"%s\": "
                               "write dns:NAME, email:ADDR, uri:URI, ip:ADDR "
                               "or upn:NAME, without , ; \\ or quotes",
                               san);
            g_string_free(conf, TRUE);
            return NULL;
        }
        g_string_append_printf(conf, "%s%s%s", i ? "," : "",
                               san_kinds[k].openssl, value);
    }
    X509_EXTENSION *ext =
        X509V3_EXT_nconf_nid(NULL, NULL, NID_subject_alt_name, conf->str);
    if (ext == NULL)
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "cannot use the subject alternative names %s: %s",
                           conf->str,
                           ERR_reason_error_string(ERR_peek_last_error()));
    ERR_clear_error();
    g_string_free(conf, TRUE);
    return ext;
}

/* One name of a certificate in our spelling, or NULL for a kind a CSR
 * of ours cannot ask for. */
static char *
san_spelling(const GENERAL_NAME *n)
{
    ASN1_OBJECT *other_oid = NULL;
    ASN1_TYPE *other = NULL;
    const ASN1_STRING *text = n->type == GEN_DNS     ? n->d.dNSName
                              : n->type == GEN_EMAIL ? n->d.rfc822Name
                              : n->type == GEN_URI
                                  ? n->d.uniformResourceIdentifier
                                  : NULL;
    const char *kind = n->type == GEN_DNS     ? "dns:"
                       : n->type == GEN_EMAIL ? "email:"
                                              : "uri:";
    if (n->type == GEN_OTHERNAME &&
        GENERAL_NAME_get0_otherName(n, &other_oid, &other) &&
        OBJ_obj2nid(other_oid) == NID_ms_upn &&
        ASN1_TYPE_get(other) == V_ASN1_UTF8STRING) {
        text = other->value.utf8string;
        kind = "upn:";
    }
    if (text != NULL)
        return g_strdup_printf("%s%.*s", kind, ASN1_STRING_length(text),
                               (const char *)ASN1_STRING_get0_data(text));
    if (n->type == GEN_IPADD &&
        (n->d.ip->length == 4 || n->d.ip->length == 16)) {
        char addr[INET6_ADDRSTRLEN];
        if (inet_ntop(n->d.ip->length == 4 ? AF_INET : AF_INET6, n->d.ip->data,
                      addr, sizeof(addr)) != NULL)
            return g_strdup_printf("ip:%s", addr);
    }
    return NULL;
}

char **
agent_sans_of(X509 *x, struct tessera_status *st)
{
    GENERAL_NAMES *names =
        X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int n = sk_GENERAL_NAME_num(names);
    char **sans = g_new0(char *, n > 0 ? n + 1 : 1);
    for (int i = 0; i < n && sans != NULL; i++) {
        sans[i] = san_spelling(sk_GENERAL_NAME_value(names, i));
        if (sans[i] == NULL) {
            tessera_status_set(st, TESSERA_ERR_INVALID,
                               "the certificate names a subject alternative "
                               "name of a kind a renewal cannot ask for (only "
                               "dns, email, uri, ip and upn)");
            g_clear_pointer(&sans, g_strfreev);
        }
    }
    GENERAL_NAMES_free(names);
    ERR_clear_error();
    return sans;
}

static gboolean
add_extensions(X509_REQ *req, X509_EXTENSION *san)
{
    if (san == NULL)
        return TRUE;
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    gboolean ok = exts != NULL && sk_X509_EXTENSION_push(exts, san) > 0 &&
                  X509_REQ_add_extensions(req, exts);
    sk_X509_EXTENSION_free(exts); /* san stays the caller's */
    return ok;
}

static int
build_csr(struct agent *agent, const char *name, X509_NAME *subject,
          X509_EXTENSION *san, struct tessera_blob *csr_der,
          struct tessera_status *st)
{
    struct agent_identity *id = agent_identity_find(agent, name);
    OSSL_LIB_CTX *libctx = agent_builtin_libctx(agent);
    EVP_PKEY *pub = NULL, *priv = NULL;
    X509_REQ *req = X509_REQ_new_ex(libctx, NULL);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    int len = -1;
    if (id != NULL) {
        gsize spki_len;
        const unsigned char *p =
            g_bytes_get_data(agent_identity_spki(id), &spki_len);
        pub = d2i_PUBKEY_ex(NULL, &p, (long)spki_len, libctx, NULL);
        priv = agent_load_private_key(agent, name, st);
    } else {
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "the new key %s did not appear on the token", name);
    }
    if (pub != NULL && priv != NULL && req != NULL && mctx != NULL &&
        X509_REQ_set_version(req, X509_REQ_VERSION_1) &&
        X509_REQ_set_subject_name(req, subject) &&
        X509_REQ_set_pubkey(req, pub) && add_extensions(req, san) &&
        EVP_DigestSignInit_ex(mctx, NULL,
                              agent_identity_key_type(id) == TESSERA_KEY_ED25519
                                  ? NULL
                                  : "SHA256",
                              libctx, NULL, priv, NULL) == 1 &&
        X509_REQ_sign_ctx(req, mctx) > 0)
        len = i2d_X509_REQ(req, &der);
    if (len > 0) {
        tessera_blob_copy(csr_der, (struct tessera_bytes){der, (size_t)len});
    } else if (priv != NULL) {
        tessera_status_set(st, TESSERA_ERR_TOKEN_FAILED,
                           "cannot sign the certificate request with %s: %s",
                           name,
                           ERR_reason_error_string(ERR_peek_last_error()));
    }
    ERR_clear_error();
    OPENSSL_free(der);
    EVP_MD_CTX_free(mctx);
    X509_REQ_free(req);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(priv);
    agent_identity_unref(id);
    return len > 0 ? 0 : -1;
}

int
agent_make_csr(struct agent *agent, const char *key_name, const char *subject,
               X509_EXTENSION *san, struct tessera_blob *csr_der,
               struct tessera_status *st)
{
    X509_NAME *name = parse_subject(subject);
    int rc = -1;
    if (name == NULL)
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "cannot parse subject \"%s\"", subject);
    else
        rc = build_csr(agent, key_name, name, san, csr_der, st);
    X509_NAME_free(name);
    return rc;
}

static gboolean
token_usable(struct agent_token *token, struct tessera_status *st)
{
    if (!token_logged_in(token) && token_login_required(token)) {
        tessera_status_set(st, TESSERA_ERR_TOKEN_LOCKED,
                           "token \"%s\" is locked: run `tessera unlock`",
                           token_label(token));
        return FALSE;
    }
    return TRUE;
}

struct agent_token *
agent_keygen_token(struct agent *agent,
                   const struct tessera_keygen_request *req,
                   struct tessera_keyspec *spec, struct tessera_status *st)
{
    if (!naming_valid(req->name)) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "\"%s\" is not a usable identity name: use up to "
                           "64 letters, digits and . _ @ + -",
                           req->name);
        return NULL;
    }
    if (!tessera_keyspec_parse(req->key_spec, spec)) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "unknown key type \"%s\": use ec-p256, ec-p384, "
                           "rsa2048, rsa3072, rsa4096 or ed25519",
                           req->key_spec);
        return NULL;
    }
    X509_NAME *subject = parse_subject(req->subject);
    if (subject == NULL) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "cannot parse subject \"%s\": write it as "
                           "CN=alice,O=Example",
                           req->subject);
        return NULL;
    }
    X509_NAME_free(subject);
    struct agent_registry *reg = agent_registry_get(agent);
    struct agent_token *token = NULL;
    if (agent_registry_lookup(reg, req->name) != NULL)
        tessera_status_set(st, TESSERA_ERR_EXISTS,
                           "an identity named %s exists already", req->name);
    else if ((token = agent_registry_find_token(reg, req->token, st)) != NULL)
        token_ref(token);
    agent_registry_unref(reg);
    if (token != NULL && token_read_only(token)) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "token \"%s\" is read-only: it cannot generate "
                           "keys (a card whose keys were made elsewhere); "
                           "enrol on another token",
                           token_label(token));
        g_clear_pointer(&token, token_unref);
    }
    if (token != NULL &&
        (!token_can_make(token, spec, st) || !token_usable(token, st)))
        g_clear_pointer(&token, token_unref);
    return token;
}

int
agent_keygen(struct agent *agent, const struct tessera_keygen_request *req,
             char *const *sans, size_t n_sans, struct tessera_blob *csr_der,
             struct tessera_status *st)
{
    struct tessera_keyspec spec;
    /* Every check before anything touches the token. */
    X509_EXTENSION *san =
        n_sans > 0 ? agent_san_extension(sans, n_sans, st) : NULL;
    if (n_sans > 0 && san == NULL)
        return -1;
    struct agent_token *token = agent_keygen_token(agent, req, &spec, st);
    if (token == NULL) {
        X509_EXTENSION_free(san);
        return -1;
    }
    X509_NAME *subject = parse_subject(req->subject);
    GBytes *key_id = agent_new_key_id();
    int rc = -1;
    if (key_id != NULL)
        agent_events_progress(agent->events, req->name, TESSERA_STEP_GENERATING,
                              0, "generating a %s key on token \"%s\"",
                              req->key_spec, token_label(token));
    if (key_id == NULL)
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "cannot draw a random key id");
    else if (agent_generate_key(token, req->name, &spec, key_id, st) == 0) {
        g_message("generated %s key %s on token \"%s\"", req->key_spec,
                  req->name, token_label(token));
        agent_rescan(agent);
        rc = csr_der != NULL
                 ? build_csr(agent, req->name, subject, san, csr_der, st)
                 : 0;
        if (rc < 0) {
            /* Nothing half-made stays behind on the token. */
            struct tessera_status ignored = {0};
            agent_destroy_key_objects(token, key_id, FALSE, &ignored);
            agent_rescan(agent);
        }
    }
    if (key_id != NULL)
        g_bytes_unref(key_id);
    token_unref(token);
    X509_NAME_free(subject);
    X509_EXTENSION_free(san);
    return rc;
}

int
agent_generate_key(struct agent_token *token, const char *label,
                   const struct tessera_keyspec *spec, GBytes *key_id,
                   struct tessera_status *st)
{
    struct token_session s;
    if (token_session_open(token, "generate a key", &s, st) < 0)
        return -1;
    int rc = objects_generate_key_pair(&s, label, spec, OBJECTS_SIGN_ONLY,
                                       key_id, st);
    token_session_end(&s, FALSE);
    return rc;
}

static int
store_certificate(struct agent_token *token, const char *label, GBytes *key_id,
                  X509 *x, const struct tessera_blob *der,
                  struct tessera_status *st)
{
    struct token_session s;
    if (token_session_open(token, "store the certificate", &s, st) < 0)
        return -1;
    int rc = objects_store_certificate(&s, label, key_id, x, der->data,
                                       der->len, st);
    token_session_end(&s, FALSE);
    return rc;
}

gboolean
agent_certificate_matches_key(X509 *x, GBytes *spki)
{
    gsize len;
    const unsigned char *p = g_bytes_get_data(spki, &len);
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)len);
    gboolean match = key != NULL && EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1;
    EVP_PKEY_free(key);
    return match;
}

int
agent_store_certificates(struct agent *agent, struct agent_token *token,
                         GBytes *key_id, const char *label,
                         const struct tessera_blob *certs, size_t n_certs,
                         struct tessera_status *st)
{
    X509 *leaf = agent_certificate_parse(&certs[0]);
    struct tessera_status why = {0};
    int rc = -1;
    if (leaf == NULL) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "the certificate for %s is not valid DER X.509",
                           label);
    } else if (n_certs > 1 &&
               state_chain_save(agent->state, token_serial(token), key_id,
                                certs, n_certs, &why) < 0) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "cannot keep the chain of %s: %s", label,
                           why.message);
    } else {
        rc = store_certificate(token, label, key_id, leaf, &certs[0], st);
        if (rc < 0 && n_certs > 1)
            state_chain_remove(agent->state, token_serial(token), key_id);
    }
    X509_free(leaf);
    return rc;
}

/* The new certificate beside the key, then the key's others go (as a
 * renewal that keeps its key does), so the key is never without one. */
static int
replace_certificate(struct agent *agent, struct agent_identity *id,
                    const struct tessera_import_request *req,
                    struct tessera_status *st)
{
    struct agent_token *token = agent_identity_token(id);
    GBytes *key_id = agent_identity_key_id(id);
    GPtrArray *chain =
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    for (size_t i = 0; i < req->n_certs; i++)
        g_ptr_array_add(chain,
                        g_bytes_new(req->certs[i].data, req->certs[i].len));
    int rc = transition_store(agent, token, req->name, key_id, TRUE, chain, st);
    /* The chain kept for the old certificate is not the new one's. */
    if (rc == 0 && req->n_certs == 1)
        state_chain_remove(agent->state, token_serial(token), key_id);
    g_ptr_array_unref(chain);
    return rc;
}

/* What clients could not load of an imported chain for the key spki. */
static char *
chain_unusable(const struct tessera_import_request *req, GBytes *spki)
{
    gsize len;
    const unsigned char *p = g_bytes_get_data(spki, &len);
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)len);
    char *why = key == NULL ? g_strdup_printf("the key of identity %s cannot "
                                              "be read",
                                              req->name)
                            : agent_chain_unusable(req->name, req->certs,
                                                   req->n_certs, key, FALSE);
    EVP_PKEY_free(key);
    return why;
}

int
agent_import(struct agent *agent, const struct tessera_import_request *req,
             struct tessera_status *st)
{
    struct agent_identity *id = agent_identity_find(agent, req->name);
    char *unusable = NULL;
    int rc = -1;
    if (id == NULL) {
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "no key named %s: make one with `tessera keygen`",
                           req->name);
    } else if (agent_identity_leaf(id) != NULL && !req->replace) {
        tessera_status_set(st, TESSERA_ERR_EXISTS,
                           "identity %s has a certificate already; `tessera "
                           "import --replace` stores one reissued for the "
                           "same key",
                           req->name);
    } else if ((unusable = chain_unusable(req, agent_identity_spki(id))) !=
               NULL) {
        tessera_status_set(st, TESSERA_ERR_INVALID, "%s", unusable);
    } else if (token_usable(agent_identity_token(id), st)) {
        rc =
            agent_identity_leaf(id) != NULL
                ? replace_certificate(agent, id, req, st)
                : agent_store_certificates(agent, agent_identity_token(id),
                                           agent_identity_key_id(id), req->name,
                                           req->certs, req->n_certs, st);
    }
    g_free(unusable);
    agent_identity_unref(id);
    if (rc == 0) {
        g_message("stored the certificate of identity %s%s", req->name,
                  req->replace ? " (replacing its certificate)" : "");
        agent_rescan(agent);
        agent_publish_certificate(agent, req->name);
    }
    return rc;
}

gboolean
agent_destroy_key_objects(struct agent_token *token, GBytes *key_id,
                          gboolean certificates_only, struct tessera_status *st)
{
    static const CK_OBJECT_CLASS classes[] = {CKO_CERTIFICATE, CKO_PRIVATE_KEY,
                                              CKO_PUBLIC_KEY};
    struct token_session s;
    if (token_session_open(token, "delete objects", &s, st) < 0)
        return -1;
    int rc = 0;
    for (size_t c = 0; c < G_N_ELEMENTS(classes); c++)
        if ((!certificates_only || classes[c] == CKO_CERTIFICATE) &&
            objects_destroy(&s, key_id, NULL, classes[c], NULL, st) < 0)
            rc = -1;
    token_session_end(&s, FALSE);
    return rc;
}

int
agent_delete_identity(struct agent *agent, const char *name,
                      gboolean certificates_only, struct tessera_status *st)
{
    struct agent_identity *id = agent_identity_find(agent, name);
    const char *what =
        certificates_only ? "certificate" : "key and certificate";
    struct tessera_status why = {0};
    int rc = -1;
    if (id == NULL)
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "no identity named \"%s\"", name);
    else if (agent_destroy_key_objects(agent_identity_token(id),
                                       agent_identity_key_id(id),
                                       certificates_only, &why) < 0)
        tessera_status_set(st, TESSERA_ERR_TOKEN_FAILED,
                           "could not delete every object of %s from its "
                           "token: %s",
                           name, why.message);
    else
        rc = 0;
    if (rc == 0) {
        state_chain_remove(agent->state, token_serial(agent_identity_token(id)),
                           agent_identity_key_id(id));
        g_message("deleted the %s of identity %s from its token", what, name);
    } else {
        g_warning("%s", st->message);
    }
    agent_identity_unref(id);
    agent_rescan(agent);
    return rc;
}
