/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACME (RFC 8555): account, order, authorizations, finalize with the
 * token-signed CSR, certificate download. Profile keys:
 *   protocol=acme
 *   url=https://ca.example/directory
 *   tls-ca=/path/bundle.pem      who may serve url (default: system store)
 *   trust=/path/roots.pem        what the issued chain must lead to
 *   account-key=token            (default) an EC P-256 key named
 *                                acme-account.PROFILE on the enrolment's
 *                                token, made on first use; or a PEM file
 *   contact=mailto:admin@example.com
 * Tessera answers no challenge itself: it asks the CA to validate each
 * pending authorization and waits, which suits CAs that authorize the
 * account's identifiers by their own policy (pebble's always-valid mode in
 * the tests). Identifiers are the request's dns: and ip: names.
 */
#include "acme_msg.h"
#include "enroll.h"
#include "http.h"
#include "../builtin.h"
#include "../keys.h"
#include "../naming.h"
#include "../registry.h"
#include "../../common/pinfile.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

#define ACCOUNT_KEY_SPEC "ec-p256"
#define NONCE_RETRIES 3
#define POLL_SECONDS_MAX 10

struct acme_session {
    const struct enroll_profile *ca;
    EVP_PKEY *key; /* signs: on the token or from a file */
    const char *alg;
    JsonNode *jwk;
    char *kid; /* the account URL, once known */
    char *nonce;
    struct acme_directory dir;
    gint64 deadline; /* monotonic */
};

/* ---- the account key ---- */

static JsonNode *
jwk_of(EVP_PKEY *pub)
{
    JsonBuilder *b = json_builder_new();
    BIGNUM *n = NULL, *e = NULL;
    unsigned char point[133];
    size_t point_len = 0;
    json_builder_begin_object(b);
    if (EVP_PKEY_is_a(pub, "EC") &&
        EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_PUB_KEY, point,
                                        sizeof(point), &point_len) &&
        point_len == 65 && point[0] == 0x04) {
        char *x = acme_base64url(point + 1, 32),
             *y = acme_base64url(point + 33, 32);
        json_builder_set_member_name(b, "crv");
        json_builder_add_string_value(b, "P-256");
        json_builder_set_member_name(b, "kty");
        json_builder_add_string_value(b, "EC");
        json_builder_set_member_name(b, "x");
        json_builder_add_string_value(b, x);
        json_builder_set_member_name(b, "y");
        json_builder_add_string_value(b, y);
        g_free(x);
        g_free(y);
    } else if (EVP_PKEY_is_a(pub, "RSA") &&
               EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &n) &&
               EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_E, &e)) {
        unsigned char *nb = g_malloc(BN_num_bytes(n)),
                      *eb = g_malloc(BN_num_bytes(e));
        char *n64 = acme_base64url(nb, (gsize)BN_bn2bin(n, nb));
        char *e64 = acme_base64url(eb, (gsize)BN_bn2bin(e, eb));
        json_builder_set_member_name(b, "e");
        json_builder_add_string_value(b, e64);
        json_builder_set_member_name(b, "kty");
        json_builder_add_string_value(b, "RSA");
        json_builder_set_member_name(b, "n");
        json_builder_add_string_value(b, n64);
        g_free(nb);
        g_free(eb);
        g_free(n64);
        g_free(e64);
    }
    json_builder_end_object(b);
    JsonNode *jwk = json_builder_get_root(b);
    g_object_unref(b);
    BN_free(n);
    BN_free(e);
    if (json_object_get_size(json_node_get_object(jwk)) == 0) {
        json_node_unref(jwk);
        return NULL;
    }
    return jwk;
}

/* The public half of a token identity, from what the agent discovered. */
static EVP_PKEY *
identity_public_key(struct agent *agent, const char *name)
{
    struct agent_identity *id = agent_identity_find(agent, name);
    EVP_PKEY *pub = NULL;
    if (id != NULL) {
        gsize len;
        const unsigned char *p =
            g_bytes_get_data(agent_identity_spki(id), &len);
        pub = d2i_PUBKEY(NULL, &p, (long)len);
    }
    agent_identity_unref(id);
    return pub;
}

