/* SPDX-License-Identifier: Apache-2.0 */
/* The renewal and enrolment journal (agent/journal.c): every field back as
 * written, nonsense refused, and nothing read from a directory or file that
 * someone else could have written. */
#include "../../agent/files.h"
#include "../../agent/journal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dirs {
    char *state, *journals;
};

static int
setup(void **state)
{
    struct dirs *d = g_new0(struct dirs, 1);
    d->state = g_dir_make_tmp("tessera-journal-XXXXXX", NULL);
    d->journals = g_build_filename(d->state, "renewals", NULL);
    g_mkdir(d->journals, 0700);
    *state = d;
    return d->state == NULL;
}

static int
teardown(void **state)
{
    struct dirs *d = *state;
    char *cmd = g_strdup_printf("rm -rf '%s'", d->state);
    assert_int_equal(system(cmd), 0);
    g_free(cmd);
    g_free(d->journals);
    g_free(d->state);
    g_free(d);
    return 0;
}

static GBytes *
bytes(const char *text)
{
    return g_bytes_new(text, strlen(text));
}

static struct journal
renewal(void)
{
    struct journal j = {
        .kind = JOURNAL_RENEWAL,
        .ca = g_strdup("corp"),
        .token_serial = g_strdup("0b04"),
        .token_label = g_strdup("Work Card"),
        .old_id = bytes("old key id 16 b."),
        .new_id = bytes("new key id 16 b."),
        .rekey = TRUE,
        .chain = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref),
    };
    return j;
}

static void
write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char *file = g_strconcat(name, ".journal", NULL);
    char *path = g_build_filename(dir, file, NULL);
    assert_true(g_file_set_contents(path, text, -1, NULL));
    assert_int_equal(g_chmod(path, mode), 0);
    g_free(path);
    g_free(file);
}

static void
test_renewal_round_trip(void **state)
{
    struct dirs *d = *state;
    struct journal j = renewal(), back;
    struct tessera_status st = {0};
    g_ptr_array_add(j.chain, bytes("leaf DER"));
    g_ptr_array_add(j.chain, bytes("issuer DER"));
    j.renew_after = 1234;
    j.grace_until = 5678;
    for (int p = 0; p < JOURNAL_PHASES; p++) {
        if (p == JOURNAL_PENDING) /* enrolments only */
            continue;
        assert_int_equal(journal_save(d->journals, "wifi", &j, p, &st), 0);
        assert_int_equal(j.phase, p);
        assert_true(journal_load(d->journals, "wifi", &back, &st));
        assert_int_equal(st.code, TESSERA_OK);
        assert_int_equal(back.kind, JOURNAL_RENEWAL);
        assert_int_equal(back.phase, p);
        assert_string_equal(back.ca, "corp");
        assert_string_equal(back.token_label, "Work Card");
        assert_string_equal(back.token_serial, "0b04");
        assert_true(g_bytes_equal(back.old_id, j.old_id));
        assert_true(g_bytes_equal(back.new_id, j.new_id));
        assert_true(back.rekey);
        assert_int_equal(back.chain->len, 2);
        assert_true(g_bytes_equal(g_ptr_array_index(back.chain, 1),
                                  g_ptr_array_index(j.chain, 1)));
        assert_int_equal(back.renew_after, 1234);
        assert_int_equal(back.grace_until, 5678);
        journal_clear(&back);
    }
    GPtrArray *names = journal_names(d->journals, &st);
    assert_int_equal(names->len, 1);
    assert_string_equal(g_ptr_array_index(names, 0), "wifi");
    g_ptr_array_unref(names);
    journal_remove(d->journals, "wifi");
    assert_false(journal_load(d->journals, "wifi", &back, &st));
    assert_int_equal(st.code, TESSERA_OK); /* none is not an error */
    journal_clear(&j);
}

