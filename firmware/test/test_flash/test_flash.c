/*
 * test_flash - the flash API of port.h (port_flash.c over the target's
 * primitives) behaves like NOR flash, on every target that runs tests:
 * native (a buffer attached through port_flash_native.h, filled with a
 * pattern first so that nothing passes by accident) and QEMU (the PSRAM at
 * 0x21000000, QEMU's RAM here: the runner gives no flash file). Persistence
 * across QEMU runs and torn writes: tests/firmware/test_flash_persistence.py.
 *
 * The cases use the first TEST_PAGES pages of the region and its last page.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hbtest.h"
#include "port.h"

#if !defined(__arm__)
#include "port_flash_native.h"
#endif

#define TEST_PAGES 8u
#define PAGE PORT_FLASH_PAGE_SIZE
#define UNIT PORT_FLASH_WRITE_UNIT

static uint8_t g_buf[PAGE];

static bool all_bytes_are(const uint8_t *p, size_t len, uint8_t value)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != value) {
            return false;
        }
    }
    return true;
}

static bool page_is(uint32_t offset, uint8_t value)
{
    memset(g_buf, (uint8_t)~value, sizeof g_buf);
    return port_flash_read(offset, g_buf, sizeof g_buf) == PORT_FLASH_OK && all_bytes_are(g_buf, sizeof g_buf, value);
}

/* Erases `page` and clears every bit of it (programs 0x00). */
static bool zero_page(uint32_t page)
{
    static const uint8_t zeros[PAGE];
    return port_flash_erase_page(page * PAGE) == PORT_FLASH_OK &&
           port_flash_write(page * PAGE, zeros, PAGE) == PORT_FLASH_OK;
}

static void test_geometry_is_pages_of_4_kib_and_words_of_4_bytes(hbtest_t *t)
{
    uint32_t size = port_flash_size();
    HBTEST_CHECK(t, PORT_FLASH_PAGE_SIZE == 4096u);
    HBTEST_CHECK(t, PORT_FLASH_WRITE_UNIT == 4u);
    HBTEST_CHECK(t, size >= TEST_PAGES * PAGE);
    HBTEST_CHECK(t, size % PAGE == 0u);
}

static void test_erase_sets_the_whole_page_to_ff_and_only_that_page(hbtest_t *t)
{
    HBTEST_CHECK(t, zero_page(1u));
    HBTEST_CHECK(t, zero_page(2u));
    HBTEST_CHECK(t, zero_page(3u));
    HBTEST_CHECK(t, port_flash_erase_page(2u * PAGE) == PORT_FLASH_OK);
    HBTEST_CHECK(t, page_is(2u * PAGE, 0xFFu));
    HBTEST_CHECK(t, page_is(1u * PAGE, 0x00u)); /* the neighbours keep their data */
    HBTEST_CHECK(t, page_is(3u * PAGE, 0x00u));
}

static void test_a_write_programs_the_bytes_it_is_given(hbtest_t *t)
{
    static const uint8_t data[12] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x00, 0x7F, 0x80, 0xFE};
    uint8_t back[sizeof data + 8];
    HBTEST_CHECK(t, port_flash_erase_page(PAGE) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(PAGE + 16u, data, sizeof data) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_read(PAGE + 12u, back, sizeof back) == PORT_FLASH_OK);
    HBTEST_CHECK(t, all_bytes_are(back, 4, 0xFFu)); /* before the write: untouched */
    HBTEST_CHECK(t, memcmp(back + 4, data, sizeof data) == 0);
    HBTEST_CHECK(t, all_bytes_are(back + 4 + sizeof data, 4, 0xFFu)); /* after it: untouched */
}

