/* beat_window.c - see beat_window.h. The twin of toolchain/dsp.py: beats_from_peaks, beat_window, rr_features. */
#include "beat_window.h"

#include <string.h>

#define RAW_MASK ((uint32_t)APP_DSP_RAW_RING_LEN - 1u)
#define PAIRS APP_DSP_WINDOW_LEN

/* ---- compile-time proof that the window arithmetic is exact in 32 bits for any int16 samples ---- */
#define BW_MAX_PAIR 65536u                             /* |s[2i] + s[2i+1]| */
#define BW_MAX_DEV ((PAIRS - 1u) * (2u * BW_MAX_PAIR)) /* |WINDOW_LEN * v[i] - sum v| */
_Static_assert(((unsigned long long)PAIRS * BW_MAX_PAIR) <= 0x7fffffffull, "pair sums and their total fit int32");
_Static_assert((unsigned long long)PAIRS * BW_MAX_PAIR * 2ull <= 0x7fffffffull, "deviations fit int32");
_Static_assert((2ull * APP_DSP_WINDOW_PEAK + 1ull) * BW_MAX_DEV <= 0xffffffffull,
               "2 * WINDOW_PEAK * |dev| + maxabs fits uint32");
_Static_assert(APP_DSP_RR_RATIO_GAIN == 256u, "beat_window_ratio_code computes 8 fraction bits");

static int16_t sample_at(const beat_window_t *bw, int64_t i)
{
    return i < 0 ? bw->first_sample : bw->raw[(uint32_t)i & RAW_MASK];
}

/* dsp.beat_window on the raw ring: every sample of [r - PRE, r + POST) is in it (or before the stream). */
static void extract_window(const beat_window_t *bw, int64_t r, int8_t out[BW_WINDOW_LEN])
{
    int32_t dev[PAIRS];
    int32_t total = 0;
    int64_t i0 = r - (int64_t)APP_DSP_WINDOW_PRE;
    for (uint32_t i = 0; i < PAIRS; i++) {
        int32_t v = (int32_t)sample_at(bw, i0 + 2 * (int64_t)i) + (int32_t)sample_at(bw, i0 + 2 * (int64_t)i + 1);
        dev[i] = v;
        total += v;
    }
    uint32_t maxabs = 0;
    for (uint32_t i = 0; i < PAIRS; i++) {
        dev[i] = (int32_t)PAIRS * dev[i] - total;
        uint32_t a = dev[i] < 0 ? (uint32_t)(-dev[i]) : (uint32_t)dev[i];
        if (a > maxabs) {
            maxabs = a;
        }
    }
    if (maxabs == 0u) {
        memset(out, 0, BW_WINDOW_LEN);
        return;
    }
    for (uint32_t i = 0; i < PAIRS; i++) {
        uint32_t a = dev[i] < 0 ? (uint32_t)(-dev[i]) : (uint32_t)dev[i];
        /* round(127 * a / maxabs) half up; a <= maxabs so mag <= 127 */
        int32_t mag = (int32_t)((2u * APP_DSP_WINDOW_PEAK * a + maxabs) / (2u * maxabs));
        out[i] = (int8_t)(dev[i] < 0 ? -mag : mag);
    }
}

int8_t beat_window_ratio_code(int64_t num, int64_t den)
{
    int64_t delta = num - den; /* num, den >= 0: no overflow */
    uint64_t a = delta < 0 ? (uint64_t)(-delta) : (uint64_t)delta;
    uint64_t d = (uint64_t)den;
    uint64_t mag;
    if (a >= d) {
        mag = 256u; /* |ratio - 1| >= 1: clamped either way */
    } else {
        /* 8 bits of a/d by long division (no 256*a that could overflow), then round half up */
        uint64_t q = 0, rem = a;
        for (int bit = 0; bit < 8; bit++) {
            rem <<= 1; /* rem < d <= INT64_MAX: no overflow */
            q <<= 1;
            if (rem >= d) {
                rem -= d;
                q |= 1u;
            }
        }
        mag = q + (2u * rem >= d ? 1u : 0u);
    }
    if (delta >= 0) {
        return (int8_t)(mag > 127u ? 127 : (int32_t)mag);
    }
    return (int8_t)(mag > 128u ? -128 : -(int32_t)mag);
}

void beat_window_rr_features(int64_t pre, int64_t post, int64_t long_sum, uint32_t long_count,
                             int8_t out[BW_RR_FEATURES])
{
    out[0] = beat_window_ratio_code(pre * (int64_t)long_count, long_sum);
    out[1] = beat_window_ratio_code(post * (int64_t)long_count, long_sum);
    out[2] = beat_window_ratio_code(pre, post);
}

static bool quant_ok(float scale, int32_t zero_point)
{
    return scale == BW_INPUT_SCALE && zero_point == BW_INPUT_ZERO_POINT;
}

