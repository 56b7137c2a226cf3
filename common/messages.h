/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed messages of the agent wire protocol: an encoder and a decoder for
 * every frame of docs/protocol.md. Encoders append a whole frame body to a
 * writer; decoders take a body whose type byte was already read, fail on
 * any short, oversized or trailing field or oversized count, and leave
 * nothing allocated when they fail.
 */
#ifndef TESSERA_MESSAGES_H
#define TESSERA_MESSAGES_H

#include "wire.h"

#define TESSERA_CHAIN_MAX 8u
#define TESSERA_KEY_ID_MAX 255u
/* A digest, or for EdDSA the whole message: as large as a certificate. */
#define TESSERA_SIGN_INPUT_MAX 16384u
#define TESSERA_SIGNATURE_MAX 1024u
#define TESSERA_PIN_MAX 256u
#define TESSERA_DER_MAX 16384u
#define TESSERA_SANS_MAX 16u

struct tessera_blob {
    uint8_t *data;
    size_t len;
};

/* What LIST says of an identity: enough to match a pkcs11: URI and show it. */
struct tessera_identity_summary {
    char *name;
    char *token_label;
    char *token_manufacturer;
    char *token_model;
    char *token_serial;
    struct tessera_blob key_id;
    char *key_label;
    uint8_t key_type; /* enum tessera_key_type */
    uint32_t key_bits;
    uint32_t flags;     /* TESSERA_ID_* */
    char *subject;      /* RFC 2253 one-line; empty without a certificate */
    uint64_t not_after; /* seconds since the epoch; 0 without a certificate */
    uint8_t renewal_state; /* enum tessera_renewal_state */
    uint64_t next_renewal; /* seconds since the epoch; 0: none planned */
    char *renewal_error;   /* the last failed attempt's reason, or empty */
};

/* Where an identity's automatic renewal stands. */
enum tessera_renewal_state {
    TESSERA_RENEWAL_NONE = 0,      /* not enrolled: nothing renews it */
    TESSERA_RENEWAL_SCHEDULED = 1, /* valid; renews at next_renewal */
    TESSERA_RENEWAL_RENEWING = 2,
    TESSERA_RENEWAL_PENDING = 3, /* the CA said pending; asks again */
    TESSERA_RENEWAL_FAILING = 4, /* retries at next_renewal */
    TESSERA_RENEWAL_WAITING_TOKEN = 5,
    TESSERA_RENEWAL_WAITING_PIN = 6,
};

/* What GET_IDENTITY says: the summary, the public key and the chain. */
struct tessera_identity {
    struct tessera_identity_summary summary;
    struct tessera_blob spki; /* SubjectPublicKeyInfo, DER */
    size_t n_certs;           /* leaf first */
    struct tessera_blob certs[TESSERA_CHAIN_MAX];
};

struct tessera_token_info {
    char *label;
    char *manufacturer;
    char *model;
    char *serial;
    char *module;
    uint32_t flags; /* TESSERA_TOKEN_* */
};

#define TESSERA_KEY_HASH_LEN 32

struct tessera_sign_request {
    char *name;
    /* SHA-256 of the SubjectPublicKeyInfo the client holds, or empty: the
     * agent signs with that key of the identity (the current one, or the
     * one a renewal replaced, during its grace period). */
    struct tessera_blob key_hash;
    uint8_t scheme;      /* enum tessera_sign_scheme */
    uint8_t digest;      /* enum tessera_digest */
    uint8_t mgf1_digest; /* PSS only */
    uint32_t salt_len;   /* PSS only */
    struct tessera_blob input;
};

struct tessera_unlock_request {
    char *token;
    struct tessera_blob pin; /* wiped by tessera_unlock_request_clear */
    uint8_t force;
};

struct tessera_keygen_request {
    char *name;
    char *token;
    char *key_spec;
    char *subject;
};

/* KEYGEN_SANS: a key whose CSR asks for subject alternative names. */
struct tessera_keygen_sans_request {
    struct tessera_keygen_request key;
    uint32_t n_sans;
    char *sans[TESSERA_SANS_MAX]; /* "dns:host", "email:a@b", ... */
};

