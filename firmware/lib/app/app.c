/*
 * app.c - the device application's wiring (app_init) and its signal path: per sample, ecg_dsp ->
 * beat_window -> micro_runtime -> alerts -> BEAT [+ ALERT]. See app.h; the other files are listed in
 * app_internal.h. docs/protocol.md is the contract for everything sent and received.
 */
#include <string.h>

#include "app_internal.h"

_Static_assert(ALERTS_NUM_CLASSES == WIRE_NUM_CLASSES, "the alert rule and the wire agree on the classes");
_Static_assert(APP_TXRING_SLOTS <= 0xFFFFu, "txring capacity is a u16");
_Static_assert((APP_CLIP_BITS & (APP_CLIP_BITS - 1u)) == 0u &&
                   APP_CLIP_BITS >= APP_DSP_WINDOW_PRE + APP_DSP_WINDOW_POST,
               "the clip bitmap is a power-of-two ring covering at least one window");

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
    app_model_check(app, params != NULL ? params->arena : NULL, params != NULL ? params->arena_len : 0u);
    app_update_init(app, params);

    app_tx_session_start(app);
    app_tx_hello(app);
}

app_model_status_t app_model_status(const app_t *app)
{
    return app->model_status;
}

/* ------------------------------------------------------------------------------------------------ */
/* The signal path                                                                                  */

static uint32_t cycles(const app_t *app)
{
    return app->io.cycles != NULL ? app->io.cycles(app->io.ctx) : 0u;
}

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
        app_tx_error(app, WIRE_ERR_INTERNAL, 0, "inference failed");
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
    uint32_t beat_seq = app_tx_retained(app, &m);
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
        app_tx_retained(app, &m);
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
