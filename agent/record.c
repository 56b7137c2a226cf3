/* SPDX-License-Identifier: Apache-2.0 */
#include "record.h"
#include "files.h"
#include "state.h"

#define GROUP "enrolment"

int
record_remove(const struct agent_state *state, const char *name,
              struct tessera_status *st)
{
    char *path = state_record_path(state, name);
    int rc = agent_remove_file(path, st);
    g_free(path);
    return rc;
}

void
record_clear(struct enrolment_record *r)
{
    g_free(r->ca);
    g_free(r->key_spec);
    g_free(r->subject);
    g_strfreev(r->sans);
    *r = (struct enrolment_record){0};
}

gboolean
record_read(const struct agent_state *state, const char *name,
            struct enrolment_record *out)
{
    char *path = state_record_path(state, name);
    GKeyFile *kf = g_key_file_new();
    *out = (struct enrolment_record){0};
    gboolean ok = g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL);
    if (ok) {
        out->ca = g_key_file_get_string(kf, GROUP, "ca", NULL);
        out->key_spec = g_key_file_get_string(kf, GROUP, "key", NULL);
        out->subject = g_key_file_get_string(kf, GROUP, "subject", NULL);
        out->sans = g_key_file_get_string_list(kf, GROUP, "san", NULL, NULL);
        out->renew_after = g_key_file_get_int64(kf, GROUP, "renew-after", NULL);
        ok = out->ca != NULL && out->key_spec != NULL && out->subject != NULL;
    }
    if (!ok)
        record_clear(out);
    g_key_file_free(kf);
    g_free(path);
    return ok;
}

int
record_write(const struct agent_state *state, const char *name,
             const struct enrolment_record *r, struct tessera_status *st)
{
    GKeyFile *kf = g_key_file_new();
    g_key_file_set_string(kf, GROUP, "ca", r->ca);
    g_key_file_set_string(kf, GROUP, "key", r->key_spec);
    g_key_file_set_string(kf, GROUP, "subject", r->subject);
    g_key_file_set_string_list(kf, GROUP, "san", (const char *const *)r->sans,
                               r->sans ? g_strv_length(r->sans) : 0);
    if (r->renew_after > 0)
        g_key_file_set_int64(kf, GROUP, "renew-after", r->renew_after);
    char *path = state_record_path(state, name);
    int rc = agent_write_key_file(path, kf, st);
    g_free(path);
    g_key_file_free(kf);
    return rc;
}

void
record_renewed(const struct agent_state *state, const char *name,
               gint64 renew_after, gint64 now)
{
    char *path = state_record_path(state, name);
    GKeyFile *kf = g_key_file_new();
    struct tessera_status st = {0};
    if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL)) {
        if (renew_after > 0)
            g_key_file_set_int64(kf, GROUP, "renew-after", renew_after);
        else
            g_key_file_remove_key(kf, GROUP, "renew-after", NULL);
        g_key_file_set_int64(kf, GROUP, "renewed-at", now);
        if (agent_write_key_file(path, kf, &st) < 0)
            g_warning("identity %s: %s", name, st.message);
    }
    g_key_file_free(kf);
    g_free(path);
}
