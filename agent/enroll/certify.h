/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CA half of an enrolment, which renewal shares: a CSR certified by a
 * CA profile's protocol (enroll.h), the chain verified against the
 * profile's trust anchors.
 */
#ifndef TESSERA_AGENT_CERTIFY_H
#define TESSERA_AGENT_CERTIFY_H

#include "../../common/errors.h"
#include "../../common/messages.h"
#include "enroll.h"

#include <gio/gio.h>

struct agent;

struct agent_certify_request {
    const char *name; /* the identity enrolled or renewed */
    const char *ca, *token;
    const char *key_name; /* the key the CSR is for (SCEP decrypts with it) */
    const char *renewing; /* the identity being renewed, or NULL */
    struct tessera_bytes csr;
    long timeout_seconds;
    int client_fd;        /* hung up: cancel while pending; -1 for none */
    GCancellable *cancel; /* the agent stops: the CA is not waited for */
};
int agent_certify(struct agent *agent, const struct agent_certify_request *req,
                  struct enroll_result *result, struct tessera_status *st);

/* The protocol of profile (the [ca NAME] group name, or NULL: there is
 * none); NULL with st. */
const struct enroll_protocol *
enroll_protocol_of(const struct config_ca *profile, const char *name,
                   struct tessera_status *st);
/* SCEP encrypts its reply to the request's key: only RSA can open it. */
gboolean enroll_key_fits(const struct enroll_protocol *proto, const char *name,
                         const char *key_spec, struct tessera_status *st);

#endif
