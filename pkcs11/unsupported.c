/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The functions of the interface this module does not offer: each is
 * present in the function list and answers CKR_FUNCTION_NOT_SUPPORTED, as
 * PKCS#11 v2.40 allows of every one of them.
 */
#include "module.h"

#define NOT_SUPPORTED(...)                                                     \
    do {                                                                       \
        (void)(__VA_ARGS__);                                                   \
        return CKR_FUNCTION_NOT_SUPPORTED;                                     \
    } while (0)

/* PINs and tokens are set up with the token's own tools, objects are made
 * through the agent (tessera enroll, keygen, import), and the agent keeps the
 * token's state. */

CK_RV
C_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
            CK_UTF8CHAR_PTR label)
{
    NOT_SUPPORTED((void)slot, (void)pin, (void)pin_len, (void)label);
}

CK_RV
C_InitPIN(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    NOT_SUPPORTED((void)session, (void)pin, (void)pin_len);
}

CK_RV
C_SetPIN(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
         CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
    NOT_SUPPORTED((void)session, (void)old_pin, (void)old_len, (void)new_pin,
                  (void)new_len);
}

CK_RV
C_GetOperationState(CK_SESSION_HANDLE session, CK_BYTE_PTR state,
                    CK_ULONG_PTR state_len)
{
    NOT_SUPPORTED((void)session, (void)state, (void)state_len);
}

CK_RV
C_SetOperationState(CK_SESSION_HANDLE session, CK_BYTE_PTR state,
                    CK_ULONG state_len, CK_OBJECT_HANDLE encryption_key,
                    CK_OBJECT_HANDLE authentication_key)
{
    NOT_SUPPORTED((void)session, (void)state, (void)state_len,
                  (void)encryption_key, (void)authentication_key);
}

CK_RV
C_CreateObject(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR template,
               CK_ULONG count, CK_OBJECT_HANDLE_PTR object)
{
    NOT_SUPPORTED((void)session, (void)template, (void)count, (void)object);
}

CK_RV
C_CopyObject(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
             CK_ATTRIBUTE_PTR template, CK_ULONG count,
             CK_OBJECT_HANDLE_PTR new_object)
{
    NOT_SUPPORTED((void)session, (void)object, (void)template, (void)count,
                  (void)new_object);
}

CK_RV
C_DestroyObject(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object)
{
    NOT_SUPPORTED((void)session, (void)object);
}

CK_RV
C_GetObjectSize(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                CK_ULONG_PTR size)
{
    NOT_SUPPORTED((void)session, (void)object, (void)size);
}

CK_RV
C_SetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                    CK_ATTRIBUTE_PTR template, CK_ULONG count)
{
    NOT_SUPPORTED((void)session, (void)object, (void)template, (void)count);
}

/* Keys here sign and nothing else: no encryption, decryption, digest service,
 * recovery, key making or random numbers. */

CK_RV
C_EncryptInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
              CK_OBJECT_HANDLE key)
{
    NOT_SUPPORTED((void)session, (void)mechanism, (void)key);
}

CK_RV
C_Encrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
          CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)data, (void)data_len, (void)out,
                  (void)out_len);
}

CK_RV
C_EncryptUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len,
                CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)part, (void)part_len, (void)out,
                  (void)out_len);
}

CK_RV
C_EncryptFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)out, (void)out_len);
}

CK_RV
C_DecryptInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
              CK_OBJECT_HANDLE key)
{
    NOT_SUPPORTED((void)session, (void)mechanism, (void)key);
}

CK_RV
C_Decrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
          CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)data, (void)data_len, (void)out,
                  (void)out_len);
}

CK_RV
C_DecryptUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len,
                CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)part, (void)part_len, (void)out,
                  (void)out_len);
}

CK_RV
C_DecryptFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)out, (void)out_len);
}

CK_RV
C_DigestInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism)
{
    NOT_SUPPORTED((void)session, (void)mechanism);
}

CK_RV
C_Digest(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
         CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)data, (void)data_len, (void)out,
                  (void)out_len);
}

