/*
 * flash_probe - the flash API of port.h driven over the UART, for
 * tests/firmware/test_flash_persistence.py: the emulated device (QEMU with its
 * flash file) erased, programmed and read by the host, across resets, QEMU
 * restarts and QEMU being killed mid-write. Built as a PlatformIO test program
 * of the `qemu` environment (the test copies it into a suite of its own).
 *
 * Every number is in hex, data are hex bytes. At boot it prints
 *     FLASH size=<bytes> page=<bytes> unit=<bytes>
 * then answers one line per command:
 *     E <offset>                   erase the page at offset      -> OK | ERR <status name>
 *     W <offset> <hex bytes>       write                         -> OK | ERR <status name>
 *     R <offset> <length>          read (length <= 512)          -> DATA <hex bytes> | ERR <status name>
 *     T <offset> <words> <seed> <spin>
 *                                  write `words` words of the sequence word(seed, i), one write call each,
 *                                  `spin` idle loop turns between two (a slower writer: a host has time to
 *                                  cut the power while it writes), "P <pages done>" after every page of
 *                                  them; before the last word it says "LAST" and waits for a byte from the
 *                                  host, so the sequence never ends by itself  -> OK | ERR <status name>
 *     X <code>                     exit with that status
 * and "ERR bad command" to anything else.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "port.h"

#define LINE_CAP 1200u
#define DATA_CAP 512u
#define READ_TIMEOUT_MS 1000u

/* word i of the torn-write sequence: never 0xFFFFFFFF (top bit clear), different from its neighbours */
static uint32_t sequence_word(uint32_t seed, uint32_t i)
{
    return (seed + i * 0x9E3779B1u) & 0x7FFFFFFFu;
}

static void put(const char *s)
{
    port_uart_write(s, strlen(s));
}

static void put_hex32(uint32_t v)
{
    char buf[8];
    for (int i = 7; i >= 0; i--) {
        buf[i] = "0123456789abcdef"[v & 0xFu];
        v >>= 4;
    }
    size_t start = 0;
    while (start < 7u && buf[start] == '0') {
        start++;
    }
    port_uart_write(buf + start, sizeof buf - start);
}

static void put_status(port_flash_status_t status)
{
    if (status == PORT_FLASH_OK) {
        put("OK\n");
        return;
    }
    put("ERR ");
    put(port_flash_status_name(status));
    put("\n");
}

/* one line without its '\n' into `line` (NUL-terminated); blocks until it is complete */
static size_t read_line(char *line, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char c;
        if (port_uart_read(&c, 1, READ_TIMEOUT_MS) == 0) {
            continue;
        }
        if (c == '\n') {
            break;
        }
        if (c != '\r' && n + 1u < cap) {
            line[n++] = c;
        }
    }
    line[n] = '\0';
    return n;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* a hex number at *p (after spaces), up to 8 digits; advances *p; false when there is none */
static bool parse_hex32(const char **p, uint32_t *out)
{
    const char *s = *p;
    while (*s == ' ') {
        s++;
    }
    uint32_t v = 0;
    int digits = 0;
    for (int d; (d = hex_digit(*s)) >= 0 && digits < 8; s++, digits++) {
        v = (v << 4) | (uint32_t)d;
    }
    if (digits == 0 || hex_digit(*s) >= 0) {
        return false;
    }
    *p = s;
    *out = v;
    return true;
}

/* hex bytes at *p (after spaces) into `out`; returns how many, or -1 when malformed or too many */
static int parse_bytes(const char *p, uint8_t *out, size_t cap)
{
    while (*p == ' ') {
        p++;
    }
    size_t n = 0;
    while (*p != '\0') {
        int hi = hex_digit(p[0]);
        int lo = hi >= 0 ? hex_digit(p[1]) : -1;
        if (lo < 0 || n == cap) {
            return -1;
        }
        out[n++] = (uint8_t)((hi << 4) | lo);
        p += 2;
    }
    return (int)n;
}

static bool at_end(const char *p)
{
    while (*p == ' ') {
        p++;
    }
    return *p == '\0';
}

static void wait_for_a_byte(void)
{
    char c;
    while (port_uart_read(&c, 1, READ_TIMEOUT_MS) == 0) {
    }
}

static void spin(uint32_t turns)
{
    for (volatile uint32_t i = 0; i < turns; i++) {
    }
}

static port_flash_status_t write_sequence(uint32_t offset, uint32_t words, uint32_t seed, uint32_t turns)
{
    const uint32_t per_page = PORT_FLASH_PAGE_SIZE / PORT_FLASH_WRITE_UNIT;
    for (uint32_t i = 0; i < words; i++) {
        spin(turns);
        if (i + 1u == words) {
            put("LAST\n");
            wait_for_a_byte();
        }
        uint32_t word = sequence_word(seed, i);
        port_flash_status_t status = port_flash_write(offset + i * PORT_FLASH_WRITE_UNIT, &word, sizeof word);
        if (status != PORT_FLASH_OK) {
            return status;
        }
        if ((i + 1u) % per_page == 0u) {
            put("P ");
            put_hex32((i + 1u) / per_page);
            put("\n");
        }
    }
    return PORT_FLASH_OK;
}

static void run(const char *line, uint8_t *data)
{
    const char *p = line + 1;
    uint32_t a = 0, b = 0, c = 0, d = 0;
    int n;
    switch (line[0]) {
    case 'E':
        if (parse_hex32(&p, &a) && at_end(p)) {
            put_status(port_flash_erase_page(a));
            return;
        }
        break;
    case 'W':
        if (parse_hex32(&p, &a) && (n = parse_bytes(p, data, DATA_CAP)) >= 0) {
            put_status(port_flash_write(a, data, (size_t)n));
            return;
        }
        break;
    case 'R':
        if (parse_hex32(&p, &a) && parse_hex32(&p, &b) && at_end(p) && b <= DATA_CAP) {
            port_flash_status_t status = port_flash_read(a, data, b);
            if (status != PORT_FLASH_OK) {
                put_status(status);
                return;
            }
            put("DATA ");
            for (uint32_t i = 0; i < b; i++) {
                char hex[2] = {"0123456789abcdef"[data[i] >> 4], "0123456789abcdef"[data[i] & 0xFu]};
                port_uart_write(hex, sizeof hex);
            }
            put("\n");
            return;
        }
        break;
    case 'T':
        if (parse_hex32(&p, &a) && parse_hex32(&p, &b) && parse_hex32(&p, &c) && parse_hex32(&p, &d) && at_end(p) &&
            b > 0u) {
            put_status(write_sequence(a, b, c, d));
            return;
        }
        break;
    case 'X':
        if (parse_hex32(&p, &a) && at_end(p)) {
            port_exit((int)a);
        }
        break;
    default:
        break;
    }
    put("ERR bad command\n");
}

int main(void)
{
    static char line[LINE_CAP];
    static uint8_t data[DATA_CAP];
    port_init();
    put("FLASH size=");
    put_hex32(port_flash_size());
    put(" page=");
    put_hex32(PORT_FLASH_PAGE_SIZE);
    put(" unit=");
    put_hex32(PORT_FLASH_WRITE_UNIT);
    put("\n");
    for (;;) {
        read_line(line, sizeof line);
        run(line, data);
    }
}
