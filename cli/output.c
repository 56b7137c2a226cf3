/* SPDX-License-Identifier: Apache-2.0 */
#include "output.h"
#include "../common/keyspec.h"

#include <openssl/x509.h>
#include <stdio.h>
#include <time.h>

static void
format_time(uint64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t == 0 || gmtime_r(&tt, &tm) == NULL)
        snprintf(buf, size, "-");
    else
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void
json_time(uint64_t t, const char *formatted)
{
    if (t != 0)
        json_string(formatted);
    else
        printf("null");
}

static const char *
json_bool(bool b)
{
    return b ? "true" : "false";
}

/* Opens element i of a JSON array: one per line, as before. */
static void
json_element(size_t i)
{
    printf("%s\n  {", i == 0 ? "" : ",");
}

static void
json_end_array(size_t n)
{
    printf("%s]\n", n > 0 ? "\n" : "");
}

static void
print_identity_row(const struct tessera_identity_summary *s, uint64_t now)
{
    char when[32], next[32], key[32], token[TESSERA_STRING_MAX + 16];
    format_time(s->not_after, when, sizeof(when));
    format_time(s->next_renewal, next, sizeof(next));
    tessera_key_describe(s->key_type, s->key_bits, key, sizeof(key));
    snprintf(token, sizeof(token), "%s%s", s->token_label,
             (s->flags & TESSERA_ID_TOKEN_READ_ONLY) ? " (read-only)" : "");
    printf("%-20s %-16s %-9s %-20s %-12s %-17s %-20s %s\n", s->name, token, key,
           when, tessera_identity_state(s, now),
           tessera_renewal_state_name(s->renewal_state), next,
           s->subject[0] ? s->subject : "-");
    if (s->renewal_error[0] != '\0')
        printf("  last renewal error: %s\n", s->renewal_error);
}

static void
print_identity_json(const struct tessera_identity_summary *s, uint64_t now)
{
    char when[32], next[32], uri[TESSERA_STRING_MAX + 16];
    format_time(s->not_after, when, sizeof(when));
    format_time(s->next_renewal, next, sizeof(next));
    snprintf(uri, sizeof(uri), "tessera:%s", s->name);
    printf("\"name\": ");
    json_string(s->name);
    printf(", \"token\": ");
    json_string(s->token_label);
    printf(", \"token_read_only\": %s",
           json_bool(s->flags & TESSERA_ID_TOKEN_READ_ONLY));
    printf(", \"key_type\": ");
    json_string(tessera_key_type_name(s->key_type));
    printf(", \"key_bits\": %u, \"subject\": ", s->key_bits);
    json_string(s->subject);
    printf(", \"not_after\": ");
    json_time(s->not_after, when);
    printf(", \"state\": ");
    json_string(tessera_identity_state(s, now));
    printf(", \"renewal\": ");
    json_string(tessera_renewal_state_name(s->renewal_state));
    printf(", \"next_renewal\": ");
    json_time(s->next_renewal, next);
    printf(", \"renewal_error\": ");
    json_string(s->renewal_error);
    printf(", \"uri\": ");
    json_string(uri);
    printf("}");
}

void
output_identities(const struct tessera_identity_list *ids, bool json)
{
    uint64_t now = (uint64_t)time(NULL);
    if (!json)
        printf("%-20s %-16s %-9s %-20s %-12s %-17s %-20s %s\n", "NAME", "TOKEN",
               "KEY", "NOT-AFTER", "STATE", "RENEWAL", "NEXT-RENEWAL",
               "SUBJECT");
    else
        printf("[");
    for (size_t i = 0; i < ids->n; i++) {
        if (!json) {
            print_identity_row(&ids->items[i], now);
            continue;
        }
        json_element(i);
        print_identity_json(&ids->items[i], now);
    }
    if (json)
        json_end_array(ids->n);
}

static void
print_token_json(const struct tessera_token_info *t, const char *state)
{
    printf("\"label\": ");
    json_string(t->label);
    printf(", \"manufacturer\": ");
    json_string(t->manufacturer);
    printf(", \"model\": ");
    json_string(t->model);
    printf(", \"serial\": ");
    json_string(t->serial);
    printf(", \"state\": ");
    json_string(state);
    printf(", \"present\": %s, \"logged_in\": %s, \"read_only\": %s, "
           "\"pin_pad\": %s, \"module\": ",
           json_bool(t->flags & TESSERA_TOKEN_PRESENT),
           json_bool(t->flags & TESSERA_TOKEN_LOGGED_IN),
           json_bool(t->flags & TESSERA_TOKEN_WRITE_PROTECTED),
           json_bool(t->flags & TESSERA_TOKEN_PROTECTED_PATH));
    json_string(t->module);
    printf("}");
}

void
output_tokens(const struct tessera_token_list *tokens, bool json)
{
    if (!json)
        printf("%-20s %-20s %-16s %-18s %-24s %s\n", "LABEL", "MANUFACTURER",
               "MODEL", "SERIAL", "STATE", "MODULE");
    else
        printf("[");
    for (size_t i = 0; i < tokens->n; i++) {
        const struct tessera_token_info *t = &tokens->items[i];
        char state[96];
        tessera_token_state_describe(t->flags, state, sizeof(state));
        if (!json) {
            printf("%-20s %-20s %-16s %-18s %-24s %s\n", t->label,
                   t->manufacturer, t->model, t->serial, state, t->module);
            continue;
        }
        json_element(i);
        print_token_json(t, state);
    }
    if (json)
        json_end_array(tokens->n);
}

void
output_certified(const char *what, const char *name,
                 const struct tessera_blob *der)
{
    const unsigned char *p = der->data;
    X509 *x = d2i_X509(NULL, &p, (long)der->len);
    char *subject =
        x ? X509_NAME_oneline(X509_get_subject_name(x), NULL, 0) : NULL;
    char *issuer =
        x ? X509_NAME_oneline(X509_get_issuer_name(x), NULL, 0) : NULL;
    BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);
    BIO_printf(out, "%s %s\n  subject %s\n  issuer  %s\n  expires ", what, name,
               subject ? subject : "?", issuer ? issuer : "?");
    if (x != NULL)
        ASN1_TIME_print(out, X509_get0_notAfter(x));
    BIO_printf(out, "\n");
    BIO_free(out);
    OPENSSL_free(subject);
    OPENSSL_free(issuer);
    X509_free(x);
}
