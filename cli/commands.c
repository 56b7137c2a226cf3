/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command table: what each command takes and what it says about
 * itself. The one source of `tessera --help`, `tessera help COMMAND`,
 * tessera(1) and the bash and zsh completion (gendoc.c); args.c parses
 * every command line by it.
 */
#include "cli.h"

#include <string.h>

#define JSON_OPTION(what)                                                      \
    {                                                                          \
        "json", CLI_FLAG, NULL, 0, "print " what                               \
    }

static const struct cli_option list_options[] = {
    JSON_OPTION("the identities as a JSON array of objects"),
    {0},
};

static const struct cli_option tokens_options[] = {
    JSON_OPTION("the tokens as a JSON array of objects"),
    {0},
};

static const struct cli_option unlock_options[] = {
    {"pin-file", CLI_FILE, "FILE", 0,
     "read the PIN from FILE (yours, mode 0600 or stricter, one line), or "
     "from standard input for `-`"},
    {"force", CLI_FLAG, NULL, 0,
     "spend the token's final PIN try, which is refused without it"},
    JSON_OPTION("the token unlocked as a JSON object"),
    {0},
};

static const struct cli_option lock_options[] = {
    JSON_OPTION("the token locked as a JSON object"),
    {0},
};

static const struct cli_option keygen_options[] = {
    {"token", CLI_TOKEN, "TOKEN", CLI_REQUIRED,
     "the token to generate the key on: its label or a pkcs11: URI"},
    {"subject", CLI_TEXT, "DN", CLI_REQUIRED,
     "the CSR's subject in RFC 4514 order, most specific first, such as "
     "`CN=alice,O=Corp` (or OpenSSL's `/O=Corp/CN=alice`)"},
    {"key", CLI_KEY_SPEC, "SPEC", 0,
     "the key type (default ec-p256; ed25519 only where the token offers "
     "CKM_EDDSA)"},
    {"out", CLI_FILE, "FILE", 0,
     "write the CSR into FILE instead of standard output"},
    {"san", CLI_TEXT, "KIND:VALUE", CLI_REPEATABLE,
     "a subject alternative name for the CSR to ask for; KIND is dns, "
     "email, uri, ip or upn"},
    JSON_OPTION("the name and the CSR as a JSON object"),
    {0},
};

static const struct cli_option import_options[] = {
    {"cert", CLI_FILE, "FILE", CLI_REQUIRED,
     "the issued certificate (PEM), optionally followed by its CA "
     "certificates"},
    {"chain", CLI_FILE, "FILE", 0, "CA certificates (PEM) to send after it"},
    {"replace", CLI_FLAG, NULL, 0,
     "replace the certificate NAME has (one reissued for the same key)"},
    {"ca", CLI_TEXT, "PROFILE", 0,
     "renew NAME through this CA profile from now on, a `[ca PROFILE]` "
     "group of agent.conf"},
    JSON_OPTION("the certificate stored as a JSON object"),
    {0},
};

static const struct cli_option forget_options[] = {
    {"delete-keys", CLI_FLAG, NULL, 0, "delete NAME's key from the token too"},
    JSON_OPTION("what was forgotten as a JSON object"),
    {0},
};

static const struct cli_option export_options[] = {
    {"key-ref", CLI_FILE, "FILE", 0,
     "write a key-reference file (mode 0600), which programs load as the "
     "key"},
    {"cert", CLI_FILE, "FILE", 0,
     "write the certificate followed by its CA certificates (PEM); the "
     "certificate alone when --chain names another file"},
    {"chain", CLI_FILE, "FILE", 0,
     "write its CA certificates (PEM) to a file of their own"},
    JSON_OPTION("the files written as a JSON object"),
    {0},
};

static const struct cli_option enroll_options[] = {
    {"token", CLI_TOKEN, "TOKEN", CLI_REQUIRED,
     "the token to generate the key on: its label or a pkcs11: URI"},
    {"ca", CLI_TEXT, "PROFILE", CLI_REQUIRED,
     "the CA profile, a `[ca PROFILE]` group of agent.conf"},
    {"subject", CLI_TEXT, "DN", CLI_REQUIRED,
     "the subject to ask for in RFC 4514 order, such as `CN=alice,O=Corp`"},
    {"san", CLI_TEXT, "KIND:VALUE", CLI_REPEATABLE,
     "a subject alternative name to ask for; KIND is dns, email, uri, ip "
     "or upn"},
    {"key", CLI_KEY_SPEC, "SPEC", 0,
     "the key type (default: the profile's `key=`, else ec-p256, or "
     "rsa2048 for scep)"},
    {"timeout", CLI_TEXT, "SECONDS", 0,
     "how long this command waits while the CA says pending (1 to 86400; "
     "default 300); the agent goes on asking after it"},
    JSON_OPTION("the certificate issued as a JSON object"),
    {0},
};

