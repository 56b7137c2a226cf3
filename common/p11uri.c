/* SPDX-License-Identifier: Apache-2.0 */
#include "p11uri.h"
#include "hex.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCHEME "pkcs11:"

static bool
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return false;
}

/* Percent-decodes [p, p+n) into a fresh blob with a terminating NUL. */
static bool
decode_value(const char *p, size_t n, struct tessera_blob *out)
{
    uint8_t *buf = malloc(n + 1);
    size_t len = 0;
    if (buf == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '%') {
            buf[len++] = (uint8_t)p[i];
            continue;
        }
        int hi = i + 2 < n ? tessera_hex_value(p[i + 1]) : -1;
        int lo = i + 2 < n ? tessera_hex_value(p[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            free(buf);
            return false;
        }
        buf[len++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    buf[len] = '\0';
    out->data = buf;
    out->len = len;
    return true;
}

static bool
set_string(char **slot, const struct tessera_blob *v, const char *name,
           char *err, size_t errlen)
{
    if (*slot != NULL)
        return fail(err, errlen, "pkcs11: URI names '%s' twice", name);
    if (memchr(v->data, '\0', v->len) != NULL)
        return fail(err, errlen, "pkcs11: URI attribute '%s' holds a NUL",
                    name);
    *slot = (char *)v->data;
    return true;
}

static bool
set_type(struct tessera_p11uri *u, const char *v, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        enum tessera_p11uri_type type;
    } types[] = {
        {"private", TESSERA_P11URI_PRIVATE},
        {"public", TESSERA_P11URI_PUBLIC},
        {"cert", TESSERA_P11URI_CERT},
        {"secret-key", TESSERA_P11URI_OTHER},
        {"data", TESSERA_P11URI_OTHER},
    };
    if (u->type != TESSERA_P11URI_ANY)
        return fail(err, errlen, "pkcs11: URI names 'type' twice");
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(v, types[i].name) == 0) {
            u->type = types[i].type;
            return true;
        }
    }
    return fail(err, errlen, "pkcs11: URI has an unknown type '%s'", v);
}

static bool
ignored_attribute(const char *name, size_t n)
{
    static const char *const ignored[] = {
        "library-manufacturer", "library-description", "library-version",
        "slot-manufacturer",    "slot-description",    "slot-id",
    };
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
        if (strlen(ignored[i]) == n && memcmp(ignored[i], name, n) == 0)
            return true;
    }
    return false;
}

static bool
parse_attribute(struct tessera_p11uri *u, const char *attr, size_t n, char *err,
                size_t errlen)
{
    const char *eq = memchr(attr, '=', n);
    if (eq == NULL)
        return fail(err, errlen, "pkcs11: URI attribute '%.*s' has no value",
                    (int)n, attr);
    size_t name_len = (size_t)(eq - attr);
    if (ignored_attribute(attr, name_len))
        return true;
    struct tessera_blob v;
    if (!decode_value(eq + 1, n - name_len - 1, &v))
        return fail(err, errlen,
                    "pkcs11: URI attribute '%.*s' has a bad "
                    "percent-encoding",
                    (int)name_len, attr);
    char name[32];
    snprintf(name, sizeof(name), "%.*s", (int)name_len, attr);
    bool ok;
    if (strcmp(name, "token") == 0)
        ok = set_string(&u->token, &v, name, err, errlen);
    else if (strcmp(name, "manufacturer") == 0)
        ok = set_string(&u->manufacturer, &v, name, err, errlen);
    else if (strcmp(name, "serial") == 0)
        ok = set_string(&u->serial, &v, name, err, errlen);
    else if (strcmp(name, "model") == 0)
        ok = set_string(&u->model, &v, name, err, errlen);
    else if (strcmp(name, "object") == 0)
        ok = set_string(&u->object, &v, name, err, errlen);
    else if (strcmp(name, "id") == 0) {
        ok = !u->has_id;
        if (ok) {
            u->id = v;
            u->has_id = true;
            return true;
        }
        fail(err, errlen, "pkcs11: URI names 'id' twice");
    } else if (strcmp(name, "type") == 0) {
        ok = set_type(u, (const char *)v.data, err, errlen);
        free(v.data);
        return ok;
    } else {
        ok = fail(err, errlen, "pkcs11: URI has an unknown attribute '%s'",
                  name);
    }
    if (!ok)
        free(v.data);
    return ok;
}

