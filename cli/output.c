/* SPDX-License-Identifier: Apache-2.0 */
#include "output.h"
#include "cli.h"
#include "json.h"
#include "../common/errors.h"
#include "../common/keyspec.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "2025-01-31T12:00:00Z", or "-" for 0 (none). */
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
json_time(struct json *j, const char *key, uint64_t t)
{
    char when[32];
    format_time(t, when, sizeof(when));
    json_string(j, key, t != 0 ? when : NULL);
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
print_identity_json(struct json *j, const struct tessera_identity_summary *s,
                    uint64_t now)
{
    char uri[TESSERA_STRING_MAX + 16];
    snprintf(uri, sizeof(uri), "tessera:%s", s->name);
    json_begin_object(j, NULL);
    json_string(j, "name", s->name);
    json_string(j, "token", s->token_label);
    json_bool(j, "token_read_only", s->flags & TESSERA_ID_TOKEN_READ_ONLY);
    json_string(j, "key_type", tessera_key_type_name(s->key_type));
    json_uint(j, "key_bits", s->key_bits);
    json_string(j, "subject", s->subject);
    json_time(j, "not_after", s->not_after);
    json_string(j, "state", tessera_identity_state(s, now));
    json_string(j, "renewal", tessera_renewal_state_name(s->renewal_state));
    json_time(j, "next_renewal", s->next_renewal);
    json_string(j, "renewal_error", s->renewal_error);
    json_string(j, "uri", uri);
    json_end(j);
}

void
output_identities(const struct tessera_identity_list *ids, bool json)
{
    uint64_t now = (uint64_t)time(NULL);
    struct json j = {.out = stdout};
    if (json)
        json_begin_array(&j, NULL);
    else
        printf("%-20s %-16s %-9s %-20s %-12s %-17s %-20s %s\n", "NAME", "TOKEN",
               "KEY", "NOT-AFTER", "STATE", "RENEWAL", "NEXT-RENEWAL",
               "SUBJECT");
    for (size_t i = 0; i < ids->n; i++) {
        if (json)
            print_identity_json(&j, &ids->items[i], now);
        else
            print_identity_row(&ids->items[i], now);
    }
    if (json)
        json_end(&j);
}

static void
print_token_json(struct json *j, const struct tessera_token_info *t,
                 const char *state)
{
    json_begin_object(j, NULL);
    json_string(j, "label", t->label);
    json_string(j, "manufacturer", t->manufacturer);
    json_string(j, "model", t->model);
    json_string(j, "serial", t->serial);
    json_string(j, "state", state);
    json_bool(j, "present", t->flags & TESSERA_TOKEN_PRESENT);
    json_bool(j, "logged_in", t->flags & TESSERA_TOKEN_LOGGED_IN);
    json_bool(j, "read_only", t->flags & TESSERA_TOKEN_WRITE_PROTECTED);
    json_bool(j, "pin_pad", t->flags & TESSERA_TOKEN_PROTECTED_PATH);
    json_string(j, "module", t->module);
    json_end(j);
}

void
output_tokens(const struct tessera_token_list *tokens, bool json)
{
    struct json j = {.out = stdout};
    if (json)
        json_begin_array(&j, NULL);
    else
        printf("%-20s %-20s %-16s %-18s %-24s %s\n", "LABEL", "MANUFACTURER",
               "MODEL", "SERIAL", "STATE", "MODULE");
    for (size_t i = 0; i < tokens->n; i++) {
        const struct tessera_token_info *t = &tokens->items[i];
        char state[96];
        tessera_token_state_describe(t->flags, state, sizeof(state));
        if (json)
            print_token_json(&j, t, state);
        else
            printf("%-20s %-20s %-16s %-18s %-24s %s\n", t->label,
                   t->manufacturer, t->model, t->serial, state, t->module);
    }
    if (json)
        json_end(&j);
}

static void
print_use_json(struct json *j, const struct tessera_use *u, const char *first,
               const char *last)
{
    json_begin_object(j, NULL);
    json_string(j, "first", first);
    json_string(j, "last", last);
    json_uint(j, "count", u->count);
    json_string(j, "identity", u->identity);
    json_string(j, "token", u->token);
    json_string(j, "key_type", tessera_key_type_name(u->key_type));
    json_string(j, "program", u->program);
    json_uint(j, "pid", u->pid);
    json_string(j, "outcome",
                u->outcome == TESSERA_OK ? "signed"
                                         : tessera_error_name((int)u->outcome));
    json_end(j);
}

void
output_uses(const struct tessera_use_list *uses, bool json)
{
    struct json j = {.out = stdout};
    if (json)
        json_begin_array(&j, NULL);
    else
        printf("%-20s %-5s %-20s %-16s %-18s %s\n", "LAST", "COUNT", "IDENTITY",
               "OUTCOME", "TOKEN", "PROGRAM (PID)");
    for (size_t i = 0; i < uses->n; i++) {
        const struct tessera_use *u = &uses->items[i];
        char first[32], last[32];
        format_time(u->first, first, sizeof(first));
        format_time(u->last, last, sizeof(last));
        const char *outcome = u->outcome == TESSERA_OK
                                  ? "signed"
                                  : tessera_error_name((int)u->outcome);
        if (json)
            print_use_json(&j, u, first, last);
        else
            printf("%-20s %-5u %-20s %-16s %-18s %s (%u)\n", last, u->count,
                   u->identity, outcome, u->token, u->program, u->pid);
    }
    if (json)
        json_end(&j);
}

char *
output_name_text(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *text = NULL;
    if (bio != NULL && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        long len = BIO_get_mem_data(bio, &data);
        text = strndup(data, (size_t)len);
    }
    BIO_free(bio);
    return text;
}

static uint64_t
seconds_of(const ASN1_TIME *t)
{
    struct tm tm;
    return ASN1_TIME_to_tm(t, &tm) == 1 ? (uint64_t)timegm(&tm) : 0;
}

/* The serial number in hexadecimal, as `openssl x509 -serial` shows it. */
static char *
serial_text(const X509 *x)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    BN_free(bn);
    return hex;
}

