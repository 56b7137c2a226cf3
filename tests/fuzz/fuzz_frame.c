/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every decoder of the wire protocol, fed arbitrary frame bodies: the
 * requests the agent reads and the replies the provider and CLI read.
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

    tessera_reader_init(&r, data, size);
    if (tessera_decode_u32_body(&r, &u32))
        (void)u32;
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
}

static void
decode_replies(const uint8_t *data, size_t size)
{
    struct tessera_reader r;
    struct tessera_identity id;
    struct tessera_identity_summary s;
    struct tessera_token_info t = {0};
    struct tessera_blob blob;
    struct tessera_error_reply e;
    uint32_t version;
    char *agent_version;

    tessera_reader_init(&r, data, size);
    if (tessera_decode_identity(&r, &id))
        tessera_identity_clear(&id);
    tessera_reader_init(&r, data, size);
    tessera_get_u32(&r);
    uint32_t n = tessera_get_u32(&r);
    for (uint32_t i = 0; i < n && tessera_get_identity_summary(&r, &s); i++)
        tessera_identity_summary_clear(&s);
    tessera_reader_init(&r, data, size);
    n = tessera_get_u32(&r);
    for (uint32_t i = 0; i < n && tessera_get_token_info(&r, &t); i++)
        tessera_token_info_clear(&t);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_blob_reply(&r, TESSERA_SIGNATURE_MAX, &blob))
        tessera_blob_clear(&blob);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_error(&r, &e))
        free(e.message);
    tessera_reader_init(&r, data, size);
    if (tessera_decode_hello_reply(&r, &version, &agent_version))
        free(agent_version);
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
