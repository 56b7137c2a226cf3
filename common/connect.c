/* SPDX-License-Identifier: Apache-2.0 */
#include "connect.h"
#include "errors.h"
#include "ownership.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static size_t
default_agent_uids(uid_t uids[2])
{
    uids[0] = geteuid();
    uids[1] = 0;
    return uids[0] == 0 ? 1 : 2;
}

/* The directory of path, or the nearest one above it that this process
 * can see: who it belongs to. False if none can be seen. */
static bool
nearest_owner(const char *path, char *owner, size_t size)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct stat sb;
    snprintf(dir, sizeof(dir), "%s", path);
    for (char *slash; (slash = strrchr(dir, '/')) != NULL && slash != dir;) {
        *slash = '\0';
        if (stat(dir, &sb) == 0) {
            tessera_describe_uid(sb.st_uid, owner, size);
            return true;
        }
    }
    return false;
}

/* A socket this user cannot reach, in a place another user owns: that
 * agent (sudo's, another login's XDG_RUNTIME_DIR) is not this user's. */
static void
another_users_agent(const char *path, struct tessera_status *st)
{
    char owner[128];
    if (nearest_owner(path, owner, sizeof(owner)))
        tessera_status_set(st, TESSERA_ERR_UNREACHABLE,
                           "the agent's socket %s is in a directory of uid "
                           "%s, which you cannot enter: any agent there is "
                           "another user's; start your own with "
                           "`tessera-agent` (and check TESSERA_SOCKET and "
                           "XDG_RUNTIME_DIR)",
                           path, owner);
    else
        tessera_status_set(st, TESSERA_ERR_UNREACHABLE,
                           "cannot reach the agent's socket %s: %s", path,
                           strerror(EACCES));
}

static bool
is_system_socket(const char *path)
{
    char system[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct tessera_status ignored = {0};
    return tessera_system_socket_path(system, sizeof(system), &ignored) &&
           strcmp(path, system) == 0;
}

/* The socket's directory decides who could have put the socket there. */
static bool
socket_directory_trusted(const char *path, const uid_t *uids, size_t n_uids,
                         struct tessera_status *st)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const char *slash = strrchr(path, '/');
    struct stat sb;
    struct tessera_status why = {0};
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s",
                 slash == path ? 1 : (int)(slash - path), path);
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT && is_system_socket(path))
            tessera_status_set(
                st, TESSERA_ERR_UNREACHABLE,
                "the Tessera system agent is not running (there is no %s); "
                "start it with `systemctl start tessera-agent-system.socket`",
                dir);
        else if (errno == ENOENT)
            tessera_status_set(
                st, TESSERA_ERR_UNREACHABLE,
                "the Tessera agent is not running (there is no %s); start "
                "it with `tessera-agent` or `systemctl --user start "
                "tessera-agent.socket`",
                dir);
        else if (errno == EACCES)
            another_users_agent(path, st);
        else
            tessera_status_set(st, TESSERA_ERR_UNREACHABLE,
                               "cannot reach the agent's socket directory "
                               "%s: %s",
                               dir, strerror(errno));
        return false;
    }
    /* Root's directory is trusted, but the agent in it is root's. */
    if (faccessat(AT_FDCWD, dir, X_OK, AT_EACCESS) != 0 && errno == EACCES) {
        another_users_agent(path, st);
        return false;
    }
    if (tessera_directory_trusted(&sb, dir, uids, n_uids, &why))
        return true;
    tessera_status_set(st, TESSERA_ERR_UNTRUSTED,
                       "the socket %s is in a directory others control (%s), "
                       "not yours alone: refusing to send anything",
                       path, why.message);
    return false;
}

/* Who listens on the socket, as the kernel saw them call listen(). */
static bool
peer_trusted(int fd, const char *path, const uid_t *uids, size_t n_uids,
             struct tessera_status *st)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    char owner[128];
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        tessera_status_set(st, TESSERA_ERR_UNTRUSTED,
                           "cannot tell who serves the socket %s (%s): "
                           "refusing to send anything",
                           path, strerror(errno));
        return false;
    }
    if (tessera_uid_in(cred.uid, uids, n_uids))
        return true;
    tessera_describe_uid(cred.uid, owner, sizeof(owner));
    tessera_status_set(st, TESSERA_ERR_UNTRUSTED,
                       "the socket %s is served by uid %s, not by you: "
                       "refusing to send anything",
                       path, owner);
    return false;
}

static bool
hello(int fd, struct tessera_status *st)
{
    struct tessera_writer w;
    struct tessera_reply reply;
    uint32_t version = 0;
    char *agent_version = NULL;
    bool ok = false;
    tessera_writer_init(&w);
    tessera_encode_hello(&w, TESSERA_PROTOCOL_VERSION);
    if (tessera_exchange(fd, &w, TESSERA_MSG_HELLO_REPLY, 0, &reply, st) !=
        TESSERA_ANSWERED)
        ;
    else if (!tessera_decode_hello_reply(&reply.reader, &version,
                                         &agent_version))
        tessera_status_set(st, TESSERA_ERR_PROTOCOL,
                           "the agent sent a malformed hello");
    else if (version != TESSERA_PROTOCOL_VERSION)
        tessera_status_set(st, TESSERA_ERR_VERSION,
                           "the agent (%s) speaks protocol %u, this client "
                           "%u: restart the agent after an upgrade",
                           agent_version, version, TESSERA_PROTOCOL_VERSION);
    else
        ok = true;
    free(agent_version);
    tessera_reply_clear(&reply);
    tessera_writer_clear(&w);
    return ok;
}

bool
tessera_inside_agent(void)
{
    return dlsym(RTLD_DEFAULT, TESSERA_AGENT_MARKER) != NULL;
}

int
tessera_agent_connect(const char *path, const uid_t *agent_uids,
                      size_t n_agent_uids, struct tessera_status *st)
{
    uid_t defaults[2];
    /* Its socket thread could be waiting for the very call that asks. */
    if (tessera_inside_agent()) {
        tessera_status_set(st, TESSERA_ERR_UNREACHABLE,
                           "this process is a Tessera agent, which never "
                           "calls itself over its socket (is "
                           "tessera-pkcs11.so among its PKCS#11 modules?)");
        return -1;
    }
    if (agent_uids == NULL) {
        n_agent_uids = default_agent_uids(defaults);
        agent_uids = defaults;
    }
    if (!socket_directory_trusted(path, agent_uids, n_agent_uids, st))
        return -1;
    int fd = tessera_socket_connect(path, st);
    if (fd < 0)
        return -1;
    if (!peer_trusted(fd, path, agent_uids, n_agent_uids, st) ||
        !hello(fd, st)) {
        close(fd);
        return -1;
    }
    return fd;
}
