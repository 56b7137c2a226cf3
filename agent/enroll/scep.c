/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SCEP (RFC 8894): GetCACaps, GetCACert, PKCSReq with the challenge
 * password (RenewalReq, signed with the current certificate and key, when
 * renewing and the CA offers Renewal), CertPoll while the CA says pending.
 * Profile keys:
 *   protocol=scep
 *   url=http://ca.example/scep
 *   trust=/path/ca.pem          the CA certificate GetCACert must match
 *                               (SCEP runs over plain HTTP: this pin is
 *                               what authenticates the CA)
 *   challenge-file=/path        the challenge password, first line (or
 *   challenge=TEXT              inline); read per request, wiped after use
 *   key=rsa2048                 the default; SCEP keys are RSA
 * The request is signed on the token with a self-signed certificate of the
 * new key; the CA encrypts its answer to that key, so the agent opens it
 * with C_Decrypt on the token.
 */
#include "enroll.h"
#include "http.h"
#include "scep_msg.h"
#include "../builtin.h"
#include "../signer.h"

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509_vfy.h>
#include <string.h>

#define CHALLENGE_MAX 255

struct scep_session {
    const struct enroll_profile *ca;
    const char *url;
    unsigned caps;
    STACK_OF(X509) * ca_certs;
    X509 *recipient; /* one of ca_certs */
    EVP_PKEY *key;   /* the new key, on the token */
    X509_REQ *csr;
    X509 *self_signed;
    /* Who signs the request and opens the reply: the new key with its
     * self-signed certificate, or, renewing (RenewalReq), the identity's
     * current key and certificate. */
    const char *signer_name;
    X509 *signer_cert;
    EVP_PKEY *signer_key;
    char transaction_id[2 * 32 + 1];
};

static char *
operation_url(const struct scep_session *s, const char *operation)
{
    return g_strdup_printf("%s%soperation=%s", s->url,
                           strchr(s->url, '?') ? "&" : "?", operation);
}

static enum enroll_outcome
get(struct scep_session *s, const char *operation, struct http_reply *reply,
    char **reason)
{
    char *url = operation_url(s, operation);
    struct http_request req = {
        .method = "GET", .url = url, .reply_max = SCEP_REPLY_MAX};
    enum enroll_outcome outcome = ENROLL_UNREACHABLE;
    if (!enroll_http(s->ca, &req, reply, reason))
        ;
    else if (reply->status != 200)
        *reason = g_strdup_printf("%s answered %ld", url, reply->status);
    else
        outcome = ENROLL_ISSUED;
    g_free(url);
    return outcome;
}

/* The CA certificate must be one the profile trusts (or chain to it). */
static gboolean
ca_trusted(struct scep_session *s, char **reason)
{
    const char *trust = s->ca->profile->trust;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    gboolean ok = FALSE;
    if (store == NULL || ctx == NULL || X509_STORE_load_file(store, trust) != 1)
        *reason = g_strdup_printf("cannot read the trust anchors %s", trust);
    else if (!X509_STORE_CTX_init(ctx, store, s->recipient, s->ca_certs) ||
             X509_verify_cert(ctx) != 1)
        *reason = g_strdup_printf(
            "the CA's certificate from GetCACert is not trusted by %s: %s",
            trust,
            X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    else
        ok = TRUE;
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
}

static enum enroll_outcome
ask_ca(struct scep_session *s, char **reason)
{
    struct http_reply caps = {0}, certs = {0};
    enum enroll_outcome outcome = get(s, "GetCACaps", &caps, reason);
    if (outcome == ENROLL_ISSUED) {
        s->caps =
            scep_parse_caps((const char *)caps.body->data, caps.body->len);
        outcome = get(s, "GetCACert", &certs, reason);
    }
    if (outcome == ENROLL_ISSUED && !(s->caps & SCEP_CAP_POST)) {
        *reason = g_strdup("the CA does not take POST requests "
                           "(POSTPKIOperation)");
        outcome = ENROLL_REJECTED;
    }
    if (outcome == ENROLL_ISSUED) {
        gboolean ra = certs.content_type != NULL &&
                      strstr(certs.content_type, "x-x509-ca-ra-cert") != NULL;
        char *why = NULL;
        if (!scep_parse_ca_certs(certs.body->data, certs.body->len, ra,
                                 s->ca_certs, &s->recipient, &why)) {
            *reason = g_strdup_printf("GetCACert: %s", why);
            outcome = ENROLL_BAD_RESPONSE;
        } else if (!ca_trusted(s, reason)) {
            outcome = ENROLL_BAD_RESPONSE;
        }
        g_free(why);
    }
    http_reply_clear(&caps);
    http_reply_clear(&certs);
    return outcome;
}

/* The first line of challenge-file, or challenge=; wiped by the caller. */
static char *
read_challenge(const struct enroll_profile *ca, char **reason)
{
    const char *path = ca->profile->challenge_file;
    char *text = NULL;
    gsize len = 0;
    if (path == NULL)
        return g_strdup(ca->profile->challenge);
    if (!g_file_get_contents(path, &text, &len, NULL) ||
        len > CHALLENGE_MAX + 1) {
        *reason = g_strdup_printf("cannot read the challenge password from "
                                  "%s",
                                  path);
        if (text != NULL)
            explicit_bzero(text, len);
        g_free(text);
        text = NULL;
    } else {
        text[strcspn(text, "\r\n")] = '\0';
    }
    return text;
}

static gboolean
sign_csr(X509_REQ *req, EVP_PKEY *key)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    gboolean ok =
        mctx != NULL &&
        EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, key) == 1 &&
        X509_REQ_sign_ctx(req, mctx) > 0;
    EVP_MD_CTX_free(mctx);
    return ok;
}

