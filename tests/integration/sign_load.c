/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An ordinary OpenSSL program for the tests: loads a key and certificate
 * through the tessera provider by URI, signs random messages, and verifies
 * every signature against the certificate's public key with the default
 * provider. Options exercise threads, fork and an agent restart mid-run.
 *
 *   sign_load [-n COUNT] [-t THREADS] [-p] [-f] [-e] [-w FILE] URI
 *     -p       RSA-PSS instead of PKCS#1 v1.5 (RSA keys)
 *     -f       sign once, fork, and sign COUNT times in parent and child
 *     -w FILE  after the first signature print "paused" and wait for FILE
 *     -e       stop at the first signature that fails
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static EVP_PKEY *key;
static X509 *cert;
static bool pss;
static int count = 1;
static bool stop_at_failure;

static bool
sign_and_verify(void)
{
    unsigned char msg[64], sig[1024];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *sctx = EVP_MD_CTX_new(), *vctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok =
        RAND_bytes(msg, sizeof(msg)) == 1 && sctx && vctx &&
        EVP_DigestSignInit_ex(sctx, &pctx, "SHA256", NULL, NULL, key, NULL) ==
            1 &&
        (!pss || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING)) &&
        EVP_DigestSign(sctx, sig, &siglen, msg, sizeof(msg)) == 1;
    if (ok) {
        ok = EVP_DigestVerifyInit_ex(vctx, &pctx, "SHA256", NULL, NULL,
                                     X509_get0_pubkey(cert), NULL) == 1 &&
             (!pss ||
              EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING)) &&
             EVP_DigestVerify(vctx, sig, siglen, msg, sizeof(msg)) == 1;
        if (!ok)
            fprintf(stderr, "sign_load: a signature did not verify\n");
    }
    if (!ok)
        ERR_print_errors_fp(stderr);
    EVP_MD_CTX_free(sctx);
    EVP_MD_CTX_free(vctx);
    return ok;
}

static void *
worker(void *arg)
{
    long good = 0;
    (void)arg;
    for (int i = 0; i < count; i++) {
        bool ok = sign_and_verify();
        good += ok;
        if (!ok && stop_at_failure)
            break;
    }
    return (void *)good;
}

static long
run_threads(int threads)
{
    pthread_t tid[64];
    long good = 0;
    for (int i = 0; i < threads; i++)
        pthread_create(&tid[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++) {
        void *r;
        pthread_join(tid[i], &r);
        good += (long)r;
    }
    return good;
}

static bool
load(const char *uri)
{
    OSSL_STORE_CTX *store = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL);
    OSSL_STORE_INFO *info;
    while (store != NULL && (info = OSSL_STORE_load(store)) != NULL) {
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY && !key)
            key = OSSL_STORE_INFO_get1_PKEY(info);
        else if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_CERT &&
                 !cert)
            cert = OSSL_STORE_INFO_get1_CERT(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(store);
    if (key != NULL && cert != NULL)
        return true;
    fprintf(stderr, "sign_load: cannot load key and certificate from %s\n",
            uri);
    ERR_print_errors_fp(stderr);
    return false;
}

static void
wait_for(const char *path)
{
    struct stat sb;
    printf("paused\n");
    fflush(stdout);
    for (int i = 0; i < 600 && stat(path, &sb) != 0; i++)
        usleep(50000);
}

int
main(int argc, char **argv)
{
    int threads = 1, c;
    bool do_fork = false;
    const char *wait_file = NULL;
    while ((c = getopt(argc, argv, "n:t:pfew:")) != -1) {
        switch (c) {
        case 'n':
            count = atoi(optarg);
            break;
        case 't':
            threads = atoi(optarg);
            break;
        case 'p':
            pss = true;
            break;
        case 'f':
            do_fork = true;
            break;
        case 'e':
            stop_at_failure = true;
            break;
        case 'w':
            wait_file = optarg;
            break;
        default:
            return 2;
        }
    }
    if (optind + 1 != argc || threads < 1 || threads > 64 || count < 1)
        return 2;
    if (OSSL_PROVIDER_load(NULL, "tessera") == NULL ||
        OSSL_PROVIDER_load(NULL, "default") == NULL) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    if (!load(argv[optind]))
        return 1;
    long expected = (long)threads * count, good = 0;
    if (wait_file != NULL || do_fork) {
        if (!sign_and_verify())
            return 1;
        if (wait_file != NULL)
            wait_for(wait_file);
    }
    pid_t child = do_fork ? fork() : -1;
    good = run_threads(threads);
    if (child == 0)
        _exit(good == expected ? 0 : 1);
    if (child > 0) {
        int status;
        waitpid(child, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "sign_load: the forked child failed\n");
            return 1;
        }
        printf("child: %ld signed and verified\n", expected);
    }
    printf("%ld of %ld signed and verified\n", good, expected);
    EVP_PKEY_free(key);
    X509_free(cert);
    return good == expected ? 0 : 1;
}