/* acme-account.PROFILE on the enrolment's token, generated on first use. */
static EVP_PKEY *
token_account_key(const struct enroll_profile *ca, EVP_PKEY **pub,
                  char **reason)
{
    char *name = g_strconcat(NAMING_ACME_ACCOUNT_PREFIX, ca->name, NULL);
    struct tessera_status st = {0};
    EVP_PKEY *key = NULL;
    *pub = identity_public_key(ca->agent, name);
    if (*pub == NULL) {
        char *subject = g_strdup_printf("CN=%s", name);
        struct tessera_keygen_request req = {name, (char *)ca->token,
                                             ACCOUNT_KEY_SPEC, subject};
        if (agent_keygen(ca->agent, &req, NULL, 0, NULL, &st) == 0) {
            g_message("CA %s: made the ACME account key %s on the token",
                      ca->name, name);
            *pub = identity_public_key(ca->agent, name);
        }
        g_free(subject);
    }
    if (*pub != NULL)
        key = agent_load_private_key(ca->agent, name, &st);
    if (key == NULL)
        *reason = g_strdup_printf("cannot use the ACME account key %s: %s",
                                  name, st.message);
    g_free(name);
    return key;
}

static gboolean
load_account_key(struct acme_session *s, char **reason)
{
    const char *where = s->ca->profile->account_key;
    EVP_PKEY *pub = NULL;
    if (where == NULL || strcmp(where, "token") == 0) {
        s->key = token_account_key(s->ca, &pub, reason);
    } else if ((s->key = enroll_read_private_key(where)) != NULL) {
        pub = s->key;
        EVP_PKEY_up_ref(pub);
    } else {
        *reason = g_strdup_printf("cannot read the ACME account key %s", where);
    }
    if (s->key != NULL) {
        s->alg = EVP_PKEY_is_a(pub, "EC") ? "ES256" : "RS256";
        s->jwk = jwk_of(pub);
        if (s->jwk == NULL)
            *reason = g_strdup("the ACME account key must be EC P-256 or RSA");
    }
    EVP_PKEY_free(pub);
    ERR_clear_error();
    return s->jwk != NULL;
}

/* ---- JWS (RFC 7515, flattened JSON serialization) ---- */

/* ES256 wants r || s of 32 bytes each, not DER. */
static char *
signature_b64(struct acme_session *s, const char *input)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    unsigned char der[1024], raw[64];
    size_t len = sizeof(der);
    char *out = NULL;
    if (mctx != NULL &&
        EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, s->key, NULL) ==
            1 &&
        EVP_DigestSign(mctx, der, &len, (const unsigned char *)input,
                       strlen(input)) == 1) {
        if (strcmp(s->alg, "RS256") == 0) {
            out = acme_base64url(der, len);
        } else {
            const unsigned char *p = der;
            ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
            if (sig != NULL &&
                BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) == 32 &&
                BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) == 32)
                out = acme_base64url(raw, sizeof(raw));
            ECDSA_SIG_free(sig);
        }
    }
    ERR_clear_error();
    EVP_MD_CTX_free(mctx);
    return out;
}

/* payload NULL: POST-as-GET, an empty payload. */
static char *
jws(struct acme_session *s, const char *url, JsonNode *payload)
{
    JsonObject *protected = json_object_new();
    json_object_set_string_member(protected, "alg", s->alg);
    if (s->kid != NULL)
        json_object_set_string_member(protected, "kid", s->kid);
    else
        json_object_set_member(protected, "jwk", json_node_copy(s->jwk));
    json_object_set_string_member(protected, "nonce", s->nonce);
    json_object_set_string_member(protected, "url", url);
    JsonNode *node = json_node_init_object(json_node_alloc(), protected);
    char *header = acme_json_text(node);
    char *body = payload ? acme_json_text(payload) : g_strdup("");
    char *header64 = acme_base64url(header, strlen(header));
    char *body64 = acme_base64url(body, strlen(body));
    char *input = g_strconcat(header64, ".", body64, NULL);
    char *sig64 = signature_b64(s, input);
    char *out = NULL;
    if (sig64 != NULL)
        out = g_strdup_printf(
            "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}",
            header64, body64, sig64);
    json_node_unref(node);
    json_object_unref(protected);
    g_free(header);
    g_free(body);
    g_free(header64);
    g_free(body64);
    g_free(input);
    g_free(sig64);
    return out;
}