bw_status_t beat_window_init(beat_window_t *bw, float window_scale, int32_t window_zero_point, float rr_scale,
                             int32_t rr_zero_point)
{
    if (bw == NULL) {
        return BW_ERR_ARG;
    }
    memset(bw, 0, sizeof *bw);
    if (!quant_ok(window_scale, window_zero_point)) {
        bw->status = BW_ERR_QUANT_WINDOW;
    } else if (!quant_ok(rr_scale, rr_zero_point)) {
        bw->status = BW_ERR_QUANT_RR;
    } else {
        bw->status = BW_OK;
    }
    return bw->status;
}

static bw_slot_t *slot_at(beat_window_t *bw, uint32_t k)
{
    return &bw->queue[(bw->q_head + k) % APP_DSP_BEAT_QUEUE_LEN];
}

bw_status_t beat_window_push_sample(beat_window_t *bw, int16_t sample)
{
    if (bw == NULL) {
        return BW_ERR_ARG;
    }
    if (bw->status != BW_OK) {
        return bw->status;
    }
    if (bw->n == 0) {
        bw->first_sample = sample;
    }
    bw->raw[(uint32_t)bw->n & RAW_MASK] = sample;
    bw->n++;
    bw->counters.samples++;
    /* windows completed by this sample (slots are in R order: stop at the first still incomplete) */
    for (uint32_t k = 0; k < bw->q_count; k++) {
        bw_slot_t *s = slot_at(bw, k);
        if (s->has_window) {
            continue;
        }
        if (s->beat.r + (int64_t)APP_DSP_WINDOW_POST > bw->n) {
            break;
        }
        extract_window(bw, s->beat.r, s->beat.window);
        s->has_window = true;
    }
    return BW_OK;
}

/* The RR features of a beat once its post-RR is known (first beat: pre = post, mean = post). */
static void set_post(bw_slot_t *s, int64_t post)
{
    s->beat.post_rr = post;
    if (s->first) {
        s->beat.pre_rr = post;
        s->long_sum = post;
        s->long_count = 1u;
    }
    beat_window_rr_features(s->beat.pre_rr, post, s->long_sum, s->long_count, s->beat.rr);
    s->has_post = true;
}

bw_status_t beat_window_push_peak(beat_window_t *bw, int64_t r)
{
    if (bw == NULL) {
        return BW_ERR_ARG;
    }
    if (bw->status != BW_OK) {
        return bw->status;
    }
    if ((bw->has_last && r <= bw->last_r) || r >= bw->n) {
        bw->counters.rejected++;
        return BW_ERR_ORDER;
    }
    bw->counters.peaks++;
    const bool first = !bw->has_last;
    int64_t pre = 0;
    if (!first) {
        pre = r - bw->last_r;
        /* the previous beat (unless dropped) gets its post-RR */
        if (bw->q_count > 0u) {
            bw_slot_t *prev = slot_at(bw, bw->q_count - 1u);
            if (prev->beat.r == bw->last_r) {
                set_post(prev, pre);
            }
        }
        if (bw->iv_count == APP_DSP_RR_LONG_HISTORY) {
            bw->iv_sum -= bw->intervals[bw->iv_head];
            bw->iv_head = (bw->iv_head + 1u) % APP_DSP_RR_LONG_HISTORY;
            bw->iv_count--;
        }
        bw->intervals[(bw->iv_head + bw->iv_count) % APP_DSP_RR_LONG_HISTORY] = pre;
        bw->iv_count++;
        bw->iv_sum += pre;
    }
    bw->has_last = true;
    bw->last_r = r;

    const bool complete = r + (int64_t)APP_DSP_WINDOW_POST <= bw->n;
    if (complete) {
        int64_t oldest_needed = r - (int64_t)APP_DSP_WINDOW_PRE;
        if (oldest_needed < 0) {
            oldest_needed = 0;
        }
        if (bw->n - oldest_needed > (int64_t)APP_DSP_RAW_RING_LEN) {
            bw->counters.stale++;
            return BW_ERR_STALE;
        }
    }
    if (bw->q_count == APP_DSP_BEAT_QUEUE_LEN) { /* full: drop the oldest */
        bw->q_head = (bw->q_head + 1u) % APP_DSP_BEAT_QUEUE_LEN;
        bw->q_count--;
        bw->counters.dropped++;
    }
    bw_slot_t *s = slot_at(bw, bw->q_count);
    memset(s, 0, sizeof *s);
    s->beat.r = r;
    s->first = first;
    if (!first) {
        s->beat.pre_rr = pre;
        s->long_sum = bw->iv_sum;
        s->long_count = bw->iv_count;
    }
    if (complete) {
        extract_window(bw, r, s->beat.window);
        s->has_window = true;
    }
    bw->q_count++;
    return BW_OK;
}

bool beat_window_pop(beat_window_t *bw, bw_beat_t *out)
{
    if (bw == NULL || out == NULL || bw->status != BW_OK || bw->q_count == 0u) {
        return false;
    }
    bw_slot_t *s = slot_at(bw, 0);
    if (!(s->has_post && s->has_window)) {
        return false;
    }
    *out = s->beat;
    bw->q_head = (bw->q_head + 1u) % APP_DSP_BEAT_QUEUE_LEN;
    bw->q_count--;
    bw->counters.beats++;
    return true;
}

size_t beat_window_queued(const beat_window_t *bw)
{
    return bw == NULL ? 0u : bw->q_count;
}
