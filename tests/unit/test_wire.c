/* SPDX-License-Identifier: Apache-2.0 */
/* The wire codec: round trips, and every way a frame can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/errors.h"
#include "../../common/messages.h"

static struct tessera_reader
reader_after_type(const struct tessera_writer *w, uint8_t expect_type)
{
    struct tessera_reader r;
    tessera_reader_init(&r, w->data, w->len);
    assert_int_equal(tessera_get_u8(&r), expect_type);
    return r;
}

static void
test_integers_are_big_endian(void **state)
{
    (void)state;
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_put_u32(&w, 0x01020304);
    tessera_put_u64(&w, 0x05060708090a0b0cULL);
    const uint8_t expect[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    assert_int_equal(w.len, sizeof(expect));
    assert_memory_equal(w.data, expect, sizeof(expect));
    struct tessera_reader r;
    tessera_reader_init(&r, w.data, w.len);
    assert_int_equal(tessera_get_u32(&r), 0x01020304);
    assert_true(tessera_get_u64(&r) == 0x05060708090a0b0cULL);
    assert_true(tessera_reader_done(&r));
    tessera_writer_clear(&w);
}

static void
test_sign_round_trip(void **state)
{
    (void)state;
    uint8_t digest[32], key_hash[TESSERA_KEY_HASH_LEN];
    memset(digest, 0xab, sizeof(digest));
    memset(key_hash, 0x5a, sizeof(key_hash));
    struct tessera_sign_request in = {
        .name = "corp-wifi",
        .key_hash = {key_hash, sizeof(key_hash)},
        .scheme = TESSERA_SIGN_RSA_PSS,
        .digest = TESSERA_DIGEST_SHA256,
        .mgf1_digest = TESSERA_DIGEST_SHA256,
        .salt_len = 32,
        .input = {digest, sizeof(digest)},
    };
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_sign(&w, &in);
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_SIGN);
    struct tessera_sign_request out;
    assert_true(tessera_decode_sign(&r, &out));
    assert_string_equal(out.name, "corp-wifi");
    assert_int_equal(out.scheme, TESSERA_SIGN_RSA_PSS);
    assert_int_equal(out.digest, TESSERA_DIGEST_SHA256);
    assert_int_equal(out.salt_len, 32);
    assert_int_equal(out.input.len, sizeof(digest));
    assert_memory_equal(out.input.data, digest, sizeof(digest));
    assert_memory_equal(out.key_hash.data, key_hash, sizeof(key_hash));
    tessera_sign_request_clear(&out);
    tessera_writer_clear(&w);

    /* A key hash is SHA-256 or nothing. */
    in.key_hash.len = 20;
    tessera_writer_init(&w);
    tessera_encode_sign(&w, &in);
    r = reader_after_type(&w, TESSERA_MSG_SIGN);
    assert_false(tessera_decode_sign(&r, &out));
    tessera_writer_clear(&w);
}

/* Every strict prefix of a valid body must be rejected, none must crash. */
static void
test_truncated_bodies_fail(void **state)
{
    (void)state;
    uint8_t digest[48] = {0};
    struct tessera_sign_request in = {
        .name = "alice",
        .scheme = TESSERA_SIGN_ECDSA,
        .digest = TESSERA_DIGEST_SHA384,
        .input = {digest, sizeof(digest)},
    };
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_sign(&w, &in);
    for (size_t len = 1; len < w.len; len++) {
        struct tessera_reader r;
        struct tessera_sign_request out;
        tessera_reader_init(&r, w.data, len);
        tessera_get_u8(&r);
        assert_false(tessera_decode_sign(&r, &out));
        assert_null(out.name);
        assert_null(out.input.data);
    }
    tessera_writer_clear(&w);
}

static void
test_trailing_bytes_fail(void **state)
{
    (void)state;
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_name_request(&w, TESSERA_MSG_GET_IDENTITY, "alice");
    tessera_put_u8(&w, 0);
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_GET_IDENTITY);
    char *name = (char *)1;
    assert_false(tessera_decode_name_request(&r, &name));
    assert_null(name);
    tessera_writer_clear(&w);
}

static void
test_length_beyond_body_fails(void **state)
{
    (void)state;
    /* A string claiming 1000 bytes in a body of a dozen. */
    const uint8_t body[] = {
        TESSERA_MSG_GET_IDENTITY, 0, 0, 0x03, 0xe8, 'a', 'l', 'i', 'c', 'e'};
    struct tessera_reader r;
    char *name;
    tessera_reader_init(&r, body, sizeof(body));
    tessera_get_u8(&r);
    assert_false(tessera_decode_name_request(&r, &name));
}

static void
test_oversized_fields_fail(void **state)
{
    (void)state;
    struct tessera_writer w;
    tessera_writer_init(&w);
    /* A string above the string bound, then a PIN above the PIN bound. */
    tessera_put_type(&w, TESSERA_MSG_GET_IDENTITY);
    tessera_put_u32(&w, TESSERA_STRING_MAX + 1);
    for (unsigned i = 0; i <= TESSERA_STRING_MAX; i++)
        tessera_put_u8(&w, 'x');
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_GET_IDENTITY);
    char *name;
    assert_false(tessera_decode_name_request(&r, &name));
    tessera_writer_clear(&w);

    uint8_t pin[TESSERA_PIN_MAX + 1];
    memset(pin, '1', sizeof(pin));
    struct tessera_unlock_request in = {"Work Card", {pin, sizeof(pin)}, 0};
    tessera_writer_init(&w);
    tessera_encode_unlock(&w, &in);
    r = reader_after_type(&w, TESSERA_MSG_UNLOCK);
    struct tessera_unlock_request out;
    assert_false(tessera_decode_unlock(&r, &out));
    tessera_writer_clear(&w);
}

static void
test_string_with_nul_fails(void **state)
{
    (void)state;
    const uint8_t body[] = {0, 0, 0, 3, 'a', 0, 'b'};
    struct tessera_reader r;
    tessera_reader_init(&r, body, sizeof(body));
    assert_null(tessera_get_string(&r));
    assert_true(r.failed);
}

static void
test_writer_refuses_oversized_frame(void **state)
{
    (void)state;
    struct tessera_writer w;
    tessera_writer_init(&w);
    uint8_t *big = calloc(1, TESSERA_FRAME_MAX);
    assert_non_null(big);
    tessera_put_bytes(&w, big, TESSERA_FRAME_MAX); /* + 4 length bytes */
    assert_true(w.failed);
    /* Sticky: nothing more is appended once it failed. */
    size_t len = w.len;
    tessera_put_u8(&w, 1);
    assert_int_equal(w.len, len);
    free(big);
    tessera_writer_clear(&w);
}

