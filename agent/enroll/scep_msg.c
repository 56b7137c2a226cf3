/* SPDX-License-Identifier: Apache-2.0 */
#include "scep_msg.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>
#include <string.h>

#define CA_CERTS_MAX 8
#define ISSUED_CERTS_MAX 8
#define ATTRIBUTE_MAX 128

/* The SCEP attributes (RFC 8894, section 3.2.1), registered once. */
static struct {
    int message_type, pki_status, fail_info, sender_nonce, recipient_nonce,
        transaction_id;
} nid;

static int
register_oid(const char *oid, const char *name)
{
    int n = OBJ_txt2nid(oid);
    return n != NID_undef ? n : OBJ_create(oid, name, name);
}

static gpointer
register_oids(gpointer unused)
{
    (void)unused;
    nid.message_type = register_oid("2.16.840.1.113733.1.9.2", "messageType");
    nid.pki_status = register_oid("2.16.840.1.113733.1.9.3", "pkiStatus");
    nid.fail_info = register_oid("2.16.840.1.113733.1.9.4", "failInfo");
    nid.sender_nonce = register_oid("2.16.840.1.113733.1.9.5", "senderNonce");
    nid.recipient_nonce =
        register_oid("2.16.840.1.113733.1.9.6", "recipientNonce");
    nid.transaction_id = register_oid("2.16.840.1.113733.1.9.7", "transID");
    return NULL;
}

static void
scep_oids(void)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, register_oids, NULL);
}

unsigned
scep_parse_caps(const char *body, gsize len)
{
    static const struct {
        const char *name;
        unsigned cap;
    } names[] = {{"POSTPKIOperation", SCEP_CAP_POST},
                 {"SHA-256", SCEP_CAP_SHA256},
                 {"AES", SCEP_CAP_AES},
                 {"Renewal", SCEP_CAP_RENEWAL}};
    unsigned caps = 0;
    char *text = g_strndup(body, MIN(len, 4096));
    char **lines = g_strsplit(text, "\n", 64);
    for (char **l = lines; *l != NULL; l++) {
        g_strstrip(*l);
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
            if (g_ascii_strcasecmp(*l, names[i].name) == 0)
                caps |= names[i].cap;
        /* "SCEPStandard" implies AES, SHA-256 and POST (RFC 8894, 3.5.2). */
        if (g_ascii_strcasecmp(*l, "SCEPStandard") == 0)
            caps |= SCEP_CAP_POST | SCEP_CAP_SHA256 | SCEP_CAP_AES;
    }
    g_strfreev(lines);
    g_free(text);
    return caps;
}

static gboolean
is_rsa(X509 *x)
{
    EVP_PKEY *key = X509_get0_pubkey(x);
    return key != NULL && EVP_PKEY_is_a(key, "RSA");
}

static gboolean
for_key_encipherment(X509 *x)
{
    uint32_t usage = X509_get_key_usage(x);
    return is_rsa(x) && usage != UINT32_MAX && (usage & KU_KEY_ENCIPHERMENT);
}

gboolean
scep_parse_ca_certs(const void *body, gsize len, gboolean pkcs7,
                    STACK_OF(X509) * certs, X509 **recipient, char **reason)
{
    const unsigned char *p = body;
    *recipient = NULL;
    if (len > SCEP_REPLY_MAX) {
        *reason = g_strdup("the CA certificates are too large");
        return FALSE;
    }
    if (!pkcs7) {
        X509 *x = d2i_X509(NULL, &p, (long)len);
        if (x == NULL || p != (const unsigned char *)body + len) {
            X509_free(x);
            *reason = g_strdup("the CA certificate is not one DER certificate");
            return FALSE;
        }
        sk_X509_push(certs, x);
    } else {
        PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
        STACK_OF(X509) *in =
            p7 && PKCS7_type_is_signed(p7) ? p7->d.sign->cert : NULL;
        int n = sk_X509_num(in);
        if (n <= 0 || n > CA_CERTS_MAX) {
            PKCS7_free(p7);
            *reason = g_strdup("the CA certificates are not a PKCS#7 "
                               "certificate bag of 1 to 8 certificates");
            return FALSE;
        }
        for (int i = 0; i < n; i++) {
            X509 *x = sk_X509_value(in, i);
            X509_up_ref(x);
            sk_X509_push(certs, x);
        }
        PKCS7_free(p7);
    }
    ERR_clear_error();
    /* A certificate for key encipherment (an RA's) first, else the CA's
     * RSA key itself (RFC 8894, section 2.2). */
    for (int i = 0; i < sk_X509_num(certs) && *recipient == NULL; i++)
        if (for_key_encipherment(sk_X509_value(certs, i)))
            *recipient = sk_X509_value(certs, i);
    for (int i = 0; i < sk_X509_num(certs) && *recipient == NULL; i++)
        if (is_rsa(sk_X509_value(certs, i)))
            *recipient = sk_X509_value(certs, i);
    if (*recipient == NULL)
        *reason = g_strdup("no CA certificate has an RSA key to encrypt the "
                           "request to");
    return *recipient != NULL;
}

