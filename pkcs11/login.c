/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Login: the token's login is the agent's, shared by every program. A
 * program's C_Login hands its PIN to the agent's UNLOCK once (a wrong PIN
 * is reported, never tried again), so a browser's PIN dialog unlocks the
 * token for every program. While the agent holds the login, C_Login
 * succeeds without a PIN check (the agent keeps no PIN to compare, and the
 * program can sign anyway): CKR_OK, not CKR_USER_ALREADY_LOGGED_IN, which
 * OpenSC's pkcs11-tool and NSS's password check treat as failures. A
 * program's C_Logout ends only its own use of the login (NSS logs out
 * before it checks a password, and after its own idle time), never the
 * other programs'; `tessera lock` locks the token for all.
 */
#include "module.h"
#include "../common/p11uri.h"

#include <stdlib.h>
#include <string.h>

/* The session's slot and, if uri is given, the pkcs11: URI of its token. */
static CK_RV
session_token(struct module *m, CK_SESSION_HANDLE handle, CK_SLOT_ID *slot,
              char **uri, bool *protected_path)
{
    module_lock();
    struct session *s = session_find(m, handle);
    const struct slot *sl = s != NULL ? slot_find(m, s->slot) : NULL;
    CK_RV rv = CKR_SESSION_HANDLE_INVALID;
    if (sl != NULL) {
        const struct tessera_token_info *t = &sl->token;
        *slot = sl->id;
        *protected_path = t->flags & TESSERA_TOKEN_PROTECTED_PATH;
        rv = CKR_OK;
        if (uri != NULL &&
            (*uri = tessera_p11uri_format_token(t->label, t->manufacturer,
                                                t->model, t->serial)) == NULL)
            rv = CKR_HOST_MEMORY;
    }
    module_unlock();
    return rv;
}

static void
set_logged_out_here(struct module *m, CK_SLOT_ID id, bool out)
{
    module_lock();
    struct slot *s = slot_find(m, id);
    if (s != NULL)
        s->logged_out_here = out;
    module_unlock();
}

static CK_RV
check_user(CK_USER_TYPE user)
{
    switch (user) {
    case CKU_USER:
        return CKR_OK;
    case CKU_CONTEXT_SPECIFIC: /* no key here asks for it */
        return CKR_OPERATION_NOT_INITIALIZED;
    default: /* the security officer's work is done with the token's tools */
        return CKR_USER_TYPE_INVALID;
    }
}

/* The agent's refusal as C_Login's return value. */
static CK_RV
unlock_error(const struct tessera_status *st)
{
    switch (st->code) {
    case TESSERA_ERR_PIN_FINAL_TRY:
        /* One try left: only `tessera unlock --force` spends it, never a
         * program that may be trying PINs it was given. */
    case TESSERA_ERR_INVALID:
        /* pin-source=file or none: the agent takes no PIN for it. */
        return module_agent_error(st, CKR_FUNCTION_REJECTED);
    default:
        return module_agent_error(st, CKR_DEVICE_ERROR);
    }
}

/* One UNLOCK. The PIN goes from the caller's buffer into the request,
 * which the client library wipes; no copy of it is made here. */
static CK_RV
agent_unlock(struct module *m, char *uri, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    struct tessera_unlock_request req = {
        .token = uri,
        .pin = {(uint8_t *)pin, pin != NULL ? pin_len : 0},
    };
    struct tessera_status st = {0};
    return tessera_client_unlock(m->agent, &req, &st) < 0 ? unlock_error(&st)
                                                          : CKR_OK;
}

CK_RV
C_Login(CK_SESSION_HANDLE handle, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
        CK_ULONG pin_len)
{
    CK_RV rv;
    struct module *m = module_enter(true, &rv);
    if (m == NULL)
        return rv;
    CK_SLOT_ID slot = 0;
    char *uri = NULL;
    bool protected_path = false;
    rv = session_token(m, handle, &slot, &uri, &protected_path);
    if (rv == CKR_OK)
        rv = check_user(user);
    if (rv == CKR_OK && pin == NULL && (pin_len > 0 || !protected_path))
        rv = CKR_ARGUMENTS_BAD;
    else if (rv == CKR_OK && pin_len > TESSERA_PIN_MAX)
        rv = CKR_PIN_LEN_RANGE;
    if (rv == CKR_OK && slot_login_state(m, slot) == LOGIN_NONE)
        rv = agent_unlock(m, uri, pin, pin_len);
    if (rv == CKR_OK)
        set_logged_out_here(m, slot, false);
    free(uri);
    module_leave(m);
    return rv;
}

CK_RV
C_Logout(CK_SESSION_HANDLE handle)
{
    CK_RV rv;
    struct module *m = module_enter(true, &rv);
    if (m == NULL)
        return rv;
    CK_SLOT_ID slot = 0;
    bool protected_path;
    rv = session_token(m, handle, &slot, NULL, &protected_path);
    if (rv == CKR_OK && slot_login_state(m, slot) != LOGIN_HERE)
        rv = CKR_USER_NOT_LOGGED_IN;
    if (rv == CKR_OK)
        set_logged_out_here(m, slot, true);
    module_leave(m);
    return rv;
}
