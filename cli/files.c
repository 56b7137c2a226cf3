/* SPDX-License-Identifier: Apache-2.0 */
#include "files.h"
#include "../common/atomicwrite.h"
#include "../common/keyref.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A device or a pipe (/dev/stdout, /dev/null, a FIFO) is written into;
 * replacing it with a regular file would break it for everyone. */
static bool
write_stream(const char *path, const char *data, size_t len,
             struct tessera_status *st)
{
    /* Our own standard output at its offset: opened again, a redirected
     * one would start at 0 under what is printed after. */
    int fd = strcmp(path, "/dev/stdout") == 0
                 ? dup(STDOUT_FILENO)
                 : open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    bool ok = fd >= 0;
    while (ok && len > 0) {
        ssize_t n = write(fd, data, len);
        ok = n > 0 || (n < 0 && errno == EINTR);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
    }
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    if (!ok)
        tessera_status_set(st, TESSERA_ERR_INVALID, "cannot write %s: %s", path,
                           strerror(errno));
    return ok;
}

/* /dev/stdout with standard output redirected to a file stats as that
 * file, but names the process's own stream. */
bool
files_is_stream(const char *path)
{
    struct stat sb;
    return strncmp(path, "/dev/", 5) == 0 || strncmp(path, "/proc/", 6) == 0 ||
           (stat(path, &sb) == 0 &&
            (S_ISCHR(sb.st_mode) || S_ISFIFO(sb.st_mode)));
}

char *
files_absolute(const char *path)
{
    char cwd[PATH_MAX];
    char *abs = NULL;
    if (path[0] == '/')
        abs = strdup(path);
    else if (getcwd(cwd, sizeof(cwd)) != NULL &&
             asprintf(&abs, "%s/%s", cwd, path) < 0)
        abs = NULL;
    if (abs == NULL)
        fprintf(stderr, "tessera: cannot tell where %s is: %s\n", path,
                strerror(errno));
    return abs;
}

/* PEM made by fill, written by the one atomic write. */
static bool
write_pem(const char *path, bool (*fill)(BIO *out, const void *arg),
          const void *arg, mode_t mode)
{
    struct tessera_status st = {0};
    BIO *pem = BIO_new(BIO_s_mem());
    char *data = NULL;
    bool ok = pem != NULL && fill(pem, arg);
    long len = ok ? BIO_get_mem_data(pem, &data) : 0;
    if (!ok)
        tessera_status_set(&st, TESSERA_ERR_INTERNAL,
                           "cannot encode the contents of %s", path);
    else if (files_is_stream(path))
        ok = write_stream(path, data, (size_t)len, &st);
    else
        ok = tessera_write_file_atomic(path, data, (size_t)len, mode, &st);
    if (!ok)
        fprintf(stderr, "tessera: %s\n", st.message);
    BIO_free(pem);
    return ok;
}

static bool
fill_key_reference(BIO *out, const void *arg)
{
    const struct tessera_identity *id = arg;
    size_t len;
    char *pem =
        tessera_keyref_pem(id->summary.name, id->spki.data, id->spki.len, &len);
    bool ok = pem != NULL && BIO_write(out, pem, (int)len) == (int)len;
    free(pem);
    return ok;
}

bool
files_write_key_reference(const char *path, const struct tessera_identity *id)
{
    return write_pem(path, fill_key_reference, id, 0600);
}

struct certificates {
    const struct tessera_blob *certs;
    size_t n;
};

static bool
fill_certificates(BIO *out, const void *arg)
{
    const struct certificates *c = arg;
    bool ok = true;
    for (size_t i = 0; ok && i < c->n; i++) {
        const unsigned char *p = c->certs[i].data;
        X509 *x = d2i_X509(NULL, &p, (long)c->certs[i].len);
        ok = x != NULL && PEM_write_bio_X509(out, x);
        X509_free(x);
    }
    return ok;
}

bool
files_write_certificates(const char *path, const struct tessera_blob *certs,
                         size_t n)
{
    struct certificates c = {certs, n};
    return write_pem(path, fill_certificates, &c, 0644);
}

static bool
fill_csr(BIO *out, const void *arg)
{
    const struct tessera_blob *der = arg;
    const unsigned char *p = der->data;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)der->len);
    bool ok = req != NULL && PEM_write_bio_X509_REQ(out, req);
    X509_REQ_free(req);
    return ok;
}

bool
files_write_csr(const char *path, const struct tessera_blob *der)
{
    if (path != NULL)
        return write_pem(path, fill_csr, der, 0644);
    BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);
    bool ok = out != NULL && fill_csr(out, der);
    BIO_free(out);
    if (!ok)
        fprintf(stderr, "tessera: cannot write the CSR\n");
    return ok;
}

char *
files_csr_pem(const struct tessera_blob *der)
{
    BIO *mem = BIO_new(BIO_s_mem());
    char *data, *pem = NULL;
    if (mem != NULL && fill_csr(mem, der)) {
        long len = BIO_get_mem_data(mem, &data);
        pem = strndup(data, (size_t)len);
    }
    BIO_free(mem);
    return pem;
}

bool
files_read_certificates(const char *path, struct tessera_import_request *req)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        fprintf(stderr, "tessera: cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    X509 *x;
    size_t before = req->n_certs;
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        unsigned char *der = NULL;
        int len = i2d_X509(x, &der);
        X509_free(x);
        if (req->n_certs == TESSERA_CHAIN_MAX || len <= 0) {
            OPENSSL_free(der);
            fprintf(stderr, "tessera: %s: more than %u certificates\n", path,
                    TESSERA_CHAIN_MAX);
            fclose(f);
            return false;
        }
        tessera_blob_copy(&req->certs[req->n_certs++],
                          (struct tessera_bytes){der, (size_t)len});
        OPENSSL_free(der);
    }
    ERR_clear_error();
    fclose(f);
    if (req->n_certs == before) {
        fprintf(stderr, "tessera: %s holds no PEM certificate\n", path);
        return false;
    }
    return true;
}
