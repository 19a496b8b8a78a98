/*
 * test_dsp_edge - the signal path (firmware/lib/ecg_dsp, firmware/lib/beat_window) at its edges: constant
 * signals, full-scale int16 bursts, streams shorter than the 2 s learning period, the first-beat RR rule, the
 * queue's drop-oldest policy, refused peaks and quantizations, and the rounding of the int8 codes.
 * The bit-exact comparison with toolchain/dsp.py is test_dsp_golden (and tests/firmware/test_dsp_twin.py);
 * here the expected values come from the definitions, computed a second way.
 * Runs on the host (native, ASan/UBSan: any signed overflow aborts) and in QEMU (qemu).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "app_config.h"
#include "beat_window.h"
#include "ecg_dsp.h"
#include "hbtest.h"
#include "model_data.h"
#include "port.h"

static ecg_dsp_t g_dsp;
static beat_window_t g_bw;
static ecg_peak_t g_peaks[ECG_DSP_MAX_PEAKS_PER_PUSH];
static bw_beat_t g_beat;

#define MAX_SEEN 512u
static int64_t g_seen[MAX_SEEN]; /* R peaks of the last run */
static uint32_t g_n_seen;

/* deterministic pseudo-random numbers (xorshift32) */
static uint32_t g_rng = 2463534242u;
static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 17;
    g_rng ^= g_rng << 5;
    return g_rng;
}

static bool bw_start(void)
{
    return beat_window_init(&g_bw, BW_INPUT_SCALE, BW_INPUT_ZERO_POINT, BW_INPUT_SCALE, BW_INPUT_ZERO_POINT) == BW_OK;
}

/* A synthetic ECG: baseline 1000 ADC codes, a triangular QRS (+/- 600 codes over 16 samples) every `period`
 * samples from `first`; amplitude of uniform noise `noise`. */
static int16_t synth(uint32_t i, uint32_t first, uint32_t period, uint32_t noise)
{
    int32_t v = 1000;
    if (i >= first) {
        uint32_t k = (i - first) % period;
        if (k < 8u) {
            v += (int32_t)(75u * k);
        } else if (k < 16u) {
            v += (int32_t)(75u * (16u - k));
        }
    }
    if (noise > 0u) {
        v += (int32_t)(rnd() % (2u * noise + 1u)) - (int32_t)noise;
    }
    return (int16_t)v;
}

/* Pushes one sample through detector and window; records the peaks; takes the ready beats into *beats. */
static size_t step(int16_t x, bool finish, bw_beat_t *beats, size_t beats_cap, size_t *n_beats)
{
    size_t k;
    if (finish) {
        k = ecg_dsp_finish(&g_dsp, g_peaks, ECG_DSP_MAX_PEAKS_PER_PUSH);
    } else {
        beat_window_push_sample(&g_bw, x);
        k = ecg_dsp_push(&g_dsp, x, g_peaks, ECG_DSP_MAX_PEAKS_PER_PUSH);
    }
    for (size_t j = 0; j < k; j++) {
        if (g_n_seen < MAX_SEEN) {
            g_seen[g_n_seen++] = g_peaks[j].r;
        }
        beat_window_push_peak(&g_bw, g_peaks[j].r);
    }
    while (beat_window_pop(&g_bw, &g_beat)) {
        if (*n_beats < beats_cap) {
            beats[*n_beats] = g_beat;
        }
        (*n_beats)++;
    }
    return k;
}

/* ---------------------------------------------------------------------------------------------------------- */

static void test_constant_signal_gives_no_peaks_and_no_beats(hbtest_t *t)
{
    static const int16_t levels[] = {0, 1024, -32768, 32767, -1};
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        size_t n_beats = 0;
        ecg_dsp_init(&g_dsp);
        HBTEST_CHECK(t, bw_start());
        g_n_seen = 0;
        for (uint32_t i = 0; i < 20u * APP_SAMPLE_RATE_HZ; i++) {
            HBTEST_CHECK(t, step(levels[l], false, NULL, 0, &n_beats) == 0u);
        }
        HBTEST_CHECK(t, step(0, true, NULL, 0, &n_beats) == 0u);
        HBTEST_CHECK(t, n_beats == 0u && g_n_seen == 0u);
        HBTEST_CHECK(t, g_dsp.counters.candidates == 0u && g_dsp.counters.peaks == 0u);
        HBTEST_CHECK(t, g_dsp.counters.samples == 20u * APP_SAMPLE_RATE_HZ);
        HBTEST_CHECK(t, beat_window_queued(&g_bw) == 0u);
    }
}

