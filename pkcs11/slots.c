/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Slots and tokens: one slot per token the agent has seen, by label,
 * manufacturer, model and serial, numbered from 1 in the order they came
 * and kept for the module's life, so a slot ID stays the same token while
 * the agent restarts or the token comes and goes.
 */
#include "module.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A hostile agent could name any number of tokens. */
#define MAX_SLOTS 256

struct slot *
slot_find(struct module *m, CK_SLOT_ID id)
{
    for (size_t i = 0; i < m->n_slots; i++) {
        if (m->slots[i].id == id)
            return &m->slots[i];
    }
    return NULL;
}

struct slot *
slot_of_token(struct module *m, const char *label, const char *manufacturer,
              const char *model, const char *serial)
{
    for (size_t i = 0; i < m->n_slots; i++) {
        const struct tessera_token_info *t = &m->slots[i].token;
        if (strcmp(t->label, label) == 0 &&
            strcmp(t->manufacturer, manufacturer) == 0 &&
            strcmp(t->model, model) == 0 && strcmp(t->serial, serial) == 0)
            return &m->slots[i];
    }
    return NULL;
}

bool
slot_present(const struct slot *s)
{
    return s->listed && (s->token.flags & TESSERA_TOKEN_PRESENT);
}

/* With the lock held: takes the token's fields. */
static void
merge_token(struct module *m, struct tessera_token_info *t)
{
    struct slot *s =
        slot_of_token(m, t->label, t->manufacturer, t->model, t->serial);
    if (s == NULL) {
        if (m->n_slots == MAX_SLOTS)
            return;
        struct slot *grown =
            realloc(m->slots, (m->n_slots + 1) * sizeof(*m->slots));
        if (grown == NULL)
            return;
        m->slots = grown;
        s = &m->slots[m->n_slots];
        *s = (struct slot){.id = m->n_slots + 1};
        m->n_slots++;
    }
    tessera_token_info_clear(&s->token);
    s->token = *t;
    memset(t, 0, sizeof(*t));
    s->listed = true;
}

CK_RV
slots_refresh(struct module *m)
{
    struct tessera_token_list list;
    struct tessera_status st = {0};
    int rc = tessera_client_tokens(m->agent, &list, &st);
    module_lock();
    /* Without an answer no token is known to be there. */
    for (size_t i = 0; i < m->n_slots; i++)
        m->slots[i].listed = false;
    for (size_t i = 0; rc == 0 && i < list.n; i++)
        merge_token(m, &list.items[i]);
    module_unlock();
    tessera_token_list_clear(&list);
    return rc < 0 ? module_agent_error(&st, CKR_DEVICE_ERROR) : CKR_OK;
}

CK_RV
C_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    CK_RV rv;
    struct module *m = module_enter(count != NULL, &rv);
    if (m == NULL)
        return rv;
    slots_refresh(m); /* no agent: no token present */
    module_lock();
    CK_ULONG n = 0;
    for (size_t i = 0; i < m->n_slots; i++) {
        if (token_present && !slot_present(&m->slots[i]))
            continue;
        if (list != NULL && n < *count)
            list[n] = m->slots[i].id;
        n++;
    }
    module_unlock();
    if (list != NULL && n > *count)
        rv = CKR_BUFFER_TOO_SMALL;
    *count = n;
    module_leave(m);
    return rv;
}

/* What a call about one slot does with it, with the lock held: fill in
 * `out`, or say why not. */
typedef CK_RV (*slot_reader)(const struct slot *s, void *out);

/*
 * A call about one slot: the slot as the agent says it is now (asked
 * again if `ask`), CKR_SLOT_ID_INVALID for a slot never seen.
 */
static CK_RV
read_slot(CK_SLOT_ID id, bool arguments_ok, bool ask, slot_reader read,
          void *out)
{
    CK_RV rv;
    struct module *m = module_enter(arguments_ok, &rv);
    if (m == NULL)
        return rv;
    if (ask)
        slots_refresh(m);
    module_lock();
    const struct slot *s = slot_find(m, id);
    rv = s != NULL ? read(s, out) : CKR_SLOT_ID_INVALID;
    module_unlock();
    module_leave(m);
    return rv;
}

static CK_RV
slot_info(const struct slot *s, void *out)
{
    CK_SLOT_INFO *info = out;
    char description[64 + 1];
    memset(info, 0, sizeof(*info));
    snprintf(description, sizeof(description), "Tessera agent: %s",
             s->token.label);
    module_pad(info->slotDescription, sizeof(info->slotDescription),
               description);
    module_pad(info->manufacturerID, sizeof(info->manufacturerID),
               MODULE_MANUFACTURER);
    info->flags = CKF_REMOVABLE_DEVICE;
    if (slot_present(s))
        info->flags |= CKF_TOKEN_PRESENT;
    return CKR_OK;
}

CK_RV
C_GetSlotInfo(CK_SLOT_ID id, CK_SLOT_INFO_PTR info)
{
    return read_slot(id, info != NULL, true, slot_info, info);
}

