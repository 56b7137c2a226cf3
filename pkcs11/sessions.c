/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions: read-only (the token is write-protected), each with at most one
 * search, one signature and one verification under way. Their state is
 * what the agent says now: logged in while the agent holds the token's
 * login, unless this process logged out.
 */
#include "module.h"

#include <stdlib.h>
#include <string.h>

struct session *
session_find(struct module *m, CK_SESSION_HANDLE handle)
{
    for (size_t i = 0; i < m->n_sessions; i++) {
        if (m->sessions[i]->handle == handle)
            return m->sessions[i];
    }
    return NULL;
}

void
operation_free(struct operation *op)
{
    if (op == NULL)
        return;
    free(op->name);
    EVP_PKEY_free(op->public_key);
    EVP_MD_CTX_free(op->hash);
    free(op);
}

/* An operation that is busy belongs to the call running it, which frees
 * it when it finds its session gone. */
static void
session_free(struct session *s)
{
    free(s->found);
    operation_free(s->sign);
    operation_free(s->verify);
    free(s);
}

void
sessions_free(struct module *m)
{
    for (size_t i = 0; i < m->n_sessions; i++)
        session_free(m->sessions[i]);
    free(m->sessions);
}

enum login_state
slot_login_state(struct module *m, CK_SLOT_ID id)
{
    slots_refresh(m);
    module_lock();
    const struct slot *s = slot_find(m, id);
    enum login_state state = LOGIN_NONE;
    if (s != NULL && slot_present(s) &&
        (s->token.flags & TESSERA_TOKEN_LOGGED_IN))
        state = s->logged_out_here ? LOGIN_ELSEWHERE : LOGIN_HERE;
    module_unlock();
    return state;
}

/* With the lock held: the slot is asked about again only if what is known
 * of it would refuse the session. */
static bool
slot_usable(struct module *m, CK_SLOT_ID id)
{
    const struct slot *s = slot_find(m, id);
    return s != NULL && slot_present(s);
}

CK_RV
C_OpenSession(CK_SLOT_ID id, CK_FLAGS flags, CK_VOID_PTR application,
              CK_NOTIFY notify, CK_SESSION_HANDLE_PTR handle)
{
    (void)application;
    (void)notify; /* no callbacks: nothing here ever needs them */
    CK_RV rv;
    struct module *m = module_enter(handle != NULL, &rv);
    if (m == NULL)
        return rv;
    module_lock();
    bool usable = slot_usable(m, id);
    module_unlock();
    if (!usable)
        slots_refresh(m);
    module_lock();
    struct session *s = NULL, **grown = NULL;
    if (!(flags & CKF_SERIAL_SESSION))
        rv = CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    else if (slot_find(m, id) == NULL)
        rv = CKR_SLOT_ID_INVALID;
    else if (!slot_usable(m, id))
        rv = CKR_TOKEN_NOT_PRESENT;
    else if (flags & CKF_RW_SESSION)
        rv = CKR_TOKEN_WRITE_PROTECTED;
    else if ((s = calloc(1, sizeof(*s))) == NULL ||
             (grown = realloc(m->sessions, (m->n_sessions + 1) *
                                               sizeof(*m->sessions))) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        s->handle = m->next_session++;
        s->slot = id;
        s->flags = flags;
        m->sessions = grown;
        m->sessions[m->n_sessions++] = s;
        *handle = s->handle;
    } else {
        free(s);
    }
    module_unlock();
    module_leave(m);
    return rv;
}

/* With the lock held: closes the sessions pick chooses. */
static size_t
close_sessions(struct module *m, bool (*pick)(const struct session *, void *),
               void *arg)
{
    size_t kept = 0, closed = 0;
    for (size_t i = 0; i < m->n_sessions; i++) {
        struct session *s = m->sessions[i];
        if (pick(s, arg)) {
            session_free(s);
            closed++;
        } else {
            m->sessions[kept++] = s;
        }
    }
    m->n_sessions = kept;
    return closed;
}

static bool
has_handle(const struct session *s, void *handle)
{
    return s->handle == *(CK_SESSION_HANDLE *)handle;
}

static bool
in_slot(const struct session *s, void *slot)
{
    return s->slot == *(CK_SLOT_ID *)slot;
}

CK_RV
C_CloseSession(CK_SESSION_HANDLE handle)
{
    CK_RV rv;
    struct module *m = module_enter(true, &rv);
    if (m == NULL)
        return rv;
    module_lock();
    if (close_sessions(m, has_handle, &handle) == 0)
        rv = CKR_SESSION_HANDLE_INVALID;
    module_unlock();
    module_leave(m);
    return rv;
}

CK_RV
C_CloseAllSessions(CK_SLOT_ID id)
{
    CK_RV rv;
    struct module *m = module_enter(true, &rv);
    if (m == NULL)
        return rv;
    module_lock();
    if (slot_find(m, id) == NULL)
        rv = CKR_SLOT_ID_INVALID;
    else
        close_sessions(m, in_slot, &id);
    module_unlock();
    module_leave(m);
    return rv;
}

CK_RV
C_GetSessionInfo(CK_SESSION_HANDLE handle, CK_SESSION_INFO_PTR info)
{
    CK_RV rv;
    struct module *m = module_enter(info != NULL, &rv);
    if (m == NULL)
        return rv;
    module_lock();
    struct session *s = session_find(m, handle);
    CK_SLOT_ID slot = s != NULL ? s->slot : 0;
    CK_FLAGS flags = s != NULL ? s->flags : 0;
    module_unlock();
    if (s == NULL) {
        rv = CKR_SESSION_HANDLE_INVALID;
    } else {
        memset(info, 0, sizeof(*info));
        info->slotID = slot;
        info->flags = flags;
        info->state = slot_login_state(m, slot) == LOGIN_HERE
                          ? CKS_RO_USER_FUNCTIONS
                          : CKS_RO_PUBLIC_SESSION;
    }
    module_leave(m);
    return rv;
}
