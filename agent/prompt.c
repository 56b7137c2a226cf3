/* SPDX-License-Identifier: Apache-2.0 */
#include "prompt.h"
#include "../common/messages.h"
#include "pinentry.h"
#include "registry.h"

#include <openssl/crypto.h>
#include <string.h>

/* One question on screen, and the requests waiting for its answer. */
struct question {
    gint refs;
    gboolean answered;
    gboolean yes;
    struct tessera_status st;
};

struct agent_prompts {
    GMutex lock;
    GCond changed;
    GHashTable *open;     /* key -> struct question *; under lock */
    gboolean screen_busy; /* a pinentry runs; under lock */
};

struct agent_prompts *
agent_prompts_new(void)
{
    struct agent_prompts *p = g_new0(struct agent_prompts, 1);
    g_mutex_init(&p->lock);
    g_cond_init(&p->changed);
    p->open = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return p;
}

void
agent_prompts_free(struct agent_prompts *p)
{
    if (p == NULL)
        return;
    g_hash_table_unref(p->open);
    g_cond_clear(&p->changed);
    g_mutex_clear(&p->lock);
    g_free(p);
}

/* What a question needs: where and how long to ask, and what. */
struct asking {
    struct agent *agent;
    char *program; /* pinentry */
    struct session_env env;
    gint64 deadline;
    char peer[4200];
    const char *identity;
    struct agent_token *token; /* a PIN question */
};

typedef gboolean (*ask_fn)(struct asking *a, struct pinentry *p,
                           struct tessera_status *st);

/* Runs ask on a pinentry of its own, once the screen is free. */
static gboolean
run_pinentry(struct agent_prompts *prompts, struct asking *a, ask_fn ask,
             struct tessera_status *st)
{
    gboolean yes = FALSE;
    g_mutex_lock(&prompts->lock);
    while (prompts->screen_busy &&
           g_cond_wait_until(&prompts->changed, &prompts->lock, a->deadline))
        ;
    gboolean free_now = !prompts->screen_busy;
    if (free_now)
        prompts->screen_busy = TRUE;
    g_mutex_unlock(&prompts->lock);
    if (!free_now) {
        tessera_status_set(st, TESSERA_ERR_PROMPT_TIMEOUT,
                           "another prompt stayed on screen until the time "
                           "ran out");
        return FALSE;
    }
    struct pinentry *p = pinentry_open(a->program, &a->env, a->deadline, st);
    if (p != NULL && pinentry_set(p, "SETTITLE", "Tessera", st) == 0)
        yes = ask(a, p, st);
    pinentry_close(p);
    g_mutex_lock(&prompts->lock);
    prompts->screen_busy = FALSE;
    g_cond_broadcast(&prompts->changed);
    g_mutex_unlock(&prompts->lock);
    return yes;
}

/*
 * The answer to the question named key: asked by the first request,
 * waited for by the others (at most until the deadline).
 */
static gboolean
shared(struct agent_prompts *prompts, const char *key, struct asking *a,
       ask_fn ask, struct tessera_status *st)
{
    g_mutex_lock(&prompts->lock);
    struct question *q = g_hash_table_lookup(prompts->open, key);
    if (q != NULL) {
        q->refs++;
        g_message("%s waits for the prompt already open for identity %s",
                  a->peer, a->identity);
        while (!q->answered &&
               g_cond_wait_until(&prompts->changed, &prompts->lock,
                                 a->deadline + G_USEC_PER_SEC))
            ;
        gboolean yes = q->answered && q->yes;
        if (!q->answered)
            tessera_status_set(st, TESSERA_ERR_PROMPT_TIMEOUT,
                               "nobody answered the prompt in time");
        else if (!yes)
            *st = q->st;
        if (--q->refs == 0)
            g_free(q);
        g_mutex_unlock(&prompts->lock);
        return yes;
    }
    q = g_new0(struct question, 1);
    q->refs = 1;
    g_hash_table_insert(prompts->open, g_strdup(key), q);
    g_mutex_unlock(&prompts->lock);

    gboolean yes = run_pinentry(prompts, a, ask, st);

    g_mutex_lock(&prompts->lock);
    q->answered = TRUE;
    q->yes = yes;
    q->st = *st;
    g_hash_table_remove(prompts->open, key);
    g_cond_broadcast(&prompts->changed);
    if (--q->refs == 0)
        g_free(q);
    g_mutex_unlock(&prompts->lock);
    return yes;
}

