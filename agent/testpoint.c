/* SPDX-License-Identifier: Apache-2.0 */
#include "testpoint.h"

#include <glib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static gboolean
here(const char *variable, const char *name, const char *step)
{
    const char *at = g_getenv(variable);
    size_t len = strlen(name);
    return at != NULL && strncmp(at, name, len) == 0 && at[len] == ':' &&
           strcmp(at + len + 1, step) == 0;
}

void
agent_test_point(const char *name, const char *step)
{
    if (here("TESSERA_TEST_CRASH_AT", name, step)) {
        g_message("TESSERA_TEST_CRASH_AT=%s:%s: killing the agent", name, step);
        kill(getpid(), SIGKILL);
    }
    if (here("TESSERA_TEST_STOP_AT", name, step)) {
        g_message("TESSERA_TEST_STOP_AT=%s:%s: stopping the agent", name, step);
        kill(getpid(), SIGTERM);
    }
}
