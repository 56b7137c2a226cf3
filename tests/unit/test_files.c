/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The atomic write and the pin-file reader (common/), on real files in a
 * temp directory. Runs as root in the suite: files of another user are made
 * with chown to a uid no one has.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../common/atomicwrite.h"
#include "../../common/messages.h"
#include "../../common/pinfile.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define STRANGER 4242 /* a uid no one has */

static char dir[64];

static int
make_dir(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/tessera-files.XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
remove_dir(void **state)
{
    (void)state;
    char command[128];
    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    return system(command);
}

static char *
in_dir(const char *name)
{
    static char paths[4][256];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static void
put_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void
assert_file_is(const char *path, const char *text)
{
    char buf[256] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, text);
}

static int
entries(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void
test_write_replaces_whole_file_with_mode(void **state)
{
    (void)state;
    struct tessera_status st = {0};
    const char *target = in_dir("cert.pem");
    put_file(target, "old contents", 0600);
    assert_true(tessera_write_file_atomic(target, "new", 3, 0644, &st));
    assert_file_is(target, "new");
    struct stat sb;
    assert_int_equal(lstat(target, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 07777, 0644);
    assert_int_equal(entries(dir), 1); /* no temp file left */
}

/* The old routine wrote PATH.tessera-tmp, following a symlink there. */
static void
test_symlink_at_old_temp_name_not_followed(void **state)
{
    (void)state;
    struct tessera_status st = {0};
    const char *victim = in_dir("victim"), *target = in_dir("cert.pem");
    put_file(victim, "precious", 0600);
    assert_int_equal(symlink(victim, in_dir("cert.pem.tessera-tmp")), 0);
    assert_true(tessera_write_file_atomic(target, "new", 3, 0644, &st));
    assert_file_is(target, "new");
    assert_file_is(victim, "precious");
    struct stat sb;
    assert_int_equal(stat(victim, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
}

static void
test_symlink_at_target_replaced_not_followed(void **state)
{
    (void)state;
    struct tessera_status st = {0};
    const char *victim = in_dir("victim2"), *target = in_dir("chain.pem");
    put_file(victim, "precious", 0600);
    assert_int_equal(symlink(victim, target), 0);
    assert_true(tessera_write_file_atomic(target, "new", 3, 0644, &st));
    struct stat sb;
    assert_int_equal(lstat(target, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_file_is(target, "new");
    assert_file_is(victim, "precious");
}

static void
assert_refused(const char *subdir, mode_t mode, uid_t owner, const char *reason)
{
    struct tessera_status st = {0};
    char *sub = in_dir(subdir), target[300];
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(chown(sub, owner, (gid_t)-1), 0);
    assert_int_equal(chmod(sub, mode), 0);
    snprintf(target, sizeof(target), "%s/cert.pem", sub);
    assert_false(tessera_write_file_atomic(target, "new", 3, 0644, &st));
    if (strstr(st.message, reason) == NULL)
        fail_msg("no \"%s\" in \"%s\"", reason, st.message);
    assert_non_null(strstr(st.message, "refusing to write"));
    assert_int_equal(entries(sub), 0);
}

static void
test_group_writable_directory_refused(void **state)
{
    (void)state;
    assert_refused("shared", 0770, 0, "is writable by its group (mode 0770)");
}

static void
test_world_writable_sticky_directory_refused(void **state)
{
    (void)state;
    assert_refused("tmp", 01777, 0, "is writable by others (mode 1777)");
}

static void
test_directory_of_another_user_refused(void **state)
{
    (void)state;
    assert_refused("theirs", 0755, STRANGER, "belongs to uid 4242");
}

/* `tessera export --cert /dev/stdout >file` once renamed a regular file
 * over /dev/stdout: /dev/stdout is a symlink, and stat() saw the file. */
static void
test_system_directories_refused(void **state)
{
    (void)state;
    char link[128], through_link[160];
    struct tessera_status st = {0};
    const char *direct = "/dev/tessera-files-test";
    assert_false(tessera_write_file_atomic(direct, "x", 1, 0644, &st));
    assert_non_null(strstr(st.message, "holds devices"));
    assert_int_equal(access(direct, F_OK), -1);
    snprintf(link, sizeof(link), "%s/devices", dir);
    assert_int_equal(symlink("/dev", link), 0);
    /* Names no one uses: were the guard gone, only they would appear. */
    snprintf(through_link, sizeof(through_link), "%s/tessera-files-test", link);
    assert_false(tessera_write_file_atomic(through_link, "x", 1, 0644, &st));
    assert_int_equal(access(direct, F_OK), -1);
    assert_false(tessera_write_file_atomic("/proc/self/tessera-files-test", "x",
                                           1, 0644, &st));
    assert_non_null(strstr(st.message, "holds devices"));
    unlink(link);
}

static void
test_failed_write_leaves_no_temp_file(void **state)
{
    (void)state;
    struct tessera_status st = {0};
    char *sub = in_dir("busy");
    assert_int_equal(mkdir(sub, 0700), 0);
    char target[300];
    snprintf(target, sizeof(target), "%s/cert.pem", sub);
    /* A file size limit of one byte: the write fails once the temp file
     * exists. */
    struct rlimit saved, one_byte = {1, 1};
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    one_byte.rlim_max = saved.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &one_byte), 0);
    bool written = tessera_write_file_atomic(target, "new", 3, 0644, &st);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    assert_false(written);
    assert_non_null(strstr(st.message, "cannot write"));
    assert_int_equal(entries(sub), 0);
}

static void
test_path_naming_no_file_refused(void **state)
{
    (void)state;
    struct tessera_status st = {0};
    assert_false(tessera_write_file_atomic("", "x", 1, 0644, &st));
    assert_false(tessera_write_file_atomic(in_dir("sub/"), "x", 1, 0644, &st));
    assert_non_null(strstr(st.message, "names no file"));
}

/* A rename over /dev/null replaced the device with a regular file for the
 * whole machine (the CLI's keygen --out /dev/null). */
static void
test_non_regular_target_refused(void **state)
{
    (void)state;
    struct tessera_status st = {0};
    const char *fifo = in_dir("pipe");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_false(tessera_write_file_atomic(fifo, "x", 1, 0644, &st));
    assert_non_null(strstr(st.message, "not a regular file"));
    struct stat sb;
    assert_int_equal(lstat(fifo, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));
    assert_int_equal(entries(dir), 1); /* no temp file left */
}

/* --- pin files */

static bool
read_pin(const char *text, mode_t mode, char *pin, size_t *len,
         struct tessera_status *st)
{
    const char *path = in_dir("pin");
    unlink(path);
    put_file(path, text, mode);
    return tessera_read_pin_file(path, pin, TESSERA_PIN_MAX + 1, len, st);
}

static void
assert_pin_refused(const char *text, mode_t mode, const char *reason)
{
    char pin[TESSERA_PIN_MAX + 1];
    size_t len = 99;
    struct tessera_status st = {0};
    assert_false(read_pin(text, mode, pin, &len, &st));
    assert_int_equal(len, 0);
    if (strstr(st.message, reason) == NULL)
        fail_msg("no \"%s\" in \"%s\"", reason, st.message);
}

static void
test_pin_line_end_stripped(void **state)
{
    (void)state;
    const char *texts[] = {"583917\n", "583917\r\n", "583917"};
    for (size_t i = 0; i < 3; i++) {
        char pin[TESSERA_PIN_MAX + 1];
        size_t len;
        struct tessera_status st = {0};
        assert_true(read_pin(texts[i], 0600, pin, &len, &st));
        assert_int_equal(len, 6);
        assert_string_equal(pin, "583917");
    }
    char pin[TESSERA_PIN_MAX + 1];
    size_t len;
    struct tessera_status st = {0};
    assert_true(read_pin("583917\n", 0400, pin, &len, &st));
}

static void
test_pin_file_modes_refused(void **state)
{
    (void)state;
    assert_pin_refused("1234\n", 0644, "readable by others (mode 0644)");
    assert_pin_refused("1234\n", 0640, "readable by others (mode 0640)");
    assert_pin_refused("1234\n", 0602, "readable by others");
    assert_pin_refused("1234\n", 0700, "must be 0600 or stricter");
}

static void
test_pin_file_of_another_user_refused(void **state)
{
    (void)state;
    char pin[TESSERA_PIN_MAX + 1];
    size_t len;
    struct tessera_status st = {0};
    const char *path = in_dir("their-pin");
    put_file(path, "1234\n", 0600);
    assert_int_equal(chown(path, STRANGER, (gid_t)-1), 0);
    assert_false(tessera_read_pin_file(path, pin, sizeof(pin), &len, &st));
    assert_non_null(strstr(st.message, "belongs to uid 4242, not to you"));
}

static void
test_pin_file_not_regular_refused(void **state)
{
    (void)state;
    char pin[TESSERA_PIN_MAX + 1];
    size_t len;
    struct tessera_status st = {0};
    const char *fifo = in_dir("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* Must not wait for a writer. */
    assert_false(tessera_read_pin_file(fifo, pin, sizeof(pin), &len, &st));
    assert_non_null(strstr(st.message, "is not a regular file"));
    assert_false(tessera_read_pin_file(dir, pin, sizeof(pin), &len, &st));
    assert_non_null(strstr(st.message, "is not a regular file"));
    assert_false(
        tessera_read_pin_file(in_dir("none"), pin, sizeof(pin), &len, &st));
    assert_non_null(strstr(st.message, "cannot open pin-file"));
}

static void
test_pin_file_contents_refused(void **state)
{
    (void)state;
    char longest[TESSERA_PIN_MAX + 3], pin[TESSERA_PIN_MAX + 1];
    size_t len;
    struct tessera_status st = {0};
    memset(longest, '7', TESSERA_PIN_MAX);
    strcpy(longest + TESSERA_PIN_MAX, "\n");
    assert_true(read_pin(longest, 0600, pin, &len, &st));
    assert_int_equal(len, TESSERA_PIN_MAX);
    longest[TESSERA_PIN_MAX] = '7';
    longest[TESSERA_PIN_MAX + 1] = '\0';
    assert_pin_refused(longest, 0600, "longer than a PIN (at most 256 bytes)");
    assert_pin_refused("", 0600, "holds no PIN");
    assert_pin_refused("\n", 0600, "holds no PIN");
    assert_pin_refused("1234\n5678\n", 0600, "more than one line");
}

static void
test_pin_symlink_to_private_file_read(void **state)
{
    (void)state;
    char pin[TESSERA_PIN_MAX + 1];
    size_t len;
    struct tessera_status st = {0};
    /* Where secrets are mounted as links (systemd credentials, Kubernetes),
     * the file behind the link is what is checked and read. */
    put_file(in_dir("real-pin"), "4321\n", 0600);
    assert_int_equal(symlink(in_dir("real-pin"), in_dir("pin-link")), 0);
    assert_true(
        tessera_read_pin_file(in_dir("pin-link"), pin, sizeof(pin), &len, &st));
    assert_string_equal(pin, "4321");
}

static void
test_pin_from_pipe(void **state)
{
    (void)state;
    int fds[2];
    char pin[TESSERA_PIN_MAX + 1];
    size_t len;
    struct tessera_status st = {0};
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "99887766\n", 9), 9);
    close(fds[1]);
    assert_true(tessera_read_pin_fd(fds[0], "standard input", pin, sizeof(pin),
                                    &len, &st));
    close(fds[0]);
    assert_string_equal(pin, "99887766");
    assert_int_equal(len, 8);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_write_replaces_whole_file_with_mode, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(
            test_symlink_at_old_temp_name_not_followed, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(
            test_symlink_at_target_replaced_not_followed, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_group_writable_directory_refused,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(
            test_world_writable_sticky_directory_refused, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_directory_of_another_user_refused,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_non_regular_target_refused,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_failed_write_leaves_no_temp_file,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_system_directories_refused,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_path_naming_no_file_refused,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_pin_line_end_stripped, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_pin_file_modes_refused, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_pin_file_of_another_user_refused,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_pin_file_not_regular_refused,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_pin_file_contents_refused,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_pin_symlink_to_private_file_read,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_pin_from_pipe, make_dir,
                                        remove_dir),
    };
    return cmocka_run_group_tests_name("atomic write and pin files", tests,
                                       NULL, NULL);
}
