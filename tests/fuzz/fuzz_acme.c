/* SPDX-License-Identifier: Apache-2.0 */
/* Every ACME response parser, and the EAB key's decoder, on the same
 * hostile bytes. */
#include "../../agent/enroll/acme_msg.h"

#include <stddef.h>
#include <stdint.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char *reason = NULL;
    struct acme_directory d;
    struct acme_order o;
    struct acme_authz a;
    struct acme_problem p;
    struct acme_renewal_window w;
    if (acme_parse_directory(body, size, &d, &reason))
        acme_directory_clear(&d);
    g_clear_pointer(&reason, g_free);
    if (acme_parse_order(body, size, &o, &reason))
        acme_order_clear(&o);
    g_clear_pointer(&reason, g_free);
    if (acme_parse_authz(body, size, &a, &reason))
        acme_authz_clear(&a);
    g_clear_pointer(&reason, g_free);
    if (acme_parse_renewal_info(body, size, &w, &reason))
        (void)acme_renewal_time(&w, 0, 1);
    g_clear_pointer(&reason, g_free);
    acme_parse_problem(body, size, &p);
    acme_problem_clear(&p);
    g_free(acme_cert_id(data, size));
    gsize key_len;
    g_free(acme_eab_key_decode(body, size, &key_len, &reason));
    g_clear_pointer(&reason, g_free);
    return 0;
}
