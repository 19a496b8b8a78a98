/* app.c - see app.h. docs/protocol.md is the contract for everything sent and received here. */
#include "app.h"

#include <string.h>

#include "app_sha256.h"

_Static_assert(ALERTS_NUM_CLASSES == WIRE_NUM_CLASSES, "the alert rule and the wire agree on the classes");
_Static_assert(APP_SAMPLE_FIFO_LEN >= WIRE_SAMPLES_MAX, "the sample FIFO must hold a whole SAMPLES frame");
_Static_assert(APP_TXRING_SLOTS <= 0xFFFFu, "txring capacity is a u16");
_Static_assert(APP_MODEL_MAX_IO <= MR_MAX_IO && APP_MODEL_MAX_DIMS <= MR_MAX_DIMS, "contract limits");
/* the largest frames the ring keeps, COBS and delimiter included (docs/protocol.md, 2.3) */
_Static_assert(TXRING_SLOT_BYTES >= 25u, "a txring slot must hold an encoded BEAT (25 bytes) and ALERT (22)");
_Static_assert((APP_CLIP_BITS & (APP_CLIP_BITS - 1u)) == 0u &&
                   APP_CLIP_BITS >= APP_DSP_WINDOW_PRE + APP_DSP_WINDOW_POST,
               "the clip bitmap is a power-of-two ring covering at least one window");

#define TFLITE_TYPE_INT8 9u

/* ------------------------------------------------------------------------------------------------ */
/* One line of text for ERROR frames (printable ASCII, at most WIRE_STR_MAX), without printf.       */

typedef struct {
    char *buf;
    size_t n;
} text_t;

static void text_str(text_t *t, const char *s)
{
    while (s != NULL && *s != '\0' && t->n < WIRE_STR_MAX) {
        char c = *s++;
        t->buf[t->n++] = (c >= 0x20 && c <= 0x7E) ? c : '?';
    }
    t->buf[t->n] = '\0';
}

