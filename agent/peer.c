/* SPDX-License-Identifier: Apache-2.0 */
#include "peer.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Field 22 of /proc/PID/stat; the command name before it may hold spaces
 * and parentheses, so fields are counted from the last ')'. */
static guint64
start_time_of(pid_t pid)
{
    char path[64], *text = NULL;
    guint64 start = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return 0;
    const char *p = strrchr(text, ')');
    for (int field = 2; p != NULL && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (p != NULL)
        start = g_ascii_strtoull(p + 1, NULL, 10);
    g_free(text);
    return start;
}

void
agent_peer_of_socket(int fd, struct agent_peer *out)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    memset(out, 0, sizeof(*out));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return;
    out->pid = cred.pid;
    out->start_time = start_time_of(cred.pid);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)cred.pid);
    ssize_t n = readlink(path, out->exe, sizeof(out->exe) - 1);
    out->exe[n > 0 ? n : 0] = '\0';
}

void
agent_peer_self(struct agent_peer *out)
{
    memset(out, 0, sizeof(*out));
    g_strlcpy(out->exe, "tessera-agent", sizeof(out->exe));
}

void
agent_peer_describe(const struct agent_peer *p, char *buf, size_t size)
{
    if (p->pid == 0)
        snprintf(buf, size, "the agent's own renewal or enrolment");
    else
        snprintf(buf, size, "%s (pid %d)", p->exe[0] ? p->exe : "unknown",
                 (int)p->pid);
}
