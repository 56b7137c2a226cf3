/* SPDX-License-Identifier: Apache-2.0 */
#include "state.h"
#include "naming.h"

char *
state_chain_path(const char *state_dir, const char *token_serial,
                 GBytes *key_id)
{
    char *serial = naming_from_label(token_serial, key_id);
    char *hex = naming_hex(key_id);
    char *file = g_strdup_printf("%s-%s.pem", serial, hex);
    char *path = g_build_filename(state_dir, "chains", file, NULL);
    g_free(file);
    g_free(hex);
    g_free(serial);
    return path;
}

char *
state_record_path(const char *state_dir, const char *name)
{
    char *file = g_strconcat(name, ".conf", NULL);
    char *path = g_build_filename(state_dir, "enrolled", file, NULL);
    g_free(file);
    return path;
}

char *
state_journal_dir(const char *state_dir)
{
    return g_build_filename(state_dir, "renewals", NULL);
}