/* keygen + CSR + a CA + import, in one request (tessera enroll). */
struct tessera_enroll_request {
    struct tessera_keygen_request key;
    char *ca; /* a [ca NAME] profile */
    uint32_t n_sans;
    char *sans[TESSERA_SANS_MAX]; /* "dns:host", "email:a@b", ... */
    uint32_t timeout_seconds;     /* while the CA says pending */
};

struct tessera_import_request {
    char *name;
    size_t n_certs;
    struct tessera_blob certs[TESSERA_CHAIN_MAX];
    /* IMPORT_INTO only (IMPORT when both are unset): */
    uint8_t replace; /* the certificate the key has already goes */
    char *ca;        /* a [ca NAME] profile to renew through, or NULL */
};

/* FORGET: an identity's certificate, records and state; its key only with
 * delete_keys. */
struct tessera_forget_request {
    char *name;
    uint8_t delete_keys;
};

/* EXPORT: absolute paths, NULL for a file not asked for (empty on the
 * wire). The agent writes them and rewrites them at every certificate
 * change. */
struct tessera_export_request {
    char *name;
    char *key_ref; /* a key-reference file, mode 0600 */
    char *cert;    /* the leaf, followed by the chain unless chain differs */
    char *chain;   /* the CA certificates */
};

/* Whether the certificate file also carries the chain: by default, and
 * when both name one file (which must never end up holding only the CA
 * certificates). */
bool tessera_export_cert_with_chain(const char *cert, const char *chain);

struct tessera_error_reply {
    uint32_t code;
    char *message;
};

/* LIST and TOKENS answers, gathered from their pages. */
struct tessera_identity_list {
    size_t n;
    struct tessera_identity_summary *items;
};

struct tessera_token_list {
    size_t n;
    struct tessera_token_info *items;
};

/* The shortest encodings of a list entry: bounds for a page's count. */
#define TESSERA_SUMMARY_MIN_LEN 63u    /* a one-byte name, all else empty */
#define TESSERA_TOKEN_INFO_MIN_LEN 24u /* five empty strings, flags */

/* A LIST_REPLY or TOKENS_REPLY page being built. */
struct tessera_page {
    size_t count_at; /* where its count is, in the writer */
    uint32_t count;  /* entries added */
};

void tessera_put_u64(struct tessera_writer *w, uint64_t v);
uint64_t tessera_get_u64(struct tessera_reader *r);

/* HELLO and HELLO_REPLY. */
void tessera_encode_hello(struct tessera_writer *w, uint32_t version);
bool tessera_decode_hello(struct tessera_reader *r, uint32_t *version);
void tessera_encode_hello_reply(struct tessera_writer *w, uint32_t version,
                                const char *agent_version);
bool tessera_decode_hello_reply(struct tessera_reader *r, uint32_t *version,
                                char **agent_version);

/* OK: the reply of UNLOCK, LOCK and IMPORT; no fields. */
void tessera_encode_ok(struct tessera_writer *w);
bool tessera_decode_ok(struct tessera_reader *r);

/*
 * LIST and TOKENS ask for a page from `start`; LIST_REPLY and
 * TOKENS_REPLY answer with the total and the entries that fit one frame
 * (docs/protocol.md, "Pages"). A reply is built with begin, then add for
 * each entry until add returns false: the entry did not fit and belongs on
 * the next page (or, if the page is still empty, fits no page, and the
 * writer has failed). A decoded page's entries are appended to a list
 * (start from a zeroed one); count > total, or a count the remaining bytes
 * cannot hold, is malformed, and a failed decode leaves the list as it was.
 */
void tessera_encode_list(struct tessera_writer *w, uint32_t start);
bool tessera_decode_list(struct tessera_reader *r, uint32_t *start);
void tessera_begin_list_reply(struct tessera_writer *w, uint32_t total,
                              struct tessera_page *page);
bool tessera_add_list_entry(struct tessera_writer *w, struct tessera_page *page,
                            const struct tessera_identity_summary *s);
bool tessera_decode_list_reply(struct tessera_reader *r, uint32_t *total,
                               struct tessera_identity_list *list);
void tessera_identity_list_clear(struct tessera_identity_list *l);

