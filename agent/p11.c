/* SPDX-License-Identifier: Apache-2.0 */
#include "p11.h"

#include <string.h>

/* Objects gathered per C_FindObjects call. */
#define FIND_BATCH 64

CK_RV
p11_present_slots(CK_FUNCTION_LIST *m, GArray *slots)
{
    CK_ULONG n = 0;
    CK_RV rv = m->C_GetSlotList(CK_TRUE, NULL, &n);
    if (rv != CKR_OK || n == 0)
        return rv;
    guint before = slots->len;
    g_array_set_size(slots, before + (guint)n);
    rv = m->C_GetSlotList(CK_TRUE, &g_array_index(slots, CK_SLOT_ID, before),
                          &n);
    g_array_set_size(slots, before + (rv == CKR_OK ? (guint)n : 0));
    return rv;
}

CK_RV
p11_token_info(CK_FUNCTION_LIST *m, CK_SLOT_ID slot, CK_TOKEN_INFO *out)
{
    return m->C_GetTokenInfo(slot, out);
}

gboolean
p11_offers(CK_FUNCTION_LIST *m, CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
           CK_FLAGS needed)
{
    CK_MECHANISM_INFO info;
    return m->C_GetMechanismInfo(slot, type, &info) == CKR_OK &&
           (info.flags & needed) == needed;
}

CK_RV
p11_wait_for_slot_event(CK_FUNCTION_LIST *m, gboolean block, CK_SLOT_ID *slot)
{
    return m->C_WaitForSlotEvent(block ? 0 : CKF_DONT_BLOCK, slot, NULL);
}

void
p11_close_all_sessions(CK_FUNCTION_LIST *m, CK_SLOT_ID slot)
{
    m->C_CloseAllSessions(slot);
}

CK_RV
p11_open_session(CK_FUNCTION_LIST *m, CK_SLOT_ID slot, gboolean rw,
                 CK_SESSION_HANDLE *out)
{
    CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    return m->C_OpenSession(slot, flags, NULL, NULL, out);
}

void
p11_close_session(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s)
{
    m->C_CloseSession(s);
}

gboolean
p11_session_logged_in(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s)
{
    CK_SESSION_INFO info;
    return m->C_GetSessionInfo(s, &info) == CKR_OK &&
           (info.state == CKS_RW_USER_FUNCTIONS ||
            info.state == CKS_RO_USER_FUNCTIONS);
}

CK_RV
p11_login(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s, CK_USER_TYPE user,
          const uint8_t *pin, size_t pin_len)
{
    return m->C_Login(s, user, (CK_UTF8CHAR_PTR)pin, pin_len);
}

CK_RV
p11_logout(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s)
{
    return m->C_Logout(s);
}

CK_RV
p11_check_pin(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s, const uint8_t *pin,
              size_t pin_len)
{
    return m->C_SetPIN(s, (CK_UTF8CHAR_PTR)pin, pin_len, (CK_UTF8CHAR_PTR)pin,
                       pin_len);
}

CK_RV
p11_find(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s, GBytes *id,
         const char *label, CK_OBJECT_CLASS cls, GArray *found, guint max)
{
    CK_ATTRIBUTE tmpl[3];
    CK_ULONG n_tmpl = 0;
    if (id != NULL) {
        gsize len;
        const void *data = g_bytes_get_data(id, &len);
        tmpl[n_tmpl++] = (CK_ATTRIBUTE){CKA_ID, (void *)data, len};
    }
    if (label != NULL)
        tmpl[n_tmpl++] =
            (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
    if (cls != P11_ANY_CLASS)
        tmpl[n_tmpl++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    CK_RV rv = m->C_FindObjectsInit(s, n_tmpl ? tmpl : NULL, n_tmpl);
    if (rv != CKR_OK)
        return rv;
    CK_OBJECT_HANDLE batch[FIND_BATCH];
    CK_ULONG n = 0;
    while (found->len < max) {
        CK_ULONG want = MIN(G_N_ELEMENTS(batch), max - found->len);
        rv = m->C_FindObjects(s, batch, want, &n);
        if (rv != CKR_OK || n == 0)
            break;
        g_array_append_vals(found, batch, (guint)n);
    }
    m->C_FindObjectsFinal(s);
    return rv;
}

CK_RV
p11_get_attributes(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s,
                   CK_OBJECT_HANDLE obj, CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    return m->C_GetAttributeValue(s, obj, tmpl, n);
}

GBytes *
p11_attribute(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
              CK_ATTRIBUTE_TYPE type, gsize max)
{
    uint8_t guess[4096];
    CK_ATTRIBUTE attr = {type, guess, sizeof(guess)};
    CK_RV rv = m->C_GetAttributeValue(s, obj, &attr, 1);
    if (rv == CKR_OK && attr.ulValueLen != CK_UNAVAILABLE_INFORMATION)
        return g_bytes_new(guess, attr.ulValueLen);
    if (rv != CKR_BUFFER_TOO_SMALL)
        return NULL;
    attr = (CK_ATTRIBUTE){type, NULL, 0};
    if (m->C_GetAttributeValue(s, obj, &attr, 1) != CKR_OK ||
        attr.ulValueLen == CK_UNAVAILABLE_INFORMATION || attr.ulValueLen > max)
        return NULL;
    attr.pValue = g_malloc(attr.ulValueLen);
    if (m->C_GetAttributeValue(s, obj, &attr, 1) != CKR_OK) {
        g_free(attr.pValue);
        return NULL;
    }
    return g_bytes_new_take(attr.pValue, attr.ulValueLen);
}

CK_RV
p11_set_label(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
              const char *label)
{
    CK_ATTRIBUTE value = {CKA_LABEL, (void *)label, strlen(label)};
    return m->C_SetAttributeValue(s, obj, &value, 1);
}

CK_RV
p11_destroy(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
    return m->C_DestroyObject(s, obj);
}

CK_RV
p11_create(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
           CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    return m->C_CreateObject(s, tmpl, n, out);
}

CK_RV
p11_generate_key_pair(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s,
                      CK_MECHANISM *mech, CK_ATTRIBUTE *pub, CK_ULONG n_pub,
                      CK_ATTRIBUTE *priv, CK_ULONG n_priv,
                      CK_OBJECT_HANDLE *pub_key, CK_OBJECT_HANDLE *priv_key)
{
    return m->C_GenerateKeyPair(s, mech, pub, n_pub, priv, n_priv, pub_key,
                                priv_key);
}

CK_RV
p11_operation_init(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s, gboolean decrypt,
                   CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
    return decrypt ? m->C_DecryptInit(s, mech, key)
                   : m->C_SignInit(s, mech, key);
}

CK_RV
p11_operation_run(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s, gboolean decrypt,
                  const uint8_t *in, size_t in_len, uint8_t *out,
                  CK_ULONG *out_len)
{
    return decrypt ? m->C_Decrypt(s, (CK_BYTE_PTR)in, in_len, out, out_len)
                   : m->C_Sign(s, (CK_BYTE_PTR)in, in_len, out, out_len);
}
