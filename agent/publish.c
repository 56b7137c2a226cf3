/* SPDX-License-Identifier: Apache-2.0 */
#include "publish.h"
#include "../common/keyref.h"
#include "agent.h"
#include "config.h"
#include "exports.h"
#include "files.h"
#include "identity.h"
#include "registry.h"

#include <gio/gio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

/* One writer at a time, each reading the identity under the lock: a
 * reload's pass that read the certificate before a switch cannot write
 * it after the switch's own pass. */
static GMutex publish_lock;

/* A key reference says which key to ask the agent for: its user's only. */
#define KEY_REF_MODE 0600
#define CERTIFICATE_MODE 0644

char *
agent_certificates_pem(GPtrArray *certs, guint first, guint end)
{
    BIO *bio = BIO_new(BIO_s_mem());
    gboolean ok = bio != NULL;
    for (guint i = first; ok && i < end; i++) {
        gsize len;
        const unsigned char *p =
            g_bytes_get_data(g_ptr_array_index(certs, i), &len);
        X509 *x = d2i_X509(NULL, &p, (long)len);
        ok = x != NULL && PEM_write_bio_X509(bio, x);
        X509_free(x);
    }
    char *data = NULL;
    long len = ok ? BIO_get_mem_data(bio, &data) : 0;
    /* No CA certificates: an empty chain file. */
    char *pem = !ok       ? NULL
                : len > 0 ? g_strndup(data, (gsize)len)
                          : g_strdup("");
    BIO_free(bio);
    return pem;
}

/* What a file of this content holds for the identity now; NULL when it
 * has nothing to put there (no certificate yet). */
static char *
content_of(const struct agent_identity *id, enum export_content content,
           gsize *len)
{
    GPtrArray *certs = agent_identity_certs(id);
    char *pem = NULL;
    if (content == EXPORT_KEY_REF) {
        gsize spki_len;
        const guint8 *spki =
            g_bytes_get_data(agent_identity_spki(id), &spki_len);
        size_t n;
        char *ref =
            tessera_keyref_pem(agent_identity_name(id), spki, spki_len, &n);
        pem = ref != NULL ? g_strndup(ref, n) : NULL;
        free(ref);
    } else if (certs != NULL && certs->len > 0) {
        guint first = content == EXPORT_CHAIN ? 1 : 0;
        guint end = content == EXPORT_LEAF ? 1 : certs->len;
        pem = agent_certificates_pem(certs, first, end);
    }
    *len = pem != NULL ? strlen(pem) : 0;
    return pem;
}

static gboolean
unchanged(const char *path, const char *data, gsize len, mode_t mode)
{
    struct stat sb;
    char *old = NULL;
    gsize old_len;
    gboolean same = lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
                    sb.st_uid == geteuid() && (sb.st_mode & 07777) == mode &&
                    sb.st_size == (off_t)len &&
                    g_file_get_contents(path, &old, &old_len, NULL) &&
                    old_len == len && memcmp(old, data, len) == 0;
    g_free(old);
    return same;
}

/* 1 written, 0 already so, -1 with st. */
static int
publish_file(const struct agent_identity *id, const struct export_file *f,
             struct tessera_status *st)
{
    mode_t mode =
        f->content == EXPORT_KEY_REF ? KEY_REF_MODE : CERTIFICATE_MODE;
    gsize len;
    char *data = content_of(id, f->content, &len);
    int rc = 0;
    if (data == NULL) {
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "identity %s has no certificate for %s",
                           agent_identity_name(id), f->path);
        rc = -1;
    } else if (!unchanged(f->path, data, len, mode)) {
        rc =
            agent_write_file_atomic(f->path, data, len, mode, st) == 0 ? 1 : -1;
    }
    g_free(data);
    return rc;
}

/* The files asked for, and what each holds: EXPORT's cert, chain and
 * key_ref, or [identity NAME] cert-file= and chain-file=. */
static void
add_requested(GPtrArray *files, const char *key_ref, const char *cert,
              const char *chain)
{
    if (key_ref != NULL)
        g_ptr_array_add(files, export_file_new(key_ref, EXPORT_KEY_REF));
    if (cert != NULL)
        g_ptr_array_add(
            files,
            export_file_new(cert, tessera_export_cert_with_chain(cert, chain)
                                      ? EXPORT_LEAF_AND_CHAIN
                                      : EXPORT_LEAF));
    if (chain != NULL && (cert == NULL || strcmp(cert, chain) != 0))
        g_ptr_array_add(files, export_file_new(chain, EXPORT_CHAIN));
}

static GPtrArray *
new_file_list(void)
{
    return g_ptr_array_new_with_free_func((GDestroyNotify)export_file_free);
}

