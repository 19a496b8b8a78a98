/* ecg_dsp.c - see ecg_dsp.h. The twin of toolchain/dsp.py: filter_signal, _Decider, detect_r_peaks. */
#include "ecg_dsp.h"

#include <string.h>

/* ---- compile-time proof that the integer types hold every value for any int16 input ---- */
#define ECG_MAX_ABS_SAMPLE 32768ull
#define ECG_MAX_ABS_L (APP_DSP_LP_LEN * ECG_MAX_ABS_SAMPLE)   /* low-pass output */
#define ECG_MAX_ABS_H (2ull * APP_DSP_HP_LEN * ECG_MAX_ABS_L) /* 32*l[n-16] - sum of 32 l */
#define ECG_MAX_ABS_D (6ull * ECG_MAX_ABS_H)                  /* 2 + 1 + 1 + 2 taps */
#define ECG_MAX_E ((ECG_MAX_ABS_D * ECG_MAX_ABS_D) >> APP_DSP_ENERGY_SHIFT)
#define ECG_MAX_M (APP_DSP_MWI_LEN * ECG_MAX_E)
_Static_assert((ECG_MAX_ABS_L * APP_DSP_HP_LEN) <= 0x7fffffffull, "low-pass sums must fit int32");
_Static_assert(ECG_MAX_ABS_D <= 0x7fffffffull / 2ull, "h and d (and 2h) must fit int32");
_Static_assert(ECG_MAX_ABS_D <= 0xffffffffull, "d*d must fit uint64");
_Static_assert((ECG_MAX_M * APP_DSP_LEARN_SAMPLES) <= 0x7fffffffffffffffull / 2ull,
               "the learning sum of m must fit int64");
_Static_assert(ECG_MAX_M * 8ull <= 0x7fffffffffffffffull, "threshold updates (value + 7*level) must fit int64");
_Static_assert(APP_DSP_TWAVE_WINDOW >= APP_DSP_REFRACTORY, "the T-wave window must reach past the refractory period");
_Static_assert(APP_DSP_SEARCHBACK_NUM >= APP_DSP_SEARCHBACK_DEN,
               "searchback_limit() caps a mean RR >= SEARCHBACK_MAX directly: the factor must be >= 1");

#define TRACE_MASK ((uint32_t)APP_DSP_TRACE_RING_LEN - 1u)

/* floor(x / 2^k), as Python's >> (portable: no implementation-defined right shift of a negative value) */
static int64_t floor_shift(int64_t x, unsigned k)
{
    if (x >= 0) {
        return x >> k;
    }
    return -(((-(x + 1)) >> k) + 1);
}

/* Where accepted peaks go during one push. */
typedef struct {
    ecg_peak_t *out;
    size_t cap;
    size_t count;
} peak_sink_t;

static int64_t searchback_limit(const ecg_dsp_t *st);

void ecg_dsp_init(ecg_dsp_t *st)
{
    memset(st, 0, sizeof *st);
    st->sb_limit = searchback_limit(st);
}

/* The search-back interval: 1.66 x the mean of the last RR_HISTORY intervals, capped. */
static int64_t searchback_limit(const ecg_dsp_t *st)
{
    int64_t avg = st->rr_count > 0u ? st->rr_sum / (int64_t)st->rr_count : (int64_t)APP_DSP_DEFAULT_RR;
    if (avg >= (int64_t)APP_DSP_SEARCHBACK_MAX) { /* 1.66 x avg is above the cap (and cannot overflow) */
        return (int64_t)APP_DSP_SEARCHBACK_MAX;
    }
    int64_t limit = avg * (int64_t)APP_DSP_SEARCHBACK_NUM / (int64_t)APP_DSP_SEARCHBACK_DEN;
    return limit < (int64_t)APP_DSP_SEARCHBACK_MAX ? limit : (int64_t)APP_DSP_SEARCHBACK_MAX;
}

