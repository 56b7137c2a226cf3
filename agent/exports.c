/* SPDX-License-Identifier: Apache-2.0 */
#include "exports.h"
#include "files.h"
#include "state.h"

#include <string.h>

#define GROUP "exported"

static const char *const content_names[EXPORT_N_CONTENTS] = {
    [EXPORT_LEAF] = "leaf",
    [EXPORT_LEAF_AND_CHAIN] = "leaf+chain",
    [EXPORT_CHAIN] = "chain",
    [EXPORT_KEY_REF] = "key-ref",
};

const char *
export_content_name(enum export_content content)
{
    return content_names[content];
}

void
export_file_free(struct export_file *file)
{
    g_free(file->path);
    g_free(file);
}

struct export_file *
export_file_new(const char *path, enum export_content content)
{
    struct export_file *f = g_new(struct export_file, 1);
    f->path = g_strdup(path);
    f->content = content;
    return f;
}

/* Only absolute paths count: the agent's directory is not the user's. */
static void
read_into(GKeyFile *kf, GPtrArray *files)
{
    for (int c = 0; c < EXPORT_N_CONTENTS; c++) {
        char **paths =
            g_key_file_get_string_list(kf, GROUP, content_names[c], NULL, NULL);
        for (char **p = paths; p != NULL && *p != NULL; p++)
            if (g_path_is_absolute(*p))
                g_ptr_array_add(files,
                                export_file_new(*p, (enum export_content)c));
        g_strfreev(paths);
    }
}

GPtrArray *
exports_read(const struct agent_state *state, const char *name)
{
    GPtrArray *files =
        g_ptr_array_new_with_free_func((GDestroyNotify)export_file_free);
    char *path = state_exports_path(state, name);
    GKeyFile *kf = g_key_file_new();
    GError *error = NULL;
    if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error))
        read_into(kf, files);
    else if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning("cannot read %s: %s", path, error->message);
    g_clear_error(&error);
    g_key_file_free(kf);
    g_free(path);
    return files;
}

gboolean
exports_listed(GPtrArray *files, const char *path)
{
    for (guint i = 0; i < files->len; i++)
        if (strcmp(((struct export_file *)files->pdata[i])->path, path) == 0)
            return TRUE;
    return FALSE;
}

int
exports_add(const struct agent_state *state, const char *name, GPtrArray *files,
            struct tessera_status *st)
{
    GPtrArray *known = exports_read(state, name);
    GPtrArray *lists[EXPORT_N_CONTENTS];
    for (int c = 0; c < EXPORT_N_CONTENTS; c++)
        lists[c] = g_ptr_array_new();
    for (guint i = 0; i < known->len; i++) {
        const struct export_file *f = g_ptr_array_index(known, i);
        if (!exports_listed(files, f->path))
            g_ptr_array_add(lists[f->content], f->path);
    }
    for (guint i = 0; i < files->len; i++) {
        const struct export_file *f = g_ptr_array_index(files, i);
        g_ptr_array_add(lists[f->content], f->path);
    }
    GKeyFile *kf = g_key_file_new();
    for (int c = 0; c < EXPORT_N_CONTENTS; c++) {
        if (lists[c]->len > 0)
            g_key_file_set_string_list(kf, GROUP, content_names[c],
                                       (const char *const *)lists[c]->pdata,
                                       lists[c]->len);
        g_ptr_array_unref(lists[c]);
    }
    char *path = state_exports_path(state, name);
    int rc = agent_write_key_file(path, kf, st);
    g_free(path);
    g_key_file_free(kf);
    g_ptr_array_unref(known);
    return rc;
}

int
exports_remove(const struct agent_state *state, const char *name,
               struct tessera_status *st)
{
    char *path = state_exports_path(state, name);
    int rc = agent_remove_file(path, st);
    g_free(path);
    return rc;
}
