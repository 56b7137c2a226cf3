/* SPDX-License-Identifier: Apache-2.0 */
/* agent.conf's checks (agent/config.c): every kind of value, unknown keys
 * and groups with their near misses, what each protocol needs, the
 * renewal policy's layers, and what Forget leaves. */
#include "../../agent/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#define PROFILE "protocol=local\nca-cert=/ca.pem\nca-key=/ca.key\n"

static struct agent_config *
parse(const char *text, struct tessera_status *st)
{
    *st = (struct tessera_status){0};
    return agent_config_parse("agent.conf", text, strlen(text), st);
}

/* text is refused, and the message is exactly want. */
static void
refused(const char *text, const char *want)
{
    struct tessera_status st;
    struct agent_config *cfg = parse(text, &st);
    if (cfg != NULL)
        fail_msg("accepted: %s", text);
    assert_int_equal(st.code, TESSERA_ERR_INVALID);
    assert_string_equal(st.message, want);
}

static struct agent_config *
accepted(const char *text)
{
    struct tessera_status st;
    struct agent_config *cfg = parse(text, &st);
    if (cfg == NULL)
        fail_msg("refused: %s", st.message);
    return cfg;
}

static void
test_defaults(void **state)
{
    (void)state;
    struct agent_config *cfg = accepted("");
    assert_null(cfg->agent.modules);
    assert_int_equal(cfg->agent.max_sessions, 8);
    assert_int_equal(cfg->agent.poll_us, 200);
    assert_int_equal(cfg->agent.slot_poll_seconds, 2);
    assert_int_equal(cfg->agent.expiring_days->len, 4);
    assert_int_equal(g_array_index(cfg->agent.expiring_days, guint, 0), 14);
    assert_true(cfg->agent.notifications);
    const struct config_token *t = agent_config_token(cfg, "Any Token");
    assert_int_equal(t->pin_source, AGENT_PIN_PROMPT);
    assert_null(t->pin_file);
    assert_int_equal(t->idle_lock, 0);
    assert_null(agent_config_ca(cfg, "corp"));
    assert_null(agent_config_identity(cfg, "laptop"));
    agent_config_unref(cfg);
}

static void
test_values(void **state)
{
    (void)state;
    struct agent_config *cfg = accepted(
        "[agent]\nmodules=/a.so;/b.so\nmax-sessions=64\npoll-us=0\n"
        "expiring-days=1;30;7\nnotifications=false\n"
        "[token Work Card]\npin-file=/pin\nidle-lock=900\n"
        "lock-on-suspend=true\n"
        "[identity laptop]\ncert-file=/c.pem\npost-renew-command=true\n"
        "[ca corp]\n" PROFILE "validity-days=30\nkey=ec-p384\n");
    assert_string_equal(cfg->agent.modules[1], "/b.so");
    assert_int_equal(cfg->agent.max_sessions, 64);
    assert_int_equal(cfg->agent.poll_us, 0);
    /* Descending, whatever the order written. */
    assert_int_equal(g_array_index(cfg->agent.expiring_days, guint, 0), 30);
    assert_int_equal(g_array_index(cfg->agent.expiring_days, guint, 2), 1);
    assert_false(cfg->agent.notifications);
    const struct config_token *t = agent_config_token(cfg, "Work Card");
    assert_int_equal(t->pin_source, AGENT_PIN_FILE); /* from the pin-file */
    assert_string_equal(t->pin_file, "/pin");
    assert_int_equal(t->idle_lock, 900);
    assert_true(t->lock_on_suspend);
    const struct config_identity *id = agent_config_identity(cfg, "laptop");
    assert_string_equal(id->cert_file, "/c.pem");
    assert_null(id->chain_file);
    const struct config_ca *ca = agent_config_ca(cfg, "corp");
    assert_int_equal(ca->protocol, CONFIG_LOCAL);
    assert_int_equal(ca->validity_days, 30);
    assert_string_equal(ca->key, "ec-p384");
    assert_int_equal(ca->command_timeout, 60);
    assert_int_equal(ca->retry_seconds, 30);
    agent_config_unref(cfg);
}

static void
test_bad_values(void **state)
{
    (void)state;
    refused("[agent]\nmax-sessions=0\n",
            "agent.conf: [agent] max-sessions must be 1 to 64");
    refused("[agent]\npoll-us=many\n",
            "agent.conf: [agent] poll-us must be 0 to 10000");
    refused("[agent]\nexpiring-days=14;0\n",
            "agent.conf: [agent] expiring-days must be whole days, 1 or more");
    refused("[agent]\nnotifications=loud\n",
            "agent.conf: [agent] notifications must be true or false");
    refused("[token T]\nidle-lock=-5\n",
            "agent.conf: [token T] idle-lock must be a number of seconds");
    refused(
        "[token T]\npin-source=sometimes\n",
        "agent.conf: [token T] pin-source must be prompt, file, none or empty, "
        "not \"sometimes\"");
    refused(
        "[token T]\npin-source=fil\n",
        "agent.conf: [token T] pin-source must be prompt, file, none or empty, "
        "not \"fil\" (did you mean file?)");
    refused("[token T]\npin-source=file\n",
            "agent.conf: [token T] pin-source=file needs a pin-file");
    refused("[identity x]\ncert-file=\n",
            "agent.conf: [identity x] cert-file is empty");
    refused("[identity x]\nrekey=sometimes\n",
            "agent.conf: [identity x] rekey must be true or false");
    refused("[ca corp]\nrenew-at-percent=20\n",
            "agent.conf: [ca corp] renew-at-percent must be 50 to 95");
    refused("[ca corp]\n" PROFILE "key=ec-p521\n",
            "agent.conf: [ca corp] key must be ec-p256, ec-p384, rsa2048, "
            "rsa3072, rsa4096 or ed25519, not \"ec-p521\"");
}

