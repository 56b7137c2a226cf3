/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent wire protocol: bounds-checked readers and writers for its fields
 * and the message types both ends speak. docs/protocol.md is the reference.
 */
#ifndef TESSERA_WIRE_H
#define TESSERA_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TESSERA_PROTOCOL_VERSION 3u
/* A frame body (type byte + fields) is never longer than this. */
#define TESSERA_FRAME_MAX 65536u
/* Strings are names, labels and sentences; anything longer is an error. */
#define TESSERA_STRING_MAX 1024u

enum tessera_msg {
    /* requests */
    TESSERA_MSG_HELLO = 0x01,
    TESSERA_MSG_LIST = 0x02,
    TESSERA_MSG_GET_IDENTITY = 0x03,
    TESSERA_MSG_SIGN = 0x04,
    TESSERA_MSG_TOKENS = 0x05,
    TESSERA_MSG_UNLOCK = 0x06,
    TESSERA_MSG_LOCK = 0x07,
    TESSERA_MSG_KEYGEN = 0x08,
    TESSERA_MSG_IMPORT = 0x09,
    TESSERA_MSG_ENROLL = 0x0a,
    TESSERA_MSG_RENEW = 0x0b,
    TESSERA_MSG_UPDATE_ENV = 0x10, /* where PIN prompts go */
    TESSERA_MSG_LOG = 0x11,        /* recent uses of the identities */
    TESSERA_MSG_EXPORT = 0x18,     /* write files that follow the identity */
    /* keygen whose CSR asks for subject alternative names; KEYGEN_REPLY */
    TESSERA_MSG_KEYGEN_SANS = 0x1c,
    /* import replacing a certificate, or attaching a CA profile; OK */
    TESSERA_MSG_IMPORT_INTO = 0x1d,
    TESSERA_MSG_FORGET = 0x1e, /* OK */
    /* A KEYGEN (or KEYGEN_SANS), ENROLL or RENEW whose steps the client wants
     * as PROGRESS frames before the reply: the wrapped request's body follows.
     */
    TESSERA_MSG_FOLLOW = 0x20,
    /* replies */
    TESSERA_MSG_OK = 0x80,
    TESSERA_MSG_HELLO_REPLY = 0x81,
    TESSERA_MSG_LIST_REPLY = 0x82,
    TESSERA_MSG_IDENTITY_REPLY = 0x83,
    TESSERA_MSG_SIGN_REPLY = 0x84,
    TESSERA_MSG_TOKENS_REPLY = 0x85,
    TESSERA_MSG_KEYGEN_REPLY = 0x88,
    TESSERA_MSG_ENROLL_REPLY = 0x8a,
    TESSERA_MSG_RENEW_REPLY = 0x8b,
    TESSERA_MSG_LOG_REPLY = 0x91,
    /* Not a reply: a step of a FOLLOW request, any number before it. */
    TESSERA_MSG_PROGRESS = 0xa0,
    TESSERA_MSG_ERROR = 0xff,
};

enum tessera_key_type {
    TESSERA_KEY_NONE = 0,
    TESSERA_KEY_EC = 1,
    TESSERA_KEY_RSA = 2,
    TESSERA_KEY_ED25519 = 3,
};

enum tessera_sign_scheme {
    TESSERA_SIGN_ECDSA = 1,     /* input: digest; output: r || s */
    TESSERA_SIGN_RSA_PKCS1 = 2, /* input: digest, DigestInfo added by agent */
    TESSERA_SIGN_RSA_PSS = 3,   /* input: digest */
    TESSERA_SIGN_EDDSA = 4,     /* input: the whole message (Ed25519) */
};

enum tessera_digest {
    TESSERA_DIGEST_NONE = 0, /* RSA PKCS#1: the input is signed as given */
    TESSERA_DIGEST_SHA1 = 1,
    TESSERA_DIGEST_SHA224 = 2,
    TESSERA_DIGEST_SHA256 = 3,
    TESSERA_DIGEST_SHA384 = 4,
    TESSERA_DIGEST_SHA512 = 5,
};

/* Identity flags in LIST and GET_IDENTITY replies. */
#define TESSERA_ID_HAS_CERT 0x01u
#define TESSERA_ID_TOKEN_PRESENT 0x02u
#define TESSERA_ID_LOGGED_IN 0x04u
#define TESSERA_ID_TOKEN_READ_ONLY 0x08u /* it cannot generate keys */

/* Token flags in TOKENS replies. */
#define TESSERA_TOKEN_PRESENT 0x01u
#define TESSERA_TOKEN_LOGGED_IN 0x02u
#define TESSERA_TOKEN_LOGIN_REQUIRED 0x04u
#define TESSERA_TOKEN_PIN_COUNT_LOW 0x08u
#define TESSERA_TOKEN_PIN_FINAL_TRY 0x10u
#define TESSERA_TOKEN_PIN_LOCKED 0x20u
#define TESSERA_TOKEN_WRITE_PROTECTED 0x40u
#define TESSERA_TOKEN_PROTECTED_PATH 0x80u

/* A growable output buffer; every append checks the frame bound. */
struct tessera_writer {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed; /* sticky: set once an append did not fit */
};

/* A read cursor over one received frame body. */
struct tessera_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
    bool failed; /* sticky: set once a read ran past the end or a bound */
};

/* A view into a reader's buffer; valid while the buffer is. */
struct tessera_bytes {
    const uint8_t *data;
    size_t len;
};

void tessera_writer_init(struct tessera_writer *w);
/* Wipes the contents (they may hold a PIN) and frees them. */
void tessera_writer_clear(struct tessera_writer *w);
void tessera_put_u8(struct tessera_writer *w, uint8_t v);
void tessera_put_u32(struct tessera_writer *w, uint32_t v);
void tessera_put_bytes(struct tessera_writer *w, const void *p, size_t n);
void tessera_put_string(struct tessera_writer *w, const char *s);
/* Appends bytes as they are, without a length: an entry encoded apart. */
void tessera_put_raw(struct tessera_writer *w, const void *p, size_t n);
/* Starts a frame body: the type byte. */
void tessera_put_type(struct tessera_writer *w, enum tessera_msg type);

void tessera_reader_init(struct tessera_reader *r, const void *p, size_t n);
uint8_t tessera_get_u8(struct tessera_reader *r);
uint32_t tessera_get_u32(struct tessera_reader *r);
struct tessera_bytes tessera_get_bytes(struct tessera_reader *r, size_t max);
/*
 * Copies a string field into a fresh NUL-terminated allocation; a string
 * longer than TESSERA_STRING_MAX or holding a NUL byte fails the reader.
 * Returns NULL once the reader has failed.
 */
char *tessera_get_string(struct tessera_reader *r);
/* True when the whole body was consumed and nothing failed. */
bool tessera_reader_done(const struct tessera_reader *r);

/*
 * Frame header helpers: a frame is a big-endian u32 body length followed by
 * the body. Returns false for a length of 0 or above TESSERA_FRAME_MAX.
 */
bool tessera_frame_length_valid(uint32_t len);
uint32_t tessera_load_be32(const uint8_t *p);
void tessera_store_be32(uint8_t *p, uint32_t v);

#endif
