/*
 * ecg_dsp.h - the streaming QRS detector of Heartbeat Edge: the C twin of
 * toolchain/dsp.py (detect_r_peaks), bit-exact, held together with it by the
 * golden vectors in tests/contract/dsp_golden.json.
 *
 * One sample in, the R peaks accepted at that sample out:
 *
 *   band-pass    l = moving sum of 8 samples; h = 32*l[n-16] - (sum of 32 l)
 *   derivative   d = 2h[n] + h[n-1] - h[n-3] - 2h[n-4]
 *   energy       e = (d*d) >> 8 (int64)
 *   integration  m = sum of the last 54 e (int64)
 *   peak tracker a peak of m is emitted when m falls below half of it or
 *                72 samples after it was last raised; its R peak is the first
 *                largest |h| in the 72 samples before it, minus the 20-sample
 *                band-pass delay; its slope the largest |d| there
 *   decision     thresholds learned over the first 2 s (the candidates of that
 *                period are buffered and replayed in order at its end), then
 *                adaptive SPKI/NPKI thresholds, 200 ms refractory, T-wave
 *                rejection within 360 ms, search-back after 1.66 x mean RR
 *                (capped at 3.3 s), checked at every sample before that
 *                sample's candidate.
 *
 * History before the first sample is primed with the first sample (samples)
 * and zero (h, d, e), as in dsp.py. Constants: APP_DSP_* in app_config.h.
 *
 * State is caller-owned (ecg_dsp_t), no statics, no malloc. Sample indices
 * are int64_t counted from the stream start. An R peak may lie up to
 * APP_DSP_R_DELAY samples BEFORE the stream start (negative index) when the
 * stream begins inside a QRS complex: dsp.py reports those too.
 *
 * Arithmetic is exact for any int16 input (-32768..32767 anywhere in the
 * stream): |h| < 2^25, |d| < 2^27, e < 2^46, m < 2^52, and the learning sums
 * stay below 2^61 (static asserts in ecg_dsp.c).
 *
 *   ecg_dsp_t dsp;                       // large-ish: keep it static
 *   ecg_peak_t peaks[ECG_DSP_MAX_PEAKS_PER_PUSH];
 *   ecg_dsp_init(&dsp);
 *   for each sample x:
 *       size_t k = ecg_dsp_push(&dsp, x, peaks, ECG_DSP_MAX_PEAKS_PER_PUSH);
 *       ... peaks[0..k) in increasing R order ...
 *   at the end of a stream:
 *       k = ecg_dsp_finish(&dsp, peaks, ECG_DSP_MAX_PEAKS_PER_PUSH);
 *       (only a stream shorter than the 2 s learning period gives peaks here)
 */
#ifndef ECG_DSP_H
#define ECG_DSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ECG_DSP_VERSION APP_DSP_VERSION
/* ecg_dsp_push()/ecg_dsp_finish() never accept more R peaks than this at once */
#define ECG_DSP_MAX_PEAKS_PER_PUSH APP_DSP_MAX_PEAKS_PER_PUSH

/* How an R peak was accepted (ecg_peak_t.how). */
typedef enum {
    ECG_PEAK_THRESHOLD = 0,  /* its candidate was above THR1 */
    ECG_PEAK_SEARCHBACK = 1, /* the best missed candidate, after a long RR */
} ecg_peak_how_t;

/* An accepted R peak. */
typedef struct {
    int64_t r;     /* R-peak sample index since the stream start (may be < 0, see above) */
    int64_t peak;  /* sample index of the integrated-energy peak it came from */
    int64_t value; /* m at that peak */
    uint8_t how;   /* ecg_peak_how_t */
} ecg_peak_t;

/* A candidate peak of the integrated signal (internal, kept in the state). */
typedef struct {
    int64_t peak;
    int64_t value;
    int64_t r;
    int32_t slope;
} ecg_candidate_t;

