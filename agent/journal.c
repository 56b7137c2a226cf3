/* SPDX-License-Identifier: Apache-2.0 */
#include "journal.h"
#include "files.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define GROUP "journal"
#define SUFFIX ".journal"
#define MAX_FILE (256 * 1024)
#define MAX_KEY_ID 64

static const char *const phase_names[JOURNAL_PHASES] = {
    [JOURNAL_GENERATING] = "generating", [JOURNAL_REQUESTING] = "requesting",
    [JOURNAL_PENDING] = "pending",       [JOURNAL_ISSUED] = "issued",
    [JOURNAL_SWITCHING] = "switching",   [JOURNAL_GRACE] = "grace",
};

const char *
journal_phase_name(enum journal_phase phase)
{
    return phase < JOURNAL_PHASES ? phase_names[phase] : "unknown";
}

const char *
journal_kind_phrase(enum journal_kind kind)
{
    return kind == JOURNAL_ENROLMENT ? "an enrolment" : "a renewal";
}

static char *
journal_path(const char *dir, const char *name)
{
    char *file = g_strconcat(name, SUFFIX, NULL);
    char *path = g_build_filename(dir, file, NULL);
    g_free(file);
    return path;
}

static void
set_bytes(GKeyFile *kf, const char *key, GBytes *b)
{
    if (b == NULL)
        return;
    gsize len;
    const guchar *data = g_bytes_get_data(b, &len);
    char *text = g_base64_encode(data, len);
    g_key_file_set_string(kf, GROUP, key, text);
    g_free(text);
}

static GBytes *
get_bytes(GKeyFile *kf, const char *key, gsize max)
{
    char *text = g_key_file_get_string(kf, GROUP, key, NULL);
    gsize len = 0;
    guchar *data = text != NULL ? g_base64_decode(text, &len) : NULL;
    g_free(text);
    if (data == NULL || len == 0 || len > max) {
        g_free(data);
        return NULL;
    }
    return g_bytes_new_take(data, len);
}

static void
set_chain(GKeyFile *kf, GPtrArray *chain)
{
    if (chain == NULL || chain->len == 0)
        return;
    char **texts = g_new0(char *, chain->len + 1);
    for (guint i = 0; i < chain->len; i++) {
        gsize len;
        const guchar *der = g_bytes_get_data(g_ptr_array_index(chain, i), &len);
        texts[i] = g_base64_encode(der, len);
    }
    g_key_file_set_string_list(kf, GROUP, "chain", (const char *const *)texts,
                               chain->len);
    g_strfreev(texts);
}

static GPtrArray *
get_chain(GKeyFile *kf)
{
    gsize n = 0;
    char **texts = g_key_file_get_string_list(kf, GROUP, "chain", &n, NULL);
    GPtrArray *chain =
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    for (gsize i = 0; i < n; i++) {
        gsize len = 0;
        guchar *der = g_base64_decode(texts[i], &len);
        if (len > 0)
            g_ptr_array_add(chain, g_bytes_new_take(der, len));
        else
            g_free(der);
    }
    g_strfreev(texts);
    return chain;
}

int
journal_save(const char *dir, const char *name, struct journal *j,
             enum journal_phase phase, struct tessera_status *st)
{
    GKeyFile *kf = g_key_file_new();
    j->phase = phase;
    g_key_file_set_string(kf, GROUP, "kind",
                          j->kind == JOURNAL_ENROLMENT ? "enrolment"
                                                       : "renewal");
    g_key_file_set_string(kf, GROUP, "phase", journal_phase_name(phase));
    g_key_file_set_string(kf, GROUP, "ca", j->ca);
    g_key_file_set_string(kf, GROUP, "token-serial", j->token_serial);
    g_key_file_set_string(kf, GROUP, "token-label", j->token_label);
    set_bytes(kf, "old-key-id", j->old_id);
    set_bytes(kf, "new-key-id", j->new_id);
    g_key_file_set_boolean(kf, GROUP, "rekey", j->rekey);
    set_chain(kf, j->chain);
    g_key_file_set_int64(kf, GROUP, "renew-after", j->renew_after);
    g_key_file_set_int64(kf, GROUP, "grace-until", j->grace_until);
    g_key_file_set_boolean(kf, GROUP, "key-named", j->key_named);
    g_key_file_set_int64(kf, GROUP, "next-try", j->next_try);
    if (j->kind == JOURNAL_ENROLMENT) {
        g_key_file_set_string(kf, GROUP, "key", j->key_spec);
        g_key_file_set_string(kf, GROUP, "subject", j->subject);
        g_key_file_set_string_list(kf, GROUP, "san",
                                   (const char *const *)j->sans,
                                   j->sans ? g_strv_length(j->sans) : 0);
    }
    char *path = journal_path(dir, name);
    int rc = agent_write_key_file(path, kf, st);
    g_free(path);
    g_key_file_free(kf);
    return rc;
}

