/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate files for programs that read them, kept current by the agent
 * (as certmonger's post-save does): after an identity gets a certificate,
 * its configured cert-file and chain-file are rewritten atomically and its
 * post-renew-command is run.
 */
#include "publish.h"
#include "agent.h"
#include "config.h"
#include "files.h"
#include "registry.h"

#include <gio/gio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

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
    char *pem = ok ? g_strndup(data, (gsize)len) : NULL;
    BIO_free(bio);
    return pem;
}

/* Certificates [first, end) of the chain as PEM, into path. */
static int
write_certificates(const char *path, GPtrArray *certs, guint first, guint end,
                   struct tessera_status *st)
{
    char *pem = agent_certificates_pem(certs, first, end);
    int rc = -1;
    if (pem != NULL)
        rc = agent_write_file_atomic(path, pem, strlen(pem), 0644, st);
    else
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "cannot encode the certificates for %s", path);
    g_free(pem);
    return rc;
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

static void
run_command(const char *name, const char *command)
{
    const char *argv[] = {"/bin/sh", "-c", command, NULL};
    GError *error = NULL;
    GPid pid;
    if (!g_spawn_async(NULL, (char **)argv, NULL,
                       G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL,
                       NULL, NULL, &pid, &error)) {
        g_warning("identity %s: cannot run post-renew-command: %s", name,
                  error->message);
        g_error_free(error);
        return;
    }
    g_child_watch_add(pid, on_command_exit, g_strdup(name));
}

void
agent_publish_certificate(struct agent *agent, const char *name)
{
    struct agent_config *cfg = agent_config_get(agent);
    const struct config_identity *files = agent_config_identity(cfg, name);
    const char *cert_file = files ? files->cert_file : NULL;
    const char *chain_file = files ? files->chain_file : NULL;
    const char *command = files ? files->post_renew_command : NULL;
    struct agent_identity *id = agent_identity_find(agent, name);
    GPtrArray *certs = id ? agent_identity_certs(id) : NULL;
    struct tessera_status st = {0};
    gboolean ok = certs != NULL && certs->len > 0;
    if (ok && cert_file != NULL)
        ok = write_certificates(cert_file, certs, 0, 1, &st) == 0;
    if (ok && chain_file != NULL)
        ok = write_certificates(chain_file, certs, 1, certs->len, &st) == 0;
    if (st.code != TESSERA_OK) {
        g_warning("identity %s: %s", name, st.message);
    } else if (ok && (cert_file != NULL || chain_file != NULL)) {
        g_message("identity %s: wrote its certificate files", name);
    }
    if (ok && command != NULL)
        run_command(name, command);
    agent_identity_unref(id);
    agent_config_unref(cfg);
}