static void test_programming_again_can_clear_more_bits(hbtest_t *t)
{
    const uint32_t off = PAGE + 64u;
    uint8_t first[4] = {0xF0, 0xF0, 0xFF, 0x0F};
    uint8_t second[4] = {0x30, 0xF0, 0x7E, 0x01}; /* only clears bits of `first` */
    uint8_t back[4];
    HBTEST_CHECK(t, port_flash_erase_page(PAGE) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(off, first, 4) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(off, second, 4) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_read(off, back, 4) == PORT_FLASH_OK);
    HBTEST_CHECK(t, memcmp(back, second, 4) == 0);
    HBTEST_CHECK(t, port_flash_write(off, second, 4) == PORT_FLASH_OK); /* the same value again: no change */
    HBTEST_CHECK(t, port_flash_read(off, back, 4) == PORT_FLASH_OK);
    HBTEST_CHECK(t, memcmp(back, second, 4) == 0);
}

static void test_a_write_needing_a_0_to_1_is_refused_and_changes_nothing(hbtest_t *t)
{
    const uint32_t off = 2u * PAGE;
    uint8_t old[8] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
    /* the first word only clears bits; the second sets bit 0 of byte 4 (0x44 -> 0x45) */
    uint8_t bad[8] = {0x00, 0x01, 0x02, 0x03, 0x45, 0x55, 0x66, 0x77};
    uint8_t back[8];
    HBTEST_CHECK(t, port_flash_erase_page(off) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(off, old, sizeof old) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(off, bad, sizeof bad) == PORT_FLASH_ERR_NOT_ERASED);
    HBTEST_CHECK(t, port_flash_read(off, back, sizeof back) == PORT_FLASH_OK);
    HBTEST_CHECK(t, memcmp(back, old, sizeof old) == 0); /* not even the first word was written */
    HBTEST_CHECK(t, port_flash_erase_page(off) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(off, bad, sizeof bad) == PORT_FLASH_OK); /* after an erase it goes in */
    HBTEST_CHECK(t, port_flash_read(off, back, sizeof back) == PORT_FLASH_OK);
    HBTEST_CHECK(t, memcmp(back, bad, sizeof bad) == 0);
}

static void test_writes_must_be_whole_aligned_words(hbtest_t *t)
{
    const uint32_t off = 3u * PAGE;
    uint8_t data[8] = {0};
    HBTEST_CHECK(t, port_flash_erase_page(off) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(off + 2u, data, 4) == PORT_FLASH_ERR_ALIGN);
    HBTEST_CHECK(t, port_flash_write(off + 1u, data, 1) == PORT_FLASH_ERR_ALIGN);
    HBTEST_CHECK(t, port_flash_write(off, data, 3) == PORT_FLASH_ERR_ALIGN);
    HBTEST_CHECK(t, port_flash_write(off, data, 6) == PORT_FLASH_ERR_ALIGN);
    HBTEST_CHECK(t, page_is(off, 0xFFu)); /* none of them wrote */
    HBTEST_CHECK(t, port_flash_write(off, data, 0) == PORT_FLASH_OK);
    HBTEST_CHECK(t, page_is(off, 0xFFu));
}

static void test_the_source_of_a_write_needs_no_alignment(hbtest_t *t)
{
    const uint32_t off = 3u * PAGE + 100u;
    uint8_t raw[13];
    uint8_t back[12];
    for (uint32_t i = 0; i < sizeof raw; i++) {
        raw[i] = (uint8_t)(0xA0u + i);
    }
    HBTEST_CHECK(t, port_flash_erase_page(3u * PAGE) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(off, raw + 1, 12) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_read(off, back, sizeof back) == PORT_FLASH_OK);
    HBTEST_CHECK(t, memcmp(back, raw + 1, 12) == 0);
}

static void test_erase_needs_the_start_of_a_page(hbtest_t *t)
{
    HBTEST_CHECK(t, zero_page(4u));
    HBTEST_CHECK(t, port_flash_erase_page(4u * PAGE + 4u) == PORT_FLASH_ERR_ALIGN);
    HBTEST_CHECK(t, port_flash_erase_page(4u * PAGE + PAGE / 2u) == PORT_FLASH_ERR_ALIGN);
    HBTEST_CHECK(t, page_is(4u * PAGE, 0x00u)); /* nothing erased */
}

