/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control plane on the session bus (dbus/org.tessera.Agent1.xml,
 * docs/dbus.md): a manager object, one object per token and per identity
 * under an ObjectManager, kept equal to the registry snapshot.
 *
 * Everything here runs on the main loop. Other threads (connections,
 * rescans) only ask for a sync or report a failed signature; both hop to
 * the main context. Work that touches a token (Unlock, Lock, Forget) runs
 * on a GTask thread so the bus never waits on a token; Enroll and Renew,
 * which wait on a CA, run on the CA pool.
 */
#include "dbus.h"
#include "../common/errors.h"
#include "../common/keyref.h"
#include "../common/keyspec.h"
#include "../common/messages.h"
#include "agent.h"
#include "claims.h"
#include "control.h"
#include "events.h"
#include "publish.h"
#include "registry.h"
#include "renewals.h"
#include "tasks.h"
#include "tessera-dbus.h"
#include "uses.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#define BUS_NAME "org.tessera.Agent1"
#define MANAGER_PATH "/org/tessera/Agent1"
#define ERROR_PREFIX "org.tessera.Agent1.Error."
/* Expiry is a matter of days: look again this often even without events. */
#define CHECK_INTERVAL_SECONDS 60
#define PIN_NOTIFY_INTERVAL_US (60 * G_USEC_PER_SEC)

struct agent_dbus {
    struct agent *agent;
    guint owner_id;
    GDBusConnection *connection;
    GDBusObjectManagerServer *server;
    TesseraAgent1 *manager;
    GHashTable *objects;     /* path -> TesseraObjectSkeleton */
    guint subscription;      /* events */
    GHashTable *expiry_sent; /* "name threshold" */
    gint64 last_pin_notice;
    gint sync_pending; /* atomic */
    guint timer;
};

/* --- object paths and errors */

static char *
child_path(const char *kind, const char *name)
{
    char *escaped = g_dbus_escape_object_path(name);
    char *path = g_strdup_printf(MANAGER_PATH "/%s/%s", kind, escaped);
    g_free(escaped);
    return path;
}

static char *
token_path(const struct agent_token *t)
{
    char *key = g_strdup_printf("%s %s", token_label(t), token_serial(t));
    char *path = child_path("token", key);
    g_free(key);
    return path;
}

/* "pin-incorrect" -> org.tessera.Agent1.Error.PinIncorrect */
static void
return_status(GDBusMethodInvocation *inv, const struct tessera_status *st)
{
    GString *name = g_string_new(ERROR_PREFIX);
    gboolean upper = TRUE;
    for (const char *p = tessera_error_name(st->code); *p; p++) {
        if (*p == '-') {
            upper = TRUE;
            continue;
        }
        g_string_append_c(name, upper ? g_ascii_toupper(*p) : *p);
        upper = FALSE;
    }
    g_dbus_method_invocation_return_dbus_error(inv, name->str, st->message);
    g_string_free(name, TRUE);
}

static void
return_invalid(GDBusMethodInvocation *inv, const char *message)
{
    struct tessera_status st = {0};
    tessera_status_set(&st, TESSERA_ERR_INVALID, "%s", message);
    return_status(inv, &st);
}

/* --- properties from the registry */

static void
update_identity(struct agent_dbus *d, TesseraAgent1Identity *iface,
                const struct agent_identity *id)
{
    const char *name = agent_identity_name(id);
    GPtrArray *certs = agent_identity_certs(id);
    char *tpath = token_path(agent_identity_token(id));
    char key_type[32];
    tessera_key_describe(agent_identity_key_type(id),
                         agent_identity_key_bits(id), key_type,
                         sizeof(key_type));
    char *reference = g_strdup_printf("tessera:%s", name);
    char *chain = agent_certificates_pem(certs, 0, certs->len);
    struct tessera_identity_summary summary = {0};
    agent_identity_summary(id, &summary);
    agent_renewal_describe(d->agent, id, &summary);
    char *error = agent_renewal_last_error(d->agent, name);
    tessera_agent1_identity_set_name(iface, name);
    tessera_agent1_identity_set_token(iface, tpath);
    tessera_agent1_identity_set_key_type(iface, key_type);
    tessera_agent1_identity_set_subject(iface, agent_identity_subject(id));
    tessera_agent1_identity_set_issuer(iface, agent_identity_issuer(id));
    tessera_agent1_identity_set_not_before(iface,
                                           agent_identity_not_before(id));
    tessera_agent1_identity_set_not_after(iface, agent_identity_not_after(id));
    tessera_agent1_identity_set_state(
        iface, tessera_identity_state(
                   &summary, (guint64)(g_get_real_time() / G_USEC_PER_SEC)));
    tessera_agent1_identity_set_last_error(iface, error ? error : "");
    tessera_agent1_identity_set_renewal_state(
        iface, tessera_renewal_state_name(summary.renewal_state));
    tessera_agent1_identity_set_next_renewal(iface, summary.next_renewal);
    tessera_agent1_identity_set_key_reference(iface, reference);
    tessera_agent1_identity_set_certificate_chain(iface, chain ? chain : "");
    tessera_identity_summary_clear(&summary);
    g_free(error);
    g_free(tpath);
    g_free(reference);
    g_free(chain);
}

