/* SPDX-License-Identifier: Apache-2.0 */
/* tessera: the command line for the Tessera agent. */
#include "doctor.h"
#include "../common/errors.h"
#include "../common/keyref.h"
#include "../common/keyspec.h"
#include "../common/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum exit_code {
    EXIT_OK = 0,
    EXIT_FAILED = 1,      /* the agent refused or the operation failed */
    EXIT_USAGE = 2,       /* the command line is wrong */
    EXIT_UNREACHABLE = 3, /* no agent to talk to */
    /* enroll: why the CA gave no certificate */
    EXIT_CA_REJECTED = 4,    /* the CA refused; asking again will not help */
    EXIT_CA_UNREACHABLE = 5, /* the CA could not be asked */
    EXIT_CA_TIMEOUT = 6,     /* still pending when --timeout ran out */
    EXIT_CA_RESPONSE = 7,    /* the CA's answer was unusable */
};

static const char *socket_override;

static int
fail(const struct tessera_status *st)
{
    fprintf(stderr, "tessera: %s\n", st->message);
    switch (st->code) {
    case TESSERA_ERR_UNREACHABLE:
        return EXIT_UNREACHABLE;
    case TESSERA_ERR_CA_REJECTED:
        return EXIT_CA_REJECTED;
    case TESSERA_ERR_CA_UNREACHABLE:
        return EXIT_CA_UNREACHABLE;
    case TESSERA_ERR_CA_TIMEOUT:
        return EXIT_CA_TIMEOUT;
    case TESSERA_ERR_CA_RESPONSE:
        return EXIT_CA_RESPONSE;
    default:
        return EXIT_FAILED;
    }
}

static int
usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "tessera: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nRun `tessera --help` for usage.\n");
    return EXIT_USAGE;
}

static int
connect_agent(struct tessera_status *st)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (socket_override != NULL) {
        if (strlen(socket_override) >= sizeof(path)) {
            tessera_status_set(st, TESSERA_ERR_UNREACHABLE,
                               "the socket path is too long");
            return -1;
        }
        strcpy(path, socket_override);
    } else if (!tessera_socket_path(path, sizeof(path), st)) {
        return -1;
    }
    return tessera_connect(path, st);
}

/* One request, one reply, on a fresh connection. */
static int
request(const struct tessera_writer *req, enum tessera_msg expect,
        struct tessera_reply *reply, struct tessera_status *st)
{
    memset(reply, 0, sizeof(*reply));
    int fd = connect_agent(st);
    if (fd < 0)
        return -1;
    int rc = tessera_call(fd, req, expect, 0, reply, st);
    close(fd);
    return rc;
}

static void
format_time(uint64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t == 0 || gmtime_r(&tt, &tm) == NULL)
        snprintf(buf, size, "-");
    else
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void
print_identity(const struct tessera_identity_summary *s, bool json, bool first)
{
    char when[32], next[32];
    char key[32];
    format_time(s->not_after, when, sizeof(when));
    format_time(s->next_renewal, next, sizeof(next));
    tessera_key_label(s->key_type, s->key_bits, key, sizeof(key));
    const char *renewal = tessera_renewal_state_name(s->renewal_state);
    char token[TESSERA_STRING_MAX + 16];
    snprintf(token, sizeof(token), "%s%s", s->token_label,
             (s->flags & TESSERA_ID_TOKEN_READ_ONLY) ? " (read-only)" : "");
    if (!json) {
        printf("%-20s %-16s %-9s %-20s %-12s %-17s %-20s %s\n", s->name, token,
               key, when, tessera_identity_state(s, (uint64_t)time(NULL)),
               renewal, s->next_renewal ? next : "-",
               s->subject[0] ? s->subject : "-");
        if (s->renewal_error[0] != '\0')
            printf("  last renewal error: %s\n", s->renewal_error);
        return;
    }
    printf("%s\n  {\"name\": ", first ? "" : ",");
    json_string(s->name);
    printf(", \"token\": ");
    json_string(s->token_label);
    printf(", \"token_read_only\": %s",
           (s->flags & TESSERA_ID_TOKEN_READ_ONLY) ? "true" : "false");
    printf(", \"key_type\": ");
    json_string(tessera_key_type_name(s->key_type));
    printf(", \"key_bits\": %u, \"subject\": ", s->key_bits);
    json_string(s->subject);
    printf(", \"not_after\": ");
    if (s->not_after)
        json_string(when);
    else
        printf("null");
    printf(", \"state\": ");
    json_string(tessera_identity_state(s, (uint64_t)time(NULL)));
    printf(", \"renewal\": ");
    json_string(renewal);
    printf(", \"next_renewal\": ");
    if (s->next_renewal)
        json_string(next);
    else
        printf("null");
    printf(", \"renewal_error\": ");
    json_string(s->renewal_error);
    printf(", \"uri\": ");
    char uri[TESSERA_STRING_MAX + 16];
    snprintf(uri, sizeof(uri), "tessera:%s", s->name);
    json_string(uri);
    printf("}");
}

