/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads back what a key pair on a token may do, as the token stored it:
 *
 *   key_usage MODULE TOKEN PIN LABEL
 *
 * prints one line for the private key and one for the public key, each
 * attribute as NAME=1, NAME=0, or NAME=- when the token has none, e.g.
 *   private TOKEN=1 PRIVATE=1 SENSITIVE=1 EXTRACTABLE=0 SIGN=1 DECRYPT=0 ...
 */
#include "../../bench/bench_p11.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct flag {
    CK_ATTRIBUTE_TYPE type;
    const char *name;
};

static const struct flag private_flags[] = {
    {CKA_TOKEN, "TOKEN"},         {CKA_PRIVATE, "PRIVATE"},
    {CKA_SENSITIVE, "SENSITIVE"}, {CKA_EXTRACTABLE, "EXTRACTABLE"},
    {CKA_SIGN, "SIGN"},           {CKA_DECRYPT, "DECRYPT"},
    {CKA_UNWRAP, "UNWRAP"},       {CKA_SIGN_RECOVER, "SIGN_RECOVER"},
    {CKA_DERIVE, "DERIVE"},
};
static const struct flag public_flags[] = {
    {CKA_TOKEN, "TOKEN"},   {CKA_PRIVATE, "PRIVATE"},
    {CKA_VERIFY, "VERIFY"}, {CKA_ENCRYPT, "ENCRYPT"},
    {CKA_WRAP, "WRAP"},     {CKA_VERIFY_RECOVER, "VERIFY_RECOVER"},
    {CKA_DERIVE, "DERIVE"},
};

static void
print_flags(CK_FUNCTION_LIST *p11, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
            const char *what, const struct flag *flags, size_t n)
{
    printf("%s", what);
    for (size_t i = 0; i < n; i++) {
        CK_BBOOL value = CK_FALSE;
        CK_ATTRIBUTE a = {flags[i].type, &value, sizeof(value)};
        CK_RV rv = p11->C_GetAttributeValue(s, obj, &a, 1);
        printf(" %s=%s", flags[i].name, rv != CKR_OK ? "-" : value ? "1" : "0");
    }
    printf("\n");
}

static CK_OBJECT_HANDLE
find_public(CK_FUNCTION_LIST *p11, CK_SESSION_HANDLE s, const char *label)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
    CK_ULONG found = 0;
    if (p11->C_FindObjectsInit(s, tmpl, 2) == CKR_OK) {
        p11->C_FindObjects(s, &obj, 1, &found);
        p11->C_FindObjectsFinal(s);
    }
    return found == 1 ? obj : CK_INVALID_HANDLE;
}

int
main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: key_usage MODULE TOKEN PIN LABEL\n");
        return 2;
    }
    CK_FUNCTION_LIST *p11 = bench_load_module(argv[1]);
    CK_SESSION_HANDLE s = bench_open_token(p11, argv[2], argv[3], 0);
    print_flags(p11, s, bench_find_key(p11, s, argv[4]), "private",
                private_flags, sizeof(private_flags) / sizeof(*private_flags));
    CK_OBJECT_HANDLE pub = find_public(p11, s, argv[4]);
    if (pub == CK_INVALID_HANDLE) {
        fprintf(stderr, "key_usage: no public key labelled %s\n", argv[4]);
        return 1;
    }
    print_flags(p11, s, pub, "public", public_flags,
                sizeof(public_flags) / sizeof(*public_flags));
    p11->C_Finalize(NULL);
    return 0;
}