/* The CSR again, with the challenge password, signed on the token. */
static gboolean
add_challenge(struct scep_session *s, char **reason)
{
    char *challenge = read_challenge(s->ca, reason);
    gboolean ok = TRUE;
    if (challenge != NULL) {
        ok = X509_REQ_add1_attr_by_NID(s->csr, NID_pkcs9_challengePassword,
                                       MBSTRING_UTF8,
                                       (unsigned char *)challenge, -1) &&
             sign_csr(s->csr, s->key);
        explicit_bzero(challenge, strlen(challenge));
        g_free(challenge);
        if (!ok)
            *reason = g_strdup("cannot sign the request with its challenge "
                               "password on the token");
    } else if (*reason != NULL) {
        ok = FALSE;
    }
    ERR_clear_error();
    return ok;
}

/* RFC 8894, section 2.3: the requester signs with a self-signed cert. */
static gboolean
make_self_signed(struct scep_session *s)
{
    X509 *x = X509_new();
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    gboolean ok =
        x != NULL && mctx != NULL && RAND_bytes(serial, sizeof(serial)) == 1 &&
        (serial[0] &= 0x7f, TRUE) &&
        (bn = BN_bin2bn(serial, sizeof(serial), NULL)) != NULL &&
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
        X509_set_version(x, X509_VERSION_3) &&
        X509_set_subject_name(x, X509_REQ_get_subject_name(s->csr)) &&
        X509_set_issuer_name(x, X509_REQ_get_subject_name(s->csr)) &&
        X509_gmtime_adj(X509_getm_notBefore(x), -300) &&
        X509_gmtime_adj(X509_getm_notAfter(x), 86400) &&
        X509_set_pubkey(x, X509_REQ_get0_pubkey(s->csr)) &&
        EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, s->key) == 1 &&
        X509_sign_ctx(x, mctx) > 0;
    BN_free(bn);
    EVP_MD_CTX_free(mctx);
    if (ok)
        s->self_signed = x;
    else
        X509_free(x);
    ERR_clear_error();
    return ok;
}

/* Hex SHA-256 of the public key: the same for every poll of one request. */
static void
make_transaction_id(struct scep_session *s)
{
    unsigned char *spki = NULL, digest[32];
    int len = i2d_PUBKEY(X509_REQ_get0_pubkey(s->csr), &spki);
    EVP_Digest(spki, (size_t)MAX(len, 0), digest, NULL, EVP_sha256(), NULL);
    for (size_t i = 0; i < sizeof(digest); i++)
        g_snprintf(s->transaction_id + 2 * i, 3, "%02X", digest[i]);
    OPENSSL_free(spki);
}

/* The current certificate of the identity being renewed. */
static X509 *
current_certificate(const struct enroll_profile *ca)
{
    GBytes *leaf = enroll_current_leaf(ca);
    X509 *x = leaf ? enroll_x509_of(leaf) : NULL;
    if (leaf != NULL)
        g_bytes_unref(leaf);
    return x;
}

