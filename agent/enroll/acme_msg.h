/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an ACME server (RFC 8555, RFC 9773) says, parsed as hostile input:
 * bounded sizes and nesting, every field type-checked, every URL https.
 * No network here, so the unit tests and the fuzzer drive it directly.
 */
#ifndef TESSERA_ACME_MSG_H
#define TESSERA_ACME_MSG_H

#include <glib.h>
#include <json-glib/json-glib.h>

#define ACME_BODY_MAX (256 * 1024)
#define ACME_URL_MAX 2048
#define ACME_AUTHZ_MAX 32
/* A key's length is the CA's choice (RFC 7518 asks 32 bytes for HS256);
 * shorter than this is a key cut short when it was copied. */
#define ACME_EAB_KEY_MIN 16

struct acme_directory {
    char *new_nonce, *new_account, *new_order;
    char *renewal_info; /* NULL: the server offers no RFC 9773 */
    gboolean external_account_required; /* meta.externalAccountRequired */
};

enum acme_status {
    ACME_STATUS_UNKNOWN,
    ACME_STATUS_PENDING,
    ACME_STATUS_READY,
    ACME_STATUS_PROCESSING,
    ACME_STATUS_VALID,
    ACME_STATUS_INVALID,
};

struct acme_order {
    enum acme_status status;
    GPtrArray *authorizations; /* URLs */
    char *finalize;
    char *certificate; /* NULL until valid */
    char *error;       /* the problem's detail when invalid, or NULL */
};

struct acme_authz {
    enum acme_status status;
    char *challenge; /* URL of the first pending challenge, or NULL */
    char *error;     /* a failed challenge's detail, or NULL */
};

struct acme_problem {
    char *type; /* "badNonce", "rejectedIdentifier", ... (prefix dropped) */
    char *detail;
};

/* RFC 9773 suggestedWindow, in seconds since the epoch. */
struct acme_renewal_window {
    gint64 start, end;
};

gboolean acme_parse_directory(const char *body, gsize len,
                              struct acme_directory *out, char **reason);
gboolean acme_parse_order(const char *body, gsize len, struct acme_order *out,
                          char **reason);
gboolean acme_parse_authz(const char *body, gsize len, struct acme_authz *out,
                          char **reason);
/* Any body: a problem document if it is one, else a generic description. */
void acme_parse_problem(const char *body, gsize len, struct acme_problem *out);
gboolean acme_parse_renewal_info(const char *body, gsize len,
                                 struct acme_renewal_window *out,
                                 char **reason);

void acme_directory_clear(struct acme_directory *d);
void acme_order_clear(struct acme_order *o);
void acme_authz_clear(struct acme_authz *a);
void acme_problem_clear(struct acme_problem *p);

/* A JSON node as compact text. */
char *acme_json_text(JsonNode *node);

/* base64url without padding (RFC 7515, section 2). */
char *acme_base64url(const void *data, gsize len);

/*
 * The RFC 9773 certificate identifier: base64url(authorityKeyIdentifier)
 * "." base64url(serial number's DER content octets). NULL when the
 * certificate has no key identifier of its issuer.
 */
char *acme_cert_id(const void *der, gsize len);

/*
 * When to renew within a window: a uniformly random point in it, or now
 * when the window has already begun to close (RFC 9773, section 4.2).
 */
gint64 acme_renewal_time(const struct acme_renewal_window *w, gint64 now,
                         guint32 random);

/*
 * A newOrder payload for identifiers (taken), naming the certificate it
 * replaces (RFC 9773, section 5) when renewing with a CA that offers
 * renewal information; replaces may be NULL.
 */
JsonNode *acme_order_request(JsonArray *identifiers, const char *replaces);

/*
 * External account binding (RFC 8555, section 7.3.4): the HMAC key the CA
 * handed out, as the base64url text of len bytes (padding tolerated),
 * decoded into a new buffer of *key_len bytes that the caller wipes and
 * frees; NULL with *reason saying what is wrong with the text (never
 * quoting it: it is a secret).
 */
guint8 *acme_eab_key_decode(const char *text, gsize len, gsize *key_len,
                            char **reason);
/*
 * The externalAccountBinding member of a newAccount payload: a JWS over
 * the account's JWK, HS256 with the key, naming kid and the newAccount
 * url. NULL if HMAC is unavailable.
 */
JsonNode *acme_eab_binding(const char *kid, const guint8 *key, gsize key_len,
                           JsonNode *jwk, const char *url);

#endif
