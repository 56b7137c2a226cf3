/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `tessera enroll`, inside the agent: a key generated on the token, a CSR
 * signed by it, a CA profile's protocol to get it signed (waiting while the
 * CA says pending, up to the request's timeout), the answer verified
 * against the profile's trust anchors, stored as with `tessera import`, and
 * the enrolment recorded for renewal. Whatever fails, the new key goes.
 */
#include "enroll.h"
#include "../../common/errors.h"
#include "../agent.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <string.h>

#define DEFAULT_TIMEOUT_SECONDS 300
#define DEFAULT_RETRY_SECONDS 30

static const struct enroll_protocol *const protocols[] = {
    &enroll_local, &enroll_exec, &enroll_acme, &enroll_scep};

char *
enroll_profile_string(const struct enroll_profile *ca, const char *key)
{
    return g_key_file_get_string(ca->keyfile, ca->group, key, NULL);
}

GBytes *
enroll_current_leaf(const struct enroll_profile *ca)
{
    if (ca->renewing == NULL)
        return NULL;
    struct agent_registry *reg = agent_registry_get(ca->agent);
    struct agent_identity *id = g_hash_table_lookup(reg->by_name, ca->renewing);
    GBytes *leaf = id != NULL && id->certs->len > 0
                       ? g_bytes_ref(g_ptr_array_index(id->certs, 0))
                       : NULL;
    agent_registry_unref(reg);
    return leaf;
}

EVP_PKEY *
enroll_read_private_key(const char *path)
{
    FILE *f = fopen(path, "re");
    EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f != NULL)
        fclose(f);
    ERR_clear_error();
    return key;
}

gboolean
enroll_parse_pem_chain(const char *pem, gsize len, GPtrArray *chain)
{
    BIO *bio = len <= G_MAXINT ? BIO_new_mem_buf(pem, (int)len) : NULL;
    X509 *x;
    gboolean ok = bio != NULL;
    while (ok && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        unsigned char *der = NULL;
        int n = i2d_X509(x, &der);
        ok = n > 0 && chain->len < TESSERA_CHAIN_MAX;
        if (ok)
            g_ptr_array_add(chain, g_bytes_new(der, (gsize)n));
        OPENSSL_free(der);
        X509_free(x);
    }
    ERR_clear_error(); /* the end of the PEM text reads as an error */
    BIO_free(bio);
    return ok;
}

X509 *
enroll_x509_of(GBytes *der)
{
    gsize len;
    const unsigned char *p = g_bytes_get_data(der, &len);
    return d2i_X509(NULL, &p, (long)len);
}

/* The chain leads from the leaf to one of the profile's trust anchors. */
static gboolean
chain_trusted(const struct enroll_profile *ca, GPtrArray *chain, char **reason)
{
    char *trust = enroll_profile_string(ca, "trust");
    if (trust == NULL)
        trust = enroll_profile_string(ca, "ca-cert");
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    X509 *leaf = enroll_x509_of(g_ptr_array_index(chain, 0));
    gboolean ok = FALSE;
    for (guint i = 1; untrusted != NULL && i < chain->len; i++) {
        X509 *x = enroll_x509_of(g_ptr_array_index(chain, i));
        if (x == NULL || !sk_X509_push(untrusted, x))
            X509_free(x);
    }
    if (trust == NULL)
        *reason = g_strdup("the profile names no trust anchor (trust= or "
                           "ca-cert=)");
    else if (store == NULL || ctx == NULL ||
             X509_STORE_load_file(store, trust) != 1)
        *reason = g_strdup_printf("cannot read the trust anchors %s", trust);
    else if (leaf == NULL)
        *reason = g_strdup("the issued certificate is not valid X.509");
    else if (!X509_STORE_CTX_init(ctx, store, leaf, untrusted) ||
             !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) ||
             X509_verify_cert(ctx) != 1)
        *reason = g_strdup_printf(
            "the issued certificate does not chain to %s: %s", trust,
            X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    else
        ok = TRUE;
    ERR_clear_error();
    X509_free(leaf);
    sk_X509_pop_free(untrusted, X509_free);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    g_free(trust);
    return ok;
}