/* ---- requests ---- */

static gboolean
fetch_nonce(struct acme_session *s, char **reason)
{
    struct http_request req = {
        .method = "HEAD", .url = s->dir.new_nonce, .reply_max = ACME_BODY_MAX};
    struct http_reply reply;
    gboolean ok = enroll_http(s->ca, &req, &reply, reason);
    if (ok && reply.replay_nonce == NULL) {
        *reason = g_strdup_printf("%s gave no Replay-Nonce", req.url);
        ok = FALSE;
    }
    if (ok) {
        g_free(s->nonce);
        s->nonce = g_steal_pointer(&reply.replay_nonce);
    }
    http_reply_clear(&reply);
    return ok;
}

/* How a 4xx/5xx answer with an ACME problem counts. */
static enum enroll_outcome
problem_outcome(const struct http_reply *reply, const char *url, char **reason)
{
    struct acme_problem problem;
    acme_parse_problem((const char *)reply->body->data, reply->body->len,
                       &problem);
    *reason = g_strdup_printf("%s answered %ld (%s): %s", url, reply->status,
                              problem.type, problem.detail);
    acme_problem_clear(&problem);
    return reply->status >= 500 ? ENROLL_UNREACHABLE : ENROLL_REJECTED;
}

static gboolean
bad_nonce(const struct http_reply *reply)
{
    struct acme_problem problem;
    if (reply->status != 400)
        return FALSE;
    acme_parse_problem((const char *)reply->body->data, reply->body->len,
                       &problem);
    gboolean bad = strcmp(problem.type, "badNonce") == 0;
    acme_problem_clear(&problem);
    return bad;
}

/*
 * A signed POST; retried with the fresh nonce when the server calls the
 * last one bad (RFC 8555, section 6.5). ENROLL_ISSUED stands for "2xx".
 */
static enum enroll_outcome
post(struct acme_session *s, const char *url, JsonNode *payload,
     struct http_reply *reply, char **reason)
{
    for (int attempt = 0;; attempt++) {
        if (s->nonce == NULL && !fetch_nonce(s, reason))
            return ENROLL_UNREACHABLE;
        char *body = jws(s, url, payload);
        if (body == NULL) {
            *reason = g_strdup("cannot sign the ACME request with the "
                               "account key");
            return ENROLL_UNREACHABLE;
        }
        struct http_request req = {.method = "POST",
                                   .url = url,
                                   .content_type = "application/jose+json",
                                   .body = body,
                                   .body_len = strlen(body),
                                   .reply_max = ACME_BODY_MAX};
        gboolean sent = enroll_http(s->ca, &req, reply, reason);
        g_free(body);
        g_clear_pointer(&s->nonce, g_free);
        if (!sent)
            return ENROLL_UNREACHABLE;
        s->nonce = g_steal_pointer(&reply->replay_nonce);
        if (reply->status >= 200 && reply->status < 300)
            return ENROLL_ISSUED;
        if (attempt + 1 < NONCE_RETRIES && bad_nonce(reply)) {
            http_reply_clear(reply);
            continue;
        }
        return problem_outcome(reply, url, reason);
    }
}

static gboolean
past_deadline(struct acme_session *s, long wait, char **reason)
{
    if (g_get_monotonic_time() + wait * G_USEC_PER_SEC <= s->deadline)
        return FALSE;
    *reason = g_strdup("the ACME server took longer than command-timeout");
    return TRUE;
}

