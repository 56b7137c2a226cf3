/* SPDX-License-Identifier: Apache-2.0 */
#include "../common/transport.h"
#include "agent.h"
#include "builtin.h"
#include "claims.h"
#include "control.h"
#include "dbus.h"
#include "events.h"
#include "modules.h"
#include "policy.h"
#include "prompt.h"
#include "publish.h"
#include "registry.h"
#include "renewals.h"
#include "server.h"
#include "session.h"
#include "state.h"
#include "suspend.h"
#include "tasks.h"
#include "uses.h"
#include "watch.h"

#include <curl/curl.h>
#include <errno.h>
#include <glib-unix.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

/*
 * Exported (agent.dynamic-list): the client library refuses to connect from
 * a process that has it (common/connect.h), and tessera-pkcs11.so refuses
 * to initialise there, so the agent never loads itself as a PKCS#11 module
 * however it is registered.
 */
const int tessera_agent_marker = 1;

/* Set once the agent has left its terminal: the log goes to the journal,
 * else to syslog, and nothing more to the terminal that started it. */
static gboolean to_system_log;

static const char *
log_field(const GLogField *fields, gsize n, const char *key)
{
    for (gsize i = 0; i < n; i++)
        if (strcmp(fields[i].key, key) == 0 && fields[i].length < 0)
            return fields[i].value;
    return NULL;
}

/* The journal's priorities for GLib's levels, as GLib gives them. */
static int
syslog_priority(GLogLevelFlags level)
{
    if (level & G_LOG_LEVEL_ERROR)
        return LOG_ERR;
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
        return LOG_WARNING;
    if (level & G_LOG_LEVEL_MESSAGE)
        return LOG_NOTICE;
    if (level & G_LOG_LEVEL_INFO)
        return LOG_INFO;
    return LOG_DEBUG;
}

static GLogWriterOutput
write_log(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
    if (!to_system_log)
        return g_log_writer_default(level, fields, n, data);
    if (g_log_writer_default_would_drop(level,
                                        log_field(fields, n, "GLIB_DOMAIN")))
        return G_LOG_WRITER_HANDLED;
    if (g_log_writer_journald(level, fields, n, data) == G_LOG_WRITER_HANDLED)
        return G_LOG_WRITER_HANDLED;
    const char *message = log_field(fields, n, "MESSAGE");
    syslog(syslog_priority(level), "%s", message ? message : "");
    return G_LOG_WRITER_HANDLED;
}

static gboolean
on_quit(gpointer data)
{
    g_message("stopping");
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

static void
reload(gpointer data)
{
    struct tessera_status st = {0};
    if (control_reload(data, &st) < 0)
        g_warning("%s", st.message);
}

/* Off the main loop: a rescan talks to every token. */
static gboolean
on_reload(gpointer data)
{
    g_message("reloading on SIGHUP");
    agent_run_in_thread(reload, data, NULL);
    return G_SOURCE_CONTINUE;
}

/*
 * Goes to the background but lets the parent exit only once the socket is
 * listening, so `tessera-agent && openssl ...` works. Must run before any
 * PKCS#11 module is initialized: modules do not survive a fork.
 */
static int
daemonize(void)
{
    int ready[2];
    if (pipe(ready) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        char ok = 0;
        close(ready[1]);
        ssize_t n;
        do
            n = read(ready[0], &ok, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1 || ok != 1)
            fprintf(stderr, "tessera-agent: the agent did not start; its log "
                            "(the journal, or syslog) says why\n");
        _exit(n == 1 && ok == 1 ? 0 : 1);
    }
    close(ready[0]);
    setsid();
    if (!freopen("/dev/null", "r", stdin) ||
        !freopen("/dev/null", "w", stdout) ||
        !freopen("/dev/null", "w", stderr))
        return -1;
    openlog("tessera-agent", LOG_PID, LOG_USER);
    to_system_log = TRUE;
    return ready[1];
}

static void
signal_ready(int fd)
{
    char ok = 1;
    if (fd >= 0) {
        if (write(fd, &ok, 1) != 1)
            g_warning("cannot tell the parent process the agent is ready");
        close(fd);
    }
}

static char *
default_path(const char *base, const char *leaf)
{
    return g_build_filename(base, "tessera", leaf, NULL);
}

/* The user agent's places, or the system agent's (/run, /etc, /var/lib
 * under the prefix /usr); what the command line named stays. */
static gboolean
choose_paths(gboolean system, char **socket_path, char **config_path,
             char **state_dir, struct tessera_status *st)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (*socket_path == NULL) {
        if (!(system ? tessera_system_socket_path(path, sizeof(path), st)
                     : tessera_socket_path(path, sizeof(path), st)))
            return FALSE;
        *socket_path = g_strdup(path);
    }
    if (*config_path == NULL)
        *config_path =
            default_path(system ? TESSERA_SYSCONFDIR : g_get_user_config_dir(),
                         "agent.conf");
    if (*state_dir == NULL)
        *state_dir = g_build_filename(system ? TESSERA_LOCALSTATEDIR "/lib"
                                             : g_get_user_state_dir(),
                                      "tessera", NULL);
    return TRUE;
}