long
enroll_profile_number(const struct enroll_profile *ca, const char *key,
                      long fallback)
{
    if (!g_key_file_has_key(ca->keyfile, ca->group, key, NULL))
        return fallback;
    return (long)g_key_file_get_int64(ca->keyfile, ca->group, key, NULL);
}

/*
 * Sleeps up to `seconds`, or until the client that asked for the enrolment
 * hangs up (Ctrl-C on `tessera enroll`): TRUE if it did.
 */
static gboolean
client_left(int client_fd, long seconds)
{
    struct pollfd p = {.fd = client_fd, .events = POLLIN | POLLRDHUP};
    int n;
    do
        n = poll(&p, 1, (int)(seconds * 1000));
    while (n < 0 && errno == EINTR);
    return n > 0; /* a client sends nothing while it waits: EOF or error */
}

/* Asks until the CA answers for good, the deadline passes or the client
 * leaves. */
static enum enroll_outcome
submit_until(const struct enroll_protocol *proto,
             const struct enroll_profile *ca, GBytes *csr, gint64 deadline,
             int client_fd, struct enroll_result *result, char **reason)
{
    long retry =
        enroll_profile_number(ca, "retry-seconds", DEFAULT_RETRY_SECONDS);
    for (;;) {
        enum enroll_outcome outcome = proto->submit(ca, csr, result, reason);
        if (outcome != ENROLL_PENDING)
            return outcome;
        gint64 now = g_get_monotonic_time();
        if (now + retry * G_USEC_PER_SEC > deadline) {
            *reason = g_strdup("still pending when the enrolment timed out");
            return ENROLL_PENDING;
        }
        g_message("CA %s: request pending, asking again in %ld s", ca->name,
                  retry);
        if (client_left(client_fd, retry)) {
            *reason = g_strdup("the enrolment was interrupted while pending");
            return ENROLL_CANCELLED;
        }
        result->attempt++;
    }
}

static int
error_code(enum enroll_outcome outcome)
{
    switch (outcome) {
    case ENROLL_REJECTED:
        return TESSERA_ERR_CA_REJECTED;
    case ENROLL_PENDING:
        return TESSERA_ERR_CA_TIMEOUT;
    case ENROLL_CANCELLED:
        return TESSERA_ERR_INVALID;
    case ENROLL_BAD_RESPONSE:
        return TESSERA_ERR_CA_RESPONSE;
    default:
        return TESSERA_ERR_CA_UNREACHABLE;
    }
}

/* $XDG_STATE_HOME/tessera/enrolled/NAME.conf: what renewal needs. */
static void
record_enrolment(struct agent *agent, const struct tessera_enroll_request *req,
                 const char *key_spec, gint64 renew_after)
{
    GKeyFile *kf = g_key_file_new();
    g_key_file_set_string(kf, "enrolment", "ca", req->ca);
    g_key_file_set_string(kf, "enrolment", "key", key_spec);
    g_key_file_set_string(kf, "enrolment", "subject", req->key.subject);
    g_key_file_set_string_list(kf, "enrolment", "san",
                               (const char *const *)req->sans, req->n_sans);
    if (renew_after > 0) /* the CA's advice (RFC 9773) */
        g_key_file_set_int64(kf, "enrolment", "renew-after", renew_after);
    gsize len;
    char *data = g_key_file_to_data(kf, &len, NULL);
    char *file = g_strdup_printf("%s.conf", req->key.name);
    char *path =
        g_build_filename(agent->config.state_dir, "enrolled", file, NULL);
    GError *error = NULL;
    if (!agent_write_file_atomic(path, data, len, 0600, &error)) {
        g_warning("identity %s: cannot record its enrolment: %s", req->key.name,
                  error->message);
        g_error_free(error);
    }
    agent_renewal_reschedule(agent, req->key.name);
    g_free(path);
    g_free(file);
    g_free(data);
    g_key_file_free(kf);
}

