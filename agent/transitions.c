/* SPDX-License-Identifier: Apache-2.0 */
#include "transitions.h"
#include "../common/errors.h"
#include "agent.h"
#include "enroll/enroll.h"
#include "keys.h"
#include "naming.h"
#include "objects.h"
#include "registry.h"
#include "state.h"
#include "testpoint.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <string.h>
#include <unistd.h>

static char *
label_of(const char *name, const char *suffix)
{
    return g_strconcat(name, suffix, NULL);
}

static void
begin(struct agent *agent, struct agent_token *token)
{
    agent_registry_change_begin(agent);
    token_objects_changing(token);
}

/* The registry learns what the step did to these keys; then signatures
 * that met the change in the middle may try again. */
static void
end(struct agent *agent, struct agent_token *token, GBytes *a, GBytes *b)
{
    GPtrArray *ids = g_ptr_array_new();
    g_ptr_array_add(ids, a);
    if (b != NULL)
        g_ptr_array_add(ids, b);
    agent_registry_change_end(agent, token, ids);
    g_ptr_array_unref(ids);
    token_objects_changed(token);
}

int
transition_make_next(struct agent *agent, struct agent_token *token,
                     const char *name, const struct tessera_keyspec *spec,
                     enum objects_key_use use, GBytes *next_id,
                     struct tessera_status *st)
{
    char *label = label_of(name, NAMING_NEXT_SUFFIX);
    struct token_session s;
    if (token_session_open(token, "generate the next key", &s, st) < 0) {
        g_free(label);
        return -1;
    }
    /* Made outside the rescan lock: a key pair may take seconds. */
    token_objects_changing(token);
    int rc = 0;
    if (objects_count(&s, next_id, label, CKO_PRIVATE_KEY) == 0) {
        /* The half of a pair a crash left, if the token lets it go. */
        struct tessera_status left = {0};
        objects_destroy(&s, next_id, label, OBJECTS_ANY_CLASS, NULL, &left);
        rc = objects_generate_key_pair(&s, label, spec, use, next_id, st);
    }
    token_session_end(&s, FALSE);
    agent_registry_change_begin(agent);
    end(agent, token, next_id, NULL);
    g_free(label);
    return rc;
}

/*
 * Whether the leaf certifies the key key_id labelled label: 0 it does, -1
 * with ca-response it does not, -1 with token-failed when the key cannot
 * be read now (which a later try may do: nothing is rolled back for it).
 */
static int
leaf_fits_key(const struct token_session *s, const char *name, GBytes *key_id,
              const char *label, GBytes *leaf, struct tessera_status *st)
{
    GBytes *spki = objects_key_spki(s, key_id, label);
    X509 *x = enroll_x509_of(leaf);
    int rc = -1;
    if (spki == NULL)
        tessera_status_set(st, TESSERA_ERR_TOKEN_FAILED,
                           "the key %s cannot be read on token \"%s\"", label,
                           token_label(s->token));
    else if (x == NULL || !agent_certificate_matches_key(x, spki))
        tessera_status_set(st, TESSERA_ERR_CA_RESPONSE,
                           "the issued certificate's public key is not the "
                           "key of identity %s",
                           name);
    else
        rc = 0;
    X509_free(x);
    if (spki != NULL)
        g_bytes_unref(spki);
    ERR_clear_error();
    return rc;
}

static int
store_leaf(struct agent *agent, struct agent_token *token, GBytes *key_id,
           const char *label, GPtrArray *chain, struct tessera_status *st)
{
    struct tessera_blob certs[TESSERA_CHAIN_MAX];
    size_t n = MIN(chain->len, TESSERA_CHAIN_MAX);
    for (size_t i = 0; i < n; i++) {
        gsize len;
        const void *der = g_bytes_get_data(g_ptr_array_index(chain, i), &len);
        certs[i] = (struct tessera_blob){(void *)der, len};
    }
    return agent_store_certificates(agent, token, key_id, label, certs, n, st);
}

/* Under rescan_lock: without it, the registry of another step could read
 * the next key's label before its certificate is there. */
static int
store(struct agent *agent, const struct token_session *s, const char *name,
      GBytes *key_id, gboolean same_key, GPtrArray *chain,
      struct tessera_status *st)
{
    char *next = label_of(name, NAMING_NEXT_SUFFIX);
    const char *label = same_key ? name : next;
    GBytes *leaf = g_ptr_array_index(chain, 0);
    int rc = 0;
    /* Stored before a crash, and maybe switched too. */
    gboolean stored = objects_hold_certificate(s, key_id, label, leaf) ||
                      objects_hold_certificate(s, key_id, name, leaf);
    if (!stored)
        rc = leaf_fits_key(s, name, key_id, label, leaf, st);
    if (!stored && rc == 0)
        rc = store_leaf(agent, s->token, key_id, label, chain, st);
    agent_test_point(name, "stored");
    /* The key stays; its other certificates go, never before the new one
     * is there, so the key is never without one; one that stays is only
     * not served. */
    struct tessera_status kept = {0};
    if (rc == 0 && same_key)
        objects_destroy(s, key_id, name, CKO_CERTIFICATE, leaf, &kept);
    g_free(next);
    return rc;
}

