/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's parts, one pointer each, owned by the module named beside
 * it; every module keeps its own state opaque and declares what it offers
 * in its own header (docs/architecture.md has the layers).
 *
 * Threads: the GLib main loop accepts connections and handles signals; each
 * connection has one thread that reads a request, does the work (a signature
 * included) and writes the reply, so a signature costs no thread hand-off.
 * Shared state is a refcounted, immutable registry snapshot swapped under a
 * mutex, and one session pool per token; no lock is held across C_Sign.
 */
#ifndef TESSERA_AGENT_H
#define TESSERA_AGENT_H

#include "config.h"

#include <glib.h>

struct agent {
    struct agent_config config;
    struct agent_events *events;      /* events.c */
    struct agent_modules *modules;    /* modules.c */
    struct registry_keeper *registry; /* registry.c */
    struct agent_builtin *builtin;    /* builtin.c */
    struct agent_renewals *renewals;  /* renewals.c */
    struct agent_claims *claims;      /* claims.c: one owner per identity */
    GThreadPool *ca_pool;             /* tasks.c */
};

#endif
