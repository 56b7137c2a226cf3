/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake agent for tessera-pkcs11.so: it greets like the agent (the
 * module's client checks who serves the socket and speaks HELLO), then
 * answers as no agent should. A mock, because a real agent never sends
 * these answers; the module must survive them all.
 *
 *   fake_agent SOCKET garbage DIR
 *       TOKENS is answered as below (so there are slots to work on); every
 *       other request gets the next of: a truncated page, an ERROR with
 *       code 0, a reply of the wrong type, a hang-up, a length over the
 *       frame bound
 *   fake_agent SOCKET hostile DIR
 *       well-formed frames with hostile content: identities whose
 *       certificate is not for their key, does not parse, or whose key is
 *       of no supported type; a token with a 1024-byte label; signatures
 *       of the wrong length. DIR holds the DER files it serves:
 *       good.crt good.spki ca.crt other.spki ed.crt ed.spki
 *
 * Serves one connection at a time until killed.
 */
#include "../../common/transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *dir;
static unsigned garbage_turn;

static struct tessera_blob
file(const char *name)
{
    char path[4096];
    struct tessera_blob b = {0};
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fake_agent: cannot read %s\n", path);
        exit(1);
    }
    b.data = malloc(TESSERA_DER_MAX);
    b.len = fread(b.data, 1, TESSERA_DER_MAX, f);
    fclose(f);
    return b;
}

static void
send_body(int fd, const struct tessera_writer *w)
{
    tessera_write_frame(fd, w->data, w->len);
}

/* --- garbage */

static bool
answer_garbage(int fd)
{
    struct tessera_writer w;
    tessera_writer_init(&w);
    switch (garbage_turn++ % 5) {
    case 0: /* a page whose count promises more than it holds */
        tessera_put_type(&w, TESSERA_MSG_LIST_REPLY);
        tessera_put_u32(&w, 5);
        tessera_put_u32(&w, 5);
        tessera_put_string(&w, "cut");
        break;
    case 1:
        tessera_encode_error(&w, 0, "no error at all");
        break;
    case 2:
        tessera_encode_blob_reply(&w, TESSERA_MSG_KEYGEN_REPLY, "x", 1);
        break;
    case 3:
        tessera_writer_clear(&w);
        return false;
    default: {
        uint8_t header[4];
        tessera_store_be32(header, TESSERA_FRAME_MAX + 1);
        send(fd, header, sizeof(header), MSG_NOSIGNAL);
        tessera_writer_clear(&w);
        return false;
    }
    }
    send_body(fd, &w);
    tessera_writer_clear(&w);
    return true;
}

/* --- hostile */

#define TOKEN "Fake Token"

static struct tessera_identity_summary
summary(const char *name, const char *token, uint8_t key_type)
{
    static uint8_t id[] = {0xde, 0xad};
    return (struct tessera_identity_summary){
        .name = (char *)name,
        .token_label = (char *)token,
        .token_manufacturer = "Fake",
        .token_model = "Fake",
        .token_serial = "1",
        .key_id = {id, sizeof(id)},
        .key_label = (char *)name,
        .key_type = key_type,
        .key_bits = 256,
        .flags = TESSERA_ID_HAS_CERT | TESSERA_ID_TOKEN_PRESENT |
                 TESSERA_ID_LOGGED_IN,
        .subject = "CN=fake",
        .not_after = 4102444800u,
        .renewal_error = "",
    };
}

static char long_label[TESSERA_STRING_MAX + 1];

static const char *const names[] = {"good",   "mismatch", "badcert",
                                    "badkey", "edkey",    "elsewhere"};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

/* What GET_IDENTITY says of each name. */
static void
identity(const char *name, struct tessera_identity *id)
{
    memset(id, 0, sizeof(*id));
    id->summary = summary(name, strcmp(name, "elsewhere") ? TOKEN : "Nowhere",
                          TESSERA_KEY_EC);
    bool ed = strcmp(name, "edkey") == 0;
    id->spki = file(strcmp(name, "mismatch") == 0 ? "other.spki"
                    : ed                          ? "ed.spki"
                                                  : "good.spki");
    if (strcmp(name, "badkey") == 0)
        id->spki.data[id->spki.len / 2] ^= 0xff;
    id->n_certs = 2;
    id->certs[0] = file(ed ? "ed.crt" : "good.crt");
    id->certs[1] = file("ca.crt");
    if (strcmp(name, "badcert") == 0)
        id->certs[0].len /= 2;
}

