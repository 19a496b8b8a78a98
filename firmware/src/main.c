/*
 * main.c - wires the modules together; no logic of its own (that is firmware/lib/app).
 *
 * Boot: the port, a human-readable boot line (the protocol's session start, a 0x00, makes a receiver drop
 * it), then the boot id: the device waits up to APP_BOOT_ID_WAIT_MS for the host's first byte and mixes the
 * cycle counter at its arrival with board_entropy() (the host clock under QEMU, the RNG on the nRF52840):
 * an emulated machine starts identically every time, and the host's byte is often already waiting. app_init() validates the model and sends 0x00 + HELLO (+ ERROR if the model is refused); the byte
 * that arrived goes to the application like any other.
 *
 * Loop: hand the received bytes to the application (it stops taking them while its sample FIFO has no
 * room for a whole SAMPLES frame), run the signal path over what the FIFO holds, and read the UART again
 * only when everything read has been taken and the FIFO has room: back-pressure, no sample dropped.
 */
#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "app.h"
#include "app_config.h"
#include "board.h"
#include "model_data.h"
#include "port.h"

static const char BOOT_LINE[] = "heartbeat-edge boot version=" APP_FW_VERSION "\n";

static app_t s_app;
static alignas(16) uint8_t s_arena[HB_MODEL_ARENA_BYTES];
static uint8_t s_rx[APP_UART_RX_CHUNK];

static size_t io_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    return port_uart_write(data, len);
}

static uint32_t io_now_ms(void *ctx)
{
    (void)ctx;
    return port_tick_ms();
}

static uint32_t io_cycles(void *ctx)
{
    (void)ctx;
    return board_cycles();
}

/* a 32-bit finaliser (MurmurHash3's fmix32 constants): spreads every input bit over the id */
static uint32_t mix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

int main(void)
{
    board_paint_stack();
    port_init();
    port_uart_write(BOOT_LINE, strlen(BOOT_LINE));

    size_t pending = port_uart_read(s_rx, sizeof s_rx, APP_BOOT_ID_WAIT_MS);
    uint32_t boot_id = mix32(board_cycles() ^ mix32(board_entropy() + (uint32_t)pending * 0x9E3779B9u));

    static const app_io_t io = {io_write, io_now_ms, io_cycles, NULL};
    const app_params_t params = {
        .device_id = APP_DEVICE_ID,
        .firmware_version = APP_FW_VERSION,
        .boot_id = boot_id,
        .model = app_builtin_model(),
        .arena = s_arena,
        .arena_len = sizeof s_arena,
    };
    app_init(&s_app, &io, &params);

    const uint8_t *p = s_rx;
    for (;;) {
        if (pending > 0u) {
            size_t used = app_rx(&s_app, p, pending);
            p += used;
            pending -= used;
        }
        app_process(&s_app, APP_SAMPLE_FIFO_LEN);
        if (pending == 0u && app_rx_ready(&s_app)) {
            pending = port_uart_read(s_rx, sizeof s_rx, APP_UART_POLL_MS);
            p = s_rx;
        }
    }
}