static void
test_unknown_keys_and_groups(void **state)
{
    (void)state;
    refused("[ca corp]\n" PROFILE "validty-days=30\n",
            "agent.conf: [ca corp] unknown key \"validty-days\"; did you mean "
            "\"validity-days\"?");
    /* Two neighbours swapped cost one edit; the case does not count. */
    refused("[agent]\nslot-pool-seconds=1\n",
            "agent.conf: [agent] unknown key \"slot-pool-seconds\"; did you "
            "mean \"slot-poll-seconds\"?");
    refused("[identity x]\nRekey=true\n",
            "agent.conf: [identity x] unknown key \"Rekey\"; did you mean "
            "\"rekey\"?");
    /* Policy keys belong to [identity] and [ca], not [token]. */
    refused("[token T]\nrekey=true\n",
            "agent.conf: [token T] unknown key \"rekey\"");
    refused("[token T]\ncolour=blue\n",
            "agent.conf: [token T] unknown key \"colour\"");
    refused("[agnet]\nmax-sessions=2\n",
            "agent.conf: unknown group [agnet]; the groups are [agent], "
            "[token LABEL], [identity NAME] and [ca NAME]; did you mean "
            "[agent]?");
    refused("[tokn Work Card]\nidle-lock=1\n",
            "agent.conf: unknown group [tokn Work Card]; the groups are "
            "[agent], [token LABEL], [identity NAME] and [ca NAME]; did you "
            "mean [token Work Card]?");
    refused("[certificates]\nx=1\n",
            "agent.conf: unknown group [certificates]; the groups are "
            "[agent], [token LABEL], [identity NAME] and [ca NAME]");
    refused("[token]\nidle-lock=1\n", "agent.conf: [token] is not how the "
                                      "group is written: [token LABEL]");
    refused("[agent extra]\n",
            "agent.conf: [agent extra] is not how the group is written: "
            "[agent]");
}

static void
test_profiles(void **state)
{
    (void)state;
    refused("[ca c]\nprotocol=scpe\n",
            "agent.conf: [ca c] protocol must be local, exec, acme or scep, "
            "not \"scpe\" (did you mean scep?)");
    refused("[ca c]\ntrust=/t\n",
            "agent.conf: [ca c] needs protocol= (local, exec, acme or scep)");
    /* Keys of other protocols, wherever they come in the group. */
    refused("[ca c]\ncommand=/bin/true\n" PROFILE,
            "agent.conf: [ca c] command is not a key of local profiles (it "
            "is one of exec)");
    refused("[ca c]\nprotocol=exec\ncommand=/x\ntrust=/t\nurl=https://x\n",
            "agent.conf: [ca c] url is not a key of exec profiles (it is one "
            "of acme, scep)");
    refused("[ca c]\nprotocol=local\nca-cert=/ca.pem\n",
            "agent.conf: [ca c] needs ca-cert= and ca-key= (protocol=local)");
    refused("[ca c]\nprotocol=exec\ntrust=/t\n",
            "agent.conf: [ca c] needs command= (protocol=exec)");
    refused("[ca c]\nprotocol=exec\ncommand=/x\n",
            "agent.conf: [ca c] needs trust= (the CA certificates its chains "
            "must lead to)");
    refused("[ca c]\nprotocol=acme\nurl=http://ca/dir\ntrust=/t\n",
            "agent.conf: [ca c] needs url=https://... (protocol=acme: the "
            "directory URL)");
    refused("[ca c]\nprotocol=acme\nurl=https://ca/dir\ntrust=/t\n"
            "eab-kid=k\n",
            "agent.conf: [ca c] needs both eab-kid= and eab-hmac-key-file= "
            "(the external account binding the CA gave)");
    refused("[ca c]\nprotocol=exec\ncommand=/x\ntrust=/t\neab-kid=k\n",
            "agent.conf: [ca c] eab-kid is not a key of exec profiles (it is "
            "one of acme)");
    refused("[ca c]\nprotocol=scep\nurl=ftp://ca\ntrust=/t\n",
            "agent.conf: [ca c] needs url=http://.../scep (protocol=scep)");
    refused("[ca c]\nprotocol=scep\nurl=http://ca\ntrust=/t\nkey=ed25519\n",
            "agent.conf: [ca c] key must be an RSA key (rsa2048, rsa3072 or "
            "rsa4096): SCEP encrypts its replies to the key");
    refused("[ca c]\n" PROFILE "command-timeout=5\n",
            "agent.conf: [ca c] command-timeout is not a key of local "
            "profiles (it is one of exec, acme, scep)");
    struct agent_config *cfg =
        accepted("[ca a]\nprotocol=acme\nurl=https://ca/dir\ntrust=/t\n"
                 "command-timeout=5\naccount-key=token\n"
                 "eab-kid=k\neab-hmac-key-file=/k\n"
                 "[ca s]\nprotocol=scep\nurl=http://ca/scep\ntrust=/t\n"
                 "challenge-file=/c\nkey=rsa3072\n");
    assert_int_equal(agent_config_ca(cfg, "a")->protocol, CONFIG_ACME);
    assert_int_equal(agent_config_ca(cfg, "a")->command_timeout, 5);
    assert_string_equal(agent_config_ca(cfg, "s")->challenge_file, "/c");
    assert_string_equal(agent_config_ca(cfg, "a")->eab_kid, "k");
    assert_string_equal(agent_config_ca(cfg, "a")->eab_hmac_key_file, "/k");
    agent_config_unref(cfg);
}