/* Full-scale bursts (the ADC rails and beyond: any int16) between stretches of noise and of a normal rhythm.
 * Under the host build's UBSan any signed overflow would abort the program. */
static void test_full_scale_bursts_keep_counters_sane(hbtest_t *t)
{
    enum { SECONDS = 60 };
    const uint32_t total = SECONDS * APP_SAMPLE_RATE_HZ;
    size_t n_beats = 0;
    int64_t last_beat_r = INT64_MIN;
    bool beats_ok = true;
    ecg_dsp_init(&g_dsp);
    HBTEST_CHECK(t, bw_start());
    g_n_seen = 0;
    for (uint32_t i = 0; i < total; i++) {
        int16_t x;
        uint32_t phase = (i / 1800u) % 3u; /* 5 s each: rhythm, rails, random full range */
        if (phase == 0u) {
            x = synth(i, 40u, 300u, 20u);
        } else if (phase == 1u) {
            x = (i / 7u) % 2u ? (int16_t)32767 : (int16_t)-32768; /* square wave between the rails */
        } else {
            x = (int16_t)(uint16_t)rnd();
        }
        beat_window_push_sample(&g_bw, x);
        size_t k = ecg_dsp_push(&g_dsp, x, g_peaks, ECG_DSP_MAX_PEAKS_PER_PUSH);
        for (size_t j = 0; j < k; j++) {
            if (g_n_seen < MAX_SEEN) {
                g_seen[g_n_seen++] = g_peaks[j].r;
            }
            beats_ok = beats_ok && beat_window_push_peak(&g_bw, g_peaks[j].r) == BW_OK;
        }
        while (beat_window_pop(&g_bw, &g_beat)) {
            n_beats++;
            int max_abs = 0;
            for (uint32_t w = 0; w < BW_WINDOW_LEN; w++) {
                int v = g_beat.window[w] < 0 ? -g_beat.window[w] : g_beat.window[w];
                max_abs = v > max_abs ? v : max_abs;
            }
            beats_ok = beats_ok && (max_abs == (int)APP_DSP_WINDOW_PEAK || max_abs == 0) && g_beat.r > last_beat_r &&
                       g_beat.pre_rr >= (int64_t)APP_DSP_REFRACTORY && g_beat.post_rr >= (int64_t)APP_DSP_REFRACTORY &&
                       g_beat.r + (int64_t)APP_DSP_WINDOW_POST <= (int64_t)i + 1;
            last_beat_r = g_beat.r;
        }
    }
    step(0, true, NULL, 0, &n_beats);
    HBTEST_CHECK(t, beats_ok);
    HBTEST_CHECK(t, g_dsp.counters.samples == total && g_bw.counters.samples == total);
    HBTEST_CHECK(t, g_dsp.counters.peaks == g_n_seen && g_dsp.counters.lost == 0u);
    HBTEST_CHECK(t, g_n_seen >= 10u);                             /* the rhythm stretches were seen */
    HBTEST_CHECK(t, g_n_seen <= total / APP_DSP_REFRACTORY + 1u); /* refractory period respected */
    HBTEST_CHECK(t, g_dsp.counters.peaks <= g_dsp.counters.candidates);
    HBTEST_CHECK(t, g_dsp.counters.peaks - g_dsp.counters.searchback + g_dsp.counters.refractory +
                            g_dsp.counters.twave + g_dsp.counters.noise + g_dsp.counters.learn_overflow ==
                        g_dsp.counters.candidates); /* every candidate decided once (or dropped while learning) */
    bool increasing = true;
    for (uint32_t k = 1; k < g_n_seen; k++) {
        increasing = increasing && g_seen[k] - g_seen[k - 1] >= (int64_t)APP_DSP_REFRACTORY;
    }
    HBTEST_CHECK(t, increasing);
    HBTEST_CHECK(t, g_n_seen == 0u || (g_seen[0] >= -(int64_t)APP_DSP_R_DELAY && g_seen[g_n_seen - 1] < total));
    /* one beat of latency, none lost: at the end only the last two may still wait (successor, window) */
    HBTEST_CHECK(t, n_beats + 1u <= g_n_seen && n_beats + 3u >= g_n_seen);
    HBTEST_CHECK(t, g_bw.counters.dropped == 0u && g_bw.counters.stale == 0u && g_bw.counters.rejected == 0u);
}

