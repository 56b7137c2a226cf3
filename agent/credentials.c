/* SPDX-License-Identifier: Apache-2.0 */
#include "credentials.h"
#include "../common/ownership.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

gboolean
agent_credentials_read(int fd, struct agent_credentials *peer)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    *peer = (struct agent_credentials){0};
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return FALSE;
    *peer = (struct agent_credentials){cred.uid, cred.gid, cred.pid, NULL, 0};
    /* SO_PEERGROUPS says how much room it needs when given too little.
     * Without it (Linux before 4.13) only the primary group counts. */
    len = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, NULL, &len) < 0 &&
        errno != ERANGE)
        return TRUE;
    peer->groups = g_malloc0(len + sizeof(gid_t));
    if (len > 0 &&
        getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, peer->groups, &len) == 0)
        peer->n_groups = len / sizeof(gid_t);
    return TRUE;
}

void
agent_credentials_clear(struct agent_credentials *peer)
{
    g_clear_pointer(&peer->groups, g_free);
    peer->n_groups = 0;
}

/*
 * Whether name in allow-users= (group: allow-groups=) is id: a number, or
 * a name in the user (group) database. The buffer holds a group of some
 * thousand members; a bigger one's name does not match (its number does).
 */
static gboolean
names_id(const char *name, gboolean group, unsigned long id)
{
    char *end;
    unsigned long n = strtoul(name, &end, 10);
    char buf[65536];
    struct passwd pw, *user = NULL;
    struct group gr, *grp = NULL;
    if (g_ascii_isdigit(name[0]) && *end == '\0')
        return n == id;
    if (group)
        return getgrnam_r(name, &gr, buf, sizeof(buf), &grp) == 0 &&
               grp != NULL && grp->gr_gid == id;
    return getpwnam_r(name, &pw, buf, sizeof(buf), &user) == 0 &&
           user != NULL && user->pw_uid == id;
}

static gboolean
in_allowed_groups(char **allowed, const struct agent_credentials *peer)
{
    for (char **g = allowed; g != NULL && *g != NULL; g++) {
        if (names_id(*g, TRUE, peer->gid))
            return TRUE;
        for (size_t i = 0; i < peer->n_groups; i++)
            if (names_id(*g, TRUE, peer->groups[i]))
                return TRUE;
    }
    return FALSE;
}

static gboolean
system_serves(const struct config_agent *c,
              const struct agent_credentials *peer)
{
    if (peer->uid == 0)
        return TRUE;
    for (char **u = c->allow_users; u != NULL && *u != NULL; u++)
        if (names_id(*u, FALSE, peer->uid))
            return TRUE;
    return in_allowed_groups(c->allow_groups, peer);
}

gboolean
agent_credentials_allowed(const struct agent_config *cfg, gboolean system,
                          uid_t self, const struct agent_credentials *peer,
                          struct tessera_status *st)
{
    char who[128];
    if (system ? system_serves(&cfg->agent, peer)
               : peer->uid == self || (peer->uid == 0 && cfg->agent.allow_root))
        return TRUE;
    tessera_describe_uid(peer->uid, who, sizeof(who));
    if (system)
        tessera_status_set(st, TESSERA_ERR_DENIED,
                           "this Tessera system agent does not serve uid %s "
                           "(pid %d); root can allow it with allow-users= or "
                           "allow-groups= in [agent] of %s",
                           who, (int)peer->pid, cfg->path);
    else if (peer->uid == 0)
        tessera_status_set(st, TESSERA_ERR_DENIED,
                           "this Tessera agent serves only its own user: "
                           "root is refused (allow-root=false in %s)",
                           cfg->path);
    else
        tessera_status_set(st, TESSERA_ERR_DENIED,
                           "this Tessera agent serves only its own user, not "
                           "uid %s (pid %d); a system agent "
                           "(tessera-agent --system) serves other users",
                           who, (int)peer->pid);
    return FALSE;
}
