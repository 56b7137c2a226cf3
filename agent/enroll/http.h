/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP(S) to a CA, for the ACME and SCEP protocols: bounded replies,
 * bounded time, the profile's trust for TLS. Blocking: enrolment runs in a
 * worker thread.
 */
#ifndef TESSERA_ENROLL_HTTP_H
#define TESSERA_ENROLL_HTTP_H

#include "enroll.h"

struct http_reply {
    long status;
    GByteArray *body;
    char *content_type, *location, *replay_nonce;
    long retry_after; /* seconds, 0 when absent */
};

struct http_request {
    const char *method; /* "GET", "HEAD" or "POST" */
    const char *url;
    const char *content_type; /* of body, for POST */
    const void *body;
    gsize body_len;
    gsize reply_max; /* larger replies fail the request */
};

/*
 * Sends the request with the profile's TLS settings (tls-ca, timeout) and
 * fills reply. FALSE with *reason (naming the URL) when no HTTP answer came.
 */
gboolean enroll_http(const struct enroll_profile *ca,
                     const struct http_request *req, struct http_reply *reply,
                     char **reason);
void http_reply_clear(struct http_reply *reply);

#endif