/* Counts of uses whose interval is over reach the log within a second. */
static gboolean
flush_uses(gpointer uses)
{
    agent_uses_flush(uses);
    return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
    gboolean foreground = FALSE, verbose = FALSE, version = FALSE;
    gboolean system = FALSE;
    char *socket_path = NULL, *config_path = NULL, *state_dir = NULL;
    char **modules = NULL;
    GOptionEntry entries[] = {
        {"foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground,
         "Stay in the foreground and log to stderr (else: to the journal, or "
         "syslog)",
         NULL},
        {"system", 0, 0, G_OPTION_ARG_NONE, &system,
         "Be the system agent, for the machine's identities: serve root and "
         "[agent] allow-users= and allow-groups=, on the system bus; PINs "
         "only from root's pin-files or empty, never asked for; the "
         "defaults below become " TESSERA_SYSTEM_SOCKET
         " (or $TESSERA_SYSTEM_SOCKET), " TESSERA_SYSCONFDIR
         "/tessera/agent.conf and " TESSERA_LOCALSTATEDIR "/lib/tessera",
         NULL},
        {"socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path,
         "Listen on PATH (default: $TESSERA_SOCKET, else "
         "$XDG_RUNTIME_DIR/tessera/agent.sock)",
         "PATH"},
        {"module", 'm', 0, G_OPTION_ARG_FILENAME_ARRAY, &modules,
         "Use this PKCS#11 module only (repeatable; default: every module "
         "p11-kit registers, or [agent] modules in the config)",
         "PATH"},
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
         "Read FILE (default: $XDG_CONFIG_HOME/tessera/agent.conf)", "FILE"},
        {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
         "Keep state in DIR (default: $XDG_STATE_HOME/tessera)", "DIR"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debugging detail",
         NULL},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version",
         NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GError *error = NULL;
    int status = EXIT_FAILURE;
    int ready_fd = -1;
    struct agent_server *server = NULL;
    struct agent_dbus *dbus = NULL;
    struct agent_watch *watch = NULL;
    struct agent_suspend *suspend = NULL;
    struct agent agent = {0};

    /* The agent must never load itself through the system openssl.cnf. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
    /* Once, before any thread: enrolments talk HTTP from worker threads. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /*
     * No core dumps or same-user ptrace of a process that handles PINs.
     * LeakSanitizer must ptrace the agent's threads, so sanitized test
     * builds keep the agent dumpable.
     */
#ifndef __SANITIZE_ADDRESS__
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
    signal(SIGPIPE, SIG_IGN);
    g_log_set_writer_func(write_log, NULL, NULL);

    GOptionContext *ctx = g_option_context_new("- Tessera credential agent");
    g_option_context_set_summary(
        ctx, "Holds client-certificate keys on PKCS#11 tokens and signs for "
             "OpenSSL programs\nthrough the tessera provider, over a socket "
             "only this user (and root) can use;\nwith --system, the "
             "machine's identities for root's services (802.1X, VPN).");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "tessera-agent: %s\n", error->message);
        goto out;
    }
    if (version) {
        printf("tessera-agent %s\n", TESSERA_VERSION);
        status = EXIT_SUCCESS;
        goto out;
    }
    if (verbose)
        g_log_set_debug_enabled(TRUE);

    struct tessera_status st = {0};
    if (!choose_paths(system, &socket_path, &config_path, &state_dir, &st)) {
        fprintf(stderr, "tessera-agent: %s; use --socket\n", st.message);
        goto out;
    }
    agent.system = system;
    g_mutex_init(&agent.config_lock);
    /* Nothing is trusted before both are known to be the user's alone. */
    if ((agent.config = agent_config_load(config_path, &st)) == NULL ||
        (agent.state = state_open(state_dir, &st)) == NULL) {
        fprintf(stderr, "tessera-agent: %s\n", st.message);
        goto out;
    }
    agent.events = agent_events_new();
    /* Before the modules load (seconds, with a TPM module and no TPM) and
     * before the terminal is left: a second agent says so at once. The
     * socket accepts once the main loop runs. */
    server = agent_server_start(&agent, socket_path, &st);
    if (server == NULL) {
        fprintf(stderr, "tessera-agent: %s\n", st.message);
        goto out;
    }
    if (!foreground && (ready_fd = daemonize()) < 0) {
        fprintf(stderr, "tessera-agent: cannot go to the background: %s\n",
                g_strerror(errno));
        goto out;
    }

    if (!foreground)
        agent_server_adopt(server);
    agent_server_serve(server);
    agent.session = agent_session_new();
    agent.prompts = agent_prompts_new();
    agent.policy = agent_policy_new();
    agent.uses = agent_uses_new();
    agent_registry_init(&agent);
    agent_renewals_init(&agent);
    agent.claims = agent_claims_new(agent.events);
    agent_ca_pool_start(&agent);
    if (agent_builtin_provider_load(&agent, &st) < 0) {
        g_critical("%s", st.message);
        goto out;
    }
    /* --module, else [agent] modules, else p11-kit's: fixed until exit. */
    if ((agent.modules = modules_load(
             modules ? modules : agent.config->agent.modules, &st)) == NULL) {
        g_critical("%s", st.message);
        goto out;
    }
    agent_rescan(&agent);
    /* Logged-in tokens show their private keys: look again. */
    if (agent_registry_login_from_files(&agent))
        agent_rescan(&agent);
    /* Files a renewal changed while the agent was not running. */
    agent_publish_all(&agent);
    dbus = agent_dbus_start(&agent);
    watch = agent_watch_start(&agent);
    suspend = agent_suspend_start(&agent);
    signal_ready(ready_fd);
    ready_fd = -1;

    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGTERM, on_quit, loop);
    g_unix_signal_add(SIGINT, on_quit, loop);
    g_unix_signal_add(SIGHUP, on_reload, &agent);
    g_timeout_add_seconds(1, flush_uses, agent.uses);
    g_main_loop_run(loop);
    g_main_loop_unref(loop);
    status = EXIT_SUCCESS;

