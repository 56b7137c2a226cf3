/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CA half of an enrolment or renewal: the profile's protocol asked
 * until it answers for good (waiting while the CA says pending, up to the
 * request's timeout), and the chain it issued verified against the
 * profile's trust anchors.
 */
#include "certify.h"
#include "../../common/errors.h"
#include "../agent.h"
#include "../chaincheck.h"
#include "../events.h"
#include "../naming.h"
#include "../registry.h"
#include "enroll.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <string.h>

static const struct enroll_protocol *const protocols[] = {
    [CONFIG_LOCAL] = &enroll_local,
    [CONFIG_EXEC] = &enroll_exec,
    [CONFIG_ACME] = &enroll_acme,
    [CONFIG_SCEP] = &enroll_scep,
};

GBytes *
enroll_current_leaf(const struct enroll_profile *ca)
{
    return ca->renewing != NULL ? agent_leaf_of(ca->agent, ca->renewing) : NULL;
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
    const char *trust =
        ca->profile->trust ? ca->profile->trust : ca->profile->ca_cert;
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
    /* Without trust=, a local profile's own CA is the anchor, though it
     * is an issuing CA below a root. */
    if (store != NULL && ca->profile->trust == NULL)
        X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    if (store == NULL || ctx == NULL || X509_STORE_load_file(store, trust) != 1)
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
    return ok;
}

gboolean
enroll_wait(const struct enroll_profile *ca, long seconds)
{
    struct pollfd p[2] = {
        {.fd = ca->client_fd, .events = POLLIN | POLLRDHUP},
        {.fd = ca->cancel ? g_cancellable_get_fd(ca->cancel) : -1,
         .events = POLLIN},
    };
    int n;
    do
        n = poll(p, 2, (int)(seconds * 1000));
    while (n < 0 && errno == EINTR);
    if (ca->cancel != NULL)
        g_cancellable_release_fd(ca->cancel);
    /* A client sends nothing while it waits: readable means EOF or error. */
    return n > 0 || g_cancellable_is_cancelled(ca->cancel);
}

/* Asks until the CA answers for good, the deadline passes, the client
 * leaves or the agent stops. */
static enum enroll_outcome
submit_until(const struct enroll_protocol *proto,
             const struct enroll_profile *ca, GBytes *csr, gint64 deadline,
             struct enroll_result *result, char **reason)
{
    long retry = (long)ca->profile->retry_seconds;
    struct agent_events *events = ca->agent->events;
    for (;;) {
        agent_events_progress(events, ca->enrolling, TESSERA_STEP_SUBMITTED, 0,
                              "%s CA %s (%s)",
                              result->attempt == 0 ? "asking" : "asking again",
                              ca->name, proto->name);
        enum enroll_outcome outcome = proto->submit(ca, csr, result, reason);
        if (outcome != ENROLL_PENDING)
            return outcome;
        gint64 now = g_get_monotonic_time();
        if (now + retry * G_USEC_PER_SEC > deadline) {
            *reason = g_strdup("the request is still pending");
            return ENROLL_PENDING;
        }
        agent_events_progress(
            events, ca->enrolling, TESSERA_STEP_PENDING, (guint)retry,
            "CA %s: request pending, asking again in %ld s", ca->name, retry);
        if (enroll_wait(ca, retry)) {
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

const struct enroll_protocol *
enroll_protocol_of(const struct config_ca *profile, const char *name,
                   struct tessera_status *st)
{
    if (profile != NULL)
        return protocols[profile->protocol];
    tessera_status_set(st, TESSERA_ERR_INVALID,
                       "no CA profile [ca %s] in agent.conf", name);
    return NULL;
}

gboolean
enroll_key_fits(const struct enroll_protocol *proto, const char *name,
                const char *key_spec, struct tessera_status *st)
{
    if (proto != &enroll_scep || g_str_has_prefix(key_spec, "rsa"))
        return TRUE;
    tessera_status_set(st, TESSERA_ERR_INVALID,
                       "CA profile %s uses SCEP, whose replies are encrypted "
                       "to the key: give an RSA key (--key rsa2048)",
                       name);
    return FALSE;
}

/* What clients could not load of the issued chain (chaincheck.h), or NULL;
 * the leaf must be for the key the CSR is signed with. */
static char *
chain_unusable(const struct enroll_profile *ca, GBytes *csr, GPtrArray *chain)
{
    struct tessera_blob certs[TESSERA_CHAIN_MAX];
    size_t n = chain->len;
    for (size_t i = 0; i < MIN(n, TESSERA_CHAIN_MAX); i++) {
        gsize len;
        const void *der = g_bytes_get_data(g_ptr_array_index(chain, i), &len);
        certs[i] = (struct tessera_blob){(void *)der, len};
    }
    gsize len;
    const unsigned char *p = g_bytes_get_data(csr, &len);
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
    /* The identity's name, not its next key's. */
    char *name = g_strdup(ca->identity);
    if (naming_is_renewal_key(name))
        name[strlen(name) - strlen(NAMING_NEXT_SUFFIX)] = '\0';
    char *why =
        req == NULL
            ? g_strdup("the request sent cannot be read back")
            : agent_chain_unusable(name, certs, n, X509_REQ_get0_pubkey(req),
                                   ca->profile->require_client_auth);
    X509_REQ_free(req);
    g_free(name);
    return why;
}

/*
 * The CA half of an enrolment, which renewal reuses: the protocol asked
 * until it answers for good, the chain verified against the profile.
 */
static int
certify(const struct enroll_profile *ca, const struct enroll_protocol *proto,
        GBytes *csr, long timeout, struct enroll_result *result,
        struct tessera_status *st)
{
    char *reason = NULL;
    int rc = -1;
    enum enroll_outcome outcome = submit_until(
        proto, ca, csr, g_get_monotonic_time() + timeout * G_USEC_PER_SEC,
        result, &reason);
    /* Whatever the protocol made of it, the CA was not waited for. */
    if (outcome != ENROLL_ISSUED && g_cancellable_is_cancelled(ca->cancel))
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "the agent is stopping: CA %s was not waited for",
                           ca->name);
    else if (outcome != ENROLL_ISSUED)
        tessera_status_set(st, error_code(outcome), "CA %s: %s", ca->name,
                           reason);
    else if (!chain_trusted(ca, result->chain, &reason) ||
             (reason = chain_unusable(ca, csr, result->chain)) != NULL)
        tessera_status_set(st, TESSERA_ERR_CA_RESPONSE, "CA %s: %s", ca->name,
                           reason);
    else
        rc = 0;
    if (rc == 0)
        agent_events_progress(ca->agent->events, ca->enrolling,
                              TESSERA_STEP_ISSUED, 0,
                              "CA %s issued its certificate", ca->name);
    g_free(reason);
    return rc;
}

int
agent_certify(struct agent *agent, const struct agent_certify_request *req,
              struct enroll_result *result, struct tessera_status *st)
{
    /* The profile as it is now, kept whatever a reload does meanwhile. */
    struct agent_config *cfg = agent_config_get(agent);
    struct enroll_profile ca = {
        .name = req->ca,
        .enrolling = req->name,
        .profile = agent_config_ca(cfg, req->ca),
        .agent = agent,
        .token = req->token,
        .identity = req->key_name,
        .renewing = req->renewing,
        .cancel = req->cancel,
        .client_fd = req->client_fd,
    };
    const struct enroll_protocol *proto =
        enroll_protocol_of(ca.profile, req->ca, st);
    GBytes *csr = g_bytes_new(req->csr.data, req->csr.len);
    int rc = proto != NULL
                 ? certify(&ca, proto, csr, req->timeout_seconds, result, st)
                 : -1;
    g_bytes_unref(csr);
    agent_config_unref(cfg);
    return rc;
}