static void
answer_hostile(int fd, uint8_t type, struct tessera_reader *r)
{
    struct tessera_writer w;
    struct tessera_page page;
    tessera_writer_init(&w);
    switch (type) {
    case TESSERA_MSG_TOKENS: {
        struct tessera_token_info tokens[] = {
            {TOKEN, "Fake", "Fake", "1", "fake",
             TESSERA_TOKEN_PRESENT | TESSERA_TOKEN_LOGGED_IN |
                 TESSERA_TOKEN_LOGIN_REQUIRED},
            {long_label, long_label, long_label, long_label, "fake",
             TESSERA_TOKEN_PRESENT | TESSERA_TOKEN_LOGIN_REQUIRED},
        };
        tessera_begin_tokens_reply(&w, 2, &page);
        for (size_t i = 0; i < 2; i++)
            tessera_add_tokens_entry(&w, &page, &tokens[i]);
        break;
    }
    case TESSERA_MSG_LIST:
        tessera_begin_list_reply(&w, N_NAMES, &page);
        for (size_t i = 0; i < N_NAMES; i++) {
            struct tessera_identity id;
            identity(names[i], &id);
            tessera_add_list_entry(&w, &page, &id.summary);
            tessera_blob_clear(&id.spki);
            for (size_t j = 0; j < id.n_certs; j++)
                tessera_blob_clear(&id.certs[j]);
        }
        break;
    case TESSERA_MSG_GET_IDENTITY: {
        char *name = tessera_get_string(r);
        struct tessera_identity id;
        identity(name != NULL ? name : "good", &id);
        tessera_encode_identity(&w, &id);
        tessera_blob_clear(&id.spki);
        for (size_t j = 0; j < id.n_certs; j++)
            tessera_blob_clear(&id.certs[j]);
        free(name);
        break;
    }
    case TESSERA_MSG_SIGN: /* P-256 signatures are 64 bytes */
        tessera_encode_blob_reply(&w, TESSERA_MSG_SIGN_REPLY, "short", 5);
        break;
    case TESSERA_MSG_UNLOCK:
        tessera_encode_error(&w, TESSERA_ERR_PIN_INCORRECT, "wrong PIN");
        break;
    default:
        tessera_encode_error(&w, TESSERA_ERR_PROTOCOL, "not faked");
    }
    send_body(fd, &w);
    tessera_writer_clear(&w);
}

static void
serve(int fd, bool garbage)
{
    uint8_t *body;
    size_t len;
    while (tessera_read_frame(fd, &body, &len) == 0) {
        struct tessera_reader r;
        tessera_reader_init(&r, body, len);
        uint8_t type = tessera_get_u8(&r);
        bool more = true;
        if (type == TESSERA_MSG_HELLO) {
            struct tessera_writer w;
            tessera_writer_init(&w);
            tessera_encode_hello_reply(&w, TESSERA_PROTOCOL_VERSION, "fake");
            send_body(fd, &w);
            tessera_writer_clear(&w);
        } else if (garbage && type != TESSERA_MSG_TOKENS) {
            more = answer_garbage(fd);
        } else {
            answer_hostile(fd, type, &r);
        }
        free(body);
        if (!more)
            break;
    }
    close(fd);
}

int
main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fake_agent SOCKET garbage|hostile DIR\n");
        return 2;
    }
    bool garbage = strcmp(argv[2], "garbage") == 0;
    dir = argv[3];
    /* Multi-byte characters to the bound: a field cut must not split one. */
    for (size_t i = 0; i + 2 <= TESSERA_STRING_MAX; i += 2)
        memcpy(long_label + i, "\xc3\xa9", 2);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(argv[1]);
    if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(listener, 16) < 0) {
        perror("fake_agent");
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0 && errno != EINTR)
            return 1;
        if (fd >= 0)
            serve(fd, garbage);
    }
}
