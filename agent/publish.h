/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Files for programs that read them, kept current by the agent (as
 * certmonger's post-save does): an identity's `[identity] cert-file=` and
 * `chain-file=` and every file `tessera export` wrote for it follow its
 * certificate. They are written at once (an export, a start, a reload
 * that names new files) and rewritten at every certificate change, in the
 * journaled step that switches the key (steps.c), before the
 * post-renew-command runs. Each is replaced whole (common/atomicwrite.c),
 * and only when its content or mode would change. Publishing never fails
 * what stored the certificate: a file that cannot be written is logged.
 */
#ifndef TESSERA_AGENT_PUBLISH_H
#define TESSERA_AGENT_PUBLISH_H

#include "../common/errors.h"
#include "../common/messages.h"

#include <glib.h>

struct agent;

/* Certificates [first, end) as PEM; NULL if one is not valid DER. */
char *agent_certificates_pem(GPtrArray *certs, guint first, guint end);
/* Every file that follows NAME, brought up to date; FALSE when one could
 * not be (said in the log). */
gboolean agent_publish_files(struct agent *agent, const char *name);
/* NAME's post-renew-command, if it has one, once its files are written:
 * never for files that could not be. */
void agent_publish_run_command(struct agent *agent, const char *name);
/* Files, then the command if they were all written: after an import. */
void agent_publish_certificate(struct agent *agent, const char *name);
/* Every identity's files: at start and after a reload. */
void agent_publish_all(struct agent *agent);
/* EXPORT: writes the files now and records them, so that they follow. */
int agent_publish_export(struct agent *agent,
                         const struct tessera_export_request *req,
                         struct tessera_status *st);

#endif