/* TRUE when the wait was cut short: the agent stops. */
static gboolean
wait_before_polling(const struct enroll_profile *ca,
                    const struct http_reply *reply)
{
    long seconds = reply->retry_after > 0 ? reply->retry_after : 1;
    return enroll_wait(ca, MIN(seconds, POLL_SECONDS_MAX));
}

/* ---- the flow ---- */

static enum enroll_outcome
get_directory(struct acme_session *s, char **reason)
{
    const char *url = s->ca->profile->url;
    struct http_request req = {
        .method = "GET", .url = url, .reply_max = ACME_BODY_MAX};
    struct http_reply reply = {0};
    enum enroll_outcome outcome = ENROLL_UNREACHABLE;
    char *why = NULL;
    if (enroll_http(s->ca, &req, &reply, reason) && reply.status != 200)
        *reason = g_strdup_printf("%s answered %ld", url, reply.status);
    else if (reply.body != NULL && reply.status == 200 &&
             !acme_parse_directory((const char *)reply.body->data,
                                   reply.body->len, &s->dir, &why)) {
        *reason = g_strdup_printf("%s is not an ACME directory: %s", url, why);
        outcome = ENROLL_BAD_RESPONSE;
    } else if (reply.status == 200) {
        outcome = ENROLL_ISSUED;
    }
    http_reply_clear(&reply);
    g_free(why);
    return outcome;
}

static const struct tessera_secret_kind eab_key_file = {
    "eab-hmac-key-file", "base64url HMAC key", TESSERA_SECRET_LINE_MAX};

/*
 * The externalAccountBinding of the profile's eab-kid, its key read from
 * eab-hmac-key-file at each use and wiped; NULL with *reason when there
 * is none to give and the server requires one, or the key file is bad.
 */
static gboolean
external_binding(struct acme_session *s, JsonNode **binding, char **reason)
{
    const struct config_ca *p = s->ca->profile;
    char text[TESSERA_SECRET_LINE_MAX + 1];
    gsize text_len = 0, key_len = 0;
    struct tessera_status st = {0};
    char *why = NULL;
    *binding = NULL;
    if (p->eab_kid == NULL) {
        if (s->dir.external_account_required)
            *reason = g_strdup(
                "the ACME server requires an external account binding: set "
                "eab-kid= and eab-hmac-key-file= to what the CA gave");
        return !s->dir.external_account_required;
    }
    if (!tessera_read_secret_file(p->eab_hmac_key_file, &eab_key_file, text,
                                  sizeof(text), &text_len, &st)) {
        *reason = g_strdup(st.message);
        return FALSE;
    }
    guint8 *key = acme_eab_key_decode(text, text_len, &key_len, &why);
    explicit_bzero(text, sizeof(text));
    if (key == NULL) {
        *reason = g_strdup_printf("eab-hmac-key-file %s %s",
                                  p->eab_hmac_key_file, why);
        g_free(why);
        return FALSE;
    }
    *binding =
        acme_eab_binding(p->eab_kid, key, key_len, s->jwk, s->dir.new_account);
    explicit_bzero(key, key_len);
    g_free(key);
    if (*binding == NULL)
        *reason = g_strdup("cannot compute the external account binding "
                           "(HMAC-SHA256)");
    return *binding != NULL;
}

static enum enroll_outcome
register_account(struct acme_session *s, char **reason)
{
    const char *contact = s->ca->profile->contact;
    JsonNode *binding;
    if (!external_binding(s, &binding, reason))
        return s->ca->profile->eab_kid == NULL ? ENROLL_REJECTED
                                               : ENROLL_UNREACHABLE;
    JsonObject *o = json_object_new();
    json_object_set_boolean_member(o, "termsOfServiceAgreed", TRUE);
    if (binding != NULL)
        json_object_set_member(o, "externalAccountBinding", binding);
    if (contact != NULL) {
        JsonArray *a = json_array_new();
        json_array_add_string_element(a, contact);
        json_object_set_array_member(o, "contact", a);
    }
    JsonNode *payload = json_node_init_object(json_node_alloc(), o);
    struct http_reply reply = {0};
    enum enroll_outcome outcome =
        post(s, s->dir.new_account, payload, &reply, reason);
    if (outcome == ENROLL_ISSUED &&
        (s->kid = g_strdup(reply.location)) == NULL) {
        *reason = g_strdup("the new account has no Location");
        outcome = ENROLL_BAD_RESPONSE;
    }
    http_reply_clear(&reply);
    json_node_unref(payload);
    json_object_unref(o);
    return outcome;
}

