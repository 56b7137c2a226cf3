/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Makes fuzz_scep's test-only CA and the seeds it signs, so that the
 * fuzzer starts from replies that pass the signature check and reaches
 * what follows: CertReps for transaction "ID" that echo the all-zero
 * nonce (what the target expects), a success whose envelope (AES-128)
 * carries a certificate issued to the CA's own key, a pending and a
 * failure (without content, signed detached), envelopes alone in each
 * cipher a reply may use, and a GetCACert bag of the CA and an RA. The CA's key
 * (RSA-1024: the fuzzer decrypts with it at every run) is public on purpose:
 * nothing but the fuzzer and the unit test trusts it. scep_seeds CA_PEM
 * CORPUS_DIR    (writes CA_PEM, then the seeds) The committed files are its
 * output: tests/fuzz/scep-fuzz-ca.pem and tests/fuzz/corpus/scep/fuzz-*.der.
 */
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#define NONCE_LEN 16

static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
          long serial, const char *key_usage)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400);
    X509_set_pubkey(x, key);
    X509_EXTENSION *ext =
        key_usage ? X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, key_usage)
                  : NULL;
    if (ext != NULL)
        X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
    return x;
}

static int
scep_nid(const char *oid, const char *name)
{
    int n = OBJ_txt2nid(oid);
    return n != NID_undef ? n : OBJ_create(oid, name, name);
}

/* A signed attribute of one string type (PrintableString, OCTET STRING). */
static int
add_attribute(PKCS7_SIGNER_INFO *si, int nid, int type, const void *data,
              int len)
{
    ASN1_STRING *s = ASN1_STRING_type_new(type);
    if (s == NULL || !ASN1_STRING_set(s, data, len) ||
        !PKCS7_add_signed_attribute(si, nid, type, s)) {
        ASN1_STRING_free(s);
        return 0;
    }
    return 1;
}

static int
write_der(const char *dir, const char *name, PKCS7 *p7)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f != NULL && i2d_PKCS7_fp(f, p7) == 1;
    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    if (!ok)
        fprintf(stderr, "scep_seeds: cannot write %s\n", path);
    return ok;
}

/* A certs-only PKCS#7 of n certificates: a GetCACert bag, what a CertRep's
 * envelope carries. */
static PKCS7 *
certs_only(X509 *const *certs, int n)
{
    PKCS7 *bag = PKCS7_new();
    int ok = bag != NULL && PKCS7_set_type(bag, NID_pkcs7_signed) &&
             PKCS7_content_new(bag, NID_pkcs7_data);
    for (int i = 0; ok && i < n; i++)
        ok = PKCS7_add_certificate(bag, certs[i]);
    if (!ok) {
        PKCS7_free(bag);
        return NULL;
    }
    return bag;
}

/* Content encrypted to `to` with the named cipher (of ctx, which has the
 * legacy provider: single DES). */
static PKCS7 *
envelope(PKCS7 *content, X509 *to, OSSL_LIB_CTX *ctx, const char *cipher_name)
{
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(ctx, cipher_name, NULL);
    STACK_OF(X509) *recipients = sk_X509_new_null();
    unsigned char *der = NULL;
    int len = i2d_PKCS7(content, &der);
    BIO *in = len > 0 ? BIO_new_mem_buf(der, len) : NULL;
    PKCS7 *out =
        cipher != NULL && in != NULL && sk_X509_push(recipients, to) > 0
            ? PKCS7_encrypt_ex(recipients, in, cipher, PKCS7_BINARY, ctx, NULL)
            : NULL;
    BIO_free(in);
    OPENSSL_free(der);
    sk_X509_free(recipients);
    EVP_CIPHER_free(cipher);
    return out;
}

/* A CertRep signed by the CA: status "0", "2" or "3"; content if any. */
static PKCS7 *
cert_rep(X509 *ca, EVP_PKEY *key, const char *status, const char *fail_info,
         PKCS7 *content)
{
    static const unsigned char zero_nonce[NONCE_LEN];
    unsigned char sender_nonce[NONCE_LEN];
    unsigned char *der = NULL;
    int len = content ? i2d_PKCS7(content, &der) : 0;
    int flags = PKCS7_BINARY | PKCS7_PARTIAL | PKCS7_NOSMIMECAP |
                (content ? 0 : PKCS7_DETACHED);
    BIO *data = BIO_new_mem_buf(der ? (void *)der : "", len);
    PKCS7 *p7 = PKCS7_sign(NULL, NULL, NULL, NULL, flags);
    PKCS7_SIGNER_INFO *si =
        p7 ? PKCS7_sign_add_signer(p7, ca, key, EVP_sha256(), flags) : NULL;
    int ok =
        si != NULL && RAND_bytes(sender_nonce, NONCE_LEN) == 1 &&
        add_attribute(si, scep_nid("2.16.840.1.113733.1.9.2", "messageType"),
                      V_ASN1_PRINTABLESTRING, "3", 1) &&
        add_attribute(si, scep_nid("2.16.840.1.113733.1.9.3", "pkiStatus"),
                      V_ASN1_PRINTABLESTRING, status, 1) &&
        (fail_info == NULL ||
         add_attribute(si, scep_nid("2.16.840.1.113733.1.9.4", "failInfo"),
                       V_ASN1_PRINTABLESTRING, fail_info, 1)) &&
        add_attribute(si, scep_nid("2.16.840.1.113733.1.9.5", "senderNonce"),
                      V_ASN1_OCTET_STRING, sender_nonce, NONCE_LEN) &&
        add_attribute(si, scep_nid("2.16.840.1.113733.1.9.6", "recipientNonce"),
                      V_ASN1_OCTET_STRING, zero_nonce, NONCE_LEN) &&
        add_attribute(si, scep_nid("2.16.840.1.113733.1.9.7", "transID"),
                      V_ASN1_PRINTABLESTRING, "ID", 2) &&
        data != NULL && PKCS7_final(p7, data, flags);
    BIO_free(data);
    OPENSSL_free(der);
    if (!ok) {
        PKCS7_free(p7);
        return NULL;
    }
    return p7;
}