/* Where and until when to ask; FALSE when nobody can be asked. */
static gboolean
prepare(struct agent *agent, const char *identity,
        const struct agent_peer *peer, struct asking *a)
{
    struct agent_config *cfg = agent_config_get(agent);
    memset(a, 0, sizeof(*a));
    a->agent = agent;
    a->identity = identity;
    a->program = pinentry_find(cfg->agent.pinentry);
    a->deadline = g_get_monotonic_time() +
                  (gint64)cfg->agent.prompt_seconds * G_USEC_PER_SEC;
    agent_config_unref(cfg);
    agent_session_get(agent->session, &a->env);
    agent_peer_describe(peer, a->peer, sizeof(a->peer));
    if (a->program != NULL && session_env_can_prompt(&a->env))
        return TRUE;
    g_free(a->program);
    return FALSE;
}

/* What the token says about its PIN tries, for the prompt. */
static const char *
tries_left(uint32_t state)
{
    if (state & TESSERA_TOKEN_PIN_FINAL_TRY)
        return "This is the token's last PIN try (FINAL TRY): a wrong PIN "
               "blocks it.";
    if (state & TESSERA_TOKEN_PIN_COUNT_LOW)
        return "Few PIN tries are left on this token (COUNT LOW).";
    return NULL;
}

static uint32_t
fresh_state(struct agent_token *token)
{
    struct tessera_token_info info;
    token_info(token, &info);
    uint32_t flags = info.flags;
    tessera_token_info_clear(&info);
    return flags;
}

/* A PIN pad asks itself: the prompt only says so while C_Login waits. */
static gboolean
ask_pin_pad(struct asking *a, struct pinentry *p, struct tessera_status *st)
{
    char *desc = g_strdup_printf(
        "%s wants to sign with identity %s.\nType the PIN of token \"%s\" on "
        "the keypad of its reader.",
        a->peer, a->identity, token_label(a->token));
    int rc = pinentry_set(p, "SETDESC", desc, st);
    g_free(desc);
    if (rc < 0 || pinentry_show_message(p, st) < 0)
        return FALSE;
    return token_login(a->token, NULL, 0, FALSE, st) == 0;
}

static gboolean
ask_pin(struct asking *a, struct pinentry *p, struct tessera_status *st)
{
    uint32_t state = fresh_state(a->token);
    if (state & TESSERA_TOKEN_PROTECTED_PATH)
        return ask_pin_pad(a, p, st);
    char *desc = g_strdup_printf(
        "%s wants to sign with identity %s.\nEnter the PIN of token \"%s\".",
        a->peer, a->identity, token_label(a->token));
    int rc = pinentry_set(p, "SETDESC", desc, st);
    g_free(desc);
    if (rc < 0 || pinentry_set(p, "SETPROMPT", "PIN:", st) < 0)
        return FALSE;
    for (const char *said = "";;) {
        const char *tries = tries_left(state);
        char *error = g_strdup_printf("%s%s", said, tries ? tries : "");
        rc = error[0] ? pinentry_set(p, "SETERROR", error, st) : 0;
        g_free(error);
        char pin[TESSERA_PIN_MAX + 1];
        size_t len = 0;
        if (rc == 0)
            rc = pinentry_get_pin(p, pin, sizeof(pin), &len, st);
        if (rc < 0) {
            OPENSSL_cleanse(pin, sizeof(pin)); /* a PIN too long, in part */
            return FALSE;
        }
        /* Nothing typed costs no try: ask again. */
        if (len == 0) {
            said = "No PIN was entered. ";
            continue;
        }
        /* The user was told when this is the last try. */
        rc = token_login(a->token, (const uint8_t *)pin, len,
                         (state & TESSERA_TOKEN_PIN_FINAL_TRY) != 0, st);
        OPENSSL_cleanse(pin, sizeof(pin));
        if (rc == 0)
            return TRUE;
        if (st->code != TESSERA_ERR_PIN_INCORRECT)
            return FALSE;
        said = "Wrong PIN. ";
        state = token_state(a->token);
    }
}

