/* SPDX-License-Identifier: Apache-2.0 */
#include "acme_msg.h"

#include <json-glib/json-glib.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <string.h>

/* json-glib's parser recurses per level; nothing ACME sends nests deeper. */
#define JSON_DEPTH_MAX 16

static gboolean
nesting_bounded(const char *body, gsize len)
{
    int depth = 0;
    gboolean in_string = FALSE, escaped = FALSE;
    for (gsize i = 0; i < len; i++) {
        char c = body[i];
        if (in_string) {
            if (escaped)
                escaped = FALSE;
            else if (c == '\\')
                escaped = TRUE;
            else if (c == '"')
                in_string = FALSE;
        } else if (c == '"') {
            in_string = TRUE;
        } else if (c == '{' || c == '[') {
            if (++depth > JSON_DEPTH_MAX)
                return FALSE;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return TRUE;
}

/* The body's top-level object, or NULL with *reason set. */
static JsonParser *
parse_object(const char *body, gsize len, JsonObject **object, char **reason)
{
    JsonParser *parser = NULL;
    GError *error = NULL;
    if (len > ACME_BODY_MAX || !nesting_bounded(body, len)) {
        *reason = g_strdup("the response is too large or too deeply nested");
        return NULL;
    }
    if (memchr(body, '\0', len) != NULL) {
        *reason = g_strdup("the response is not JSON text");
        return NULL;
    }
    parser = json_parser_new_immutable();
    if (!json_parser_load_from_data(parser, body, (gssize)len, &error)) {
        *reason =
            g_strdup_printf("the response is not JSON: %s", error->message);
        g_error_free(error);
        g_object_unref(parser);
        return NULL;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
        *reason = g_strdup("the response is not a JSON object");
        g_object_unref(parser);
        return NULL;
    }
    *object = json_node_get_object(root);
    return parser;
}

/* A string member, or NULL when absent or of another type. */
static const char *
member_string(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);
    if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) ||
        json_node_get_value_type(n) != G_TYPE_STRING)
        return NULL;
    return json_node_get_string(n);
}

static JsonObject *
member_object(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);
    return n != NULL && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n)
                                                  : NULL;
}

static JsonArray *
member_array(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);
    return n != NULL && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n)
                                                 : NULL;
}