static gboolean
add_printable(PKCS7_SIGNER_INFO *si, int attr, const char *value)
{
    ASN1_PRINTABLESTRING *s = ASN1_PRINTABLESTRING_new();
    if (s == NULL || !ASN1_STRING_set(s, value, -1) ||
        !PKCS7_add_signed_attribute(si, attr, V_ASN1_PRINTABLESTRING, s)) {
        ASN1_STRING_free(s);
        return FALSE;
    }
    return TRUE;
}

static gboolean
add_octets(PKCS7_SIGNER_INFO *si, int attr, const unsigned char *data, int len)
{
    ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
    if (s == NULL || !ASN1_OCTET_STRING_set(s, data, len) ||
        !PKCS7_add_signed_attribute(si, attr, V_ASN1_OCTET_STRING, s)) {
        ASN1_OCTET_STRING_free(s);
        return FALSE;
    }
    return TRUE;
}

/* The request's content, encrypted to the CA. */
static GBytes *
envelope(const struct scep_request *req)
{
    BIO *in = BIO_new_mem_buf(req->content, (int)req->content_len);
    STACK_OF(X509) *to = sk_X509_new_null();
    PKCS7 *p7 = NULL;
    unsigned char *der = NULL;
    int len = -1;
    if (in != NULL && to != NULL && sk_X509_push(to, req->recipient) > 0 &&
        (p7 = PKCS7_encrypt(to, in, EVP_aes_128_cbc(), PKCS7_BINARY)) != NULL)
        len = i2d_PKCS7(p7, &der);
    GBytes *out = len > 0 ? g_bytes_new(der, (gsize)len) : NULL;
    OPENSSL_free(der);
    PKCS7_free(p7);
    sk_X509_free(to);
    BIO_free(in);
    return out;
}

GBytes *
scep_build_request(const struct scep_request *req, char **reason)
{
    scep_oids();
    if ((req->caps & (SCEP_CAP_SHA256 | SCEP_CAP_AES)) !=
        (SCEP_CAP_SHA256 | SCEP_CAP_AES)) {
        *reason = g_strdup("the CA offers neither SHA-256 and AES, and "
                           "Tessera uses nothing weaker");
        return NULL;
    }
    GBytes *inner = envelope(req);
    PKCS7 *p7 = PKCS7_new();
    PKCS7_SIGNER_INFO *si = NULL;
    BIO *data = NULL;
    unsigned char *der = NULL;
    int len = -1;
    char type[8];
    g_snprintf(type, sizeof(type), "%d", req->type);
    gboolean ok =
        inner != NULL && p7 != NULL && PKCS7_set_type(p7, NID_pkcs7_signed) &&
        (si = PKCS7_add_signature(p7, req->signer_cert, req->signer_key,
                                  EVP_sha256())) != NULL &&
        PKCS7_add_certificate(p7, req->signer_cert) &&
        PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                   OBJ_nid2obj(NID_pkcs7_data)) &&
        add_printable(si, nid.message_type, type) &&
        add_printable(si, nid.transaction_id, req->transaction_id) &&
        add_octets(si, nid.sender_nonce, req->sender_nonce, SCEP_NONCE_LEN) &&
        PKCS7_content_new(p7, NID_pkcs7_data) &&
        (data = PKCS7_dataInit(p7, NULL)) != NULL;
    if (ok) {
        gsize inner_len;
        const void *inner_der = g_bytes_get_data(inner, &inner_len);
        ok = BIO_write(data, inner_der, (int)inner_len) == (int)inner_len &&
             BIO_flush(data) == 1 && PKCS7_dataFinal(p7, data) &&
             (len = i2d_PKCS7(p7, &der)) > 0;
    }
    GBytes *out = ok ? g_bytes_new(der, (gsize)len) : NULL;
    if (!ok)
        *reason =
            g_strdup_printf("cannot build the SCEP request: %s",
                            ERR_reason_error_string(ERR_peek_last_error()));
    ERR_clear_error();
    OPENSSL_free(der);
    BIO_free_all(data);
    PKCS7_free(p7);
    if (inner != NULL)
        g_bytes_unref(inner);
    return out;
}