CK_RV
C_DigestUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len)
{
    NOT_SUPPORTED((void)session, (void)part, (void)part_len);
}

CK_RV
C_DigestKey(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key)
{
    NOT_SUPPORTED((void)session, (void)key);
}

CK_RV
C_DigestFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)out, (void)out_len);
}

CK_RV
C_SignRecoverInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                  CK_OBJECT_HANDLE key)
{
    NOT_SUPPORTED((void)session, (void)mechanism, (void)key);
}

CK_RV
C_SignRecover(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
              CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)data, (void)data_len, (void)out,
                  (void)out_len);
}

CK_RV
C_VerifyRecoverInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                    CK_OBJECT_HANDLE key)
{
    NOT_SUPPORTED((void)session, (void)mechanism, (void)key);
}

CK_RV
C_VerifyRecover(CK_SESSION_HANDLE session, CK_BYTE_PTR signature,
                CK_ULONG signature_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)signature, (void)signature_len,
                  (void)out, (void)out_len);
}

CK_RV
C_DigestEncryptUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part,
                      CK_ULONG part_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)part, (void)part_len, (void)out,
                  (void)out_len);
}

CK_RV
C_DecryptDigestUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part,
                      CK_ULONG part_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)part, (void)part_len, (void)out,
                  (void)out_len);
}

CK_RV
C_SignEncryptUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part,
                    CK_ULONG part_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)part, (void)part_len, (void)out,
                  (void)out_len);
}

CK_RV
C_DecryptVerifyUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part,
                      CK_ULONG part_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)part, (void)part_len, (void)out,
                  (void)out_len);
}

CK_RV
C_GenerateKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
              CK_ATTRIBUTE_PTR template, CK_ULONG count,
              CK_OBJECT_HANDLE_PTR key)
{
    NOT_SUPPORTED((void)session, (void)mechanism, (void)template, (void)count,
                  (void)key);
}

CK_RV
C_GenerateKeyPair(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                  CK_ATTRIBUTE_PTR public_template, CK_ULONG public_count,
                  CK_ATTRIBUTE_PTR private_template, CK_ULONG private_count,
                  CK_OBJECT_HANDLE_PTR public_key,
                  CK_OBJECT_HANDLE_PTR private_key)
{
    NOT_SUPPORTED((void)session, (void)mechanism, (void)public_template,
                  (void)public_count, (void)private_template,
                  (void)private_count, (void)public_key, (void)private_key);
}

CK_RV
C_WrapKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
          CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key, CK_BYTE_PTR out,
          CK_ULONG_PTR out_len)
{
    NOT_SUPPORTED((void)session, (void)mechanism, (void)wrapping_key, (void)key,
                  (void)out, (void)out_len);
}

CK_RV
C_UnwrapKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
            CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped,
            CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR template, CK_ULONG count,
            CK_OBJECT_HANDLE_PTR key)
{
    NOT_SUPPORTED((void)session, (void)mechanism, (void)unwrapping_key,
                  (void)wrapped, (void)wrapped_len, (void)template, (void)count,
                  (void)key);
}

CK_RV
C_DeriveKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
            CK_OBJECT_HANDLE base_key, CK_ATTRIBUTE_PTR template,
            CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
    NOT_SUPPORTED((void)session, (void)mechanism, (void)base_key,
                  (void)template, (void)count, (void)key);
}

CK_RV
C_SeedRandom(CK_SESSION_HANDLE session, CK_BYTE_PTR seed, CK_ULONG seed_len)
{
    NOT_SUPPORTED((void)session, (void)seed, (void)seed_len);
}

CK_RV
C_GenerateRandom(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG out_len)
{
    NOT_SUPPORTED((void)session, (void)out, (void)out_len);
}

/* Legacy: sessions never run functions in parallel (PKCS#11 v2.40, 5.17). */

CK_RV
C_GetFunctionStatus(CK_SESSION_HANDLE session)
{
    (void)session;
    return CKR_FUNCTION_NOT_PARALLEL;
}

CK_RV
C_CancelFunction(CK_SESSION_HANDLE session)
{
    (void)session;
    return CKR_FUNCTION_NOT_PARALLEL;
}
