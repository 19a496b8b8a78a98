/*
 * test_port - the port contract, on every target that can run tests
 * (native: the host port; qemu: port_qemu.c on the emulated Cortex-M4F).
 *
 * The runner feeds input.txt (next to this file) to the program's UART, so
 * the round trip below checks real reception, not a loopback in software.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hbtest.h"
#include "port.h"

static const char EXPECTED_LINE[] = "ping heartbeat-edge 0123456789\n";

/* Reads until '\n', `cap` bytes or a read timing out; returns bytes read. */
static size_t read_line(char *buf, size_t cap, uint32_t timeout_ms)
{
    size_t n = 0;
    while (n < cap) {
        size_t got = port_uart_read(buf + n, 1, timeout_ms);
        if (got == 0) {
            break;
        }
        n += got;
        if (buf[n - 1] == '\n') {
            break;
        }
    }
    return n;
}

static void test_uart_receives_the_line_the_host_sent(hbtest_t *t)
{
    char line[64];
    size_t n = read_line(line, sizeof line, 2000u);
    HBTEST_CHECK(t, n == strlen(EXPECTED_LINE));
    HBTEST_CHECK(t, memcmp(line, EXPECTED_LINE, strlen(EXPECTED_LINE)) == 0);
}

static void test_uart_read_times_out_when_the_line_is_quiet(hbtest_t *t)
{
    uint8_t byte = 0xA5u;
    uint32_t start = port_tick_ms();
    size_t n = port_uart_read(&byte, 1, 50u);
    uint32_t waited = port_tick_ms() - start;
    HBTEST_CHECK(t, n == 0u);
    HBTEST_CHECK(t, byte == 0xA5u); /* nothing written into the buffer */
    HBTEST_CHECK(t, waited >= 50u);
}

static void test_uart_read_of_zero_bytes_returns_at_once(hbtest_t *t)
{
    uint8_t byte = 0;
    HBTEST_CHECK(t, port_uart_read(&byte, 0, 1000000u) == 0u);
}

static void test_uart_write_reports_every_byte(hbtest_t *t)
{
    static const char line[] = "hbtest: uart write check\n";
    HBTEST_CHECK(t, port_uart_write(line, strlen(line)) == strlen(line));
    HBTEST_CHECK(t, port_uart_write(line, 0) == 0u);
}

static void test_tick_advances_and_never_goes_back(hbtest_t *t)
{
    uint32_t first = port_tick_ms();
    uint32_t last = first;
    bool monotonic = true;
    /* bounded: at least 3 ms must pass within this many polls */
    for (uint32_t i = 0; i < 200000000u && (uint32_t)(last - first) < 3u; i++) {
        uint32_t now = port_tick_ms();
        if ((int32_t)(now - last) < 0) {
            monotonic = false;
        }
        last = now;
    }
    HBTEST_CHECK(t, monotonic);
    HBTEST_CHECK(t, (uint32_t)(last - first) >= 3u);
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "uart_receives_the_line_the_host_sent", test_uart_receives_the_line_the_host_sent);
    hbtest_run(&t, "uart_read_times_out_when_the_line_is_quiet", test_uart_read_times_out_when_the_line_is_quiet);
    hbtest_run(&t, "uart_read_of_zero_bytes_returns_at_once", test_uart_read_of_zero_bytes_returns_at_once);
    hbtest_run(&t, "uart_write_reports_every_byte", test_uart_write_reports_every_byte);
    hbtest_run(&t, "tick_advances_and_never_goes_back", test_tick_advances_and_never_goes_back);
    port_exit(hbtest_end(&t));
}
