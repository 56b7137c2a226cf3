/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One enrolment (`tessera enroll`, D-Bus Enroll): every check first, the
 * name claimed, then the journaled steps of steps.h with the CA asked
 * through a profile of agent.conf.
 */
#ifndef TESSERA_AGENT_ENROLMENT_H
#define TESSERA_AGENT_ENROLMENT_H

#include "../common/errors.h"
#include "../common/messages.h"

struct agent;

/* On success the leaf's DER. client_fd: a client whose hang-up cancels
 * while the CA says pending, or -1. */
int agent_enroll(struct agent *agent, const struct tessera_enroll_request *req,
                 int client_fd, struct tessera_blob *leaf,
                 struct tessera_status *st);

/*
 * An identity made elsewhere (keygen and import) renews through the CA
 * profile ca from now on: its enrolment record, written from its
 * certificate (subject, subject alternative names) and key type.
 */
int agent_adopt(struct agent *agent, const char *name, const char *ca,
                struct tessera_status *st);

#endif