/* The agent's view of a token as PKCS#11 token flags. Write-protected
 * always: objects are made through the agent (tessera enroll), not here.
 * Login stays required while the agent is unlocked: programs such as NSS
 * read it once, and must still ask for the PIN after the agent locks. */
static CK_FLAGS
token_flags(uint32_t agent_flags)
{
    static const struct {
        uint32_t agent;
        CK_FLAGS token;
    } map[] = {
        {TESSERA_TOKEN_LOGIN_REQUIRED, CKF_LOGIN_REQUIRED},
        {TESSERA_TOKEN_PROTECTED_PATH, CKF_PROTECTED_AUTHENTICATION_PATH},
        {TESSERA_TOKEN_PIN_COUNT_LOW, CKF_USER_PIN_COUNT_LOW},
        {TESSERA_TOKEN_PIN_FINAL_TRY, CKF_USER_PIN_FINAL_TRY},
        {TESSERA_TOKEN_PIN_LOCKED, CKF_USER_PIN_LOCKED},
    };
    CK_FLAGS flags =
        CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_WRITE_PROTECTED;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (agent_flags & map[i].agent)
            flags |= map[i].token;
    }
    return flags;
}

static CK_RV
token_info(const struct slot *s, void *out)
{
    CK_TOKEN_INFO *info = out;
    const struct tessera_token_info *t = &s->token;
    if (!slot_present(s))
        return CKR_TOKEN_NOT_PRESENT;
    memset(info, 0, sizeof(*info));
    module_pad(info->label, sizeof(info->label), t->label);
    module_pad(info->manufacturerID, sizeof(info->manufacturerID),
               t->manufacturer);
    module_pad(info->model, sizeof(info->model), t->model);
    module_pad(info->serialNumber, sizeof(info->serialNumber), t->serial);
    module_pad(info->utcTime, sizeof(info->utcTime), "");
    info->flags = token_flags(t->flags);
    info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulSessionCount = CK_UNAVAILABLE_INFORMATION;
    info->ulMaxRwSessionCount = 0;
    info->ulRwSessionCount = 0;
    info->ulMaxPinLen = TESSERA_PIN_MAX;
    info->ulMinPinLen = 0;
    info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    return CKR_OK;
}

CK_RV
C_GetTokenInfo(CK_SLOT_ID id, CK_TOKEN_INFO_PTR info)
{
    return read_slot(id, info != NULL, true, token_info, info);
}

/* With the lock held: a slot whose token came or went since last told. */
static struct slot *
changed_slot(struct module *m)
{
    for (size_t i = 0; i < m->n_slots; i++) {
        struct slot *s = &m->slots[i];
        if (slot_present(s) != s->reported_present) {
            s->reported_present = slot_present(s);
            return s;
        }
    }
    return NULL;
}

/* The agent has no slot events to pass on: asked once a second, and
 * C_Finalize ends the wait at once. */
CK_RV
C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR id, CK_VOID_PTR reserved)
{
    CK_RV rv;
    struct module *m = module_enter(id != NULL && reserved == NULL, &rv);
    if (m == NULL)
        return rv;
    for (bool waiting = true; waiting;) {
        slots_refresh(m);
        module_lock();
        struct slot *s = m->finalized ? NULL : changed_slot(m);
        waiting = false;
        if (m->finalized) {
            rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        } else if (s != NULL) {
            *id = s->id;
        } else if (flags & CKF_DONT_BLOCK) {
            rv = CKR_NO_EVENT;
        } else {
            module_wait_for_finalize(m);
            waiting = true;
        }
        module_unlock();
    }
    module_leave(m);
    return rv;
}

/* --- what a token offers: the mechanisms of mechanisms.c */

/* From what the agent last said: the mechanisms need no round trip. */
static CK_RV
token_present(const struct slot *s, void *out)
{
    (void)out;
    return slot_present(s) ? CKR_OK : CKR_TOKEN_NOT_PRESENT;
}

CK_RV
C_GetMechanismList(CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR list,
                   CK_ULONG_PTR count)
{
    CK_RV rv = read_slot(id, count != NULL, false, token_present, NULL);
    if (rv != CKR_OK)
        return rv;
    size_t n = mechanisms_of_key_type(CK_UNAVAILABLE_INFORMATION, list,
                                      list != NULL ? *count : 0);
    if (list != NULL && n > *count)
        rv = CKR_BUFFER_TOO_SMALL;
    *count = n;
    return rv;
}

CK_RV
C_GetMechanismInfo(CK_SLOT_ID id, CK_MECHANISM_TYPE type,
                   CK_MECHANISM_INFO_PTR info)
{
    CK_RV rv = read_slot(id, info != NULL, false, token_present, NULL);
    if (rv != CKR_OK)
        return rv;
    const struct mechanism *mech = mechanism_find(type);
    if (mech == NULL)
        return CKR_MECHANISM_INVALID;
    info->flags = CKF_SIGN | CKF_VERIFY;
    if (mech->key_type == CKK_EC) {
        info->ulMinKeySize = 256;
        info->ulMaxKeySize = 521;
        info->flags |= CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
    } else {
        info->ulMinKeySize = 1024;
        info->ulMaxKeySize = 8192;
    }
    return CKR_OK;
}