/* The profile's numbers, checked before a key is made for it, so that
 * enroll_profile_number may trust them. */
static const struct {
    const char *key;
    gint64 min, max;
} profile_numbers[] = {
    {"validity-days", 1, 3650},
    {"validity-seconds", 10, 3650L * 86400},
    {"command-timeout", 1, 3600},
    {"retry-seconds", 1, 86400},
};

static gboolean
profile_numbers_valid(const struct enroll_profile *ca,
                      struct tessera_status *st)
{
    for (size_t i = 0; i < G_N_ELEMENTS(profile_numbers); i++) {
        const char *key = profile_numbers[i].key;
        GError *error = NULL;
        if (!g_key_file_has_key(ca->keyfile, ca->group, key, NULL))
            continue;
        gint64 n = g_key_file_get_int64(ca->keyfile, ca->group, key, &error);
        gboolean ok = error == NULL && n >= profile_numbers[i].min &&
                      n <= profile_numbers[i].max;
        g_clear_error(&error);
        if (!ok) {
            tessera_status_set(st, TESSERA_ERR_INVALID,
                               "CA profile %s: %s must be %" G_GINT64_FORMAT
                               " to %" G_GINT64_FORMAT,
                               ca->name, key, profile_numbers[i].min,
                               profile_numbers[i].max);
            return FALSE;
        }
    }
    return TRUE;
}

static const struct enroll_protocol *
find_protocol(const struct enroll_profile *ca, struct tessera_status *st)
{
    if (!g_key_file_has_group(ca->keyfile, ca->group)) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "no CA profile [ca %s] in agent.conf", ca->name);
        return NULL;
    }
    if (!profile_numbers_valid(ca, st))
        return NULL;
    char *name = enroll_profile_string(ca, "protocol");
    for (size_t i = 0; name != NULL && i < G_N_ELEMENTS(protocols); i++) {
        if (strcmp(name, protocols[i]->name) == 0) {
            g_free(name);
            return protocols[i];
        }
    }
    tessera_status_set(st, TESSERA_ERR_INVALID,
                       "CA profile %s: protocol \"%s\" is not one of local, "
                       "exec, acme, scep",
                       ca->name, name ? name : "");
    g_free(name);
    return NULL;
}

/* SCEP encrypts its reply to the request's key: only RSA can open it. */
static gboolean
key_fits(const struct enroll_protocol *proto, const struct enroll_profile *ca,
         const char *key_spec, struct tessera_status *st)
{
    if (proto != &enroll_scep || g_str_has_prefix(key_spec, "rsa"))
        return TRUE;
    tessera_status_set(st, TESSERA_ERR_INVALID,
                       "CA profile %s uses SCEP, whose replies are encrypted "
                       "to the key: give an RSA key (--key rsa2048)",
                       ca->name);
    return FALSE;
}

/*
 * The CA half of an enrolment, which renewal reuses: the protocol asked
 * until it answers for good, the chain verified against the profile.
 */
static int
certify(const struct enroll_profile *ca, const struct enroll_protocol *proto,
        GBytes *csr, long timeout, int client_fd, struct enroll_result *result,
        struct tessera_status *st)
{
    char *reason = NULL;
    int rc = -1;
    enum enroll_outcome outcome = submit_until(
        proto, ca, csr, g_get_monotonic_time() + timeout * G_USEC_PER_SEC,
        client_fd, result, &reason);
    if (outcome != ENROLL_ISSUED)
        tessera_status_set(st, error_code(outcome), "CA %s: %s", ca->name,
                           reason);
    else if (!chain_trusted(ca, result->chain, &reason))
        tessera_status_set(st, TESSERA_ERR_CA_RESPONSE, "CA %s: %s", ca->name,
                           reason);
    else
        rc = 0;
    g_free(reason);
    return rc;
}

