/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every decoder of the wire protocol, fed arbitrary frame bodies: the
 * requests the agent reads and the replies the provider, the CLI and the
 * client library read. Each decoder sees every input.
 */
#include "../../common/messages.h"

#include <stdlib.h>

static void
decode_requests(const uint8_t *data, size_t size)
{
    struct tessera_reader r;
    uint32_t u32;
    char *name;
    struct tessera_sign_request sign;
    struct tessera_unlock_request unlock;
    struct tessera_keygen_request keygen = {0};
    struct tessera_import_request import;
    struct tessera_enroll_request enroll;
    struct tessera_export_request export;
    struct tessera_keygen_sans_request keygen_sans;
    struct tessera_forget_request forget;
    uint8_t wrapped;

    tessera_reader_init(&r, data, size);
    (void)tessera_decode_hello(&r, &u32);
    tessera_reader_init(&r, data, size);
    (void)tessera_decode_list(&r, &u32);
    tessera_reader_init(&r, data, size);
    (void)tessera_decode_tokens(&r, &u32);
    /* GET_IDENTITY, LOCK, RENEW */
    tessera_reader_init(&r, data, size);
    if (tessera_decode_name_request(&r, &name))
        free(name);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_sign(&r, &sign))
        tessera_sign_request_clear(&sign);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_unlock(&r, &unlock))
        tessera_unlock_request_clear(&unlock);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_keygen(&r, &keygen))
        tessera_keygen_request_clear(&keygen);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_import(&r, &import))
        tessera_import_request_clear(&import);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_enroll(&r, &enroll))
        tessera_enroll_request_clear(&enroll);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_export(&r, &export))
        tessera_export_request_clear(&export);
    if (tessera_decode_keygen_sans(&r, &keygen_sans))
        tessera_keygen_sans_request_clear(&keygen_sans);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_import_into(&r, &import))
        tessera_import_request_clear(&import);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_forget(&r, &forget))
        free(forget.name);
    /* FOLLOW, then what it wraps, as the agent reads it */
    tessera_reader_init(&r, data, size);
    if (tessera_decode_follow(&r, &wrapped) && wrapped == TESSERA_MSG_RENEW &&
        tessera_decode_name_request(&r, &name))
        free(name);
}

static void
decode_replies(const uint8_t *data, size_t size)
{
    struct tessera_reader r;
    struct tessera_identity id;
    struct tessera_identity_list ids = {0};
    struct tessera_token_list tokens = {0};
    struct tessera_blob blob;
    struct tessera_error_reply e;
    uint32_t version, total;
    char *agent_version;
    struct tessera_progress progress;

    tessera_reader_init(&r, data, size);
    (void)tessera_decode_ok(&r);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_hello_reply(&r, &version, &agent_version))
        free(agent_version);
    /* A list decoder appends: its list is cleared whatever it says. */
    tessera_reader_init(&r, data, size);
    (void)tessera_decode_list_reply(&r, &total, &ids);
    tessera_identity_list_clear(&ids);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_identity(&r, &id))
        tessera_identity_clear(&id);
    tessera_reader_init(&r, data, size);
    (void)tessera_decode_tokens_reply(&r, &total, &tokens);
    tessera_token_list_clear(&tokens);
    /* SIGN_REPLY; KEYGEN_REPLY, ENROLL_REPLY and RENEW_REPLY */
    tessera_reader_init(&r, data, size);
    if (tessera_decode_blob_reply(&r, TESSERA_SIGNATURE_MAX, &blob))
        tessera_blob_clear(&blob);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_blob_reply(&r, TESSERA_DER_MAX, &blob))
        tessera_blob_clear(&blob);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_error(&r, &e))
        free(e.message);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_progress(&r, &progress))
        free(progress.message);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > TESSERA_FRAME_MAX)
        return 0;
    decode_requests(data, size);
    decode_replies(data, size);
    return 0;
}
