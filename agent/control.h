/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the front ends ask the agent to do. The socket server and D-Bus
 * call these, and only these, for unlock, lock, keygen, import, enrol,
 * renew, forget and reload, so the two cannot drift apart; each returns 0,
 * or -1 with st saying why.
 */
#ifndef TESSERA_AGENT_CONTROL_H
#define TESSERA_AGENT_CONTROL_H

#include "../common/errors.h"
#include "../common/messages.h"
#include "tokens.h"

#include <glib.h>

struct agent;

/* A PIN for the token, once (pin_len 0 on a PIN pad: the pad asks); its
 * pin-source must allow typed PINs. Then its private keys are read. */
int control_unlock(struct agent *agent, struct agent_token *token,
                   const uint8_t *pin, size_t pin_len, gboolean force,
                   struct tessera_status *st);
/* Logs the token out (NULL: every token). */
int control_lock(struct agent *agent, struct agent_token *token,
                 struct tessera_status *st);
/* A key pair on a token and its CSR, which asks for the SANs. */
int control_keygen(struct agent *agent,
                   const struct tessera_keygen_sans_request *req,
                   struct tessera_blob *csr, struct tessera_status *st);
/* Writes the files and keeps them current (publish.c). */
int control_export(struct agent *agent,
                   const struct tessera_export_request *req,
                   struct tessera_status *st);
/* The certificate (and chain) of a key without one, or with replace one
 * reissued for the same key in place of its own; with ca, the identity
 * renews through that CA profile from then on. Not while it is being
 * renewed. */
int control_import(struct agent *agent,
                   const struct tessera_import_request *req,
                   struct tessera_status *st);
/* A new identity through a CA profile; client_fd: a client whose hang-up
 * cancels while the CA says pending, or -1. On success the leaf's DER. */
int control_enroll(struct agent *agent,
                   const struct tessera_enroll_request *req, int client_fd,
                   struct tessera_blob *leaf, struct tessera_status *st);
/*
 * A renewal now: the identity is claimed (refused at once with
 * renewal-running when it is), then renewed through the profile it was
 * enrolled with. A front end that must answer at once claims first
 * (control_renew_claim) and renews later (control_renew_claimed, which
 * lets the claim go).
 */
int control_renew(struct agent *agent, const char *name, int client_fd,
                  struct tessera_blob *leaf, struct tessera_status *st);
gboolean control_renew_claim(struct agent *agent, const char *name,
                             struct tessera_status *st);
int control_renew_claimed(struct agent *agent, const char *name, int client_fd,
                          struct tessera_blob *leaf, struct tessera_status *st);
/* How much of an identity Forget takes. */
enum control_forget_what {
    FORGET_ENROLMENT,   /* the configuration and records: it no longer renews */
    FORGET_CERTIFICATE, /* and its certificate: the key stays, to import
                         * a certificate for again */
    FORGET_KEYS,        /* and its key too */
};
/* NAME's [identity] group goes from agent.conf and from the configuration
 * in force, what an interrupted renewal left is settled, its enrolment
 * record goes, and then its objects on the token as what says. Not while
 * it is being renewed. */
int control_forget(struct agent *agent, const char *name,
                   enum control_forget_what what, struct tessera_status *st);
/* The tokens are read again. */
int control_reload(struct agent *agent, struct tessera_status *st);

#endif