static void
test_frame_length_bounds(void **state)
{
    (void)state;
    assert_false(tessera_frame_length_valid(0));
    assert_true(tessera_frame_length_valid(1));
    assert_true(tessera_frame_length_valid(TESSERA_FRAME_MAX));
    assert_false(tessera_frame_length_valid(TESSERA_FRAME_MAX + 1));
    assert_false(tessera_frame_length_valid(UINT32_MAX));
}

static void
test_identity_round_trip(void **state)
{
    (void)state;
    uint8_t id_bytes[] = {1, 2, 3};
    uint8_t spki[] = {0x30, 0x00};
    uint8_t cert[] = {0x30, 0x03, 1, 2, 3};
    struct tessera_identity in = {
        .summary = {.name = "corp-wifi",
                    .token_label = "Work Card",
                    .token_manufacturer = "m",
                    .token_model = "x",
                    .token_serial = "42",
                    .key_id = {id_bytes, 3},
                    .key_label = "corp-wifi",
                    .key_type = TESSERA_KEY_EC,
                    .key_bits = 256,
                    .flags = TESSERA_ID_HAS_CERT,
                    .subject = "CN=alice",
                    .not_after = 1900000000,
                    .renewal_state = TESSERA_RENEWAL_FAILING,
                    .next_renewal = 1890000000,
                    .renewal_error = "CA corp: unreachable"},
        .spki = {spki, sizeof(spki)},
        .n_certs = 2,
        .certs = {{cert, sizeof(cert)}, {cert, sizeof(cert)}},
    };
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_identity(&w, &in);
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_IDENTITY_REPLY);
    struct tessera_identity out;
    assert_true(tessera_decode_identity(&r, &out));
    assert_string_equal(out.summary.name, "corp-wifi");
    assert_string_equal(out.summary.token_label, "Work Card");
    assert_int_equal(out.summary.key_bits, 256);
    assert_true(out.summary.not_after == 1900000000);
    assert_int_equal(out.summary.renewal_state, TESSERA_RENEWAL_FAILING);
    assert_true(out.summary.next_renewal == 1890000000);
    assert_string_equal(out.summary.renewal_error, "CA corp: unreachable");
    assert_int_equal(out.n_certs, 2);
    assert_memory_equal(out.certs[1].data, cert, sizeof(cert));
    tessera_identity_clear(&out);
    tessera_writer_clear(&w);
}

static void
test_too_many_chain_certificates_fail(void **state)
{
    (void)state;
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_put_type(&w, TESSERA_MSG_IMPORT);
    tessera_put_string(&w, "alice");
    tessera_put_u32(&w, TESSERA_CHAIN_MAX + 1);
    for (unsigned i = 0; i <= TESSERA_CHAIN_MAX; i++)
        tessera_put_bytes(&w, "x", 1);
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_IMPORT);
    struct tessera_import_request out;
    assert_false(tessera_decode_import(&r, &out));
    assert_int_equal(out.n_certs, 0);
    tessera_writer_clear(&w);
}

/* Paths are the agent's to write, not relative to its directory. */
static void
test_export_takes_absolute_paths_only(void **state)
{
    (void)state;
    const char *cases[][3] = {
        {"/home/a/wifi.ref", "/home/a/wifi.pem", ""}, /* good */
        {"wifi.ref", "", ""},                         /* relative */
        {"", "", ""},                                 /* nothing asked */
    };
    for (size_t i = 0; i < 3; i++) {
        struct tessera_writer w;
        tessera_writer_init(&w);
        tessera_put_type(&w, TESSERA_MSG_EXPORT);
        tessera_put_string(&w, "wifi");
        for (size_t j = 0; j < 3; j++)
            tessera_put_string(&w, cases[i][j]);
        struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_EXPORT);
        struct tessera_export_request out;
        bool ok = tessera_decode_export(&r, &out);
        assert_int_equal(ok, i == 0);
        if (ok) {
            assert_string_equal(out.cert, "/home/a/wifi.pem");
            assert_null(out.chain);
            tessera_export_request_clear(&out);
        }
        tessera_writer_clear(&w);
    }
    assert_true(tessera_export_cert_with_chain("/a", NULL));
    assert_true(tessera_export_cert_with_chain("/a", "/a"));
    assert_false(tessera_export_cert_with_chain("/a", "/b"));
}

static struct tessera_enroll_request
sample_enroll(void)
{
    return (struct tessera_enroll_request){
        .key = {.name = "laptop",
                .token = "Work Card",
                .key_spec = "ec-p256",
                .subject = "CN=laptop"},
        .ca = "corp",
        .n_sans = 2,
        .sans = {"dns:laptop.corp.example", "email:alice@corp.example"},
        .timeout_seconds = 30,
    };
}

static void
test_enroll_round_trip(void **state)
{
    (void)state;
    struct tessera_enroll_request in = sample_enroll(), out;
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_enroll(&w, &in);
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_ENROLL);
    assert_true(tessera_decode_enroll(&r, &out));
    assert_string_equal(out.key.name, "laptop");
    assert_string_equal(out.key.token, "Work Card");
    assert_string_equal(out.ca, "corp");
    assert_int_equal(out.n_sans, 2);
    assert_string_equal(out.sans[1], "email:alice@corp.example");
    assert_int_equal(out.timeout_seconds, 30);
    tessera_enroll_request_clear(&out);
    tessera_writer_clear(&w);
}

static void
test_truncated_enroll_fails(void **state)
{
    (void)state;
    struct tessera_enroll_request in = sample_enroll();
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_enroll(&w, &in);
    for (size_t len = 1; len < w.len; len++) {
        struct tessera_reader r;
        struct tessera_enroll_request out;
        tessera_reader_init(&r, w.data, len);
        tessera_get_u8(&r);
        assert_false(tessera_decode_enroll(&r, &out));
        assert_null(out.key.name);
        assert_int_equal(out.n_sans, 0);
    }
    tessera_writer_clear(&w);
}

static void
test_too_many_sans_fail(void **state)
{
    (void)state;
    struct tessera_enroll_request in = sample_enroll(), out;
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_put_type(&w, TESSERA_MSG_ENROLL);
    tessera_put_string(&w, in.key.name);
    tessera_put_string(&w, in.key.token);
    tessera_put_string(&w, in.key.key_spec);
    tessera_put_string(&w, in.key.subject);
    tessera_put_string(&w, in.ca);
    tessera_put_u32(&w, TESSERA_SANS_MAX + 1);
    for (unsigned i = 0; i <= TESSERA_SANS_MAX; i++)
        tessera_put_string(&w, "dns:x");
    tessera_put_u32(&w, 30);
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_ENROLL);
    assert_false(tessera_decode_enroll(&r, &out));
    assert_int_equal(out.n_sans, 0);
    tessera_writer_clear(&w);
}

