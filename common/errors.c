/* SPDX-License-Identifier: Apache-2.0 */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>

void
tessera_status_set(struct tessera_status *st, int code, const char *fmt, ...)
{
    va_list ap;
    st->code = code;
    va_start(ap, fmt);
    vsnprintf(st->message, sizeof(st->message), fmt, ap);
    va_end(ap);
}

const char *
tessera_error_name(int code)
{
    switch (code) {
    case TESSERA_OK:
        return "ok";
    case TESSERA_ERR_PROTOCOL:
        return "protocol";
    case TESSERA_ERR_VERSION:
        return "version";
    case TESSERA_ERR_NO_IDENTITY:
        return "no-identity";
    case TESSERA_ERR_TOKEN_ABSENT:
        return "token-absent";
    case TESSERA_ERR_TOKEN_LOCKED:
        return "token-locked";
    case TESSERA_ERR_MECHANISM:
        return "mechanism";
    case TESSERA_ERR_PIN_INCORRECT:
        return "pin-incorrect";
    case TESSERA_ERR_PIN_LOCKED:
        return "pin-locked";
    case TESSERA_ERR_PIN_FINAL_TRY:
        return "pin-final-try";
    case TESSERA_ERR_NO_TOKEN:
        return "no-token";
    case TESSERA_ERR_TOKEN_FAILED:
        return "token-failed";
    case TESSERA_ERR_INVALID:
        return "invalid";
    case TESSERA_ERR_EXISTS:
        return "exists";
    case TESSERA_ERR_INTERNAL:
        return "internal";
    case TESSERA_ERR_BUSY:
        return "busy";
    case TESSERA_ERR_DENIED:
        return "denied";
    case TESSERA_ERR_CA_REJECTED:
        return "ca-rejected";
    case TESSERA_ERR_CA_UNREACHABLE:
        return "ca-unreachable";
    case TESSERA_ERR_CA_TIMEOUT:
        return "ca-timeout";
    case TESSERA_ERR_CA_RESPONSE:
        return "ca-response";
    case TESSERA_ERR_RENEWAL_RUNNING:
        return "renewal-running";
    case TESSERA_ERR_PROMPT_CANCELLED:
        return "prompt-cancelled";
    case TESSERA_ERR_PROMPT_TIMEOUT:
        return "prompt-timeout";
    case TESSERA_ERR_PROGRAM_REFUSED:
        return "program-refused";
    case TESSERA_ERR_NOT_CONFIRMED:
        return "not-confirmed";
    case TESSERA_ERR_UNREACHABLE:
        return "unreachable";
    case TESSERA_ERR_UNTRUSTED:
        return "untrusted";
    }
    return "unknown";
}