static gboolean
parse_phase(const char *text, enum journal_phase *out)
{
    for (int p = 0; text != NULL && p < JOURNAL_PHASES; p++)
        if (strcmp(text, phase_names[p]) == 0) {
            *out = (enum journal_phase)p;
            return TRUE;
        }
    return FALSE;
}

/* What a journal must hold to be acted on; NULL when it does. */
static const char *
problem_of(const struct journal *j)
{
    if (j->ca == NULL || j->token_serial == NULL || j->token_label == NULL)
        return "a CA or token is missing";
    if (j->new_id == NULL)
        return "no usable new-key-id";
    if (j->phase >= JOURNAL_ISSUED && j->phase < JOURNAL_GRACE &&
        j->chain->len == 0)
        return "issued without a chain";
    if (j->key_named &&
        (j->kind != JOURNAL_ENROLMENT || j->phase < JOURNAL_PENDING))
        return "a key named before its enrolment was pending";
    if (j->kind == JOURNAL_ENROLMENT)
        return j->old_id != NULL || !j->rekey || j->phase == JOURNAL_GRACE ||
                       (j->phase == JOURNAL_PENDING && !j->key_named) ||
                       j->key_spec == NULL || j->subject == NULL
                   ? "not a possible enrolment"
                   : NULL;
    if (j->phase == JOURNAL_PENDING)
        return "a renewal is never kept pending";
    if (j->old_id == NULL)
        return "no usable old-key-id";
    /* A new key is never the current one; the same key is exactly it. */
    if (j->rekey == g_bytes_equal(j->old_id, j->new_id))
        return "its key ids contradict its rekey";
    return NULL;
}

/* What is wrong with it, or NULL. */
static const char *
parse(GKeyFile *kf, struct journal *j)
{
    char *kind = g_key_file_get_string(kf, GROUP, "kind", NULL);
    char *phase = g_key_file_get_string(kf, GROUP, "phase", NULL);
    const char *problem = NULL;
    if (g_strcmp0(kind, "renewal") == 0)
        j->kind = JOURNAL_RENEWAL;
    else if (g_strcmp0(kind, "enrolment") == 0)
        j->kind = JOURNAL_ENROLMENT;
    else
        problem = "an unknown kind";
    if (problem == NULL && !parse_phase(phase, &j->phase))
        problem = "an unknown phase";
    g_free(kind);
    g_free(phase);
    j->ca = g_key_file_get_string(kf, GROUP, "ca", NULL);
    j->token_serial = g_key_file_get_string(kf, GROUP, "token-serial", NULL);
    j->token_label = g_key_file_get_string(kf, GROUP, "token-label", NULL);
    j->old_id = get_bytes(kf, "old-key-id", MAX_KEY_ID);
    j->new_id = get_bytes(kf, "new-key-id", MAX_KEY_ID);
    j->rekey = g_key_file_get_boolean(kf, GROUP, "rekey", NULL);
    j->chain = get_chain(kf);
    j->renew_after = g_key_file_get_int64(kf, GROUP, "renew-after", NULL);
    j->grace_until = g_key_file_get_int64(kf, GROUP, "grace-until", NULL);
    j->key_named = g_key_file_get_boolean(kf, GROUP, "key-named", NULL);
    j->next_try = g_key_file_get_int64(kf, GROUP, "next-try", NULL);
    j->key_spec = g_key_file_get_string(kf, GROUP, "key", NULL);
    j->subject = g_key_file_get_string(kf, GROUP, "subject", NULL);
    j->sans = g_key_file_get_string_list(kf, GROUP, "san", NULL, NULL);
    return problem != NULL ? problem : problem_of(j);
}

