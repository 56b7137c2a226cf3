/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tessera-pkcs11.so: the agent's identities as PKCS#11 tokens, for programs
 * that speak only PKCS#11 (NSS, GnuTLS, p11-kit, libp11). Every token the
 * agent sees is a slot; each identity is a certificate, a public key and a
 * private key object, plus its chain's CA certificates; signing is one SIGN
 * to the agent with the digest made here.
 *
 * One lock (module.c) guards the whole state and is never held while the
 * agent is asked anything: answers are fetched first, then merged under it.
 * Operations run detached from their session while they hash or wait.
 */
#ifndef TESSERA_PKCS11_MODULE_H
#define TESSERA_PKCS11_MODULE_H

#include "../common/client.h"

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdbool.h>

#define MODULE_MANUFACTURER "Tessera"

/* --- what the agent's answers become (attributes.c, no I/O, no lock) */

/* One certificate as the objects show it; every field DER. */
struct cert_view {
    struct tessera_blob der, subject, issuer, serial, spki;
    char *label;
};

/*
 * An identity as one IDENTITY_REPLY gave it: the certificate, the public
 * key and the private key always belong together. A renewal makes a new
 * generation; the old one stays reachable by its handles (a session that
 * found it keeps signing with its key during the grace period) but is no
 * longer found.
 */
struct generation {
    char *name;
    CK_SLOT_ID slot;
    struct tessera_blob key_id;
    CK_KEY_TYPE key_type; /* CKK_EC or CKK_RSA */
    CK_ULONG key_bits;
    uint8_t key_hash[TESSERA_KEY_HASH_LEN]; /* SHA-256 of the agent's SPKI */
    EVP_PKEY *public_key;
    struct tessera_blob spki;
    /* EC: the curve's OID and the DER OCTET STRING of the point. RSA: the
     * modulus and exponent, unsigned big-endian. */
    struct tessera_blob ec_params, ec_point, modulus, exponent;
    bool has_cert;
    struct cert_view leaf;
    size_t n_authorities;
    struct cert_view authorities[TESSERA_CHAIN_MAX - 1];
    /* What LIST said of it (summary_fingerprint): a LIST entry that
     * differs means the identity changed. */
    uint8_t seen[TESSERA_KEY_HASH_LEN];
    bool current; /* what a search finds */
    CK_OBJECT_HANDLE cert, public, private;
};

/*
 * The generation an identity answer describes, or NULL with the reason in
 * why: a public key that is neither EC nor RSA or does not parse, a leaf
 * whose key is not that public key (never a mismatched pair), a name or
 * field the module cannot show. CA certificates that do not parse are
 * left out.
 */
struct generation *generation_from_identity(const struct tessera_identity *id,
                                            OSSL_LIB_CTX *libctx, char *why,
                                            size_t why_size);
void generation_free(struct generation *g);
/* A hash of what LIST says of an identity that a renewal, an import or a
 * token's move changes (not its login or renewal state). */
bool summary_fingerprint(const struct tessera_identity_summary *s,
                         OSSL_LIB_CTX *libctx,
                         uint8_t out[TESSERA_KEY_HASH_LEN]);
bool cert_view_init(struct cert_view *v, const uint8_t *der, size_t len,
                    OSSL_LIB_CTX *libctx);
void cert_view_clear(struct cert_view *v);

enum object_kind {
    OBJECT_CERT,      /* an identity's certificate */
    OBJECT_PUBLIC,    /* its public key */
    OBJECT_PRIVATE,   /* its private key: signs through the agent */
    OBJECT_AUTHORITY, /* a CA certificate of its chain */
};

/* An object the module shows: a kind and what it was made from. */
struct object {
    CK_OBJECT_HANDLE handle;
    enum object_kind kind;
    CK_SLOT_ID slot;
    struct generation *generation; /* not for OBJECT_AUTHORITY */
    struct cert_view *authority;   /* OBJECT_AUTHORITY only, owned */
    bool current;
};

/* An attribute's value, or why there is none. */
enum attribute_outcome {
    ATTRIBUTE_FOUND,
    ATTRIBUTE_SENSITIVE, /* exists, never revealed */
    ATTRIBUTE_INVALID,   /* the object has no such attribute */
};

/* Room for the fixed-size values an attribute may need. */
union attribute_scratch {
    CK_ULONG ulong;
    CK_BBOOL bbool;
    CK_MECHANISM_TYPE mechanisms[32];
};

/* The value of one attribute: points into the object's data or scratch. */
enum attribute_outcome object_attribute(const struct object *o,
                                        CK_ATTRIBUTE_TYPE type,
                                        union attribute_scratch *scratch,
                                        const void **value, CK_ULONG *len);
/* Whether every attribute of the template has exactly its value. */
bool object_matches(const struct object *o, const CK_ATTRIBUTE *template,
                    CK_ULONG count);

/* --- the state of one initialisation (module.c) */

struct slot {
    CK_SLOT_ID id;
    struct tessera_token_info token; /* as TOKENS last said */
    bool listed;                     /* in the agent's last answer */
    bool reported_present;           /* as C_WaitForSlotEvent last told */
    /* This process called C_Logout: the agent's login stays (it is every
     * program's), but this process is public until it logs in again. */
    bool logged_out_here;
};