/* Shorter than the 2 s learning period: nothing during the stream; at its end the thresholds come from what
 * was seen and the buffered candidates are decided (dsp.py does the same). */
static void test_stream_shorter_than_learning_decides_at_finish(hbtest_t *t)
{
    const uint32_t n = 700u; /* < APP_DSP_LEARN_SAMPLES */
    const uint32_t first = 60u, period = 250u;
    bw_beat_t beats[4];
    size_t n_beats = 0;
    ecg_dsp_init(&g_dsp);
    HBTEST_CHECK(t, bw_start());
    g_n_seen = 0;
    bool silent = true;
    for (uint32_t i = 0; i < n; i++) {
        silent = silent && step(synth(i, first, period, 0u), false, beats, 4, &n_beats) == 0u;
    }
    HBTEST_CHECK(t, silent && n_beats == 0u);
    HBTEST_CHECK(t, g_dsp.counters.candidates >= 2u);
    size_t k = step(0, true, beats, 4, &n_beats);
    HBTEST_CHECK(t, k >= 2u && k == g_n_seen);
    /* each R peak at a synthetic QRS: its apex is at first + j*period + 8 */
    for (uint32_t j = 0; j < g_n_seen; j++) {
        int64_t apex = (int64_t)(first + j * period + 8u);
        HBTEST_CHECK(t, g_seen[j] >= apex - 10 && g_seen[j] <= apex + 10);
    }
    /* the first beat: its post-RR also serves as pre-RR and as the mean RR, so its three codes are 0 */
    HBTEST_CHECK(t, n_beats >= 1u);
    HBTEST_CHECK(t, beats[0].r == g_seen[0] && beats[0].post_rr == g_seen[1] - g_seen[0]);
    HBTEST_CHECK(t, beats[0].pre_rr == beats[0].post_rr);
    HBTEST_CHECK(t, beats[0].rr[0] == 0 && beats[0].rr[1] == 0 && beats[0].rr[2] == 0);
    /* finishing twice gives nothing more; samples after the end are ignored and counted */
    HBTEST_CHECK(t, ecg_dsp_finish(&g_dsp, g_peaks, ECG_DSP_MAX_PEAKS_PER_PUSH) == 0u);
    HBTEST_CHECK(t, ecg_dsp_push(&g_dsp, 1000, g_peaks, ECG_DSP_MAX_PEAKS_PER_PUSH) == 0u);
    HBTEST_CHECK(t, g_dsp.counters.after_finish == 1u && g_dsp.counters.samples == n);
    /* an empty stream: finish gives nothing */
    ecg_dsp_init(&g_dsp);
    HBTEST_CHECK(t, ecg_dsp_finish(&g_dsp, g_peaks, ECG_DSP_MAX_PEAKS_PER_PUSH) == 0u);
}

/* The end of the learning period replays every buffered candidate at once; a caller passing less room than
 * ECG_DSP_MAX_PEAKS_PER_PUSH loses the rest, counted. */
static void test_small_out_cap_counts_lost_peaks(hbtest_t *t)
{
    size_t got_full = 0, got_one = 0, lost_full = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t cap = pass == 0 ? ECG_DSP_MAX_PEAKS_PER_PUSH : 1u;
        size_t got = 0;
        size_t at_learning_end = 0;
        ecg_dsp_init(&g_dsp);
        for (uint32_t i = 0; i < APP_DSP_LEARN_SAMPLES; i++) {
            size_t k = ecg_dsp_push(&g_dsp, synth(i, 30u, 200u, 0u), g_peaks, cap);
            got += k;
            if (i == APP_DSP_LEARN_SAMPLES - 1u) {
                at_learning_end = k;
            }
        }
        HBTEST_CHECK(t, at_learning_end == got); /* nothing before the end of the learning period */
        if (pass == 0) {
            got_full = got;
            lost_full = g_dsp.counters.lost;
        } else {
            got_one = got;
        }
        HBTEST_CHECK(t, got + g_dsp.counters.lost == g_dsp.counters.peaks);
    }
    HBTEST_CHECK(t, got_full >= 3u && lost_full == 0u);
    HBTEST_CHECK(t, got_one == 1u && g_dsp.counters.lost == got_full - 1u);
}

