/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control plane on the session bus (dbus/org.tessera.Agent1.xml,
 * docs/dbus.md); off without a session bus in the environment.
 */
#ifndef TESSERA_AGENT_DBUS_H
#define TESSERA_AGENT_DBUS_H

struct agent;
struct agent_dbus;

/* NULL without a session bus in the environment: the API is off, the
 * agent never autolaunches a bus. */
struct agent_dbus *agent_dbus_start(struct agent *agent);
void agent_dbus_stop(struct agent_dbus *dbus);

#endif
