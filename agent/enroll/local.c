/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local CA: a CA certificate and key on disk sign the request directly.
 * For the demo, tests and small set-ups. Profile keys:
 *   protocol=local
 *   ca-cert=/path/ca.pem      ca-key=/path/ca.key      validity-days=365
 * ca-cert is the issuing CA's certificate, followed by its own chain when
 * it is not a root (a bundle): all of it is sent after the leaf.
 *   validity-seconds=N        instead of days: short-lived certificates
 * The subject and subjectAltName come from the CSR, whose signature must
 * verify; the certificate is for TLS clients only.
 */
#include "enroll.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define DEFAULT_VALIDITY_DAYS 365

struct local_ca {
    X509 *cert;
    STACK_OF(X509) * bundle; /* cert, then its chain */
    EVP_PKEY *key;
    long validity_seconds;
};

/* Every certificate of the file, the issuing CA's first. */
static STACK_OF(X509) * read_bundle(const char *path)
{
    FILE *f = fopen(path, "re");
    STACK_OF(X509) *bundle = f ? sk_X509_new_null() : NULL;
    X509 *x;
    while (bundle != NULL && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
        if (!sk_X509_push(bundle, x))
            X509_free(x);
    if (f != NULL)
        fclose(f);
    if (bundle != NULL && sk_X509_num(bundle) == 0) {
        sk_X509_free(bundle);
        bundle = NULL;
    }
    return bundle;
}

static gboolean
load_ca(const struct enroll_profile *ca, struct local_ca *out, char **reason)
{
    const char *cert_path = ca->profile->ca_cert;
    const char *key_path = ca->profile->ca_key;
    gint64 days = ca->profile->validity_days ? ca->profile->validity_days
                                             : DEFAULT_VALIDITY_DAYS;
    /* validity-seconds, for short-lived certificates (tests, demos). */
    out->validity_seconds = ca->profile->validity_seconds
                                ? (long)ca->profile->validity_seconds
                                : (long)(days * 86400);
    if ((out->bundle = read_bundle(cert_path)) == NULL ||
        (out->cert = sk_X509_value(out->bundle, 0)) == NULL)
        *reason =
            g_strdup_printf("cannot read the CA certificate %s", cert_path);
    else if ((out->key = enroll_read_private_key(key_path)) == NULL)
        *reason = g_strdup_printf("cannot read the CA key %s", key_path);
    else if (X509_check_private_key(out->cert, out->key) != 1)
        *reason = g_strdup_printf("the CA key %s does not match %s", key_path,
                                  cert_path);
    ERR_clear_error();
    return *reason == NULL;
}

static gboolean
add_extension(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    gboolean ok = ext != NULL && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* The subjectAltName the requester asked for, if any. */
static gboolean
copy_san(X509 *cert, X509_REQ *req)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    gboolean ok = TRUE;
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name)
            ok = X509_add_ext(cert, ext, -1);
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return ok;
}

static gboolean
set_serial(X509 *cert)
{
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1)
        return FALSE;
    bytes[0] &= 0x7f; /* positive, as RFC 5280 wants */
    BIGNUM *bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
    gboolean ok =
        bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    return ok;
}

static X509 *
issue(struct local_ca *ca, X509_REQ *req)
{
    X509 *cert = X509_new();
    EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
    X509V3_CTX ctx;
    gboolean ok =
        cert != NULL && pub != NULL && X509_set_version(cert, X509_VERSION_3) &&
        set_serial(cert) &&
        X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) &&
        X509_set_subject_name(cert, X509_REQ_get_subject_name(req)) &&
        /* Back-dated for clocks a little behind ours. */
        X509_gmtime_adj(X509_getm_notBefore(cert),
                        -MIN(300, ca->validity_seconds / 10)) &&
        X509_gmtime_adj(X509_getm_notAfter(cert), ca->validity_seconds) &&
        X509_set_pubkey(cert, pub);
    if (ok) {
        X509V3_set_ctx(&ctx, ca->cert, cert, NULL, NULL, 0);
        ok = add_extension(cert, &ctx, NID_basic_constraints,
                           "critical,CA:FALSE") &&
             add_extension(cert, &ctx, NID_key_usage,
                           "critical,digitalSignature") &&
             add_extension(cert, &ctx, NID_ext_key_usage, "clientAuth") &&
             add_extension(cert, &ctx, NID_subject_key_identifier, "hash") &&
             add_extension(cert, &ctx, NID_authority_key_identifier,
                           "keyid,issuer") &&
             copy_san(cert, req) && X509_sign(cert, ca->key, EVP_sha256()) > 0;
    }
    if (!ok) {
        X509_free(cert);
        cert = NULL;
    }
    return cert;
}

static void
append_der(GPtrArray *chain, X509 *cert)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    if (len > 0)
        g_ptr_array_add(chain, g_bytes_new(der, (gsize)len));
    OPENSSL_free(der);
}

static enum enroll_outcome
local_submit(const struct enroll_profile *profile, GBytes *csr,
             struct enroll_result *result, char **reason)
{
    struct local_ca ca = {0};
    gsize len;
    const unsigned char *p = g_bytes_get_data(csr, &len);
    X509_REQ *req = NULL;
    X509 *cert = NULL;
    enum enroll_outcome outcome = ENROLL_UNREACHABLE;
    if (!load_ca(profile, &ca, reason))
        goto out;
    req = d2i_X509_REQ(NULL, &p, (long)len);
    if (req == NULL || X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1) {
        *reason = g_strdup("the request's signature does not verify");
        outcome = ENROLL_REJECTED;
    } else if ((cert = issue(&ca, req)) == NULL) {
        *reason = g_strdup_printf("cannot sign the certificate: %s",
                                  ERR_reason_error_string(ERR_get_error()));
    } else {
        append_der(result->chain, cert);
        for (int i = 0; i < sk_X509_num(ca.bundle); i++)
            append_der(result->chain, sk_X509_value(ca.bundle, i));
        outcome = ENROLL_ISSUED;
    }
out:
    ERR_clear_error();
    X509_free(cert);
    X509_REQ_free(req);
    sk_X509_pop_free(ca.bundle, X509_free);
    EVP_PKEY_free(ca.key);
    return outcome;
}

const struct enroll_protocol enroll_local = {"local", "ec-p256", local_submit};