static void
test_error_reply(void **state)
{
    (void)state;
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_error(&w, TESSERA_ERR_TOKEN_LOCKED, "run tessera unlock");
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_ERROR);
    struct tessera_error_reply e;
    assert_true(tessera_decode_error(&r, &e));
    assert_int_equal(e.code, TESSERA_ERR_TOKEN_LOCKED);
    assert_string_equal(e.message, "run tessera unlock");
    free(e.message);
    tessera_writer_clear(&w);

    /* Code 0 is not an error: a reply claiming it is malformed. */
    tessera_writer_init(&w);
    tessera_encode_error(&w, TESSERA_OK, "fine");
    r = reader_after_type(&w, TESSERA_MSG_ERROR);
    assert_false(tessera_decode_error(&r, &e));
    tessera_writer_clear(&w);
    assert_string_equal(tessera_error_name(TESSERA_ERR_TOKEN_LOCKED),
                        "token-locked");
}

/* --- every frame: one sample each, encoded, decoded, cut and padded */

static uint8_t sample_bytes[] = {0x30, 0x03, 1, 2, 3};

static struct tessera_identity_summary
sample_summary(const char *name)
{
    return (struct tessera_identity_summary){
        .name = (char *)name,
        .token_label = "Work Card",
        .token_manufacturer = "SoftHSM project",
        .token_model = "SoftHSM v2",
        .token_serial = "6f1f2c",
        .key_id = {sample_bytes, sizeof(sample_bytes)},
        .key_label = (char *)name,
        .key_type = TESSERA_KEY_RSA,
        .key_bits = 3072,
        .flags = TESSERA_ID_HAS_CERT | TESSERA_ID_TOKEN_PRESENT,
        .subject = "CN=alice,O=Corp",
        .not_after = 1900000000,
        .renewal_state = TESSERA_RENEWAL_SCHEDULED,
        .next_renewal = 1890000000,
        .renewal_error = "",
    };
}

static struct tessera_token_info
sample_token(const char *label)
{
    return (struct tessera_token_info){
        .label = (char *)label,
        .manufacturer = "SoftHSM project",
        .model = "SoftHSM v2",
        .serial = "6f1f2c",
        .module = "/usr/lib/softhsm/libsofthsm2.so",
        .flags = TESSERA_TOKEN_PRESENT | TESSERA_TOKEN_PIN_COUNT_LOW,
    };
}

static void
encode_hello(struct tessera_writer *w)
{
    tessera_encode_hello(w, TESSERA_PROTOCOL_VERSION);
}

static bool
decode_hello(struct tessera_reader *r)
{
    uint32_t version;
    return tessera_decode_hello(r, &version);
}

static void
encode_hello_reply(struct tessera_writer *w)
{
    tessera_encode_hello_reply(w, TESSERA_PROTOCOL_VERSION, "0.1.0");
}

static bool
decode_hello_reply(struct tessera_reader *r)
{
    uint32_t version;
    char *agent_version;
    bool ok = tessera_decode_hello_reply(r, &version, &agent_version);
    free(agent_version);
    return ok;
}

static void
encode_ok(struct tessera_writer *w)
{
    tessera_encode_ok(w);
}

static bool
decode_ok(struct tessera_reader *r)
{
    return tessera_decode_ok(r);
}

static void
encode_list(struct tessera_writer *w)
{
    tessera_encode_list(w, 7);
}

static bool
decode_list(struct tessera_reader *r)
{
    uint32_t start;
    return tessera_decode_list(r, &start);
}

static void
encode_tokens(struct tessera_writer *w)
{
    tessera_encode_tokens(w, 7);
}

static bool
decode_tokens(struct tessera_reader *r)
{
    uint32_t start;
    return tessera_decode_tokens(r, &start);
}

static void
encode_list_reply(struct tessera_writer *w)
{
    struct tessera_page page;
    struct tessera_identity_summary a = sample_summary("corp-wifi"),
                                    b = sample_summary("vpn");
    tessera_begin_list_reply(w, 5, &page);
    assert_true(tessera_add_list_entry(w, &page, &a));
    assert_true(tessera_add_list_entry(w, &page, &b));
}

static bool
decode_list_reply(struct tessera_reader *r)
{
    uint32_t total;
    struct tessera_identity_list page = {0};
    bool ok = tessera_decode_list_reply(r, &total, &page);
    tessera_identity_list_clear(&page);
    return ok;
}

static void
encode_tokens_reply(struct tessera_writer *w)
{
    struct tessera_page page;
    struct tessera_token_info a = sample_token("Work Card"),
                              b = sample_token("Spare");
    tessera_begin_tokens_reply(w, 2, &page);
    assert_true(tessera_add_tokens_entry(w, &page, &a));
    assert_true(tessera_add_tokens_entry(w, &page, &b));
}

static bool
decode_tokens_reply(struct tessera_reader *r)
{
    uint32_t total;
    struct tessera_token_list page = {0};
    bool ok = tessera_decode_tokens_reply(r, &total, &page);
    tessera_token_list_clear(&page);
    return ok;
}

static void
encode_get_identity(struct tessera_writer *w)
{
    tessera_encode_name_request(w, TESSERA_MSG_GET_IDENTITY, "corp-wifi");
}

static void
encode_lock(struct tessera_writer *w)
{
    tessera_encode_name_request(w, TESSERA_MSG_LOCK, "Work Card");
}

static void
encode_renew(struct tessera_writer *w)
{
    tessera_encode_name_request(w, TESSERA_MSG_RENEW, "corp-wifi");
}

static bool
decode_name(struct tessera_reader *r)
{
    char *name;
    bool ok = tessera_decode_name_request(r, &name);
    free(name);
    return ok;
}

static void
encode_identity_reply(struct tessera_writer *w)
{
    struct tessera_identity id = {
        .summary = sample_summary("corp-wifi"),
        .spki = {sample_bytes, sizeof(sample_bytes)},
        .n_certs = 2,
        .certs = {{sample_bytes, sizeof(sample_bytes)},
                  {sample_bytes, sizeof(sample_bytes)}},
    };
    tessera_encode_identity(w, &id);
}

