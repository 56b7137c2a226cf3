/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent.conf, read once into structs and checked whole: every value of
 * every group, CA profiles included. A value out of range, a key no group
 * of its kind has, an unknown group, a profile without what its protocol
 * needs: the file is refused, with the file, group and key named, and a
 * "did you mean" for a near miss. A configuration is immutable and
 * refcounted; a reload makes a new one, all or nothing.
 *
 *   [agent]
 *   modules=/usr/lib/softhsm/libsofthsm2.so;   (default: p11-kit's list)
 *   max-sessions=8      poll-us=200      slot-poll-seconds=2
 *   expiring-days=14;7;3;1                  notifications=true
 *   allow-root=true        allow-users=  allow-groups=  (credentials.h)
 *   idle-connection-seconds=60
 *   pinentry=/usr/bin/pinentry-gnome3  prompt-seconds=60
 *   log-interval-seconds=10
 *
 *   [token Work Card]
 *   pin-source=prompt|file|none|empty   (file when a pin-file is given)
 *   pin-file=/etc/tessera/work-card.pin
 *   idle-lock=900  lock-on-suspend=true
 *
 *   [identity corp-wifi]
 *   cert-file=/etc/ssl/certs/corp-wifi.pem     (kept current by the agent)
 *   chain-file=/etc/ssl/certs/corp-wifi-chain.pem
 *   post-renew-command=systemctl reload wpa_supplicant
 *   renew-at-percent=67 ... rekey=true         (renewal policy, below)
 *   allow-programs=/usr/sbin/wpa_supplicant;   confirm=true
 *   confirm-seconds=600
 *
 *   [ca corp]                                   (tessera enroll --ca corp)
 *   protocol=local|exec|acme|scep               (see agent/enroll/)
 *   ... the protocol's keys, and the renewal policy
 */
#ifndef TESSERA_AGENT_CONFIG_H
#define TESSERA_AGENT_CONFIG_H

#include "../common/errors.h"
#include "schedule.h"

#include <glib.h>

/* Where a token's PIN may come from ([token LABEL] pin-source). */
enum agent_pin_source {
    AGENT_PIN_PROMPT, /* tessera unlock or D-Bus Unlock */
    AGENT_PIN_FILE,   /* the pin-file, at start, and nothing else */
    AGENT_PIN_NONE,   /* never logged in */
    AGENT_PIN_EMPTY,  /* the empty PIN, at start (a TPM made without one) */
};

/* [agent] */
struct config_agent {
    char **modules;             /* NULL: every module p11-kit registers */
    unsigned max_sessions;      /* per token, for signing */
    unsigned poll_us;           /* see tessera_poll_readable */
    unsigned slot_poll_seconds; /* watch.c; 0: off */
    GArray *expiring_days;      /* guint, descending */
    gboolean notifications;
    gboolean allow_root; /* a user's agent serves root too */
    char **allow_users;  /* the system agent serves them (names, uids) */
    char **allow_groups; /* and these groups' members (names, gids) */
    /* server.c: a parked connection is closed after this; 0: never */
    unsigned idle_connection_seconds;
    char *pinentry;                /* NULL: `pinentry` on PATH */
    unsigned prompt_seconds;       /* a PIN prompt or confirmation, at most */
    unsigned log_interval_seconds; /* uses.c: one entry per program per
                                    * interval; 0: every use */
};

/* [token LABEL]; a token without a group has the defaults. Each group's
 * struct starts with its name (config.c relies on it). */
struct config_token {
    char *label;
    enum agent_pin_source pin_source;
    char *pin_file;   /* NULL: none */
    gint64 idle_lock; /* seconds after the last signature; 0: never */
    gboolean lock_on_suspend;
};

/* The renewal policy a group sets (renew-at-percent ... rekey); what it
 * leaves unset comes from the next group, then the defaults. */
enum config_policy_number {
    POLICY_AT_PERCENT,
    POLICY_JITTER_PERCENT,
    POLICY_FLOOR_SECONDS,
    POLICY_GRACE_SECONDS,
    POLICY_RETRY_MIN,
    POLICY_RETRY_MAX,
    POLICY_NUMBERS
};
struct config_policy {
    gint64 number[POLICY_NUMBERS];
    guint numbers_set; /* 1 << enum config_policy_number */
    gboolean rekey, rekey_set;
};

/* [identity NAME] */
struct config_identity {
    char *name;
    char *cert_file, *chain_file, *post_renew_command; /* NULL: none */
    char **allow_programs;  /* executables that may sign; NULL: any */
    gboolean confirm;       /* each new client process confirmed */
    gint64 confirm_seconds; /* how long a confirmation lasts */
    struct config_policy policy;
};

/* [ca NAME]: a CA profile. Keys a protocol does not read are refused. */
enum config_protocol {
    CONFIG_LOCAL, /* ca-cert, ca-key, validity-days or -seconds */
    CONFIG_EXEC,  /* command, command-timeout */
    CONFIG_ACME,  /* url (https), tls-ca, account-key, contact, eab-* */
    CONFIG_SCEP,  /* url, challenge or challenge-file, tls-ca */
};
struct config_ca {
    char *name;
    enum config_protocol protocol;
    char *key;            /* the default key type, or NULL */
    char *trust;          /* the CA certificates chains must lead to */
    char *ca_cert;        /* local: the CA's certificate (and trust) */
    char *ca_key;         /* local */
    gint64 validity_days; /* local; 0: unset */
    gint64 validity_seconds;
    char *command; /* exec */
    char *url;     /* acme, scep */
    char *tls_ca;  /* acme, scep: the TLS trust of url */
    char *account_key;
    char *contact;
    /* acme: the external account binding */
    char *eab_kid, *eab_hmac_key_file;
    char *challenge, *challenge_file; /* scep */
    gint64 command_timeout;           /* seconds per exchange */
    gint64 retry_seconds;             /* between asks while pending */
    struct config_policy policy;
    /* Leaves must name clientAuth in extendedKeyUsage (chaincheck.c). */
    gboolean require_client_auth;
};

struct agent_config {
    gint refcount;
    char *path; /* agent.conf, which may not exist */
    GKeyFile *keyfile;
    struct config_agent agent;
    GPtrArray *tokens;     /* struct config_token * */
    GPtrArray *identities; /* struct config_identity * */
    GPtrArray *cas;        /* struct config_ca * */
};

/* path read and checked whole; a file that does not exist is the
 * defaults. NULL with st (file, group and key named) otherwise. */
struct agent_config *agent_config_load(const char *path,
                                       struct tessera_status *st);
/* The same from text, as if read from path. */
struct agent_config *agent_config_parse(const char *path, const char *text,
                                        gsize len, struct tessera_status *st);
/* What Forget leaves in force: cfg without [identity NAME]. */
struct agent_config *agent_config_without_identity(struct agent_config *cfg,
                                                   const char *name);
struct agent_config *agent_config_ref(struct agent_config *cfg);
void agent_config_unref(struct agent_config *cfg);

/* Never NULL: a token without a group has the defaults. */
const struct config_token *agent_config_token(const struct agent_config *cfg,
                                              const char *label);
/* NULL when there is no such group. */
const struct config_identity *
agent_config_identity(const struct agent_config *cfg, const char *name);
const struct config_ca *agent_config_ca(const struct agent_config *cfg,
                                        const char *name);
/* Whether a PIN may be typed for the token (its pin-source is prompt);
 * FALSE with st saying where its PIN comes from. */
gboolean agent_unlock_allowed(const struct agent_config *cfg, const char *label,
                              struct tessera_status *st);
/* [identity NAME], else the [ca CA] it was enrolled with, else defaults. */
struct renewal_policy
agent_config_renewal_policy(const struct agent_config *cfg, const char *name,
                            const char *ca);
const char *agent_config_protocol_name(enum config_protocol protocol);

#endif
