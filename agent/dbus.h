/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control plane on the session bus (dbus/org.tessera.Agent1.xml,
 * docs/dbus.md); off without a session bus in the environment.
 */
#ifndef TESSERA_AGENT_DBUS_H
#define TESSERA_AGENT_DBUS_H

#include "../common/errors.h"

struct agent;

void agent_dbus_start(struct agent *agent);
void agent_dbus_stop(struct agent *agent);
/* Any thread: the registry or a token's state changed. */
void agent_dbus_changed(struct agent *agent);
/* Any thread: something NAME needs failed: a client's signature, or a due
 * renewal that waits for a PIN (TOKEN_LOCKED sends PinNeeded). */
void agent_dbus_identity_failed(struct agent *agent, const char *name,
                                const struct tessera_status *st);
/* Any thread: a renewal of NAME ended; reason NULL when it succeeded. */
void agent_dbus_renewal_done(struct agent *agent, const char *name,
                             const char *reason);

#endif