static int
write_ca(const char *path, EVP_PKEY *key, X509 *ca)
{
    FILE *f = fopen(path, "w");
    int ok = f != NULL &&
             fputs("fuzz_scep's test-only CA (tests/fuzz/scep_seeds.c): its "
                   "key is public on purpose; trust it nowhere.\n",
                   f) >= 0 &&
             PEM_write_PrivateKey(f, key, NULL, NULL, 0, 0, NULL) &&
             PEM_write_X509(f, ca);
    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    return ok;
}

static int
write_seeds(const char *dir, EVP_PKEY *key, X509 *ca, OSSL_LIB_CTX *ctx)
{
    static const char *const ciphers[] = {
        "AES-128-CBC", "AES-192-CBC", "AES-256-CBC", "DES-EDE3-CBC", "DES-CBC"};
    X509 *issued = make_cert(key, "issued", ca, key, 2, NULL);
    /* An RA beside the CA: the recipient for key encipherment. */
    X509 *ra = make_cert(key, "RA", ca, key, 3,
                         "critical,digitalSignature,keyEncipherment");
    X509 *const ca_and_ra[] = {ca, ra};
    PKCS7 *issued_bag = certs_only(&issued, 1);
    PKCS7 *ca_bag = certs_only(ca_and_ra, 2);
    int ok = issued_bag != NULL && ca_bag != NULL &&
             write_der(dir, "fuzz-getcacert-bag.der", ca_bag);
    for (size_t i = 0; ok && i < sizeof(ciphers) / sizeof(*ciphers); i++) {
        char name[64];
        snprintf(name, sizeof(name), "fuzz-envelope-%s.der", ciphers[i]);
        PKCS7 *env = envelope(issued_bag, ca, ctx, ciphers[i]);
        ok = env != NULL && write_der(dir, name, env);
        if (ok && i == 0) {
            PKCS7 *rep = cert_rep(ca, key, "0", NULL, env);
            ok = rep != NULL && write_der(dir, "fuzz-certrep-success.der", rep);
            PKCS7_free(rep);
        }
        PKCS7_free(env);
    }
    PKCS7 *pending = ok ? cert_rep(ca, key, "3", NULL, NULL) : NULL;
    PKCS7 *failure = pending ? cert_rep(ca, key, "2", "2", NULL) : NULL;
    ok = failure != NULL &&
         write_der(dir, "fuzz-certrep-pending.der", pending) &&
         write_der(dir, "fuzz-certrep-failure.der", failure);
    PKCS7_free(pending);
    PKCS7_free(failure);
    PKCS7_free(ca_bag);
    PKCS7_free(issued_bag);
    X509_free(ra);
    X509_free(issued);
    return ok;
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: scep_seeds CA_PEM CORPUS_DIR\n");
        return 2;
    }
    OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();
    if (ctx == NULL ||
        !OSSL_PROVIDER_set_default_search_path(
            ctx, OPENSSL_info(OPENSSL_INFO_MODULES_DIR)) ||
        !OSSL_PROVIDER_load(ctx, "default") ||
        !OSSL_PROVIDER_load(ctx, "legacy")) {
        fprintf(stderr, "scep_seeds: cannot load OpenSSL's legacy provider\n");
        return 1;
    }
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    X509 *ca =
        make_cert(key, "Tessera fuzz_scep CA (test only)", NULL, NULL, 1, NULL);
    int ok = write_ca(argv[1], key, ca) && write_seeds(argv[2], key, ca, ctx);
    X509_free(ca);
    EVP_PKEY_free(key);
    OSSL_LIB_CTX_free(ctx);
    if (!ok)
        fprintf(stderr, "scep_seeds: failed\n");
    return ok ? 0 : 1;
}