static void test_reads_take_any_offset_and_length(hbtest_t *t)
{
    const uint32_t off = 5u * PAGE;
    uint8_t data[16];
    uint8_t back[7];
    for (uint32_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)(i * 17u + 3u);
    }
    HBTEST_CHECK(t, port_flash_erase_page(off) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(off, data, sizeof data) == PORT_FLASH_OK);
    memset(back, 0x55, sizeof back);
    HBTEST_CHECK(t, port_flash_read(off + 3u, back, sizeof back) == PORT_FLASH_OK);
    HBTEST_CHECK(t, memcmp(back, data + 3, sizeof back) == 0);
    HBTEST_CHECK(t, port_flash_read(off + 15u, back, 1) == PORT_FLASH_OK);
    HBTEST_CHECK(t, back[0] == data[15]);
    HBTEST_CHECK(t, port_flash_read(off, NULL, 0) == PORT_FLASH_OK);
}

static void test_a_page_write_reads_back_across_the_page_boundary(hbtest_t *t)
{
    static uint8_t data[2u * PAGE];
    for (uint32_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)((i * 131u) >> 3);
    }
    HBTEST_CHECK(t, port_flash_erase_page(6u * PAGE) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_erase_page(7u * PAGE) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(6u * PAGE, data, sizeof data) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_read(6u * PAGE, g_buf, PAGE) == PORT_FLASH_OK);
    HBTEST_CHECK(t, memcmp(g_buf, data, PAGE) == 0);
    HBTEST_CHECK(t, port_flash_read(7u * PAGE, g_buf, PAGE) == PORT_FLASH_OK);
    HBTEST_CHECK(t, memcmp(g_buf, data + PAGE, PAGE) == 0);
}

static void test_everything_outside_the_region_is_refused(hbtest_t *t)
{
    const uint32_t size = port_flash_size();
    const uint32_t last = size - PAGE;
    uint8_t word[4] = {0x12, 0x34, 0x56, 0x78};
    uint8_t eight[8] = {0};
    uint8_t back[8];
    HBTEST_CHECK(t, port_flash_erase_page(last) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(size - UNIT, word, UNIT) == PORT_FLASH_OK); /* the very last word */
    HBTEST_CHECK(t, port_flash_read(size - UNIT, back, UNIT) == PORT_FLASH_OK);
    HBTEST_CHECK(t, memcmp(back, word, UNIT) == 0);
    HBTEST_CHECK(t, port_flash_read(size, back, 0) == PORT_FLASH_OK); /* an empty range at the end */

    HBTEST_CHECK(t, port_flash_erase_page(size) == PORT_FLASH_ERR_BOUNDS);
    HBTEST_CHECK(t, port_flash_erase_page(0xFFFFF000u) == PORT_FLASH_ERR_BOUNDS);
    HBTEST_CHECK(t, port_flash_write(size, word, UNIT) == PORT_FLASH_ERR_BOUNDS);
    HBTEST_CHECK(t, port_flash_write(size - UNIT, eight, sizeof eight) == PORT_FLASH_ERR_BOUNDS); /* straddles */
    HBTEST_CHECK(t, port_flash_write(0xFFFFFFFCu, eight, sizeof eight) == PORT_FLASH_ERR_BOUNDS); /* wraps */
    HBTEST_CHECK(t, port_flash_read(size, back, 1) == PORT_FLASH_ERR_BOUNDS);
    HBTEST_CHECK(t, port_flash_read(size - 4u, back, 5) == PORT_FLASH_ERR_BOUNDS);
    HBTEST_CHECK(t, port_flash_read(0xFFFFFFFFu, back, 2) == PORT_FLASH_ERR_BOUNDS);
    HBTEST_CHECK(t, port_flash_read(size - UNIT, back, UNIT) == PORT_FLASH_OK);
    HBTEST_CHECK(t, memcmp(back, word, UNIT) == 0); /* the straddling write changed nothing */
}

