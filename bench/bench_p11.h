/* SPDX-License-Identifier: Apache-2.0 */
/* PKCS#11 set-up shared by the benchmark programs; failures exit. */
#ifndef TESSERA_BENCH_P11_H
#define TESSERA_BENCH_P11_H

#include <p11-kit/pkcs11.h>

/* dlopen + C_GetFunctionList + C_Initialize. */
CK_FUNCTION_LIST *bench_load_module(const char *path);
/* A logged-in session on the token labelled exactly `label`. */
CK_SESSION_HANDLE bench_open_token(CK_FUNCTION_LIST *p11, const char *label,
                                   const char *pin, CK_FLAGS flags);

/* The private key labelled `label`. */
CK_OBJECT_HANDLE bench_find_key(CK_FUNCTION_LIST *p11, CK_SESSION_HANDLE s,
                                const char *label);

#endif
