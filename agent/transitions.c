/* SPDX-License-Identifier: Apache-2.0 */
#include "transitions.h"
#include "../common/errors.h"
#include "agent.h"
#include "enroll/enroll.h"
#include "testpoint.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <string.h>
#include <unistd.h>

#define MAX_FOUND 16

static char *
label_of(const char *name, const char *suffix)
{
    return g_strconcat(name, suffix, NULL);
}

#define ANY_CLASS ((CK_OBJECT_CLASS)-1)

/* The objects with key_id, and label unless it is NULL, and class cls
 * unless it is ANY_CLASS. */
static CK_ULONG
find_labelled(struct agent_token *token, CK_SESSION_HANDLE session,
              GBytes *key_id, const char *label, CK_OBJECT_CLASS cls,
              CK_OBJECT_HANDLE found[MAX_FOUND])
{
    gsize id_len;
    const void *id = g_bytes_get_data(key_id, &id_len);
    CK_ATTRIBUTE tmpl[3] = {{CKA_ID, (void *)id, id_len}};
    CK_ULONG n = 0, n_tmpl = 1;
    if (label != NULL)
        tmpl[n_tmpl++] =
            (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
    if (cls != ANY_CLASS)
        tmpl[n_tmpl++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    if (token->module->C_FindObjectsInit(session, tmpl, n_tmpl) != CKR_OK)
        return 0;
    if (token->module->C_FindObjects(session, found, MAX_FOUND, &n) != CKR_OK)
        n = 0;
    token->module->C_FindObjectsFinal(session);
    return n;
}

static CK_RV
relabel(struct agent_token *token, CK_SESSION_HANDLE session, GBytes *key_id,
        const char *from, const char *to)
{
    CK_OBJECT_HANDLE found[MAX_FOUND];
    CK_ULONG n = find_labelled(token, session, key_id, from, ANY_CLASS, found);
    CK_ATTRIBUTE value = {CKA_LABEL, (void *)to, strlen(to)};
    CK_RV rv = CKR_OK;
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++)
        rv = token->module->C_SetAttributeValue(session, found[i], &value, 1);
    return rv;
}

static gboolean
destroy(struct agent_token *token, CK_SESSION_HANDLE session, GBytes *key_id,
        const char *label, CK_OBJECT_CLASS cls)
{
    CK_OBJECT_HANDLE found[MAX_FOUND];
    CK_ULONG n = find_labelled(token, session, key_id, label, cls, found);
    gboolean ok = TRUE;
    for (CK_ULONG i = 0; i < n; i++)
        ok = token->module->C_DestroyObject(session, found[i]) == CKR_OK && ok;
    return ok;
}

/* The registry learns what the step did to these keys; then signatures
 * that met the change in the middle may try again. */
static void
settle(struct agent *agent, struct agent_token *token, GBytes *a, GBytes *b)
{
    GPtrArray *ids = g_ptr_array_new();
    g_ptr_array_add(ids, a);
    if (b != NULL)
        g_ptr_array_add(ids, b);
    agent_registry_refresh_keys(agent, token, ids);
    g_ptr_array_unref(ids);
    agent_token_objects_changed(token);
}

static void
begin(struct agent *agent, struct agent_token *token)
{
    g_mutex_lock(&agent->rescan_lock);
    agent_token_objects_changing(token);
}

static void
end(struct agent *agent, struct agent_token *token, GBytes *a, GBytes *b)
{
    settle(agent, token, a, b);
    g_mutex_unlock(&agent->rescan_lock);
}

int
transition_make_next(struct agent *agent, struct agent_token *token,
                     const char *name, const struct tessera_keyspec *spec,
                     GBytes *next_id, struct tessera_status *st)
{
    char *label = label_of(name, AGENT_NEXT_SUFFIX);
    CK_OBJECT_HANDLE found[MAX_FOUND];
    CK_SESSION_HANDLE session;
    CK_RV rv = agent_open_rw_session(token, &session);
    if (rv != CKR_OK) {
        agent_token_fail(token, rv, "generate the next key", st);
        g_free(label);
        return -1;
    }
    /* Made outside the rescan lock: a key pair may take seconds. */
    agent_token_objects_changing(token);
    if (find_labelled(token, session, next_id, label, CKO_PRIVATE_KEY, found) ==
        0) {
        destroy(token, session, next_id, label, ANY_CLASS);
        rv = agent_generate_key(token, label, spec, next_id);
    }
    token->module->C_CloseSession(session);
    g_mutex_lock(&agent->rescan_lock);
    end(agent, token, next_id, NULL);
    if (rv != CKR_OK)
        agent_token_fail(token, rv, "generate the next key", st);
    g_free(label);
    return rv == CKR_OK ? 0 : -1;
}

static gboolean
holds_certificate(struct agent_token *token, CK_SESSION_HANDLE session,
                  GBytes *key_id, const char *label, GBytes *leaf)
{
    CK_OBJECT_HANDLE found[MAX_FOUND];
    CK_ULONG n =
        find_labelled(token, session, key_id, label, CKO_CERTIFICATE, found);
    gboolean held = FALSE;
    for (CK_ULONG i = 0; !held && i < n; i++) {
        GBytes *value =
            agent_object_attribute(token, session, found[i], CKA_VALUE);
        held = value != NULL && g_bytes_equal(value, leaf);
        if (value != NULL)
            g_bytes_unref(value);
    }
    return held;
}

/*
 * Whether the leaf certifies the key key_id labelled label: 0 it does, -1
 * with ca-response it does not, -1 with token-failed when the key cannot
 * be read now (which a later try may do: nothing is rolled back for it).
 */
static int
leaf_fits_key(struct agent_token *token, CK_SESSION_HANDLE session,
              const char *name, GBytes *key_id, const char *label, GBytes *leaf,
              struct tessera_status *st)
{
    CK_OBJECT_HANDLE found[MAX_FOUND];
    CK_ULONG n =
        find_labelled(token, session, key_id, label, CKO_PUBLIC_KEY, found);
    if (n == 0)
        n = find_labelled(token, session, key_id, label, CKO_PRIVATE_KEY,
                          found);
    GBytes *spki = n > 0 ? agent_spki_from_key(token, session, found[0]) : NULL;
    X509 *x = enroll_x509_of(leaf);
    int rc = -1;
    if (spki == NULL)
        tessera_status_set(st, TESSERA_ERR_TOKEN_FAILED,
                           "the key %s cannot be read on token \"%s\"", label,
                           token->label);
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
store(struct agent *agent, struct agent_token *token, CK_SESSION_HANDLE session,
      const char *name, GBytes *key_id, gboolean same_key, GPtrArray *chain,
      struct tessera_status *st)
{
    char *next = label_of(name, AGENT_NEXT_SUFFIX);
    const char *label = same_key ? name : next;
    GBytes *leaf = g_ptr_array_index(chain, 0);
    int rc = 0;
    /* Stored before a crash, and maybe switched too. */
    gboolean stored = holds_certificate(token, session, key_id, label, leaf) ||
                      holds_certificate(token, session, key_id, name, leaf);
    if (!stored)
        rc = leaf_fits_key(token, session, name, key_id, label, leaf, st);
    if (!stored && rc == 0)
        rc = store_leaf(agent, token, key_id, label, chain, st);
    agent_test_point(name, "stored");
    if (rc == 0 && same_key) {
        /* The key stays; its other certificates go, never before the new
         * one is there, so the key is never without one. */
        CK_OBJECT_HANDLE found[MAX_FOUND];
        CK_ULONG n =
            find_labelled(token, session, key_id, name, CKO_CERTIFICATE, found);
        for (CK_ULONG i = 0; i < n; i++) {
            GBytes *value =
                agent_object_attribute(token, session, found[i], CKA_VALUE);
            if (value == NULL || !g_bytes_equal(value, leaf))
                token->module->C_DestroyObject(session, found[i]);
            if (value != NULL)
                g_bytes_unref(value);
        }
    }
    g_free(next);
    return rc;
}

int
transition_store(struct agent *agent, struct agent_token *token,
                 const char *name, GBytes *key_id, gboolean same_key,
                 GPtrArray *chain, struct tessera_status *st)
{
    CK_SESSION_HANDLE session;
    CK_RV rv = agent_open_rw_session(token, &session);
    if (rv != CKR_OK) {
        agent_token_fail(token, rv, "store the certificate", st);
        return -1;
    }
    begin(agent, token);
    int rc = store(agent, token, session, name, key_id, same_key, chain, st);
    end(agent, token, key_id, NULL);
    token->module->C_CloseSession(session);
    return rc;
}

int
transition_switch(struct agent *agent, struct agent_token *token,
                  const char *name, GBytes *old_id, GBytes *next_id,
                  struct tessera_status *st)
{
    char *next = label_of(name, AGENT_NEXT_SUFFIX);
    char *old = label_of(name, AGENT_OLD_SUFFIX);
    CK_OBJECT_HANDLE found[MAX_FOUND];
    CK_SESSION_HANDLE session;
    CK_RV rv = agent_open_rw_session(token, &session);
    int rc = -1;
    if (rv != CKR_OK) {
        agent_token_fail(token, rv, "switch to the renewed key", st);
        goto out;
    }
    begin(agent, token);
    gboolean certified = find_labelled(token, session, next_id, next,
                                       CKO_CERTIFICATE, found) > 0 ||
                         find_labelled(token, session, next_id, name,
                                       CKO_CERTIFICATE, found) > 0;
    if (!certified)
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "the key %s has no certificate to switch to", next);
    if (certified && old_id != NULL)
        rv = relabel(token, session, old_id, name, old);
    agent_test_point(name, "switched-old");
    if (certified && rv == CKR_OK)
        rv = relabel(token, session, next_id, next, name);
    if (rv != CKR_OK)
        agent_token_fail(token, rv, "relabel the renewed keys", st);
    else if (certified && find_labelled(token, session, next_id, name,
                                        CKO_PRIVATE_KEY, found) == 0)
        /* Some tokens (SoftHSM2 with another process at work) miss objects
         * now and then: the next try does the same again. */
        tessera_status_set(st, TESSERA_ERR_TOKEN_FAILED,
                           "the key %s did not become %s on token \"%s\"", next,
                           name, token->label);
    else if (certified)
        rc = 0;
    end(agent, token, next_id, old_id);
    token->module->C_CloseSession(session);
out:
    g_free(old);
    g_free(next);
    return rc;
}

/* key_id's objects labelled NAME and suffix go, and the key's kept chain
 * with the last of them. */
static gboolean
discard(struct agent *agent, struct agent_token *token, const char *name,
        const char *suffix, GBytes *key_id)
{
    CK_OBJECT_HANDLE found[MAX_FOUND];
    CK_SESSION_HANDLE session;
    if (agent_open_rw_session(token, &session) != CKR_OK)
        return FALSE;
    char *label = label_of(name, suffix);
    begin(agent, token);
    gboolean ok = destroy(token, session, key_id, label, ANY_CLASS);
    gboolean last = ok && find_labelled(token, session, key_id, NULL, ANY_CLASS,
                                        found) == 0;
    end(agent, token, key_id, NULL);
    token->module->C_CloseSession(session);
    char *chain = agent_chain_path(agent, token, key_id);
    if (last)
        unlink(chain);
    g_free(chain);
    g_free(label);
    return ok;
}

gboolean
transition_discard_next(struct agent *agent, struct agent_token *token,
                        const char *name, GBytes *next_id)
{
    return discard(agent, token, name, AGENT_NEXT_SUFFIX, next_id);
}

gboolean
transition_retire_old(struct agent *agent, struct agent_token *token,
                      const char *name, GBytes *old_id)
{
    return discard(agent, token, name, AGENT_OLD_SUFFIX, old_id);
}