void tessera_encode_tokens(struct tessera_writer *w, uint32_t start);
bool tessera_decode_tokens(struct tessera_reader *r, uint32_t *start);
void tessera_begin_tokens_reply(struct tessera_writer *w, uint32_t total,
                                struct tessera_page *page);
bool tessera_add_tokens_entry(struct tessera_writer *w,
                              struct tessera_page *page,
                              const struct tessera_token_info *t);
bool tessera_decode_tokens_reply(struct tessera_reader *r, uint32_t *total,
                                 struct tessera_token_list *list);
void tessera_token_list_clear(struct tessera_token_list *l);

void tessera_identity_summary_clear(struct tessera_identity_summary *s);
void tessera_token_info_clear(struct tessera_token_info *t);

/* UPDATE_ENV: the display and terminal PIN prompts go to (tessera
 * update-env); an empty string is unknown. */
struct tessera_env_update {
    char *display, *wayland_display, *dbus_address, *tty, *term;
};
void tessera_encode_update_env(struct tessera_writer *w,
                               const struct tessera_env_update *env);
bool tessera_decode_update_env(struct tessera_reader *r,
                               struct tessera_env_update *env);
void tessera_env_update_clear(struct tessera_env_update *env);

/* LOG (a name request; "" for every identity) and LOG_REPLY: the recent
 * uses, oldest first. One entry is count uses of one kind, from first to
 * last (seconds since the epoch); outcome 0 is a signature, else the
 * refusal's error code. */
#define TESSERA_USE_PROGRAM_MAX 200u
struct tessera_use {
    uint64_t first, last;
    uint32_t count;
    char *identity, *token, *program;
    uint8_t key_type;
    uint32_t pid;
    uint32_t outcome;
};
struct tessera_use_list {
    size_t n;
    struct tessera_use *items;
};
void tessera_encode_log_reply(struct tessera_writer *w,
                              const struct tessera_use_list *list);
bool tessera_decode_log_reply(struct tessera_reader *r,
                              struct tessera_use_list *list);
void tessera_use_list_clear(struct tessera_use_list *list);

/* names.c: what people read. */
/* "ready", "locked", "no certificate", "expired" or "token absent" at NOW
 * (seconds since the epoch): what tessera list and D-Bus call the state. */
const char *tessera_identity_state(const struct tessera_identity_summary *s,
                                   uint64_t now);
/* "valid", "renewing", "pending at CA", ... for lists and D-Bus. */
const char *tessera_renewal_state_name(uint8_t state);
/* "unlocked", "locked,pin-final-try", "absent", ...: TESSERA_TOKEN_* flags
 * as tessera tokens shows them. */
void tessera_token_state_describe(uint32_t flags, char *buf, size_t size);
/* "EC-256", "RSA-3072". */
void tessera_key_describe(uint8_t type, uint32_t bits, char *buf, size_t size);

/* GET_IDENTITY, LOCK and RENEW: one name (LOCK: a token, or empty). */
void tessera_encode_name_request(struct tessera_writer *w,
                                 enum tessera_msg type, const char *name);
bool tessera_decode_name_request(struct tessera_reader *r, char **name);

/* IDENTITY_REPLY. */
void tessera_encode_identity(struct tessera_writer *w,
                             const struct tessera_identity *id);
bool tessera_decode_identity(struct tessera_reader *r,
                             struct tessera_identity *id);
void tessera_identity_clear(struct tessera_identity *id);

void tessera_encode_sign(struct tessera_writer *w,
                         const struct tessera_sign_request *req);
bool tessera_decode_sign(struct tessera_reader *r,
                         struct tessera_sign_request *req);
void tessera_sign_request_clear(struct tessera_sign_request *req);

void tessera_encode_unlock(struct tessera_writer *w,
                           const struct tessera_unlock_request *req);
bool tessera_decode_unlock(struct tessera_reader *r,
                           struct tessera_unlock_request *req);
void tessera_unlock_request_clear(struct tessera_unlock_request *req);

void tessera_encode_keygen(struct tessera_writer *w,
                           const struct tessera_keygen_request *req);
bool tessera_decode_keygen(struct tessera_reader *r,
                           struct tessera_keygen_request *req);
