/* SPDX-License-Identifier: Apache-2.0 */
#include "wire.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void
tessera_writer_init(struct tessera_writer *w)
{
    memset(w, 0, sizeof(*w));
}

void
tessera_writer_clear(struct tessera_writer *w)
{
    if (w->data != NULL)
        OPENSSL_cleanse(w->data, w->cap);
    free(w->data);
    memset(w, 0, sizeof(*w));
}

/*
 * Grows by copying into a fresh buffer so that the old one can be wiped:
 * realloc would leave a PIN behind in freed memory.
 */
static bool
writer_reserve(struct tessera_writer *w, size_t n)
{
    if (w->failed)
        return false;
    if (n > TESSERA_FRAME_MAX - w->len) {
        w->failed = true;
        return false;
    }
    if (w->len + n <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n)
        cap *= 2;
    uint8_t *grown = malloc(cap);
    if (grown == NULL) {
        w->failed = true;
        return false;
    }
    if (w->data != NULL) {
        memcpy(grown, w->data, w->len);
        OPENSSL_cleanse(w->data, w->cap);
        free(w->data);
    }
    w->data = grown;
    w->cap = cap;
    return true;
}

void
tessera_put_u8(struct tessera_writer *w, uint8_t v)
{
    if (writer_reserve(w, 1))
        w->data[w->len++] = v;
}

void
tessera_put_u32(struct tessera_writer *w, uint32_t v)
{
    if (writer_reserve(w, 4)) {
        tessera_store_be32(w->data + w->len, v);
        w->len += 4;
    }
}

void
tessera_put_raw(struct tessera_writer *w, const void *p, size_t n)
{
    if (n > 0 && writer_reserve(w, n)) {
        memcpy(w->data + w->len, p, n);
        w->len += n;
    }
}

void
tessera_put_bytes(struct tessera_writer *w, const void *p, size_t n)
{
    if (n > TESSERA_FRAME_MAX) {
        w->failed = true;
        return;
    }
    tessera_put_u32(w, (uint32_t)n);
    tessera_put_raw(w, p, n);
}

void
tessera_put_string(struct tessera_writer *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > TESSERA_STRING_MAX) {
        w->failed = true;
        return;
    }
    tessera_put_bytes(w, s, n);
}

void
tessera_put_type(struct tessera_writer *w, enum tessera_msg type)
{
    tessera_put_u8(w, (uint8_t)type);
}

void
tessera_reader_init(struct tessera_reader *r, const void *p, size_t n)
{
    r->data = p;
    r->len = n;
    r->pos = 0;
    r->failed = false;
}

static const uint8_t *
reader_take(struct tessera_reader *r, size_t n)
{
    if (r->failed || n > r->len - r->pos) {
        r->failed = true;
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

uint8_t
tessera_get_u8(struct tessera_reader *r)
{
    const uint8_t *p = reader_take(r, 1);
    return p ? p[0] : 0;
}

uint32_t
tessera_get_u32(struct tessera_reader *r)
{
    const uint8_t *p = reader_take(r, 4);
    return p ? tessera_load_be32(p) : 0;
}

struct tessera_bytes
tessera_get_bytes(struct tessera_reader *r, size_t max)
{
    struct tessera_bytes b = {NULL, 0};
    uint32_t n = tessera_get_u32(r);
    if (n > max) {
        r->failed = true;
        return b;
    }
    const uint8_t *p = reader_take(r, n);
    if (p != NULL) {
        b.data = p;
        b.len = n;
    }
    return b;
}

char *
tessera_get_string(struct tessera_reader *r)
{
    struct tessera_bytes b = tessera_get_bytes(r, TESSERA_STRING_MAX);
    if (r->failed)
        return NULL;
    if (b.len > 0 && memchr(b.data, '\0', b.len) != NULL) {
        r->failed = true;
        return NULL;
    }
    char *s = malloc(b.len + 1);
    if (s == NULL) {
        r->failed = true;
        return NULL;
    }
    if (b.len > 0)
        memcpy(s, b.data, b.len);
    s[b.len] = '\0';
    return s;
}

bool
tessera_reader_done(const struct tessera_reader *r)
{
    return !r->failed && r->pos == r->len;
}

bool
tessera_frame_length_valid(uint32_t len)
{
    return len >= 1 && len <= TESSERA_FRAME_MAX;
}

uint32_t
tessera_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

void
tessera_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
