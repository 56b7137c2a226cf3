/* SPDX-License-Identifier: Apache-2.0 */
#include "bench_p11.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
fail(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

CK_FUNCTION_LIST *
bench_load_module(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList get =
        h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
    CK_FUNCTION_LIST *p11 = NULL;
    if (get == NULL || get(&p11) != CKR_OK || p11->C_Initialize(NULL) != CKR_OK)
        fail("cannot load the PKCS#11 module");
    return p11;
}

static int
label_is(const CK_TOKEN_INFO *info, const char *label)
{
    char name[33];
    memcpy(name, info->label, 32);
    name[32] = '\0';
    for (int j = 31; j >= 0 && name[j] == ' '; j--)
        name[j] = '\0';
    return strcmp(name, label) == 0;
}

CK_SESSION_HANDLE
bench_open_token(CK_FUNCTION_LIST *p11, const char *label, const char *pin,
                 CK_FLAGS flags)
{
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    if (p11->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        fail("C_GetSlotList failed");
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO info;
        if (p11->C_GetTokenInfo(slots[i], &info) != CKR_OK ||
            !label_is(&info, label))
            continue;
        CK_SESSION_HANDLE s;
        CK_RV rv;
        if (p11->C_OpenSession(slots[i], CKF_SERIAL_SESSION | flags, NULL, NULL,
                               &s) != CKR_OK ||
            ((rv = p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin,
                                strlen(pin))) != CKR_OK &&
             rv != CKR_USER_ALREADY_LOGGED_IN))
            fail("cannot log in to the token");
        return s;
    }
    fail("no such token");
    return 0;
}

CK_OBJECT_HANDLE
bench_find_key(CK_FUNCTION_LIST *p11, CK_SESSION_HANDLE s, const char *label)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE key;
    CK_ULONG found = 0;
    p11->C_FindObjectsInit(s, tmpl, 2);
    p11->C_FindObjects(s, &key, 1, &found);
    p11->C_FindObjectsFinal(s);
    if (found != 1)
        fail("no such key on the token");
    return key;
}