/* [identity NAME] over the [ca] it was enrolled with, over the defaults. */
static void
test_policy_layers(void **state)
{
    (void)state;
    struct agent_config *cfg =
        accepted("[ca corp]\n" PROFILE "renew-at-percent=80\n"
                 "grace-seconds=10\nrekey=false\n"
                 "[identity laptop]\nrenew-at-percent=60\nrekey=true\n");
    struct renewal_policy p =
        agent_config_renewal_policy(cfg, "laptop", "corp");
    assert_int_equal(p.at_percent, 60);
    assert_int_equal(p.grace_seconds, 10);
    assert_int_equal(p.jitter_percent, 5);
    assert_true(p.rekey);
    p = agent_config_renewal_policy(cfg, "desk", "corp");
    assert_int_equal(p.at_percent, 80);
    assert_false(p.rekey);
    p = agent_config_renewal_policy(cfg, "desk", NULL);
    assert_int_equal(p.at_percent, 67);
    assert_int_equal(p.grace_seconds, 7 * 86400);
    assert_int_equal(p.retry_max, 6 * 3600);
    assert_true(p.rekey);
    agent_config_unref(cfg);
}

static void
test_without_identity(void **state)
{
    (void)state;
    struct agent_config *cfg =
        accepted("# kept\n[identity laptop]\ncert-file=/l.pem\n"
                 "[identity desk]\ncert-file=/d.pem\n[ca corp]\n" PROFILE);
    struct agent_config *after = agent_config_without_identity(cfg, "laptop");
    assert_null(agent_config_identity(after, "laptop"));
    assert_string_equal(agent_config_identity(after, "desk")->cert_file,
                        "/d.pem");
    assert_non_null(agent_config_ca(after, "corp"));
    /* What was in force stays as it was for whoever holds it. */
    assert_non_null(agent_config_identity(cfg, "laptop"));
    agent_config_unref(after);
    agent_config_unref(cfg);
}

static void
test_unlock_allowed(void **state)
{
    (void)state;
    struct agent_config *cfg =
        accepted("[token Headless]\npin-file=/p\n"
                 "[token Never]\npin-source=none\n"
                 "[token TPM]\npin-source=empty\n"
                 "[token Both]\npin-file=/p\npin-source=prompt\n");
    struct tessera_status st = {0};
    assert_true(agent_unlock_allowed(cfg, "Elsewhere", &st));
    assert_true(agent_unlock_allowed(cfg, "Both", &st));
    assert_false(agent_unlock_allowed(cfg, "Headless", &st));
    assert_non_null(strstr(st.message, "takes its PIN from its pin-file"));
    assert_false(agent_unlock_allowed(cfg, "Never", &st));
    assert_non_null(strstr(st.message, "is never unlocked"));
    assert_false(agent_unlock_allowed(cfg, "TPM", &st));
    assert_non_null(strstr(st.message, "with the empty PIN"));
    agent_config_unref(cfg);
}

static void
test_missing_file(void **state)
{
    (void)state;
    struct tessera_status st = {0};
    struct agent_config *cfg =
        agent_config_load("/nonexistent/agent.conf", &st);
    assert_non_null(cfg);
    assert_int_equal(cfg->agent.max_sessions, 8);
    agent_config_unref(cfg);
    /* Not a file: refused before it is read. */
    assert_null(agent_config_load("/", &st));
    assert_int_equal(st.code, TESSERA_ERR_UNTRUSTED);
    assert_non_null(strstr(st.message, "/ is not a regular file"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_unknown_keys_and_groups),
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_policy_layers),
        cmocka_unit_test(test_without_identity),
        cmocka_unit_test(test_unlock_allowed),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
