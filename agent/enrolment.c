/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `tessera enroll`, inside the agent: a key generated on the token, a CSR
 * signed by it, the CA asked (enroll/certify.c), the answer stored beside
 * the key, and the enrolment recorded for renewal. Journaled as a renewal
 * is (steps.h): the key is NAME~next until it has its certificate, and a
 * crash leaves either nothing or, after recovery, the whole identity.
 */
#include "enrolment.h"
#include "../common/errors.h"
#include "agent.h"
#include "claims.h"
#include "events.h"
#include "enroll/certify.h"
#include "enroll/enroll.h"
#include "keys.h"
#include "record.h"
#include "recover.h"
#include "registry.h"
#include "steps.h"

#define DEFAULT_TIMEOUT_SECONDS 300

/* After every check, with NAME claimed: the steps of steps.h. */
static int
enrol_claimed(struct agent *agent, const struct tessera_enroll_request *req,
              const char *key_spec, struct agent_token *token, int client_fd,
              struct tessera_blob *leaf, struct tessera_status *st)
{
    const char *name = req->key.name;
    enum recovery_action done;
    /* What an interrupted enrolment of the name left goes first. */
    if (agent_recover_first(agent, name, &done, st) < 0)
        return -1;
    GBytes *taken = agent_leaf_of(agent, name);
    if (taken != NULL || done == RECOVERY_FINISH) {
        tessera_status_set(st, TESSERA_ERR_EXISTS,
                           "an identity named %s exists already", name);
        if (taken != NULL)
            g_bytes_unref(taken);
        return -1;
    }
    if (!agent_journal_ready(agent, st))
        return -1;
    char **sans = g_new0(char *, req->n_sans + 1);
    for (size_t i = 0; i < req->n_sans; i++)
        sans[i] = g_strdup(req->sans[i]);
    struct journal j = {
        .kind = JOURNAL_ENROLMENT,
        .ca = g_strdup(req->ca),
        .token_serial = g_strdup(token_serial(token)),
        .token_label = g_strdup(token_label(token)),
        .new_id = agent_new_key_id(),
        .rekey = TRUE,
        .key_spec = g_strdup(key_spec),
        .subject = g_strdup(req->key.subject),
        .sans = sans,
    };
    struct journal_request ask = {
        .subject = req->key.subject,
        .sans = sans,
        .timeout_seconds = req->timeout_seconds ? (long)req->timeout_seconds
                                                : DEFAULT_TIMEOUT_SECONDS,
        .client_fd = client_fd,
    };
    int rc = agent_journal_request(agent, token, name, &j, &ask, st);
    struct tessera_status why = {0};
    /* The client stops waiting; the agent does not. */
    if (rc < 0 && st->code == TESSERA_ERR_CA_TIMEOUT &&
        agent_journal_keep_pending(agent, token, name, &j, &why) == 0) {
        tessera_status_set(st, TESSERA_ERR_CA_TIMEOUT,
                           "CA %s still says pending; the agent keeps asking "
                           "it and stores the certificate when it comes "
                           "(`tessera list` shows %s pending, with the next "
                           "try)",
                           req->ca, name);
    } else if (rc < 0) {
        g_message("enrolment of %s failed: %s; removing its new key", name,
                  st->message);
        agent_journal_roll_back(agent, token, name, &j);
    } else if ((rc = agent_journal_finish(agent, token, name, &j, st)) < 0) {
        g_message("enrolment of %s failed: %s", name, st->message);
    } else {
        agent_leaf_copy(agent, name, leaf);
        g_message("enrolled %s with CA %s", name, req->ca);
    }
    journal_clear(&j);
    return rc;
}

int
agent_enroll(struct agent *agent, const struct tessera_enroll_request *req,
             int client_fd, struct tessera_blob *leaf,
             struct tessera_status *st)
{
    struct agent_config *cfg = agent_config_get(agent);
    const struct config_ca *profile = agent_config_ca(cfg, req->ca);
    const struct enroll_protocol *proto =
        enroll_protocol_of(profile, req->ca, st);
    struct tessera_keygen_request key = req->key;
    struct tessera_keyspec spec;
    struct agent_token *token = NULL;
    X509_EXTENSION *san = NULL;
    int rc = -1;
    if (proto != NULL && key.key_spec[0] == '\0')
        key.key_spec = profile->key ? profile->key : (char *)proto->default_key;
    /* Everything is checked before a key is made. */
    if (proto == NULL || !enroll_key_fits(proto, req->ca, key.key_spec, st) ||
        (req->n_sans > 0 &&
         (san = agent_san_extension(req->sans, req->n_sans, st)) == NULL) ||
        (token = agent_keygen_token(agent, &key, &spec, st)) == NULL)
        goto out;
    if (agent_claim_take(agent->claims, key.name, CLAIM_ENROLMENT, st)) {
        g_message("enrolling %s with CA %s (%s)", key.name, req->ca,
                  proto->name);
        rc =
            enrol_claimed(agent, req, key.key_spec, token, client_fd, leaf, st);
        agent_claim_release(agent->claims, key.name);
    }
out:
    if (token != NULL)
        token_unref(token);
    X509_EXTENSION_free(san);
    agent_config_unref(cfg);
    return rc;
}

/* The spelling of the identity's key type, as keygen takes it. */
static const char *
key_spec_of(const struct agent_identity *id)
{
    struct tessera_keyspec spec;
    const char *name;
    for (size_t i = 0; (name = tessera_keyspec_name(i)) != NULL; i++)
        if (tessera_keyspec_parse(name, &spec) &&
            spec.type == agent_identity_key_type(id) &&
            (spec.type == TESSERA_KEY_ED25519 ||
             spec.bits == agent_identity_key_bits(id)))
            return name;
    return NULL;
}

int
agent_adopt(struct agent *agent, const char *name, const char *ca,
            struct tessera_status *st)
{
    struct agent_identity *id = agent_identity_find(agent, name);
    GBytes *leaf = id ? agent_identity_leaf(id) : NULL;
    X509 *x = leaf ? enroll_x509_of(leaf) : NULL;
    const char *key_spec = id ? key_spec_of(id) : NULL;
    char **sans = NULL;
    char *subject = x ? agent_subject_text(X509_get_subject_name(x)) : NULL;
    int rc = -1;
    if (x == NULL)
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "identity %s has no certificate to renew", name);
    else if (key_spec == NULL)
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "identity %s has a key of a type renewal cannot "
                           "make",
                           name);
    else if ((sans = agent_sans_of(x, st)) != NULL) {
        struct enrolment_record r = {
            .ca = (char *)ca,
            .key_spec = (char *)key_spec,
            .subject = subject,
            .sans = sans,
        };
        rc = record_write(agent->state, name, &r, st);
    }
    if (rc == 0) {
        g_message("identity %s renews through CA %s from now on", name, ca);
        agent_events_publish(agent->events, AGENT_EVENT_ENROLMENT_RECORDED,
                             name, NULL);
    }
    g_strfreev(sans);
    g_free(subject);
    X509_free(x);
    agent_identity_unref(id);
    return rc;
}