static void text_u32(text_t *t, uint32_t v)
{
    char digits[11];
    size_t i = sizeof digits - 1u;
    digits[i] = '\0';
    do {
        digits[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    text_str(t, &digits[i]);
}

static void text_i32(text_t *t, int32_t v)
{
    if (v < 0) {
        text_str(t, "-");
        text_u32(t, 0u - (uint32_t)v);
    } else {
        text_u32(t, (uint32_t)v);
    }
}

static void text_hex8(text_t *t, uint8_t v)
{
    static const char HEX[] = "0123456789abcdef";
    char s[5] = {'0', 'x', HEX[v >> 4], HEX[v & 0xFu], '\0'};
    text_str(t, s);
}

/* ------------------------------------------------------------------------------------------------ */
/* Sending                                                                                          */

static uint32_t now_ms(const app_t *app)
{
    return app->io.now_ms != NULL ? app->io.now_ms(app->io.ctx) : 0u;
}

static uint32_t cycles(const app_t *app)
{
    return app->io.cycles != NULL ? app->io.cycles(app->io.ctx) : 0u;
}

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

static void send_hello(app_t *app)
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
}

static void send_error(app_t *app, uint16_t code, uint32_t host_seq, const char *text)
{
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_ERROR;
    m.u.error.code = code;
    m.u.error.host_seq = host_seq;
    copy_str(m.u.error.text, text);
    send(app, &m, NULL);
}

static void send_model_error(app_t *app)
{
    if (app->model_status != APP_MODEL_OK) {
        send_error(app, (uint16_t)app->model_status, 0, app->model_error);
    }
}

static void send_status(app_t *app)
{
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_STATUS;
    app_status(app, &m.u.status);
    send(app, &m, NULL);
}

static void send_ack(app_t *app, uint32_t host_seq, uint8_t status)
{
    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_ACK;
    m.u.ack.host_seq = host_seq;
    m.u.ack.status = status;
    send(app, &m, NULL);
}

/* BEAT and ALERT: sent and kept in the retransmit ring. */
static uint32_t send_retained(app_t *app, const wire_msg_t *msg)
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

/* ------------------------------------------------------------------------------------------------ */
/* The model                                                                                        */

static bool spec_matches(const mr_tensor_t *t, const app_tensor_spec_t *spec)
{
    if (t == NULL || t->dims_count != spec->dims_count || t->type != spec->type || t->scale != spec->scale ||
        t->zero_point != spec->zero_point || spec->dims_count > APP_MODEL_MAX_DIMS) {
        return false;
    }
    for (unsigned i = 0; i < spec->dims_count; i++) {
        if (t->dims[i] != spec->dims[i]) {
            return false;
        }
    }
    return true;
}

static void refuse(app_t *app, app_model_status_t status, const char *what, int32_t index, const char *why)
{
    text_t t = {app->model_error, 0};
    app->model_status = status;
    text_str(&t, what);
    if (index >= 0) {
        text_str(&t, " ");
        text_i32(&t, index);
    }
    text_str(&t, why);
}

static void check_model(app_t *app, uint8_t *arena, size_t arena_len)
{
    const app_model_t *model = app->model;
    app->model_status = APP_MODEL_OK;
    app->model_error[0] = '\0';
    if (model == NULL || model->data == NULL || model->len == 0u) {
        refuse(app, APP_MODEL_INVALID, "no model in this build", -1, "");
        return;
    }
    if (!app_sha256_from_hex(model->sha256_hex, app->model_sha256)) {
        refuse(app, APP_MODEL_SHA256, "the build recorded no valid model sha256", -1, "");
        return;
    }
    uint8_t digest[APP_SHA256_SIZE];
    app_sha256(model->data, model->len, digest);
    if (memcmp(digest, app->model_sha256, sizeof digest) != 0) {
        text_t t = {app->model_error, 0};
        app->model_status = APP_MODEL_SHA256;
        text_str(&t, "model array sha256 ");
        for (unsigned i = 0; i < 4u; i++) {
            static const char HEX[] = "0123456789abcdef";
            char h[3] = {HEX[digest[i] >> 4], HEX[digest[i] & 0xFu], '\0'};
            text_str(&t, h);
        }
        text_str(&t, ".. is not the build's ");
        char want[9];
        memcpy(want, model->sha256_hex, 8);
        want[8] = '\0';
        text_str(&t, want);
        text_str(&t, "..");
        return;
    }

    mr_status_t st = mr_init(&app->interp, model->data, model->len, arena, arena_len);
    if (st != MR_OK) {
        app->model_status = st == MR_UNSUPPORTED_OP      ? APP_MODEL_UNSUPPORTED_OP
                            : st == MR_ARENA_TOO_SMALL ? APP_MODEL_ARENA
                                                       : APP_MODEL_INVALID;
        (void)mr_error_format(&app->interp, app->model_error, sizeof app->model_error);
        return;
    }

    /* the flatbuffer's tensors against model_data.h */
    if (app->interp.input_count != model->num_inputs || app->interp.output_count != model->num_outputs ||
        model->num_inputs > APP_MODEL_MAX_IO || model->num_outputs > APP_MODEL_MAX_IO) {
        refuse(app, APP_MODEL_INVALID, "input/output count differs from model_data.h", -1, "");
        return;
    }
    for (unsigned i = 0; i < model->num_inputs; i++) {
        if (!spec_matches(mr_input(&app->interp, i), &model->inputs[i])) {
            refuse(app, APP_MODEL_INVALID, "input", (int32_t)i, ": shape/type/quant differ from model_data.h");
            return;
        }
    }
    for (unsigned i = 0; i < model->num_outputs; i++) {
        if (!spec_matches(mr_output(&app->interp, i), &model->outputs[i])) {
            refuse(app, APP_MODEL_INVALID, "output", (int32_t)i, ": shape/type/quant differ from model_data.h");
            return;
        }
    }
    /* ... and against what this firmware feeds it and reads from it */
    if (model->beat_input < 0 || model->rr_input < 0 || model->beat_input >= (int)model->num_inputs ||
        model->rr_input >= (int)model->num_inputs || model->beat_input == model->rr_input) {
        refuse(app, APP_MODEL_INVALID, "model_data.h names no beat-window and RR inputs", -1, "");
        return;
    }
    app->in_beat = mr_input(&app->interp, (size_t)model->beat_input);
    app->in_rr = mr_input(&app->interp, (size_t)model->rr_input);
    app->out_scores = mr_output(&app->interp, 0);
    if (app->in_beat->bytes != BW_WINDOW_LEN || app->in_beat->type != TFLITE_TYPE_INT8) {
        refuse(app, APP_MODEL_INVALID, "beat input", model->beat_input, ": not 128 int8 values");
        return;
    }
    if (app->in_rr->bytes != BW_RR_FEATURES || app->in_rr->type != TFLITE_TYPE_INT8) {
        refuse(app, APP_MODEL_INVALID, "RR input", model->rr_input, ": not 3 int8 values");
        return;
    }
    if (app->out_scores->bytes != WIRE_NUM_CLASSES || app->out_scores->type != TFLITE_TYPE_INT8 ||
        model->num_classes != WIRE_NUM_CLASSES) {
        refuse(app, APP_MODEL_INVALID, "output 0: not 5 int8 class scores", -1, "");
        return;
    }
    if (app->out_scores->scale != 1.0f / 256.0f || app->out_scores->zero_point != -128) {
        refuse(app, APP_MODEL_INVALID, "output 0: not softmax scale 1/256, zero point -128", -1, "");
        return;
    }
    bw_status_t bw = beat_window_init(&app->window, app->in_beat->scale, app->in_beat->zero_point,
                                      app->in_rr->scale, app->in_rr->zero_point);
    if (bw != BW_OK) {
        refuse(app, APP_MODEL_INVALID, bw == BW_ERR_QUANT_WINDOW ? "beat input" : "RR input",
               bw == BW_ERR_QUANT_WINDOW ? model->beat_input : model->rr_input, ": not scale 1/128, zero point 0");
        return;
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Start-up                                                                                          */

void app_init(app_t *app, const app_io_t *io, const app_params_t *params)
{
    memset(app, 0, sizeof *app);
    if (io != NULL) {
        app->io = *io;
    }
    app->device_id = params != NULL ? params->device_id : "";
    app->firmware_version = params != NULL ? params->firmware_version : "";
    app->boot_id = params != NULL && params->boot_id != 0u ? params->boot_id : 1u;
    app->model = params != NULL ? params->model : NULL;

    wire_decoder_init(&app->decoder, WIRE_ACCEPT_HOST_TO_DEVICE);
    (void)txring_init(&app->ring, app->ring_slots, (uint16_t)APP_TXRING_SLOTS);
    static const alerts_config_t defaults = {
        .thresholds = APP_ALERT_THRESHOLDS,
        .k = APP_ALERT_K,
        .window = APP_ALERT_WINDOW,
        .enabled = APP_ALERT_ENABLED,
    };
    (void)alerts_init(&app->alerts, &defaults);
    ecg_dsp_init(&app->dsp);
    check_model(app, params != NULL ? params->arena : NULL, params != NULL ? params->arena_len : 0u);

    static const uint8_t session_start = 0x00;
    write_bytes(app, &session_start, 1);
    send_hello(app);
    send_model_error(app);
}

app_model_status_t app_model_status(const app_t *app)
{
    return app->model_status;
}

void app_status(const app_t *app, wire_status_t *out)
{
    memset(out, 0, sizeof *out);
    out->uptime_ms = now_ms(app);
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

/* ------------------------------------------------------------------------------------------------ */
/* Receiving                                                                                        */

static uint16_t fifo_room(const app_t *app)
{
    return (uint16_t)(APP_SAMPLE_FIFO_LEN - app->fifo_count);
}

bool app_rx_ready(const app_t *app)
{
    return fifo_room(app) >= WIRE_SAMPLES_MAX;
}

static void fifo_put(app_t *app, int16_t sample)
{
    uint32_t tail = (uint32_t)app->fifo_head + app->fifo_count;
    if (tail >= APP_SAMPLE_FIFO_LEN) {
        tail -= APP_SAMPLE_FIFO_LEN;
    }
    app->fifo[tail] = sample;
    app->fifo_count++;
}

bool app_push_sample(app_t *app, int16_t sample)
{
    if (fifo_room(app) == 0u) {
        app->overruns++;
        return false;
    }
    if (sample < APP_SAMPLE_MIN) {
        sample = APP_SAMPLE_MIN;
    } else if (sample > APP_SAMPLE_MAX) {
        sample = APP_SAMPLE_MAX;
    }
    fifo_put(app, sample);
    app->samples_received++;
    return true;
}

static void on_samples(app_t *app, const wire_samples_t *s, uint32_t host_seq)
{
    if (s->first_sample != app->samples_received) {
        char text[WIRE_STR_MAX + 1];
        text_t t = {text, 0};
        text_str(&t, "first_sample ");
        text_u32(&t, s->first_sample);
        text_str(&t, " expected ");
        text_u32(&t, app->samples_received);
        send_error(app, WIRE_ERR_SAMPLE_INDEX, host_seq, text);
        return;
    }
    uint32_t clamped = 0;
    uint32_t first_bad = 0;
    int32_t first_value = 0;
    for (uint32_t i = 0; i < s->count; i++) {
        int16_t x = s->samples[i];
        if (x < APP_SAMPLE_MIN || x > APP_SAMPLE_MAX) {
            if (clamped == 0u) {
                first_bad = app->samples_received;
                first_value = x;
            }
            clamped++;
        }
        /* app_rx() only feeds a frame when the FIFO has room for a whole one */
        (void)app_push_sample(app, x);
    }
    if (clamped > 0u) {
        app->range_errors += clamped;
        char text[WIRE_STR_MAX + 1];
        text_t t = {text, 0};
        text_u32(&t, clamped);
        text_str(&t, " samples outside ");
        text_i32(&t, APP_SAMPLE_MIN);
        text_str(&t, "..");
        text_i32(&t, APP_SAMPLE_MAX);
        text_str(&t, " clamped, first at ");
        text_u32(&t, first_bad);
        text_str(&t, " (");
        text_i32(&t, first_value);
        text_str(&t, ")");
        send_error(app, WIRE_ERR_SAMPLE_RANGE, host_seq, text);
    }
}

static void on_resend(app_t *app, uint32_t after_seq)
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
    send_status(app);
}

static void on_frame(app_t *app, const wire_msg_t *msg, uint32_t host_seq)
{
    if (msg->type != WIRE_T_SAMPLES) {
        /* answers reflect every sample received before the request; CONFIG applies from the next one */
        (void)app_process(app, APP_SAMPLE_FIFO_LEN);
    }
    switch (msg->type) {
    case WIRE_T_SAMPLES:
        on_samples(app, &msg->u.samples, host_seq);
        break;
    case WIRE_T_CONFIG: {
        alerts_config_t cfg;
        memcpy(cfg.thresholds, msg->u.config.thresholds, sizeof cfg.thresholds);
        cfg.k = msg->u.config.k;
        cfg.window = msg->u.config.window;
        cfg.enabled = msg->u.config.enabled;
        send_ack(app, host_seq, alerts_configure(&app->alerts, &cfg) ? WIRE_ACK_OK : WIRE_ACK_INVALID);
        break;
    }
    case WIRE_T_HOST_ACK:
        (void)txring_release(&app->ring, msg->u.host_ack.device_seq);
        break;
    case WIRE_T_RESEND:
        on_resend(app, msg->u.resend.after_seq);
        break;
    case WIRE_T_GET_STATUS:
        send_status(app);
        break;
    case WIRE_T_HELLO_REQUEST:
        send_hello(app);
        send_model_error(app);
        break;
    default: {
        /* the decoder hands out host -> device types only; anything else is a type we do not take */
        char text[WIRE_STR_MAX + 1];
        text_t t = {text, 0};
        text_str(&t, "type ");
        text_hex8(&t, msg->type);
        text_str(&t, " not handled");
        send_error(app, WIRE_ERR_UNKNOWN_TYPE, host_seq, text);
        break;
    }
    }
}

static void on_reject(app_t *app, const wire_event_t *ev)
{
    /* frames whose CRC or COBS is broken, too short or too long are only counted (by the decoder) */
    if (!ev->has_header) {
        return;
    }
    (void)app_process(app, APP_SAMPLE_FIFO_LEN);
    char text[WIRE_STR_MAX + 1];
    text_t t = {text, 0};
    uint16_t code;
    switch (ev->reason) {
    case WIRE_REASON_VERSION:
        code = WIRE_ERR_BAD_VERSION;
        text_str(&t, "protocol version ");
        text_u32(&t, ev->version);
        text_str(&t, " not spoken (");
        text_u32(&t, WIRE_PROTOCOL_VERSION);
        text_str(&t, ")");
        break;
    case WIRE_REASON_TYPE:
        code = WIRE_ERR_UNKNOWN_TYPE;
        text_str(&t, "type ");
        text_hex8(&t, ev->type);
        text_str(&t, " unknown or not host->device");
        break;
    case WIRE_REASON_PAYLOAD:
        code = WIRE_ERR_BAD_PAYLOAD;
        text_str(&t, "payload of type ");
        text_hex8(&t, ev->type);
        text_str(&t, " does not match its layout");
        break;
    default:
        code = WIRE_ERR_INTERNAL;
        text_str(&t, "frame dropped: ");
        text_str(&t, wire_reason_name(ev->reason));
        break;
    }
    send_error(app, code, ev->seq, text);
}

size_t app_rx(app_t *app, const uint8_t *data, size_t len)
{
    size_t used_total = 0;
    while (used_total < len && app_rx_ready(app)) {
        size_t used = 0;
        wire_event_kind_t kind = wire_decoder_feed(&app->decoder, data + used_total, len - used_total, &used,
                                                   &app->event);
        used_total += used;
        if (kind == WIRE_EVENT_FRAME) {
            on_frame(app, &app->event.msg, app->event.seq);
        } else if (kind == WIRE_EVENT_REJECT) {
            on_reject(app, &app->event);
        }
        if (used == 0u) {
            break; /* cannot happen with len > 0; never spin */
        }
    }
    return used_total;
}

/* ------------------------------------------------------------------------------------------------ */
/* The signal path                                                                                  */

static void clip_set(app_t *app, uint64_t n, bool at_limit)
{
    uint32_t bit = (uint32_t)(n & (APP_CLIP_BITS - 1u));
    uint8_t mask = (uint8_t)(1u << (bit & 7u));
    if (at_limit) {
        app->clip_bits[bit >> 3] |= mask;
    } else {
        app->clip_bits[bit >> 3] &= (uint8_t)~mask;
    }
}

/* Any sample at a limit in [lo, hi] (indices since the stream start, all still in the bitmap). */
static bool clip_any(const app_t *app, int64_t lo, int64_t hi)
{
    if (lo < 0) {
        lo = 0; /* indices before the stream read as the first sample */
    }
    for (int64_t i = lo; i <= hi; i++) {
        uint32_t bit = (uint32_t)((uint64_t)i & (APP_CLIP_BITS - 1u));
        if (app->clip_bits[bit >> 3] & (1u << (bit & 7u))) {
            return true;
        }
    }
    return false;
}

static void clip_track_peak(app_t *app, int64_t r)
{
    if (app->clip_count == APP_CLIP_QUEUE_LEN) { /* the oldest was dropped by beat_window too */
        app->clip_head = (uint16_t)((app->clip_head + 1u) % APP_CLIP_QUEUE_LEN);
        app->clip_count--;
    }
    app_clip_t *c = &app->clip_q[(app->clip_head + app->clip_count) % APP_CLIP_QUEUE_LEN];
    c->r = r;
    c->done = false;
    c->clipped = false;
    app->clip_count++;
}

/* Evaluates every tracked window completed by sample n (the newest pushed). */
static void clip_complete(app_t *app, int64_t n)
{
    for (uint16_t i = 0; i < app->clip_count; i++) {
        app_clip_t *c = &app->clip_q[(app->clip_head + i) % APP_CLIP_QUEUE_LEN];
        int64_t hi = c->r + (int64_t)APP_DSP_WINDOW_POST - 1;
        if (!c->done && hi <= n) {
            c->clipped = clip_any(app, c->r - (int64_t)APP_DSP_WINDOW_PRE, hi);
            c->done = true;
        }
    }
}

static bool clip_take(app_t *app, int64_t r)
{
    while (app->clip_count > 0u) {
        app_clip_t *c = &app->clip_q[app->clip_head];
        app->clip_head = (uint16_t)((app->clip_head + 1u) % APP_CLIP_QUEUE_LEN);
        app->clip_count--;
        if (c->r == r) {
            return c->clipped;
        }
    }
    return false;
}

static void classify(app_t *app, const bw_beat_t *b, bool clipped)
{
    uint32_t ordinal = app->beats_popped++;
    if (b->r < 0) {
        app->beats_unreported++; /* its R peak lies before the first sample: no r_sample exists */
        return;
    }
    memcpy(app->in_beat->data, b->window, BW_WINDOW_LEN);
    memcpy(app->in_rr->data, b->rr, BW_RR_FEATURES);
    uint32_t t0 = cycles(app);
    mr_status_t st = mr_invoke(&app->interp);
    uint32_t cost = cycles(app) - t0;
    if (st != MR_OK) {
        send_error(app, WIRE_ERR_INTERNAL, 0, "inference failed");
        return;
    }
    app->last_cost = cost;

    wire_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = WIRE_T_BEAT;
    wire_beat_t *beat = &m.u.beat;
    beat->r_sample = (uint32_t)b->r;
    const int8_t *scores = app->out_scores->data;
    uint8_t best = 0;
    for (uint8_t c = 0; c < WIRE_NUM_CLASSES; c++) {
        beat->scores[c] = scores[c];
        if (scores[c] > scores[best]) {
            best = c; /* the first of equal maxima, as numpy's argmax */
        }
    }
    beat->beat_class = best;
    beat->cost = cost;
    if (b->r < (int64_t)APP_DSP_LEARN_SAMPLES || ordinal < APP_DSP_RR_HISTORY) {
        beat->flags |= WIRE_BEAT_LEARNING;
    }
    if (clipped) {
        beat->flags |= WIRE_BEAT_CLIPPED;
    }
    alerts_result_t alert;
    alerts_rule_t rule = alerts_on_beat(&app->alerts, best, beat->scores, &alert);
    if (rule != ALERTS_NONE) {
        beat->flags |= WIRE_BEAT_ALERTED;
    }
    uint32_t beat_seq = send_retained(app, &m);
    app->beats++;
    if (rule != ALERTS_NONE) {
        memset(&m, 0, sizeof m);
        m.type = WIRE_T_ALERT;
        m.u.alert.beat_seq = beat_seq;
        m.u.alert.r_sample = (uint32_t)b->r;
        m.u.alert.beat_class = alert.beat_class;
        m.u.alert.score = alert.score;
        m.u.alert.rule = (uint8_t)alert.rule;
        m.u.alert.threshold = alert.threshold;
        send_retained(app, &m);
        app->alerts_sent++;
    }
}

static void process_sample(app_t *app, int16_t x)
{
    int64_t n = (int64_t)app->samples_processed++;
    if (app->model_status != APP_MODEL_OK) {
        return; /* a refused model classifies nothing; the samples are still counted */
    }
    clip_set(app, (uint64_t)n, x <= APP_SAMPLE_MIN || x >= APP_SAMPLE_MAX);
    (void)beat_window_push_sample(&app->window, x);
    size_t k = ecg_dsp_push(&app->dsp, x, app->peaks, ECG_DSP_MAX_PEAKS_PER_PUSH);
    for (size_t i = 0; i < k; i++) {
        if (beat_window_push_peak(&app->window, app->peaks[i].r) != BW_ERR_ORDER) {
            clip_track_peak(app, app->peaks[i].r);
        }
    }
    clip_complete(app, n);
    while (beat_window_pop(&app->window, &app->beat)) {
        classify(app, &app->beat, clip_take(app, app->beat.r));
    }
}

size_t app_process(app_t *app, size_t max_samples)
{
    size_t done = 0;
    while (done < max_samples && app->fifo_count > 0u) {
        int16_t x = app->fifo[app->fifo_head];
        app->fifo_head = (uint16_t)(app->fifo_head + 1u == APP_SAMPLE_FIFO_LEN ? 0u : app->fifo_head + 1u);
        app->fifo_count--;
        process_sample(app, x);
        done++;
    }
    return done;
}
