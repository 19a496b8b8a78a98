/*
 * flash_native_file - the host port's way of attaching a flash
 * (port_flash_native.h): a caller's buffer, or a file that keeps its contents
 * across attachments like the emulated device's flash file. An hbtest program
 * built with the host gcc by tests/firmware/test_flash_persistence.py:
 *
 *     flash_native_file DIR        DIR: an empty folder for its files
 *
 * (The NOR semantics over an attached flash are firmware/test/test_flash.)
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hbtest.h"
#include "port.h"
#include "port_flash_native.h"

#define PAGES 4u
#define SIZE (PAGES * PORT_FLASH_PAGE_SIZE)

static const char *g_dir;
static uint8_t g_file_bytes[SIZE];

static void path_in_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
}

/* the whole file, read past the port (as a host tool would) */
static bool read_whole_file(const char *path, uint8_t *out, size_t size, off_t *file_size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return false;
    }
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && pread(fd, out, size, 0) == (ssize_t)size;
    *file_size = st.st_size;
    close(fd);
    return ok;
}

static bool all_ff(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != 0xFFu) {
            return false;
        }
    }
    return true;
}

static void test_every_call_reports_no_device_until_a_flash_is_attached(hbtest_t *t)
{
    uint8_t byte = 0;
    HBTEST_CHECK(t, port_flash_size() == 0u);
    HBTEST_CHECK(t, port_flash_read(0, &byte, 1) == PORT_FLASH_ERR_NO_DEVICE);
    HBTEST_CHECK(t, port_flash_write(0, &byte, 0) == PORT_FLASH_ERR_NO_DEVICE);
    HBTEST_CHECK(t, port_flash_erase_page(0) == PORT_FLASH_ERR_NO_DEVICE);
}

static void test_a_buffer_is_attached_as_it_is_and_checked(hbtest_t *t)
{
    static uint32_t mem[SIZE / 4u];
    port_flash_native_t flash;
    uint8_t back[4];
    memset(mem, 0x3C, sizeof mem);
    HBTEST_CHECK(t, port_flash_native_use_buffer(&flash, NULL, SIZE) == PORT_FLASH_ERR_ARG);
    HBTEST_CHECK(t, port_flash_native_use_buffer(NULL, mem, SIZE) == PORT_FLASH_ERR_ARG);
    HBTEST_CHECK(t, port_flash_native_use_buffer(&flash, mem, 0) == PORT_FLASH_ERR_ALIGN);
    HBTEST_CHECK(t, port_flash_native_use_buffer(&flash, mem, SIZE - 4u) == PORT_FLASH_ERR_ALIGN);
    HBTEST_CHECK(t, port_flash_native_use_buffer(&flash, (uint8_t *)mem + 1, SIZE) == PORT_FLASH_ERR_ALIGN);
    HBTEST_CHECK(t, port_flash_size() == 0u); /* none of those attached anything */
    HBTEST_CHECK(t, port_flash_native_use_buffer(&flash, mem, SIZE) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_size() == SIZE);
    HBTEST_CHECK(t, port_flash_read(SIZE - 4u, back, 4) == PORT_FLASH_OK);
    HBTEST_CHECK(t, back[0] == 0x3Cu && back[3] == 0x3Cu); /* contents as they were: no erase on attach */
    HBTEST_CHECK(t, port_flash_erase_page(0) == PORT_FLASH_OK);
    HBTEST_CHECK(t, all_ff((const uint8_t *)mem, PORT_FLASH_PAGE_SIZE)); /* the caller's memory is the flash */
    port_flash_native_release(&flash);
    HBTEST_CHECK(t, port_flash_size() == 0u);
    HBTEST_CHECK(t, port_flash_read(0, back, 1) == PORT_FLASH_ERR_NO_DEVICE);
}