/* Counters, all since ecg_dsp_init(). */
typedef struct {
    uint64_t samples;        /* samples pushed */
    uint32_t candidates;     /* peaks of m emitted by the tracker */
    uint32_t peaks;          /* R peaks accepted (threshold + search-back) */
    uint32_t searchback;     /* of which by search-back */
    uint32_t refractory;     /* candidates within the refractory period */
    uint32_t twave;          /* candidates rejected as T waves */
    uint32_t noise;          /* candidates below THR1 (noise peaks) */
    uint32_t learn_overflow; /* learning candidates dropped beyond LEARN_MAX_CANDIDATES (oldest first) */
    uint32_t lost;           /* accepted peaks that did not fit the caller's out_cap */
    uint32_t after_finish;   /* samples pushed after ecg_dsp_finish() (ignored) */
} ecg_dsp_counters_t;

/* The detector's whole state. Treat as opaque; read `counters` freely. */
typedef struct ecg_dsp {
    /* filters */
    int64_t n; /* index of the next sample */
    int16_t s_ring[APP_DSP_LP_LEN];
    int32_t s_sum;
    int32_t l_ring[APP_DSP_HP_LEN];
    int32_t l_sum;
    int32_t h_hist[4]; /* h[n-1], h[n-2], h[n-3], h[n-4] */
    int64_t e_ring[APP_DSP_MWI_LEN];
    uint32_t e_pos;
    int64_t m_sum;
    int32_t habs[APP_DSP_TRACE_RING_LEN]; /* |h| by sample index mod the ring */
    int32_t dabs[APP_DSP_TRACE_RING_LEN]; /* |d| likewise */
    /* peak tracker */
    bool tracking;
    int64_t cur_val;
    int64_t cur_idx;
    int64_t prev;
    /* learning period */
    bool learned;
    bool finished;
    int64_t learn_max;
    int64_t learn_sum;
    ecg_candidate_t learn[APP_DSP_LEARN_MAX_CANDIDATES]; /* ring, oldest at learn_head */
    uint32_t learn_head;
    uint32_t learn_count;
    /* decision */
    int64_t spki;
    int64_t npki;
    bool has_last;
    int64_t last_r;
    int32_t last_slope;
    int64_t rr[APP_DSP_RR_HISTORY]; /* ring of the last RR intervals */
    uint32_t rr_head;
    uint32_t rr_count;
    int64_t rr_sum;
    int64_t sb_limit; /* search-back interval for the current RR history */
    bool has_sb;
    ecg_candidate_t sb; /* best search-back candidate since the last beat */
    ecg_dsp_counters_t counters;
} ecg_dsp_t;

/* Starts a new stream. */
void ecg_dsp_init(ecg_dsp_t *st);

/* Pushes one sample; writes the R peaks accepted at this sample to out[0..)
 * in increasing R order and returns how many (usually 0 or 1; a search-back
 * peak plus a candidate give 2; the end of the learning period can give up to
 * ECG_DSP_MAX_PEAKS_PER_PUSH). Peaks beyond out_cap are counted in
 * counters.lost and not returned: pass ECG_DSP_MAX_PEAKS_PER_PUSH. After
 * ecg_dsp_finish() the sample is ignored (counters.after_finish), returns 0. */
size_t ecg_dsp_push(ecg_dsp_t *st, int16_t sample, ecg_peak_t *out, size_t out_cap);

/* Ends the stream. A stream shorter than the learning period (2 s) has its
 * thresholds set from what was seen and its buffered candidates decided now,
 * as dsp.py does; the R peaks accepted are written to out as by push. A
 * longer stream gives none. A peak of m still being tracked is not emitted
 * (dsp.py does not either). Call ecg_dsp_init() to start another stream. */
size_t ecg_dsp_finish(ecg_dsp_t *st, ecg_peak_t *out, size_t out_cap);

#ifdef __cplusplus
}
#endif

#endif /* ECG_DSP_H */