/* A PrintableString attribute, bounded; NULL when absent or mistyped. */
static char *
printable(PKCS7_SIGNER_INFO *si, int attr)
{
    ASN1_TYPE *t = PKCS7_get_signed_attribute(si, attr);
    if (t == NULL || t->type != V_ASN1_PRINTABLESTRING ||
        t->value.printablestring->length > ATTRIBUTE_MAX)
        return NULL;
    return g_strndup((const char *)t->value.printablestring->data,
                     (gsize)t->value.printablestring->length);
}

static gboolean
nonce_matches(PKCS7_SIGNER_INFO *si, const unsigned char *nonce)
{
    ASN1_TYPE *t = PKCS7_get_signed_attribute(si, nid.recipient_nonce);
    return t != NULL && t->type == V_ASN1_OCTET_STRING &&
           t->value.octet_string->length == SCEP_NONCE_LEN &&
           memcmp(t->value.octet_string->data, nonce, SCEP_NONCE_LEN) == 0;
}

PKCS7 *
scep_decode_reply(const void *der, gsize len, char **reason)
{
    const unsigned char *p = der;
    PKCS7 *p7 = len <= SCEP_REPLY_MAX ? d2i_PKCS7(NULL, &p, (long)len) : NULL;
    STACK_OF(PKCS7_SIGNER_INFO) *signers =
        p7 && PKCS7_type_is_signed(p7) ? PKCS7_get_signer_info(p7) : NULL;
    ERR_clear_error();
    if (signers == NULL || sk_PKCS7_SIGNER_INFO_num(signers) != 1 ||
        p != (const unsigned char *)der + len) {
        *reason = g_strdup("the reply is not a PKCS#7 signed message");
        PKCS7_free(p7);
        return NULL;
    }
    return p7;
}

GBytes *
scep_verify_reply(PKCS7 *reply, STACK_OF(X509) * ca_certs, char **reason)
{
    /* A reply without content (failure, pending) signs the empty string. */
    BIO *empty = PKCS7_get_detached(reply) ? BIO_new(BIO_s_mem()) : NULL;
    BIO *content = BIO_new(BIO_s_mem());
    GBytes *out = NULL;
    if (content != NULL &&
        PKCS7_verify(reply, ca_certs, NULL, empty, content,
                     PKCS7_NOVERIFY | PKCS7_NOINTERN | PKCS7_BINARY) == 1) {
        char *data;
        long n = BIO_get_mem_data(content, &data);
        out = g_bytes_new(data, (gsize)n);
    } else {
        *reason = g_strdup("the reply is not signed by the CA");
    }
    ERR_clear_error();
    BIO_free(content);
    BIO_free(empty);
    return out;
}

static gboolean
read_attributes(PKCS7_SIGNER_INFO *si, const char *transaction_id,
                const unsigned char *nonce, struct scep_reply *out,
                char **reason)
{
    char *type = printable(si, nid.message_type);
    char *id = printable(si, nid.transaction_id);
    char *status = printable(si, nid.pki_status);
    char *fail = printable(si, nid.fail_info);
    gboolean ok = FALSE;
    if (type == NULL || strcmp(type, "3") != 0)
        *reason = g_strdup("the reply is not a CertRep");
    else if (id == NULL || strcmp(id, transaction_id) != 0)
        *reason = g_strdup("the reply is for another transaction");
    else if (!nonce_matches(si, nonce))
        *reason = g_strdup("the reply does not echo our nonce (a replay?)");
    else if (status == NULL ||
             (strcmp(status, "0") != 0 && strcmp(status, "2") != 0 &&
              strcmp(status, "3") != 0))
        *reason = g_strdup("the reply has no known pkiStatus");
    else
        ok = TRUE;
    if (ok) {
        out->status = (enum scep_pki_status)(status[0] - '0');
        out->fail_info = fail != NULL && strlen(fail) == 1 && fail[0] >= '0' &&
                                 fail[0] <= '4'
                             ? fail[0] - '0'
                             : -1;
    }
    g_free(type);
    g_free(id);
    g_free(status);
    g_free(fail);
    return ok;
}

