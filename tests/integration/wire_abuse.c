/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile input to a running agent over its socket ($TESSERA_SOCKET). Each
 * case says what the agent must answer; the shell test then checks that
 * the agent still signs. Prints TAP-like lines; exits 1 on any deviation.
 *
 *   wire_abuse              malformed frames and bodies
 *   wire_abuse --denied     only that the agent refuses this process's uid
 *   wire_abuse --served     only that the agent greets this process's uid
 *   wire_abuse EC ED25519   SIGN requests whose scheme, key or input do not
 *                           fit, against an EC and an Ed25519 identity
 */
#include "../../common/errors.h"
#include "../../common/connect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int failures;

static void
report(bool ok, const char *what)
{
    printf("%s - %s\n", ok ? "ok" : "not ok", what);
    failures += !ok;
}

static int
raw_connect(void)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    const char *path = getenv("TESSERA_SOCKET");
    if (path == NULL || strlen(path) >= sizeof(addr.sun_path))
        return -1;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void
send_raw(int fd, const void *p, size_t n)
{
    if (send(fd, p, n, MSG_NOSIGNAL) != (ssize_t)n)
        perror("send");
}

/* The type and code of the next reply; type 0 when the agent closed. */
static uint8_t
next_reply(int fd, uint32_t *code)
{
    uint8_t *body;
    size_t len;
    *code = 0;
    if (tessera_read_frame(fd, &body, &len) < 0)
        return 0;
    struct tessera_reader r;
    tessera_reader_init(&r, body, len);
    uint8_t type = tessera_get_u8(&r);
    if (type == TESSERA_MSG_ERROR)
        *code = tessera_get_u32(&r);
    free(body);
    return type;
}

static bool
closed(int fd)
{
    char c;
    return recv(fd, &c, 1, 0) == 0;
}

static void
send_frame(int fd, const struct tessera_writer *w)
{
    tessera_write_frame(fd, w->data, w->len);
}

static int
greeted_connection(void)
{
    struct tessera_status st = {0};
    int fd = tessera_agent_connect(getenv("TESSERA_SOCKET"), NULL, 0, &st);
    if (fd < 0)
        fprintf(stderr, "wire_abuse: %s\n", st.message);
    return fd;
}

static bool
expect_error(int fd, uint32_t want)
{
    uint32_t code;
    uint8_t type = next_reply(fd, &code);
    return type == TESSERA_MSG_ERROR && code == want;
}

static bool
still_serves(int fd)
{
    struct tessera_writer w;
    uint32_t code;
    tessera_writer_init(&w);
    tessera_encode_list(&w, 0);
    send_frame(fd, &w);
    tessera_writer_clear(&w);
    return next_reply(fd, &code) == TESSERA_MSG_LIST_REPLY;
}

/* Speaking to an agent of another uid (which this client's own checks
 * would refuse to do): the agent refuses first. */
static int
expect_denied(void)
{
    int fd = raw_connect();
    report(fd >= 0 && expect_error(fd, TESSERA_ERR_DENIED) && closed(fd),
           "an agent refuses a peer of another uid with `denied` and closes");
    if (fd >= 0)
        close(fd);
    return failures ? 1 : 0;
}

/* Root at a user's agent (allow-root=true, the default): greeted. */
static int
expect_served(void)
{
    struct tessera_writer w;
    uint32_t code = 0;
    int fd = raw_connect();
    tessera_writer_init(&w);
    tessera_encode_hello(&w, TESSERA_PROTOCOL_VERSION);
    if (fd >= 0)
        send_frame(fd, &w);
    tessera_writer_clear(&w);
    report(fd >= 0 && next_reply(fd, &code) == TESSERA_MSG_HELLO_REPLY,
           "an agent greets a peer it serves");
    if (fd >= 0)
        close(fd);
    return failures ? 1 : 0;
}