void tessera_keygen_request_clear(struct tessera_keygen_request *req);

/* KEYGEN when there is no SAN, else KEYGEN_SANS. */
void tessera_encode_keygen_sans(struct tessera_writer *w,
                                const struct tessera_keygen_sans_request *req);
bool tessera_decode_keygen_sans(struct tessera_reader *r,
                                struct tessera_keygen_sans_request *req);
void tessera_keygen_sans_request_clear(struct tessera_keygen_sans_request *req);

void tessera_encode_enroll(struct tessera_writer *w,
                           const struct tessera_enroll_request *req);
bool tessera_decode_enroll(struct tessera_reader *r,
                           struct tessera_enroll_request *req);
void tessera_enroll_request_clear(struct tessera_enroll_request *req);

/* IMPORT, or IMPORT_INTO when replace or ca is set. */
void tessera_encode_import(struct tessera_writer *w,
                           const struct tessera_import_request *req);
bool tessera_decode_import(struct tessera_reader *r,
                           struct tessera_import_request *req);
bool tessera_decode_import_into(struct tessera_reader *r,
                                struct tessera_import_request *req);
void tessera_import_request_clear(struct tessera_import_request *req);
/* Reply: OK. */
void tessera_encode_export(struct tessera_writer *w,
                           const struct tessera_export_request *req);
bool tessera_decode_export(struct tessera_reader *r,
                           struct tessera_export_request *req);
void tessera_export_request_clear(struct tessera_export_request *req);

void tessera_encode_forget(struct tessera_writer *w,
                           const struct tessera_forget_request *req);
bool tessera_decode_forget(struct tessera_reader *r,
                           struct tessera_forget_request *req);

/* A reply that carries one byte string: SIGN_REPLY (the signature),
 * KEYGEN_REPLY (a CSR), ENROLL_REPLY and RENEW_REPLY (a leaf), each with
 * its own bound. */
void tessera_encode_blob_reply(struct tessera_writer *w, enum tessera_msg type,
                               const void *p, size_t n);
bool tessera_decode_blob_reply(struct tessera_reader *r, size_t max,
                               struct tessera_blob *out);

/* The steps of a key generation, enrolment or renewal, as PROGRESS says. */
enum tessera_progress_step {
    TESSERA_STEP_GENERATING = 1, /* making the key on the token */
    TESSERA_STEP_CSR_SIGNED = 2,
    TESSERA_STEP_SUBMITTED = 3, /* the CSR went to the CA */
    TESSERA_STEP_PENDING = 4,   /* the CA said pending; seconds: next try */
    TESSERA_STEP_ISSUED = 5,
    TESSERA_STEP_STORED = 6, /* the certificate is on the token, in use */
    TESSERA_STEP_HELPER = 7, /* a line an exec CA helper wrote on stderr */
    TESSERA_STEP_MAX = TESSERA_STEP_HELPER,
};

struct tessera_progress {
    uint8_t step;     /* enum tessera_progress_step */
    uint32_t seconds; /* PENDING: until the next try; else 0 */
    char *message;    /* the sentence the agent logs */
};

/*
 * FOLLOW: put the type, then encode the wrapped request after it. The
 * decoder reads the wrapped type: KEYGEN, ENROLL or RENEW, else it fails;
 * that request's decoder reads the rest.
 */
void tessera_encode_follow(struct tessera_writer *w);
bool tessera_decode_follow(struct tessera_reader *r, uint8_t *wrapped);

/* PROGRESS: an unknown step is malformed. */
void tessera_encode_progress(struct tessera_writer *w,
                             const struct tessera_progress *p);
bool tessera_decode_progress(struct tessera_reader *r,
                             struct tessera_progress *p);
/* "generating", "pending", ...: for --json lines. */
const char *tessera_progress_step_name(uint8_t step);

/* ERROR: code 0 is not an error, and malformed. */
void tessera_encode_error(struct tessera_writer *w, uint32_t code,
                          const char *message);
bool tessera_decode_error(struct tessera_reader *r,
                          struct tessera_error_reply *e);

void tessera_blob_clear(struct tessera_blob *b);
bool tessera_blob_copy(struct tessera_blob *dst, struct tessera_bytes src);

#endif