/* The CSR's dns: and ip: names as ACME identifiers. */
static JsonArray *
identifiers_of(GBytes *csr)
{
    gsize len;
    const unsigned char *p = g_bytes_get_data(csr, &len);
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
    STACK_OF(X509_EXTENSION) *exts = req ? X509_REQ_get_extensions(req) : NULL;
    GENERAL_NAMES *names =
        exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
    JsonArray *ids = json_array_new();
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        GENERAL_NAME *n = sk_GENERAL_NAME_value(names, i);
        char *value = NULL;
        const char *type = NULL;
        if (n->type == GEN_DNS) {
            type = "dns";
            value = g_strndup((const char *)ASN1_STRING_get0_data(n->d.dNSName),
                              (gsize)ASN1_STRING_length(n->d.dNSName));
        } else if (n->type == GEN_IPADD &&
                   (n->d.ip->length == 4 || n->d.ip->length == 16)) {
            type = "ip";
            GInetAddress *ip = g_inet_address_new_from_bytes(
                n->d.ip->data, n->d.ip->length == 4 ? G_SOCKET_FAMILY_IPV4
                                                    : G_SOCKET_FAMILY_IPV6);
            value = g_inet_address_to_string(ip);
            g_object_unref(ip);
        }
        if (value == NULL)
            continue;
        JsonObject *id = json_object_new();
        json_object_set_string_member(id, "type", type);
        json_object_set_string_member(id, "value", value);
        json_array_add_object_element(ids, id);
        g_free(value);
    }
    GENERAL_NAMES_free(names);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    return ids;
}

/* POST-as-GET of an order or authorization, parsed by parse. */
typedef gboolean (*acme_parser)(const char *body, gsize len, void *out,
                                char **reason);

static enum enroll_outcome
fetch(struct acme_session *s, const char *url, acme_parser parse, void *out,
      struct http_reply *reply, char **reason)
{
    char *why = NULL;
    enum enroll_outcome outcome = post(s, url, NULL, reply, reason);
    if (outcome == ENROLL_ISSUED &&
        !parse((const char *)reply->body->data, reply->body->len, out, &why)) {
        *reason = g_strdup_printf("%s: %s", url, why);
        outcome = ENROLL_BAD_RESPONSE;
    }
    g_free(why);
    return outcome;
}

static enum enroll_outcome
new_order(struct acme_session *s, GBytes *csr, struct acme_order *order,
          char **order_url, char **reason)
{
    JsonArray *ids = identifiers_of(csr);
    if (json_array_get_length(ids) == 0) {
        json_array_unref(ids);
        *reason = g_strdup("ACME names certificates by DNS names or IP "
                           "addresses: give --san dns:NAME or --san ip:ADDR");
        return ENROLL_REJECTED;
    }
    /* RFC 9773: a renewal says which certificate it replaces. */
    GBytes *leaf = s->dir.renewal_info ? enroll_current_leaf(s->ca) : NULL;
    char *replaces = leaf ? acme_cert_id(g_bytes_get_data(leaf, NULL),
                                         g_bytes_get_size(leaf))
                          : NULL;
    JsonNode *payload = acme_order_request(ids, replaces);
    struct http_reply reply = {0};
    char *why = NULL;
    enum enroll_outcome outcome =
        post(s, s->dir.new_order, payload, &reply, reason);
    if (outcome == ENROLL_ISSUED &&
        !acme_parse_order((const char *)reply.body->data, reply.body->len,
                          order, &why)) {
        *reason = g_strdup_printf("the new order: %s", why);
        outcome = ENROLL_BAD_RESPONSE;
    } else if (outcome == ENROLL_ISSUED &&
               (*order_url = g_strdup(reply.location)) == NULL) {
        *reason = g_strdup("the new order has no Location");
        acme_order_clear(order);
        outcome = ENROLL_BAD_RESPONSE;
    }
    g_free(why);
    http_reply_clear(&reply);
    json_node_unref(payload);
    g_free(replaces);
    if (leaf != NULL)
        g_bytes_unref(leaf);
    return outcome;
}