static void
sign_case(int fd, const struct tessera_sign_request *req, uint32_t want,
          const char *what)
{
    struct tessera_writer w;
    tessera_writer_init(&w);
    tessera_encode_sign(&w, req);
    send_frame(fd, &w);
    tessera_writer_clear(&w);
    report(expect_error(fd, want) && still_serves(fd), what);
}

static int
mismatched_signatures(const char *ec, const char *ed25519)
{
    static uint8_t message[TESSERA_SIGN_INPUT_MAX + 1];
    uint8_t digest[32] = {0};
    int fd = greeted_connection();
    struct tessera_sign_request req = {
        .name = (char *)ed25519,
        .scheme = TESSERA_SIGN_EDDSA,
        .digest = TESSERA_DIGEST_SHA256,
        .input = {digest, sizeof(digest)},
    };
    sign_case(fd, &req, TESSERA_ERR_INVALID,
              "an EdDSA SIGN of a digest is refused");
    req.name = (char *)ec;
    req.digest = TESSERA_DIGEST_NONE;
    sign_case(fd, &req, TESSERA_ERR_MECHANISM,
              "an EdDSA SIGN for an EC key is refused");
    req.name = (char *)ed25519;
    req.scheme = TESSERA_SIGN_ECDSA;
    req.digest = TESSERA_DIGEST_SHA256;
    sign_case(fd, &req, TESSERA_ERR_MECHANISM,
              "an ECDSA SIGN for an Ed25519 key is refused");
    req.scheme = 9;
    sign_case(fd, &req, TESSERA_ERR_MECHANISM,
              "a SIGN with an unknown scheme is refused");
    req.scheme = TESSERA_SIGN_EDDSA;
    req.digest = TESSERA_DIGEST_NONE;
    req.input = (struct tessera_blob){message, sizeof(message)};
    sign_case(fd, &req, TESSERA_ERR_PROTOCOL,
              "a message longer than the SIGN bound is refused");
    close(fd);
    printf("%d cases failed\n", failures);
    return failures ? 1 : 0;
}