out:
    if (ready_fd >= 0)
        close(ready_fd);
    /* Renewals and enrolments that wait on a CA give up now and roll back;
     * those the CA has answered finish. No new ones start. */
    if (agent.claims != NULL)
        agent_claims_stop(agent.claims);
    agent_suspend_stop(suspend);
    agent_watch_stop(watch);
    agent_ca_pool_stop(&agent);
    agent_dbus_stop(dbus);
    agent_server_stop(server);
    if (agent.claims != NULL)
        agent_claims_wait(agent.claims);
    /* Threads still waiting for slot events may not rescan from now on. */
    agent_registry_stop(&agent);
    agent_claims_free(agent.claims);
    agent_renewals_finish(&agent);
    agent_registry_finish(&agent);
    modules_finalize(agent.modules);
    modules_free(agent.modules);
    agent_watch_finish(watch);
    agent_builtin_provider_unload(&agent);
    agent_events_free(agent.events);
    agent_uses_flush(agent.uses);
    agent_uses_free(agent.uses);
    agent_policy_free(agent.policy);
    agent_prompts_free(agent.prompts);
    agent_session_free(agent.session);
    agent_config_unref(agent.config);
    state_close(agent.state);
    curl_global_cleanup();
    g_clear_error(&error);
    g_option_context_free(ctx);
    g_strfreev(modules);
    g_free(socket_path);
    g_free(config_path);
    g_free(state_dir);
    return status;
}