int
transition_store(struct agent *agent, struct agent_token *token,
                 const char *name, GBytes *key_id, gboolean same_key,
                 GPtrArray *chain, struct tessera_status *st)
{
    struct token_session s;
    if (token_session_open(token, "store the certificate", &s, st) < 0)
        return -1;
    begin(agent, token);
    int rc = store(agent, &s, name, key_id, same_key, chain, st);
    end(agent, token, key_id, NULL);
    token_session_end(&s, FALSE);
    return rc;
}

int
transition_switch(struct agent *agent, struct agent_token *token,
                  const char *name, GBytes *old_id, GBytes *next_id,
                  struct tessera_status *st)
{
    char *next = label_of(name, NAMING_NEXT_SUFFIX);
    char *old = label_of(name, NAMING_OLD_SUFFIX);
    struct token_session s;
    int rc = -1;
    if (token_session_open(token, "switch to the renewed key", &s, st) < 0)
        goto out;
    begin(agent, token);
    gboolean certified =
        objects_count(&s, next_id, next, CKO_CERTIFICATE) > 0 ||
        objects_count(&s, next_id, name, CKO_CERTIFICATE) > 0;
    if (!certified)
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "the key %s has no certificate to switch to", next);
    else if (old_id != NULL && objects_relabel(&s, old_id, name, old, st) < 0)
        certified = FALSE;
    agent_test_point(name, "switched-old");
    if (certified && objects_relabel(&s, next_id, next, name, st) < 0)
        certified = FALSE;
    if (certified && objects_count(&s, next_id, name, CKO_PRIVATE_KEY) == 0)
        /* Some tokens (SoftHSM2 with another process at work) miss objects
         * now and then: the next try does the same again. */
        tessera_status_set(st, TESSERA_ERR_TOKEN_FAILED,
                           "the key %s did not become %s on token \"%s\"", next,
                           name, token_label(token));
    else if (certified)
        rc = 0;
    end(agent, token, next_id, old_id);
    token_session_end(&s, FALSE);
out:
    g_free(old);
    g_free(next);
    return rc;
}

/* key_id's objects labelled NAME and suffix go, and the key's kept chain
 * with the last of them. */
static int
discard(struct agent *agent, struct agent_token *token, const char *name,
        const char *suffix, GBytes *key_id, struct tessera_status *st)
{
    struct token_session s;
    if (token_session_open(token, "delete a key", &s, st) < 0)
        return -1;
    char *label = label_of(name, suffix);
    begin(agent, token);
    int rc = objects_destroy(&s, key_id, label, OBJECTS_ANY_CLASS, NULL, st);
    gboolean last =
        rc == 0 && objects_count(&s, key_id, NULL, OBJECTS_ANY_CLASS) == 0;
    end(agent, token, key_id, NULL);
    token_session_end(&s, FALSE);
    if (last)
        state_chain_remove(agent->state, token_serial(token), key_id);
    g_free(label);
    return rc;
}

int
transition_discard_next(struct agent *agent, struct agent_token *token,
                        const char *name, GBytes *next_id,
                        struct tessera_status *st)
{
    return discard(agent, token, name, NAMING_NEXT_SUFFIX, next_id, st);
}

int
transition_discard_pending(struct agent *agent, struct agent_token *token,
                           const char *name, GBytes *next_id,
                           struct tessera_status *st)
{
    struct token_session s;
    if (token_session_open(token, "look at the pending key", &s, st) < 0)
        return -1;
    gboolean certified = objects_count(&s, next_id, name, CKO_CERTIFICATE) > 0;
    token_session_end(&s, FALSE);
    /* A key of that id with a certificate is an identity, whatever a
     * journal says: never deleted by one. */
    if (certified) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "the key %s has a certificate: it is not a pending "
                           "request's, and stays",
                           name);
        return -1;
    }
    return discard(agent, token, name, "", next_id, st);
}

int
transition_name_pending(struct agent *agent, struct agent_token *token,
                        const char *name, GBytes *next_id,
                        struct tessera_status *st)
{
    char *next = label_of(name, NAMING_NEXT_SUFFIX);
    struct token_session s;
    int rc = -1;
    if (token_session_open(token, "name the pending key", &s, st) == 0) {
        begin(agent, token);
        rc = objects_relabel(&s, next_id, next, name, st);
        if (rc == 0 && objects_count(&s, next_id, name, CKO_PRIVATE_KEY) == 0) {
            tessera_status_set(st, TESSERA_ERR_TOKEN_FAILED,
                               "the key %s did not become %s on token \"%s\"",
                               next, name, token_label(token));
            rc = -1;
        }
        end(agent, token, next_id, NULL);
        token_session_end(&s, FALSE);
    }
    g_free(next);
    return rc;
}

int
transition_retire_old(struct agent *agent, struct agent_token *token,
                      const char *name, GBytes *old_id,
                      struct tessera_status *st)
{
    return discard(agent, token, name, NAMING_OLD_SUFFIX, old_id, st);
}