static int
cmd_list(int argc, char **argv)
{
    bool json = false;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
        if (c != 'j')
            return EXIT_USAGE;
        json = true;
    }
    struct tessera_status st = {0};
    int fd = connect_agent(&st);
    if (fd < 0)
        return fail(&st);
    if (json)
        printf("[");
    else
        printf("%-20s %-16s %-9s %-20s %-12s %-17s %-20s %s\n", "NAME", "TOKEN",
               "KEY", "NOT-AFTER", "STATE", "RENEWAL", "NEXT-RENEWAL",
               "SUBJECT");
    uint32_t start = 0, total = 0;
    int rc = EXIT_OK;
    do {
        struct tessera_writer w;
        struct tessera_reply reply;
        tessera_writer_init(&w);
        tessera_encode_list(&w, start);
        if (tessera_call(fd, &w, TESSERA_MSG_LIST_REPLY, 0, &reply, &st) < 0) {
            rc = fail(&st);
            total = 0;
        } else {
            total = tessera_get_u32(&reply.reader);
            uint32_t count = tessera_get_u32(&reply.reader);
            for (uint32_t i = 0; i < count; i++) {
                struct tessera_identity_summary s;
                if (!tessera_get_identity_summary(&reply.reader, &s))
                    break;
                print_identity(&s, json, start + i == 0);
                tessera_identity_summary_clear(&s);
            }
            if (!tessera_reader_done(&reply.reader) || count == 0) {
                fprintf(stderr, "tessera: the agent sent a malformed list\n");
                rc = EXIT_FAILED;
                total = 0;
            }
            start += count;
        }
        tessera_reply_clear(&reply);
        tessera_writer_clear(&w);
    } while (start < total);
    if (json)
        printf("%s]\n", start ? "\n" : "");
    close(fd);
    return rc;
}

static void
describe_token_flags(uint32_t flags, char *buf, size_t size)
{
    if (!(flags & TESSERA_TOKEN_PRESENT)) {
        snprintf(buf, size, "absent");
        return;
    }
    snprintf(buf, size, "%s%s%s%s",
             (flags & TESSERA_TOKEN_LOGGED_IN)        ? "unlocked"
             : (flags & TESSERA_TOKEN_LOGIN_REQUIRED) ? "locked"
                                                      : "no login",
             (flags & TESSERA_TOKEN_PIN_LOCKED) ? ",pin-blocked" : "",
             (flags & TESSERA_TOKEN_PIN_FINAL_TRY)   ? ",pin-final-try"
             : (flags & TESSERA_TOKEN_PIN_COUNT_LOW) ? ",pin-count-low"
                                                     : "",
             (flags & TESSERA_TOKEN_WRITE_PROTECTED) ? ",read-only" : "");
}