static void
update_token(TesseraAgent1Token *iface, struct agent_token *t)
{
    /* As last heard: the main loop never waits on a token. */
    uint32_t state = token_state(t);
    tessera_agent1_token_set_label(iface, token_label(t));
    tessera_agent1_token_set_manufacturer(iface, token_manufacturer(t));
    tessera_agent1_token_set_model(iface, token_model(t));
    tessera_agent1_token_set_serial(iface, token_serial(t));
    tessera_agent1_token_set_present(iface,
                                     (state & TESSERA_TOKEN_PRESENT) != 0);
    tessera_agent1_token_set_logged_in(iface,
                                       (state & TESSERA_TOKEN_LOGGED_IN) != 0);
    tessera_agent1_token_set_pin_tries_left_low(
        iface, (state & TESSERA_TOKEN_PIN_COUNT_LOW) != 0);
    tessera_agent1_token_set_pin_final_try(
        iface, (state & TESSERA_TOKEN_PIN_FINAL_TRY) != 0);
}

/* --- desktop notifications and expiry */

static void
notify(struct agent_dbus *d, const char *summary, const char *body)
{
    struct agent_config *cfg = agent_config_get(d->agent);
    /* The system agent has no desktop to tell. */
    gboolean wanted = cfg->agent.notifications && !d->agent->system;
    agent_config_unref(cfg);
    if (!wanted || d->connection == NULL)
        return;
    g_dbus_connection_call(
        d->connection, "org.freedesktop.Notifications",
        "/org/freedesktop/Notifications", "org.freedesktop.Notifications",
        "Notify",
        g_variant_new("(susssasa{sv}i)", "Tessera", 0u, "dialog-password",
                      summary, body, NULL, NULL, -1),
        NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
}

/*
 * A certificate past an expiring-days threshold is announced only when
 * nothing will replace it in time (agent_renewal_at_risk): once per
 * threshold and certificate, so a failing renewal is told again as expiry
 * nears, and a healthy one whose renewal is scheduled never.
 */
static void
check_expiry(struct agent_dbus *d, const struct agent_config *cfg,
             const struct agent_identity *id, const char *path)
{
    GArray *thresholds = cfg->agent.expiring_days; /* descending */
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;
    gint64 not_after = (gint64)agent_identity_not_after(id);
    if (not_after == 0 || not_after <= now)
        return;
    guint days_left = (guint)((not_after - now) / 86400);
    guint crossed = 0;
    for (guint i = 0; i < thresholds->len; i++) {
        guint t = g_array_index(thresholds, guint, i);
        if (days_left < t)
            crossed = t; /* thresholds descend: the last one is the tightest */
    }
    if (crossed == 0)
        return;
    char *key = g_strdup_printf("%s %" G_GINT64_FORMAT " %u",
                                agent_identity_name(id), not_after, crossed);
    char *why = NULL;
    if (g_hash_table_contains(d->expiry_sent, key) ||
        (why = agent_renewal_at_risk(d->agent, id)) == NULL) {
        g_free(key);
        return;
    }
    g_hash_table_add(d->expiry_sent, key);
    tessera_agent1_emit_expiring_soon(d->manager, path, (guint64)not_after,
                                      days_left);
    char *body =
        g_strdup_printf("The certificate of %s expires in %u days; %s.",
                        agent_identity_name(id), days_left, why);
    g_message("%s", body);
    notify(d, "Certificate expiring", body);
    g_free(body);
    g_free(why);
}

/* --- methods */

static void sync_objects(struct agent_dbus *d);

/* A reply that must see its own effect: objects synced first, on the main
 * loop, so a client that asks right away reads the new state. */
struct deferred_reply {
    struct agent_dbus *dbus;
    GDBusMethodInvocation *inv;
    GVariant *value;
};

static gboolean
send_deferred_reply(gpointer data)
{
    struct deferred_reply *r = data;
    if (r->dbus->server != NULL)
        sync_objects(r->dbus);
    g_dbus_method_invocation_return_value(r->inv, r->value);
    g_object_unref(r->inv);
    g_free(r);
    return G_SOURCE_REMOVE;
}

static void
reply_after_sync(struct agent_dbus *d, GDBusMethodInvocation *inv,
                 GVariant *value)
{
    /* A renewal the stop let finish: the main loop runs no more. */
    if (g_cancellable_is_cancelled(
            agent_claims_cancellable(d->agent->claims))) {
        g_dbus_method_invocation_return_value(inv, value);
        return;
    }
    struct deferred_reply *r = g_new0(struct deferred_reply, 1);
    r->dbus = d;
    r->inv = g_object_ref(inv);
    r->value = value;
    g_main_context_invoke(NULL, send_deferred_reply, r);
}

/* A method that needs a token's attention, run on a GTask thread. */
struct token_call {
    struct agent_dbus *dbus;
    GDBusMethodInvocation *inv;
    struct agent_token *token;
    char *pin; /* Unlock only; wiped */
};

static void
token_call_free(struct token_call *c)
{
    if (c->pin != NULL) {
        OPENSSL_cleanse(c->pin, strlen(c->pin));
        g_free(c->pin);
    }
    if (c->token != NULL)
        token_unref(c->token);
    g_object_unref(c->inv);
    g_free(c);
}

/*
 * GDBus reads every incoming message into one buffer per connection, which
 * it reuses and never wipes: the Unlock message, PIN included, stays there
 * until a later message covers it. So the agent sends itself one, a Ping
 * whose object path fills the buffer's first PAD_MESSAGE_BYTES (its least
 * size: a longer message would move the buffer, and free the old one
 * unwiped), and waits for it to come back before anyone hears "unlocked".
 */
#define PAD_MESSAGE_BYTES 4096
#define PAD_HEADER_BYTES 256 /* the Ping's other header fields, at most */

static void
cover_received_message(GDBusConnection *connection)
{
    GString *path = g_string_new("/wipe");
    while (path->len + 2 <= PAD_MESSAGE_BYTES - PAD_HEADER_BYTES)
        g_string_append(path, "/x");
    GVariant *reply = g_dbus_connection_call_sync(
        connection, g_dbus_connection_get_unique_name(connection), path->str,
        "org.freedesktop.DBus.Peer", "Ping", NULL, NULL, G_DBUS_CALL_FLAGS_NONE,
        5000, NULL, NULL);
    if (reply != NULL)
        g_variant_unref(reply);
    g_string_free(path, TRUE);
}

static void
run_token_call(gpointer data)
{
    struct token_call *c = data;
    struct tessera_status st = {0};
    struct agent *agent = c->dbus->agent;
    int rc = c->pin == NULL ? control_lock(agent, c->token, &st)
                            : control_unlock(agent, c->token, (uint8_t *)c->pin,
                                             strlen(c->pin), FALSE, &st);
    if (c->pin != NULL)
        cover_received_message(g_dbus_method_invocation_get_connection(c->inv));
    if (rc == 0)
        reply_after_sync(c->dbus, c->inv, NULL);
    else
        return_status(c->inv, &st);
}

static struct agent_token *
token_of(struct agent_dbus *d, GDBusMethodInvocation *inv)
{
    const char *path = g_dbus_method_invocation_get_object_path(inv);
    struct agent_registry *reg = agent_registry_get(d->agent);
    struct agent_token *found = NULL;
    for (guint i = 0; found == NULL && i < agent_registry_n_tokens(reg); i++) {
        struct agent_token *t = agent_registry_token(reg, i);
        char *p = token_path(t);
        if (strcmp(p, path) == 0)
            found = token_ref(t);
        g_free(p);
    }
    agent_registry_unref(reg);
    return found;
}

static void
start_token_call(struct agent_dbus *d, GDBusMethodInvocation *inv,
                 const char *pin)
{
    struct token_call *c = g_new0(struct token_call, 1);
    c->dbus = d;
    c->inv = g_object_ref(inv);
    c->pin = g_strdup(pin);
    c->token = token_of(d, inv);
    if (c->token == NULL) {
        return_invalid(inv, "that token is gone");
        token_call_free(c);
        return;
    }
    agent_run_in_thread(run_token_call, c, (GDestroyNotify)token_call_free);
}

static gboolean
on_unlock(TesseraAgent1Token *iface, GDBusMethodInvocation *inv,
          const char *pin, gpointer data)
{
    (void)iface;
    if (strlen(pin) > TESSERA_PIN_MAX)
        return_invalid(inv, "the PIN is longer than 256 bytes; not tried");
    else
        start_token_call(data, inv, pin);
    /* The handler's argument is the generated code's copy; the message
     * keeps its own in its body. */
    OPENSSL_cleanse((char *)pin, strlen(pin));
    GVariant *body = g_dbus_method_invocation_get_parameters(inv);
    GVariant *arg = g_variant_get_child_value(body, 0);
    gsize len;
    const char *kept = g_variant_get_string(arg, &len);
    OPENSSL_cleanse((char *)kept, len);
    g_variant_unref(arg);
    return TRUE;
}

static gboolean
on_lock(TesseraAgent1Token *iface, GDBusMethodInvocation *inv, gpointer data)
{
    (void)iface;
    start_token_call(data, inv, NULL);
    return TRUE;
}

/* What `tessera export --key-ref` writes to a file. */
static char *
key_reference_pem(struct agent *agent, const char *name)
{
    struct agent_identity *id = agent_identity_find(agent, name);
    uint8_t der[TESSERA_KEYREF_DER_MAX];
    size_t len;
    gsize spki_len = 0;
    const uint8_t *spki =
        id ? g_bytes_get_data(agent_identity_spki(id), &spki_len) : NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *pem = NULL;
    if (bio != NULL && spki != NULL &&
        tessera_keyref_encode(name, spki, spki_len, der, sizeof(der), &len) &&
        PEM_write_bio(bio, TESSERA_KEYREF_PEM_NAME, "", der, (long)len)) {
        long n = BIO_get_mem_data(bio, &data);
        pem = g_strndup(data, n);
    }
    BIO_free(bio);
    agent_identity_unref(id);
    return pem;
}

static gboolean
on_export_key_reference(TesseraAgent1Identity *iface,
                        GDBusMethodInvocation *inv, gpointer data)
{
    struct agent_dbus *d = data;
    char *pem =
        key_reference_pem(d->agent, tessera_agent1_identity_get_name(iface));
    if (pem == NULL)
        return_invalid(inv, "cannot encode a key reference for that name");
    else
        tessera_agent1_identity_complete_export_key_reference(iface, inv, pem);
    g_free(pem);
    return TRUE;
}

/* A method run on a worker thread: of one identity, or the manager's. */
struct method_call {
    struct agent_dbus *dbus;
    GDBusMethodInvocation *inv;
    char *name;
    gboolean delete_objects; /* Forget's argument */
};

static struct method_call *
method_call_new(struct agent_dbus *d, GDBusMethodInvocation *inv,
                TesseraAgent1Identity *iface)
{
    struct method_call *c = g_new0(struct method_call, 1);
    c->dbus = d;
    c->inv = g_object_ref(inv);
    c->name = g_strdup(tessera_agent1_identity_get_name(iface));
    return c;
}

static void
method_call_free(struct method_call *c)
{
    g_object_unref(c->inv);
    g_free(c->name);
    g_free(c);
}

static void
run_renew(gpointer data)
{
    struct method_call *c = data;
    struct tessera_status st = {0};
    struct tessera_blob leaf = {0};
    struct agent *agent = c->dbus->agent;
    int rc = control_renew_claimed(agent, c->name, -1, &leaf, &st);
    if (rc == 0)
        reply_after_sync(c->dbus, c->inv, NULL);
    else
        return_status(c->inv, &st);
    tessera_blob_clear(&leaf);
}

/* The identity is claimed here, on the main loop, so that a second Renew
 * is refused at once rather than after a place on the CA pool. */
static gboolean
on_renew(TesseraAgent1Identity *iface, GDBusMethodInvocation *inv,
         gpointer data)
{
    struct agent_dbus *d = data;
    struct method_call *c = method_call_new(d, inv, iface);
    struct tessera_status st = {0};
    if (!control_renew_claim(d->agent, c->name, &st)) {
        return_status(inv, &st);
        method_call_free(c);
        return TRUE;
    }
    agent_run_ca_job(d->agent, run_renew, c, (GDestroyNotify)method_call_free);
    return TRUE;
}

static void
run_forget(gpointer data)
{
    struct method_call *c = data;
    struct tessera_status st = {0};
    if (control_forget(c->dbus->agent, c->name,
                       c->delete_objects ? FORGET_KEYS : FORGET_ENROLMENT,
                       &st) == 0)
        reply_after_sync(c->dbus, c->inv, NULL);
    else
        return_status(c->inv, &st);
}

static gboolean
on_forget(TesseraAgent1Identity *iface, GDBusMethodInvocation *inv,
          gboolean delete_objects, gpointer data)
{
    struct method_call *c = method_call_new(data, inv, iface);
    c->delete_objects = delete_objects;
    agent_run_in_thread(run_forget, c, (GDestroyNotify)method_call_free);
    return TRUE;
}

/* agent.conf and the tokens are read again: off the main loop. */
static void
run_reload(gpointer data)
{
    struct method_call *c = data;
    struct tessera_status st = {0};
    if (control_reload(c->dbus->agent, &st) == 0)
        reply_after_sync(c->dbus, c->inv, NULL);
    else
        return_status(c->inv, &st);
}

static gboolean
on_reload(TesseraAgent1 *iface, GDBusMethodInvocation *inv, gpointer data)
{
    (void)iface;
    struct method_call *c = g_new0(struct method_call, 1);
    c->dbus = data;
    c->inv = g_object_ref(inv);
    g_message("reloading on a D-Bus request");
    agent_run_in_thread(run_reload, c, (GDestroyNotify)method_call_free);
    return TRUE;
}

static gboolean
on_recent_uses(TesseraAgent1 *iface, GDBusMethodInvocation *inv,
               const char *name, gpointer data)
{
    struct agent_dbus *d = data;
    struct tessera_use_list uses;
    GVariantBuilder b;
    agent_uses_recent(d->agent->uses, name[0] ? name : NULL, &uses);
    g_variant_builder_init(&b, G_VARIANT_TYPE("a(ttussssus)"));
    for (size_t i = 0; i < uses.n; i++) {
        const struct tessera_use *u = &uses.items[i];
        g_variant_builder_add(
            &b, "(ttussssus)", (guint64)u->first, (guint64)u->last, u->count,
            u->identity, u->token, tessera_key_type_name(u->key_type),
            u->program, u->pid,
            u->outcome == TESSERA_OK ? "signed"
                                     : tessera_error_name((int)u->outcome));
    }
    tessera_use_list_clear(&uses);
    tessera_agent1_complete_recent_uses(iface, inv, g_variant_builder_end(&b));
    return TRUE;
}

struct enroll_call {
    struct agent_dbus *dbus;
    GDBusMethodInvocation *inv;
    struct tessera_enroll_request req;
    char **sans; /* owns req.sans' strings */
};

static void
enroll_call_free(struct enroll_call *c)
{
    g_object_unref(c->inv);
    g_free(c->req.key.name);
    g_free(c->req.key.token);
    g_free(c->req.key.key_spec);
    g_free(c->req.key.subject);
    g_free(c->req.ca);
    g_strfreev(c->sans);
    g_free(c);
}

static void
run_enroll(gpointer data)
{
    struct enroll_call *c = data;
    struct tessera_status st = {0};
    struct tessera_blob leaf = {0};
    /* No client socket to watch: a D-Bus caller cannot hang up on us. */
    if (control_enroll(c->dbus->agent, &c->req, -1, &leaf, &st) == 0) {
        char *path = child_path("identity", c->req.key.name);
        reply_after_sync(c->dbus, c->inv, g_variant_new("(o)", path));
        g_free(path);
    } else {
        return_status(c->inv, &st);
    }
    tessera_blob_clear(&leaf);
}

/* Enroll's options into a request; NULL when they are acceptable. */
static const char *
parse_enroll_options(struct enroll_call *c, const char *name, GVariant *opts)
{
    GVariantDict dict;
    g_variant_dict_init(&dict, opts);
    struct tessera_enroll_request *req = &c->req;
    req->key.name = g_strdup(name);
    req->timeout_seconds = 300;
    const char *error = NULL;
    if (!g_variant_dict_lookup(&dict, "token", "s", &req->key.token) ||
        !g_variant_dict_lookup(&dict, "ca", "s", &req->ca) ||
        !g_variant_dict_lookup(&dict, "subject", "s", &req->key.subject))
        error = "Enroll needs the options token, ca and subject (strings)";
    else if (!g_variant_dict_lookup(&dict, "key", "s", &req->key.key_spec))
        req->key.key_spec = g_strdup(""); /* the profile's choice */
    if (error == NULL && g_variant_dict_contains(&dict, "san") &&
        !g_variant_dict_lookup(&dict, "san", "^as", &c->sans))
        error = "the option san is an array of strings (as)";
    if (error == NULL && c->sans != NULL &&
        g_strv_length(c->sans) > TESSERA_SANS_MAX)
        error = "at most 16 san entries";
    if (error == NULL && g_variant_dict_contains(&dict, "timeout") &&
        (!g_variant_dict_lookup(&dict, "timeout", "u", &req->timeout_seconds) ||
         req->timeout_seconds == 0 || req->timeout_seconds > 86400))
        error = "the option timeout is 1 to 86400 seconds (u)";
    for (guint i = 0; error == NULL && c->sans && c->sans[i]; i++)
        req->sans[req->n_sans++] = c->sans[i];
    g_variant_dict_clear(&dict);
    return error;
}

static gboolean
on_enroll(TesseraAgent1 *iface, GDBusMethodInvocation *inv, const char *name,
          GVariant *options, gpointer data)
{
    (void)iface;
    struct enroll_call *c = g_new0(struct enroll_call, 1);
    c->dbus = data;
    c->inv = g_object_ref(inv);
    const char *error = parse_enroll_options(c, name, options);
    if (error != NULL) {
        return_invalid(inv, error);
        enroll_call_free(c);
        return TRUE;
    }
    agent_run_ca_job(c->dbus->agent, run_enroll, c,
                     (GDestroyNotify)enroll_call_free);
    return TRUE;
}

/* --- keeping the objects equal to the registry */

static TesseraObjectSkeleton *
ensure_object(struct agent_dbus *d, const char *path, gboolean identity)
{
    TesseraObjectSkeleton *obj = g_hash_table_lookup(d->objects, path);
    if (obj != NULL)
        return obj;
    obj = tessera_object_skeleton_new(path);
    if (identity) {
        TesseraAgent1Identity *iface = tessera_agent1_identity_skeleton_new();
        g_signal_connect(iface, "handle-export-key-reference",
                         G_CALLBACK(on_export_key_reference), d);
        g_signal_connect(iface, "handle-forget", G_CALLBACK(on_forget), d);
        g_signal_connect(iface, "handle-renew", G_CALLBACK(on_renew), d);
        tessera_object_skeleton_set_agent1_identity(obj, iface);
        g_object_unref(iface);
    } else {
        TesseraAgent1Token *iface = tessera_agent1_token_skeleton_new();
        g_signal_connect(iface, "handle-unlock", G_CALLBACK(on_unlock), d);
        g_signal_connect(iface, "handle-lock", G_CALLBACK(on_lock), d);
        tessera_object_skeleton_set_agent1_token(obj, iface);
        g_object_unref(iface);
    }
    g_dbus_object_manager_server_export(d->server, G_DBUS_OBJECT_SKELETON(obj));
    g_hash_table_insert(d->objects, g_strdup(path), obj);
    return obj;
}

static void
sync_objects(struct agent_dbus *d)
{
    struct agent_config *cfg = agent_config_get(d->agent);
    struct agent_registry *reg = agent_registry_get(d->agent);
    GHashTable *seen =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < agent_registry_n_tokens(reg); i++) {
        struct agent_token *t = agent_registry_token(reg, i);
        char *path = token_path(t);
        TesseraObjectSkeleton *obj = ensure_object(d, path, FALSE);
        TesseraAgent1Token *iface =
            tessera_object_get_agent1_token(TESSERA_OBJECT(obj));
        update_token(iface, t);
        g_object_unref(iface);
        g_hash_table_add(seen, path);
    }
    for (guint i = 0; i < agent_registry_n_identities(reg); i++) {
        struct agent_identity *id = agent_registry_identity(reg, i);
        char *path = child_path("identity", agent_identity_name(id));
        TesseraObjectSkeleton *obj = ensure_object(d, path, TRUE);
        TesseraAgent1Identity *iface =
            tessera_object_get_agent1_identity(TESSERA_OBJECT(obj));
        update_identity(d, iface, id);
        g_object_unref(iface);
        check_expiry(d, cfg, id, path);
        g_hash_table_add(seen, path);
    }
    GHashTableIter iter;
    gpointer path;
    g_hash_table_iter_init(&iter, d->objects);
    while (g_hash_table_iter_next(&iter, &path, NULL)) {
        if (!g_hash_table_contains(seen, path)) {
            g_dbus_object_manager_server_unexport(d->server, path);
            g_hash_table_iter_remove(&iter);
        }
    }
    g_hash_table_unref(seen);
    agent_registry_unref(reg);
    agent_config_unref(cfg);
}