gboolean
prompt_unlock(struct agent *agent, struct agent_token *token,
              const char *identity, const struct agent_peer *peer,
              struct tessera_status *st)
{
    struct agent_config *cfg = agent_config_get(agent);
    /* The system agent serves services at boot: nobody is there to type,
     * and it takes no typed PIN (pin-file or empty only). */
    gboolean prompt = !agent->system &&
                      agent_config_token(cfg, token_label(token))->pin_source ==
                          AGENT_PIN_PROMPT;
    agent_config_unref(cfg);
    struct asking a;
    if (!prompt || !prepare(agent, identity, peer, &a))
        return FALSE;
    a.token = token;
    struct tessera_status why = {0};
    char *key = g_strdup_printf("pin:%p", (void *)token);
    gboolean yes = shared(agent->prompts, key, &a, ask_pin, &why);
    g_free(key);
    g_free(a.program);
    if (yes) {
        /* Private keys become visible only after login. */
        agent_rescan(agent);
        return TRUE;
    }
    if (why.code == TESSERA_ERR_PROMPT_CANCELLED ||
        why.code == TESSERA_ERR_PROMPT_TIMEOUT)
        tessera_status_set(st, why.code,
                           "token \"%s\" is locked and %s: run `tessera "
                           "unlock`, or try again and enter the PIN",
                           token_label(token),
                           why.code == TESSERA_ERR_PROMPT_CANCELLED
                               ? "the PIN prompt was cancelled"
                               : "nobody entered the PIN in time");
    else if (why.code == TESSERA_ERR_INTERNAL) /* pinentry failed */
        tessera_status_set(st, TESSERA_ERR_TOKEN_LOCKED,
                           "token \"%s\" is locked: run `tessera unlock` "
                           "(the PIN prompt could not be shown: %s)",
                           token_label(token), why.message);
    else
        tessera_status_set(st, why.code,
                           "token \"%s\" is locked and the PIN "
                           "prompt failed: %s",
                           token_label(token), why.message);
    return FALSE;
}

static gboolean
ask_confirm(struct asking *a, struct pinentry *p, struct tessera_status *st)
{
    char *desc = g_strdup_printf("Allow %s to sign with identity %s?", a->peer,
                                 a->identity);
    int rc = pinentry_set(p, "SETDESC", desc, st);
    g_free(desc);
    /* Deny answers "not confirmed"; cancelling the dialog is a no too. */
    return rc == 0 && pinentry_set(p, "SETOK", "_Allow", st) == 0 &&
           pinentry_set(p, "SETNOTOK", "_Deny", st) == 0 &&
           pinentry_confirm(p, st) == 0;
}

gboolean
prompt_confirm(struct agent *agent, const char *identity,
               const struct agent_peer *peer, struct tessera_status *st)
{
    struct asking a;
    char described[4200];
    agent_peer_describe(peer, described, sizeof(described));
    if (!prepare(agent, identity, peer, &a)) {
        tessera_status_set(st, TESSERA_ERR_NOT_CONFIRMED,
                           "identity %s needs each program confirmed, and "
                           "no prompt can be shown (no pinentry, or no "
                           "display or terminal: run `tessera update-env`); "
                           "%s was not allowed",
                           identity, described);
        return FALSE;
    }
    struct tessera_status why = {0};
    char *key = g_strdup_printf("confirm:%s:%d:%" G_GUINT64_FORMAT, identity,
                                (int)peer->pid, peer->start_time);
    gboolean yes = shared(agent->prompts, key, &a, ask_confirm, &why);
    g_free(key);
    g_free(a.program);
    if (!yes)
        tessera_status_set(
            st,
            why.code == TESSERA_ERR_PROMPT_CANCELLED ? TESSERA_ERR_NOT_CONFIRMED
                                                     : why.code,
            "%s may not use identity %s: %s", described, identity,
            why.code == TESSERA_ERR_PROMPT_TIMEOUT
                ? "nobody confirmed it in time"
            : why.code == TESSERA_ERR_NOT_CONFIRMED ||
                    why.code == TESSERA_ERR_PROMPT_CANCELLED
                ? "the user said no"
                : why.message);
    return yes;
}