static int
cmd_tokens(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return usage_error("tokens takes no arguments%s", "");
    struct tessera_writer w;
    struct tessera_reply reply;
    struct tessera_status st = {0};
    tessera_writer_init(&w);
    tessera_put_type(&w, TESSERA_MSG_TOKENS);
    int rc = EXIT_OK;
    if (request(&w, TESSERA_MSG_TOKENS_REPLY, &reply, &st) < 0) {
        rc = fail(&st);
    } else {
        uint32_t count = tessera_get_u32(&reply.reader);
        printf("%-20s %-20s %-16s %-18s %-24s %s\n", "LABEL", "MANUFACTURER",
               "MODEL", "SERIAL", "STATE", "MODULE");
        for (uint32_t i = 0; i < count; i++) {
            struct tessera_token_info t;
            char state[96];
            if (!tessera_get_token_info(&reply.reader, &t))
                break;
            describe_token_flags(t.flags, state, sizeof(state));
            printf("%-20s %-20s %-16s %-18s %-24s %s\n", t.label,
                   t.manufacturer, t.model, t.serial, state, t.module);
            tessera_token_info_clear(&t);
        }
        if (!tessera_reader_done(&reply.reader)) {
            fprintf(stderr, "tessera: the agent sent a malformed token list\n");
            rc = EXIT_FAILED;
        }
    }
    tessera_reply_clear(&reply);
    tessera_writer_clear(&w);
    return rc;
}

/* Reads one line into buf without echo; the caller wipes buf. */
static int
prompt_pin(const char *token, char *buf, size_t size)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "tessera: no terminal to ask for the PIN; use "
                        "--pin-file\n");
        return -1;
    }
    struct termios saved, quiet;
    bool restore = tcgetattr(fd, &saved) == 0;
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    if (restore)
        tcsetattr(fd, TCSANOW, &quiet);
    dprintf(fd, "PIN for token %s: ", token[0] ? token : "(the only one)");
    size_t len = 0;
    char ch;
    ssize_t n;
    while ((n = read(fd, &ch, 1)) == 1 && ch != '\n' && ch != '\r') {
        if (len + 1 < size)
            buf[len++] = ch;
    }
    buf[len] = '\0';
    ch = 0;
    if (restore)
        tcsetattr(fd, TCSANOW, &saved);
    dprintf(fd, "\n");
    close(fd);
    return n < 0 ? -1 : (int)len;
}