static void accept(ecg_dsp_t *st, const ecg_candidate_t *c, uint8_t how, peak_sink_t *sink)
{
    if (st->has_last) {
        int64_t rr = c->r - st->last_r;
        if (st->rr_count == APP_DSP_RR_HISTORY) { /* drop the oldest */
            st->rr_sum -= st->rr[st->rr_head];
            st->rr_head = (st->rr_head + 1u) % APP_DSP_RR_HISTORY;
            st->rr_count--;
        }
        st->rr[(st->rr_head + st->rr_count) % APP_DSP_RR_HISTORY] = rr;
        st->rr_count++;
        st->rr_sum += rr;
        st->sb_limit = searchback_limit(st); /* changes only here: no division per sample */
    }
    st->has_last = true;
    st->last_r = c->r;
    st->last_slope = c->slope;
    st->has_sb = false;
    st->counters.peaks++;
    if (how == ECG_PEAK_SEARCHBACK) {
        st->counters.searchback++;
    }
    if (sink->count < sink->cap) {
        ecg_peak_t *p = &sink->out[sink->count++];
        p->r = c->r;
        p->peak = c->peak;
        p->value = c->value;
        p->how = how;
    } else {
        st->counters.lost++;
    }
}

/* dsp.py _Decider.check_searchback: at sample n, before that sample's candidate. */
static void check_searchback(ecg_dsp_t *st, int64_t n, peak_sink_t *sink)
{
    if (st->has_sb && st->has_last && n - st->last_r > st->sb_limit) {
        ecg_candidate_t c = st->sb;
        st->spki = (c.value + 3 * st->spki) >> 2; /* both >= 0 */
        accept(st, &c, ECG_PEAK_SEARCHBACK, sink);
    }
}

/* dsp.py _Decider.classify */
static void classify(ecg_dsp_t *st, const ecg_candidate_t *c, peak_sink_t *sink)
{
    if (st->has_last && c->r - st->last_r < (int64_t)APP_DSP_REFRACTORY) {
        st->counters.refractory++;
        return;
    }
    int64_t thr1 = st->npki + floor_shift(st->spki - st->npki, 2);
    if (c->value > thr1) {
        if (st->has_last && c->r - st->last_r < (int64_t)APP_DSP_TWAVE_WINDOW &&
            2 * (int64_t)c->slope < (int64_t)st->last_slope) {
            st->npki = (c->value + 7 * st->npki) >> 3;
            st->counters.twave++;
            return;
        }
        st->spki = (c->value + 7 * st->spki) >> 3;
        accept(st, c, ECG_PEAK_THRESHOLD, sink);
        return;
    }
    st->npki = (c->value + 7 * st->npki) >> 3;
    st->counters.noise++;
    if (c->value > floor_shift(thr1, 1) && (!st->has_sb || c->value > st->sb.value)) {
        st->sb = *c;
        st->has_sb = true;
    }
}

/* End of the learning period (or of a shorter stream): levels from what was seen, then the buffered
 * candidates in order. */
static void end_learning(ecg_dsp_t *st, peak_sink_t *sink)
{
    st->learned = true;
    st->spki = st->learn_max / 3;
    st->npki = st->learn_sum / (2 * (int64_t)APP_DSP_LEARN_SAMPLES);
    for (uint32_t i = 0; i < st->learn_count; i++) {
        classify(st, &st->learn[(st->learn_head + i) % APP_DSP_LEARN_MAX_CANDIDATES], sink);
    }
    st->learn_head = 0;
    st->learn_count = 0;
}

/* The candidate of the m peak being tracked: R = first largest |h| in [peak - R_SEARCH, peak] (not before the
 * stream start), moved back by the band-pass delay; slope = largest |d| there. */
static void make_candidate(const ecg_dsp_t *st, ecg_candidate_t *c)
{
    int64_t lo = st->cur_idx - (int64_t)APP_DSP_R_SEARCH;
    if (lo < 0) {
        lo = 0;
    }
    int32_t best = -1;
    int32_t slope = 0;
    int64_t j = lo;
    for (int64_t i = lo; i <= st->cur_idx; i++) {
        uint32_t k = (uint32_t)i & TRACE_MASK;
        if (st->habs[k] > best) {
            best = st->habs[k];
            j = i;
        }
        if (st->dabs[k] > slope) {
            slope = st->dabs[k];
        }
    }
    c->peak = st->cur_idx;
    c->value = st->cur_val;
    c->r = j - (int64_t)APP_DSP_R_DELAY;
    c->slope = slope;
}

/* History before the first sample: the first sample (s, hence l = LP_LEN * s), zero (h, d, e). */
static void prime(ecg_dsp_t *st, int16_t first)
{
    int32_t l0 = (int32_t)APP_DSP_LP_LEN * first;
    for (uint32_t i = 0; i < APP_DSP_LP_LEN; i++) {
        st->s_ring[i] = first;
    }
    st->s_sum = l0;
    for (uint32_t i = 0; i < APP_DSP_HP_LEN; i++) {
        st->l_ring[i] = l0;
    }
    st->l_sum = (int32_t)APP_DSP_HP_LEN * l0;
}

