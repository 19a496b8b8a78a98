/*
 * main.c - wires the modules together; no logic of its own (that is firmware/lib/app).
 *
 * Boot: the port, a human-readable boot line (the protocol's session start, a 0x00, makes a receiver drop
 * it), then the boot id: the device waits up to APP_BOOT_ID_WAIT_MS for the host's first byte and mixes the
 * cycle counter at its arrival with board_entropy() (the host clock under QEMU, the RNG on the nRF52840):
 * an emulated machine starts identically every time, and the host's byte is often already waiting. app_init() validates
 * the model and sends 0x00 + HELLO (+ ERROR if the model is refused); the byte that arrived goes to the application
 * like any other.
 *
 * Loop: hand the received bytes to the application (it stops taking them while its sample FIFO has no
 * room for a whole SAMPLES frame), run the signal path over what the FIFO holds, and read the UART again
 * only when everything read has been taken and the FIFO has room: back-pressure, no sample dropped.
 *
 * Board (BOARD_NRF52840): when port_adc_start() succeeds, the SAADC's 360 Hz samples also go to the
 * application (app_push_sample), mapped from 12-bit codes (0..4095 over 0..VDD) to the model's 11-bit
 * range by clamping to 0..4095 and halving: 0..2047, mid-supply (the front end's VDD/2 bias) at 1024, the
 * MIT-BIH baseline. The UART is then polled without waiting so that the ADC ring is drained in time.
 * The QEMU and host builds do not compile this path.
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
static boot_flash_ops_t s_flash; /* port.h's flash: firmware updates go to its inactive slot */

static size_t io_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    return port_uart_write(data, len);
}

#if defined(BOARD_NRF52840)
/* 12-bit single-ended SAADC code -> the 11-bit 0..2047 range the model was trained on */
static int16_t adc_to_sample(int16_t code)
{
    int32_t c = code < 0 ? 0 : (code > 4095 ? 4095 : code);
    return (int16_t)(c >> 1);
}

static void feed_adc(app_t *app)
{
    int16_t buf[32];
    size_t n;
    while ((n = port_adc_read(buf, sizeof buf / sizeof buf[0])) > 0u) {
        for (size_t i = 0; i < n; i++) {
            (void)app_push_sample(app, adc_to_sample(buf[i])); /* a full FIFO is counted as an overrun */
        }
    }
}
#endif

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
    boot_flash_port_bind(&s_flash);
    const app_params_t params = {
        .device_id = APP_DEVICE_ID,
        .firmware_version = APP_FW_VERSION,
        .boot_id = boot_id,
        .model = app_builtin_model(),
        .arena = s_arena,
        .arena_len = sizeof s_arena,
        .flash = &s_flash,
    };
    app_init(&s_app, &io, &params);

    uint32_t poll_ms = APP_UART_POLL_MS;
#if defined(BOARD_NRF52840)
    bool adc = port_adc_start(APP_SAMPLE_RATE_HZ);
    if (adc) {
        poll_ms = 0u;
    }
#endif

    const uint8_t *p = s_rx;
    for (;;) {
#if defined(BOARD_NRF52840)
        if (adc) {
            feed_adc(&s_app);
        }
#endif
        if (pending > 0u) {
            size_t used = app_rx(&s_app, p, pending);
            p += used;
            pending -= used;
        }
        app_process(&s_app, APP_SAMPLE_FIFO_LEN);
        if (pending == 0u && app_rx_ready(&s_app)) {
            pending = port_uart_read(s_rx, sizeof s_rx, poll_ms);
            p = s_rx;
        }
    }
}