static gboolean
sync_now(gpointer data)
{
    struct agent_dbus *d = data;
    g_atomic_int_set(&d->sync_pending, 0);
    if (d->server != NULL)
        sync_objects(d);
    return G_SOURCE_REMOVE;
}

static gboolean
on_timer(gpointer data)
{
    sync_now(data);
    return G_SOURCE_CONTINUE;
}

/* --- what the core tells, handled on the main loop */

static void
request_sync(struct agent_dbus *d)
{
    if (g_atomic_int_compare_and_exchange(&d->sync_pending, 0, 1))
        g_main_context_invoke(NULL, sync_now, d);
}

/* PinNeeded, and a desktop notification at most once a minute. */
static void
ask_for_pin(struct agent_dbus *d, const char *name)
{
    struct agent_identity *id = agent_identity_find(d->agent, name);
    if (id != NULL && d->manager != NULL) {
        struct agent_token *token = agent_identity_token(id);
        char *tpath = token_path(token), *ipath = child_path("identity", name);
        tessera_agent1_emit_pin_needed(d->manager, tpath, ipath);
        gint64 now = g_get_monotonic_time();
        if (now - d->last_pin_notice > PIN_NOTIFY_INTERVAL_US) {
            d->last_pin_notice = now;
            char *body =
                g_strdup_printf("A program wants to use %s: unlock token "
                                "\"%s\".",
                                name, token_label(token));
            notify(d, "PIN needed", body);
            g_free(body);
        }
        g_free(tpath);
        g_free(ipath);
    }
    agent_identity_unref(id);
}

