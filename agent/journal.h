/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The journal of a renewal or enrolment: one file per identity, each step
 * written (temp file, fsync, rename) before the step's side effect, so that
 * after a crash recovery knows what may have happened on the token. It
 * holds everything recovery needs, the CA's chain included, and is read
 * only from a directory that nobody but the agent's user can write.
 */
#ifndef TESSERA_AGENT_JOURNAL_H
#define TESSERA_AGENT_JOURNAL_H

#include "../common/errors.h"

#include <glib.h>

enum journal_kind {
    JOURNAL_RENEWAL,   /* NAME gets a new certificate (and key) */
    JOURNAL_ENROLMENT, /* NAME is made */
};

/* The steps in order. */
enum journal_phase {
    JOURNAL_GENERATING, /* the next key's id is chosen; it may be made */
    JOURNAL_REQUESTING, /* the next key exists; the CA is being asked */
    /* An enrolment the CA still said pending when its client stopped
     * waiting: the key is NAME (without a certificate), asked again at
     * next_try until the CA decides. */
    JOURNAL_PENDING,
    JOURNAL_ISSUED,    /* the CA's chain is in the journal */
    JOURNAL_SWITCHING, /* the certificate stored, the labels switched */
    JOURNAL_GRACE,     /* done; the replaced key goes at grace_until */
};
#define JOURNAL_PHASES (JOURNAL_GRACE + 1)

struct journal {
    enum journal_kind kind;
    enum journal_phase phase;
    char *ca; /* the CA profile */
    char *token_serial, *token_label;
    GBytes *old_id; /* renewal: the key replaced; enrolment: NULL */
    GBytes *new_id; /* the next key; old_id again with rekey=false */
    gboolean rekey;
    GPtrArray *chain;   /* DER GBytes, leaf first, from ISSUED on */
    gint64 renew_after; /* the CA's advice with that chain, 0 if none */
    gint64 grace_until; /* seconds since the epoch, in GRACE */
    /* PENDING, and on from it: the next key is labelled NAME already. */
    gboolean key_named;
    gint64 next_try; /* PENDING: seconds since the epoch */
    /* Enrolment: what the enrolment record will say. */
    char *key_spec, *subject;
    char **sans;
};

const char *journal_phase_name(enum journal_phase phase);
/* "a renewal", "an enrolment" */
const char *journal_kind_phrase(enum journal_kind kind);

/* Makes dir (0700) if needed; -1 when it or the directory above is not
 * private to this user: its journals would not be trusted. */
int journal_dir_ready(const char *dir, struct tessera_status *st);
/* Writes j at phase into dir/NAME.journal and sets j->phase. */
int journal_save(const char *dir, const char *name, struct journal *j,
                 enum journal_phase phase, struct tessera_status *st);
/*
 * Whether NAME has a journal to act on. FALSE with st untouched when there
 * is none; FALSE with st saying why when it, its directory or the
 * directory above is not private to this user, or it does not make sense
 * (then it is left alone).
 */
gboolean journal_load(const char *dir, const char *name, struct journal *j,
                      struct tessera_status *st);
void journal_remove(const char *dir, const char *name);
void journal_clear(struct journal *j);
/* The names that have a journal in dir (none, with st saying why, when
 * dir is not private). */
GPtrArray *journal_names(const char *dir, struct tessera_status *st);

#endif
