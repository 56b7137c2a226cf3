/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's steps of a keygen, enroll or renew as they come, on stderr
 * (stdout is the command's result): on a terminal one line, redrawn, with
 * a spinner and the seconds the step has taken; otherwise a line each;
 * with --json a JSON object per line.
 */
#ifndef TESSERA_CLI_PROGRESS_H
#define TESSERA_CLI_PROGRESS_H

#include "../common/transport.h"

#include <stdbool.h>
#include <stdio.h>

struct progress {
    struct tessera_progress_sink sink; /* for the client library */
    FILE *out;
    bool json, terminal;
    char line[256]; /* the step shown, printable */
    unsigned ticks; /* since it was shown */
};

void progress_begin(struct progress *p, bool json);
/* Takes the redrawn line off the terminal. */
void progress_end(struct progress *p);

#endif
