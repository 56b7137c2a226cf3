/* SPDX-License-Identifier: Apache-2.0 */
#include "keyref.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#define DER_SEQUENCE 0x30
#define DER_INTEGER 0x02
#define DER_UTF8STRING 0x0c

/* Definite lengths up to 65535: short form, or long form of 1-2 bytes. */
static size_t
put_length(uint8_t *p, size_t n)
{
    if (n < 0x80) {
        p[0] = (uint8_t)n;
        return 1;
    }
    if (n <= 0xff) {
        p[0] = 0x81;
        p[1] = (uint8_t)n;
        return 2;
    }
    p[0] = 0x82;
    p[1] = (uint8_t)(n >> 8);
    p[2] = (uint8_t)n;
    return 3;
}

static size_t
length_size(size_t n)
{
    return n < 0x80 ? 1 : n <= 0xff ? 2 : 3;
}

struct cursor {
    const uint8_t *p;
    size_t left;
};

/* Reads a tag and a minimal definite length; the value must fit. */
static bool
take_header(struct cursor *c, uint8_t tag, size_t *value_len)
{
    if (c->left < 2 || c->p[0] != tag)
        return false;
    size_t n = c->p[1], used = 2;
    if (n == 0x81) {
        if (c->left < 3 || c->p[2] < 0x80)
            return false;
        n = c->p[2];
        used = 3;
    } else if (n == 0x82) {
        if (c->left < 4 || c->p[2] == 0 ||
            (size_t)(c->p[2] << 8 | c->p[3]) <= 0xff)
            return false;
        n = (size_t)(c->p[2] << 8 | c->p[3]);
        used = 4;
    } else if (n >= 0x80) {
        return false;
    }
    if (n > c->left - used)
        return false;
    c->p += used;
    c->left -= used;
    *value_len = n;
    return true;
}

/* True when der is exactly one SEQUENCE of acceptable size. */
static bool
one_sequence(const uint8_t *der, size_t len)
{
    struct cursor c = {der, len};
    size_t value_len;
    return len <= TESSERA_KEYREF_SPKI_MAX &&
           take_header(&c, DER_SEQUENCE, &value_len) && value_len == c.left;
}

bool
tessera_keyref_encode(const char *name, const uint8_t *spki, size_t spki_len,
                      uint8_t *out, size_t size, size_t *len)
{
    size_t name_len = strlen(name);
    if (name_len == 0 || name_len > TESSERA_KEYREF_NAME_MAX ||
        (spki != NULL && !one_sequence(spki, spki_len)))
        return false;
    if (spki == NULL)
        spki_len = 0;
    size_t content = 3 + 1 + length_size(name_len) + name_len + spki_len;
    size_t total = 1 + length_size(content) + content;
    if (total > size)
        return false;
    uint8_t *p = out;
    *p++ = DER_SEQUENCE;
    p += put_length(p, content);
    *p++ = DER_INTEGER;
    *p++ = 1;
    *p++ = spki != NULL ? 2 : 1;
    *p++ = DER_UTF8STRING;
    p += put_length(p, name_len);
    memcpy(p, name, name_len);
    p += name_len;
    if (spki_len > 0)
        memcpy(p, spki, spki_len);
    *len = total;
    return true;
}

bool
tessera_keyref_decode(const uint8_t *der, size_t len,
                      struct tessera_keyref *out)
{
    struct cursor c = {der, len};
    size_t seq_len, int_len, name_len;
    if (!take_header(&c, DER_SEQUENCE, &seq_len) || seq_len != c.left)
        return false;
    if (!take_header(&c, DER_INTEGER, &int_len) || int_len != 1 ||
        (c.p[0] != 1 && c.p[0] != 2))
        return false;
    bool with_key = c.p[0] == 2;
    c.p++;
    c.left--;
    if (!take_header(&c, DER_UTF8STRING, &name_len) || name_len == 0 ||
        name_len > TESSERA_KEYREF_NAME_MAX ||
        memchr(c.p, '\0', name_len) != NULL)
        return false;
    memcpy(out->name, c.p, name_len);
    out->name[name_len] = '\0';
    c.p += name_len;
    c.left -= name_len;
    out->spki = with_key ? c.p : NULL;
    out->spki_len = with_key ? c.left : 0;
    return with_key ? one_sequence(c.p, c.left) : c.left == 0;
}

char *
tessera_keyref_pem(const char *name, const uint8_t *spki, size_t spki_len,
                   size_t *len)
{
    uint8_t der[TESSERA_KEYREF_DER_MAX];
    size_t der_len;
    if (!tessera_keyref_encode(name, spki, spki_len, der, sizeof(der),
                               &der_len))
        return NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *pem = NULL;
    if (bio != NULL &&
        PEM_write_bio(bio, TESSERA_KEYREF_PEM_NAME, "", der, (long)der_len)) {
        long n = BIO_get_mem_data(bio, &data);
        if ((pem = malloc((size_t)n + 1)) != NULL) {
            memcpy(pem, data, (size_t)n);
            pem[n] = '\0';
            *len = (size_t)n;
        }
    }
    BIO_free(bio);
    return pem;
}
