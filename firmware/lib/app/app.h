/*
 * app.h - the device application: everything between the UART bytes and the classified beats.
 *
 *   bytes --wire decoder--> SAMPLES --sample FIFO--> ecg_dsp (QRS) --> beat_window (int8 window, RR)
 *         --> micro_runtime (the model from model_data) --> BEAT [+ ALERT] --> UART and retransmit ring
 *
 * and the other host messages (CONFIG -> ACK, HOST_ACK, RESEND -> GAP + replay + STATUS, GET_STATUS ->
 * STATUS, HELLO_REQUEST -> HELLO, UPDATE_BEGIN/CHUNK/END/INSTALL/ABORT -> UPDATE_STATE when params.flash is given:
 * the image goes to the inactive slot, docs/ota.md). docs/protocol.md is the contract. main.c only wires this to the
 * port:
 *
 *   app_init(&app, &io, &params);                     // validates the model, sends 0x00 and HELLO
 *   for (;;) {
 *       if (pending) { used = app_rx(&app, p, pending); p += used; pending -= used; }
 *       app_process(&app, APP_SAMPLE_FIFO_LEN);
 *       if (!pending && app_rx_ready(&app)) pending = port_uart_read(rx, sizeof rx, APP_UART_POLL_MS);
 *   }
 *
 * BEAT flags: LEARNING while the detector is in its 2 s learning period (R before sample 720) or fewer than
 * APP_DSP_RR_HISTORY beats came before (the RR means are still filling); CLIPPED when the beat's window
 * [R-92, R+164) holds a sample at APP_SAMPLE_MIN or APP_SAMPLE_MAX (after clamping); ALERTED when an ALERT
 * for it follows. A beat whose R peak lies before the first sample (a stream starting inside a QRS) has no
 * r_sample to report: it is counted (beats_unreported) and not sent. The inference cost is the `cycles`
 * callback's delta around mr_invoke(): core clock cycles (SysTick at 25 MHz on mps2-an386, 64 MHz on the
 * nRF52840); under QEMU -icount shift=N, instructions = cost x 40 / 2^N on mps2-an386.
 *
 * Order: before it handles any frame other than SAMPLES, app_rx() runs the signal path over every sample
 * already received, so an answer (STATUS, the replay of RESEND, an ERROR) reflects all samples sent before
 * the request and a CONFIG applies from the first sample after it: the device's output is a function of
 * the byte stream it received, whatever the timing.
 *
 * Back-pressure: app_rx() stops taking bytes while the sample FIFO has no room for a whole SAMPLES frame,
 * so the caller leaves them in the UART until app_process() has worked through what it holds; no sample
 * is ever dropped. All state is in app_t (fixed size, no malloc); the arena is the caller's.
 */
#ifndef APP_H
#define APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "app_config.h"
#include "app_model.h"
#include "beat_window.h"
#include "boot_flash.h"
#include "ecg_dsp.h"
#include "micro_runtime.h"
#include "txring.h"
#include "update_rx.h"
#include "wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The device's outside world: the only way the application touches the hardware. */
typedef struct {
    /* write all `len` bytes to the link (blocking); returns the bytes accepted */
    size_t (*write)(void *ctx, const uint8_t *data, size_t len);
    /* milliseconds since boot */
    uint32_t (*now_ms)(void *ctx);
    /* free-running core clock cycle counter (wraps); NULL: inference cost reported as 0 */
    uint32_t (*cycles)(void *ctx);
    void *ctx;
} app_io_t;

typedef struct {
    const char *device_id;        /* HELLO device_id (printable ASCII, at most 64) */
    const char *firmware_version; /* HELLO firmware_version */
    uint32_t boot_id;             /* different every boot; 0 is replaced by 1 */
    const app_model_t *model;     /* app_builtin_model() on the device */
    uint8_t *arena;               /* tensor arena, caller-owned */
    size_t arena_len;
    /* the flash updates are written to (boot_flash_port_bind on the device); NULL: no update support (the update
     * requests are answered ERROR UNKNOWN_TYPE) */
    const boot_flash_ops_t *flash;
    /* the image policy; NULL: the build's (update_policy_builtin: its public key, target and load address) */
    const boot_image_policy_t *update_policy;
    /* resets the device into the bootloader once UPDATE_INSTALL was answered (app_update.c); NULL: no reset yet
     * (the bootloader integration supplies it), the PENDING record waits for the next boot */
    void (*reset)(void);
} app_params_t;

