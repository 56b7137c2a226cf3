/* SPDX-License-Identifier: Apache-2.0 */
/* Whom the agent serves (agent/credentials.c): a user's agent its user and root
 * unless allow-root=false; the system agent root and allow-users= and
 * allow-groups=, by name or number, primary or supplementary group. */
#include "../../agent/credentials.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static struct agent_config *
config(const char *text)
{
    struct tessera_status st = {0};
    struct agent_config *cfg =
        agent_config_parse("/etc/tessera/agent.conf", text, strlen(text), &st);
    if (cfg == NULL)
        fail_msg("%s", st.message);
    return cfg;
}

static gboolean
serves(const struct agent_config *cfg, gboolean system, uid_t uid, gid_t gid,
       gid_t supplementary, struct tessera_status *st)
{
    gid_t groups[1] = {supplementary};
    struct agent_credentials peer = {uid, gid, 42, groups,
                                     supplementary ? 1 : 0};
    *st = (struct tessera_status){0};
    return agent_credentials_allowed(cfg, system, 1000, &peer, st);
}

static void
test_user_agent(void **state)
{
    (void)state;
    struct tessera_status st;
    struct agent_config *cfg = config("[agent]\nallow-users=2000\n");
    assert_true(serves(cfg, FALSE, 1000, 1000, 0, &st));
    assert_true(serves(cfg, FALSE, 0, 0, 0, &st));
    /* allow-users= is the system agent's */
    assert_false(serves(cfg, FALSE, 2000, 2000, 0, &st));
    assert_int_equal(st.code, TESSERA_ERR_DENIED);
    assert_non_null(strstr(st.message, "serves only its own user, not uid"));
    agent_config_unref(cfg);
    cfg = config("[agent]\nallow-root=false\n");
    assert_false(serves(cfg, FALSE, 0, 0, 0, &st));
    assert_non_null(strstr(st.message, "allow-root=false"));
    agent_config_unref(cfg);
}

static void
test_system_agent(void **state)
{
    (void)state;
    struct tessera_status st;
    struct agent_config *cfg =
        config("[agent]\nallow-users=2000;root\nallow-groups=3000;4000\n");
    assert_true(serves(cfg, TRUE, 0, 0, 0, &st));
    assert_true(serves(cfg, TRUE, 2000, 2000, 0, &st));
    assert_true(serves(cfg, TRUE, 2001, 3000, 0, &st));     /* primary */
    assert_true(serves(cfg, TRUE, 2001, 2001, 4000, &st));  /* supplementary */
    assert_false(serves(cfg, TRUE, 1000, 1000, 5000, &st)); /* the owner? no */
    assert_int_equal(st.code, TESSERA_ERR_DENIED);
    assert_non_null(strstr(st.message, "does not serve uid 1000"));
    assert_non_null(strstr(st.message, "allow-users= or allow-groups= in "
                                       "[agent] of /etc/tessera/agent.conf"));
    agent_config_unref(cfg);
    /* Names, from the user and group databases */
    cfg = config("[agent]\nallow-users=nobody\nallow-groups=nogroup\n");
    assert_true(serves(cfg, TRUE, 65534, 100, 0, &st));
    assert_true(serves(cfg, TRUE, 2000, 2000, 65534, &st));
    assert_false(serves(cfg, TRUE, 2000, 2000, 0, &st));
    agent_config_unref(cfg);
    cfg = config("");
    assert_true(serves(cfg, TRUE, 0, 0, 0, &st));
    assert_false(serves(cfg, TRUE, 2000, 3000, 4000, &st));
    agent_config_unref(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_agent),
        cmocka_unit_test(test_system_agent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