/* Peaks straight into the window module (no detector): RR features against the definition. */
static void test_rr_history_first_beat_and_running_mean(hbtest_t *t)
{
    /* intervals of varying length, more than RR_LONG_HISTORY of them */
    enum { N = APP_DSP_RR_LONG_HISTORY + 20 };
    static int64_t r[N];
    int64_t at = 150;
    for (int k = 0; k < N; k++) {
        r[k] = at;
        at += 200 + (int64_t)(rnd() % 300u);
    }
    HBTEST_CHECK(t, bw_start());
    int next_peak = 0, taken = 0;
    bool ok = true;
    for (int64_t i = 0; i < at + 400; i++) {
        beat_window_push_sample(&g_bw, synth((uint32_t)i, 7u, 333u, 50u));
        if (next_peak < N && r[next_peak] + 30 == i) { /* a detector accepts an R peak some samples later */
            ok = ok && beat_window_push_peak(&g_bw, r[next_peak]) == BW_OK;
            next_peak++;
        }
        while (beat_window_pop(&g_bw, &g_beat)) {
            int k = taken++;
            int64_t post = r[k + 1] - r[k];
            int64_t pre = k == 0 ? post : r[k] - r[k - 1];
            int64_t sum = 0;
            uint32_t count = 0;
            if (k == 0) {
                sum = post;
                count = 1;
            } else {
                for (int j = k; j >= 1 && count < APP_DSP_RR_LONG_HISTORY; j--, count++) {
                    sum += r[j] - r[j - 1];
                }
            }
            int8_t want[3];
            beat_window_rr_features(pre, post, sum, count, want);
            ok = ok && g_beat.r == r[k] && g_beat.pre_rr == pre && g_beat.post_rr == post &&
                 memcmp(g_beat.rr, want, sizeof want) == 0;
        }
    }
    HBTEST_CHECK(t, ok);
    HBTEST_CHECK(t, taken == N - 1); /* the last beat waits for a successor */
    HBTEST_CHECK(t, beat_window_queued(&g_bw) == 1u);
}

/* Python's formula, in int64 where it cannot overflow: (2*|256*(num-den)| + den) // (2*den), signed, clamped. */
static int reference_code(int64_t num, int64_t den)
{
    int64_t diff = 256 * (num - den);
    int64_t mag = (2 * (diff < 0 ? -diff : diff) + den) / (2 * den);
    int64_t q = diff >= 0 ? mag : -mag;
    return q > 127 ? 127 : q < -128 ? -128 : (int)q;
}

static void test_ratio_code_rounds_half_away_and_clamps(hbtest_t *t)
{
    bool ok = true;
    for (int i = 0; i < 20000; i++) {
        int64_t den = 1 + (int64_t)(rnd() % 5000u);
        int64_t num = (int64_t)(rnd() % 12000u);
        ok = ok && beat_window_ratio_code(num, den) == reference_code(num, den);
    }
    /* exact halves: 256 * (num - den) / den = k + 1/2 */
    ok = ok && beat_window_ratio_code(513, 512) == 1 && beat_window_ratio_code(511, 512) == -1;
    ok = ok && beat_window_ratio_code(515, 512) == reference_code(515, 512);
    HBTEST_CHECK(t, ok);
    HBTEST_CHECK(t, beat_window_ratio_code(0, 1) == -128 && beat_window_ratio_code(7, 7) == 0);
    HBTEST_CHECK(t, beat_window_ratio_code(INT64_MAX / 2, 1) == 127);
    HBTEST_CHECK(t, beat_window_ratio_code(1, INT64_MAX) == -128);
    HBTEST_CHECK(t, beat_window_ratio_code(INT64_MAX - 1, INT64_MAX) == 0);
    /* big but equal-ish intervals: no overflow in the 256 * difference */
    HBTEST_CHECK(t, beat_window_ratio_code(((int64_t)1 << 61) + ((int64_t)1 << 53), (int64_t)1 << 61) == 1);
}