static void
announce_renewal(struct agent_dbus *d, const char *name, const char *reason)
{
    if (d->manager == NULL)
        return;
    char *path = child_path("identity", name);
    if (reason == NULL) {
        struct agent_identity *id = agent_identity_find(d->agent, name);
        tessera_agent1_emit_renewal_succeeded(
            d->manager, path, id ? agent_identity_not_after(id) : 0);
        agent_identity_unref(id);
    } else {
        tessera_agent1_emit_renewal_failed(d->manager, path, reason);
    }
    g_free(path);
}

/* An event that carries an identity, on its way to the main loop. */
struct identity_event {
    struct agent_dbus *dbus;
    enum agent_event_kind kind;
    char *name;
    char *reason; /* NULL: none (a renewal succeeded) */
    gboolean pin_needed;
};

static gboolean
deliver(gpointer data)
{
    struct identity_event *e = data;
    struct agent_dbus *d = e->dbus;
    /* Properties first: a client that hears a signal reads the news. */
    if (d->server != NULL)
        sync_objects(d);
    if (e->pin_needed)
        ask_for_pin(d, e->name);
    if (e->kind == AGENT_EVENT_RENEWAL_FINISHED)
        announce_renewal(d, e->name, e->reason);
    g_free(e->name);
    g_free(e->reason);
    g_free(e);
    return G_SOURCE_REMOVE;
}