static const struct cli_option renew_options[] = {
    JSON_OPTION("the certificate issued as a JSON object"),
    {0},
};

static const struct cli_option doctor_options[] = {
    {"cert", CLI_FILE, "FILE", 0,
     "also check this certificate file, with --key"},
    {"key", CLI_FILE, "FILE", 0,
     "also check this key-reference file, with --cert"},
    JSON_OPTION("the checks as a JSON array of objects"),
    {0},
};

static const struct cli_option update_env_options[] = {
    JSON_OPTION("where prompts go as a JSON object"),
    {0},
};

static const struct cli_option log_options[] = {
    JSON_OPTION("the uses as a JSON array of objects"),
    {0},
};

static const struct cli_option no_options[] = {{0}};

static const struct cli_exit_status ca_exit_statuses[] = {
    {EXIT_CA_REJECTED, "the CA rejected the request; asking again will not "
                       "help"},
    {EXIT_CA_UNREACHABLE, "the CA could not be asked"},
    {EXIT_CA_TIMEOUT, "the CA still said pending at the timeout (the agent "
                      "keeps asking)"},
    {EXIT_CA_RESPONSE, "the CA's answer was unusable"},
    {EXIT_RENEWAL_RUNNING, "NAME is being enrolled or renewed already"},
    {0, NULL},
};

static const struct cli_exit_status doctor_exit_statuses[] = {
    {EXIT_FAILED, "a check failed: its line says what to fix"},
    {0, NULL},
};

static const struct cli_exit_status forget_exit_statuses[] = {
    {EXIT_RENEWAL_RUNNING, "NAME is being enrolled or renewed"},
    {0, NULL},
};

static const struct cli_exit_status no_exit_statuses[] = {{0, NULL}};