static void test_a_null_buffer_is_refused(hbtest_t *t)
{
    uint8_t back[4];
    HBTEST_CHECK(t, port_flash_erase_page(0) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_write(0, NULL, 4) == PORT_FLASH_ERR_ARG);
    HBTEST_CHECK(t, port_flash_read(0, NULL, 4) == PORT_FLASH_ERR_ARG);
    HBTEST_CHECK(t, port_flash_write(0, NULL, 0) == PORT_FLASH_OK);
    HBTEST_CHECK(t, port_flash_read(0, back, 4) == PORT_FLASH_OK);
    HBTEST_CHECK(t, all_bytes_are(back, 4, 0xFFu));
}

static void test_every_status_has_its_own_name(hbtest_t *t)
{
    static const port_flash_status_t all[] = {
        PORT_FLASH_OK,        PORT_FLASH_ERR_NO_DEVICE,  PORT_FLASH_ERR_ARG,    PORT_FLASH_ERR_BOUNDS,
        PORT_FLASH_ERR_ALIGN, PORT_FLASH_ERR_NOT_ERASED, PORT_FLASH_ERR_VERIFY,
    };
    const size_t n = sizeof all / sizeof all[0];
    HBTEST_CHECK(t, strcmp(port_flash_status_name(PORT_FLASH_ERR_NOT_ERASED), "not erased") == 0);
    HBTEST_CHECK(t, strcmp(port_flash_status_name((port_flash_status_t)99), "unknown status") == 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            HBTEST_CHECK(t, strcmp(port_flash_status_name(all[i]), port_flash_status_name(all[j])) != 0);
        }
    }
}

#if !defined(__arm__)
/* the host's flash: a buffer, in a state no erase or write of these cases produces */
static uint32_t g_host_flash[TEST_PAGES * PAGE / sizeof(uint32_t)];
#endif

int main(void)
{
    hbtest_t t;
    port_init();
#if !defined(__arm__)
    port_flash_native_t flash;
    memset(g_host_flash, 0x5A, sizeof g_host_flash);
    if (port_flash_native_use_buffer(&flash, g_host_flash, sizeof g_host_flash) != PORT_FLASH_OK) {
        hbtest_print("test_flash: cannot attach the host flash buffer\n");
        port_exit(2);
    }
#endif
    hbtest_begin(&t);
    hbtest_run(&t, "geometry_is_pages_of_4_kib_and_words_of_4_bytes",
               test_geometry_is_pages_of_4_kib_and_words_of_4_bytes);
    hbtest_run(&t, "erase_sets_the_whole_page_to_ff_and_only_that_page",
               test_erase_sets_the_whole_page_to_ff_and_only_that_page);
    hbtest_run(&t, "a_write_programs_the_bytes_it_is_given", test_a_write_programs_the_bytes_it_is_given);
    hbtest_run(&t, "programming_again_can_clear_more_bits", test_programming_again_can_clear_more_bits);
    hbtest_run(&t, "a_write_needing_a_0_to_1_is_refused_and_changes_nothing",
               test_a_write_needing_a_0_to_1_is_refused_and_changes_nothing);
    hbtest_run(&t, "writes_must_be_whole_aligned_words", test_writes_must_be_whole_aligned_words);
    hbtest_run(&t, "the_source_of_a_write_needs_no_alignment", test_the_source_of_a_write_needs_no_alignment);
    hbtest_run(&t, "erase_needs_the_start_of_a_page", test_erase_needs_the_start_of_a_page);
    hbtest_run(&t, "reads_take_any_offset_and_length", test_reads_take_any_offset_and_length);
    hbtest_run(&t, "a_page_write_reads_back_across_the_page_boundary",
               test_a_page_write_reads_back_across_the_page_boundary);
    hbtest_run(&t, "everything_outside_the_region_is_refused", test_everything_outside_the_region_is_refused);
    hbtest_run(&t, "a_null_buffer_is_refused", test_a_null_buffer_is_refused);
    hbtest_run(&t, "every_status_has_its_own_name", test_every_status_has_its_own_name);
    port_exit(hbtest_end(&t));
}
