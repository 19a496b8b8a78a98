/*
 * test_dsp_golden - the C signal path (firmware/lib/ecg_dsp + firmware/lib/beat_window) against the golden
 * vectors of its Python twin (toolchain/dsp.py): real MIT-BIH segments from tests/contract/dsp_golden.json,
 * turned into golden_vectors.h by firmware/test/gen_golden.py before the build (git-ignored). Every sample is
 * pushed one at a time, and every R peak, window value and RR feature is compared; the first mismatch of a
 * case is printed with the case, the index and both values.
 * Runs on the host (native, ASan/UBSan) and on the emulated Cortex-M4F (qemu, -O2 hard float).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "app_config.h"
#include "beat_window.h"
#include "ecg_dsp.h"
#include "golden_vectors.h"
#include "hbtest.h"
#include "port.h"

/* large states: static, not on the target's stack */
static ecg_dsp_t g_dsp;
static beat_window_t g_bw;
static ecg_peak_t g_peaks[ECG_DSP_MAX_PEAKS_PER_PUSH];
static bw_beat_t g_beat;

/* "<what>[<index>]: got <got>, golden <want>\n" */
static void print_tail(const char *what, int64_t index, int64_t got, int64_t want)
{
    hbtest_print(what);
    if (index >= 0) {
        hbtest_print("[");
        hbtest_print_i64(index);
        hbtest_print("]");
    }
    hbtest_print(": got ");
    hbtest_print_i64(got);
    hbtest_print(", golden ");
    hbtest_print_i64(want);
    hbtest_print("\n");
}

/* "  golden 208@21600: r_peaks[12]: got 4519, golden 4521" */
static void report(const golden_case_t *gc, const char *what, int64_t index, int64_t got, int64_t want)
{
    hbtest_print("  golden ");
    hbtest_print(gc->name);
    hbtest_print(": ");
    print_tail(what, index, got, want);
}

/* "  golden 208@21600: beat 12 (r=4521) window[37]: got 5, golden 6" */
static void report_beat(const golden_case_t *gc, uint32_t k, int64_t r, const char *what, int64_t index, int64_t got,
                        int64_t want)
{
    hbtest_print("  golden ");
    hbtest_print(gc->name);
    hbtest_print(": beat ");
    hbtest_print_i64((int64_t)k);
    hbtest_print(" (r=");
    hbtest_print_i64(r);
    hbtest_print(") ");
    print_tail(what, index, got, want);
}

/* ---------------------------------------------------------------------------------------------------------- */

static void test_vectors_are_for_this_dsp(hbtest_t *t)
{
    bool same_version = strcmp(GOLDEN_DSP_VERSION, ECG_DSP_VERSION) == 0;
    if (!same_version) {
        hbtest_print("  golden vectors are DSP version " GOLDEN_DSP_VERSION ", the firmware implements " ECG_DSP_VERSION
                     ": the twin changed; port the change to firmware/lib/ecg_dsp, beat_window, app_config.h\n");
    }
    HBTEST_CHECK(t, same_version);
    HBTEST_CHECK(t, GOLDEN_FS == APP_SAMPLE_RATE_HZ);
    HBTEST_CHECK(t, GOLDEN_WINDOW_LEN == BW_WINDOW_LEN);
    HBTEST_CHECK(t, GOLDEN_RR_FEATURES == BW_RR_FEATURES);
    HBTEST_CHECK(t, GOLDEN_N_CASES >= 1u);
}

/* The detector alone: every accepted R peak, in order, and no more. */
static void test_r_peaks_equal_golden(hbtest_t *t)
{
    for (uint32_t c = 0; c < GOLDEN_N_CASES; c++) {
        const golden_case_t *gc = &GOLDEN_CASES[c];
        uint32_t got = 0;
        bool ok = true;
        ecg_dsp_init(&g_dsp);
        for (uint32_t i = 0; i <= gc->n_samples; i++) {
            size_t k = i < gc->n_samples ? ecg_dsp_push(&g_dsp, gc->samples[i], g_peaks, ECG_DSP_MAX_PEAKS_PER_PUSH)
                                         : ecg_dsp_finish(&g_dsp, g_peaks, ECG_DSP_MAX_PEAKS_PER_PUSH);
            for (size_t j = 0; j < k; j++, got++) {
                if (!ok) {
                    continue;
                }
                if (got >= gc->n_peaks) {
                    report(gc, "extra R peak", (int64_t)got, g_peaks[j].r, -1);
                    ok = false;
                } else if (g_peaks[j].r != gc->r_peaks[got]) {
                    report(gc, "r_peaks", (int64_t)got, g_peaks[j].r, gc->r_peaks[got]);
                    ok = false;
                } else if (g_peaks[j].r >= (int64_t)i) { /* an R peak lies before the sample that accepts it */
                    report(gc, "R peak not before its sample", (int64_t)got, g_peaks[j].r, (int64_t)i);
                    ok = false;
                }
            }
        }
        if (ok && got != gc->n_peaks) {
            report(gc, "number of R peaks", -1, got, gc->n_peaks);
            ok = false;
        }
        HBTEST_CHECK(t, ok);
        HBTEST_CHECK(t, g_dsp.counters.samples == gc->n_samples);
        HBTEST_CHECK(t, g_dsp.counters.peaks == gc->n_peaks);
        HBTEST_CHECK(t, g_dsp.counters.lost == 0u);
    }
}

