/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tessera doctor: checks, in the order a program meets them, what stands
 * between an OpenSSL program and an identity, and says in one line each
 * what is wrong and how to fix it. It looks where programs look: the
 * configuration OpenSSL reads and the socket the provider dials
 * ($TESSERA_SOCKET, else $XDG_RUNTIME_DIR), not tessera's --socket.
 */
#include "cli.h"
#include "json.h"
#include "output.h"
#include "../common/keyref.h"

#include <openssl/conf.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* What the provider calls itself (provider.c, OSSL_PROV_PARAM_NAME). */
#define PROVIDER_TITLE "Tessera credential agent"

struct doctor {
    int failures;
    OSSL_LIB_CTX *libctx;          /* configured as programs are, or NULL */
    const OSSL_PROVIDER *provider; /* Tessera's, in libctx, or NULL */
    struct tessera_client *agent;
    struct tessera_identity_list identities; /* what the agent listed */
    bool agent_answers;
    struct json *json; /* --json: the checks as an array, else NULL */
};

#define FIX "; fix: "

/* One line: "ok   CHECK: WHAT", or "FAIL CHECK: WHAT; fix: HOW"; or an
 * object {"check", "ok", "message", "fix"} with WHAT and HOW apart. */
static void __attribute__((format(printf, 4, 5)))
report(struct doctor *d, bool ok, const char *check, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (!ok)
        d->failures++;
    if (d->json == NULL) {
        printf("%-4s %s: %s\n", ok ? "ok" : "FAIL", check, text);
        return;
    }
    char *fix = strstr(text, FIX);
    if (fix != NULL) {
        *fix = '\0';
        fix += strlen(FIX);
    }
    json_begin_object(d->json, NULL);
    json_string(d->json, "check", check);
    json_bool(d->json, "ok", ok);
    json_string(d->json, "message", text);
    json_string(d->json, "fix", fix);
    json_end(d->json);
}

/* OpenSSL's last error, with the sentence a provider attached to it. */
static const char *
openssl_error(char *buf, size_t size)
{
    const char *data = NULL;
    int flags = 0;
    unsigned long e = ERR_peek_last_error_data(&data, &flags);
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    if (data != NULL && (flags & ERR_TXT_STRING) && data[0] != '\0')
        snprintf(buf, size, "%s", data);
    else
        snprintf(buf, size, "%s", reason ? reason : "unknown error");
    ERR_clear_error();
    return buf;
}

static void
check_configuration(struct doctor *d)
{
    const char *env = getenv("OPENSSL_CONF");
    char *fallback = env ? NULL : CONF_get1_default_config_file();
    const char *path = env ? env : fallback;
    char err[512];
    if (path == NULL || access(path, R_OK) != 0) {
        report(d, false, "OPENSSL_CONF",
               "%s cannot be read; fix: point OPENSSL_CONF at a readable "
               "file, such as %s",
               path ? path : "the default configuration", TESSERA_SNIPPET);
    } else {
        report(d, true, "OPENSSL_CONF",
               env ? "%s is readable" : "not set; programs read %s", path);
        d->libctx = OSSL_LIB_CTX_new();
        if (d->libctx != NULL && !OSSL_LIB_CTX_load_config(d->libctx, path)) {
            report(d, false, "configuration",
                   "%s does not load (%s); fix: correct it where OpenSSL "
                   "says",
                   path, openssl_error(err, sizeof(err)));
            OSSL_LIB_CTX_free(d->libctx);
            d->libctx = NULL;
        }
    }
    OPENSSL_free(fallback);
}

static int
find_tessera(OSSL_PROVIDER *prov, void *arg)
{
    const char *title = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, &title, 0),
        OSSL_PARAM_END,
    };
    if (OSSL_PROVIDER_get_params(prov, params) && title != NULL &&
        strcmp(title, PROVIDER_TITLE) == 0) {
        *(const OSSL_PROVIDER **)arg = prov;
        return 0;
    }
    return 1;
}

static const char *
provider_version(const OSSL_PROVIDER *prov)
{
    const char *version = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, &version, 0),
        OSSL_PARAM_END,
    };
    OSSL_PROVIDER_get_params(prov, params);
    return version ? version : "unknown";
}