static void
on_event(const struct agent_event *event, gpointer data)
{
    struct agent_dbus *d = data;
    switch (event->kind) {
    case AGENT_EVENT_SIGNATURE_FAILED:
    case AGENT_EVENT_RENEWAL_WAITING:
    case AGENT_EVENT_RENEWAL_FINISHED: {
        struct identity_event *e = g_new0(struct identity_event, 1);
        e->dbus = d;
        e->kind = event->kind;
        e->name = g_strdup(event->name);
        e->reason = event->status ? g_strdup(event->status->message) : NULL;
        e->pin_needed = event->kind != AGENT_EVENT_RENEWAL_FINISHED &&
                        event->status != NULL &&
                        event->status->code == TESSERA_ERR_TOKEN_LOCKED;
        g_main_context_invoke(NULL, deliver, e);
        return;
    }
    case AGENT_EVENT_PROGRESS: /* for the client that asked, not the bus */
        return;
    default:
        request_sync(d);
    }
}

/* --- the bus */

static void
on_bus_acquired(GDBusConnection *connection, const char *name, gpointer data)
{
    (void)name;
    struct agent_dbus *d = data;
    /* GLib raises SIGTERM when the bus goes away; the socket serves on. */
    g_dbus_connection_set_exit_on_close(connection, FALSE);
    d->connection = g_object_ref(connection);
    /* The ObjectManager's own path may hold no managed object: the manager
     * interface is exported beside it, directly on the connection. */
    d->server = g_dbus_object_manager_server_new(MANAGER_PATH);
    d->manager = tessera_agent1_skeleton_new();
    tessera_agent1_set_version(d->manager, TESSERA_VERSION);
    g_signal_connect(d->manager, "handle-reload", G_CALLBACK(on_reload), d);
    g_signal_connect(d->manager, "handle-recent-uses",
                     G_CALLBACK(on_recent_uses), d);
    g_signal_connect(d->manager, "handle-enroll", G_CALLBACK(on_enroll), d);
    GError *error = NULL;
    if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(d->manager),
                                          connection, MANAGER_PATH, &error)) {
        g_warning("cannot export %s: %s", MANAGER_PATH, error->message);
        g_error_free(error);
    }
    sync_objects(d);
    g_dbus_object_manager_server_set_connection(d->server, connection);
}