/* The whole path, detector -> beat window; the caller takes the ready beats every `drain_every` samples. */
static bool run_pipeline(hbtest_t *t, const golden_case_t *gc, uint32_t drain_every, uint32_t *beats_out)
{
    uint32_t got = 0;
    bool ok = true;
    ecg_dsp_init(&g_dsp);
    HBTEST_CHECK(t, beat_window_init(&g_bw, BW_INPUT_SCALE, BW_INPUT_ZERO_POINT, BW_INPUT_SCALE, BW_INPUT_ZERO_POINT) ==
                        BW_OK);
    for (uint32_t i = 0; i <= gc->n_samples; i++) {
        size_t k;
        if (i < gc->n_samples) {
            HBTEST_CHECK(t, beat_window_push_sample(&g_bw, gc->samples[i]) == BW_OK);
            k = ecg_dsp_push(&g_dsp, gc->samples[i], g_peaks, ECG_DSP_MAX_PEAKS_PER_PUSH);
        } else {
            k = ecg_dsp_finish(&g_dsp, g_peaks, ECG_DSP_MAX_PEAKS_PER_PUSH);
        }
        for (size_t j = 0; j < k; j++) {
            HBTEST_CHECK(t, beat_window_push_peak(&g_bw, g_peaks[j].r) == BW_OK);
        }
        if ((i + 1u) % drain_every != 0u && i < gc->n_samples) {
            continue;
        }
        while (beat_window_pop(&g_bw, &g_beat)) {
            uint32_t b = got++;
            if (!ok) {
                continue;
            }
            if (b >= gc->n_beats) {
                report(gc, "extra beat, r of beat", (int64_t)b, g_beat.r, -1);
                ok = false;
                continue;
            }
            const golden_beat_t *want = &gc->beats[b];
            if (g_beat.r != want->r) {
                report(gc, "beat r", (int64_t)b, g_beat.r, want->r);
                ok = false;
                continue;
            }
            for (uint32_t w = 0; ok && w < GOLDEN_WINDOW_LEN; w++) {
                if (g_beat.window[w] != want->window[w]) {
                    report_beat(gc, b, want->r, "window", (int64_t)w, g_beat.window[w], want->window[w]);
                    ok = false;
                }
            }
            for (uint32_t f = 0; ok && f < GOLDEN_RR_FEATURES; f++) {
                if (g_beat.rr[f] != want->rr[f]) {
                    report_beat(gc, b, want->r, "rr", (int64_t)f, g_beat.rr[f], want->rr[f]);
                    ok = false;
                }
            }
        }
    }
    if (ok && got != gc->n_beats) {
        report(gc, "number of beats", -1, got, gc->n_beats);
        ok = false;
    }
    HBTEST_CHECK(t, g_bw.counters.dropped == 0u && g_bw.counters.stale == 0u && g_bw.counters.rejected == 0u);
    HBTEST_CHECK(t, g_bw.counters.peaks == gc->n_peaks && g_bw.counters.beats == got);
    HBTEST_CHECK(t, g_dsp.counters.lost == 0u);
    *beats_out = got;
    return ok;
}

static uint32_t g_checked_beats;

static void test_beats_equal_golden(hbtest_t *t)
{
    g_checked_beats = 0;
    for (uint32_t c = 0; c < GOLDEN_N_CASES; c++) {
        uint32_t n = 0;
        HBTEST_CHECK(t, run_pipeline(t, &GOLDEN_CASES[c], 1u, &n));
        g_checked_beats += n;
    }
}

/* A caller that takes the ready beats only every 100 ms gets the same beats (the queue holds them). */
static void test_beats_equal_golden_when_drained_every_100ms(hbtest_t *t)
{
    for (uint32_t c = 0; c < GOLDEN_N_CASES; c++) {
        uint32_t n = 0;
        HBTEST_CHECK(t, run_pipeline(t, &GOLDEN_CASES[c], APP_SAMPLE_RATE_HZ / 10u, &n));
    }
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "vectors_are_for_this_dsp_version", test_vectors_are_for_this_dsp);
    hbtest_run(&t, "r_peaks_equal_golden", test_r_peaks_equal_golden);
    hbtest_run(&t, "beats_equal_golden", test_beats_equal_golden);
    hbtest_run(&t, "beats_equal_golden_when_drained_every_100ms", test_beats_equal_golden_when_drained_every_100ms);

    uint64_t samples = 0, peaks = 0, beats = 0;
    for (uint32_t c = 0; c < GOLDEN_N_CASES; c++) {
        samples += GOLDEN_CASES[c].n_samples;
        peaks += GOLDEN_CASES[c].n_peaks;
        beats += GOLDEN_CASES[c].n_beats;
    }
    hbtest_print("dsp golden: cases=");
    hbtest_print_i64((int64_t)GOLDEN_N_CASES);
    hbtest_print("/");
    hbtest_print_i64((int64_t)GOLDEN_N_CASES_ALL);
    hbtest_print(" samples=");
    hbtest_print_i64((int64_t)samples);
    hbtest_print(" r_peaks=");
    hbtest_print_i64((int64_t)peaks);
    hbtest_print(" beats=");
    hbtest_print_i64((int64_t)beats);
    hbtest_print(" matched_beats=");
    hbtest_print_i64((int64_t)g_checked_beats);
    hbtest_print("\n");
    port_exit(hbtest_end(&t));
}
