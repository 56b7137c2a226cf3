/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one door to PKCS#11. Every call the agent makes into a module is made
 * here, each wrapped once, so that what a module is asked, and how, can be
 * read in one file. This header is the PKCS#11 layer's own: only the token
 * layer (tokens.c, objects.c, modules.c) includes it, and CK_RV goes no
 * further up; the layers above see struct tessera_status.
 *
 * Lock rules. Nothing here takes a lock, and nothing here may be called
 * with a token's state lock held when it can wait on the device or on a
 * person: opening a session, logging in or out, C_SetPIN, generating a
 * key, signing, waiting for a slot event. A PIN-pad token's C_Login lasts
 * as long as the user takes to type; the main loop, `tessera list` and
 * the signers of other tokens must not wait for it (tokens.c).
 */
#ifndef TESSERA_AGENT_P11_H
#define TESSERA_AGENT_P11_H

#include "../common/errors.h"

#include <glib.h>
#include <p11-kit/p11-kit.h>
#include <stdint.h>

/* Slots with a token present, appended to slots (CK_SLOT_ID). */
CK_RV p11_present_slots(CK_FUNCTION_LIST *m, GArray *slots);
CK_RV p11_token_info(CK_FUNCTION_LIST *m, CK_SLOT_ID slot, CK_TOKEN_INFO *out);
/* Whether the token offers the mechanism with every flag of needed. */
gboolean p11_offers(CK_FUNCTION_LIST *m, CK_SLOT_ID slot,
                    CK_MECHANISM_TYPE type, CK_FLAGS needed);
/* block FALSE: CKF_DONT_BLOCK. */
CK_RV p11_wait_for_slot_event(CK_FUNCTION_LIST *m, gboolean block,
                              CK_SLOT_ID *slot);
void p11_close_all_sessions(CK_FUNCTION_LIST *m, CK_SLOT_ID slot);

/* Sessions: read-only unless rw. */
CK_RV p11_open_session(CK_FUNCTION_LIST *m, CK_SLOT_ID slot, gboolean rw,
                       CK_SESSION_HANDLE *out);
void p11_close_session(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s);
/* Whether the session's user is logged in (CKS_RW_USER_FUNCTIONS or
 * CKS_RO_USER_FUNCTIONS); FALSE when the session cannot say. */
gboolean p11_session_logged_in(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s);
/* A NULL pin with length 0: the token's PIN pad asks. */
CK_RV p11_login(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s, CK_USER_TYPE user,
                const uint8_t *pin, size_t pin_len);
CK_RV p11_logout(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s);
/* C_SetPIN from pin to itself: checks it and changes nothing. */
CK_RV p11_check_pin(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s,
                    const uint8_t *pin, size_t pin_len);

/* Objects. */
#define P11_ANY_CLASS ((CK_OBJECT_CLASS)-1)
/*
 * Handles of the objects with key id (NULL: any), label (NULL: any) and
 * class (P11_ANY_CLASS: any), appended to found (CK_OBJECT_HANDLE), at
 * most max in all.
 */
CK_RV p11_find(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s, GBytes *id,
               const char *label, CK_OBJECT_CLASS cls, GArray *found,
               guint max);
/* The attributes of one object into tmpl, as C_GetAttributeValue does. */
CK_RV p11_get_attributes(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s,
                         CK_OBJECT_HANDLE obj, CK_ATTRIBUTE *tmpl, CK_ULONG n);
/* One attribute of any length up to max, or NULL. */
GBytes *p11_attribute(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s,
                      CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, gsize max);
CK_RV p11_set_label(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s,
                    CK_OBJECT_HANDLE obj, const char *label);
CK_RV p11_destroy(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s,
                  CK_OBJECT_HANDLE obj);
CK_RV p11_create(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
                 CK_ULONG n, CK_OBJECT_HANDLE *out);
CK_RV p11_generate_key_pair(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s,
                            CK_MECHANISM *mech, CK_ATTRIBUTE *pub,
                            CK_ULONG n_pub, CK_ATTRIBUTE *priv, CK_ULONG n_priv,
                            CK_OBJECT_HANDLE *pub_key,
                            CK_OBJECT_HANDLE *priv_key);

/* The signing path: init, then one C_Sign (or C_Decrypt with decrypt). */
CK_RV p11_operation_init(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s,
                         gboolean decrypt, CK_MECHANISM *mech,
                         CK_OBJECT_HANDLE key);
CK_RV p11_operation_run(CK_FUNCTION_LIST *m, CK_SESSION_HANDLE s,
                        gboolean decrypt, const uint8_t *in, size_t in_len,
                        uint8_t *out, CK_ULONG *out_len);

/*
 * For the token layer: a PKCS#11 failure as a code and a sentence naming
 * the token and what it failed to do (what: "sign", "log in", ...). A
 * token that says it is gone is marked absent.
 */
struct agent_token;
void token_fail(struct agent_token *t, CK_RV rv, const char *what,
                struct tessera_status *st);

#endif