static void test_a_missing_file_is_created_erased_and_private(hbtest_t *t)
{
    char path[512];
    struct stat st;
    off_t file_size = 0;
    port_flash_native_t flash;
    path_in_dir(path, sizeof path, "new.bin");
    HBTEST_CHECK(t, port_flash_native_open_file(&flash, path, SIZE) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_size() == SIZE);
    HBTEST_CHECK(t, stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    HBTEST_CHECK(t, read_whole_file(path, g_file_bytes, SIZE, &file_size) && file_size == (off_t)SIZE);
    HBTEST_CHECK(t, all_ff(g_file_bytes, SIZE));
    port_flash_native_release(&flash);
}

static void test_a_file_keeps_what_was_written_when_opened_again(hbtest_t *t)
{
    static const uint8_t data[8] = {0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04};
    char path[512];
    off_t file_size = 0;
    uint8_t back[8];
    port_flash_native_t flash;
    path_in_dir(path, sizeof path, "kept.bin");
    HBTEST_CHECK(t, port_flash_native_open_file(&flash, path, SIZE) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(PORT_FLASH_PAGE_SIZE + 8u, data, sizeof data) == PORT_FLASH_OK);
    /* in the file at once, before any release: a process killed now would leave it there */
    HBTEST_CHECK(t, read_whole_file(path, g_file_bytes, SIZE, &file_size));
    HBTEST_CHECK(t, memcmp(g_file_bytes + PORT_FLASH_PAGE_SIZE + 8u, data, sizeof data) == 0);
    port_flash_native_release(&flash);

    port_flash_native_t again;
    HBTEST_CHECK(t, port_flash_native_open_file(&again, path, SIZE) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_read(PORT_FLASH_PAGE_SIZE + 8u, back, sizeof back) == PORT_FLASH_OK);
    HBTEST_CHECK(t, memcmp(back, data, sizeof data) == 0);
    HBTEST_CHECK(t, port_flash_write(PORT_FLASH_PAGE_SIZE + 8u, data + 4, 4) == PORT_FLASH_ERR_NOT_ERASED);
    port_flash_native_release(&again);
}

static void test_a_file_of_another_size_is_refused_and_left_alone(hbtest_t *t)
{
    char path[512];
    off_t file_size = 0;
    port_flash_native_t flash;
    path_in_dir(path, sizeof path, "small.bin");
    HBTEST_CHECK(t, port_flash_native_open_file(&flash, path, PORT_FLASH_PAGE_SIZE) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(0, "\x11\x22\x33\x44", 4) == PORT_FLASH_OK);
    port_flash_native_release(&flash);
    HBTEST_CHECK(t, port_flash_native_open_file(&flash, path, SIZE) == PORT_FLASH_ERR_BOUNDS);
    HBTEST_CHECK(t, port_flash_size() == 0u);
    HBTEST_CHECK(t, read_whole_file(path, g_file_bytes, 4, &file_size));
    HBTEST_CHECK(t, file_size == (off_t)PORT_FLASH_PAGE_SIZE && memcmp(g_file_bytes, "\x11\x22\x33\x44", 4) == 0);
    HBTEST_CHECK(t, port_flash_native_open_file(&flash, path, SIZE - 1u) == PORT_FLASH_ERR_ALIGN);
}

static void test_a_file_that_cannot_be_opened_is_no_device(hbtest_t *t)
{
    char path[512];
    port_flash_native_t flash;
    path_in_dir(path, sizeof path, "no-such-folder/flash.bin");
    HBTEST_CHECK(t, port_flash_native_open_file(&flash, path, SIZE) == PORT_FLASH_ERR_NO_DEVICE);
    HBTEST_CHECK(t, port_flash_native_open_file(&flash, NULL, SIZE) == PORT_FLASH_ERR_ARG);
    HBTEST_CHECK(t, port_flash_size() == 0u);
}

int main(int argc, char **argv)
{
    hbtest_t t;
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR (an empty folder for its files)\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "every_call_reports_no_device_until_a_flash_is_attached",
               test_every_call_reports_no_device_until_a_flash_is_attached);
    hbtest_run(&t, "a_buffer_is_attached_as_it_is_and_checked", test_a_buffer_is_attached_as_it_is_and_checked);
    hbtest_run(&t, "a_missing_file_is_created_erased_and_private", test_a_missing_file_is_created_erased_and_private);
    hbtest_run(&t, "a_file_keeps_what_was_written_when_opened_again",
               test_a_file_keeps_what_was_written_when_opened_again);
    hbtest_run(&t, "a_file_of_another_size_is_refused_and_left_alone",
               test_a_file_of_another_size_is_refused_and_left_alone);
    hbtest_run(&t, "a_file_that_cannot_be_opened_is_no_device", test_a_file_that_cannot_be_opened_is_no_device);
    port_exit(hbtest_end(&t));
}
