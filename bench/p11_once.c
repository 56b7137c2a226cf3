/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one-shot PKCS#11 program of the benchmark, shaped like a program
 * that signs once through a module: start, load the module, log in, find
 * the key, sign one ECDSA digest, finalise, exit.
 *
 *   p11_once MODULE TOKEN LABEL PIN
 */
#include "bench_p11.h"

#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: p11_once MODULE TOKEN LABEL PIN\n");
        return 2;
    }
    CK_FUNCTION_LIST *p11 = bench_load_module(argv[1]);
    CK_SESSION_HANDLE s = bench_open_token(p11, argv[2], argv[4], 0);
    CK_OBJECT_HANDLE key = bench_find_key(p11, s, argv[3]);
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    CK_BYTE digest[32] = {1}, sig[256];
    CK_ULONG len = sizeof(sig);
    if (p11->C_SignInit(s, &mech, key) != CKR_OK ||
        p11->C_Sign(s, digest, sizeof(digest), sig, &len) != CKR_OK) {
        fprintf(stderr, "p11_once: the signature failed\n");
        return 1;
    }
    p11->C_Finalize(NULL);
    return 0;
}
