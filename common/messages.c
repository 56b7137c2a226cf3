/* SPDX-License-Identifier: Apache-2.0 */
#include "messages.h"
#include "errors.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void
tessera_blob_clear(struct tessera_blob *b)
{
    if (b->data != NULL)
        OPENSSL_cleanse(b->data, b->len);
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

bool
tessera_blob_copy(struct tessera_blob *dst, struct tessera_bytes src)
{
    dst->len = 0;
    /* One spare byte so that an empty blob is still a valid pointer. */
    dst->data = malloc(src.len + 1);
    if (dst->data == NULL)
        return false;
    if (src.len > 0)
        memcpy(dst->data, src.data, src.len);
    dst->len = src.len;
    return true;
}

static bool
get_blob(struct tessera_reader *r, size_t max, struct tessera_blob *out)
{
    struct tessera_bytes b = tessera_get_bytes(r, max);
    if (r->failed)
        return false;
    if (!tessera_blob_copy(out, b)) {
        r->failed = true;
        return false;
    }
    return true;
}

void
tessera_put_u64(struct tessera_writer *w, uint64_t v)
{
    tessera_put_u32(w, (uint32_t)(v >> 32));
    tessera_put_u32(w, (uint32_t)v);
}

uint64_t
tessera_get_u64(struct tessera_reader *r)
{
    uint64_t hi = tessera_get_u32(r);
    return hi << 32 | tessera_get_u32(r);
}

void
tessera_encode_hello(struct tessera_writer *w, uint32_t version)
{
    tessera_put_type(w, TESSERA_MSG_HELLO);
    tessera_put_u32(w, version);
}

static bool
decode_u32_body(struct tessera_reader *r, uint32_t *out)
{
    *out = tessera_get_u32(r);
    return tessera_reader_done(r);
}

bool
tessera_decode_hello(struct tessera_reader *r, uint32_t *version)
{
    return decode_u32_body(r, version);
}

void
tessera_encode_hello_reply(struct tessera_writer *w, uint32_t version,
                           const char *agent_version)
{
    tessera_put_type(w, TESSERA_MSG_HELLO_REPLY);
    tessera_put_u32(w, version);
    tessera_put_string(w, agent_version);
}

bool
tessera_decode_hello_reply(struct tessera_reader *r, uint32_t *version,
                           char **agent_version)
{
    *version = tessera_get_u32(r);
    *agent_version = tessera_get_string(r);
    if (tessera_reader_done(r))
        return true;
    free(*agent_version);
    *agent_version = NULL;
    return false;
}

void
tessera_encode_ok(struct tessera_writer *w)
{
    tessera_put_type(w, TESSERA_MSG_OK);
}

bool
tessera_decode_ok(struct tessera_reader *r)
{
    return tessera_reader_done(r);
}

void
tessera_encode_list(struct tessera_writer *w, uint32_t start)
{
    tessera_put_type(w, TESSERA_MSG_LIST);
    tessera_put_u32(w, start);
}

bool
tessera_decode_list(struct tessera_reader *r, uint32_t *start)
{
    return decode_u32_body(r, start);
}

void
tessera_encode_tokens(struct tessera_writer *w, uint32_t start)
{
    tessera_put_type(w, TESSERA_MSG_TOKENS);
    tessera_put_u32(w, start);
}

bool
tessera_decode_tokens(struct tessera_reader *r, uint32_t *start)
{
    return decode_u32_body(r, start);
}

static void
put_identity_summary(struct tessera_writer *w,
                     const struct tessera_identity_summary *s)
{
    tessera_put_string(w, s->name);
    tessera_put_string(w, s->token_label);
    tessera_put_string(w, s->token_manufacturer);
    tessera_put_string(w, s->token_model);
    tessera_put_string(w, s->token_serial);
    tessera_put_bytes(w, s->key_id.data, s->key_id.len);
    tessera_put_string(w, s->key_label);
    tessera_put_u8(w, s->key_type);
    tessera_put_u32(w, s->key_bits);
    tessera_put_u32(w, s->flags);
    tessera_put_string(w, s->subject);
    tessera_put_u64(w, s->not_after);
    tessera_put_u8(w, s->renewal_state);
    tessera_put_u64(w, s->next_renewal);
    tessera_put_string(w, s->renewal_error);
}

static bool
get_identity_summary(struct tessera_reader *r,
                     struct tessera_identity_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->name = tessera_get_string(r);
    s->token_label = tessera_get_string(r);
    s->token_manufacturer = tessera_get_string(r);
    s->token_model = tessera_get_string(r);
    s->token_serial = tessera_get_string(r);
    get_blob(r, TESSERA_KEY_ID_MAX, &s->key_id);
    s->key_label = tessera_get_string(r);
    s->key_type = tessera_get_u8(r);
    s->key_bits = tessera_get_u32(r);
    s->flags = tessera_get_u32(r);
    s->subject = tessera_get_string(r);
    s->not_after = tessera_get_u64(r);
    s->renewal_state = tessera_get_u8(r);
    s->next_renewal = tessera_get_u64(r);
    s->renewal_error = tessera_get_string(r);
    if (!r->failed && s->name[0] != '\0')
        return true;
    r->failed = true;
    tessera_identity_summary_clear(s);
    return false;
}

void
tessera_identity_summary_clear(struct tessera_identity_summary *s)
{
    free(s->name);
    free(s->token_label);
    free(s->token_manufacturer);
    free(s->token_model);
    free(s->token_serial);
    tessera_blob_clear(&s->key_id);
    free(s->key_label);
    free(s->subject);
    free(s->renewal_error);
    memset(s, 0, sizeof(*s));
}

void
tessera_encode_name_request(struct tessera_writer *w, enum tessera_msg type,
                            const char *name)
{
    tessera_put_type(w, type);
    tessera_put_string(w, name);
}

bool
tessera_decode_name_request(struct tessera_reader *r, char **name)
{
    *name = tessera_get_string(r);
    if (tessera_reader_done(r))
        return true;
    free(*name);
    *name = NULL;
    return false;
}

static void
put_chain(struct tessera_writer *w, size_t n, const struct tessera_blob *certs)
{
    tessera_put_u32(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        tessera_put_bytes(w, certs[i].data, certs[i].len);
}

static bool
get_chain(struct tessera_reader *r, size_t *n, struct tessera_blob *certs)
{
    uint32_t count = tessera_get_u32(r);
    *n = 0;
    if (count > TESSERA_CHAIN_MAX)
        r->failed = true;
    for (uint32_t i = 0; i < count && !r->failed; i++) {
        if (get_blob(r, TESSERA_DER_MAX, &certs[i]))
            *n = i + 1;
    }
    return !r->failed;
}

static void
clear_chain(size_t *n, struct tessera_blob *certs)
{
    for (size_t i = 0; i < *n; i++)
        tessera_blob_clear(&certs[i]);
    *n = 0;
}

void
tessera_encode_identity(struct tessera_writer *w,
                        const struct tessera_identity *id)
{
    tessera_put_type(w, TESSERA_MSG_IDENTITY_REPLY);
    put_identity_summary(w, &id->summary);
    tessera_put_bytes(w, id->spki.data, id->spki.len);
    put_chain(w, id->n_certs, id->certs);
}

bool
tessera_decode_identity(struct tessera_reader *r, struct tessera_identity *id)
{
    memset(id, 0, sizeof(*id));
    if (get_identity_summary(r, &id->summary) &&
        get_blob(r, TESSERA_DER_MAX, &id->spki) &&
        get_chain(r, &id->n_certs, id->certs) && tessera_reader_done(r))
        return true;
    r->failed = true;
    tessera_identity_clear(id);
    return false;
}

void
tessera_identity_clear(struct tessera_identity *id)
{
    tessera_identity_summary_clear(&id->summary);
    tessera_blob_clear(&id->spki);
    clear_chain(&id->n_certs, id->certs);
}

void
tessera_encode_sign(struct tessera_writer *w,
                    const struct tessera_sign_request *req)
{
    tessera_put_type(w, TESSERA_MSG_SIGN);
    tessera_put_string(w, req->name);
    tessera_put_u8(w, req->scheme);
    tessera_put_u8(w, req->digest);
    tessera_put_u8(w, req->mgf1_digest);
    tessera_put_u32(w, req->salt_len);
    tessera_put_bytes(w, req->input.data, req->input.len);
    tessera_put_bytes(w, req->key_hash.data, req->key_hash.len);
}

bool
tessera_decode_sign(struct tessera_reader *r, struct tessera_sign_request *req)
{
    memset(req, 0, sizeof(*req));
    req->name = tessera_get_string(r);
    req->scheme = tessera_get_u8(r);
    req->digest = tessera_get_u8(r);
    req->mgf1_digest = tessera_get_u8(r);
    req->salt_len = tessera_get_u32(r);
    if (get_blob(r, TESSERA_SIGN_INPUT_MAX, &req->input) &&
        get_blob(r, TESSERA_KEY_HASH_LEN, &req->key_hash) &&
        (req->key_hash.len == 0 || req->key_hash.len == TESSERA_KEY_HASH_LEN) &&
        tessera_reader_done(r))
        return true;
    r->failed = true;
    tessera_sign_request_clear(req);
    return false;
}

void
tessera_sign_request_clear(struct tessera_sign_request *req)
{
    free(req->name);
    tessera_blob_clear(&req->input);
    tessera_blob_clear(&req->key_hash);
    memset(req, 0, sizeof(*req));
}

static void
put_token_info(struct tessera_writer *w, const struct tessera_token_info *t)
{
    tessera_put_string(w, t->label);
    tessera_put_string(w, t->manufacturer);
    tessera_put_string(w, t->model);
    tessera_put_string(w, t->serial);
    tessera_put_string(w, t->module);
    tessera_put_u32(w, t->flags);
}

static bool
get_token_info(struct tessera_reader *r, struct tessera_token_info *t)
{
    memset(t, 0, sizeof(*t));
    t->label = tessera_get_string(r);
    t->manufacturer = tessera_get_string(r);
    t->model = tessera_get_string(r);
    t->serial = tessera_get_string(r);
    t->module = tessera_get_string(r);
    t->flags = tessera_get_u32(r);
    if (!r->failed)
        return true;
    tessera_token_info_clear(t);
    return false;
}

void
tessera_token_info_clear(struct tessera_token_info *t)
{
    free(t->label);
    free(t->manufacturer);
    free(t->model);
    free(t->serial);
    free(t->module);
    memset(t, 0, sizeof(*t));
}

/*
 * LIST_REPLY and TOKENS_REPLY: total, count, then count entries. An entry is
 * added whole while the frame has room; the count is kept current, so the
 * page is complete after each addition.
 */
static void
begin_page(struct tessera_writer *w, enum tessera_msg type, uint32_t total,
           struct tessera_page *page)
{
    tessera_put_type(w, type);
    tessera_put_u32(w, total);
    page->count_at = w->len;
    page->count = 0;
    tessera_put_u32(w, 0);
}

static bool
add_to_page(struct tessera_writer *w, struct tessera_page *page,
            const struct tessera_writer *entry)
{
    if (entry->failed || w->failed) {
        w->failed = true;
        return false;
    }
    if (entry->len > TESSERA_FRAME_MAX - w->len) {
        /* An entry that fits no page could never be sent. */
        if (page->count == 0)
            w->failed = true;
        return false;
    }
    tessera_put_raw(w, entry->data, entry->len);
    if (w->failed)
        return false;
    page->count++;
    tessera_store_be32(w->data + page->count_at, page->count);
    return true;
}

void
tessera_begin_list_reply(struct tessera_writer *w, uint32_t total,
                         struct tessera_page *page)
{
    begin_page(w, TESSERA_MSG_LIST_REPLY, total, page);
}

bool
tessera_add_list_entry(struct tessera_writer *w, struct tessera_page *page,
                       const struct tessera_identity_summary *s)
{
    struct tessera_writer entry;
    tessera_writer_init(&entry);
    put_identity_summary(&entry, s);
    bool added = add_to_page(w, page, &entry);
    tessera_writer_clear(&entry);
    return added;
}

void
tessera_begin_tokens_reply(struct tessera_writer *w, uint32_t total,
                           struct tessera_page *page)
{
    begin_page(w, TESSERA_MSG_TOKENS_REPLY, total, page);
}

bool
tessera_add_tokens_entry(struct tessera_writer *w, struct tessera_page *page,
                         const struct tessera_token_info *t)
{
    struct tessera_writer entry;
    tessera_writer_init(&entry);
    put_token_info(&entry, t);
    bool added = add_to_page(w, page, &entry);
    tessera_writer_clear(&entry);
    return added;
}

/* How to decode one kind of page entry. */
struct page_kind {
    size_t size;    /* of the decoded struct */
    size_t min_len; /* of the shortest encoding */
    bool (*get)(struct tessera_reader *r, void *entry);
    void (*clear)(void *entry);
};

/*
 * Appends a page's entries to a list of *n. The count is checked against
 * the bytes left before anything is allocated, so a hostile count costs
 * nothing; on failure the list keeps its *n entries and nothing else.
 */
static bool
decode_page(struct tessera_reader *r, const struct page_kind *kind,
            uint32_t *total, void **items, size_t *n)
{
    *total = tessera_get_u32(r);
    uint32_t count = tessera_get_u32(r);
    bool ok = !r->failed && count <= *total &&
              count <= (r->len - r->pos) / kind->min_len;
    uint8_t *tail = NULL;
    size_t got = 0;
    if (ok && count > 0) {
        uint8_t *grown = realloc(*items, (*n + count) * kind->size);
        ok = grown != NULL;
        if (ok) {
            *items = grown;
            tail = grown + *n * kind->size;
        }
    }
    while (ok && got < count && kind->get(r, tail + got * kind->size))
        got++;
    ok = ok && got == count && tessera_reader_done(r);
    if (ok) {
        *n += count;
        return true;
    }
    for (size_t i = 0; i < got; i++)
        kind->clear(tail + i * kind->size);
    r->failed = true;
    return false;
}

static bool
get_summary_entry(struct tessera_reader *r, void *entry)
{
    return get_identity_summary(r, entry);
}

static void
clear_summary_entry(void *entry)
{
    tessera_identity_summary_clear(entry);
}

static bool
get_token_entry(struct tessera_reader *r, void *entry)
{
    return get_token_info(r, entry);
}

static void
clear_token_entry(void *entry)
{
    tessera_token_info_clear(entry);
}

bool
tessera_decode_list_reply(struct tessera_reader *r, uint32_t *total,
                          struct tessera_identity_list *list)
{
    static const struct page_kind kind = {
        sizeof(struct tessera_identity_summary), TESSERA_SUMMARY_MIN_LEN,
        get_summary_entry, clear_summary_entry};
    void *items = list->items;
    bool ok = decode_page(r, &kind, total, &items, &list->n);
    list->items = items;
    return ok;
}

bool
tessera_decode_tokens_reply(struct tessera_reader *r, uint32_t *total,
                            struct tessera_token_list *list)
{
    static const struct page_kind kind = {sizeof(struct tessera_token_info),
                                          TESSERA_TOKEN_INFO_MIN_LEN,
                                          get_token_entry, clear_token_entry};
    void *items = list->items;
    bool ok = decode_page(r, &kind, total, &items, &list->n);
    list->items = items;
    return ok;
}

void
tessera_identity_list_clear(struct tessera_identity_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        tessera_identity_summary_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void
tessera_token_list_clear(struct tessera_token_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        tessera_token_info_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void
tessera_encode_unlock(struct tessera_writer *w,
                      const struct tessera_unlock_request *req)
{
    tessera_put_type(w, TESSERA_MSG_UNLOCK);
    tessera_put_string(w, req->token);
    tessera_put_bytes(w, req->pin.data, req->pin.len);
    tessera_put_u8(w, req->force);
}

bool
tessera_decode_unlock(struct tessera_reader *r,
                      struct tessera_unlock_request *req)
{
    memset(req, 0, sizeof(*req));
    req->token = tessera_get_string(r);
    get_blob(r, TESSERA_PIN_MAX, &req->pin);
    req->force = tessera_get_u8(r);
    if (tessera_reader_done(r))
        return true;
    r->failed = true;
    tessera_unlock_request_clear(req);
    return false;
}

void
tessera_unlock_request_clear(struct tessera_unlock_request *req)
{
    free(req->token);
    tessera_blob_clear(&req->pin);
    memset(req, 0, sizeof(*req));
}

static void
put_key_fields(struct tessera_writer *w,
               const struct tessera_keygen_request *req)
{
    tessera_put_string(w, req->name);
    tessera_put_string(w, req->token);
    tessera_put_string(w, req->key_spec);
    tessera_put_string(w, req->subject);
}

static void
get_key_fields(struct tessera_reader *r, struct tessera_keygen_request *req)
{
    req->name = tessera_get_string(r);
    req->token = tessera_get_string(r);
    req->key_spec = tessera_get_string(r);
    req->subject = tessera_get_string(r);
}

void
tessera_encode_keygen(struct tessera_writer *w,
                      const struct tessera_keygen_request *req)
{
    tessera_put_type(w, TESSERA_MSG_KEYGEN);
    put_key_fields(w, req);
}

bool
tessera_decode_keygen(struct tessera_reader *r,
                      struct tessera_keygen_request *req)
{
    get_key_fields(r, req);
    if (tessera_reader_done(r))
        return true;
    r->failed = true;
    tessera_keygen_request_clear(req);
    return false;
}

static void
put_sans(struct tessera_writer *w, uint32_t n, char *const *sans)
{
    tessera_put_u32(w, n);
    for (uint32_t i = 0; i < n; i++)
        tessera_put_string(w, sans[i]);
}

static void
get_sans(struct tessera_reader *r, uint32_t *n_sans, char **sans)
{
    uint32_t n = tessera_get_u32(r);
    if (n > TESSERA_SANS_MAX)
        r->failed = true;
    for (uint32_t i = 0; !r->failed && i < n; i++) {
        sans[i] = tessera_get_string(r);
        *n_sans = i + 1;
    }
}

static void
clear_sans(uint32_t n, char **sans)
{
    for (uint32_t i = 0; i < n; i++)
        free(sans[i]);
}

void
tessera_encode_keygen_sans(struct tessera_writer *w,
                           const struct tessera_keygen_sans_request *req)
{
    if (req->n_sans == 0) {
        tessera_encode_keygen(w, &req->key);
        return;
    }
    tessera_put_type(w, TESSERA_MSG_KEYGEN_SANS);
    put_key_fields(w, &req->key);
    put_sans(w, req->n_sans, req->sans);
}

bool
tessera_decode_keygen_sans(struct tessera_reader *r,
                           struct tessera_keygen_sans_request *req)
{
    memset(req, 0, sizeof(*req));
    get_key_fields(r, &req->key);
    get_sans(r, &req->n_sans, req->sans);
    if (req->n_sans > 0 && tessera_reader_done(r))
        return true;
    r->failed = true;
    tessera_keygen_sans_request_clear(req);
    return false;
}

void
tessera_keygen_sans_request_clear(struct tessera_keygen_sans_request *req)
{
    tessera_keygen_request_clear(&req->key);
    clear_sans(req->n_sans, req->sans);
    memset(req, 0, sizeof(*req));
}

void
tessera_encode_enroll(struct tessera_writer *w,
                      const struct tessera_enroll_request *req)
{
    tessera_put_type(w, TESSERA_MSG_ENROLL);
    put_key_fields(w, &req->key);
    tessera_put_string(w, req->ca);
    put_sans(w, req->n_sans, req->sans);
    tessera_put_u32(w, req->timeout_seconds);
}

bool
tessera_decode_enroll(struct tessera_reader *r,
                      struct tessera_enroll_request *req)
{
    memset(req, 0, sizeof(*req));
    get_key_fields(r, &req->key);
    req->ca = tessera_get_string(r);
    get_sans(r, &req->n_sans, req->sans);
    req->timeout_seconds = tessera_get_u32(r);
    if (tessera_reader_done(r))
        return true;
    r->failed = true;
    tessera_enroll_request_clear(req);
    return false;
}

void
tessera_enroll_request_clear(struct tessera_enroll_request *req)
{
    tessera_keygen_request_clear(&req->key);
    free(req->ca);
    clear_sans(req->n_sans, req->sans);
    memset(req, 0, sizeof(*req));
}

void
tessera_keygen_request_clear(struct tessera_keygen_request *req)
{
    free(req->name);
    free(req->token);
    free(req->key_spec);
    free(req->subject);
    memset(req, 0, sizeof(*req));
}

void
tessera_encode_import(struct tessera_writer *w,
                      const struct tessera_import_request *req)
{
    bool into = req->replace || req->ca != NULL;
    tessera_put_type(w, into ? TESSERA_MSG_IMPORT_INTO : TESSERA_MSG_IMPORT);
    tessera_put_string(w, req->name);
    put_chain(w, req->n_certs, req->certs);
    if (into) {
        tessera_put_u8(w, req->replace ? 1 : 0);
        tessera_put_string(w, req->ca ? req->ca : "");
    }
}

static bool
get_import_fields(struct tessera_reader *r, struct tessera_import_request *req)
{
    memset(req, 0, sizeof(*req));
    req->name = tessera_get_string(r);
    return get_chain(r, &req->n_certs, req->certs) && req->n_certs > 0;
}

static bool
import_decoded(struct tessera_reader *r, struct tessera_import_request *req,
               bool ok)
{
    if (ok && tessera_reader_done(r))
        return true;
    r->failed = true;
    tessera_import_request_clear(req);
    return false;
}

bool
tessera_decode_import(struct tessera_reader *r,
                      struct tessera_import_request *req)
{
    return import_decoded(r, req, get_import_fields(r, req));
}

bool
tessera_decode_import_into(struct tessera_reader *r,
                           struct tessera_import_request *req)
{
    bool ok = get_import_fields(r, req);
    uint8_t replace = tessera_get_u8(r);
    req->ca = tessera_get_string(r);
    ok = ok && replace <= 1 && req->ca != NULL;
    req->replace = replace;
    /* "": no profile. */
    if (ok && req->ca[0] == '\0') {
        free(req->ca);
        req->ca = NULL;
    }
    return import_decoded(r, req, ok);
}

void
tessera_import_request_clear(struct tessera_import_request *req)
{
    free(req->name);
    free(req->ca);
    clear_chain(&req->n_certs, req->certs);
    memset(req, 0, sizeof(*req));
}

bool
tessera_export_cert_with_chain(const char *cert, const char *chain)
{
    return chain == NULL || strcmp(cert, chain) == 0;
}

static void
put_optional_string(struct tessera_writer *w, const char *s)
{
    tessera_put_string(w, s != NULL ? s : "");
}

/* An empty string is "not asked for"; anything else must be absolute. */
static char *
get_optional_path(struct tessera_reader *r)
{
    char *s = tessera_get_string(r);
    if (s != NULL && s[0] == '\0') {
        free(s);
        return NULL;
    }
    if (s != NULL && s[0] != '/')
        r->failed = true;
    return s;
}

void
tessera_encode_export(struct tessera_writer *w,
                      const struct tessera_export_request *req)
{
    tessera_put_type(w, TESSERA_MSG_EXPORT);
    tessera_put_string(w, req->name);
    put_optional_string(w, req->key_ref);
    put_optional_string(w, req->cert);
    put_optional_string(w, req->chain);
}

bool
tessera_decode_export(struct tessera_reader *r,
                      struct tessera_export_request *req)
{
    memset(req, 0, sizeof(*req));
    req->name = tessera_get_string(r);
    req->key_ref = get_optional_path(r);
    req->cert = get_optional_path(r);
    req->chain = get_optional_path(r);
    if (tessera_reader_done(r) &&
        (req->key_ref != NULL || req->cert != NULL || req->chain != NULL))
        return true;
    r->failed = true;
    tessera_export_request_clear(req);
    return false;
}

void
tessera_export_request_clear(struct tessera_export_request *req)
{
    free(req->name);
    free(req->key_ref);
    free(req->cert);
    free(req->chain);
    memset(req, 0, sizeof(*req));
}

void
tessera_encode_forget(struct tessera_writer *w,
                      const struct tessera_forget_request *req)
{
    tessera_put_type(w, TESSERA_MSG_FORGET);
    tessera_put_string(w, req->name);
    tessera_put_u8(w, req->delete_keys ? 1 : 0);
}

bool
tessera_decode_forget(struct tessera_reader *r,
                      struct tessera_forget_request *req)
{
    req->name = tessera_get_string(r);
    req->delete_keys = tessera_get_u8(r);
    if (req->delete_keys <= 1 && tessera_reader_done(r))
        return true;
    r->failed = true;
    free(req->name);
    memset(req, 0, sizeof(*req));
    return false;
}

void
tessera_encode_blob_reply(struct tessera_writer *w, enum tessera_msg type,
                          const void *p, size_t n)
{
    tessera_put_type(w, type);
    tessera_put_bytes(w, p, n);
}

bool
tessera_decode_blob_reply(struct tessera_reader *r, size_t max,
                          struct tessera_blob *out)
{
    memset(out, 0, sizeof(*out));
    if (get_blob(r, max, out) && tessera_reader_done(r))
        return true;
    tessera_blob_clear(out);
    return false;
}

void
tessera_encode_error(struct tessera_writer *w, uint32_t code,
                     const char *message)
{
    tessera_put_type(w, TESSERA_MSG_ERROR);
    tessera_put_u32(w, code);
    tessera_put_string(w, message);
}

bool
tessera_decode_error(struct tessera_reader *r, struct tessera_error_reply *e)
{
    e->code = tessera_get_u32(r);
    e->message = tessera_get_string(r);
    if (tessera_reader_done(r) && e->code != TESSERA_OK)
        return true;
    free(e->message);
    e->message = NULL;
    return false;
}

void
tessera_encode_follow(struct tessera_writer *w)
{
    tessera_put_type(w, TESSERA_MSG_FOLLOW);
}

bool
tessera_decode_follow(struct tessera_reader *r, uint8_t *wrapped)
{
    *wrapped = tessera_get_u8(r);
    if (r->failed)
        return false;
    return *wrapped == TESSERA_MSG_KEYGEN ||
           *wrapped == TESSERA_MSG_KEYGEN_SANS ||
           *wrapped == TESSERA_MSG_ENROLL || *wrapped == TESSERA_MSG_RENEW;
}

void
tessera_encode_progress(struct tessera_writer *w,
                        const struct tessera_progress *p)
{
    tessera_put_type(w, TESSERA_MSG_PROGRESS);
    tessera_put_u8(w, p->step);
    tessera_put_u32(w, p->seconds);
    tessera_put_string(w, p->message);
}

bool
tessera_decode_progress(struct tessera_reader *r, struct tessera_progress *p)
{
    p->step = tessera_get_u8(r);
    p->seconds = tessera_get_u32(r);
    p->message = tessera_get_string(r);
    if (tessera_reader_done(r) && p->step >= TESSERA_STEP_GENERATING &&
        p->step <= TESSERA_STEP_MAX)
        return true;
    free(p->message);
    p->message = NULL;
    return false;
}

void
tessera_encode_update_env(struct tessera_writer *w,
                          const struct tessera_env_update *env)
{
    tessera_put_type(w, TESSERA_MSG_UPDATE_ENV);
    tessera_put_string(w, env->display);
    tessera_put_string(w, env->wayland_display);
    tessera_put_string(w, env->dbus_address);
    tessera_put_string(w, env->tty);
    tessera_put_string(w, env->term);
}

bool
tessera_decode_update_env(struct tessera_reader *r,
                          struct tessera_env_update *env)
{
    env->display = tessera_get_string(r);
    env->wayland_display = tessera_get_string(r);
    env->dbus_address = tessera_get_string(r);
    env->tty = tessera_get_string(r);
    env->term = tessera_get_string(r);
    if (tessera_reader_done(r))
        return true;
    tessera_env_update_clear(env);
    return false;
}

void
tessera_env_update_clear(struct tessera_env_update *env)
{
    free(env->display);
    free(env->wayland_display);
    free(env->dbus_address);
    free(env->tty);
    free(env->term);
    memset(env, 0, sizeof(*env));
}

/* The shortest encoding of a use: three empty strings. */
#define TESSERA_USE_MIN_LEN 41u

void
tessera_encode_log_reply(struct tessera_writer *w,
                         const struct tessera_use_list *list)
{
    tessera_put_type(w, TESSERA_MSG_LOG_REPLY);
    tessera_put_u32(w, (uint32_t)list->n);
    for (size_t i = 0; i < list->n; i++) {
        const struct tessera_use *u = &list->items[i];
        tessera_put_u64(w, u->first);
        tessera_put_u64(w, u->last);
        tessera_put_u32(w, u->count);
        tessera_put_string(w, u->identity);
        tessera_put_string(w, u->token);
        tessera_put_string(w, u->program);
        tessera_put_u8(w, u->key_type);
        tessera_put_u32(w, u->pid);
        tessera_put_u32(w, u->outcome);
    }
}

bool
tessera_decode_log_reply(struct tessera_reader *r,
                         struct tessera_use_list *list)
{
    memset(list, 0, sizeof(*list));
    uint32_t n = tessera_get_u32(r);
    if (r->failed || n > (r->len - r->pos) / TESSERA_USE_MIN_LEN)
        return false;
    list->items = calloc(n ? n : 1, sizeof(*list->items));
    if (list->items == NULL)
        return false;
    for (uint32_t i = 0; i < n && !r->failed; i++) {
        struct tessera_use *u = &list->items[list->n++];
        u->first = tessera_get_u64(r);
        u->last = tessera_get_u64(r);
        u->count = tessera_get_u32(r);
        u->identity = tessera_get_string(r);
        u->token = tessera_get_string(r);
        u->program = tessera_get_string(r);
        u->key_type = tessera_get_u8(r);
        u->pid = tessera_get_u32(r);
        u->outcome = tessera_get_u32(r);
    }
    if (tessera_reader_done(r))
        return true;
    tessera_use_list_clear(list);
    return false;
}

void
tessera_use_list_clear(struct tessera_use_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->items[i].identity);
        free(list->items[i].token);
        free(list->items[i].program);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}