static void
test_enrolment_round_trip(void **state)
{
    struct dirs *d = *state;
    struct journal j = renewal(), back;
    struct tessera_status st = {0};
    g_clear_pointer(&j.old_id, g_bytes_unref);
    j.kind = JOURNAL_ENROLMENT;
    j.key_spec = g_strdup("ec-p256");
    j.subject = g_strdup("CN=alice,O=Corp");
    j.sans = g_strsplit("dns:a.example email:alice@corp.example", " ", -1);
    assert_int_equal(
        journal_save(d->journals, "laptop", &j, JOURNAL_REQUESTING, &st), 0);
    assert_true(journal_load(d->journals, "laptop", &back, &st));
    assert_int_equal(back.kind, JOURNAL_ENROLMENT);
    assert_null(back.old_id);
    assert_string_equal(back.key_spec, "ec-p256");
    assert_string_equal(back.subject, "CN=alice,O=Corp");
    assert_int_equal(g_strv_length(back.sans), 2);
    assert_string_equal(back.sans[1], "email:alice@corp.example");
    assert_false(back.key_named);
    journal_clear(&back);
    /* Kept pending: its key named, its next try. */
    j.key_named = TRUE;
    j.next_try = 4321;
    assert_int_equal(
        journal_save(d->journals, "laptop", &j, JOURNAL_PENDING, &st), 0);
    assert_true(journal_load(d->journals, "laptop", &back, &st));
    assert_int_equal(back.phase, JOURNAL_PENDING);
    assert_true(back.key_named);
    assert_int_equal(back.next_try, 4321);
    journal_clear(&back);
    journal_clear(&j);
}