const struct cli_command cli_commands[] = {
    {"list", cmd_list, NULL, false, CLI_TEXT,
     "list identities: name, token, key, expiry, state, subject",
     "Lists the identities the agent holds, one line each: its name, "
     "token, key type, the end of its certificate's validity (UTC), its "
     "state (ready, locked, no certificate, expired, token absent), its "
     "renewal state and next renewal, and its subject. A header line is "
     "printed even when there is none. OpenSSL programs use an identity "
     "as `tessera:NAME`.",
     list_options, no_exit_statuses},
    {"tokens", cmd_tokens, NULL, false, CLI_TEXT,
     "list the tokens the agent sees, and whether they are unlocked",
     "Lists the PKCS#11 tokens the agent sees, one line each: label, "
     "manufacturer, model, serial number, state (unlocked, locked, no "
     "login, absent, with pin-blocked, pin-final-try, pin-count-low and "
     "read-only as the token says) and the module that serves it.",
     tokens_options, no_exit_statuses},
    {"unlock", cmd_unlock, "TOKEN", false, CLI_TOKEN,
     "log the agent into a token",
     "Logs the agent into TOKEN (a label or a pkcs11: URI; it may be left "
     "out when the agent sees one token), so that the keys on it can "
     "sign. The PIN is asked on the terminal without echo, or entered on "
     "the token's PIN pad when it has one, or read from --pin-file. It is "
     "sent to the agent once, never retried, and wiped from memory after "
     "use.",
     unlock_options, no_exit_statuses},
    {"lock", cmd_lock, "TOKEN", false, CLI_TOKEN,
     "log the agent out of a token, or of all",
     "Logs the agent out of TOKEN (a label or a pkcs11: URI), or out of "
     "every token when none is named. Its identities stay listed, but "
     "cannot sign until the next `tessera unlock`.",
     lock_options, no_exit_statuses},
    {"enroll", cmd_enroll, "NAME", true, CLI_TEXT,
     "generate a key and have a CA certify it",
     "Generates a key on the token, has the CA profile's protocol (local, "
     "exec, acme or scep; see agent.conf(5)) certify it, verifies the "
     "certificate against the profile's trust anchors and stores it "
     "beside the key, as the identity NAME. The agent renews it before it "
     "expires, through the same CA.\n\n"
     "While the CA says pending, the agent asks again; at --timeout the "
     "command stops waiting (exit 6) but the agent keeps asking every "
     "`retry-seconds`, across restarts, and stores the certificate when "
     "it comes: `tessera list` shows NAME `pending at CA` with the next "
     "try meanwhile, and `tessera forget NAME --delete-keys` gives it up. "
     "Ctrl-C stops it, and the new key is removed. A failed enrolment "
     "leaves no key behind.\n\n"
     "Each step the agent takes (key, CSR, CA asked, pending, issued, "
     "stored, an exec helper's stderr) is shown on standard error as it "
     "happens: one redrawn line on a terminal, a line each otherwise, a "
     "JSON line each with --json.",
     enroll_options, ca_exit_statuses},
    {"renew", cmd_renew, "NAME", true, CLI_IDENTITY,
     "renew an enrolled identity now",
     "Renews NAME now through the CA it was enrolled with, with a new key "
     "unless the CA profile says `rekey=false`. The agent renews on its "
     "own before expiry; `tessera list` shows when. Programs that name the "
     "identity (`tessera:NAME`, a key-reference file) follow the new key "
     "without any change. Its steps are shown as enroll shows them.",
     renew_options, ca_exit_statuses},
    {"keygen", cmd_keygen, "NAME", true, CLI_TEXT,
     "generate a key on a token and print its CSR",
     "Generates a non-extractable key on the token, as the identity NAME "
     "(up to 64 letters, digits and . _ @ + -), and writes a certificate "
     "signing request for it, signed by the new key, asking for the --san "
     "names. Have a CA issue the "
     "certificate, then `tessera import` it.\n\n"
     "With --out, says what it generated; without it, the CSR on standard "
     "output is the answer.",
     keygen_options, no_exit_statuses},
    {"import", cmd_import, "NAME", true, CLI_IDENTITY,
     "store the issued certificate beside the key NAME",
     "Stores the certificate a CA issued for NAME's key on the token, "
     "beside the key, with its CA certificates: those following it in the "
     "--cert file and those of --chain. Programs are sent them after it, "
     "so a server that trusts only the root accepts them.\n\n"
     "A key that has a certificate takes another only with --replace, and "
     "only one for the same key: the new one is stored before the old one "
     "goes. With --ca, the agent renews NAME through that CA profile from "
     "then on, asking for the certificate's subject and subject "
     "alternative names, as if it had been enrolled.",
     import_options, no_exit_statuses},
    {"forget", cmd_forget, "NAME", true, CLI_IDENTITY,
     "delete an identity's certificate and records; its key with "
     "--delete-keys",
     "Deletes NAME's certificate from its token, with its kept chain, its "
     "enrolment record (so it no longer renews), what an interrupted "
     "renewal left, and its `[identity NAME]` group of agent.conf. The key "
     "stays on the token, listed without a certificate, so that a "
     "certificate for it can be imported again; --delete-keys deletes it "
     "too. Refused while NAME is being enrolled or renewed.",
     forget_options, forget_exit_statuses},
    {"doctor", cmd_doctor, "NAME", false, CLI_IDENTITY,
     "check what OpenSSL programs need to use an identity",
     "Checks, in the order a program meets them, what stands between an "
     "OpenSSL program and an identity: OPENSSL_CONF, the provider and its "
     "order, the agent, each identity's token, certificate and chain (or "
     "NAME's only), and with --cert and --key a key-reference file and its "
     "certificate file, loaded as programs load them. One line each, with "
     "the fix for what is wrong. It looks where programs look "
     "(TESSERA_SOCKET, XDG_RUNTIME_DIR, else the system agent's socket), "
     "not at --socket.",
     doctor_options, doctor_exit_statuses},
    {"export", cmd_export, "NAME", true, CLI_IDENTITY,
     "write a key-reference file and the certificate and chain files",
     "Writes files for programs that take a key file rather than "
     "`tessera:NAME` (curl, Python, wpa_supplicant): a key-reference file, "
     "a short PEM block naming the identity and carrying its public key, "
     "which the provider turns into the key on the token; and the "
     "certificate and its CA certificates. The agent writes the files and "
     "rewrites them whenever the certificate changes (a renewal, with a "
     "new key too, or an import), so programs keep working with the same "
     "files; /dev/stdout or a pipe is written once. Each file is replaced "
     "whole, in a directory that only you (or root) can write. At least "
     "one of the options is needed.",
     export_options, no_exit_statuses},
    {"update-env", cmd_update_env, NULL, false, CLI_TEXT,
     "have the agent's PIN prompts appear on this terminal and display",
     "Tells the agent where the user is: this terminal (standard input's), "
     "DISPLAY, WAYLAND_DISPLAY and DBUS_SESSION_BUS_ADDRESS. When a program "
     "signs with an identity whose token is locked (and its pin-source is "
     "prompt), or whose policy asks for confirmation, the agent runs "
     "pinentry there. Like gpg's `gpg-connect-agent updatestartuptty`; put "
     "it in a shell's startup file.",
     update_env_options, no_exit_statuses},
    {"log", cmd_log, "NAME", false, CLI_IDENTITY,
     "show the recent uses of the identities, or of NAME",
     "Shows what the agent recently signed with, and what it refused, "
     "oldest first, from its memory (the last 128 entries): when, how many "
     "times, the identity, the outcome, the token and the program with its "
     "pid. A program that signs many times a second is one entry per "
     "interval (`log-interval-seconds`) with its count. The same entries "
     "are in the agent's log (the journal's TESSERA_IDENTITY, "
     "TESSERA_PROGRAM, TESSERA_OUTCOME ... fields); no PIN or digest is "
     "ever in either.",
     log_options, no_exit_statuses},
    {"help", cmd_help, "COMMAND", false, CLI_COMMAND,
     "show a command's usage, options and exit status",
     "Shows COMMAND's usage, options and exit status, as `tessera COMMAND "
     "--help` does; without COMMAND, the list of commands.",
     no_options, no_exit_statuses},
};
const size_t cli_n_commands = sizeof(cli_commands) / sizeof(cli_commands[0]);

