/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the protocol's states are called where people read them: tessera
 * list and tokens, D-Bus properties, logs. One place, so that every front
 * end says the same.
 */
#include "keyspec.h"
#include "messages.h"

#include <stdio.h>

const char *
tessera_identity_state(const struct tessera_identity_summary *s, uint64_t now)
{
    if (!(s->flags & TESSERA_ID_TOKEN_PRESENT))
        return "token absent";
    if (!(s->flags & TESSERA_ID_HAS_CERT))
        return "no certificate";
    if (s->not_after != 0 && s->not_after < now)
        return "expired";
    if (!(s->flags & TESSERA_ID_LOGGED_IN))
        return "locked";
    return "ready";
}

/* names[i], or "unknown" for a number the table has no name for. */
static const char *
name_in(const char *const *names, size_t n, unsigned i)
{
    return i < n && names[i] != NULL ? names[i] : "unknown";
}

const char *
tessera_renewal_state_name(uint8_t state)
{
    static const char *const names[] = {
        [TESSERA_RENEWAL_NONE] = "not enrolled",
        [TESSERA_RENEWAL_SCHEDULED] = "valid",
        [TESSERA_RENEWAL_RENEWING] = "renewing",
        [TESSERA_RENEWAL_PENDING] = "pending at CA",
        [TESSERA_RENEWAL_FAILING] = "failing",
        [TESSERA_RENEWAL_WAITING_TOKEN] = "waiting for token",
        [TESSERA_RENEWAL_WAITING_PIN] = "waiting for PIN",
    };
    return name_in(names, sizeof(names) / sizeof(names[0]), state);
}

const char *
tessera_progress_step_name(uint8_t step)
{
    static const char *const names[] = {
        [TESSERA_STEP_GENERATING] = "generating",
        [TESSERA_STEP_CSR_SIGNED] = "csr-signed",
        [TESSERA_STEP_SUBMITTED] = "submitted",
        [TESSERA_STEP_PENDING] = "pending",
        [TESSERA_STEP_ISSUED] = "issued",
        [TESSERA_STEP_STORED] = "stored",
        [TESSERA_STEP_HELPER] = "helper",
    };
    return name_in(names, sizeof(names) / sizeof(names[0]), step);
}

void
tessera_token_state_describe(uint32_t flags, char *buf, size_t size)
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

void
tessera_key_describe(uint8_t type, uint32_t bits, char *buf, size_t size)
{
    if (type == TESSERA_KEY_ED25519)
        snprintf(buf, size, "%s", tessera_key_type_name(type));
    else
        snprintf(buf, size, "%s-%u", tessera_key_type_name(type), bits);
}
