/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signatures per second, three ways, in one process and one run:
 *   file     an in-process key from a PEM file, default provider;
 *   direct   the token through PKCS#11 in-process: a cached session and key
 *            handle, C_SignInit + C_Sign on a digest hashed here;
 *   tessera  the tessera provider -> agent -> the same token.
 * Rounds are interleaved and medians reported, so a noisy moment hurts
 * every column alike. Every path's signature is verified once.
 *
 * sign_bench --module SO --token LABEL --pin-file F [--rounds N]
 *            [--seconds S] ALG:KEYNAME:PEMFILE...
 * ALG is ec or rsa; KEYNAME is both the identity name and the token label.
 */
#include <dlfcn.h>
#include <getopt.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ROUNDS 15

static const uint8_t sha256_digest_info[] = {
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};

struct direct {
    CK_FUNCTION_LIST *p11;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
    bool rsa;
};

struct subject {
    const char *label;
    bool rsa;
    EVP_PKEY *file_key;
    EVP_PKEY *tessera_key;
    EVP_PKEY *public_key; /* of the token key, held by the default provider */
    struct direct direct;
    double rate[3][MAX_ROUNDS];
};

static const uint8_t message[64] =
    "The quick brown fox signs over the lazy dog.";

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
    fprintf(stderr, "sign_bench: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static size_t
evp_sign(EVP_PKEY *key, uint8_t *sig, size_t size)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = size;
    if (ctx == NULL ||
        EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, key, NULL) !=
            1 ||
        EVP_DigestSign(ctx, sig, &len, message, sizeof(message)) != 1)
        die("EVP_DigestSign failed");
    EVP_MD_CTX_free(ctx);
    return len;
}

static size_t
direct_sign(struct direct *d, uint8_t *sig, size_t size)
{
    uint8_t input[sizeof(sha256_digest_info) + 32];
    size_t off = d->rsa ? sizeof(sha256_digest_info) : 0;
    unsigned int dlen;
    memcpy(input, sha256_digest_info, off);
    EVP_Digest(message, sizeof(message), input + off, &dlen, EVP_sha256(),
               NULL);
    CK_MECHANISM mech = {d->rsa ? CKM_RSA_PKCS : CKM_ECDSA, NULL, 0};
    CK_ULONG len = size;
    if (d->p11->C_SignInit(d->session, &mech, d->key) != CKR_OK ||
        d->p11->C_Sign(d->session, input, off + dlen, sig, &len) != CKR_OK)
        die("C_Sign failed");
    return len;
}

/* PKCS#11 ECDSA is r || s; the EVP verifier wants DER. */
static bool
verify(EVP_PKEY *pub, const uint8_t *sig, size_t len, bool raw_ecdsa)
{
    uint8_t der[256];
    if (raw_ecdsa) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)len / 2, NULL),
                       BN_bin2bn(sig + len / 2, (int)len / 2, NULL));
        uint8_t *p = der;
        len = (size_t)i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        sig = der;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = EVP_DigestVerifyInit_ex(ctx, NULL, "SHA256", NULL, NULL, pub,
                                      NULL) == 1 &&
              EVP_DigestVerify(ctx, sig, len, message, sizeof(message)) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static EVP_PKEY *
public_half(EVP_PKEY *key)
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(key, &der);
    const unsigned char *p = der;
    EVP_PKEY *pub = len > 0 ? d2i_PUBKEY(NULL, &p, len) : NULL;
    OPENSSL_free(der);
    if (pub == NULL)
        die("cannot export the public key");
    return pub;
}

static double
measure(struct subject *s, int way, double seconds)
{
    uint8_t sig[1024];
    long n = 0;
    double start = now(), end = start + seconds, t;
    do {
        for (int i = 0; i < 8; i++, n++) {
            if (way == 0)
                evp_sign(s->file_key, sig, sizeof(sig));
            else if (way == 1)
                direct_sign(&s->direct, sig, sizeof(sig));
            else
                evp_sign(s->tessera_key, sig, sizeof(sig));
        }
    } while ((t = now()) < end);
    return (double)n / (t - start);
}

static CK_FUNCTION_LIST *
load_module(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList get =
        h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
    CK_FUNCTION_LIST *p11 = NULL;
    if (get == NULL || get(&p11) != CKR_OK || p11->C_Initialize(NULL) != CKR_OK)
        die("cannot load the PKCS#11 module");
    return p11;
}

static CK_SESSION_HANDLE
open_token(CK_FUNCTION_LIST *p11, const char *label, const char *pin)
{
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    if (p11->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        die("C_GetSlotList failed");
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO info;
        char name[33];
        if (p11->C_GetTokenInfo(slots[i], &info) != CKR_OK)
            continue;
        memcpy(name, info.label, 32);
        name[32] = '\0';
        for (int j = 31; j >= 0 && name[j] == ' '; j--)
            name[j] = '\0';
        if (strcmp(name, label) != 0)
            continue;
        CK_SESSION_HANDLE s;
        if (p11->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s) !=
                CKR_OK ||
            p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) !=
                CKR_OK)
            die("cannot log in to the token");
        return s;
    }
    die("no such token");
    return 0;
}

