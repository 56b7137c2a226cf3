/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fills a token with COUNT identities for the agent's start-up and memory
 * benchmark: each an EC P-256 private key, its public key and a self-signed
 * certificate, sharing a CKA_ID. Keys are made in this process and imported
 * because 1000 on-token key generations would time the token, not the agent;
 * Tessera itself never imports a private key this way.
 *
 *   token_fill MODULE TOKEN-LABEL PIN COUNT
 *   token_fill --enumerate MODULE
 *
 * --enumerate is the anchor for the agent's start-up: the module alone,
 * reading every object's class, id and value without logging in as the
 * agent does at start, then printing its own time and private memory.
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "bench_p11.h"
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

/* DER of the OID prime256v1, as CKA_EC_PARAMS wants it. */
static const uint8_t p256_params[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                      0xce, 0x3d, 0x03, 0x01, 0x07};

static void
die(const char *what)
{
    fprintf(stderr, "token_fill: %s\n", what);
    exit(1);
}

static X509 *
self_signed(EVP_PKEY *key, const char *name)
{
    X509 *x = X509_new();
    X509_NAME *subject = X509_NAME_new();
    if (x == NULL || subject == NULL ||
        !X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                    (const unsigned char *)name, -1, -1, 0) ||
        !X509_set_version(x, X509_VERSION_3) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
        !X509_set_subject_name(x, subject) ||
        !X509_set_issuer_name(x, subject) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600) ||
        !X509_set_pubkey(x, key) || !X509_sign(x, key, EVP_sha256()))
        die("cannot make a certificate");
    X509_NAME_free(subject);
    return x;
}

static void
create(CK_FUNCTION_LIST *p11, CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_OBJECT_HANDLE h;
    if (p11->C_CreateObject(s, t, n, &h) != CKR_OK)
        die("C_CreateObject failed");
}

static void
fill_one(CK_FUNCTION_LIST *p11, CK_SESSION_HANDLE s, int index)
{
    char label[32];
    uint8_t id[4] = {(uint8_t)(index >> 24), (uint8_t)(index >> 16),
                     (uint8_t)(index >> 8), (uint8_t)index};
    snprintf(label, sizeof(label), "fill-%04d", index);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    BIGNUM *priv = NULL;
    uint8_t scalar[32], point[65], octet_point[67];
    size_t point_len = 0;
    if (key == NULL ||
        !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &priv) ||
        BN_bn2binpad(priv, scalar, sizeof(scalar)) != sizeof(scalar) ||
        !EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point,
                                         sizeof(point), &point_len) ||
        point_len != sizeof(point))
        die("cannot make a key");
    /* CKA_EC_POINT is the point wrapped in a DER OCTET STRING. */
    octet_point[0] = 0x04;
    octet_point[1] = (uint8_t)point_len;
    memcpy(octet_point + 2, point, point_len);
    X509 *cert = self_signed(key, label);
    uint8_t *der = NULL, *subject = NULL;
    int der_len = i2d_X509(cert, &der);
    int subject_len = i2d_X509_NAME(X509_get_subject_name(cert), &subject);

    CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY, pub_class = CKO_PUBLIC_KEY,
                    cert_class = CKO_CERTIFICATE;
    CK_KEY_TYPE ec = CKK_EC;
    CK_CERTIFICATE_TYPE x509 = CKC_X_509;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE private_key[] = {
        {CKA_CLASS, &priv_class, sizeof(priv_class)},
        {CKA_KEY_TYPE, &ec, sizeof(ec)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_ID, id, sizeof(id)},
        {CKA_LABEL, label, strlen(label)},
        {CKA_EC_PARAMS, (void *)p256_params, sizeof(p256_params)},
        {CKA_VALUE, scalar, sizeof(scalar)}};
    CK_ATTRIBUTE public_key[] = {
        {CKA_CLASS, &pub_class, sizeof(pub_class)},
        {CKA_KEY_TYPE, &ec, sizeof(ec)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_ID, id, sizeof(id)},
        {CKA_LABEL, label, strlen(label)},
        {CKA_EC_PARAMS, (void *)p256_params, sizeof(p256_params)},
        {CKA_EC_POINT, octet_point, point_len + 2}};
    CK_ATTRIBUTE certificate[] = {{CKA_CLASS, &cert_class, sizeof(cert_class)},
                                  {CKA_CERTIFICATE_TYPE, &x509, sizeof(x509)},
                                  {CKA_TOKEN, &yes, sizeof(yes)},
                                  {CKA_ID, id, sizeof(id)},
                                  {CKA_LABEL, label, strlen(label)},
                                  {CKA_SUBJECT, subject, (CK_ULONG)subject_len},
                                  {CKA_VALUE, der, (CK_ULONG)der_len}};
    create(p11, s, private_key, sizeof(private_key) / sizeof(private_key[0]));
    create(p11, s, public_key, sizeof(public_key) / sizeof(public_key[0]));
    create(p11, s, certificate, sizeof(certificate) / sizeof(certificate[0]));
    OPENSSL_cleanse(scalar, sizeof(scalar));
    OPENSSL_free(der);
    OPENSSL_free(subject);
    X509_free(cert);
    BN_clear_free(priv);
    EVP_PKEY_free(key);
}

static long
rss_anon_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "RssAnon: %ld", &kib) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kib;
}

static void
read_every_object(CK_FUNCTION_LIST *p11, CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE objects[64];
    CK_ULONG found;
    CK_TOKEN_INFO info;
    if (p11->C_GetTokenInfo(slot, &info) != CKR_OK ||
        !(info.flags & CKF_TOKEN_INITIALIZED))
        return;
    if (p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) !=
            CKR_OK ||
        p11->C_FindObjectsInit(s, NULL, 0) != CKR_OK)
        die("cannot search the token");
    while (p11->C_FindObjects(s, objects, 64, &found) == CKR_OK && found > 0) {
        for (CK_ULONG i = 0; i < found; i++) {
            CK_OBJECT_CLASS cls;
            uint8_t id[64], value[4096];
            CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                                {CKA_ID, id, sizeof(id)},
                                {CKA_VALUE, value, sizeof(value)}};
            p11->C_GetAttributeValue(s, objects[i], t, 3);
        }
    }
    p11->C_FindObjectsFinal(s);
}

static int
enumerate(const char *module)
{
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    CK_FUNCTION_LIST *p11 = bench_load_module(module);
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    if (p11->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        die("C_GetSlotList failed");
    for (CK_ULONG i = 0; i < n; i++)
        read_every_object(p11, slots[i]);
    clock_gettime(CLOCK_MONOTONIC, &end);
    printf("%.1f ms %ld KiB\n",
           (double)(end.tv_sec - start.tv_sec) * 1e3 +
               (double)(end.tv_nsec - start.tv_nsec) / 1e6,
           rss_anon_kib());
    p11->C_Finalize(NULL);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--enumerate") == 0)
        return enumerate(argv[2]);
    if (argc != 5) {
        fprintf(stderr, "usage: token_fill MODULE TOKEN-LABEL PIN COUNT\n"
                        "       token_fill --enumerate MODULE\n");
        return 2;
    }
    CK_FUNCTION_LIST *p11 = bench_load_module(argv[1]);
    CK_SESSION_HANDLE s =
        bench_open_token(p11, argv[2], argv[3], CKF_RW_SESSION);
    int count = atoi(argv[4]);
    for (int i = 0; i < count; i++)
        fill_one(p11, s, i);
    p11->C_Logout(s);
    p11->C_Finalize(NULL);
    return 0;
}
