/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate authorities behind one small interface, one file each: the
 * agent builds and signs the CSR on the token, a protocol gets it signed.
 * Renewal reuses the same interface.
 */
#ifndef TESSERA_ENROLL_H
#define TESSERA_ENROLL_H

#include "../config.h"

#include <gio/gio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

enum enroll_outcome {
    ENROLL_ISSUED,       /* chain filled, leaf first */
    ENROLL_PENDING,      /* ask again later */
    ENROLL_REJECTED,     /* the CA said no; asking again will not help */
    ENROLL_UNREACHABLE,  /* the CA could not be asked */
    ENROLL_BAD_RESPONSE, /* the CA answered with something unusable */
    ENROLL_CANCELLED,    /* the client gave up while the CA said pending */
};

struct agent;

/* A [ca NAME] group of agent.conf, checked when it was read, and the
 * enrolment asking it. */
struct enroll_profile {
    const char *name;
    const struct config_ca *profile; /* config.h: its keys */
    struct agent *agent;
    const char *token;     /* the token URI of the enrolment */
    const char *enrolling; /* the identity enrolled or renewed */
    const char *identity;  /* the name of the new key */
    const char *renewing;  /* a renewal: the identity being renewed, or NULL */
    GCancellable *cancel;  /* the agent is stopping: stop waiting */
    int client_fd;         /* hung up while pending: stop asking; or -1 */
};

struct enroll_result {
    guint attempt;      /* 0, then one more for each ask after "pending" */
    GPtrArray *chain;   /* DER GBytes, leaf first */
    gint64 renew_after; /* seconds since the epoch the CA suggests, or 0 */
};

struct enroll_protocol {
    const char *name;
    const char *default_key; /* when neither --key nor the profile says */
    /*
     * Submits a DER CSR. On ENROLL_ISSUED fills result; otherwise sets
     * *reason to one sentence naming what went wrong.
     */
    enum enroll_outcome (*submit)(const struct enroll_profile *ca, GBytes *csr,
                                  struct enroll_result *result, char **reason);
};

extern const struct enroll_protocol enroll_local;
extern const struct enroll_protocol enroll_exec;
extern const struct enroll_protocol enroll_acme;
extern const struct enroll_protocol enroll_scep;

/* Sleeps up to seconds; TRUE, at once, if the agent stops or the client
 * hangs up meanwhile. */
gboolean enroll_wait(const struct enroll_profile *ca, long seconds);
/* A DER certificate decoded, or NULL. */
X509 *enroll_x509_of(GBytes *der);
/* Renewing: the DER of the certificate being replaced; else NULL. */
GBytes *enroll_current_leaf(const struct enroll_profile *ca);
/* An unencrypted PEM private key file (a local CA's, an ACME account's). */
EVP_PKEY *enroll_read_private_key(const char *path);
/* Every certificate of a PEM text, as DER, appended to chain (bounded). */
gboolean enroll_parse_pem_chain(const char *pem, gsize len, GPtrArray *chain);

#endif