gboolean
scep_read_reply(PKCS7 *reply, GBytes *content, const char *transaction_id,
                const unsigned char nonce[SCEP_NONCE_LEN],
                struct scep_reply *out, char **reason)
{
    scep_oids();
    *out = (struct scep_reply){.fail_info = -1};
    if (!read_attributes(
            sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(reply), 0),
            transaction_id, nonce, out, reason))
        return FALSE;
    if (out->status != SCEP_SUCCESS)
        return TRUE;
    gsize len;
    const unsigned char *p = g_bytes_get_data(content, &len);
    out->envelope = len > 0 ? d2i_PKCS7(NULL, &p, (long)len) : NULL;
    ERR_clear_error();
    if (out->envelope == NULL || !PKCS7_type_is_enveloped(out->envelope)) {
        *reason = g_strdup("the reply's content is not an envelope");
        scep_reply_clear(out);
        return FALSE;
    }
    return TRUE;
}

gboolean
scep_parse_reply(const void *der, gsize len, STACK_OF(X509) * ca_certs,
                 const char *transaction_id,
                 const unsigned char nonce[SCEP_NONCE_LEN],
                 struct scep_reply *out, char **reason)
{
    *out = (struct scep_reply){.fail_info = -1};
    PKCS7 *reply = scep_decode_reply(der, len, reason);
    GBytes *content = reply ? scep_verify_reply(reply, ca_certs, reason) : NULL;
    gboolean ok =
        content != NULL &&
        scep_read_reply(reply, content, transaction_id, nonce, out, reason);
    if (content != NULL)
        g_bytes_unref(content);
    PKCS7_free(reply);
    return ok;
}

void
scep_reply_clear(struct scep_reply *reply)
{
    PKCS7_free(reply->envelope);
    reply->envelope = NULL;
}

/* The recipient info addressed to cert, if its key was RSA-encrypted. */
static PKCS7_RECIP_INFO *
recipient_for(PKCS7_ENVELOPE *env, X509 *cert)
{
    for (int i = 0; i < sk_PKCS7_RECIP_INFO_num(env->recipientinfo); i++) {
        PKCS7_RECIP_INFO *ri = sk_PKCS7_RECIP_INFO_value(env->recipientinfo, i);
        if (ri->issuer_and_serial != NULL && ri->enc_key != NULL &&
            ri->key_enc_algor != NULL &&
            OBJ_obj2nid(ri->key_enc_algor->algorithm) == NID_rsaEncryption &&
            X509_NAME_cmp(ri->issuer_and_serial->issuer,
                          X509_get_issuer_name(cert)) == 0 &&
            ASN1_INTEGER_cmp(ri->issuer_and_serial->serial,
                             X509_get0_serialNumber(cert)) == 0)
            return ri;
    }
    return NULL;
}

/*
 * Replies carry public certificates, whose integrity the CA's signature
 * and the chain check establish; their encryption adds little. Servers
 * still use single DES for it (the scep package's does), which OpenSSL 3
 * keeps in its legacy provider: loaded in a library context of its own,
 * for opening replies only. Requests are always AES.
 */
static gpointer
load_reply_ciphers(gpointer unused)
{
    (void)unused;
    OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
    /* OpenSSL's own modules, whatever OPENSSL_MODULES says (it may name
     * the tessera provider's directory). */
    if (ctx != NULL && OSSL_PROVIDER_set_default_search_path(
                           ctx, OPENSSL_info(OPENSSL_INFO_MODULES_DIR))) {
        OSSL_PROVIDER_load(ctx, "default");
        OSSL_PROVIDER_load(ctx, "legacy");
    }
    ERR_clear_error();
    return ctx;
}

static OSSL_LIB_CTX *
reply_ciphers(void)
{
    static GOnce once = G_ONCE_INIT;
    return g_once(&once, load_reply_ciphers, NULL);
}

static const char *
allowed_cipher(const X509_ALGOR *alg)
{
    switch (alg ? OBJ_obj2nid(alg->algorithm) : NID_undef) {
    case NID_des_cbc:
        return "DES-CBC";
    case NID_aes_128_cbc:
        return "AES-128-CBC";
    case NID_aes_192_cbc:
        return "AES-192-CBC";
    case NID_aes_256_cbc:
        return "AES-256-CBC";
    case NID_des_ede3_cbc:
        return "DES-EDE3-CBC";
    default:
        return NULL;
    }
}

