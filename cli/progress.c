/* SPDX-License-Identifier: Apache-2.0 */
#include "progress.h"
#include "json.h"

#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define DEFAULT_COLUMNS 80

/* The agent's sentence, made safe to print: a helper's stderr is in it. */
static void
keep_printable(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    for (; src[n] != '\0' && n + 1 < size; n++)
        dst[n] = (src[n] >= 0x20 && src[n] < 0x7f) ? src[n] : '?';
    dst[n] = '\0';
}

static unsigned
columns(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
        return ws.ws_col;
    return DEFAULT_COLUMNS;
}

/* One line that never wraps, or \r could not go back over it. */
static void
redraw(struct progress *p)
{
    static const char spinner[] = "|/-\\";
    unsigned seconds = p->ticks * TESSERA_PROGRESS_TICK_MS / 1000;
    char tail[32] = "";
    if (seconds > 0)
        snprintf(tail, sizeof(tail), " (%u s)", seconds);
    int room = (int)columns(p->out) - 3 - (int)strlen(tail) - 1;
    fprintf(p->out, "\r\033[K%c %.*s%s", spinner[p->ticks / 2 % 4],
            room > 0 ? room : 0, p->line, tail);
    fflush(p->out);
}

static void
on_step(const struct tessera_progress *step, void *data)
{
    struct progress *p = data;
    if (step == NULL) {
        p->ticks++;
        if (p->terminal && p->line[0] != '\0')
            redraw(p);
        return;
    }
    keep_printable(p->line, sizeof(p->line), step->message);
    p->ticks = 0;
    if (p->json) {
        struct json j = {.out = p->out};
        json_begin_object(&j, NULL);
        json_string(&j, "step", tessera_progress_step_name(step->step));
        json_uint(&j, "seconds", step->seconds);
        json_string(&j, "message", p->line);
        json_end(&j);
    } else if (p->terminal) {
        redraw(p);
    } else {
        fprintf(p->out, "tessera: %s\n", p->line);
    }
}

void
progress_begin(struct progress *p, bool json)
{
    *p = (struct progress){
        .sink = {on_step, p},
        .out = stderr,
        .json = json,
        .terminal = !json && isatty(STDERR_FILENO),
    };
}

void
progress_end(struct progress *p)
{
    if (p->terminal && p->line[0] != '\0') {
        fputs("\r\033[K", p->out);
        fflush(p->out);
    }
}