static void
print_certified_json(const char *name, X509 *x, const char *subject,
                     const char *issuer)
{
    struct json j = {.out = stdout};
    char *serial = x ? serial_text(x) : NULL;
    json_begin_object(&j, NULL);
    json_string(&j, "name", name);
    json_string(&j, "subject", subject);
    json_string(&j, "issuer", issuer);
    json_string(&j, "serial", serial);
    json_time(&j, "not_before", x ? seconds_of(X509_get0_notBefore(x)) : 0);
    json_time(&j, "not_after", x ? seconds_of(X509_get0_notAfter(x)) : 0);
    json_end(&j);
    OPENSSL_free(serial);
}

void
output_certified(const char *what, const char *name,
                 const struct tessera_blob *leaf, bool json)
{
    const unsigned char *p = leaf->data;
    X509 *x = d2i_X509(NULL, &p, (long)leaf->len);
    char *subject = x ? output_name_text(X509_get_subject_name(x)) : NULL;
    char *issuer = x ? output_name_text(X509_get_issuer_name(x)) : NULL;
    if (json) {
        print_certified_json(name, x, subject, issuer);
    } else {
        BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);
        BIO_printf(out, "%s %s\n  subject %s\n  issuer  %s\n  expires ", what,
                   name, subject ? subject : "?", issuer ? issuer : "?");
        if (x != NULL)
            ASN1_TIME_print(out, X509_get0_notAfter(x));
        BIO_printf(out, "\n");
        BIO_free(out);
    }
    free(subject);
    free(issuer);
    X509_free(x);
}

static int
exit_status_of(int code)
{
    switch (code) {
    case TESSERA_ERR_UNREACHABLE:
    case TESSERA_ERR_UNTRUSTED:
        return EXIT_UNREACHABLE;
    case TESSERA_ERR_CA_REJECTED:
        return EXIT_CA_REJECTED;
    case TESSERA_ERR_CA_UNREACHABLE:
        return EXIT_CA_UNREACHABLE;
    case TESSERA_ERR_CA_TIMEOUT:
        return EXIT_CA_TIMEOUT;
    case TESSERA_ERR_CA_RESPONSE:
        return EXIT_CA_RESPONSE;
    case TESSERA_ERR_RENEWAL_RUNNING:
        return EXIT_RENEWAL_RUNNING;
    default:
        return EXIT_FAILED;
    }
}

int
cli_fail(const struct cli_args *args, const struct tessera_status *st)
{
    fprintf(stderr, "tessera: %s\n", st->message);
    if (args->json) {
        struct json j = {.out = stdout};
        json_begin_object(&j, NULL);
        json_string(&j, "error", tessera_error_name(st->code));
        json_string(&j, "message", st->message);
        json_end(&j);
    }
    return exit_status_of(st->code);
}
