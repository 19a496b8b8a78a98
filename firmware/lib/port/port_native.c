/*
 * port_native.c - the host port: the "UART" is the process's stdin/stdout,
 * the tick is CLOCK_MONOTONIC, and port_exit() is exit(). The end of stdin
 * reads like a line that has gone quiet: port_uart_read() times out.
 */
#define _POSIX_C_SOURCE 200809L

#include "port.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static struct timespec s_start;

void port_init(void)
{
    clock_gettime(CLOCK_MONOTONIC, &s_start);
}

size_t port_uart_write(const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(STDOUT_FILENO, p + done, len - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            break; /* stdout closed: the link is gone */
        }
        done += (size_t)n;
    }
    return done;
}

size_t port_uart_read(void *buf, size_t cap, uint32_t timeout_ms)
{
    if (cap == 0) {
        return 0;
    }
    struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
    int timeout = timeout_ms > (uint32_t)INT32_MAX ? -1 : (int)timeout_ms;
    for (;;) {
        int ready = poll(&pfd, 1, timeout);
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            return 0; /* timeout or error */
        }
        ssize_t n = read(STDIN_FILENO, buf, cap);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n > 0) {
            return (size_t)n;
        }
        /* End of input: like a line that has gone quiet, wait out the
         * timeout (a caller polling in a loop must not spin) and report 0. */
        struct timespec rest = {.tv_sec = timeout_ms / 1000u, .tv_nsec = (long)(timeout_ms % 1000u) * 1000000L};
        while (nanosleep(&rest, &rest) != 0 && errno == EINTR) {
        }
        return 0;
    }
}

uint32_t port_tick_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = (int64_t)(now.tv_sec - s_start.tv_sec) * 1000 + (now.tv_nsec - s_start.tv_nsec) / 1000000;
    return (uint32_t)ms;
}

void port_exit(int code)
{
    exit(code);
}