int
agent_certify(struct agent *agent, const struct agent_certify_request *req,
              struct enroll_result *result, struct tessera_status *st)
{
    char *group = g_strdup_printf("ca %s", req->ca);
    struct enroll_profile ca = {
        req->ca,    agent->config.keyfile, group,         agent,
        req->token, req->key_name,         req->renewing, req->client_fd};
    const struct enroll_protocol *proto = find_protocol(&ca, st);
    GBytes *csr = g_bytes_new(req->csr.data, req->csr.len);
    int rc = proto != NULL ? certify(&ca, proto, csr, req->timeout_seconds,
                                     req->client_fd, result, st)
                           : -1;
    g_bytes_unref(csr);
    g_free(group);
    return rc;
}

/* Stores what the CA issued beside the new key; on success the leaf's DER. */
static int
accept_chain(struct agent *agent, const struct tessera_enroll_request *req,
             GPtrArray *chain, struct tessera_blob *leaf,
             struct tessera_status *st)
{
    struct tessera_import_request import = {.name = req->key.name};
    for (guint i = 0; i < chain->len; i++) {
        gsize len;
        const void *der = g_bytes_get_data(g_ptr_array_index(chain, i), &len);
        import.certs[import.n_certs++] =
            (struct tessera_blob){(void *)der, len};
    }
    if (agent_import(agent, &import, st) < 0) {
        if (st->code == TESSERA_ERR_INVALID)
            st->code = TESSERA_ERR_CA_RESPONSE; /* e.g. not our key */
        return -1;
    }
    gsize len;
    const void *der = g_bytes_get_data(g_ptr_array_index(chain, 0), &len);
    tessera_blob_copy(leaf, (struct tessera_bytes){der, len});
    return 0;
}

int
agent_enroll(struct agent *agent, const struct tessera_enroll_request *req,
             int client_fd, struct tessera_blob *leaf,
             struct tessera_status *st)
{
    char *group = g_strdup_printf("ca %s", req->ca);
    struct enroll_profile ca = {
        req->ca,        agent->config.keyfile, group, agent,
        req->key.token, req->key.name,         NULL,  client_fd};
    const struct enroll_protocol *proto = find_protocol(&ca, st);
    struct tessera_keygen_request key = req->key;
    char *profile_key = proto ? enroll_profile_string(&ca, "key") : NULL;
    X509_EXTENSION *san = NULL;
    struct tessera_blob csr = {0};
    GPtrArray *chain =
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    struct enroll_result result = {.chain = chain};
    int rc = -1;
    if (proto != NULL && key.key_spec[0] == '\0')
        key.key_spec = profile_key ? profile_key : (char *)proto->default_key;
    if (proto == NULL || !key_fits(proto, &ca, key.key_spec, st) ||
        (req->n_sans > 0 &&
         (san = agent_san_extension(req->sans, req->n_sans, st)) == NULL) ||
        agent_keygen(agent, &key, san, &csr, st) < 0)
        goto out;

    g_message("enrolling %s with CA %s (%s)", req->key.name, req->ca,
              proto->name);
    long timeout = req->timeout_seconds ? (long)req->timeout_seconds
                                        : DEFAULT_TIMEOUT_SECONDS;
    GBytes *csr_bytes = g_bytes_new(csr.data, csr.len);
    rc = certify(&ca, proto, csr_bytes, timeout, client_fd, &result, st);
    g_bytes_unref(csr_bytes);
    if (rc == 0)
        rc = accept_chain(agent, req, chain, leaf, st);
    if (rc == 0) {
        record_enrolment(agent, req, key.key_spec, result.renew_after);
        g_message("enrolled %s with CA %s", req->key.name, req->ca);
    } else {
        g_message("enrolment of %s failed: %s; removing its new key",
                  req->key.name, st->message);
        agent_delete_identity(agent, req->key.name);
    }
out:
    g_ptr_array_unref(chain);
    tessera_blob_clear(&csr);
    X509_EXTENSION_free(san);
    g_free(profile_key);
    g_free(group);
    return rc;
}