/* Windows that start before the stream read the first sample there (as dsp.py primes them). */
static void test_window_before_the_stream_start_uses_the_first_sample(hbtest_t *t)
{
    static int16_t s[600];
    for (uint32_t i = 0; i < 600u; i++) {
        s[i] = synth(i, 0u, 280u, 30u); /* a QRS at the very start */
    }
    s[0] = -700;
    HBTEST_CHECK(t, bw_start());
    for (uint32_t i = 0; i < 600u; i++) {
        beat_window_push_sample(&g_bw, s[i]);
    }
    const int64_t r0 = -5, r1 = 275;
    HBTEST_CHECK(t, beat_window_push_peak(&g_bw, r0) == BW_OK);
    HBTEST_CHECK(t, beat_window_push_peak(&g_bw, r1) == BW_OK);
    HBTEST_CHECK(t, beat_window_pop(&g_bw, &g_beat));
    HBTEST_CHECK(t, g_beat.r == r0 && g_beat.post_rr == r1 - r0);
    /* the definition, computed here in int64 */
    int64_t v[BW_WINDOW_LEN], total = 0, maxabs = 0;
    for (int64_t i = 0; i < (int64_t)BW_WINDOW_LEN; i++) {
        int64_t a = r0 - (int64_t)APP_DSP_WINDOW_PRE + 2 * i;
        v[i] = (a < 0 ? s[0] : s[a]) + (a + 1 < 0 ? s[0] : s[a + 1]);
        total += v[i];
    }
    for (uint32_t i = 0; i < BW_WINDOW_LEN; i++) {
        v[i] = (int64_t)BW_WINDOW_LEN * v[i] - total;
        maxabs = (v[i] < 0 ? -v[i] : v[i]) > maxabs ? (v[i] < 0 ? -v[i] : v[i]) : maxabs;
    }
    bool same = maxabs > 0;
    for (uint32_t i = 0; i < BW_WINDOW_LEN; i++) {
        int64_t a = v[i] < 0 ? -v[i] : v[i];
        int64_t mag = (2 * 127 * a + maxabs) / (2 * maxabs);
        same = same && g_beat.window[i] == (v[i] < 0 ? -mag : mag);
    }
    HBTEST_CHECK(t, same);
}

/* A caller that never takes its beats: the queue keeps the newest, drops the oldest, counts them. */
static void test_full_queue_drops_the_oldest_and_counts(hbtest_t *t)
{
    const uint32_t n_peaks = APP_DSP_BEAT_QUEUE_LEN + 7u;
    HBTEST_CHECK(t, bw_start());
    uint32_t pushed = 0;
    for (int64_t i = 0; pushed < n_peaks; i++) {
        beat_window_push_sample(&g_bw, synth((uint32_t)i, 0u, 100u, 10u));
        if (i >= 400 && i % 100 == 0) {
            HBTEST_CHECK(t, beat_window_push_peak(&g_bw, i - 200) == BW_OK);
            pushed++;
        }
    }
    HBTEST_CHECK(t, beat_window_queued(&g_bw) == APP_DSP_BEAT_QUEUE_LEN);
    HBTEST_CHECK(t, g_bw.counters.dropped == n_peaks - APP_DSP_BEAT_QUEUE_LEN);
    /* the survivors are the newest, in order; all ready but the last (it has no successor) */
    uint32_t taken = 0;
    int64_t first_kept = 200 + 100 * (int64_t)(n_peaks - APP_DSP_BEAT_QUEUE_LEN);
    bool in_order = true;
    while (beat_window_pop(&g_bw, &g_beat)) {
        in_order =
            in_order && g_beat.r == first_kept + 100 * (int64_t)taken && g_beat.post_rr == 100 && g_beat.pre_rr == 100;
        taken++;
    }
    HBTEST_CHECK(t, in_order && taken == APP_DSP_BEAT_QUEUE_LEN - 1u);
}

static void test_bad_peaks_are_refused_and_counted(hbtest_t *t)
{
    HBTEST_CHECK(t, bw_start());
    HBTEST_CHECK(t, beat_window_push_peak(&g_bw, 0) == BW_ERR_ORDER); /* no sample yet */
    for (uint32_t i = 0; i < APP_DSP_RAW_RING_LEN + 1000u; i++) {
        beat_window_push_sample(&g_bw, synth(i, 0u, 300u, 5u));
    }
    const int64_t n = (int64_t)APP_DSP_RAW_RING_LEN + 1000;
    HBTEST_CHECK(t, beat_window_push_peak(&g_bw, n) == BW_ERR_ORDER);   /* not a sample seen yet */
    HBTEST_CHECK(t, beat_window_push_peak(&g_bw, 500) == BW_ERR_STALE); /* window left the raw ring */
    HBTEST_CHECK(t, beat_window_push_peak(&g_bw, 500) == BW_ERR_ORDER); /* not after the previous one */
    HBTEST_CHECK(t, beat_window_push_peak(&g_bw, 400) == BW_ERR_ORDER);
    HBTEST_CHECK(t, beat_window_push_peak(&g_bw, n - 300) == BW_OK);
    HBTEST_CHECK(t, beat_window_push_peak(&g_bw, n - 100) == BW_OK);
    HBTEST_CHECK(t, g_bw.counters.rejected == 4u && g_bw.counters.stale == 1u && g_bw.counters.peaks == 3u);
    /* the stale peak still counts for the RR history: the next beat's pre-RR starts at it */
    HBTEST_CHECK(t, beat_window_pop(&g_bw, &g_beat));
    HBTEST_CHECK(t, g_beat.r == n - 300 && g_beat.pre_rr == n - 300 - 500 && g_beat.post_rr == 200);
    HBTEST_CHECK(t, !beat_window_pop(&g_bw, &g_beat));
}

