/* SPDX-License-Identifier: Apache-2.0 */
/* One owner per identity (agent/claims.c): a second claim is refused with
 * renewal-running and a sentence naming what runs, a released name can be
 * claimed again, a stopping agent refuses every claim and cancels the CA
 * waits, and waiting ends when the last claim goes. */
#include "../../agent/claims.h"
#include "../../common/errors.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

static void
test_one_owner(void **state)
{
    (void)state;
    struct agent_claims *c = agent_claims_new(NULL);
    struct tessera_status st = {0};
    enum claim_kind kind;
    assert_true(agent_claim_take(c, "wifi", CLAIM_RENEWAL, &st));
    assert_true(agent_claim_held(c, "wifi", &kind));
    assert_int_equal(kind, CLAIM_RENEWAL);
    assert_false(agent_claim_held(c, "vpn", NULL));
    assert_false(agent_claim_take(c, "wifi", CLAIM_RENEWAL, &st));
    assert_int_equal(st.code, TESSERA_ERR_RENEWAL_RUNNING);
    assert_string_equal(st.message, "a renewal of wifi is already running");
    /* Another name is another owner. */
    assert_true(agent_claim_take(c, "vpn", CLAIM_ENROLMENT, &st));
    agent_claim_release(c, "wifi");
    assert_false(agent_claim_held(c, "wifi", NULL));
    assert_true(agent_claim_take(c, "wifi", CLAIM_RECOVERY, &st));
    agent_claim_release(c, "wifi");
    agent_claim_release(c, "vpn");
    agent_claims_wait(c);
    agent_claims_free(c);
}

/* The refusal says what holds the name. */
static void
test_refusal_names_the_holder(void **state)
{
    (void)state;
    static const struct {
        enum claim_kind kind;
        const char *message;
    } cases[] = {
        {CLAIM_ENROLMENT, "wifi is being enrolled"},
        {CLAIM_RECOVERY, "an interrupted renewal of wifi is being recovered"},
        {CLAIM_FORGET, "wifi is being forgotten"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct agent_claims *c = agent_claims_new(NULL);
        struct tessera_status st = {0};
        assert_true(agent_claim_take(c, "wifi", cases[i].kind, &st));
        assert_false(agent_claim_take(c, "wifi", CLAIM_RENEWAL, &st));
        assert_int_equal(st.code, TESSERA_ERR_RENEWAL_RUNNING);
        assert_string_equal(st.message, cases[i].message);
        agent_claim_release(c, "wifi");
        agent_claims_free(c);
    }
}

struct holder {
    struct agent_claims *claims;
    gint released;
};

/* Holds "wifi" until the stop is seen, as a CA wait would. */
static gpointer
hold_until_cancelled(gpointer data)
{
    struct holder *h = data;
    GCancellable *stop = agent_claims_cancellable(h->claims);
    while (!g_cancellable_is_cancelled(stop))
        g_usleep(1000);
    g_usleep(20000);
    g_atomic_int_set(&h->released, 1);
    agent_claim_release(h->claims, "wifi");
    return NULL;
}

static void
test_stop(void **state)
{
    (void)state;
    struct holder h = {agent_claims_new(NULL), 0};
    struct tessera_status st = {0};
    assert_true(agent_claim_take(h.claims, "wifi", CLAIM_RENEWAL, &st));
    GThread *t = g_thread_new("holder", hold_until_cancelled, &h);
    agent_claims_stop(h.claims);
    assert_true(g_cancellable_is_cancelled(agent_claims_cancellable(h.claims)));
    assert_false(agent_claim_take(h.claims, "vpn", CLAIM_RENEWAL, &st));
    assert_int_equal(st.code, TESSERA_ERR_INTERNAL);
    assert_non_null(strstr(st.message, "stopping"));
    agent_claims_wait(h.claims);
    assert_int_equal(g_atomic_int_get(&h.released), 1);
    g_thread_join(t);
    agent_claims_free(h.claims);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_owner),
        cmocka_unit_test(test_refusal_names_the_holder),
        cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