static int
read_pin_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        fprintf(stderr, "tessera: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* The file is only read, never kept: no buffering copies of the PIN. */
    setvbuf(f, NULL, _IONBF, 0);
    bool got = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (!got) {
        buf[0] = '\0';
        return 0;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    return (int)strlen(buf);
}

/* Whether TOKEN (a label, or "" for the only token) has a PIN pad. */
static bool
has_pin_pad(const char *token)
{
    struct tessera_writer w;
    struct tessera_reply reply;
    struct tessera_status st = {0};
    bool pad = false;
    tessera_writer_init(&w);
    tessera_put_type(&w, TESSERA_MSG_TOKENS);
    if (request(&w, TESSERA_MSG_TOKENS_REPLY, &reply, &st) == 0) {
        uint32_t count = tessera_get_u32(&reply.reader);
        for (uint32_t i = 0; i < count; i++) {
            struct tessera_token_info t;
            if (!tessera_get_token_info(&reply.reader, &t))
                break;
            if ((token[0] == '\0' ? count == 1 : strcmp(t.label, token) == 0) &&
                (t.flags & TESSERA_TOKEN_PROTECTED_PATH))
                pad = true;
            tessera_token_info_clear(&t);
        }
    }
    tessera_reply_clear(&reply);
    tessera_writer_clear(&w);
    return pad;
}

static int
cmd_unlock(int argc, char **argv)
{
    const char *pin_file = NULL;
    bool force = false;
    static const struct option opts[] = {
        {"pin-file", required_argument, NULL, 'p'},
        {"force", no_argument, NULL, 'F'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "p:", opts, NULL)) != -1) {
        if (c == 'p')
            pin_file = optarg;
        else if (c == 'F')
            force = true;
        else
            return EXIT_USAGE;
    }
    if (argc - optind > 1)
        return usage_error("unlock takes at most one token, not %s",
                           argv[optind + 1]);
    const char *token = optind < argc ? argv[optind] : "";
    /* The PIN passes through this process: no core dump may keep it. */
    prctl(PR_SET_DUMPABLE, 0);
    char pin[TESSERA_PIN_MAX + 1];
    int len = 0;
    if (pin_file != NULL)
        len = read_pin_file(pin_file, pin, sizeof(pin));
    else if (has_pin_pad(token))
        fprintf(stderr, "tessera: enter the PIN on the token's PIN pad\n");
    else
        len = prompt_pin(token, pin, sizeof(pin));
    if (len < 0)
        return EXIT_FAILED;
    struct tessera_unlock_request req = {
        .token = (char *)token,
        .pin = {(uint8_t *)pin, (size_t)len},
        .force = force,
    };
    struct tessera_writer w;
    struct tessera_reply reply;
    struct tessera_status st = {0};
    tessera_writer_init(&w);
    tessera_encode_unlock(&w, &req);
    OPENSSL_cleanse(pin, sizeof(pin));
    int rc =
        request(&w, TESSERA_MSG_OK, &reply, &st) == 0 ? EXIT_OK : fail(&st);
    tessera_writer_clear(&w);
    tessera_reply_clear(&reply);
    if (rc == EXIT_OK)
        printf("unlocked%s%s\n", token[0] ? " " : "", token);
    return rc;
}

static int
cmd_lock(int argc, char **argv)
{
    if (argc > 2)
        return usage_error("lock takes at most one token, not %s", argv[2]);
    const char *token = argc > 1 ? argv[1] : "";
    struct tessera_writer w;
    struct tessera_reply reply;
    struct tessera_status st = {0};
    tessera_writer_init(&w);
    tessera_encode_name_request(&w, TESSERA_MSG_LOCK, token);
    int rc =
        request(&w, TESSERA_MSG_OK, &reply, &st) == 0 ? EXIT_OK : fail(&st);
    tessera_writer_clear(&w);
    tessera_reply_clear(&reply);
    return rc;
}

static int
write_csr(const struct tessera_blob *der, const char *out)
{
    const unsigned char *p = der->data;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)der->len);
    FILE *f = out ? fopen(out, "we") : stdout;
    int ok = req != NULL && f != NULL && PEM_write_X509_REQ(f, req);
    if (f != NULL && f != stdout)
        ok = fclose(f) == 0 && ok;
    X509_REQ_free(req);
    if (!ok)
        fprintf(stderr, "tessera: cannot write the CSR%s%s\n",
                out ? " to " : "", out ? out : "");
    return ok ? EXIT_OK : EXIT_FAILED;
}

