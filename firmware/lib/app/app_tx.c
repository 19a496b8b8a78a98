/* app_tx.c - the frames the device sends (see app_internal.h); docs/protocol.md is the contract. */
#include <string.h>

#include "app_internal.h"

/* the largest frames the ring keeps, COBS and delimiter included (docs/protocol.md, 2.3) */
_Static_assert(TXRING_SLOT_BYTES >= 25u, "a txring slot must hold an encoded BEAT (25 bytes) and ALERT (22)");

static void write_bytes(app_t *app, const uint8_t *data, size_t len)
{
    if (app->io.write != NULL && len > 0u) {
        (void)app->io.write(app->io.ctx, data, len);
    }
}

/* Encodes `msg` with the next seq into app->tx and sends it; returns that seq (0 if it could not be
 * encoded, which only a programming error can cause) and the frame's length in *len. */
static uint32_t send(app_t *app, const wire_msg_t *msg, size_t *len)
{
    size_t n = 0;
    uint32_t seq = app->seq + 1u;
    if (wire_encode(msg, seq, app->tx, sizeof app->tx, &n) != WIRE_OK) {
        if (len != NULL) {
            *len = 0;
        }
        return 0;
    }
    app->seq = seq;
    write_bytes(app, app->tx, n);
    if (len != NULL) {
        *len = n;
    }
    return seq;
}

/* A string field: printable ASCII ('?' for anything else), at most WIRE_STR_MAX characters. */
static void copy_str(char *dst, const char *src)
{
    size_t i = 0;
    while (src != NULL && src[i] != '\0' && i < WIRE_STR_MAX) {
        char c = src[i];
        dst[i] = (c >= 0x20 && c <= 0x7E) ? c : '?';
        i++;
    }
    dst[i] = '\0';
}

void app_tx_session_start(app_t *app)
{
    static const uint8_t session_start = 0x00;
    write_bytes(app, &session_start, 1);
}

void app_tx_hello(app_t *app)
{
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_HELLO;
    copy_str(m.u.hello.device_id, app->device_id);
    copy_str(m.u.hello.firmware_version, app->firmware_version);
    copy_str(m.u.hello.model_version, app->model != NULL ? app->model->version : "");
    memcpy(m.u.hello.model_sha256, app->model_sha256, WIRE_SHA256_SIZE);
    m.u.hello.protocol_version = WIRE_PROTOCOL_VERSION;
    m.u.hello.boot_id = app->boot_id;
    m.u.hello.sample_rate_hz = APP_SAMPLE_RATE_HZ;
    send(app, &m, NULL);
    if (app->model_status != APP_MODEL_OK) {
        app_tx_error(app, (uint16_t)app->model_status, 0, app->model_error);
    }
}

void app_tx_error(app_t *app, uint16_t code, uint32_t host_seq, const char *text)
{
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_ERROR;
    m.u.error.code = code;
    m.u.error.host_seq = host_seq;
    copy_str(m.u.error.text, text);
    send(app, &m, NULL);
}

void app_status(const app_t *app, wire_status_t *out)
{
    memset(out, 0, sizeof *out);
    out->uptime_ms = app->io.now_ms != NULL ? app->io.now_ms(app->io.ctx) : 0u;
    out->samples = app->samples_received;
    out->beats = app->beats;
    out->alerts = app->alerts_sent;
    out->corrupt_frames = app->decoder.counters.corrupt;
    out->oversize_frames = app->decoder.counters.oversize;
    out->unknown_frames = app->decoder.counters.unknown;
    out->overruns = app->overruns;
    out->lost = txring_lost(&app->ring);
    out->last_seq = app->last_report_seq;
    out->ring_oldest_seq = txring_oldest_seq(&app->ring);
}

void app_tx_status(app_t *app)
{
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_STATUS;
    app_status(app, &m.u.status);
    send(app, &m, NULL);
}

void app_tx_ack(app_t *app, uint32_t host_seq, uint8_t status)
{
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_ACK;
    m.u.ack.host_seq = host_seq;
    m.u.ack.status = status;
    send(app, &m, NULL);
}

void app_tx_update_state(app_t *app, const wire_update_state_t *state)
{
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_UPDATE_STATE;
    m.u.update_state = *state;
    send(app, &m, NULL);
}

uint32_t app_tx_retained(app_t *app, const wire_msg_t *msg)
{
    size_t len = 0;
    uint32_t seq = send(app, msg, &len);
    if (seq != 0u) {
        (void)txring_push(&app->ring, seq, app->tx, len); /* an overwrite is counted by the ring */
        app->last_report_seq = seq;
    }
    return seq;
}

static bool replay_one(void *ctx, uint32_t seq, const uint8_t *frame, size_t len)
{
    (void)seq;
    write_bytes((app_t *)ctx, frame, len);
    return true;
}

void app_tx_resend(app_t *app, uint32_t after_seq)
{
    uint32_t first = 0, last = 0;
    if (txring_gap(&app->ring, after_seq, &first, &last)) {
        wire_msg_t m;
        memset(&m, 0, sizeof m);
        m.type = WIRE_T_GAP;
        m.u.gap.first = first;
        m.u.gap.last = last;
        send(app, &m, NULL);
    }
    (void)txring_replay(&app->ring, after_seq, replay_one, app);
    app_tx_status(app);
}
