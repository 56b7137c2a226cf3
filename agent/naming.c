/* SPDX-License-Identifier: Apache-2.0 */
#include "naming.h"

#include <string.h>

gboolean
naming_is_renewal_key(const char *name)
{
    return g_str_has_suffix(name, NAMING_NEXT_SUFFIX) ||
           g_str_has_suffix(name, NAMING_OLD_SUFFIX);
}

gboolean
naming_is_acme_account(const char *name)
{
    return g_str_has_prefix(name, NAMING_ACME_ACCOUNT_PREFIX);
}

gboolean
naming_is_unlisted(const char *name)
{
    return naming_is_renewal_key(name) || naming_is_acme_account(name);
}

gboolean
naming_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > NAMING_MAX || name[0] == '.' || name[0] == '-')
        return FALSE;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("._@+-", *p))
            return FALSE;
    }
    return TRUE;
}

char *
naming_hex(GBytes *bytes)
{
    gsize len;
    const guint8 *p = g_bytes_get_data(bytes, &len);
    GString *s = g_string_sized_new(len * 2);
    for (gsize i = 0; i < len; i++)
        g_string_append_printf(s, "%02x", p[i]);
    return g_string_free(s, FALSE);
}

char *
naming_from_label(const char *label, GBytes *key_id)
{
    if (label == NULL || label[0] == '\0') {
        char *hex = naming_hex(key_id);
        char *name = g_strdup_printf("key-%.16s", hex);
        g_free(hex);
        return name;
    }
    /* Room for a renewal's suffix after the longest name a user gives. */
    char *name = g_strndup(label, NAMING_MAX + sizeof(NAMING_NEXT_SUFFIX));
    for (char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("._@+-~", *p))
            *p = '-';
    }
    return name;
}

char *
naming_nth(const char *name, int n)
{
    return g_strdup_printf("%s~%d", name, n);
}