static int
cmd_keygen(int argc, char **argv)
{
    struct tessera_keygen_request req = {.key_spec = "ec-p256"};
    const char *out = NULL;
    static const struct option opts[] = {
        {"token", required_argument, NULL, 't'},
        {"key", required_argument, NULL, 'k'},
        {"subject", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "t:k:s:o:", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            req.token = optarg;
            break;
        case 'k':
            req.key_spec = optarg;
            break;
        case 's':
            req.subject = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return usage_error("keygen needs exactly one NAME%s", "");
    if (req.token == NULL || req.subject == NULL)
        return usage_error("keygen needs --token and --subject%s", "");
    struct tessera_keyspec spec;
    if (!tessera_keyspec_parse(req.key_spec, &spec))
        return usage_error("unknown key type %s: use ec-p256, ec-p384, "
                           "rsa2048, rsa3072, rsa4096 or ed25519",
                           req.key_spec);
    req.name = argv[optind];
    struct tessera_writer w;
    struct tessera_reply reply;
    struct tessera_status st = {0};
    struct tessera_blob csr = {0};
    tessera_writer_init(&w);
    tessera_encode_keygen(&w, &req);
    int rc;
    if (request(&w, TESSERA_MSG_KEYGEN_REPLY, &reply, &st) < 0)
        rc = fail(&st);
    else if (!tessera_decode_blob_reply(&reply.reader, TESSERA_DER_MAX, &csr))
        rc = usage_error("the agent sent a malformed CSR%s", "");
    else
        rc = write_csr(&csr, out);
    tessera_blob_clear(&csr);
    tessera_reply_clear(&reply);
    tessera_writer_clear(&w);
    return rc;
}

static void
print_certified(const char *what, const char *name,
                const struct tessera_blob *der)
{
    const unsigned char *p = der->data;
    X509 *x = d2i_X509(NULL, &p, (long)der->len);
    char *subject =
        x ? X509_NAME_oneline(X509_get_subject_name(x), NULL, 0) : NULL;
    char *issuer =
        x ? X509_NAME_oneline(X509_get_issuer_name(x), NULL, 0) : NULL;
    BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);
    BIO_printf(out, "%s %s\n  subject %s\n  issuer  %s\n  expires ", what, name,
               subject ? subject : "?", issuer ? issuer : "?");
    if (x != NULL)
        ASN1_TIME_print(out, X509_get0_notAfter(x));
    BIO_printf(out, "\n");
    BIO_free(out);
    OPENSSL_free(subject);
    OPENSSL_free(issuer);
    X509_free(x);
}

/* Ctrl-C while the CA says pending: the agent sees the hang-up, stops
 * asking and removes the new key; say so on the way out. (The same for a
 * renewal: its new key goes, the current one stays.) */
static void
on_enroll_interrupt(int sig)
{
    static const char message[] =
        "\ntessera: interrupted; the agent stops asking the CA and removes "
        "the new key\n";
    (void)sig;
    ssize_t ignored = write(STDERR_FILENO, message, sizeof(message) - 1);
    (void)ignored;
    _exit(130);
}

/* Sends an ENROLL or RENEW and prints the certificate it brings back. */
static int
certificate_request(struct tessera_writer *w, uint8_t expect, const char *what,
                    const char *name)
{
    struct tessera_reply reply;
    struct tessera_status st = {0};
    struct tessera_blob leaf = {0};
    int rc = EXIT_OK;
    if (request(w, expect, &reply, &st) < 0)
        rc = fail(&st);
    else if (!tessera_decode_blob_reply(&reply.reader, TESSERA_DER_MAX, &leaf))
        rc = usage_error("the agent sent a malformed certificate%s", "");
    else
        print_certified(what, name, &leaf);
    tessera_blob_clear(&leaf);
    tessera_reply_clear(&reply);
    tessera_writer_clear(w);
    return rc;
}

static int
cmd_enroll(int argc, char **argv)
{
    /* No --key: the CA profile's key=, else the protocol's default. */
    struct tessera_enroll_request req = {.key = {.key_spec = ""},
                                         .timeout_seconds = 300};
    static const struct option opts[] = {
        {"token", required_argument, NULL, 't'},
        {"ca", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"subject", required_argument, NULL, 's'},
        {"san", required_argument, NULL, 'a'},
        {"timeout", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0}};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "t:c:k:s:a:T:", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            req.key.token = optarg;
            break;
        case 'c':
            req.ca = optarg;
            break;
        case 'k':
            req.key.key_spec = optarg;
            break;
        case 's':
            req.key.subject = optarg;
            break;
        case 'a':
            if (req.n_sans == TESSERA_SANS_MAX)
                return usage_error("at most %s --san options", "16");
            req.sans[req.n_sans++] = optarg;
            break;
        case 'T':
            req.timeout_seconds = (uint32_t)strtoul(optarg, &end, 10);
            if (*end != '\0' || req.timeout_seconds == 0 ||
                req.timeout_seconds > 86400)
                return usage_error("--timeout %s: give 1 to 86400 seconds",
                                   optarg);
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return usage_error("enroll needs exactly one NAME%s", "");
    if (req.key.token == NULL || req.ca == NULL || req.key.subject == NULL)
        return usage_error("enroll needs --token, --ca and --subject%s", "");
    req.key.name = argv[optind];
    fprintf(stderr,
            "tessera: enrolling %s with CA %s (waiting up to %u s if the CA "
            "says pending)\n",
            req.key.name, req.ca, req.timeout_seconds);
    struct tessera_writer w;
    signal(SIGINT, on_enroll_interrupt);
    signal(SIGTERM, on_enroll_interrupt);
    tessera_writer_init(&w);
    tessera_encode_enroll(&w, &req);
    return certificate_request(&w, TESSERA_MSG_ENROLL_REPLY, "enrolled",
                               req.key.name);
}

static int
cmd_renew(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-')
        return usage_error("renew needs exactly one NAME%s", "");
    const char *name = argv[1];
    fprintf(stderr,
            "tessera: renewing %s with the CA it was enrolled with; the agent "
            "logs each step\n",
            name);
    struct tessera_writer w;
    signal(SIGINT, on_enroll_interrupt);
    signal(SIGTERM, on_enroll_interrupt);
    tessera_writer_init(&w);
    tessera_encode_name_request(&w, TESSERA_MSG_RENEW, name);
    return certificate_request(&w, TESSERA_MSG_RENEW_REPLY, "renewed", name);
}

/* Appends every certificate of a PEM file, as DER, to the request. */
static bool
read_certificates(const char *path, struct tessera_import_request *req)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        fprintf(stderr, "tessera: cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    X509 *x;
    size_t before = req->n_certs;
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        unsigned char *der = NULL;
        int len = i2d_X509(x, &der);
        X509_free(x);
        if (req->n_certs == TESSERA_CHAIN_MAX || len <= 0) {
            OPENSSL_free(der);
            fprintf(stderr, "tessera: %s: more than %u certificates\n", path,
                    TESSERA_CHAIN_MAX);
            fclose(f);
            return false;
        }
        tessera_blob_copy(&req->certs[req->n_certs++],
                          (struct tessera_bytes){der, (size_t)len});
        OPENSSL_free(der);
    }
    ERR_clear_error();
    fclose(f);
    if (req->n_certs == before) {
        fprintf(stderr, "tessera: %s holds no PEM certificate\n", path);
        return false;
    }
    return true;
}

