/* app_rx.c - the bytes the device receives (see app_internal.h); docs/protocol.md is the contract. */
#include <string.h>

#include "app_internal.h"
#include "textfmt.h"

_Static_assert(APP_SAMPLE_FIFO_LEN >= WIRE_SAMPLES_MAX, "the sample FIFO must hold a whole SAMPLES frame");

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
    char text[WIRE_STR_MAX + 1];
    textfmt_t t;
    textfmt_init(&t, text, sizeof text);
    if (s->first_sample != app->samples_received) {
        textfmt_put_str(&t, "first_sample ");
        textfmt_put_u32(&t, s->first_sample);
        textfmt_put_str(&t, " expected ");
        textfmt_put_u32(&t, app->samples_received);
        app_tx_error(app, WIRE_ERR_SAMPLE_INDEX, host_seq, text);
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
        textfmt_put_u32(&t, clamped);
        textfmt_put_str(&t, " samples outside ");
        textfmt_put_i32(&t, APP_SAMPLE_MIN);
        textfmt_put_str(&t, "..");
        textfmt_put_i32(&t, APP_SAMPLE_MAX);
        textfmt_put_str(&t, " clamped, first at ");
        textfmt_put_u32(&t, first_bad);
        textfmt_put_str(&t, " (");
        textfmt_put_i32(&t, first_value);
        textfmt_put_str(&t, ")");
        app_tx_error(app, WIRE_ERR_SAMPLE_RANGE, host_seq, text);
    }
}

/* "0x2a" */
static void text_type(textfmt_t *t, uint8_t type)
{
    textfmt_put_str(t, "0x");
    textfmt_put_hex(t, &type, 1u);
}

static void on_frame(app_t *app, const wire_msg_t *msg, uint32_t host_seq)
{
    if (msg->type != WIRE_T_SAMPLES) {
        /* answers reflect every sample received before the request; CONFIG applies from the next one */
        (void)app_process(app, APP_SAMPLE_FIFO_LEN);
    }
    if (app_update_handles(app, msg->type)) {
        app_update_on_frame(app, msg, host_seq);
        return;
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
        app_tx_ack(app, host_seq, alerts_configure(&app->alerts, &cfg) ? WIRE_ACK_OK : WIRE_ACK_INVALID);
        break;
    }
    case WIRE_T_HOST_ACK:
        (void)txring_release(&app->ring, msg->u.host_ack.device_seq);
        break;
    case WIRE_T_RESEND:
        app_tx_resend(app, msg->u.resend.after_seq);
        break;
    case WIRE_T_GET_STATUS:
        app_tx_status(app);
        break;
    case WIRE_T_HELLO_REQUEST:
        app_tx_hello(app);
        break;
    default: {
        /* the decoder hands out host -> device types only; anything else is a type we do not take */
        char text[WIRE_STR_MAX + 1];
        textfmt_t t;
        textfmt_init(&t, text, sizeof text);
        textfmt_put_str(&t, "type ");
        text_type(&t, msg->type);
        textfmt_put_str(&t, " not handled");
        app_tx_error(app, WIRE_ERR_UNKNOWN_TYPE, host_seq, text);
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
    textfmt_t t;
    textfmt_init(&t, text, sizeof text);
    uint16_t code;
    switch (ev->reason) {
    case WIRE_REASON_VERSION:
        code = WIRE_ERR_BAD_VERSION;
        textfmt_put_str(&t, "protocol version ");
        textfmt_put_u32(&t, ev->version);
        textfmt_put_str(&t, " not spoken (");
        textfmt_put_u32(&t, WIRE_PROTOCOL_VERSION);
        textfmt_put_str(&t, ")");
        break;
    case WIRE_REASON_TYPE:
        code = WIRE_ERR_UNKNOWN_TYPE;
        textfmt_put_str(&t, "type ");
        text_type(&t, ev->type);
        textfmt_put_str(&t, " unknown or not host->device");
        break;
    case WIRE_REASON_PAYLOAD:
        code = WIRE_ERR_BAD_PAYLOAD;
        textfmt_put_str(&t, "payload of type ");
        text_type(&t, ev->type);
        textfmt_put_str(&t, " does not match its layout");
        break;
    default:
        code = WIRE_ERR_INTERNAL;
        textfmt_put_str(&t, "frame dropped: ");
        textfmt_put_str(&t, wire_reason_name(ev->reason));
        break;
    }
    app_tx_error(app, code, ev->seq, text);
}

size_t app_rx(app_t *app, const uint8_t *data, size_t len)
{
    size_t used_total = 0;
    while (used_total < len && app_rx_ready(app)) {
        size_t used = 0;
        wire_event_kind_t kind =
            wire_decoder_feed(&app->decoder, data + used_total, len - used_total, &used, &app->event);
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