static CK_OBJECT_HANDLE
find_key(CK_FUNCTION_LIST *p11, CK_SESSION_HANDLE s, const char *label)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE key;
    CK_ULONG found = 0;
    p11->C_FindObjectsInit(s, tmpl, 2);
    p11->C_FindObjects(s, &key, 1, &found);
    p11->C_FindObjectsFinal(s);
    if (found != 1)
        die("no such key on the token");
    return key;
}

static EVP_PKEY *
load_tessera_key(const char *name)
{
    char uri[256];
    snprintf(uri, sizeof(uri), "tessera:%s", name);
    OSSL_STORE_CTX *st = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    EVP_PKEY *key = NULL;
    OSSL_STORE_INFO *info;
    if (st != NULL && OSSL_STORE_expect(st, OSSL_STORE_INFO_PKEY) &&
        (info = OSSL_STORE_load(st)) != NULL) {
        key = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(st);
    if (key == NULL)
        die("cannot load the Tessera key");
    return key;
}

static int
compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), compare);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
    const char *module = NULL, *token = NULL, *pin_file = NULL;
    int rounds = 5;
    double seconds = 0.5;
    static const struct option opts[] = {
        {"module", required_argument, NULL, 'm'},
        {"token", required_argument, NULL, 't'},
        {"pin-file", required_argument, NULL, 'p'},
        {"rounds", required_argument, NULL, 'r'},
        {"seconds", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            module = optarg;
            break;
        case 't':
            token = optarg;
            break;
        case 'p':
            pin_file = optarg;
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 's':
            seconds = atof(optarg);
            break;
        default:
            return 2;
        }
    }
    if (!module || !token || !pin_file || optind == argc || rounds < 1 ||
        rounds > MAX_ROUNDS || seconds <= 0) {
        fprintf(stderr, "usage: sign_bench --module SO --token LABEL "
                        "--pin-file F [--rounds N] [--seconds S] "
                        "ALG:KEYNAME:PEMFILE...\n");
        return 2;
    }
    char pin[128] = "";
    FILE *f = fopen(pin_file, "r");
    if (f == NULL || fgets(pin, sizeof(pin), f) == NULL)
        die("cannot read the PIN file");
    fclose(f);
    pin[strcspn(pin, "\r\n")] = '\0';

    if (!OSSL_PROVIDER_load(NULL, "default") ||
        !OSSL_PROVIDER_load(NULL, "tessera"))
        die("cannot load the providers");
    CK_FUNCTION_LIST *p11 = load_module(module);
    CK_SESSION_HANDLE session = open_token(p11, token, pin);

    int n = argc - optind;
    struct subject *subjects = calloc((size_t)n, sizeof(*subjects));
    for (int i = 0; i < n; i++) {
        struct subject *s = &subjects[i];
        char *spec = argv[optind + i];
        char *name = strchr(spec, ':'),
             *file = name ? strchr(name + 1, ':') : NULL;
        if (file == NULL)
            die("arguments are ALG:KEYNAME:PEMFILE");
        *name++ = '\0';
        *file++ = '\0';
        s->label = name;
        s->rsa = strcmp(spec, "rsa") == 0;
        FILE *pem = fopen(file, "r");
        s->file_key = pem ? PEM_read_PrivateKey(pem, NULL, NULL, NULL) : NULL;
        if (pem)
            fclose(pem);
        if (s->file_key == NULL)
            die("cannot read the file key");
        s->tessera_key = load_tessera_key(name);
        s->direct =
            (struct direct){p11, session, find_key(p11, session, name), s->rsa};
        /* Each path once, verified: the numbers below are of real work. */
        uint8_t sig[1024];
        s->public_key = public_half(s->tessera_key);
        size_t len = direct_sign(&s->direct, sig, sizeof(sig));
        bool ok = verify(s->public_key, sig, len, !s->rsa);
        len = evp_sign(s->tessera_key, sig, sizeof(sig));
        ok = ok && verify(s->public_key, sig, len, false);
        len = evp_sign(s->file_key, sig, sizeof(sig));
        ok = ok && verify(s->file_key, sig, len, false);
        if (!ok)
            die("a signature did not verify");
    }

    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++)
            for (int way = 0; way < 3; way++)
                subjects[i].rate[way][r] = measure(&subjects[i], way, seconds);

    printf("\nSignatures per second, median of %d interleaved rounds of %.2fs "
           "(SHA-256, 64-byte message)\n\n",
           rounds, seconds);
    printf("%-12s %10s %10s %10s %12s %16s\n", "key", "file", "direct",
           "tessera", "tessera/dir", "overhead (us)");
    for (int i = 0; i < n; i++) {
        struct subject *s = &subjects[i];
        double file = median(s->rate[0], rounds);
        double direct = median(s->rate[1], rounds);
        double tessera = median(s->rate[2], rounds);
        printf("%-12s %10.0f %10.0f %10.0f %12.2f %16.1f\n",
               s->rsa ? "RSA-2048" : "ECDSA P-256", file, direct, tessera,
               tessera / direct, 1e6 / tessera - 1e6 / direct);
        EVP_PKEY_free(s->file_key);
        EVP_PKEY_free(s->tessera_key);
        EVP_PKEY_free(s->public_key);
    }
    printf("\nfile: in-process PEM key; direct: PKCS#11 in-process on the same "
           "token;\ntessera: provider -> agent socket -> token. Overhead = "
           "per-signature time of\ntessera minus direct.\n");
    free(subjects);
    p11->C_Logout(session);
    p11->C_Finalize(NULL);
    return 0;
}