static int
cmd_import(int argc, char **argv)
{
    const char *cert = NULL, *chain = NULL;
    static const struct option opts[] = {
        {"cert", required_argument, NULL, 'c'},
        {"chain", required_argument, NULL, 'C'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
        if (c == 'c')
            cert = optarg;
        else if (c == 'C')
            chain = optarg;
        else
            return EXIT_USAGE;
    }
    if (argc - optind != 1 || cert == NULL)
        return usage_error("import needs one NAME and --cert FILE%s", "");
    struct tessera_import_request req = {.name = argv[optind]};
    int rc = EXIT_FAILED;
    if (read_certificates(cert, &req) &&
        (chain == NULL || read_certificates(chain, &req))) {
        struct tessera_writer w;
        struct tessera_reply reply;
        struct tessera_status st = {0};
        tessera_writer_init(&w);
        tessera_encode_import(&w, &req);
        rc =
            request(&w, TESSERA_MSG_OK, &reply, &st) == 0 ? EXIT_OK : fail(&st);
        tessera_reply_clear(&reply);
        tessera_writer_clear(&w);
    }
    req.name = NULL;
    tessera_import_request_clear(&req);
    return rc;
}

/* Writes a file whole or not at all: a temp file renamed into place. */
static bool
write_atomically(const char *path, bool (*fill)(FILE *f, const void *arg),
                 const void *arg)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
        return false;
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    bool ok = f != NULL && fchmod(fd, 0644) == 0 && fill(f, arg) &&
              fflush(f) == 0 && fsync(fd) == 0;
    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    else if (fd >= 0)
        close(fd);
    if (ok && rename(tmp, path) == 0)
        return true;
    fprintf(stderr, "tessera: cannot write %s: %s\n", path, strerror(errno));
    if (fd >= 0)
        unlink(tmp);
    return false;
}

