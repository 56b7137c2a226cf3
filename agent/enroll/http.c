/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Profile keys used here:
 *   tls-ca=/path/bundle.pem   who may serve the CA's URL (default: system)
 *   command-timeout=SECONDS   for one HTTP exchange (default 60)
 */
#include "http.h"

#include <curl/curl.h>
#include <string.h>

#define HEADER_VALUE_MAX 2048

struct transfer {
    struct http_reply *reply;
    gsize max;
    gboolean too_large;
};

static size_t
on_body(char *data, size_t size, size_t n, void *user)
{
    struct transfer *t = user;
    gsize len = size * n;
    if (t->reply->body->len + len > t->max) {
        t->too_large = TRUE;
        return 0; /* aborts the transfer */
    }
    g_byte_array_append(t->reply->body, (const guint8 *)data, (guint)len);
    return len;
}

/* The value of "Name: value" if line is that header, bounded, trimmed. */
static char *
header_value(const char *line, gsize len, const char *name)
{
    gsize n = strlen(name);
    if (len <= n || line[n] != ':' || g_ascii_strncasecmp(line, name, n) != 0)
        return NULL;
    char *value = g_strndup(line + n + 1, MIN(len - n - 1, HEADER_VALUE_MAX));
    return g_strstrip(value);
}

static void
replace(char **field, char *value)
{
    if (value == NULL)
        return;
    g_free(*field);
    *field = value;
}

static size_t
on_header(char *line, size_t size, size_t n, void *user)
{
    struct transfer *t = user;
    gsize len = size * n;
    char *retry = header_value(line, len, "Retry-After");
    replace(&t->reply->content_type, header_value(line, len, "Content-Type"));
    replace(&t->reply->location, header_value(line, len, "Location"));
    replace(&t->reply->replay_nonce, header_value(line, len, "Replay-Nonce"));
    if (retry != NULL) {
        /* Seconds only; an HTTP date counts as "soon". */
        gint64 s = g_ascii_strtoll(retry, NULL, 10);
        t->reply->retry_after = s > 0 && s < 86400 ? (long)s : 1;
        g_free(retry);
    }
    return len;
}

/* libcurl asks this while it waits: a stopping agent ends the exchange. */
static int
on_progress(void *data, curl_off_t dltotal, curl_off_t dlnow,
            curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return g_cancellable_is_cancelled(data);
}

static void
apply_profile(CURL *curl, const struct enroll_profile *ca)
{
    if (ca->cancel != NULL) {
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, ca->cancel);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    }
    const char *tls_ca = ca->profile->tls_ca;
    long timeout = (long)ca->profile->command_timeout;
    if (tls_ca != NULL)
        curl_easy_setopt(curl, CURLOPT_CAINFO, tls_ca);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, MIN(timeout, 10L));
}

gboolean
enroll_http(const struct enroll_profile *ca, const struct http_request *req,
            struct http_reply *reply, char **reason)
{
    char error[CURL_ERROR_SIZE] = "";
    struct transfer t = {.reply = reply, .max = req->reply_max};
    struct curl_slist *headers = NULL;
    CURL *curl = curl_easy_init();
    *reply = (struct http_reply){.body = g_byte_array_new()};
    if (curl == NULL) {
        *reason = g_strdup("cannot start an HTTP client");
        return FALSE;
    }
    apply_profile(curl, ca);
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "tessera/" TESSERA_VERSION);
    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "POST") == 0) {
        char *type = g_strdup_printf("Content-Type: %s", req->content_type);
        headers = curl_slist_append(headers, type);
        g_free(type);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)req->body_len);
    }
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
    else if (t.too_large)
        *reason = g_strdup_printf("%s answered with more than %zu bytes",
                                  req->url, req->reply_max);
    else
        *reason = g_strdup_printf("cannot reach %s: %s", req->url,
                                  error[0] ? error : curl_easy_strerror(rc));
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc == CURLE_OK;
}

void
http_reply_clear(struct http_reply *reply)
{
    if (reply->body != NULL)
        g_byte_array_unref(reply->body);
    g_free(reply->content_type);
    g_free(reply->location);
    g_free(reply->replay_nonce);
    *reply = (struct http_reply){0};
}
