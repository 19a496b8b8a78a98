/*
 * beat_window.h - R peaks -> the model's two int8 inputs, the C twin of
 * toolchain/dsp.py (beats_from_peaks, beat_window, rr_features), bit-exact.
 *
 * The module keeps the raw samples (a ring of APP_DSP_RAW_RING_LEN int16;
 * indices before the stream start read as the first sample, as in dsp.py)
 * and the RR history, and turns each accepted R peak into a beat:
 *
 *   window  samples [R-92, R+164) summed in pairs to 128 values, mean removed,
 *           scaled so the largest deviation is 127, rounded half away from
 *           zero: int8 q meaning q/128 (all zero for a flat window)
 *   rr      q = round(256 * (ratio - 1)) clamped to int8, for
 *           pre-RR / mean RR, post-RR / mean RR, pre-RR / post-RR, where the
 *           mean RR is over the last 64 intervals up to and including the
 *           pre-RR; the first beat of a stream uses its post-RR as pre-RR and
 *           as the mean.
 *
 * A beat is READY when the next R peak has been accepted (its post-RR) and its
 * window is complete (the sample R + WINDOW_POST - 1 has been pushed): one
 * beat of latency. The window is copied out of the raw ring as soon as it is
 * complete, so the ring only has to cover the detector's search-back delay
 * (static asserts in app_config.h).
 *
 * Queue: beats waiting (for their post-RR or window) and ready beats not yet
 * taken share APP_DSP_BEAT_QUEUE_LEN slots. When a new beat finds the queue
 * full, the OLDEST beat (ready or waiting) is dropped and counted in
 * counters.dropped; the RR history is unaffected (it is kept apart from the
 * queue), so later beats are exactly what dsp.py gives. A caller that takes
 * every ready beat after each sample never loses one (app_config.h).
 *
 * Quantization: the model's inputs must be scale 1/128, zero point 0 (the
 * integers above go in unchanged); beat_window_init() checks the values the
 * caller passes from model_data.h and refuses anything else.
 *
 * Per sample, in this order:
 *   beat_window_push_sample(&bw, x);
 *   k = ecg_dsp_push(&dsp, x, peaks, cap);
 *   for (i < k) beat_window_push_peak(&bw, peaks[i].r);
 *   while (beat_window_pop(&bw, &beat)) { ... }
 *
 * Arithmetic is exact for any int16 samples; sample indices are int64_t
 * (exact for streams shorter than 2^56 samples). Caller-owned state, no
 * statics, no malloc.
 */
#ifndef BEAT_WINDOW_H
#define BEAT_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BW_WINDOW_LEN APP_DSP_WINDOW_LEN
#define BW_RR_FEATURES APP_DSP_RR_FEATURES
/* The only input quantization the module produces: q means q * 1/128. */
#define BW_INPUT_SCALE 0.0078125f
#define BW_INPUT_ZERO_POINT 0

typedef enum {
    BW_OK = 0,
    BW_ERR_ARG = 1,          /* a NULL pointer */
    BW_ERR_QUANT_WINDOW = 2, /* init: the window input is not scale 1/128, zero point 0 */
    BW_ERR_QUANT_RR = 3,     /* init: the RR input is not scale 1/128, zero point 0 */
    BW_ERR_ORDER = 4,        /* an R peak not after the previous one, or after the newest sample */
    BW_ERR_STALE = 5,        /* an R peak whose window samples have already left the raw ring */
} bw_status_t;

/* One beat, ready for the model. */
typedef struct {
    int64_t r;       /* R-peak sample index since the stream start (may be < 0) */
    int64_t pre_rr;  /* samples */
    int64_t post_rr; /* samples */
    int8_t window[BW_WINDOW_LEN];
    int8_t rr[BW_RR_FEATURES];
} bw_beat_t;

typedef struct {
    uint64_t samples;  /* samples pushed */
    uint32_t peaks;    /* R peaks taken in (including stale ones) */
    uint32_t beats;    /* ready beats handed out by beat_window_pop() */
    uint32_t dropped;  /* beats dropped because the queue was full (oldest first) */
    uint32_t stale;    /* R peaks whose window could not be read any more (never from ecg_dsp) */
    uint32_t rejected; /* R peaks refused with BW_ERR_ORDER */
} bw_counters_t;

/* A queue slot: a beat and what it still waits for (internal). */
typedef struct {
    bw_beat_t beat;
    int64_t long_sum;    /* sum of the last intervals up to the pre-RR */
    uint32_t long_count; /* how many */
    bool first;          /* the stream's first beat */
    bool has_post;
    bool has_window;
} bw_slot_t;

/* The module's whole state. Treat as opaque; read `counters` freely. */
typedef struct beat_window {
    bw_status_t status; /* BW_OK after a successful init; otherwise every call returns it */
    int64_t n;          /* samples pushed */
    int16_t first_sample;
    int16_t raw[APP_DSP_RAW_RING_LEN]; /* sample i at i mod the ring */
    bool has_last;
    int64_t last_r;
    int64_t intervals[APP_DSP_RR_LONG_HISTORY]; /* ring of the last RR intervals */
    uint32_t iv_head;
    uint32_t iv_count;
    int64_t iv_sum;
    bw_slot_t queue[APP_DSP_BEAT_QUEUE_LEN]; /* ring, oldest at q_head */
    uint32_t q_head;
    uint32_t q_count;
    bw_counters_t counters;
} beat_window_t;

/* Starts a new stream for a model whose window and RR inputs have the given
 * quantization (HB_MODEL_INPUT<i>_SCALE / _ZERO_POINT of model_data.h).
 * Returns BW_OK, or BW_ERR_QUANT_WINDOW / BW_ERR_QUANT_RR when one is not
 * exactly scale 1/128, zero point 0: the module then refuses every call. */
bw_status_t beat_window_init(beat_window_t *bw, float window_scale, int32_t window_zero_point, float rr_scale,
                             int32_t rr_zero_point);

/* Stores the next sample; completes the windows that it finishes. */
bw_status_t beat_window_push_sample(beat_window_t *bw, int16_t sample);

/* Takes an accepted R peak (ecg_peak_t.r), after the sample it was accepted
 * at. Peaks must be strictly increasing and before the newest sample
 * (BW_ERR_ORDER otherwise: the peak is ignored). BW_ERR_STALE: the peak
 * counts for the RR history but its beat cannot be made (counted). */
bw_status_t beat_window_push_peak(beat_window_t *bw, int64_t r);

/* Takes the oldest ready beat into *out; false when none is ready. */
bool beat_window_pop(beat_window_t *bw, bw_beat_t *out);

/* Beats in the queue (waiting or ready). */
size_t beat_window_queued(const beat_window_t *bw);

/* The three RR features of one beat, as dsp.rr_features: intervals in
 * samples, pre, post >= 1; long_sum >= 1 over long_count >= 1 intervals. */
void beat_window_rr_features(int64_t pre, int64_t post, int64_t long_sum, uint32_t long_count,
                             int8_t out[BW_RR_FEATURES]);

/* round(RR_RATIO_GAIN * (num/den - 1)) half away from zero, clamped to int8
 * (dsp._ratio_code); num >= 0, den >= 1. Exact for every such int64 pair. */
int8_t beat_window_ratio_code(int64_t num, int64_t den);

#ifdef __cplusplus
}
#endif

#endif /* BEAT_WINDOW_H */