static bool
fill_keyref(FILE *f, const void *arg)
{
    const struct tessera_identity *id = arg;
    uint8_t der[TESSERA_KEYREF_DER_MAX];
    size_t len;
    return tessera_keyref_encode(id->summary.name, id->spki.data, id->spki.len,
                                 der, sizeof(der), &len) &&
           PEM_write(f, TESSERA_KEYREF_PEM_NAME, "", der, (long)len);
}

struct cert_range {
    const struct tessera_identity *id;
    size_t first, end;
};

static bool
fill_certs(FILE *f, const void *arg)
{
    const struct cert_range *range = arg;
    bool ok = true;
    for (size_t i = range->first; ok && i < range->end; i++) {
        const unsigned char *p = range->id->certs[i].data;
        X509 *x = d2i_X509(NULL, &p, (long)range->id->certs[i].len);
        ok = x != NULL && PEM_write_X509(f, x);
        X509_free(x);
    }
    return ok;
}

static int
export_files(const struct tessera_identity *id, const char *key_ref,
             const char *cert, const char *chain)
{
    const char *name = id->summary.name;
    if ((cert != NULL || chain != NULL) && id->n_certs == 0) {
        fprintf(stderr,
                "tessera: identity %s has no certificate yet; "
                "import one first\n",
                name);
        return EXIT_FAILED;
    }
    struct cert_range leaf = {id, 0, 1}, rest = {id, 1, id->n_certs};
    if ((key_ref != NULL && !write_atomically(key_ref, fill_keyref, id)) ||
        (cert != NULL && !write_atomically(cert, fill_certs, &leaf)) ||
        (chain != NULL && !write_atomically(chain, fill_certs, &rest)))
        return EXIT_FAILED;
    return EXIT_OK;
}