static bool
decode_identity_reply(struct tessera_reader *r)
{
    struct tessera_identity id;
    bool ok = tessera_decode_identity(r, &id);
    if (ok)
        tessera_identity_clear(&id);
    return ok;
}

static void
encode_sign(struct tessera_writer *w)
{
    uint8_t digest[32] = {1}, key_hash[TESSERA_KEY_HASH_LEN] = {2};
    struct tessera_sign_request req = {
        .name = "corp-wifi",
        .key_hash = {key_hash, sizeof(key_hash)},
        .scheme = TESSERA_SIGN_RSA_PSS,
        .digest = TESSERA_DIGEST_SHA256,
        .mgf1_digest = TESSERA_DIGEST_SHA256,
        .salt_len = 32,
        .input = {digest, sizeof(digest)},
    };
    tessera_encode_sign(w, &req);
}

static bool
decode_sign(struct tessera_reader *r)
{
    struct tessera_sign_request req;
    bool ok = tessera_decode_sign(r, &req);
    if (ok)
        tessera_sign_request_clear(&req);
    return ok;
}

static void
encode_unlock(struct tessera_writer *w)
{
    uint8_t pin[] = "583917";
    struct tessera_unlock_request req = {"Work Card", {pin, 6}, 1};
    tessera_encode_unlock(w, &req);
}

static bool
decode_unlock(struct tessera_reader *r)
{
    struct tessera_unlock_request req;
    bool ok = tessera_decode_unlock(r, &req);
    if (ok)
        tessera_unlock_request_clear(&req);
    return ok;
}

static void
encode_keygen(struct tessera_writer *w)
{
    struct tessera_keygen_request req = {"laptop", "Work Card", "ec-p256",
                                         "CN=laptop"};
    tessera_encode_keygen(w, &req);
}

static bool
decode_keygen(struct tessera_reader *r)
{
    struct tessera_keygen_request req = {0};
    bool ok = tessera_decode_keygen(r, &req);
    if (ok)
        tessera_keygen_request_clear(&req);
    return ok;
}

static void
encode_import(struct tessera_writer *w)
{
    struct tessera_import_request req = {
        .name = "laptop",
        .n_certs = 2,
        .certs = {{sample_bytes, sizeof(sample_bytes)},
                  {sample_bytes, sizeof(sample_bytes)}},
    };
    tessera_encode_import(w, &req);
}

static bool
decode_import(struct tessera_reader *r)
{
    struct tessera_import_request req;
    bool ok = tessera_decode_import(r, &req);
    if (ok)
        tessera_import_request_clear(&req);
    return ok;
}

static void
encode_export(struct tessera_writer *w)
{
    struct tessera_export_request req = {"laptop", "/k.ref", "/c.pem",
                                         "/c.pem"};
    tessera_encode_export(w, &req);
}

static bool
decode_export(struct tessera_reader *r)
{
    struct tessera_export_request req;
    bool ok = tessera_decode_export(r, &req);
    if (ok)
        tessera_export_request_clear(&req);
    return ok;
}

static void
encode_keygen_sans(struct tessera_writer *w)
{
    struct tessera_keygen_sans_request req = {
        .key = {"laptop", "Work Card", "ec-p256", "CN=laptop"},
        .n_sans = 2,
        .sans = {"dns:laptop.corp.example", "upn:alice@corp.example"},
    };
    tessera_encode_keygen_sans(w, &req);
}

static bool
decode_keygen_sans(struct tessera_reader *r)
{
    struct tessera_keygen_sans_request req;
    bool ok = tessera_decode_keygen_sans(r, &req);
    if (ok)
        tessera_keygen_sans_request_clear(&req);
    return ok;
}

static void
encode_import_into(struct tessera_writer *w)
{
    struct tessera_import_request req = {
        .name = "laptop",
        .n_certs = 1,
        .certs = {{sample_bytes, sizeof(sample_bytes)}},
        .replace = 1,
        .ca = "corp",
    };
    tessera_encode_import(w, &req);
}

static bool
decode_import_into(struct tessera_reader *r)
{
    struct tessera_import_request req;
    bool ok = tessera_decode_import_into(r, &req);
    if (ok)
        tessera_import_request_clear(&req);
    return ok;
}

static void
encode_forget(struct tessera_writer *w)
{
    struct tessera_forget_request req = {"laptop", 1};
    tessera_encode_forget(w, &req);
}

static bool
decode_forget(struct tessera_reader *r)
{
    struct tessera_forget_request req;
    bool ok = tessera_decode_forget(r, &req);
    if (ok)
        free(req.name);
    return ok;
}

static void
encode_enroll(struct tessera_writer *w)
{
    struct tessera_enroll_request req = sample_enroll();
    tessera_encode_enroll(w, &req);
}

static bool
decode_enroll(struct tessera_reader *r)
{
    struct tessera_enroll_request req;
    bool ok = tessera_decode_enroll(r, &req);
    if (ok)
        tessera_enroll_request_clear(&req);
    return ok;
}

static void
encode_sign_reply(struct tessera_writer *w)
{
    tessera_encode_blob_reply(w, TESSERA_MSG_SIGN_REPLY, sample_bytes,
                              sizeof(sample_bytes));
}

static void
encode_keygen_reply(struct tessera_writer *w)
{
    tessera_encode_blob_reply(w, TESSERA_MSG_KEYGEN_REPLY, sample_bytes,
                              sizeof(sample_bytes));
}

static void
encode_enroll_reply(struct tessera_writer *w)
{
    tessera_encode_blob_reply(w, TESSERA_MSG_ENROLL_REPLY, sample_bytes,
                              sizeof(sample_bytes));
}

static void
encode_renew_reply(struct tessera_writer *w)
{
    tessera_encode_blob_reply(w, TESSERA_MSG_RENEW_REPLY, sample_bytes,
                              sizeof(sample_bytes));
}

static bool
decode_blob_reply(struct tessera_reader *r)
{
    struct tessera_blob blob;
    bool ok = tessera_decode_blob_reply(r, TESSERA_DER_MAX, &blob);
    tessera_blob_clear(&blob);
    return ok;
}

static void
encode_error(struct tessera_writer *w)
{
    tessera_encode_error(w, TESSERA_ERR_TOKEN_LOCKED, "run tessera unlock");
}

static bool
decode_error(struct tessera_reader *r)
{
    struct tessera_error_reply e;
    bool ok = tessera_decode_error(r, &e);
    free(e.message);
    return ok;
}