/* The journal directory and the state directory that holds it. */
static gboolean
directory_private(const char *dir, struct tessera_status *st)
{
    char *parent = g_path_get_dirname(dir);
    gboolean ok = agent_path_private(parent, TRUE, st) &&
                  agent_path_private(dir, TRUE, st);
    g_free(parent);
    return ok;
}

int
journal_dir_ready(const char *dir, struct tessera_status *st)
{
    if (g_mkdir_with_parents(dir, 0700) != 0) {
        tessera_status_set(st, TESSERA_ERR_INTERNAL, "cannot make %s: %s", dir,
                           g_strerror(errno));
        return -1;
    }
    return directory_private(dir, st) ? 0 : -1;
}

gboolean
journal_load(const char *dir, const char *name, struct journal *j,
             struct tessera_status *st)
{
    char *path = journal_path(dir, name);
    GKeyFile *kf = g_key_file_new();
    struct tessera_status why = {0};
    GError *error = NULL;
    const char *problem = NULL;
    char *data = NULL;
    gsize len = 0;
    *j = (struct journal){0};
    gboolean exists =
        g_file_test(path, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK);
    gboolean ok = exists && directory_private(dir, &why) &&
                  agent_path_private(path, FALSE, &why);
    if (ok && !g_file_get_contents(path, &data, &len, &error))
        problem = error->message;
    else if (ok && len > MAX_FILE)
        problem = "larger than 256 KiB";
    else if (ok &&
             !g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &error))
        problem = error->message;
    else if (ok)
        problem = parse(kf, j);
    if (why.code != TESSERA_OK)
        problem = why.message;
    if (problem != NULL)
        tessera_status_set(st, TESSERA_ERR_INTERNAL,
                           "the journal %s is not acted on: %s", path, problem);
    ok = ok && problem == NULL;
    if (!ok)
        journal_clear(j);
    g_clear_error(&error);
    g_key_file_free(kf);
    g_free(data);
    g_free(path);
    return ok;
}

void
journal_remove(const char *dir, const char *name)
{
    char *path = journal_path(dir, name);
    if (unlink(path) != 0 && errno != ENOENT)
        g_warning("cannot remove %s: %s", path, g_strerror(errno));
    g_free(path);
}

void
journal_clear(struct journal *j)
{
    g_free(j->ca);
    g_free(j->token_serial);
    g_free(j->token_label);
    if (j->old_id != NULL)
        g_bytes_unref(j->old_id);
    if (j->new_id != NULL)
        g_bytes_unref(j->new_id);
    if (j->chain != NULL)
        g_ptr_array_unref(j->chain);
    g_free(j->key_spec);
    g_free(j->subject);
    g_strfreev(j->sans);
    *j = (struct journal){0};
}

GPtrArray *
journal_names(const char *dir, struct tessera_status *st)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    if (!g_file_test(dir, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK))
        return names;
    GError *error = NULL;
    GDir *d = directory_private(dir, st) ? g_dir_open(dir, 0, &error) : NULL;
    if (error != NULL) {
        tessera_status_set(st, TESSERA_ERR_INTERNAL, "%s", error->message);
        g_error_free(error);
    }
    const char *file;
    while (d != NULL && (file = g_dir_read_name(d)) != NULL)
        if (g_str_has_suffix(file, SUFFIX) && strlen(file) > strlen(SUFFIX))
            g_ptr_array_add(names,
                            g_strndup(file, strlen(file) - strlen(SUFFIX)));
    if (d != NULL)
        g_dir_close(d);
    return names;
}