/* Configured first: a path both name gets what the configuration says. */
static GPtrArray *
files_of(struct agent *agent, const char *name)
{
    struct agent_config *cfg = agent_config_get(agent);
    const struct config_identity *c = agent_config_identity(cfg, name);
    GPtrArray *all = new_file_list();
    if (c != NULL)
        add_requested(all, NULL, c->cert_file, c->chain_file);
    GPtrArray *exported = exports_read(agent->state, name);
    for (guint i = 0; i < exported->len; i++) {
        const struct export_file *f = g_ptr_array_index(exported, i);
        if (!exports_listed(all, f->path))
            g_ptr_array_add(all, export_file_new(f->path, f->content));
    }
    g_ptr_array_unref(exported);
    agent_config_unref(cfg);
    return all;
}

gboolean
agent_publish_files(struct agent *agent, const char *name)
{
    g_mutex_lock(&publish_lock);
    struct agent_identity *id = agent_identity_find(agent, name);
    if (id == NULL) {
        g_mutex_unlock(&publish_lock);
        return FALSE;
    }
    GPtrArray *files = files_of(agent, name);
    guint written = 0;
    gboolean all = TRUE;
    for (guint i = 0; i < files->len; i++) {
        struct tessera_status st = {0};
        int rc = publish_file(id, g_ptr_array_index(files, i), &st);
        if (rc < 0)
            g_warning("identity %s: %s", name, st.message);
        written += rc > 0;
        all = all && rc >= 0;
    }
    if (written > 0)
        g_message("identity %s: wrote %u of the files that follow it", name,
                  written);
    g_ptr_array_unref(files);
    agent_identity_unref(id);
    g_mutex_unlock(&publish_lock);
    return all;
}

static void
on_command_exit(GPid pid, gint status, gpointer data)
{
    char *name = data;
    GError *error = NULL;
    if (g_spawn_check_wait_status(status, &error))
        g_message("identity %s: post-renew-command succeeded", name);
    else
        g_warning("identity %s: post-renew-command failed: %s", name,
                  error->message);
    g_clear_error(&error);
    g_spawn_close_pid(pid);
    g_free(name);
}

void
agent_publish_run_command(struct agent *agent, const char *name)
{
    struct agent_config *cfg = agent_config_get(agent);
    const struct config_identity *id = agent_config_identity(cfg, name);
    const char *command = id ? id->post_renew_command : NULL;
    const char *argv[] = {"/bin/sh", "-c", command, NULL};
    GError *error = NULL;
    GPid pid;
    if (command == NULL) {
        /* nothing to run */
    } else if (!g_spawn_async(NULL, (char **)argv, NULL,
                              G_SPAWN_DO_NOT_REAP_CHILD |
                                  G_SPAWN_STDIN_FROM_DEV_NULL,
                              NULL, NULL, &pid, &error)) {
        g_warning("identity %s: cannot run post-renew-command: %s", name,
                  error->message);
        g_error_free(error);
    } else {
        g_child_watch_add(pid, on_command_exit, g_strdup(name));
    }
    agent_config_unref(cfg);
}

void
agent_publish_certificate(struct agent *agent, const char *name)
{
    if (agent_publish_files(agent, name))
        agent_publish_run_command(agent, name);
}

void
agent_publish_all(struct agent *agent)
{
    struct agent_registry *reg = agent_registry_get(agent);
    guint n = agent_registry_n_identities(reg);
    for (guint i = 0; i < n; i++)
        agent_publish_files(
            agent, agent_identity_name(agent_registry_identity(reg, i)));
    agent_registry_unref(reg);
}

int
agent_publish_export(struct agent *agent,
                     const struct tessera_export_request *req,
                     struct tessera_status *st)
{
    /* Written and recorded in one hold of the lock: a renewal's pass
     * comes before both or after both. */
    g_mutex_lock(&publish_lock);
    struct agent_identity *id = agent_identity_find(agent, req->name);
    GPtrArray *files = new_file_list();
    int rc = id != NULL ? 0 : -1;
    if (id == NULL)
        tessera_status_set(st, TESSERA_ERR_NO_IDENTITY,
                           "no identity named \"%s\"; `tessera list` shows "
                           "the identities the agent has",
                           req->name);
    add_requested(files, req->key_ref, req->cert, req->chain);
    for (guint i = 0; rc == 0 && i < files->len; i++)
        rc = publish_file(id, g_ptr_array_index(files, i), st) < 0 ? -1 : 0;
    if (rc == 0)
        rc = exports_add(agent->state, req->name, files, st);
    g_mutex_unlock(&publish_lock);
    if (rc == 0)
        g_message("identity %s: exported %u file%s, which follow it from now "
                  "on",
                  req->name, files->len, files->len == 1 ? "" : "s");
    if (id != NULL)
        agent_identity_unref(id);
    g_ptr_array_unref(files);
    return rc;
}
