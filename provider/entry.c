/* SPDX-License-Identifier: Apache-2.0 */
/* tessera.so: the provider with the backend that talks to the agent. */
#include "provider.h"

__attribute__((visibility("default"))) OSSL_provider_init_fn OSSL_provider_init;

int
OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                   const OSSL_DISPATCH **out, void **provctx)
{
    void *backend = tessera_socket_backend_new();
    if (backend == NULL)
        return 0;
    return tessera_provider_init_with(handle, in, out, provctx,
                                      &tessera_socket_backend_ops, backend);
}