/* Found, of this version, and ordinary keys with another provider. */
static void
check_provider(struct doctor *d)
{
    if (d->libctx == NULL)
        return;
    OSSL_PROVIDER_do_all(d->libctx, find_tessera, &d->provider);
    if (d->provider == NULL) {
        const char *dir = getenv("OPENSSL_MODULES");
        report(d, false, "provider",
               "the configuration does not load tessera (tessera.so is "
               "looked for in %s); fix: add `tessera = tessera_sect` to its "
               "[provider_sect] and `activate = 1` to [tessera_sect], as in "
               "%s",
               dir ? dir : OPENSSL_info(OPENSSL_INFO_MODULES_DIR),
               TESSERA_SNIPPET);
        return;
    }
    const char *version = provider_version(d->provider);
    report(d, strcmp(version, TESSERA_VERSION) == 0, "provider",
           strcmp(version, TESSERA_VERSION) == 0
               ? "tessera %s is loaded"
               : "tessera.so is version %s, this tessera " TESSERA_VERSION
                 "; fix: install them together",
           version);
    EVP_KEYMGMT *km = EVP_KEYMGMT_fetch(d->libctx, "EC", NULL);
    const OSSL_PROVIDER *holder = km ? EVP_KEYMGMT_get0_provider(km) : NULL;
    if (holder == NULL)
        report(d, false, "provider order",
               "no provider holds ordinary keys; fix: activate the default "
               "provider too (`default = default_sect` with `activate = 1`)");
    else if (holder == d->provider)
        report(d, false, "provider order",
               "ordinary keys would go to Tessera; fix: install a tessera.so "
               "that takes either order (this version's)");
    else
        report(d, true, "provider order",
               "ordinary keys stay with the %s provider",
               OSSL_PROVIDER_get0_name(holder));
    EVP_KEYMGMT_free(km);
    ERR_clear_error();
}

static void
check_agent(struct doctor *d)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct tessera_status st = {0};
    d->agent_answers = tessera_client_socket_path(path, sizeof(path), &st) &&
                       tessera_client_list(d->agent, &d->identities, &st) == 0;
    if (!d->agent_answers)
        report(d, false, "agent", "%s", st.message);
    else
        report(d, true, "agent", "answers at %s, with %zu identities", path,
               d->identities.n);
}

static void
format_asn1_time(const ASN1_TIME *t, char *buf, size_t size)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(t, &tm) != 1 ||
        strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm) == 0)
        snprintf(buf, size, "an unreadable date");
}

static X509 *
der_certificate(const struct tessera_blob *der)
{
    const unsigned char *p = der->data;
    return d2i_X509(NULL, &p, (long)der->len);
}

static void
check_token(struct doctor *d, const struct tessera_identity_summary *s)
{
    if (!(s->flags & TESSERA_ID_TOKEN_PRESENT))
        report(d, false, "token",
               "\"%s\", which holds %s, is not present; fix: insert it",
               s->token_label, s->name);
    else if (!(s->flags & TESSERA_ID_LOGGED_IN))
        report(d, false, "token",
               "\"%s\", which holds %s, is locked; fix: tessera unlock '%s'",
               s->token_label, s->name, s->token_label);
    else
        report(d, true, "token",
               "\"%s\", which holds %s, is present and "
               "unlocked",
               s->token_label, s->name);
}