static enum enroll_outcome
choose_signer(struct scep_session *s, char **reason)
{
    struct tessera_status st = {0};
    if (s->ca->renewing == NULL || !(s->caps & SCEP_CAP_RENEWAL)) {
        s->signer_name = s->ca->identity;
        s->signer_cert = s->self_signed;
        s->signer_key = s->key;
        X509_up_ref(s->signer_cert);
        EVP_PKEY_up_ref(s->signer_key);
        return ENROLL_ISSUED;
    }
    s->signer_name = s->ca->renewing;
    s->signer_cert = current_certificate(s->ca);
    s->signer_key = agent_load_private_key(s->ca->agent, s->ca->renewing, &st);
    if (s->signer_cert == NULL || s->signer_key == NULL) {
        *reason = g_strdup_printf("cannot sign the RenewalReq with the "
                                  "current certificate of %s",
                                  s->ca->renewing);
        return ENROLL_UNREACHABLE;
    }
    g_message("CA %s: RenewalReq signed with the current certificate of %s",
              s->ca->name, s->ca->renewing);
    return ENROLL_ISSUED;
}

static enum enroll_outcome
prepare_request(struct scep_session *s, GBytes *csr, char **reason)
{
    gsize len;
    const unsigned char *p = g_bytes_get_data(csr, &len);
    struct tessera_status st = {0};
    s->csr = d2i_X509_REQ(NULL, &p, (long)len);
    s->key = agent_load_private_key(s->ca->agent, s->ca->identity, &st);
    if (s->csr == NULL || s->key == NULL) {
        *reason = g_strdup_printf("cannot use the new key: %s", st.message);
        return ENROLL_UNREACHABLE;
    }
    if (!add_challenge(s, reason))
        return ENROLL_UNREACHABLE;
    if (!make_self_signed(s)) {
        *reason = g_strdup("cannot sign the requester's certificate on the "
                           "token");
        return ENROLL_UNREACHABLE;
    }
    make_transaction_id(s);
    return choose_signer(s, reason);
}

