/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The files the tessera command reads (certificates to import) and writes
 * (key references, certificates, CSRs): every one written whole or not at
 * all, by common/atomicwrite.h. Each says what went wrong on stderr.
 */
#ifndef TESSERA_CLI_FILES_H
#define TESSERA_CLI_FILES_H

#include "../common/messages.h"

/* A device or a pipe (/dev/stdout): written into, never replaced. */
bool files_is_stream(const char *path);
/* path from the current directory, malloc'd; NULL said on stderr. */
char *files_absolute(const char *path);
/* A key-reference file naming the identity and carrying its public key
 * (mode 0600). */
bool files_write_key_reference(const char *path,
                               const struct tessera_identity *id);
/* certs[0..n) as PEM. */
bool files_write_certificates(const char *path,
                              const struct tessera_blob *certs, size_t n);
/* The CSR as PEM into path, or on standard output for NULL. */
bool files_write_csr(const char *path, const struct tessera_blob *der);

/* The CSR as PEM text; the caller frees it. NULL if out of memory. */
char *files_csr_pem(const struct tessera_blob *der);

/* Appends every certificate of a PEM file, as DER, to the request. */
bool files_read_certificates(const char *path,
                             struct tessera_import_request *req);

#endif
