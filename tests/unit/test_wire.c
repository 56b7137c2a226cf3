/* SPDX-License-Identifier: Apache-2.0 */
/* The wire codec: round trips, and every way a frame can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
        cmocka_unit_test(test_enroll_round_trip),
        cmocka_unit_test(test_truncated_enroll_fails),
        cmocka_unit_test(test_too_many_sans_fail),
        cmocka_unit_test(test_error_reply),
    };
    return cmocka_run_group_tests_name("wire codec", tests, NULL, NULL);
}