/* A sign or verify operation between its Init and its end. */
struct operation {
    const struct mechanism *mechanism;
    char *name;
    uint8_t key_hash[TESSERA_KEY_HASH_LEN];
    EVP_PKEY *public_key;
    CK_ULONG signature_len;
    uint8_t mgf1_digest;
    uint32_t salt_len;
    uint8_t pss_digest; /* CKM_RSA_PKCS_PSS: the digest its input is */
    EVP_MD_CTX *hash;   /* hash-and-sign mechanisms: the running digest */
    bool updated;       /* C_*Update was called: single-part is over */
};
void operation_free(struct operation *op);

struct session {
    CK_SESSION_HANDLE handle;
    CK_SLOT_ID slot;
    CK_FLAGS flags;
    /* A search's results, taken at C_FindObjectsInit. */
    bool finding;
    CK_OBJECT_HANDLE *found;
    CK_ULONG n_found, next_found;
    /* NULL when none; busy while a call works on it without the lock. */
    struct operation *sign, *verify;
    bool sign_busy, verify_busy;
};

struct module {
    unsigned refs;  /* calls in flight, and 1 while initialised */
    bool finalized; /* C_Finalize ran: the last call out frees it */
    unsigned fork_generation;
    pthread_cond_t finalizing; /* wakes C_WaitForSlotEvent */
    struct tessera_client *agent;
    OSSL_LIB_CTX *libctx;
    struct slot *slots;
    size_t n_slots;
    struct generation **generations;
    size_t n_generations;
    struct object *objects; /* by handle, ascending */
    size_t n_objects;
    CK_OBJECT_HANDLE next_object;
    struct session **sessions;
    size_t n_sessions;
    CK_SESSION_HANDLE next_session;
};

/*
 * Every entry point that needs the state starts with module_enter and
 * ends with module_leave: enter fails with CKR_CRYPTOKI_NOT_INITIALIZED
 * before C_Initialize, after C_Finalize and in a child after fork until it
 * calls C_Initialize (PKCS#11 v2.40, 6.7.7), then with CKR_ARGUMENTS_BAD
 * unless arguments_ok (the call's pointers are usable). The state outlives
 * a C_Finalize that meets calls in flight: the last one out frees it, so
 * C_Finalize never waits for the agent.
 */
struct module *module_enter(bool arguments_ok, CK_RV *rv);
void module_leave(struct module *m);
/* The lock over every module's state. */
void module_lock(void);
void module_unlock(void);
/* Waits up to a second for C_Finalize, with the lock held. */
void module_wait_for_finalize(struct module *m);

/* An agent failure as the nearest CKR_, and its sentence on stderr when
 * TESSERA_PKCS11_DEBUG is set (a library does not write to its host's
 * stderr otherwise). */
CK_RV module_agent_error(const struct tessera_status *st, CK_RV otherwise);
void module_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copies a string into a fixed, blank-padded PKCS#11 field, never cutting
 * a UTF-8 character. */
void module_pad(CK_UTF8CHAR *field, size_t size, const char *text);

/* --- slots.c */

/* Asks the agent for its tokens and merges them into the slots. Locks. */
CK_RV slots_refresh(struct module *m);
/* With the lock held: the slot, or NULL. */
struct slot *slot_find(struct module *m, CK_SLOT_ID id);
bool slot_present(const struct slot *s);
/* The slot of a token, by label, manufacturer, model and serial. */
struct slot *slot_of_token(struct module *m, const char *label,
                           const char *manufacturer, const char *model,
                           const char *serial);

/* --- objects.c */

/* Asks the agent for its identities and brings the objects up to date.
 * Locks. */
void objects_refresh(struct module *m);
/* With the lock held: the object, or NULL. */
struct object *object_find(struct module *m, CK_OBJECT_HANDLE handle);
void objects_free(struct module *m);

/* --- sessions.c */

/* With the lock held: the session, or NULL. */
struct session *session_find(struct module *m, CK_SESSION_HANDLE handle);
void sessions_free(struct module *m);
enum login_state {
    LOGIN_NONE,      /* the agent does not hold the token's login */
    LOGIN_HERE,      /* it does, and this process uses it */
    LOGIN_ELSEWHERE, /* it does, but this process logged out */
};
/* What the agent says now of the token's login, and this process's part.
 * Locks. */
enum login_state slot_login_state(struct module *m, CK_SLOT_ID slot);

/* --- mechanisms.c */

/* What a mechanism asks of the key, the agent and this module. */
struct mechanism {
    CK_MECHANISM_TYPE type;
    CK_KEY_TYPE key_type;
    uint8_t scheme; /* enum tessera_sign_scheme */
    /* enum tessera_digest the module hashes the data with; NONE for the
     * mechanisms whose input is already a digest (or DigestInfo). */
    uint8_t digest;
};

const struct mechanism *mechanism_find(CK_MECHANISM_TYPE type);
/* The mechanisms for keys of a type (CK_UNAVAILABLE_INFORMATION: all), at
 * most max of them; returns how many there are. */
size_t mechanisms_of_key_type(CK_KEY_TYPE key_type, CK_MECHANISM_TYPE *out,
                              size_t max);
/* Digest sizes and names by enum tessera_digest; 0/NULL if unknown. */
size_t digest_size(uint8_t digest);
const char *digest_name(uint8_t digest);
/* A PSS parameter's CKM_SHA* hash (or, mgf, its CKG_MGF1_SHA*) as enum
 * tessera_digest; 0 if none. */
uint8_t digest_of_pss_parameter(CK_ULONG value, bool mgf);

/* The functions of the interface are declared by pkcs11.h; each file
 * implements those of its concern, and module.c lists them. */

#endif
