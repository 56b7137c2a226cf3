/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SCEP messages (RFC 8894): the signed, enveloped request and the CA's
 * CertRep, built and parsed without the network. Replies are hostile
 * input: bounded, checked against the CA's certificates, every attribute
 * type-checked. The key that opens the reply's envelope is the caller's
 * (a token's, through the agent), so opening takes a decrypt function.
 */
#ifndef TESSERA_SCEP_MSG_H
#define TESSERA_SCEP_MSG_H

#include <glib.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#define SCEP_REPLY_MAX (256 * 1024)
#define SCEP_NONCE_LEN 16

enum scep_message_type {
    SCEP_CERT_REP = 3,
    SCEP_RENEWAL_REQ = 17,
    SCEP_PKCS_REQ = 19,
    SCEP_CERT_POLL = 20,
};

enum scep_pki_status {
    SCEP_SUCCESS = 0,
    SCEP_FAILURE = 2,
    SCEP_PENDING = 3,
};

/* GetCACaps, as flags. */
enum scep_caps {
    SCEP_CAP_POST = 1 << 0,
    SCEP_CAP_SHA256 = 1 << 1,
    SCEP_CAP_AES = 1 << 2,
    SCEP_CAP_RENEWAL = 1 << 3,
};

struct scep_request {
    enum scep_message_type type;
    const char *transaction_id;
    unsigned char sender_nonce[SCEP_NONCE_LEN];
    X509 *signer_cert; /* self-signed for PKCSReq, the current one to renew */
    EVP_PKEY *signer_key;
    X509 *recipient; /* the CA's (or RA's) encryption certificate */
    unsigned caps;
    const unsigned char *content; /* CSR, or IssuerAndSubject for CertPoll */
    gsize content_len;
};

struct scep_reply {
    enum scep_pki_status status;
    int fail_info;   /* -1 when absent */
    PKCS7 *envelope; /* on success: the certificates, encrypted to us */
};

/* Decrypts an RSA PKCS#1 v1.5 block (the content-encryption key). */
typedef gboolean (*scep_decrypt_fn)(void *ctx, const unsigned char *in,
                                    gsize in_len, GBytes **out);

unsigned scep_parse_caps(const char *body, gsize len);
/*
 * GetCACert: one DER certificate, or a certs-only PKCS#7 (CA and RA).
 * Every certificate goes to certs; the first able to encrypt (RSA, key
 * usage allowing key encipherment) is the recipient.
 */
gboolean scep_parse_ca_certs(const void *body, gsize len, gboolean pkcs7,
                             STACK_OF(X509) * certs, X509 **recipient,
                             char **reason);

/* The DER pkiMessage, or NULL with *reason. */
GBytes *scep_build_request(const struct scep_request *req, char **reason);

/*
 * Checks a CertRep: signed by one of ca_certs, a CertRep for our
 * transaction and nonce. Fills out; the envelope stays to be opened.
 */
gboolean scep_parse_reply(const void *der, gsize len, STACK_OF(X509) * ca_certs,
                          const char *transaction_id,
                          const unsigned char nonce[SCEP_NONCE_LEN],
                          struct scep_reply *out, char **reason);

/*
 * scep_parse_reply's three steps, apart so that the fuzzer reaches what
 * follows the signature without a CA's key. Decoding: one PKCS#7 signed
 * message with one signer. Verifying: signed by one of ca_certs; returns
 * the signed content. Reading: what a verified reply's signed attributes
 * and content say; only ever on what scep_verify_reply accepted.
 */
PKCS7 *scep_decode_reply(const void *der, gsize len, char **reason);
GBytes *scep_verify_reply(PKCS7 *reply, STACK_OF(X509) * ca_certs,
                          char **reason);
gboolean scep_read_reply(PKCS7 *reply, GBytes *content,
                         const char *transaction_id,
                         const unsigned char nonce[SCEP_NONCE_LEN],
                         struct scep_reply *out, char **reason);
void scep_reply_clear(struct scep_reply *reply);

/* Opens the envelope to the certificates it carries (DER GBytes). */
gboolean scep_open_envelope(PKCS7 *envelope, X509 *recipient_cert,
                            scep_decrypt_fn decrypt, void *ctx,
                            GPtrArray *certs, char **reason);

/* A failInfo's meaning (RFC 8894, section 3.2.1.4.5). */
const char *scep_fail_info_text(int fail_info);

#endif
