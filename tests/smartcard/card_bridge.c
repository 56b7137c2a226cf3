/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A smartcard for the tests: libcacard emulates a CAC card whose keys and
 * certificates live in an NSS database the test made, and this program
 * puts it into pcscd's virtual reader (vsmartcard's vpcd driver) over the
 * vpcd socket protocol: every message is a 2-byte big-endian length and a
 * payload; a 1-byte payload is a command (0 power off, 1 power on, 2 reset,
 * 4 send the ATR), anything longer is a command APDU whose response APDU
 * goes back the same way.
 *
 *   card_bridge NSSDB PORT CERT_NICKNAME...
 *
 * Runs until the reader closes the connection or a signal ends it: killing
 * the bridge is pulling the card out of the reader.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libcacard.h>

#define READER_NAME "Tessera Test Card"
#define MESSAGE_MAX 65536

enum vpcd_command {
    VPCD_POWER_OFF = 0,
    VPCD_POWER_ON = 1,
    VPCD_RESET = 2,
    VPCD_GET_ATR = 4,
};

static int
read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
send_message(int fd, const uint8_t *data, size_t len)
{
    uint8_t frame[2 + MESSAGE_MAX];
    if (len > MESSAGE_MAX - 1)
        return -1;
    frame[0] = (uint8_t)(len >> 8);
    frame[1] = (uint8_t)len;
    memcpy(frame + 2, data, len);
    return write(fd, frame, len + 2) == (ssize_t)(len + 2) ? 0 : -1;
}

/* vpcd listens once pcscd has loaded the driver: try for a while. */
static int
connect_reader(int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int attempt = 0; attempt < 200; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
            /* Without it each response waits for the delayed ACK (~40 ms). */
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            return fd;
        }
        close(fd);
        usleep(50000);
    }
    return -1;
}

static VReader *
start_card(const char *db, char **certs, int n_certs)
{
    char options[4096];
    int len =
        snprintf(options, sizeof(options),
                 "db=\"sql:%s\" use_hw=no soft=(," READER_NAME ",CAC,", db);
    for (int i = 0; i < n_certs && len < (int)sizeof(options); i++)
        len += snprintf(options + len, sizeof(options) - (size_t)len, ",%s",
                        certs[i]);
    if (len + 2 >= (int)sizeof(options))
        return NULL;
    strcat(options, ")");
    VCardEmulOptions *opts = vcard_emul_options(options);
    if (opts == NULL || vcard_emul_init(opts) != VCARD_EMUL_OK)
        return NULL;
    return vreader_get_reader_by_name(READER_NAME);
}

/* The card's ATR, read once: asking for it again must not reset the card. */
static uint8_t atr[64];
static int atr_len;

/* One command from the reader; -1 when the bridge should stop. */
static int
serve(int fd, VReader *reader)
{
    uint8_t header[2], in[MESSAGE_MAX], out[MESSAGE_MAX];
    if (read_full(fd, header, 2) < 0)
        return -1;
    size_t len = (size_t)header[0] << 8 | header[1];
    if (len == 0 || read_full(fd, in, len) < 0)
        return -1;
    int out_len = sizeof(out);
    if (len > 1) {
        if (vreader_xfr_bytes(reader, in, (int)len, out, &out_len) !=
            VREADER_OK)
            return -1;
        return send_message(fd, out, (size_t)out_len);
    }
    switch (in[0]) {
    case VPCD_POWER_OFF:
        vreader_power_off(reader);
        return 0;
    case VPCD_POWER_ON:
    case VPCD_RESET:
        return vreader_power_on(reader, out, &out_len) == VREADER_OK ? 0 : -1;
    case VPCD_GET_ATR:
        return send_message(fd, atr, (size_t)atr_len);
    default:
        fprintf(stderr, "card_bridge: unknown vpcd command %u\n", in[0]);
        return -1;
    }
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: card_bridge NSSDB PORT CERT_NICKNAME...\n");
        return 2;
    }
    VReader *reader = start_card(argv[1], argv + 3, argc - 3);
    atr_len = sizeof(atr);
    if (reader == NULL ||
        vreader_power_on(reader, atr, &atr_len) != VREADER_OK) {
        fprintf(stderr, "card_bridge: libcacard found no card in %s\n",
                argv[1]);
        return 1;
    }
    int fd = connect_reader(atoi(argv[2]));
    if (fd < 0) {
        fprintf(stderr, "card_bridge: no vpcd on port %s\n", argv[2]);
        return 1;
    }
    printf("card_bridge: card in the reader\n");
    fflush(stdout);
    while (serve(fd, reader) == 0)
        ;
    close(fd);
    vreader_free(reader);
    return 0;
}