static const struct frame {
    enum tessera_msg type;
    void (*encode)(struct tessera_writer *w);
    bool (*decode)(struct tessera_reader *r); /* frees what it decoded */
} frames[] = {
    {TESSERA_MSG_HELLO, encode_hello, decode_hello},
    {TESSERA_MSG_LIST, encode_list, decode_list},
    {TESSERA_MSG_GET_IDENTITY, encode_get_identity, decode_name},
    {TESSERA_MSG_SIGN, encode_sign, decode_sign},
    {TESSERA_MSG_TOKENS, encode_tokens, decode_tokens},
    {TESSERA_MSG_UNLOCK, encode_unlock, decode_unlock},
    {TESSERA_MSG_LOCK, encode_lock, decode_name},
    {TESSERA_MSG_KEYGEN, encode_keygen, decode_keygen},
    {TESSERA_MSG_IMPORT, encode_import, decode_import},
    {TESSERA_MSG_EXPORT, encode_export, decode_export},
    {TESSERA_MSG_KEYGEN_SANS, encode_keygen_sans, decode_keygen_sans},
    {TESSERA_MSG_IMPORT_INTO, encode_import_into, decode_import_into},
    {TESSERA_MSG_FORGET, encode_forget, decode_forget},
    {TESSERA_MSG_ENROLL, encode_enroll, decode_enroll},
    {TESSERA_MSG_RENEW, encode_renew, decode_name},
    {TESSERA_MSG_OK, encode_ok, decode_ok},
    {TESSERA_MSG_HELLO_REPLY, encode_hello_reply, decode_hello_reply},
    {TESSERA_MSG_LIST_REPLY, encode_list_reply, decode_list_reply},
    {TESSERA_MSG_IDENTITY_REPLY, encode_identity_reply, decode_identity_reply},
    {TESSERA_MSG_SIGN_REPLY, encode_sign_reply, decode_blob_reply},
    {TESSERA_MSG_TOKENS_REPLY, encode_tokens_reply, decode_tokens_reply},
    {TESSERA_MSG_KEYGEN_REPLY, encode_keygen_reply, decode_blob_reply},
    {TESSERA_MSG_ENROLL_REPLY, encode_enroll_reply, decode_blob_reply},
    {TESSERA_MSG_RENEW_REPLY, encode_renew_reply, decode_blob_reply},
    {TESSERA_MSG_ERROR, encode_error, decode_error},
};

static bool
decodes(const struct frame *f, const uint8_t *body, size_t len)
{
    struct tessera_reader r;
    tessera_reader_init(&r, body, len);
    assert_int_equal(tessera_get_u8(&r), f->type);
    return f->decode(&r);
}

static void
test_every_frame_round_trips_and_refuses_cuts_and_padding(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        const struct frame *f = &frames[i];
        struct tessera_writer w;
        tessera_writer_init(&w);
        f->encode(&w);
        assert_false(w.failed);
        if (!decodes(f, w.data, w.len))
            fail_msg("frame 0x%02x does not decode what it encodes", f->type);
        /* Truncated at every byte after the type. */
        for (size_t len = 1; len < w.len; len++) {
            if (decodes(f, w.data, len))
                fail_msg("frame 0x%02x accepted %zu of %zu bytes", f->type, len,
                         w.len);
        }
        /* One byte too many. */
        tessera_put_u8(&w, 0);
        if (decodes(f, w.data, w.len))
            fail_msg("frame 0x%02x accepted a trailing byte", f->type);
        tessera_writer_clear(&w);
    }
}

static void
test_hello_list_tokens_round_trip(void **state)
{
    (void)state;
    struct tessera_writer w;
    uint32_t v;
    tessera_writer_init(&w);
    tessera_encode_hello(&w, 3);
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_HELLO);
    assert_true(tessera_decode_hello(&r, &v));
    assert_int_equal(v, 3);
    tessera_writer_clear(&w);
    tessera_writer_init(&w);
    tessera_encode_tokens(&w, 41);
    r = reader_after_type(&w, TESSERA_MSG_TOKENS);
    assert_true(tessera_decode_tokens(&r, &v));
    assert_int_equal(v, 41);
    tessera_writer_clear(&w);
    tessera_writer_init(&w);
    tessera_encode_list(&w, 42);
    r = reader_after_type(&w, TESSERA_MSG_LIST);
    assert_true(tessera_decode_list(&r, &v));
    assert_int_equal(v, 42);
    tessera_writer_clear(&w);
}

static void
test_list_and_tokens_replies_round_trip(void **state)
{
    (void)state;
    struct tessera_writer w;
    uint32_t total;
    tessera_writer_init(&w);
    encode_list_reply(&w);
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_LIST_REPLY);
    struct tessera_identity_list ids = {0};
    assert_true(tessera_decode_list_reply(&r, &total, &ids));
    assert_int_equal(total, 5);
    assert_int_equal(ids.n, 2);
    assert_string_equal(ids.items[1].name, "vpn");
    assert_string_equal(ids.items[0].token_serial, "6f1f2c");
    assert_memory_equal(ids.items[0].key_id.data, sample_bytes,
                        sizeof(sample_bytes));
    assert_int_equal(ids.items[0].key_bits, 3072);
    assert_true(ids.items[0].next_renewal == 1890000000);
    tessera_identity_list_clear(&ids);
    tessera_writer_clear(&w);

    tessera_writer_init(&w);
    encode_tokens_reply(&w);
    r = reader_after_type(&w, TESSERA_MSG_TOKENS_REPLY);
    struct tessera_token_list tokens = {0};
    assert_true(tessera_decode_tokens_reply(&r, &total, &tokens));
    assert_int_equal(total, 2);
    assert_int_equal(tokens.n, 2);
    assert_string_equal(tokens.items[1].label, "Spare");
    assert_string_equal(tokens.items[0].module,
                        "/usr/lib/softhsm/libsofthsm2.so");
    assert_int_equal(tokens.items[0].flags,
                     TESSERA_TOKEN_PRESENT | TESSERA_TOKEN_PIN_COUNT_LOW);
    tessera_token_list_clear(&tokens);
    tessera_writer_clear(&w);
}

