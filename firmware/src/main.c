/*
 * main.c - wires the modules together; no logic of its own.
 *
 * For now (skeleton): bring up the port, print the boot line, then echo
 * every byte received on the UART, which lets the host check the link.
 */
#include <stdint.h>
#include <string.h>

#include "app_config.h"
#include "port.h"

static const char BOOT_LINE[] = "heartbeat-edge boot version=" APP_FW_VERSION "\n";

int main(void)
{
    uint8_t rx[APP_UART_RX_CHUNK];

    port_init();
    port_uart_write(BOOT_LINE, strlen(BOOT_LINE));

    for (;;) {
        size_t n = port_uart_read(rx, sizeof rx, APP_UART_POLL_MS);
        if (n > 0) {
            port_uart_write(rx, n);
        }
    }
}
