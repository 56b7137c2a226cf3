/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stable error codes carried in ERROR replies (never renumber them), and the
 * status every layer that can fail fills in: a code and a sentence.
 */
#ifndef TESSERA_ERRORS_H
#define TESSERA_ERRORS_H

enum tessera_error {
    TESSERA_OK = 0,
    TESSERA_ERR_PROTOCOL = 1,        /* malformed or unexpected message */
    TESSERA_ERR_VERSION = 2,         /* protocol version not spoken */
    TESSERA_ERR_NO_IDENTITY = 3,     /* no identity of that name or URI */
    TESSERA_ERR_TOKEN_ABSENT = 4,    /* the identity's token is not present */
    TESSERA_ERR_TOKEN_LOCKED = 5,    /* the token needs `tessera unlock` */
    TESSERA_ERR_MECHANISM = 6,       /* key or token cannot do that */
    TESSERA_ERR_PIN_INCORRECT = 7,   /* wrong PIN; not retried */
    TESSERA_ERR_PIN_LOCKED = 8,      /* the token blocked its PIN */
    TESSERA_ERR_PIN_FINAL_TRY = 9,   /* one try left; needs force */
    TESSERA_ERR_NO_TOKEN = 10,       /* no token matches */
    TESSERA_ERR_TOKEN_FAILED = 11,   /* the token reported an error */
    TESSERA_ERR_INVALID = 12,        /* an argument is not acceptable */
    TESSERA_ERR_EXISTS = 13,         /* the name is taken */
    TESSERA_ERR_INTERNAL = 14,       /* out of memory and the like */
    TESSERA_ERR_BUSY = 15,           /* too many clients */
    TESSERA_ERR_DENIED = 16,         /* the peer is not the agent's user */
    TESSERA_ERR_CA_REJECTED = 17,    /* the CA refused the request */
    TESSERA_ERR_CA_UNREACHABLE = 18, /* the CA could not be asked */
    TESSERA_ERR_CA_TIMEOUT = 19,     /* still pending when time ran out */
    TESSERA_ERR_CA_RESPONSE = 20,    /* the CA's answer is unusable */
    /* a renewal or enrolment of the identity is running */
    TESSERA_ERR_RENEWAL_RUNNING = 21,
    /* the user cancelled the PIN prompt or the confirmation */
    TESSERA_ERR_PROMPT_CANCELLED = 22,
    TESSERA_ERR_PROMPT_TIMEOUT = 23,  /* nobody answered the prompt in time */
    TESSERA_ERR_PROGRAM_REFUSED = 24, /* allow-programs does not name it */
    TESSERA_ERR_NOT_CONFIRMED = 25,   /* the user said no to the program */
    TESSERA_ERR_UNREACHABLE = 100,    /* client side: no agent to talk to */
    TESSERA_ERR_UNTRUSTED = 101,      /* client side: the socket is not ours */
};

/* A short, stable English name for a code, for logs and --json output. */
const char *tessera_error_name(int code);

/* An error code and the sentence a user reads. */
struct tessera_status {
    int code; /* enum tessera_error */
    char message[512];
};

void tessera_status_set(struct tessera_status *st, int code, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

#endif
