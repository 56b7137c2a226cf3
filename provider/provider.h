/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Tessera OpenSSL provider. The same code runs in two places: as
 * tessera.so in any OpenSSL program, with a backend that talks to the agent
 * over its socket, and built into the agent, with a backend that calls the
 * signer directly. One key abstraction, two backends.
 */
#ifndef TESSERA_PROVIDER_H
#define TESSERA_PROVIDER_H

#include "../common/transport.h"

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/evp.h>

#define TESSERA_PROVIDER_NAME "tessera"
#define TESSERA_PROPERTIES "provider=tessera"

struct tessera_backend_ops {
    /* Calls found() for each identity; returns 0, or -1 with st set. */
    int (*list)(void *backend,
                int (*found)(const struct tessera_identity_summary *s,
                             void *arg),
                void *arg, struct tessera_status *st);
    int (*get_identity)(void *backend, const char *name,
                        struct tessera_identity *out,
                        struct tessera_status *st);
    int (*sign)(void *backend, const struct tessera_sign_request *req,
                struct tessera_blob *signature, struct tessera_status *st);
    void (*destroy)(void *backend);
};

struct tessera_provctx {
    const OSSL_CORE_HANDLE *handle;
    /* A child of the caller's library context, for digests and public keys. */
    OSSL_LIB_CTX *libctx;
    OSSL_LIB_CTX *core_libctx;
    const struct tessera_backend_ops *backend_ops;
    void *backend;
    OSSL_FUNC_core_new_error_fn *core_new_error;
    OSSL_FUNC_core_set_error_debug_fn *core_set_error_debug;
    OSSL_FUNC_core_vset_error_fn *core_vset_error;
};

/*
 * The provider's key: an identity name and its public key. Private material
 * never exists here; signing goes to the backend by name and the public
 * key's hash, so a key loaded before a renewal keeps signing with the key
 * that matches its certificate while the agent keeps the old key (its grace
 * period), and a key loaded after it signs with the new one.
 */
struct tessera_key {
    struct tessera_provctx *provctx;
    char *name; /* NULL for a bare public key imported by OpenSSL */
    enum tessera_key_type type;
    EVP_PKEY *public_key; /* held by another provider in provctx->libctx */
    unsigned char hash[TESSERA_KEY_HASH_LEN]; /* SHA-256 of its SPKI */
    bool has_hash;
};

/*
 * What STORE and DECODER hand to our KEYMGMT's load. Not a bare pointer:
 * OpenSSL 3.0 may offer a reference to another provider's load (the default
 * provider's file: store does), which takes any pointer-sized reference as
 * its own object. A 16-byte reference with a magic is refused by them and
 * checked by us.
 */
struct tessera_key_reference {
    uint64_t magic;
    struct tessera_key *key;
};
#define TESSERA_KEY_REFERENCE_MAGIC 0x7465737365726131ULL /* "tessera1" */

/* The OSSL_OBJECT parameters of a token key, for STORE and DECODER. */
int tessera_emit_key(struct tessera_key *key, OSSL_CALLBACK *object_cb,
                     void *object_cbarg);

/* The property query that keeps our own algorithms out of helper fetches. */
#define TESSERA_NOT_US "provider!=tessera"

int tessera_provider_init_with(const OSSL_CORE_HANDLE *handle,
                               const OSSL_DISPATCH *in,
                               const OSSL_DISPATCH **out, void **provctx,
                               const struct tessera_backend_ops *ops,
                               void *backend);

/* Puts a sentence into the caller's OpenSSL error queue. */
void tessera_raise(const struct tessera_provctx *ctx, int code, const char *fmt,
                   ...) __attribute__((format(printf, 3, 4)));
void tessera_raise_status(const struct tessera_provctx *ctx,
                          const struct tessera_status *st);

struct tessera_key *tessera_key_new(struct tessera_provctx *ctx,
                                    const char *name,
                                    enum tessera_key_type type,
                                    EVP_PKEY *public_key);
/* A copy, hash included (computed once, at load). */
struct tessera_key *tessera_key_dup(const struct tessera_key *src);
void tessera_key_free(struct tessera_key *key);
/* EC, RSA, ED25519, or NONE for a key Tessera cannot hold. */
enum tessera_key_type tessera_key_type_of(const EVP_PKEY *pkey);
/* Decodes an SPKI into a public key held by another provider. */
EVP_PKEY *tessera_decode_spki(const struct tessera_provctx *ctx,
                              const uint8_t *der, size_t len);

extern const OSSL_DISPATCH tessera_ec_keymgmt_functions[];
extern const OSSL_DISPATCH tessera_rsa_keymgmt_functions[];
extern const OSSL_DISPATCH tessera_ed25519_keymgmt_functions[];
extern const OSSL_DISPATCH tessera_ecdsa_signature_functions[];
extern const OSSL_DISPATCH tessera_rsa_signature_functions[];
extern const OSSL_DISPATCH tessera_ed25519_signature_functions[];
extern const OSSL_DISPATCH tessera_store_functions[];
extern const OSSL_DISPATCH tessera_pem_decoder_functions[];
extern const OSSL_DISPATCH tessera_ec_decoder_functions[];
extern const OSSL_DISPATCH tessera_rsa_decoder_functions[];
extern const OSSL_DISPATCH tessera_ed25519_decoder_functions[];

/* The backend that talks to the agent over its socket. */
void *tessera_socket_backend_new(void);
extern const struct tessera_backend_ops tessera_socket_backend_ops;

#endif