const struct cli_option cli_global_options[] = {
    {"socket", CLI_FILE, "PATH", 0,
     "the agent's socket (default: $TESSERA_SOCKET, else "
     "$XDG_RUNTIME_DIR/tessera/agent.sock); nothing is sent unless it and "
     "its directory are yours (or root's)"},
    {"system", CLI_FLAG, NULL, 0,
     "talk to the system agent (tessera-agent --system), at "
     "$TESSERA_SYSTEM_SOCKET or " TESSERA_SYSTEM_SOCKET
     ", which serves root and whom its configuration allows"},
    {"version", CLI_FLAG, NULL, 0, "print the version"},
    {0},
};

const struct cli_exit_status cli_common_exit_statuses[] = {
    {EXIT_OK, "success"},
    {EXIT_FAILED, "the operation failed: the agent refused it, or a file "
                  "could not be read or written"},
    {EXIT_USAGE, "the command line is wrong"},
    {EXIT_UNREACHABLE, "no agent of yours to talk to: none is running, or "
                       "the socket is another user's"},
    {0, NULL},
};

const char cli_description[] =
    "Controls the Tessera agent, which keeps the private keys of client "
    "certificates on PKCS#11 tokens (smartcards, TPMs, HSMs) and signs "
    "with them for OpenSSL programs. Programs use an identity as "
    "`tessera:NAME` through the tessera provider, or through a "
    "key-reference file that `tessera export` writes.";

const struct cli_note cli_environment[] = {
    {"TESSERA_SOCKET", "the agent's socket, unless --socket is given"},
    {"XDG_RUNTIME_DIR",
     "the agent's socket is `$XDG_RUNTIME_DIR/tessera/agent.sock` when "
     "TESSERA_SOCKET is not set"},
    {"TESSERA_SYSTEM_SOCKET",
     "the system agent's socket (default " TESSERA_SYSTEM_SOCKET
     "): used by --system, and when this user has no agent socket of its "
     "own (root's services)"},
    {"OPENSSL_CONF", "the OpenSSL configuration `tessera doctor` checks, as "
                     "programs read it"},
    {"OPENSSL_MODULES", "where OpenSSL looks for tessera.so when the "
                        "configuration does not name it by path"},
    {NULL, NULL},
};

const struct cli_note cli_files[] = {
    {TESSERA_SNIPPET,
     "the OpenSSL configuration that loads the provider beside the default "
     "one: name it in OPENSSL_CONF for one program, or copy its sections "
     "into openssl.cnf"},
    {"$XDG_CONFIG_HOME/tessera/agent.conf",
     "the agent's configuration, with the CA profiles of `tessera enroll`; "
     "see agent.conf(5)"},
    {NULL, NULL},
};

const struct cli_command *
cli_find_command(const char *name)
{
    for (size_t i = 0; i < cli_n_commands; i++)
        if (strcmp(cli_commands[i].name, name) == 0)
            return &cli_commands[i];
    return NULL;
}