/* The frames without a round trip of their own above: every field back. */
static void
test_control_frames_round_trip(void **state)
{
    (void)state;
    struct tessera_writer w;
    struct tessera_reader r;

    tessera_writer_init(&w);
    encode_unlock(&w);
    r = reader_after_type(&w, TESSERA_MSG_UNLOCK);
    struct tessera_unlock_request unlock;
    assert_true(tessera_decode_unlock(&r, &unlock));
    assert_string_equal(unlock.token, "Work Card");
    assert_int_equal(unlock.pin.len, 6);
    assert_memory_equal(unlock.pin.data, "583917", 6);
    assert_int_equal(unlock.force, 1);
    tessera_unlock_request_clear(&unlock);
    tessera_writer_clear(&w);

    tessera_writer_init(&w);
    encode_keygen(&w);
    r = reader_after_type(&w, TESSERA_MSG_KEYGEN);
    struct tessera_keygen_request keygen = {0};
    assert_true(tessera_decode_keygen(&r, &keygen));
    assert_string_equal(keygen.name, "laptop");
    assert_string_equal(keygen.token, "Work Card");
    assert_string_equal(keygen.key_spec, "ec-p256");
    assert_string_equal(keygen.subject, "CN=laptop");
    tessera_keygen_request_clear(&keygen);
    tessera_writer_clear(&w);

    tessera_writer_init(&w);
    encode_import(&w);
    r = reader_after_type(&w, TESSERA_MSG_IMPORT);
    struct tessera_import_request import;
    assert_true(tessera_decode_import(&r, &import));
    assert_string_equal(import.name, "laptop");
    assert_int_equal(import.n_certs, 2);
    assert_memory_equal(import.certs[1].data, sample_bytes,
                        sizeof(sample_bytes));
    tessera_import_request_clear(&import);
    tessera_writer_clear(&w);

    tessera_writer_init(&w);
    encode_keygen_sans(&w);
    r = reader_after_type(&w, TESSERA_MSG_KEYGEN_SANS);
    struct tessera_keygen_sans_request keygen_sans;
    assert_true(tessera_decode_keygen_sans(&r, &keygen_sans));
    assert_string_equal(keygen_sans.key.subject, "CN=laptop");
    assert_int_equal(keygen_sans.n_sans, 2);
    assert_string_equal(keygen_sans.sans[1], "upn:alice@corp.example");
    tessera_keygen_sans_request_clear(&keygen_sans);
    tessera_writer_clear(&w);

    /* Without SANs, the KEYGEN an older agent knows. */
    struct tessera_keygen_sans_request bare = {
        .key = {"laptop", "Work Card", "ec-p256", "CN=laptop"}};
    tessera_writer_init(&w);
    tessera_encode_keygen_sans(&w, &bare);
    r = reader_after_type(&w, TESSERA_MSG_KEYGEN);
    assert_true(tessera_decode_keygen(&r, &keygen));
    tessera_keygen_request_clear(&keygen);
    tessera_writer_clear(&w);

    tessera_writer_init(&w);
    encode_import_into(&w);
    r = reader_after_type(&w, TESSERA_MSG_IMPORT_INTO);
    assert_true(tessera_decode_import_into(&r, &import));
    assert_string_equal(import.name, "laptop");
    assert_int_equal(import.replace, 1);
    assert_string_equal(import.ca, "corp");
    tessera_import_request_clear(&import);
    tessera_writer_clear(&w);

    /* --replace alone: no profile. */
    struct tessera_import_request replace = {
        .name = "laptop",
        .n_certs = 1,
        .certs = {{sample_bytes, sizeof(sample_bytes)}},
        .replace = 1,
    };
    tessera_writer_init(&w);
    tessera_encode_import(&w, &replace);
    r = reader_after_type(&w, TESSERA_MSG_IMPORT_INTO);
    assert_true(tessera_decode_import_into(&r, &import));
    assert_null(import.ca);
    tessera_import_request_clear(&import);
    tessera_writer_clear(&w);

    tessera_writer_init(&w);
    encode_forget(&w);
    r = reader_after_type(&w, TESSERA_MSG_FORGET);
    struct tessera_forget_request forget;
    assert_true(tessera_decode_forget(&r, &forget));
    assert_string_equal(forget.name, "laptop");
    assert_int_equal(forget.delete_keys, 1);
    free(forget.name);
    tessera_writer_clear(&w);

    tessera_writer_init(&w);
    encode_lock(&w);
    r = reader_after_type(&w, TESSERA_MSG_LOCK);
    char *name;
    assert_true(tessera_decode_name_request(&r, &name));
    assert_string_equal(name, "Work Card");
    free(name);
    tessera_writer_clear(&w);

    tessera_writer_init(&w);
    encode_hello_reply(&w);
    r = reader_after_type(&w, TESSERA_MSG_HELLO_REPLY);
    uint32_t version;
    char *agent_version;
    assert_true(tessera_decode_hello_reply(&r, &version, &agent_version));
    assert_int_equal(version, TESSERA_PROTOCOL_VERSION);
    assert_string_equal(agent_version, "0.1.0");
    free(agent_version);
    tessera_writer_clear(&w);

    tessera_writer_init(&w);
    encode_keygen_reply(&w);
    r = reader_after_type(&w, TESSERA_MSG_KEYGEN_REPLY);
    struct tessera_blob csr;
    assert_true(tessera_decode_blob_reply(&r, TESSERA_DER_MAX, &csr));
    assert_int_equal(csr.len, sizeof(sample_bytes));
    assert_memory_equal(csr.data, sample_bytes, sizeof(sample_bytes));
    tessera_blob_clear(&csr);
    /* A blob above the reply's bound is refused. */
    r = reader_after_type(&w, TESSERA_MSG_KEYGEN_REPLY);
    assert_false(tessera_decode_blob_reply(&r, sizeof(sample_bytes) - 1, &csr));
    assert_null(csr.data);
    tessera_writer_clear(&w);

    tessera_writer_init(&w);
    encode_ok(&w);
    r = reader_after_type(&w, TESSERA_MSG_OK);
    assert_true(tessera_decode_ok(&r));
    tessera_writer_clear(&w);
}

/* Nothing listed is a valid answer: total 0, count 0. */
static void
test_empty_lists_are_valid(void **state)
{
    (void)state;
    struct tessera_writer w;
    struct tessera_page page;
    uint32_t total = 99;
    tessera_writer_init(&w);
    tessera_begin_list_reply(&w, 0, &page);
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_LIST_REPLY);
    struct tessera_identity_list ids = {0};
    assert_true(tessera_decode_list_reply(&r, &total, &ids));
    assert_int_equal(total, 0);
    assert_int_equal(ids.n, 0);
    tessera_identity_list_clear(&ids);
    tessera_writer_clear(&w);
    tessera_writer_init(&w);
    tessera_begin_tokens_reply(&w, 0, &page);
    r = reader_after_type(&w, TESSERA_MSG_TOKENS_REPLY);
    struct tessera_token_list tokens = {0};
    assert_true(tessera_decode_tokens_reply(&r, &total, &tokens));
    assert_int_equal(tokens.n, 0);
    tessera_writer_clear(&w);
}