/* An https URL of bounded length, copied; NULL otherwise. */
static char *
checked_url(const char *url)
{
    if (url == NULL || strlen(url) > ACME_URL_MAX ||
        g_ascii_strncasecmp(url, "https://", 8) != 0 || url[8] == '\0')
        return NULL;
    for (const char *p = url; *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return NULL;
    return g_strdup(url);
}

static gboolean
required_url(JsonObject *o, const char *name, char **out, char **reason)
{
    *out = checked_url(member_string(o, name));
    if (*out == NULL)
        *reason =
            g_strdup_printf("\"%s\" is missing or not an https URL", name);
    return *out != NULL;
}

static enum acme_status
status_of(JsonObject *o)
{
    static const struct {
        const char *name;
        enum acme_status status;
    } names[] = {
        {"pending", ACME_STATUS_PENDING},       {"ready", ACME_STATUS_READY},
        {"processing", ACME_STATUS_PROCESSING}, {"valid", ACME_STATUS_VALID},
        {"invalid", ACME_STATUS_INVALID},
    };
    const char *s = member_string(o, "status");
    for (size_t i = 0; s != NULL && i < G_N_ELEMENTS(names); i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].status;
    return ACME_STATUS_UNKNOWN;
}

/* A problem's detail, bounded and printable, for one-sentence errors. */
static char *
problem_detail(JsonObject *problem)
{
    const char *detail = problem ? member_string(problem, "detail") : NULL;
    if (detail == NULL)
        return NULL;
    char *copy = g_strndup(detail, 200);
    for (char *p = copy; *p != '\0'; p++)
        if ((unsigned char)*p < ' ')
            *p = ' ';
    return copy;
}

gboolean
acme_parse_directory(const char *body, gsize len, struct acme_directory *out,
                     char **reason)
{
    JsonObject *o;
    JsonParser *parser = parse_object(body, len, &o, reason);
    *out = (struct acme_directory){0};
    gboolean ok = parser != NULL &&
                  required_url(o, "newNonce", &out->new_nonce, reason) &&
                  required_url(o, "newAccount", &out->new_account, reason) &&
                  required_url(o, "newOrder", &out->new_order, reason);
    JsonObject *meta = ok ? member_object(o, "meta") : NULL;
    JsonNode *eab =
        meta ? json_object_get_member(meta, "externalAccountRequired") : NULL;
    if (ok) {
        out->renewal_info = checked_url(member_string(o, "renewalInfo"));
        out->external_account_required =
            eab != NULL && JSON_NODE_HOLDS_VALUE(eab) &&
            json_node_get_value_type(eab) == G_TYPE_BOOLEAN &&
            json_node_get_boolean(eab);
    } else
        acme_directory_clear(out);
    if (parser != NULL)
        g_object_unref(parser);
    return ok;
}

static gboolean
parse_authorizations(JsonObject *o, GPtrArray *out, char **reason)
{
    JsonArray *a = member_array(o, "authorizations");
    guint n = a ? json_array_get_length(a) : 0;
    if (a == NULL || n > ACME_AUTHZ_MAX) {
        *reason = g_strdup("\"authorizations\" is missing or too long");
        return FALSE;
    }
    for (guint i = 0; i < n; i++) {
        JsonNode *node = json_array_get_element(a, i);
        char *url = JSON_NODE_HOLDS_VALUE(node) &&
                            json_node_get_value_type(node) == G_TYPE_STRING
                        ? checked_url(json_node_get_string(node))
                        : NULL;
        if (url == NULL) {
            *reason = g_strdup("an authorization is not an https URL");
            return FALSE;
        }
        g_ptr_array_add(out, url);
    }
    return TRUE;
}

gboolean
acme_parse_order(const char *body, gsize len, struct acme_order *out,
                 char **reason)
{
    JsonObject *o;
    JsonParser *parser = parse_object(body, len, &o, reason);
    *out = (struct acme_order){0};
    out->authorizations = g_ptr_array_new_with_free_func(g_free);
    gboolean ok = parser != NULL;
    if (ok && (out->status = status_of(o)) == ACME_STATUS_UNKNOWN) {
        *reason = g_strdup("the order has no known status");
        ok = FALSE;
    }
    ok = ok && parse_authorizations(o, out->authorizations, reason) &&
         required_url(o, "finalize", &out->finalize, reason);
    if (ok && out->status == ACME_STATUS_VALID)
        ok = required_url(o, "certificate", &out->certificate, reason);
    if (ok)
        out->error = problem_detail(member_object(o, "error"));
    if (!ok)
        acme_order_clear(out);
    if (parser != NULL)
        g_object_unref(parser);
    return ok;
}

/* The first challenge still to be answered, and a failed one's detail. */
static gboolean
parse_challenges(JsonObject *o, struct acme_authz *out, char **reason)
{
    JsonArray *a = member_array(o, "challenges");
    guint n = a ? json_array_get_length(a) : 0;
    if (a == NULL || n > ACME_AUTHZ_MAX) {
        *reason = g_strdup("\"challenges\" is missing or too long");
        return FALSE;
    }
    for (guint i = 0; i < n; i++) {
        JsonNode *node = json_array_get_element(a, i);
        JsonObject *c =
            JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
        if (c == NULL) {
            *reason = g_strdup("a challenge is not an object");
            return FALSE;
        }
        if (out->error == NULL)
            out->error = problem_detail(member_object(c, "error"));
        if (out->challenge == NULL && status_of(c) == ACME_STATUS_PENDING &&
            !required_url(c, "url", &out->challenge, reason))
            return FALSE;
    }
    return TRUE;
}

gboolean
acme_parse_authz(const char *body, gsize len, struct acme_authz *out,
                 char **reason)
{
    JsonObject *o;
    JsonParser *parser = parse_object(body, len, &o, reason);
    *out = (struct acme_authz){0};
    gboolean ok = parser != NULL;
    if (ok && (out->status = status_of(o)) == ACME_STATUS_UNKNOWN) {
        *reason = g_strdup("the authorization has no known status");
        ok = FALSE;
    }
    ok = ok && parse_challenges(o, out, reason);
    if (!ok)
        acme_authz_clear(out);
    if (parser != NULL)
        g_object_unref(parser);
    return ok;
}

void
acme_parse_problem(const char *body, gsize len, struct acme_problem *out)
{
    static const char prefix[] = "urn:ietf:params:acme:error:";
    JsonObject *o;
    char *reason = NULL;
    JsonParser *parser = parse_object(body, len, &o, &reason);
    *out = (struct acme_problem){0};
    if (parser != NULL) {
        const char *type = member_string(o, "type");
        if (type != NULL && g_str_has_prefix(type, prefix))
            out->type = g_strndup(type + strlen(prefix), 64);
        out->detail = problem_detail(o);
        g_object_unref(parser);
    }
    if (out->type == NULL)
        out->type = g_strdup("unknown");
    if (out->detail == NULL)
        out->detail = g_strdup("no detail given");
    g_free(reason);
}

static gboolean
parse_time(JsonObject *o, const char *name, gint64 *out)
{
    const char *s = member_string(o, name);
    GDateTime *t = s != NULL && strlen(s) <= 64
                       ? g_date_time_new_from_iso8601(s, NULL)
                       : NULL;
    if (t == NULL)
        return FALSE;
    *out = g_date_time_to_unix(t);
    g_date_time_unref(t);
    return TRUE;
}

gboolean
acme_parse_renewal_info(const char *body, gsize len,
                        struct acme_renewal_window *out, char **reason)
{
    JsonObject *o;
    JsonParser *parser = parse_object(body, len, &o, reason);
    JsonObject *w = parser ? member_object(o, "suggestedWindow") : NULL;
    gboolean ok = w != NULL && parse_time(w, "start", &out->start) &&
                  parse_time(w, "end", &out->end) && out->end > out->start;
    if (parser != NULL && !ok)
        *reason = g_strdup("\"suggestedWindow\" is missing or not a window "
                           "of two RFC 3339 times, start before end");
    if (parser != NULL)
        g_object_unref(parser);
    return ok;
}

void
acme_directory_clear(struct acme_directory *d)
{
    g_free(d->new_nonce);
    g_free(d->new_account);
    g_free(d->new_order);
    g_free(d->renewal_info);
    *d = (struct acme_directory){0};
}

void
acme_order_clear(struct acme_order *o)
{
    if (o->authorizations != NULL)
        g_ptr_array_unref(o->authorizations);
    g_free(o->finalize);
    g_free(o->certificate);
    g_free(o->error);
    *o = (struct acme_order){0};
}

void
acme_authz_clear(struct acme_authz *a)
{
    g_free(a->challenge);
    g_free(a->error);
    *a = (struct acme_authz){0};
}

void
acme_problem_clear(struct acme_problem *p)
{
    g_free(p->type);
    g_free(p->detail);
    *p = (struct acme_problem){0};
}

char *
acme_base64url(const void *data, gsize len)
{
    char *s = g_base64_encode(data, len);
    char *end = s + strlen(s);
    while (end > s && end[-1] == '=')
        *--end = '\0';
    for (char *p = s; *p != '\0'; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return s;
}

char *
acme_cert_id(const void *der, gsize len)
{
    const unsigned char *p = der;
    X509 *x = len <= G_MAXLONG ? d2i_X509(NULL, &p, (long)len) : NULL;
    const ASN1_OCTET_STRING *aki = x ? X509_get0_authority_key_id(x) : NULL;
    const ASN1_INTEGER *serial = x ? X509_get0_serialNumber(x) : NULL;
    unsigned char *serial_der = NULL;
    int serial_len = serial ? i2d_ASN1_INTEGER(serial, &serial_der) : -1;
    char *id = NULL;
    /* The content octets: past the INTEGER's tag and short length. */
    if (aki != NULL && serial_len > 2 && serial_der[1] < 0x80) {
        char *key = acme_base64url(ASN1_STRING_get0_data(aki),
                                   (gsize)ASN1_STRING_length(aki));
        char *number = acme_base64url(serial_der + 2, (gsize)serial_len - 2);
        id = g_strconcat(key, ".", number, NULL);
        g_free(key);
        g_free(number);
    }
    OPENSSL_free(serial_der);
    X509_free(x);
    return id;
}

gint64
acme_renewal_time(const struct acme_renewal_window *w, gint64 now,
                  guint32 random)
{
    guint64 span = (guint64)(w->end - w->start);
    gint64 t = w->start + (gint64)(random % (span + 1));
    return t < now ? now : t;
}

JsonNode *
acme_order_request(JsonArray *identifiers, const char *replaces)
{
    JsonObject *o = json_object_new();
    json_object_set_array_member(o, "identifiers", identifiers);
    if (replaces != NULL)
        json_object_set_string_member(o, "replaces", replaces);
    JsonNode *node = json_node_init_object(json_node_alloc(), o);
    json_object_unref(o);
    return node;
}

guint8 *
acme_eab_key_decode(const char *text, gsize len, gsize *key_len, char **reason)
{
    /* Padding is tolerated, though RFC 8555 CAs hand the key out without. */
    while (len > 0 && text[len - 1] == '=')
        len--;
    gsize size = len * 3 / 4 + 1, out = 0, bad = 0;
    guint8 *key = g_malloc(size);
    guint32 bits = 0;
    int n_bits = 0;
    for (gsize i = 0; i < len && bad == 0; i++) {
        char c = text[i];
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '-'             ? 62
                : c == '_'             ? 63
                                       : -1;
        if (v < 0) {
            bad = i + 1;
            continue;
        }
        bits = bits << 6 | (guint32)v;
        n_bits += 6;
        if (n_bits >= 8) {
            n_bits -= 8;
            key[out++] = (guint8)(bits >> n_bits);
        }
    }
    if (bad != 0) {
        *reason = g_strdup_printf("is not base64url: character %zu is not "
                                  "A-Z, a-z, 0-9, - or _",
                                  bad);
    } else if (len % 4 == 1) {
        *reason = g_strdup("is not base64url: its length is impossible");
    } else if (out < ACME_EAB_KEY_MIN) {
        *reason = g_strdup_printf("holds a %zu-byte key; the CA's HMAC keys "
                                  "have at least %d bytes (is it cut short?)",
                                  out, ACME_EAB_KEY_MIN);
    } else {
        *key_len = out;
        return key;
    }
    explicit_bzero(key, size);
    g_free(key);
    return NULL;
}

char *
acme_json_text(JsonNode *node)
{
    JsonGenerator *g = json_generator_new();
    json_generator_set_root(g, node);
    char *text = json_generator_to_data(g, NULL);
    g_object_unref(g);
    return text;
}

JsonNode *
acme_eab_binding(const char *kid, const guint8 *key, gsize key_len,
                 JsonNode *jwk, const char *url)
{
    JsonObject *protected = json_object_new();
    json_object_set_string_member(protected, "alg", "HS256");
    json_object_set_string_member(protected, "kid", kid);
    json_object_set_string_member(protected, "url", url);
    JsonNode *header = json_node_init_object(json_node_alloc(), protected);
    char *header_text = acme_json_text(header), *jwk_text = acme_json_text(jwk);
    char *header64 = acme_base64url(header_text, strlen(header_text));
    char *payload64 = acme_base64url(jwk_text, strlen(jwk_text));
    char *input = g_strconcat(header64, ".", payload64, NULL);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    JsonNode *out = NULL;
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len,
                  (const unsigned char *)input, strlen(input), mac, sizeof(mac),
                  &mac_len) != NULL) {
        char *mac64 = acme_base64url(mac, mac_len);
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "protected", header64);
        json_object_set_string_member(o, "payload", payload64);
        json_object_set_string_member(o, "signature", mac64);
        out = json_node_init_object(json_node_alloc(), o);
        json_object_unref(o);
        g_free(mac64);
    }
    explicit_bzero(mac, sizeof(mac));
    json_node_unref(header);
    json_object_unref(protected);
    g_free(header_text);
    g_free(jwk_text);
    g_free(header64);
    g_free(payload64);
    g_free(input);
    return out;
}