size_t ecg_dsp_push(ecg_dsp_t *st, int16_t sample, ecg_peak_t *out, size_t out_cap)
{
    peak_sink_t sink = {out, out_cap, 0};
    if (st->finished) {
        st->counters.after_finish++;
        return 0;
    }
    const int64_t n = st->n;
    if (n == 0) {
        prime(st, sample);
    }
    const uint32_t un = (uint32_t)n; /* ring positions: n mod a power of two */

    /* band-pass */
    uint32_t sp = un & (APP_DSP_LP_LEN - 1u);
    st->s_sum += (int32_t)sample - (int32_t)st->s_ring[sp];
    st->s_ring[sp] = sample;
    int32_t l = st->s_sum;
    uint32_t lp = un & (APP_DSP_HP_LEN - 1u);
    st->l_sum += l - st->l_ring[lp];
    st->l_ring[lp] = l;
    int32_t l_delayed = st->l_ring[(un - APP_DSP_HP_DELAY) & (APP_DSP_HP_LEN - 1u)];
    int32_t h = (int32_t)APP_DSP_HP_LEN * l_delayed - st->l_sum;
    /* derivative, energy, integration */
    int32_t d = 2 * h + st->h_hist[0] - st->h_hist[2] - 2 * st->h_hist[3];
    st->h_hist[3] = st->h_hist[2];
    st->h_hist[2] = st->h_hist[1];
    st->h_hist[1] = st->h_hist[0];
    st->h_hist[0] = h;
    int64_t e = (int64_t)((uint64_t)((int64_t)d * d) >> APP_DSP_ENERGY_SHIFT);
    st->m_sum += e - st->e_ring[st->e_pos];
    st->e_ring[st->e_pos] = e;
    st->e_pos = st->e_pos + 1u == APP_DSP_MWI_LEN ? 0u : st->e_pos + 1u;
    const int64_t v = st->m_sum;
    st->habs[un & TRACE_MASK] = h < 0 ? -h : h;
    st->dabs[un & TRACE_MASK] = d < 0 ? -d : d;

    if (!st->learned) {
        if (v > st->learn_max) {
            st->learn_max = v;
        }
        st->learn_sum += v;
    }

    /* peak tracker */
    bool emitted = false;
    ecg_candidate_t cand;
    if (st->tracking) {
        if (v > st->cur_val) {
            st->cur_val = v;
            st->cur_idx = n;
        } else if (2 * v < st->cur_val || n - st->cur_idx >= (int64_t)APP_DSP_PEAK_TIMEOUT) {
            make_candidate(st, &cand);
            emitted = true;
            st->tracking = false;
        }
    } else if (v > st->prev) {
        st->tracking = true;
        st->cur_val = v;
        st->cur_idx = n;
    }
    st->prev = v;

    /* decision */
    if (emitted) {
        st->counters.candidates++;
    }
    if (st->learned) {
        check_searchback(st, n, &sink);
        if (emitted) {
            classify(st, &cand, &sink);
        }
    } else {
        if (emitted) {
            if (st->learn_count == APP_DSP_LEARN_MAX_CANDIDATES) { /* keep the latest, as dsp.py does */
                st->learn_head = (st->learn_head + 1u) % APP_DSP_LEARN_MAX_CANDIDATES;
                st->learn_count--;
                st->counters.learn_overflow++;
            }
            st->learn[(st->learn_head + st->learn_count) % APP_DSP_LEARN_MAX_CANDIDATES] = cand;
            st->learn_count++;
        }
        if (n == (int64_t)APP_DSP_LEARN_SAMPLES - 1) {
            end_learning(st, &sink);
        }
    }
    st->n = n + 1;
    st->counters.samples++;
    return sink.count;
}

size_t ecg_dsp_finish(ecg_dsp_t *st, ecg_peak_t *out, size_t out_cap)
{
    peak_sink_t sink = {out, out_cap, 0};
    if (st->finished) {
        return 0;
    }
    st->finished = true;
    if (!st->learned && st->n > 0) { /* a stream shorter than the learning period: use what was seen */
        end_learning(st, &sink);
    }
    return sink.count;
}