/* CertPoll's content: IssuerAndSubject ::= SEQUENCE { Name, Name }. */
static GBytes *
issuer_and_subject(struct scep_session *s)
{
    unsigned char *issuer = NULL, *subject = NULL;
    int ilen = i2d_X509_NAME(X509_get_subject_name(s->recipient), &issuer);
    int slen = i2d_X509_NAME(X509_REQ_get_subject_name(s->csr), &subject);
    GBytes *out = NULL;
    if (ilen > 0 && slen > 0) {
        int body = ilen + slen;
        int header = ASN1_object_size(1, body, V_ASN1_SEQUENCE) - body;
        unsigned char *der = g_malloc((gsize)(header + body)), *q = der;
        ASN1_put_object(&q, 1, body, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
        memcpy(q, issuer, (size_t)ilen);
        memcpy(q + ilen, subject, (size_t)slen);
        out = g_bytes_new_take(der, (gsize)(header + body));
    }
    OPENSSL_free(issuer);
    OPENSSL_free(subject);
    return out;
}

static gboolean
decrypt_on_token(void *ctx, const unsigned char *in, gsize in_len, GBytes **out)
{
    const struct scep_session *s = ctx;
    struct tessera_blob plain = {0};
    struct tessera_status st = {0};
    if (agent_decrypt_rsa(s->ca->agent, s->signer_name,
                          (struct tessera_bytes){in, in_len}, &plain,
                          &st) < 0) {
        g_message("CA %s: %s", s->ca->name, st.message);
        return FALSE;
    }
    *out = g_bytes_new(plain.data, plain.len);
    tessera_blob_clear(&plain);
    return TRUE;
}

/* Leaf (the certificate of our key) first, then the CA's certificates. */
static void
order_chain(struct scep_session *s, GPtrArray *issued, GPtrArray *chain)
{
    EVP_PKEY *ours = X509_REQ_get0_pubkey(s->csr);
    for (guint i = 0; i < issued->len; i++) {
        X509 *x = enroll_x509_of(g_ptr_array_index(issued, i));
        if (x != NULL && EVP_PKEY_eq(X509_get0_pubkey(x), ours) == 1)
            g_ptr_array_insert(chain, 0,
                               g_bytes_ref(g_ptr_array_index(issued, i)));
        X509_free(x);
    }
    for (int i = 0; i < sk_X509_num(s->ca_certs); i++) {
        unsigned char *der = NULL;
        int len = i2d_X509(sk_X509_value(s->ca_certs, i), &der);
        if (len > 0 && chain->len < TESSERA_CHAIN_MAX)
            g_ptr_array_add(chain, g_bytes_new(der, (gsize)len));
        OPENSSL_free(der);
    }
    ERR_clear_error();
}

static enum enroll_outcome
answer(struct scep_session *s, struct scep_reply *reply,
       struct enroll_result *result, char **reason)
{
    GPtrArray *issued =
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    enum enroll_outcome outcome = ENROLL_BAD_RESPONSE;
    if (reply->status == SCEP_PENDING) {
        outcome = ENROLL_PENDING;
    } else if (reply->status == SCEP_FAILURE) {
        *reason = g_strdup_printf("the CA refused the request: %s",
                                  scep_fail_info_text(reply->fail_info));
        outcome = ENROLL_REJECTED;
    } else if (scep_open_envelope(reply->envelope, s->signer_cert,
                                  decrypt_on_token, s, issued, reason)) {
        order_chain(s, issued, result->chain);
        outcome = ENROLL_ISSUED;
        if (result->chain->len == 0 ||
            sk_X509_num(s->ca_certs) == (int)result->chain->len) {
            *reason = g_strdup("the reply has no certificate for our key");
            outcome = ENROLL_BAD_RESPONSE;
        }
    }
    g_ptr_array_unref(issued);
    return outcome;
}

static enum enroll_outcome
pki_operation(struct scep_session *s, GBytes *content, guint attempt,
              struct enroll_result *result, char **reason)
{
    struct scep_request req = {
        .type = attempt > 0                        ? SCEP_CERT_POLL
                : s->signer_cert != s->self_signed ? SCEP_RENEWAL_REQ
                                                   : SCEP_PKCS_REQ,
        .transaction_id = s->transaction_id,
        .signer_cert = s->signer_cert,
        .signer_key = s->signer_key,
        .recipient = s->recipient,
        .caps = s->caps,
        .content = g_bytes_get_data(content, &req.content_len),
    };
    char *url = operation_url(s, "PKIOperation");
    struct http_reply reply = {0};
    struct scep_reply rep = {0};
    char *why = NULL;
    enum enroll_outcome outcome = ENROLL_UNREACHABLE;
    RAND_bytes(req.sender_nonce, sizeof(req.sender_nonce));
    GBytes *message = scep_build_request(&req, reason);
    struct http_request post = {.method = "POST",
                                .url = url,
                                .content_type = "application/x-pki-message",
                                .reply_max = SCEP_REPLY_MAX};
    if (message != NULL)
        post.body = g_bytes_get_data(message, &post.body_len);
    if (message == NULL || !enroll_http(s->ca, &post, &reply, reason))
        ;
    else if (reply.status != 200)
        *reason = g_strdup_printf("%s answered %ld", url, reply.status);
    else if (!scep_parse_reply(reply.body->data, reply.body->len, s->ca_certs,
                               s->transaction_id, req.sender_nonce, &rep,
                               &why)) {
        *reason = g_strdup_printf("PKIOperation: %s", why);
        outcome = ENROLL_BAD_RESPONSE;
    } else {
        outcome = answer(s, &rep, result, reason);
    }
    scep_reply_clear(&rep);
    http_reply_clear(&reply);
    if (message != NULL)
        g_bytes_unref(message);
    g_free(why);
    g_free(url);
    return outcome;
}

static enum enroll_outcome
scep_submit(const struct enroll_profile *ca, GBytes *csr,
            struct enroll_result *result, char **reason)
{
    struct scep_session s = {.ca = ca, .ca_certs = sk_X509_new_null()};
    GBytes *content = NULL;
    s.url = ca->profile->url;
    enum enroll_outcome outcome = ask_ca(&s, reason);
    if (outcome == ENROLL_ISSUED)
        outcome = prepare_request(&s, csr, reason);
    if (outcome == ENROLL_ISSUED) {
        unsigned char *der = NULL;
        int len = i2d_X509_REQ(s.csr, &der);
        content = result->attempt == 0 ? g_bytes_new(der, (gsize)MAX(len, 0))
                                       : issuer_and_subject(&s);
        OPENSSL_free(der);
        outcome = pki_operation(&s, content, result->attempt, result, reason);
    }
    if (content != NULL)
        g_bytes_unref(content);
    X509_free(s.self_signed);
    X509_free(s.signer_cert);
    EVP_PKEY_free(s.signer_key);
    X509_REQ_free(s.csr);
    EVP_PKEY_free(s.key);
    sk_X509_pop_free(s.ca_certs, X509_free);
    return outcome;
}

const struct enroll_protocol enroll_scep = {"scep", "rsa2048", scep_submit};