/* Each is written by hand, read, refused with a reason, and left there. */
static void
test_nonsense_refused(void **state)
{
    struct dirs *d = *state;
    static const char *const head =
        "[journal]\nca=corp\ntoken-serial=1\ntoken-label=T\n";
    static const struct {
        const char *body, *reason;
    } cases[] = {
        {"kind=renewal\nphase=exploding\nold-key-id=b2xk\nnew-key-id=bmV3\n"
         "rekey=true\n",
         "unknown phase"},
        {"kind=sabotage\nphase=grace\nold-key-id=b2xk\nnew-key-id=bmV3\n",
         "unknown kind"},
        /* A new key that is the current one: the planted journal. */
        {"kind=renewal\nphase=generating\nold-key-id=b2xk\nnew-key-id=b2xk\n"
         "rekey=true\n",
         "contradict"},
        {"kind=renewal\nphase=requesting\nold-key-id=b2xk\nnew-key-id=bmV3\n"
         "rekey=false\n",
         "contradict"},
        {"kind=renewal\nphase=issued\nold-key-id=b2xk\nnew-key-id=bmV3\n"
         "rekey=true\n",
         "without a chain"},
        {"kind=renewal\nphase=requesting\nold-key-id=b2xk\nnew-key-id=!!\n"
         "rekey=true\n",
         "new-key-id"},
        {"kind=renewal\nphase=requesting\nnew-key-id=bmV3\nrekey=true\n",
         "old-key-id"},
        {"kind=enrolment\nphase=grace\nnew-key-id=bmV3\nrekey=true\nkey=e\n"
         "subject=CN=x\n",
         "not a possible enrolment"},
        {"kind=enrolment\nphase=pending\nnew-key-id=bmV3\nrekey=true\nkey=e\n"
         "subject=CN=x\n",
         "not a possible enrolment"},
        {"kind=enrolment\nphase=requesting\nnew-key-id=bmV3\nrekey=true\n"
         "key=e\nsubject=CN=x\nkey-named=true\n",
         "named before"},
        {"kind=renewal\nphase=pending\nold-key-id=b2xk\nnew-key-id=bmV3\n"
         "rekey=true\n",
         "never kept pending"},
        {"kind=enrolment\nphase=requesting\nnew-key-id=bmV3\nrekey=true\n",
         "not a possible enrolment"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *text = g_strconcat(head, cases[i].body, NULL);
        struct journal j;
        struct tessera_status st = {0};
        write_file(d->journals, "bad", text, 0600);
        assert_false(journal_load(d->journals, "bad", &j, &st));
        assert_int_not_equal(st.code, TESSERA_OK);
        if (strstr(st.message, cases[i].reason) == NULL)
            fail_msg("case %zu: %s", i, st.message);
        g_free(text);
    }
    char *big = g_strnfill(300 * 1024, 'x');
    struct journal j;
    struct tessera_status st = {0};
    write_file(d->journals, "big", big, 0600);
    assert_false(journal_load(d->journals, "big", &j, &st));
    assert_non_null(strstr(st.message, "larger than"));
    g_free(big);
}

static void
expect_untrusted(const char *dir, const char *why)
{
    struct journal j;
    struct tessera_status st = {0};
    assert_false(journal_load(dir, "wifi", &j, &st));
    assert_int_not_equal(st.code, TESSERA_OK);
    if (strstr(st.message, why) == NULL)
        fail_msg("expected \"%s\" in: %s", why, st.message);
}

static void
test_untrusted_places(void **state)
{
    struct dirs *d = *state;
    struct journal j = renewal(), back;
    struct tessera_status st = {0};
    assert_int_equal(
        journal_save(d->journals, "wifi", &j, JOURNAL_REQUESTING, &st), 0);
    char *file = g_build_filename(d->journals, "wifi.journal", NULL);

    g_chmod(file, 0620);
    expect_untrusted(d->journals, "writable by others");
    g_chmod(file, 0600);
    g_chmod(d->journals, 0707);
    expect_untrusted(d->journals, "writable by others");
    GPtrArray *names = journal_names(d->journals, &st);
    assert_int_equal(names->len, 0);
    assert_int_not_equal(st.code, TESSERA_OK);
    st = (struct tessera_status){0};
    g_ptr_array_unref(names);
    g_chmod(d->journals, 0700);
    g_chmod(d->state, 0770);
    expect_untrusted(d->journals, "writable by others");
    g_chmod(d->state, 0700);

    /* A symbolic link is not followed, wherever it points. */
    char *real = g_build_filename(d->state, "elsewhere", NULL);
    assert_int_equal(rename(file, real), 0);
    assert_int_equal(symlink(real, file), 0);
    expect_untrusted(d->journals, "not a regular file");
    assert_int_equal(unlink(file), 0);
    assert_int_equal(rename(real, file), 0);

    assert_true(journal_load(d->journals, "wifi", &back, &st));
    journal_clear(&back);
    g_free(real);
    g_free(file);
    journal_clear(&j);
}

/* Only root can give a file away; elsewhere this test says it skipped. */
static void
test_owned_by_another_user(void **state)
{
    struct dirs *d = *state;
    if (geteuid() != 0)
        skip();
    struct journal j = renewal();
    struct tessera_status st = {0};
    assert_int_equal(journal_save(d->journals, "wifi", &j, JOURNAL_GRACE, &st),
                     0);
    char *file = g_build_filename(d->journals, "wifi.journal", NULL);
    assert_int_equal(chown(file, 65534, 65534), 0);
    expect_untrusted(d->journals, "owned by another user");
    assert_int_equal(chown(file, 0, 0), 0);
    assert_int_equal(chown(d->journals, 65534, 65534), 0);
    expect_untrusted(d->journals, "owned by another user");
    assert_int_equal(chown(d->journals, 0, 0), 0);
    g_free(file);
    journal_clear(&j);
}

/* The file appears whole under its name, with its mode, and no temporary
 * file stays beside it. */
static void
test_atomic_write(void **state)
{
    struct dirs *d = *state;
    char *path = g_build_filename(d->state, "new", "dir", "file", NULL);
    struct tessera_status st = {0};
    for (int i = 0; i < 3; i++)
        assert_int_equal(agent_write_file_atomic(path, "content", 7, 0640, &st),
                         0);
    GStatBuf sb;
    assert_int_equal(g_stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    char *dir = g_path_get_dirname(path);
    GDir *listing = g_dir_open(dir, 0, NULL);
    int files = 0;
    while (g_dir_read_name(listing) != NULL)
        files++;
    assert_int_equal(files, 1);
    g_dir_close(listing);
    g_free(dir);
    g_free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_renewal_round_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_enrolment_round_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nonsense_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untrusted_places, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owned_by_another_user, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_atomic_write, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
