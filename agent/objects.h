/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The objects on a token, through one of its sessions (tokens.h): listed,
 * read, made, relabelled and destroyed. Objects are named by key id
 * (CKA_ID), label and class; a NULL label or P11_ANY_CLASS matches any.
 * Changes return 0, or -1 with st saying why.
 */
#ifndef TESSERA_AGENT_OBJECTS_H
#define TESSERA_AGENT_OBJECTS_H

#include "../common/errors.h"
#include "../common/keyspec.h"
#include "tokens.h"

#include <glib.h>
#include <openssl/x509.h>

#define OBJECTS_ANY_CLASS ((CK_OBJECT_CLASS)-1)

/* Class, id and label of one object. */
struct token_object {
    CK_OBJECT_HANDLE handle;
    CK_OBJECT_CLASS cls; /* OBJECTS_ANY_CLASS when unreadable */
    GBytes *id;          /* NULL when unreadable */
    char *label;         /* NULL when the object has none */
};

/* Every object the session sees (without a login: the public ones), or
 * those of key_ids (GBytes) only; free with objects_list_free. */
GArray *objects_list(const struct token_session *s, GPtrArray *key_ids);
void objects_list_free(GArray *objects);

/* An attribute's value, or NULL. */
GBytes *objects_value(const struct token_session *s, CK_OBJECT_HANDLE obj,
                      CK_ATTRIBUTE_TYPE type);
/* A CK_BBOOL attribute; FALSE when unreadable. */
gboolean objects_flag(const struct token_session *s, CK_OBJECT_HANDLE obj,
                      CK_ATTRIBUTE_TYPE type);
/* The DER SubjectPublicKeyInfo of a key object (EC, Ed25519 or RSA, from
 * its attributes), or NULL. */
GBytes *objects_public_key(const struct token_session *s, CK_OBJECT_HANDLE key);

/* How many objects match (at most 16 are counted). */
guint objects_count(const struct token_session *s, GBytes *id,
                    const char *label, CK_OBJECT_CLASS cls);
/* Whether one of the certificates with id and label has this DER. */
gboolean objects_hold_certificate(const struct token_session *s, GBytes *id,
                                  const char *label, GBytes *der);
/* The public key of the key pair with id and label: from its public key
 * object, else its private key object. */
GBytes *objects_key_spki(const struct token_session *s, GBytes *id,
                         const char *label);

/* What a key pair is for. */
enum objects_key_use {
    OBJECTS_SIGN_ONLY,
    OBJECTS_SIGN_AND_DECRYPT, /* an RSA key for a SCEP CA (its reply) */
};
/* A key pair: never extractable, always sensitive, each usage attribute
 * stated (docs/architecture.md, Keys Tessera makes). */
int objects_generate_key_pair(const struct token_session *s, const char *label,
                              const struct tessera_keyspec *spec,
                              enum objects_key_use use, GBytes *id,
                              struct tessera_status *st);
/* The certificate x (DER der) as a public token object. */
int objects_store_certificate(const struct token_session *s, const char *label,
                              GBytes *id, X509 *x, const uint8_t *der,
                              size_t der_len, struct tessera_status *st);
int objects_relabel(const struct token_session *s, GBytes *id, const char *from,
                    const char *to, struct tessera_status *st);
/* Destroys what matches, except objects whose CKA_VALUE is keep (NULL:
 * none kept); -1 if any could not be destroyed. */
int objects_destroy(const struct token_session *s, GBytes *id,
                    const char *label, CK_OBJECT_CLASS cls, GBytes *keep,
                    struct tessera_status *st);

#endif
