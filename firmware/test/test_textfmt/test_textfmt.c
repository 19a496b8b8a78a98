/*
 * test_textfmt - the printf-free text helper (firmware/lib/textfmt): strings and numbers come out as printf
 * would write them, text that does not fit is cut off, and the buffer always ends in a NUL within its
 * capacity. Runs on the host (native, ASan/UBSan) and on the emulated Cortex-M4F (qemu).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hbtest.h"
#include "port.h"
#include "textfmt.h"

/* A buffer with a guard byte after the capacity given to textfmt: nothing may ever be written there. */
#define GUARD 0x5A

static char g_buf[72]; /* room for the largest capacity used (64) and its guard byte */

static textfmt_t start(size_t cap)
{
    textfmt_t t;
    memset(g_buf, GUARD, sizeof g_buf);
    textfmt_init(&t, g_buf, cap);
    return t;
}

static bool text_is(const textfmt_t *t, const char *want)
{
    return strcmp(t->buf, want) == 0 && t->len == strlen(want) && g_buf[t->cap] == GUARD;
}

static void test_strings_are_appended_in_order(hbtest_t *t)
{
    textfmt_t f = start(32);
    HBTEST_CHECK(t, text_is(&f, ""));
    textfmt_put_str(&f, "frame ");
    textfmt_put_str(&f, NULL); /* nothing */
    textfmt_put_str(&f, "");
    textfmt_put_str(&f, "dropped");
    HBTEST_CHECK(t, text_is(&f, "frame dropped"));
}

static void test_unsigned_decimals_cover_the_whole_range(hbtest_t *t)
{
    textfmt_t f = start(64);
    textfmt_put_u32(&f, 0u);
    textfmt_put_str(&f, " ");
    textfmt_put_u32(&f, 7u);
    textfmt_put_str(&f, " ");
    textfmt_put_u32(&f, 1000000u);
    textfmt_put_str(&f, " ");
    textfmt_put_u32(&f, UINT32_MAX);
    textfmt_put_str(&f, " ");
    textfmt_put_u64(&f, 0u);
    textfmt_put_str(&f, " ");
    textfmt_put_u64(&f, UINT64_MAX);
    HBTEST_CHECK(t, text_is(&f, "0 7 1000000 4294967295 0 18446744073709551615"));
}

static void test_signed_decimals_carry_their_sign(hbtest_t *t)
{
    textfmt_t f = start(64);
    textfmt_put_i32(&f, -1);
    textfmt_put_str(&f, " ");
    textfmt_put_i32(&f, INT32_MIN);
    textfmt_put_str(&f, " ");
    textfmt_put_i32(&f, INT32_MAX);
    textfmt_put_str(&f, " ");
    textfmt_put_i64(&f, INT64_MIN);
    textfmt_put_str(&f, " ");
    textfmt_put_i64(&f, -20);
    HBTEST_CHECK(t, text_is(&f, "-1 -2147483648 2147483647 -9223372036854775808 -20"));
}

static void test_hex_is_two_lower_case_digits_per_byte(hbtest_t *t)
{
    static const uint8_t bytes[] = {0x00u, 0x0Fu, 0xA5u, 0xFFu, 0x10u};
    textfmt_t f = start(32);
    textfmt_put_str(&f, "0x");
    textfmt_put_hex(&f, &bytes[2], 1u);
    textfmt_put_str(&f, " ");
    textfmt_put_hex(&f, bytes, sizeof bytes);
    textfmt_put_hex(&f, bytes, 0u);
    HBTEST_CHECK(t, text_is(&f, "0xa5 000fa5ff10"));
}

static void test_what_does_not_fit_is_cut_off(hbtest_t *t)
{
    textfmt_t f = start(8); /* 7 characters and the NUL */
    textfmt_put_str(&f, "abc");
    textfmt_put_u32(&f, 123456u); /* only "1234" fits */
    HBTEST_CHECK(t, text_is(&f, "abc1234"));
    textfmt_put_str(&f, "more");
    textfmt_put_i32(&f, -5);
    uint8_t byte = 0xABu;
    textfmt_put_hex(&f, &byte, 1u);
    HBTEST_CHECK(t, text_is(&f, "abc1234"));

    f = start(4);
    textfmt_put_i64(&f, -123456); /* the sign and the leading digits */
    HBTEST_CHECK(t, text_is(&f, "-12"));
    f = start(4);
    textfmt_put_hex(&f, &byte, 1u);
    textfmt_put_hex(&f, &byte, 1u); /* one digit of the second byte fits */
    HBTEST_CHECK(t, text_is(&f, "aba"));
}

static void test_tiny_buffers_stay_terminated_or_untouched(hbtest_t *t)
{
    textfmt_t f = start(1); /* room for the NUL only */
    textfmt_put_str(&f, "x");
    textfmt_put_u32(&f, 9u);
    HBTEST_CHECK(t, text_is(&f, ""));

    f = start(0); /* no room at all: not even a NUL is written */
    textfmt_put_str(&f, "x");
    textfmt_put_i64(&f, -1);
    HBTEST_CHECK(t, f.len == 0u && g_buf[0] == GUARD);
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "strings_are_appended_in_order", test_strings_are_appended_in_order);
    hbtest_run(&t, "unsigned_decimals_cover_the_whole_range", test_unsigned_decimals_cover_the_whole_range);
    hbtest_run(&t, "signed_decimals_carry_their_sign", test_signed_decimals_carry_their_sign);
    hbtest_run(&t, "hex_is_two_lower_case_digits_per_byte", test_hex_is_two_lower_case_digits_per_byte);
    hbtest_run(&t, "what_does_not_fit_is_cut_off", test_what_does_not_fit_is_cut_off);
    hbtest_run(&t, "tiny_buffers_stay_terminated_or_untouched", test_tiny_buffers_stay_terminated_or_untouched);
    port_exit(hbtest_end(&t));
}