/* The leaf and the chain the agent serves must lead to a trusted root. */
static void
check_chain(struct doctor *d, const struct tessera_identity *id, X509 *leaf)
{
    const char *name = id->summary.name;
    X509_STORE *trusted = X509_STORE_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    bool ok = trusted && untrusted && ctx &&
              X509_STORE_set_default_paths(trusted) == 1;
    for (size_t i = 1; ok && i < id->n_certs; i++) {
        X509 *x = der_certificate(&id->certs[i]);
        ok = x != NULL && X509_add_cert(untrusted, x, X509_ADD_FLAG_DEFAULT);
        /* A root the identity carries is its anchor. */
        if (ok && X509_self_signed(x, 0) == 1)
            ok = X509_STORE_add_cert(trusted, x) == 1;
        if (!ok)
            X509_free(x);
    }
    int verified = ok && X509_STORE_CTX_init(ctx, trusted, leaf, untrusted) &&
                   X509_verify_cert(ctx) == 1;
    if (verified) {
        STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
        X509 *root = sk_X509_value(chain, sk_X509_num(chain) - 1);
        char *subject = output_name_text(X509_get_subject_name(root));
        report(d, true, "chain", "%s's leads to %s", name,
               subject ? subject : "its root");
        free(subject);
    } else if (ctx != NULL && X509_STORE_CTX_get_current_cert(ctx) != NULL) {
        X509 *at = X509_STORE_CTX_get_current_cert(ctx);
        char *issuer = output_name_text(X509_get_issuer_name(at));
        report(d, false, "chain",
               "%s's stops at %s (%s); fix: install that CA certificate in "
               "the system trust store, or give the CA certificates with "
               "--chain when importing the next certificate",
               name, issuer ? issuer : "an unnamed issuer",
               X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        free(issuer);
    } else {
        report(d, false, "chain", "%s's cannot be read", name);
    }
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(untrusted, X509_free);
    X509_STORE_free(trusted);
    ERR_clear_error();
}

static void
check_certificate(struct doctor *d, const struct tessera_identity *id)
{
    const char *name = id->summary.name;
    X509 *leaf = id->n_certs > 0 ? der_certificate(&id->certs[0]) : NULL;
    char when[64];
    if (leaf == NULL) {
        report(d, false, "certificate",
               "%s has none; fix: tessera import %s --cert FILE", name, name);
        return;
    }
    bool enrolled = id->summary.renewal_state != TESSERA_RENEWAL_NONE;
    if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
        format_asn1_time(X509_get0_notBefore(leaf), when, sizeof(when));
        report(d, false, "certificate",
               "%s's is not valid before %s; fix: check this machine's clock",
               name, when);
    } else if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
        format_asn1_time(X509_get0_notAfter(leaf), when, sizeof(when));
        if (enrolled)
            report(d, false, "certificate",
                   "%s's expired on %s; fix: tessera renew %s", name, when,
                   name);
        else
            report(d, false, "certificate",
                   "%s's expired on %s; fix: have the CA issue a new one and "
                   "import it",
                   name, when);
    } else {
        format_asn1_time(X509_get0_notAfter(leaf), when, sizeof(when));
        report(d, true, "certificate", "%s's is valid until %s", name, when);
        check_chain(d, id, leaf);
    }
    X509_free(leaf);
}

static bool
check_identity(struct doctor *d, const char *name, struct tessera_identity *id)
{
    struct tessera_status st = {0};
    if (tessera_client_get_identity(d->agent, name, id, &st) != 0) {
        report(d, false, "identity", "%s", st.message); /* says what to do */
        return false;
    }
    check_token(d, &id->summary);
    check_certificate(d, id);
    return true;
}