/* Asks the CA to validate one authorization and waits until it decides. */
static enum enroll_outcome
authorize(struct acme_session *s, const char *url, char **reason)
{
    gboolean asked = FALSE;
    for (;;) {
        struct acme_authz authz = {0};
        struct http_reply reply = {0};
        enum enroll_outcome outcome = fetch(
            s, url, (acme_parser)acme_parse_authz, &authz, &reply, reason);
        if (outcome == ENROLL_ISSUED && authz.status == ACME_STATUS_INVALID) {
            *reason = g_strdup_printf("the CA refused the authorization: %s",
                                      authz.error ? authz.error : url);
            outcome = ENROLL_REJECTED;
        } else if (outcome == ENROLL_ISSUED &&
                   authz.status == ACME_STATUS_PENDING) {
            if (!asked && authz.challenge != NULL) {
                JsonNode *empty =
                    json_node_init_object(json_node_alloc(), json_object_new());
                struct http_reply answer = {0};
                outcome = post(s, authz.challenge, empty, &answer, reason);
                http_reply_clear(&answer);
                json_node_unref(empty);
                asked = TRUE;
            } else if (past_deadline(s, 1, reason)) {
                outcome = ENROLL_PENDING;
            } else if (wait_before_polling(s->ca, &reply)) {
                *reason = g_strdup("interrupted while the CA decided");
                outcome = ENROLL_CANCELLED;
            }
            if (outcome == ENROLL_ISSUED) {
                acme_authz_clear(&authz);
                http_reply_clear(&reply);
                continue;
            }
        }
        acme_authz_clear(&authz);
        http_reply_clear(&reply);
        return outcome;
    }
}

/* Polls the order until it leaves pending/processing (or time runs out). */
static enum enroll_outcome
await_order(struct acme_session *s, const char *url, enum acme_status until,
            struct acme_order *order, char **reason)
{
    for (;;) {
        struct http_reply reply = {0};
        acme_order_clear(order);
        enum enroll_outcome outcome =
            fetch(s, url, (acme_parser)acme_parse_order, order, &reply, reason);
        gboolean waiting = outcome == ENROLL_ISSUED && order->status != until &&
                           order->status != ACME_STATUS_VALID &&
                           order->status != ACME_STATUS_INVALID;
        if (waiting && past_deadline(s, 1, reason)) {
            outcome = ENROLL_PENDING;
        } else if (waiting && wait_before_polling(s->ca, &reply)) {
            *reason = g_strdup("interrupted while the CA decided");
            outcome = ENROLL_CANCELLED;
        }
        http_reply_clear(&reply);
        if (outcome != ENROLL_ISSUED || !waiting)
            return outcome;
    }
}

static enum enroll_outcome
finalize(struct acme_session *s, GBytes *csr, struct acme_order *order,
         const char *order_url, char **reason)
{
    gsize len;
    const void *der = g_bytes_get_data(csr, &len);
    char *csr64 = acme_base64url(der, len);
    JsonObject *o = json_object_new();
    json_object_set_string_member(o, "csr", csr64);
    JsonNode *payload = json_node_init_object(json_node_alloc(), o);
    struct http_reply reply = {0};
    enum enroll_outcome outcome =
        await_order(s, order_url, ACME_STATUS_READY, order, reason);
    if (outcome == ENROLL_ISSUED && order->status == ACME_STATUS_READY)
        outcome = post(s, order->finalize, payload, &reply, reason);
    if (outcome == ENROLL_ISSUED)
        outcome = await_order(s, order_url, ACME_STATUS_VALID, order, reason);
    if (outcome == ENROLL_ISSUED && order->status != ACME_STATUS_VALID) {
        *reason = g_strdup_printf("the CA refused the order: %s",
                                  order->error ? order->error : order_url);
        outcome = ENROLL_REJECTED;
    }
    http_reply_clear(&reply);
    json_node_unref(payload);
    json_object_unref(o);
    g_free(csr64);
    return outcome;
}