/* A count above the total, or above what the bytes left could hold, is
 * refused before anything is allocated for it. */
static void
test_oversized_page_counts_fail(void **state)
{
    (void)state;
    /* More on the page than in the whole list. */
    struct tessera_writer w;
    struct tessera_page page;
    struct tessera_identity_summary a = sample_summary("a"),
                                    b = sample_summary("b");
    tessera_writer_init(&w);
    tessera_begin_list_reply(&w, 1, &page);
    assert_true(tessera_add_list_entry(&w, &page, &a));
    assert_true(tessera_add_list_entry(&w, &page, &b));
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_LIST_REPLY);
    struct tessera_identity_list ids = {0};
    uint32_t total;
    assert_false(tessera_decode_list_reply(&r, &total, &ids));
    assert_null(ids.items);
    tessera_writer_clear(&w);

    const uint32_t counts[][2] = {
        {UINT32_MAX, UINT32_MAX},
        {UINT32_MAX, 3}, /* three entries promised, none there */
    };
    for (size_t i = 0; i < 2; i++) {
        tessera_writer_init(&w);
        tessera_put_type(&w, TESSERA_MSG_LIST_REPLY);
        tessera_put_u32(&w, counts[i][0]);
        tessera_put_u32(&w, counts[i][1]);
        r = reader_after_type(&w, TESSERA_MSG_LIST_REPLY);
        assert_false(tessera_decode_list_reply(&r, &total, &ids));
        assert_int_equal(ids.n, 0);
        assert_null(ids.items);
        w.data[0] = TESSERA_MSG_TOKENS_REPLY;
        r = reader_after_type(&w, TESSERA_MSG_TOKENS_REPLY);
        struct tessera_token_list tokens = {0};
        assert_false(tessera_decode_tokens_reply(&r, &total, &tokens));
        assert_null(tokens.items);
        tessera_writer_clear(&w);
    }
}

/* Pages append to one list; a bad page leaves it as it was. */
static void
test_pages_append_and_a_bad_page_changes_nothing(void **state)
{
    (void)state;
    struct tessera_writer w;
    struct tessera_identity_list ids = {0};
    uint32_t total;
    tessera_writer_init(&w);
    encode_list_reply(&w); /* corp-wifi, vpn */
    for (int page = 0; page < 2; page++) {
        struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_LIST_REPLY);
        assert_true(tessera_decode_list_reply(&r, &total, &ids));
    }
    assert_int_equal(ids.n, 4);
    assert_string_equal(ids.items[2].name, "corp-wifi");
    /* The same page cut short: no entry added, none lost. */
    struct tessera_reader r;
    tessera_reader_init(&r, w.data, w.len - 1);
    tessera_get_u8(&r);
    assert_false(tessera_decode_list_reply(&r, &total, &ids));
    assert_int_equal(ids.n, 4);
    assert_string_equal(ids.items[3].name, "vpn");
    tessera_identity_list_clear(&ids);
    tessera_writer_clear(&w);
}

/* The bounds a page's count is checked against are the real minimums. */
static void
test_minimum_entry_lengths(void **state)
{
    (void)state;
    struct tessera_writer w;
    struct tessera_page page;
    struct tessera_identity_summary s = {.name = "x"};
    struct tessera_token_info t = {0};
    tessera_writer_init(&w);
    tessera_begin_list_reply(&w, 1, &page);
    size_t header = w.len;
    assert_true(tessera_add_list_entry(&w, &page, &s));
    assert_int_equal(w.len - header, TESSERA_SUMMARY_MIN_LEN);
    tessera_writer_clear(&w);
    tessera_writer_init(&w);
    tessera_begin_tokens_reply(&w, 1, &page);
    header = w.len;
    assert_true(tessera_add_tokens_entry(&w, &page, &t));
    assert_int_equal(w.len - header, TESSERA_TOKEN_INFO_MIN_LEN);
    tessera_writer_clear(&w);
}

/*
 * A list far longer than one frame, paged as the agent does (entries while
 * they fit, the next page from where this one stopped): every entry arrives
 * once, in order, and every page stays within the frame bound.
 */
static void
test_long_list_pages_within_frames(void **state)
{
    (void)state;
    enum { N = 600 };
    char subject[TESSERA_STRING_MAX + 1];
    memset(subject, 's', TESSERA_STRING_MAX);
    subject[TESSERA_STRING_MAX] = '\0';
    uint32_t start = 0, pages = 0;
    while (start < N) {
        struct tessera_writer w;
        struct tessera_page page;
        tessera_writer_init(&w);
        tessera_begin_list_reply(&w, N, &page);
        for (uint32_t i = start; i < N; i++) {
            char name[32];
            snprintf(name, sizeof(name), "id-%u", i);
            struct tessera_identity_summary s = sample_summary(name);
            s.subject = subject;
            if (!tessera_add_list_entry(&w, &page, &s))
                break;
        }
        assert_false(w.failed);
        assert_true(w.len <= TESSERA_FRAME_MAX);
        assert_true(page.count > 0);
        struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_LIST_REPLY);
        struct tessera_identity_list ids = {0};
        uint32_t total;
        assert_true(tessera_decode_list_reply(&r, &total, &ids));
        assert_int_equal(total, N);
        assert_int_equal(ids.n, page.count);
        for (size_t i = 0; i < ids.n; i++) {
            char name[32];
            snprintf(name, sizeof(name), "id-%zu", start + i);
            assert_string_equal(ids.items[i].name, name);
        }
        tessera_identity_list_clear(&ids);
        tessera_writer_clear(&w);
        start += page.count;
        pages++;
    }
    assert_true(pages > 5);
}

/* An entry that cannot fit even an empty page fails the reply. */
static void
test_entry_fitting_no_page_fails_the_writer(void **state)
{
    (void)state;
    struct tessera_writer w;
    struct tessera_page page;
    uint8_t *filler = calloc(1, TESSERA_FRAME_MAX - 100);
    assert_non_null(filler);
    tessera_writer_init(&w);
    tessera_put_raw(&w, filler, TESSERA_FRAME_MAX - 100);
    tessera_begin_tokens_reply(&w, 1, &page);
    struct tessera_token_info t = sample_token("Work Card");
    assert_false(tessera_add_tokens_entry(&w, &page, &t));
    assert_true(w.failed);
    free(filler);
    tessera_writer_clear(&w);
}