static void
on_name_acquired(GDBusConnection *connection, const char *name, gpointer data)
{
    (void)connection;
    struct agent_dbus *d = data;
    g_message("serving %s on the %s bus", name,
              d->agent->system ? "system" : "session");
}

static void
on_name_lost(GDBusConnection *connection, const char *name, gpointer data)
{
    struct agent_dbus *d = data;
    if (connection == NULL)
        g_warning("cannot connect to the %s bus: the D-Bus API is off",
                  d->agent->system ? "system" : "session");
    else
        g_warning("another process owns %s: the D-Bus API is off", name);
}

/* No bus in the environment (a test, a headless box): no API, no autolaunch.
 * The system agent's is the system bus, allowed by its policy file
 * (data/org.tessera.Agent1.conf). */
static gboolean
bus_present(gboolean system)
{
    if (g_getenv(system ? "DBUS_SYSTEM_BUS_ADDRESS"
                        : "DBUS_SESSION_BUS_ADDRESS") != NULL)
        return TRUE;
    char *path = system
                     ? g_strdup("/run/dbus/system_bus_socket")
                     : g_build_filename(g_get_user_runtime_dir(), "bus", NULL);
    gboolean present = g_file_test(path, G_FILE_TEST_EXISTS);
    g_free(path);
    return present;
}

