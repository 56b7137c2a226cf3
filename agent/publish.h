/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate files for programs that read them, kept current by the agent
 * (as certmonger's post-save does): after an identity gets a certificate,
 * its configured cert-file and chain-file are rewritten atomically and its
 * post-renew-command is run. Publishing never fails what stored the
 * certificate: a file that cannot be written is logged.
 */
#ifndef TESSERA_AGENT_PUBLISH_H
#define TESSERA_AGENT_PUBLISH_H

#include <glib.h>

struct agent;

/* Certificates [first, end) as PEM; NULL if one is not valid DER. */
char *agent_certificates_pem(GPtrArray *certs, guint first, guint end);
void agent_publish_certificate(struct agent *agent, const char *name);

#endif