#define MODEL_SCALE(i) ((i) == 0 ? HB_MODEL_INPUT0_SCALE : HB_MODEL_INPUT1_SCALE)
#define MODEL_ZERO_POINT(i) ((i) == 0 ? HB_MODEL_INPUT0_ZERO_POINT : HB_MODEL_INPUT1_ZERO_POINT)

static void test_only_scale_1_128_zero_point_0_is_accepted(hbtest_t *t)
{
    /* the shipped model (model_data.h) */
    HBTEST_CHECK(t, beat_window_init(&g_bw, MODEL_SCALE(HB_MODEL_BEAT_INPUT_INDEX),
                                     MODEL_ZERO_POINT(HB_MODEL_BEAT_INPUT_INDEX), MODEL_SCALE(HB_MODEL_RR_INPUT_INDEX),
                                     MODEL_ZERO_POINT(HB_MODEL_RR_INPUT_INDEX)) == BW_OK);
    HBTEST_CHECK(t, beat_window_init(&g_bw, 1.0f / 256.0f, 0, BW_INPUT_SCALE, 0) == BW_ERR_QUANT_WINDOW);
    HBTEST_CHECK(t, beat_window_init(&g_bw, 0.0078126f, 0, BW_INPUT_SCALE, 0) == BW_ERR_QUANT_WINDOW);
    HBTEST_CHECK(t, beat_window_init(&g_bw, BW_INPUT_SCALE, 1, BW_INPUT_SCALE, 0) == BW_ERR_QUANT_WINDOW);
    HBTEST_CHECK(t, beat_window_init(&g_bw, BW_INPUT_SCALE, 0, BW_INPUT_SCALE, -128) == BW_ERR_QUANT_RR);
    HBTEST_CHECK(t, beat_window_init(&g_bw, BW_INPUT_SCALE, 0, 1.0f / 64.0f, 0) == BW_ERR_QUANT_RR);
    /* a refused module refuses every call */
    HBTEST_CHECK(t, beat_window_push_sample(&g_bw, 1000) == BW_ERR_QUANT_RR);
    HBTEST_CHECK(t, beat_window_push_peak(&g_bw, 0) == BW_ERR_QUANT_RR);
    HBTEST_CHECK(t, !beat_window_pop(&g_bw, &g_beat) && g_bw.counters.samples == 0u);
    HBTEST_CHECK(t, beat_window_init(NULL, BW_INPUT_SCALE, 0, BW_INPUT_SCALE, 0) == BW_ERR_ARG);
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "constant_signal_gives_no_peaks_and_no_beats", test_constant_signal_gives_no_peaks_and_no_beats);
    hbtest_run(&t, "full_scale_bursts_keep_counters_sane", test_full_scale_bursts_keep_counters_sane);
    hbtest_run(&t, "stream_shorter_than_learning_decides_at_finish",
               test_stream_shorter_than_learning_decides_at_finish);
    hbtest_run(&t, "small_out_cap_counts_lost_peaks", test_small_out_cap_counts_lost_peaks);
    hbtest_run(&t, "rr_history_first_beat_and_running_mean", test_rr_history_first_beat_and_running_mean);
    hbtest_run(&t, "ratio_code_rounds_half_away_and_clamps", test_ratio_code_rounds_half_away_and_clamps);
    hbtest_run(&t, "window_before_the_stream_start_uses_the_first_sample",
               test_window_before_the_stream_start_uses_the_first_sample);
    hbtest_run(&t, "full_queue_drops_the_oldest_and_counts", test_full_queue_drops_the_oldest_and_counts);
    hbtest_run(&t, "bad_peaks_are_refused_and_counted", test_bad_peaks_are_refused_and_counted);
    hbtest_run(&t, "only_scale_1_128_zero_point_0_is_accepted", test_only_scale_1_128_zero_point_0_is_accepted);
    port_exit(hbtest_end(&t));
}
