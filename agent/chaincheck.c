/* SPDX-License-Identifier: Apache-2.0 */
#include "chaincheck.h"
#include "../common/wire.h"

#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/*
 * A client reads an identity as one frame: the chain shares it with the
 * public key (at most TESSERA_DER_MAX) and the summary (a few strings of
 * at most TESSERA_STRING_MAX), which 32 KiB holds with room to spare.
 */
#define CHAIN_BYTES_MAX (TESSERA_FRAME_MAX - 32768u)

X509 *
agent_certificate_parse(const struct tessera_blob *der)
{
    const unsigned char *p = der->data;
    X509 *x = d2i_X509(NULL, &p, (long)der->len);
    if (x != NULL && p != der->data + der->len) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

/* The key types the provider and tessera-pkcs11.so sign with. */
static char *
key_unusable(EVP_PKEY *key)
{
    int bits = EVP_PKEY_get_bits(key);
    char group[64] = "";
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
        if (bits >= 2048 && bits <= 8192)
            return NULL;
        return g_strdup_printf("its RSA key has %d bits; clients sign with "
                               "2048 to 8192",
                               bits);
    case EVP_PKEY_EC:
        EVP_PKEY_get_group_name(key, group, sizeof(group), NULL);
        if (g_strcmp0(group, "prime256v1") == 0 ||
            g_strcmp0(group, "secp384r1") == 0 ||
            g_strcmp0(group, "secp521r1") == 0)
            return NULL;
        return g_strdup_printf("its EC key is on curve %s; clients sign with "
                               "P-256, P-384 and P-521",
                               group[0] ? group : "(unnamed)");
    case EVP_PKEY_ED25519:
        return NULL;
    default:
        return g_strdup_printf("its %s key is of a type clients cannot sign "
                               "with (RSA, EC or Ed25519)",
                               OBJ_nid2sn(EVP_PKEY_get_base_id(key)));
    }
}

static char *
leaf_unusable(const char *name, X509 *leaf, EVP_PKEY *key, gboolean client_auth)
{
    EVP_PKEY *pub = X509_get0_pubkey(leaf);
    char *why = NULL;
    if (pub == NULL)
        return g_strdup("its public key cannot be read");
    if (key != NULL && EVP_PKEY_eq(pub, key) != 1)
        return g_strdup_printf("its public key is not the key of identity %s",
                               name);
    if ((why = key_unusable(pub)) != NULL)
        return why;
    if (client_auth && (!(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) ||
                        !(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT)))
        return g_strdup("its extendedKeyUsage does not name clientAuth, "
                        "which the CA profile requires (require-client-auth)");
    return NULL;
}

char *
agent_chain_unusable(const char *name, const struct tessera_blob *certs,
                     size_t n_certs, EVP_PKEY *key, gboolean client_auth)
{
    size_t total = 0;
    char *why = NULL;
    if (n_certs == 0 || n_certs > TESSERA_CHAIN_MAX)
        return g_strdup_printf("a chain of %zu certificates; clients accept "
                               "1 to %u",
                               n_certs, TESSERA_CHAIN_MAX);
    for (size_t i = 0; i < n_certs && why == NULL; i++) {
        total += certs[i].len;
        X509 *x = certs[i].len <= TESSERA_DER_MAX
                      ? agent_certificate_parse(&certs[i])
                      : NULL;
        if (certs[i].len > TESSERA_DER_MAX)
            why = g_strdup_printf("certificate %zu of the chain is %zu bytes; "
                                  "clients accept at most %u",
                                  i + 1, certs[i].len, TESSERA_DER_MAX);
        else if (x == NULL)
            why = g_strdup_printf("certificate %zu of the chain is not valid "
                                  "DER X.509",
                                  i + 1);
        else if (i == 0)
            why = leaf_unusable(name, x, key, client_auth);
        else if (X509_check_ca(x) == 0)
            why = g_strdup_printf("certificate %zu of the chain is not a CA "
                                  "certificate",
                                  i + 1);
        X509_free(x);
    }
    if (why == NULL && total > CHAIN_BYTES_MAX)
        why = g_strdup_printf("the chain is %zu bytes in all; clients accept "
                              "at most %u",
                              total, CHAIN_BYTES_MAX);
    if (why == NULL)
        return NULL;
    char *sentence =
        g_strdup_printf("the certificate for %s cannot be used: %s", name, why);
    g_free(why);
    return sentence;
}
