/* SPDX-License-Identifier: Apache-2.0 */
#include "state.h"
#include "../common/ownership.h"
#include "files.h"
#include "naming.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CHAIN_FILE (256 * 1024)

struct agent_state {
    char *dir;
};

struct agent_state *
state_open(const char *dir, struct tessera_status *st)
{
    struct stat sb;
    uid_t self = geteuid();
    struct tessera_status why = {0};
    if (g_mkdir_with_parents(dir, 0700) != 0 || lstat(dir, &sb) != 0) {
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "cannot make the state directory %s: %s", dir,
                           g_strerror(errno));
        return NULL;
    }
    if (!tessera_directory_trusted(&sb, dir, &self, 1, &why)) {
        tessera_status_set(st, TESSERA_ERR_UNTRUSTED,
                           "refusing the state directory %s: %s; it must be "
                           "a directory of yours that only you can write "
                           "(chmod 700)",
                           dir, why.message);
        return NULL;
    }
    struct agent_state *state = g_new0(struct agent_state, 1);
    state->dir = g_strdup(dir);
    return state;
}

void
state_close(struct agent_state *state)
{
    if (state == NULL)
        return;
    g_free(state->dir);
    g_free(state);
}

const char *
state_dir(const struct agent_state *state)
{
    return state->dir;
}

static char *
chain_path(const struct agent_state *state, const char *serial, GBytes *key_id)
{
    char *name = naming_from_label(serial, key_id);
    char *hex = naming_hex(key_id);
    char *file = g_strdup_printf("%s-%s.pem", name, hex);
    char *path = g_build_filename(state->dir, "chains", file, NULL);
    g_free(file);
    g_free(hex);
    g_free(name);
    return path;
}

int
state_chain_save(const struct agent_state *state, const char *serial,
                 GBytes *key_id, const struct tessera_blob *certs, size_t n,
                 struct tessera_status *st)
{
    BIO *bio = BIO_new(BIO_s_mem());
    gboolean ok = bio != NULL;
    for (size_t i = 1; ok && i < n; i++) {
        const unsigned char *p = certs[i].data;
        X509 *x = d2i_X509(NULL, &p, (long)certs[i].len);
        ok = x != NULL && p == certs[i].data + certs[i].len &&
             PEM_write_bio_X509(bio, x);
        X509_free(x);
    }
    ERR_clear_error();
    char *path = chain_path(state, serial, key_id);
    char *data = NULL;
    long len = ok ? BIO_get_mem_data(bio, &data) : 0;
    if (!ok)
        tessera_status_set(st, TESSERA_ERR_INVALID,
                           "a chain certificate is not valid DER X.509");
    else
        ok = agent_write_file_atomic(path, data, (size_t)len, 0600, st) == 0;
    BIO_free(bio);
    g_free(path);
    return ok ? 0 : -1;
}

void
state_chain_load(const struct agent_state *state, const char *serial,
                 GBytes *key_id, GPtrArray *certs)
{
    char *path = chain_path(state, serial, key_id);
    GStatBuf sb;
    if (g_stat(path, &sb) != 0) {
        g_free(path);
        return;
    }
    BIO *bio = sb.st_size <= MAX_CHAIN_FILE ? BIO_new_file(path, "r") : NULL;
    X509 *x;
    while (bio != NULL && certs->len < TESSERA_CHAIN_MAX &&
           (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        unsigned char *der = NULL;
        int len = i2d_X509(x, &der);
        if (len > 0)
            g_ptr_array_add(certs, g_bytes_new(der, (gsize)len));
        OPENSSL_free(der);
        X509_free(x);
    }
    if (bio == NULL)
        g_warning("cannot read the chain file %s", path);
    BIO_free(bio);
    ERR_clear_error();
    g_free(path);
}

void
state_chain_remove(const struct agent_state *state, const char *serial,
                   GBytes *key_id)
{
    char *path = chain_path(state, serial, key_id);
    if (unlink(path) != 0 && errno != ENOENT)
        g_warning("cannot remove %s: %s", path, g_strerror(errno));
    g_free(path);
}

/* DIR/NAME.conf in the state directory. */
static char *
conf_path(const struct agent_state *state, const char *dir, const char *name)
{
    char *file = g_strconcat(name, ".conf", NULL);
    char *path = g_build_filename(state->dir, dir, file, NULL);
    g_free(file);
    return path;
}

char *
state_record_path(const struct agent_state *state, const char *name)
{
    return conf_path(state, "enrolled", name);
}

char *
state_exports_path(const struct agent_state *state, const char *name)
{
    return conf_path(state, "exported", name);
}

char *
state_journal_dir(const struct agent_state *state)
{
    return g_build_filename(state->dir, "renewals", NULL);
}