/* A key-reference file, read without the provider; false with the reason. */
static bool
read_key_file(const char *path, uint8_t der[TESSERA_KEYREF_DER_MAX],
              struct tessera_keyref *ref, char *why, size_t size)
{
    BIO *in = BIO_new_file(path, "r");
    char *pem_name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    bool ok = false;
    if (in == NULL || !PEM_read_bio(in, &pem_name, &header, &data, &len))
        snprintf(why, size, "%s cannot be read as PEM", path);
    else if (strcmp(pem_name, TESSERA_KEYREF_PEM_NAME) != 0)
        snprintf(why, size, "%s holds a %s block, not a Tessera key reference",
                 path, pem_name);
    else if ((size_t)len > TESSERA_KEYREF_DER_MAX)
        snprintf(why, size, "%s is too long for a key reference", path);
    else {
        memcpy(der, data, (size_t)len);
        ok = tessera_keyref_decode(der, (size_t)len, ref);
        if (!ok)
            snprintf(why, size, "%s is a malformed key reference", path);
    }
    OPENSSL_free(pem_name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(in);
    ERR_clear_error();
    return ok;
}

static bool
same_key(EVP_PKEY *pkey, const uint8_t *spki, size_t spki_len)
{
    unsigned char *der = NULL;
    int len = pkey ? i2d_PUBKEY(pkey, &der) : -1;
    bool same =
        len > 0 && (size_t)len == spki_len && memcmp(der, spki, spki_len) == 0;
    OPENSSL_free(der);
    return same;
}

static X509 *
read_cert_file(const char *path)
{
    BIO *in = BIO_new_file(path, "r");
    X509 *x = in ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;
    BIO_free(in);
    ERR_clear_error();
    return x;
}

/* Loads both files as programs do, through the provider. */
static void
check_files_together(struct doctor *d, const char *cert_path,
                     const char *key_path, X509 *cert)
{
    char err[512];
    if (d->libctx == NULL || d->provider == NULL)
        return;
    BIO *in = BIO_new_file(key_path, "r");
    EVP_PKEY *pkey =
        in ? PEM_read_bio_PrivateKey_ex(in, NULL, NULL, NULL, d->libctx, NULL)
           : NULL;
    if (pkey != NULL && X509_check_private_key(cert, pkey) == 1)
        report(d, true, "key and certificate files",
               "programs load %s and %s as one identity", key_path, cert_path);
    else
        report(d, false, "key and certificate files",
               "programs cannot use %s with %s: %s", key_path, cert_path,
               openssl_error(err, sizeof(err)));
    EVP_PKEY_free(pkey);
    BIO_free(in);
}

static void
check_files(struct doctor *d, const struct tessera_keyref *ref,
            const struct tessera_identity *id, const char *cert_path,
            const char *key_path)
{
    const char *name = ref->name;
    if (ref->spki == NULL)
        report(d, false, "key file",
               "%s has no public key (version 1), so programs cannot load "
               "it while the agent is down; fix: tessera export %s "
               "--key-ref %s",
               key_path, name, key_path);
    else if (id != NULL &&
             !(ref->spki_len == id->spki.len &&
               memcmp(ref->spki, id->spki.data, id->spki.len) == 0))
        report(d, false, "key file",
               "%s carries the key %s had before a renewal; fix: tessera "
               "export %s --key-ref %s",
               key_path, name, name, key_path);
    else
        report(d, true, "key file", "%s names %s", key_path, name);
    X509 *cert = read_cert_file(cert_path);
    if (cert == NULL) {
        report(d, false, "certificate file",
               "%s cannot be read as a PEM certificate; fix: tessera export "
               "%s --cert %s",
               cert_path, name, cert_path);
        return;
    }
    if (id != NULL &&
        !same_key(X509_get0_pubkey(cert), id->spki.data, id->spki.len))
        report(d, false, "certificate file",
               "%s is not %s's current certificate; fix: tessera export %s "
               "--cert %s (or cert-file= in agent.conf keeps it current)",
               cert_path, name, name, cert_path);
    else if (id != NULL)
        report(d, true, "certificate file", "%s is %s's current certificate",
               cert_path, name);
    check_files_together(d, cert_path, key_path, cert);
    X509_free(cert);
}

static void
check_all_identities(struct doctor *d)
{
    if (d->identities.n == 0)
        report(d, false, "identities",
               "the agent has none; fix: tessera enroll, or tessera keygen "
               "and tessera import");
    for (size_t i = 0; i < d->identities.n; i++) {
        struct tessera_identity id;
        if (check_identity(d, d->identities.items[i].name, &id))
            tessera_identity_clear(&id);
    }
}

int
cmd_doctor(struct tessera_client *agent, const struct cli_args *args)
{
    const char *cert_path = cli_value(args, "cert");
    const char *key_path = cli_value(args, "key");
    if ((cert_path == NULL) != (key_path == NULL))
        return cli_usage_error(args->command,
                               "takes --cert and --key together");
    const char *name = args->operand;
    uint8_t der[TESSERA_KEYREF_DER_MAX];
    struct tessera_keyref ref;
    char why[512];
    /* Where programs look: the environment, never tessera's --socket. */
    struct tessera_client_options where_programs_look = {0};
    (void)agent;
    struct json json = {.out = stdout};
    struct doctor d = {.agent = tessera_client_new(&where_programs_look),
                       .json = args->json ? &json : NULL};
    if (d.agent == NULL) {
        fprintf(stderr, "tessera: out of memory\n");
        return EXIT_FAILED;
    }
    if (d.json != NULL)
        json_begin_array(d.json, NULL);
    bool have_ref = key_path != NULL &&
                    read_key_file(key_path, der, &ref, why, sizeof(why));
    if (key_path != NULL && !have_ref)
        report(&d, false, "key file", "%s; fix: tessera export %s --key-ref %s",
               why, name ? name : "NAME", key_path);
    else if (have_ref && name != NULL && strcmp(name, ref.name) != 0)
        report(&d, false, "key file", "%s names %s, not %s", key_path, ref.name,
               name);
    if (name == NULL && have_ref)
        name = ref.name;

    check_configuration(&d);
    check_provider(&d);
    check_agent(&d);
    struct tessera_identity id;
    bool found =
        d.agent_answers && name != NULL && check_identity(&d, name, &id);
    if (d.agent_answers && name == NULL)
        check_all_identities(&d);
    /* Without the agent the files still load, from the key they carry. */
    if (have_ref && strcmp(name, ref.name) == 0)
        check_files(&d, &ref, found ? &id : NULL, cert_path, key_path);
    if (found)
        tessera_identity_clear(&id);
    tessera_identity_list_clear(&d.identities);
    tessera_client_free(d.agent);
    OSSL_LIB_CTX_free(d.libctx);
    if (d.json != NULL)
        json_end(d.json);
    return d.failures == 0 ? EXIT_OK : EXIT_FAILED;
}