bool
tessera_p11uri_parse(const char *uri, struct tessera_p11uri *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (strncasecmp(uri, SCHEME, strlen(SCHEME)) != 0)
        return fail(err, errlen, "'%s' is not a pkcs11: URI", uri);
    const char *p = uri + strlen(SCHEME);
    const char *end = strchr(p, '?');
    if (end == NULL)
        end = p + strlen(p);
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        size_t n = semi ? (size_t)(semi - p) : (size_t)(end - p);
        if (n > 0 && !parse_attribute(out, p, n, err, errlen)) {
            tessera_p11uri_clear(out);
            return false;
        }
        p += n + (semi ? 1 : 0);
    }
    return true;
}

void
tessera_p11uri_clear(struct tessera_p11uri *u)
{
    free(u->token);
    free(u->manufacturer);
    free(u->serial);
    free(u->model);
    free(u->object);
    free(u->id.data);
    memset(u, 0, sizeof(*u));
}

static bool
field_matches(const char *want, const char *have)
{
    return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

bool
tessera_p11uri_match_token(const struct tessera_p11uri *u, const char *label,
                           const char *manufacturer, const char *model,
                           const char *serial)
{
    return field_matches(u->token, label) &&
           field_matches(u->manufacturer, manufacturer) &&
           field_matches(u->model, model) && field_matches(u->serial, serial);
}

bool
tessera_p11uri_match_identity(const struct tessera_p11uri *u,
                              const struct tessera_identity_summary *s)
{
    if (u->type == TESSERA_P11URI_OTHER)
        return false;
    if (!tessera_p11uri_match_token(u, s->token_label, s->token_manufacturer,
                                    s->token_model, s->token_serial))
        return false;
    if (u->object != NULL && !field_matches(u->object, s->key_label) &&
        !field_matches(u->object, s->name))
        return false;
    /* An empty id= has no data to compare (memcmp forbids NULL). */
    if (u->has_id &&
        (u->id.len != s->key_id.len ||
         (u->id.len > 0 && memcmp(u->id.data, s->key_id.data, u->id.len) != 0)))
        return false;
    return true;
}

/* Everything but RFC 3986's unreserved characters is percent-encoded: valid
 * in any pkcs11: URI attribute, and never taken for a separator. */
static char *
append_encoded(char *p, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
        if ((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
            (*v >= '0' && *v <= '9') || strchr("-._~", *v) != NULL) {
            *p++ = (char)*v;
        } else {
            *p++ = '%';
            *p++ = hex[*v >> 4];
            *p++ = hex[*v & 15];
        }
    }
    return p;
}

char *
tessera_p11uri_format_token(const char *label, const char *manufacturer,
                            const char *model, const char *serial)
{
    const char *names[] = {"token", "manufacturer", "model", "serial"};
    const char *values[] = {label, manufacturer, model, serial};
    size_t size = sizeof(SCHEME);
    for (size_t i = 0; i < 4; i++)
        size += strlen(names[i]) + 2 + 3 * strlen(values[i]);
    char *uri = malloc(size), *p = uri;
    if (uri == NULL)
        return NULL;
    p += sprintf(p, "%s", SCHEME);
    for (size_t i = 0; i < 4; i++) {
        p += sprintf(p, "%s%s=", i > 0 ? ";" : "", names[i]);
        p = append_encoded(p, values[i]);
    }
    *p = '\0';
    return uri;
}