int
main(int argc, char **argv)
{
    int fd;
    struct tessera_writer w;
    if (argc == 3)
        return mismatched_signatures(argv[1], argv[2]);

    if (argc > 1 && strcmp(argv[1], "--denied") == 0)
        return expect_denied();
    if (argc > 1 && strcmp(argv[1], "--served") == 0)
        return expect_served();

    fd = raw_connect();
    tessera_writer_init(&w);
    tessera_encode_list(&w, 0);
    send_frame(fd, &w);
    tessera_writer_clear(&w);
    report(expect_error(fd, TESSERA_ERR_PROTOCOL) && closed(fd),
           "a request before HELLO is refused and the connection closed");
    close(fd);

    fd = raw_connect();
    tessera_writer_init(&w);
    tessera_encode_hello(&w, 99);
    send_frame(fd, &w);
    tessera_writer_clear(&w);
    report(expect_error(fd, TESSERA_ERR_VERSION) && closed(fd),
           "an unknown protocol version is refused");
    close(fd);

    fd = greeted_connection();
    send_raw(fd, "\x7f\xff\xff\xff", 4);
    report(expect_error(fd, TESSERA_ERR_PROTOCOL) && closed(fd),
           "an oversized frame length is refused without reading on");
    close(fd);

    fd = greeted_connection();
    send_raw(fd, "\0\0\0\0", 4);
    report(expect_error(fd, TESSERA_ERR_PROTOCOL) && closed(fd),
           "a zero frame length is refused");
    close(fd);

    fd = greeted_connection();
    send_raw(fd, "\0\0\0\1\x42", 5);
    report(expect_error(fd, TESSERA_ERR_PROTOCOL) && still_serves(fd),
           "an unknown message type is an error, the connection stays");
    /* SIGN with its input length claiming more than the frame holds. */
    send_raw(fd, "\0\0\0\x0e\x04\0\0\0\1a\1\3\3\0\0\0\0\xff", 18);
    report(expect_error(fd, TESSERA_ERR_PROTOCOL) && still_serves(fd),
           "a truncated SIGN body is an error, the connection stays");
    tessera_writer_init(&w);
    tessera_encode_name_request(&w, TESSERA_MSG_GET_IDENTITY, "x");
    tessera_put_u8(&w, 7);
    send_frame(fd, &w);
    tessera_writer_clear(&w);
    report(expect_error(fd, TESSERA_ERR_PROTOCOL) && still_serves(fd),
           "trailing bytes after a request are an error");
    tessera_writer_init(&w);
    tessera_put_type(&w, TESSERA_MSG_UNLOCK);
    tessera_put_string(&w, "");
    tessera_put_u32(&w, TESSERA_PIN_MAX + 1);
    for (unsigned i = 0; i <= TESSERA_PIN_MAX; i++)
        tessera_put_u8(&w, '1');
    tessera_put_u8(&w, 0);
    send_frame(fd, &w);
    tessera_writer_clear(&w);
    report(expect_error(fd, TESSERA_ERR_PROTOCOL) && still_serves(fd),
           "an oversized PIN is refused");
    /* ENROLL claiming more SANs than the protocol allows: no key is made. */
    tessera_writer_init(&w);
    tessera_put_type(&w, TESSERA_MSG_ENROLL);
    for (int i = 0; i < 5; i++) /* name, token, key, subject, ca */
        tessera_put_string(&w, "x");
    tessera_put_u32(&w, TESSERA_SANS_MAX + 1);
    send_frame(fd, &w);
    tessera_writer_clear(&w);
    report(expect_error(fd, TESSERA_ERR_PROTOCOL) && still_serves(fd),
           "an ENROLL with too many SANs is refused");
    /* RENEW with more than its name: refused, nothing renewed. */
    tessera_writer_init(&w);
    tessera_encode_name_request(&w, TESSERA_MSG_RENEW, "x");
    tessera_put_u32(&w, 1);
    send_frame(fd, &w);
    tessera_writer_clear(&w);
    report(expect_error(fd, TESSERA_ERR_PROTOCOL) && still_serves(fd),
           "a RENEW with trailing bytes is refused");
    /* SIGN naming its key by a hash that is not SHA-256. */
    uint8_t digest[32] = {0}, short_hash[20] = {0};
    struct tessera_sign_request sign = {
        .name = "x",
        .scheme = TESSERA_SIGN_ECDSA,
        .digest = TESSERA_DIGEST_SHA256,
        .input = {digest, sizeof(digest)},
        .key_hash = {short_hash, sizeof(short_hash)},
    };
    tessera_writer_init(&w);
    tessera_encode_sign(&w, &sign);
    send_frame(fd, &w);
    tessera_writer_clear(&w);
    report(expect_error(fd, TESSERA_ERR_PROTOCOL) && still_serves(fd),
           "a SIGN whose key hash is not 32 bytes is refused");
    close(fd);

    /* Random bytes: the agent answers or closes, and never hangs. */
    fd = greeted_connection();
    uint8_t noise[4096];
    srand(7);
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (uint8_t)rand();
    /* The first frame is 16 garbage bytes; what follows is anything. */
    memcpy(noise, "\0\0\0\x10", 4);
    send_raw(fd, noise, sizeof(noise));
    shutdown(fd, SHUT_WR);
    uint32_t code;
    int replies = 0;
    while (next_reply(fd, &code) == TESSERA_MSG_ERROR)
        replies++;
    report(replies > 0, "random bytes get error replies, then a close");
    close(fd);

    /* Half a frame, then gone: the agent must not wait forever on it. */
    fd = greeted_connection();
    send_raw(fd, "\0\0\1\0\x02", 5);
    close(fd);

    fd = greeted_connection();
    report(fd >= 0 && still_serves(fd), "the agent still serves afterwards");
    close(fd);
    printf("%d cases failed\n", failures);
    return failures ? 1 : 0;
}