struct agent_dbus *
agent_dbus_start(struct agent *agent)
{
    if (!bus_present(agent->system)) {
        g_message("no %s bus: the D-Bus API is off",
                  agent->system ? "system" : "session");
        return NULL;
    }
    struct agent_dbus *d = g_new0(struct agent_dbus, 1);
    d->agent = agent;
    d->objects =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
    d->expiry_sent =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    d->last_pin_notice = -PIN_NOTIFY_INTERVAL_US;
    d->subscription = agent_events_subscribe(agent->events, on_event, d);
    d->owner_id =
        g_bus_own_name(agent->system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION,
                       BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE, on_bus_acquired,
                       on_name_acquired, on_name_lost, d, NULL);
    d->timer = g_timeout_add_seconds(CHECK_INTERVAL_SECONDS, on_timer, d);
    return d;
}

void
agent_dbus_stop(struct agent_dbus *d)
{
    if (d == NULL)
        return;
    agent_events_unsubscribe(d->agent->events, d->subscription);
    g_source_remove(d->timer);
    g_bus_unown_name(d->owner_id);
    g_clear_object(&d->server);
    if (d->manager != NULL)
        g_dbus_interface_skeleton_unexport(
            G_DBUS_INTERFACE_SKELETON(d->manager));
    g_clear_object(&d->manager);
    g_clear_object(&d->connection);
    g_hash_table_unref(d->objects);
    g_hash_table_unref(d->expiry_sent);
    g_free(d);
}
