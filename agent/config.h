/* SPDX-License-Identifier: Apache-2.0 */
/* agent.conf (see config.c for its keys). */
#ifndef TESSERA_AGENT_CONFIG_H
#define TESSERA_AGENT_CONFIG_H

#include "../common/errors.h"
#include "schedule.h"

#include <glib.h>

struct agent_config {
    char **modules;             /* NULL: every module p11-kit registers */
    unsigned max_sessions;      /* per token, for signing */
    unsigned poll_us;           /* see tessera_poll_readable */
    unsigned slot_poll_seconds; /* watch.c; 0: off */
    char *socket_path;
    char *state_dir;
    char *path;        /* agent.conf, which may not exist */
    GKeyFile *keyfile; /* per-token groups: [token LABEL] */
};

/* Where a token's PIN may come from ([token LABEL] pin-source). */
enum agent_pin_source {
    AGENT_PIN_PROMPT, /* tessera unlock or D-Bus Unlock */
    AGENT_PIN_FILE,   /* the pin-file, at start, and nothing else */
    AGENT_PIN_NONE,   /* never logged in */
};
enum agent_pin_source agent_pin_source(const struct agent_config *cfg,
                                       const char *label);
/* Whether a PIN may be typed for the token (its pin-source is prompt). */
gboolean agent_unlock_allowed(const struct agent_config *cfg, const char *label,
                              struct tessera_status *st);
gboolean agent_config_load(struct agent_config *cfg, const char *path,
                           GError **error);
void agent_config_clear(struct agent_config *cfg);
/* The value of KEY in group "[KIND NAME]", e.g. [token Work Card]. */
char *agent_config_string(const struct agent_config *cfg, const char *kind,
                          const char *name, const char *key);

/* [identity NAME], else the [ca CA] it was enrolled with, else defaults. */
struct renewal_policy
agent_config_renewal_policy(const struct agent_config *cfg, const char *name,
                            const char *ca);

#endif