static enum enroll_outcome
download(struct acme_session *s, const char *url, GPtrArray *chain,
         char **reason)
{
    struct http_reply reply = {0};
    enum enroll_outcome outcome = post(s, url, NULL, &reply, reason);
    if (outcome == ENROLL_ISSUED &&
        (!enroll_parse_pem_chain((const char *)reply.body->data,
                                 reply.body->len, chain) ||
         chain->len == 0)) {
        *reason = g_strdup_printf("%s is not a PEM certificate chain", url);
        outcome = ENROLL_BAD_RESPONSE;
    }
    http_reply_clear(&reply);
    return outcome;
}

/*
 * RFC 9773: when the CA would like the new certificate renewed. Advice
 * only: without it, renewal uses its own policy.
 */
static void
ask_renewal_info(struct acme_session *s, struct enroll_result *result)
{
    gsize len;
    const void *leaf =
        g_bytes_get_data(g_ptr_array_index(result->chain, 0), &len);
    char *id = s->dir.renewal_info ? acme_cert_id(leaf, len) : NULL;
    if (id == NULL)
        return;
    char *url = g_strdup_printf("%s/%s", s->dir.renewal_info, id);
    struct http_request req = {
        .method = "GET", .url = url, .reply_max = ACME_BODY_MAX};
    struct http_reply reply = {0};
    struct acme_renewal_window window;
    char *reason = NULL;
    if (enroll_http(s->ca, &req, &reply, &reason) && reply.status == 200 &&
        acme_parse_renewal_info((const char *)reply.body->data, reply.body->len,
                                &window, &reason))
        result->renew_after = acme_renewal_time(
            &window, g_get_real_time() / G_USEC_PER_SEC, g_random_int());
    else
        g_message("CA %s: no usable renewal information at %s: %s", s->ca->name,
                  url, reason ? reason : "no answer");
    http_reply_clear(&reply);
    g_free(reason);
    g_free(url);
    g_free(id);
}

static enum enroll_outcome
acme_submit(const struct enroll_profile *ca, GBytes *csr,
            struct enroll_result *result, char **reason)
{
    struct acme_session s = {
        .ca = ca,
        .deadline = g_get_monotonic_time() +
                    ca->profile->command_timeout * G_USEC_PER_SEC,
    };
    struct acme_order order = {0};
    char *order_url = NULL;
    enum enroll_outcome outcome = get_directory(&s, reason);
    if (outcome == ENROLL_ISSUED && !load_account_key(&s, reason))
        outcome = ENROLL_UNREACHABLE;
    if (outcome == ENROLL_ISSUED)
        outcome = register_account(&s, reason);
    if (outcome == ENROLL_ISSUED)
        outcome = new_order(&s, csr, &order, &order_url, reason);
    for (guint i = 0; outcome == ENROLL_ISSUED && i < order.authorizations->len;
         i++)
        outcome =
            authorize(&s, g_ptr_array_index(order.authorizations, i), reason);
    if (outcome == ENROLL_ISSUED)
        outcome = finalize(&s, csr, &order, order_url, reason);
    if (outcome == ENROLL_ISSUED)
        outcome = download(&s, order.certificate, result->chain, reason);
    if (outcome == ENROLL_ISSUED)
        ask_renewal_info(&s, result);
    acme_order_clear(&order);
    acme_directory_clear(&s.dir);
    g_free(order_url);
    g_free(s.kid);
    g_free(s.nonce);
    if (s.jwk != NULL)
        json_node_unref(s.jwk);
    EVP_PKEY_free(s.key);
    return outcome;
}

const struct enroll_protocol enroll_acme = {"acme", "ec-p256", acme_submit};