/* Why the model was refused at start-up (APP_MODEL_OK: it runs). */
typedef enum {
    APP_MODEL_OK = 0,
    APP_MODEL_SHA256 = WIRE_ERR_MODEL_SHA256,
    APP_MODEL_INVALID = WIRE_ERR_MODEL_INVALID,
    APP_MODEL_UNSUPPORTED_OP = WIRE_ERR_MODEL_UNSUPPORTED_OP,
    APP_MODEL_ARENA = WIRE_ERR_MODEL_ARENA,
} app_model_status_t;

/* The CLIPPED flag needs to know, per R peak, whether its window held a sample at the input range's
 * limits; evaluated once the window is complete. */
typedef struct {
    int64_t r;
    bool done;
    bool clipped;
} app_clip_t;

#define APP_CLIP_QUEUE_LEN (APP_DSP_BEAT_QUEUE_LEN + APP_DSP_MAX_PEAKS_PER_PUSH)
#define APP_CLIP_BITS APP_DSP_RAW_RING_LEN

typedef struct {
    app_io_t io;
    const char *device_id;
    const char *firmware_version;
    uint32_t boot_id;
    const app_model_t *model;
    uint8_t model_sha256[WIRE_SHA256_SIZE]; /* as the build recorded it */

    /* model */
    app_model_status_t model_status;
    char model_error[WIRE_STR_MAX + 1];
    mr_interpreter_t interp;
    const mr_tensor_t *in_beat;
    const mr_tensor_t *in_rr;
    const mr_tensor_t *out_scores;

    /* link */
    wire_decoder_t decoder;
    wire_event_t event;
    uint32_t seq; /* seq of the last frame sent (0: none yet) */
    uint8_t tx[WIRE_MAX_ENCODED];

    /* samples */
    int16_t fifo[APP_SAMPLE_FIFO_LEN];
    uint16_t fifo_head; /* next sample to process */
    uint16_t fifo_count;
    uint32_t samples_received; /* also the first_sample the next SAMPLES must carry */
    uint32_t samples_processed;
    uint32_t overruns;
    uint32_t range_errors; /* samples clamped to the input range */

    /* signal path */
    ecg_dsp_t dsp;
    beat_window_t window;
    ecg_peak_t peaks[ECG_DSP_MAX_PEAKS_PER_PUSH];
    bw_beat_t beat;
    uint32_t beats_popped;                 /* beats out of beat_window, including those not reported */
    uint32_t beats_unreported;             /* R peak before the first sample: no r_sample to send */
    uint8_t clip_bits[APP_CLIP_BITS / 8u]; /* sample i at a limit: bit i mod APP_CLIP_BITS */
    app_clip_t clip_q[APP_CLIP_QUEUE_LEN]; /* ring, oldest at clip_head */
    uint16_t clip_head;
    uint16_t clip_count;

    /* results */
    alerts_t alerts;
    uint32_t beats;
    uint32_t alerts_sent;
    uint32_t last_cost;
    uint32_t last_report_seq; /* seq of the newest BEAT or ALERT */
    txring_t ring;
    txring_slot_t ring_slots[APP_TXRING_SLOTS];

    /* firmware updates (app_update.c); update_enabled false: no flash, the requests are not handled */
    bool update_enabled;
    void (*update_reset)(void);
    boot_image_policy_t update_policy;
    boot_crypto_ops_t update_crypto;
    imgcrypto_sha256_t update_sha; /* the image check's hash (update.transfer hashes the transfer) */
    uint8_t update_buf[APP_UPDATE_CHECK_BUF];
    update_rx_t update;
} app_t;

/* Validates the model (sha256, runtime, contract), prepares everything and sends the session start
 * (0x00) and HELLO; a refused model is reported with an ERROR after the HELLO, and the device then
 * answers HELLO_REQUEST, GET_STATUS and the rest but classifies nothing. */
void app_init(app_t *app, const app_io_t *io, const app_params_t *params);

/* Takes bytes from the link; returns how many it consumed (fewer than `len` when the sample FIFO
 * has no room for another SAMPLES frame: call app_process() and offer the rest again). */
size_t app_rx(app_t *app, const uint8_t *data, size_t len);

/* true when the sample FIFO can take a whole SAMPLES frame (the UART may be read). */
bool app_rx_ready(const app_t *app);

/* Runs the signal path over at most `max_samples` samples from the FIFO; returns how many. */
size_t app_process(app_t *app, size_t max_samples);

/* A sample from an ADC (board mode): false, and counted as an overrun, when the FIFO is full. */
bool app_push_sample(app_t *app, int16_t sample);

/* The counters as STATUS reports them. */
void app_status(const app_t *app, wire_status_t *out);

/* APP_MODEL_OK when the model runs; otherwise why not (the ERROR code). */
app_model_status_t app_model_status(const app_t *app);

#ifdef __cplusplus
}
#endif

#endif /* APP_H */