/* The envelope's content, decrypted with the content-encryption key. */
static GBytes *
decrypt_content(PKCS7_ENC_CONTENT *enc, GBytes *key)
{
    const char *name = allowed_cipher(enc->algorithm);
    EVP_CIPHER *cipher =
        name ? EVP_CIPHER_fetch(reply_ciphers(), name, NULL) : NULL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    gsize key_len;
    const unsigned char *key_data = g_bytes_get_data(key, &key_len);
    const ASN1_OCTET_STRING *in = enc->enc_data;
    unsigned char *out = NULL;
    int n = 0, tail = 0;
    gboolean ok =
        cipher != NULL && ctx != NULL && in != NULL && in->length > 0 &&
        in->length <= SCEP_REPLY_MAX &&
        EVP_DecryptInit_ex2(ctx, cipher, NULL, NULL, NULL) &&
        EVP_CIPHER_asn1_to_param(ctx, enc->algorithm->parameter) > 0 &&
        (gsize)EVP_CIPHER_CTX_get_key_length(ctx) == key_len &&
        EVP_DecryptInit_ex2(ctx, NULL, key_data, NULL, NULL);
    if (ok) {
        out = g_malloc(in->length + EVP_MAX_BLOCK_LENGTH);
        ok = EVP_DecryptUpdate(ctx, out, &n, in->data, in->length) &&
             EVP_DecryptFinal_ex(ctx, out + n, &tail);
    }
    GBytes *plain = ok ? g_bytes_new(out, (gsize)(n + tail)) : NULL;
    g_free(out);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);
    return plain;
}

static gboolean
append_certs(GBytes *plain, GPtrArray *certs)
{
    gsize len;
    const unsigned char *p = g_bytes_get_data(plain, &len);
    PKCS7 *bag = d2i_PKCS7(NULL, &p, (long)len);
    STACK_OF(X509) *in =
        bag && PKCS7_type_is_signed(bag) ? bag->d.sign->cert : NULL;
    int n = sk_X509_num(in);
    gboolean ok = n > 0 && n <= ISSUED_CERTS_MAX;
    for (int i = 0; ok && i < n; i++) {
        unsigned char *der = NULL;
        int der_len = i2d_X509(sk_X509_value(in, i), &der);
        ok = der_len > 0;
        if (ok)
            g_ptr_array_add(certs, g_bytes_new(der, (gsize)der_len));
        OPENSSL_free(der);
    }
    PKCS7_free(bag);
    return ok;
}

gboolean
scep_open_envelope(PKCS7 *envelope, X509 *recipient_cert,
                   scep_decrypt_fn decrypt, void *ctx, GPtrArray *certs,
                   char **reason)
{
    PKCS7_ENVELOPE *env = envelope->d.enveloped;
    PKCS7_RECIP_INFO *ri = env ? recipient_for(env, recipient_cert) : NULL;
    GBytes *key = NULL, *plain = NULL;
    gboolean ok = FALSE;
    if (ri == NULL)
        *reason = g_strdup("the reply is not encrypted to our key");
    else if (!decrypt(ctx, ri->enc_key->data, (gsize)ri->enc_key->length, &key))
        *reason = g_strdup("the token cannot decrypt the reply's key");
    else if (env->enc_data == NULL ||
             (plain = decrypt_content(env->enc_data, key)) == NULL)
        *reason = g_strdup("the reply's content does not decrypt (unknown "
                           "cipher, wrong key or damaged)");
    else if (!append_certs(plain, certs))
        *reason = g_strdup("the reply carries no certificates");
    else
        ok = TRUE;
    ERR_clear_error();
    if (key != NULL)
        g_bytes_unref(key);
    if (plain != NULL)
        g_bytes_unref(plain);
    return ok;
}

const char *
scep_fail_info_text(int fail_info)
{
    static const char *const text[] = {
        "unrecognized or unsupported algorithm",
        "integrity check failed",
        "transaction not permitted or supported",
        "the message time was too far from the CA's time",
        "no certificate could be identified matching the request",
    };
    return fail_info >= 0 && fail_info < (int)G_N_ELEMENTS(text)
               ? text[fail_info]
               : "no reason given";
}