static int
cmd_export(int argc, char **argv)
{
    const char *key_ref = NULL, *cert = NULL, *chain = NULL;
    static const struct option opts[] = {
        {"key-ref", required_argument, NULL, 'k'},
        {"cert", required_argument, NULL, 'c'},
        {"chain", required_argument, NULL, 'C'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "k:c:", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key_ref = optarg;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'C':
            chain = optarg;
            break;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1 || (!key_ref && !cert && !chain))
        return usage_error("export needs one NAME and at least one of "
                           "--key-ref, --cert, --chain%s",
                           "");
    struct tessera_writer w;
    struct tessera_reply reply;
    struct tessera_status st = {0};
    struct tessera_identity id;
    int rc;
    tessera_writer_init(&w);
    tessera_encode_name_request(&w, TESSERA_MSG_GET_IDENTITY, argv[optind]);
    if (request(&w, TESSERA_MSG_IDENTITY_REPLY, &reply, &st) < 0) {
        rc = fail(&st);
    } else if (!tessera_decode_identity(&reply.reader, &id)) {
        fprintf(stderr, "tessera: the agent sent a malformed identity\n");
        rc = EXIT_FAILED;
    } else {
        rc = export_files(&id, key_ref, cert, chain);
        tessera_identity_clear(&id);
    }
    tessera_reply_clear(&reply);
    tessera_writer_clear(&w);
    return rc;
}

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;
} commands[] = {
    {"list", cmd_list,
     "list [--json]\n      identities: name, token, key, "
     "expiry, state, subject"},
    {"tokens", cmd_tokens,
     "tokens\n      tokens the agent sees, and whether "
     "they are unlocked"},
    {"unlock", cmd_unlock,
     "unlock [TOKEN] [--pin-file FILE] [--force]\n      log the agent into a "
     "token (label or pkcs11: URI); the PIN is asked\n      on the terminal "
     "without echo. --force spends a token's final PIN try"},
    {"lock", cmd_lock,
     "lock [TOKEN]\n      log the agent out of one token, "
     "or of all"},
    {"enroll", cmd_enroll,
     "enroll NAME --token URI --ca PROFILE --subject DN [--san KIND:VALUE]...\n"
     "       [--key SPEC] [--timeout SECONDS]\n"
     "      generate a key on the token, have the CA profile's protocol\n"
     "      (local, exec, acme, scep) certify it, verify and store the\n"
     "      certificate; KIND: dns, email, uri, ip, upn. SPEC defaults to\n"
     "      the profile's key= (ec-p256; rsa2048 for scep). Exit 4\n"
     "      rejected, 5 CA unreachable, 6 still pending at the timeout,\n"
     "      7 unusable answer"},
    {"renew", cmd_renew,
     "renew NAME\n      renew an enrolled identity now, through the CA it was\n"
     "      enrolled with (a new key unless rekey=false); the agent renews\n"
     "      on its own before expiry. Exit status as for enroll"},
    {"keygen", cmd_keygen,
     "keygen NAME --token URI --subject DN [--key SPEC] [--out FILE]\n"
     "      generate a non-extractable key on a token and print its CSR;\n"
     "      SPEC: ec-p256 (default), ec-p384, rsa2048, rsa3072, rsa4096,\n"
     "      ed25519 (where the token offers CKM_EDDSA)"},
    {"import", cmd_import,
     "import NAME --cert FILE [--chain FILE]\n      store "
     "the issued certificate beside the key NAME"},
    {"doctor", cmd_doctor,
     "doctor [NAME] [--cert FILE --key FILE]\n"
     "      check what OpenSSL programs need, one line each with the fix:\n"
     "      OPENSSL_CONF, the provider and its order, the agent, each\n"
     "      identity's token, certificate and chain, and a key-reference\n"
     "      file with its certificate file. Exit 0 only when all is well"},
    {"export", cmd_export,
     "export NAME [--key-ref FILE] [--cert FILE] [--chain FILE]\n"
     "      write a key-reference file (a PEM block naming the identity, for\n"
     "      programs that take a key file) and the certificate and chain"},
};

static void
print_help(FILE *out)
{
    fprintf(out,
            "Usage: tessera [--socket PATH] COMMAND [ARGS]\n\n"
            "Controls the Tessera agent, which keeps client-certificate keys "
            "on PKCS#11\ntokens. OpenSSL programs use its identities as "
            "tessera:NAME through the\ntessera provider.\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %s\n", commands[i].synopsis);
    fprintf(out,
            "\nOptions:\n"
            "  --socket PATH  the agent's socket (default: $TESSERA_SOCKET, "
            "else\n                 $XDG_RUNTIME_DIR/tessera/agent.sock)\n"
            "  --help, --version\n\n"
            "Exit status: 0 success, 1 the operation failed, 2 usage error, "
            "3 no agent.\n");
}

int
main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("tessera %s\n", TESSERA_VERSION);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
            socket_override = argv[++i];
            continue;
        }
        return usage_error("unknown option %s", argv[i]);
    }
    if (i == argc) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        if (strcmp(argv[i], commands[c].name) == 0)
            return commands[c].run(argc - i, argv + i);
    }
    return usage_error("unknown command %s", argv[i]);
}