static void
test_display_names(void **state)
{
    (void)state;
    char buf[96];
    tessera_token_state_describe(TESSERA_TOKEN_PRESENT |
                                     TESSERA_TOKEN_LOGIN_REQUIRED |
                                     TESSERA_TOKEN_PIN_FINAL_TRY,
                                 buf, sizeof(buf));
    assert_string_equal(buf, "locked,pin-final-try");
    tessera_token_state_describe(TESSERA_TOKEN_PRESENT |
                                     TESSERA_TOKEN_LOGGED_IN |
                                     TESSERA_TOKEN_WRITE_PROTECTED,
                                 buf, sizeof(buf));
    assert_string_equal(buf, "unlocked,read-only");
    tessera_token_state_describe(TESSERA_TOKEN_LOGGED_IN, buf, sizeof(buf));
    assert_string_equal(buf, "absent");
    tessera_key_describe(TESSERA_KEY_EC, 384, buf, sizeof(buf));
    assert_string_equal(buf, "EC-384");
    assert_string_equal(tessera_renewal_state_name(TESSERA_RENEWAL_PENDING),
                        "pending at CA");
    assert_string_equal(tessera_renewal_state_name(200), "unknown");
    struct tessera_identity_summary s = sample_summary("x");
    assert_string_equal(tessera_identity_state(&s, 1), "locked");
    assert_string_equal(tessera_identity_state(&s, 2000000000), "expired");
    assert_string_equal(tessera_error_name(TESSERA_ERR_UNTRUSTED), "untrusted");
    assert_string_equal(tessera_error_name(12345), "unknown");
}

static void
test_progress_round_trip_and_bounds(void **state)
{
    (void)state;
    struct tessera_writer w;
    tessera_writer_init(&w);
    struct tessera_progress in = {TESSERA_STEP_PENDING, 30,
                                  "CA corp: pending, asking again in 30 s"};
    tessera_encode_progress(&w, &in);
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_PROGRESS);
    struct tessera_progress out;
    assert_true(tessera_decode_progress(&r, &out));
    assert_int_equal(out.step, TESSERA_STEP_PENDING);
    assert_int_equal(out.seconds, 30);
    assert_string_equal(out.message, in.message);
    free(out.message);
    assert_string_equal(tessera_progress_step_name(out.step), "pending");
    /* A step this end does not know, a cut and a padded body all fail. */
    w.data[1] = TESSERA_STEP_MAX + 1;
    r = reader_after_type(&w, TESSERA_MSG_PROGRESS);
    assert_false(tessera_decode_progress(&r, &out));
    assert_null(out.message);
    w.data[1] = 0;
    r = reader_after_type(&w, TESSERA_MSG_PROGRESS);
    assert_false(tessera_decode_progress(&r, &out));
    w.data[1] = TESSERA_STEP_PENDING;
    tessera_reader_init(&r, w.data + 1, w.len - 2);
    assert_false(tessera_decode_progress(&r, &out));
    tessera_put_u8(&w, 0);
    r = reader_after_type(&w, TESSERA_MSG_PROGRESS);
    assert_false(tessera_decode_progress(&r, &out));
    assert_string_equal(tessera_progress_step_name(0), "unknown");
    tessera_writer_clear(&w);
}

/* FOLLOW wraps only the requests that have steps to tell. */
static void
test_follow_wraps_keygen_enroll_and_renew_only(void **state)
{
    (void)state;
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_follow(&w);
    tessera_encode_name_request(&w, TESSERA_MSG_RENEW, "laptop");
    struct tessera_reader r = reader_after_type(&w, TESSERA_MSG_FOLLOW);
    uint8_t wrapped;
    char *name;
    assert_true(tessera_decode_follow(&r, &wrapped));
    assert_int_equal(wrapped, TESSERA_MSG_RENEW);
    assert_true(tessera_decode_name_request(&r, &name));
    assert_string_equal(name, "laptop");
    free(name);
    tessera_writer_clear(&w);
    const uint8_t sign[] = {TESSERA_MSG_FOLLOW, TESSERA_MSG_SIGN};
    tessera_reader_init(&r, sign, sizeof(sign));
    (void)tessera_get_u8(&r);
    assert_false(tessera_decode_follow(&r, &wrapped));
    const uint8_t nested[] = {TESSERA_MSG_FOLLOW, TESSERA_MSG_FOLLOW};
    tessera_reader_init(&r, nested, sizeof(nested));
    (void)tessera_get_u8(&r);
    assert_false(tessera_decode_follow(&r, &wrapped));
    tessera_reader_init(&r, nested, 1);
    (void)tessera_get_u8(&r);
    assert_false(tessera_decode_follow(&r, &wrapped));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers_are_big_endian),
        cmocka_unit_test(test_sign_round_trip),
        cmocka_unit_test(test_truncated_bodies_fail),
        cmocka_unit_test(test_trailing_bytes_fail),
        cmocka_unit_test(test_length_beyond_body_fails),
        cmocka_unit_test(test_oversized_fields_fail),
        cmocka_unit_test(test_string_with_nul_fails),
        cmocka_unit_test(test_writer_refuses_oversized_frame),
        cmocka_unit_test(test_frame_length_bounds),
        cmocka_unit_test(test_identity_round_trip),
        cmocka_unit_test(test_too_many_chain_certificates_fail),
        cmocka_unit_test(test_export_takes_absolute_paths_only),
        cmocka_unit_test(test_enroll_round_trip),
        cmocka_unit_test(test_truncated_enroll_fails),
        cmocka_unit_test(test_too_many_sans_fail),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(
            test_every_frame_round_trips_and_refuses_cuts_and_padding),
        cmocka_unit_test(test_hello_list_tokens_round_trip),
        cmocka_unit_test(test_list_and_tokens_replies_round_trip),
        cmocka_unit_test(test_control_frames_round_trip),
        cmocka_unit_test(test_empty_lists_are_valid),
        cmocka_unit_test(test_oversized_page_counts_fail),
        cmocka_unit_test(test_pages_append_and_a_bad_page_changes_nothing),
        cmocka_unit_test(test_minimum_entry_lengths),
        cmocka_unit_test(test_long_list_pages_within_frames),
        cmocka_unit_test(test_entry_fitting_no_page_fails_the_writer),
        cmocka_unit_test(test_display_names),
        cmocka_unit_test(test_progress_round_trip_and_bounds),
        cmocka_unit_test(test_follow_wraps_keygen_enroll_and_renew_only),
    };
    return cmocka_run_group_tests_name("wire codec", tests, NULL, NULL);
}
