"""The device's signal path, defined once: QRS detector, beat window and RR features, in integer arithmetic.

This is the reference (the "twin") of firmware/lib/ecg_dsp and firmware/lib/beat_window. Every operation is an
integer operation whose result is the same in Python and in C (int32/int64; right shifts are arithmetic, i.e. floor,
which GCC guarantees for signed integers); the golden vectors in tests/contract/ hold the two together.

Signal path at FS = 360 Hz, input = ADC codes (MIT-BIH: 11-bit, 200 codes/mV, zero at 1024):

1. Low-pass:   l[n] = s[n] + ... + s[n-7]                       (moving sum, first null at 45 Hz)
2. High-pass:  h[n] = 32*l[n-16] - (l[n] + ... + l[n-31])      (removes a 32-sample moving average; ~5-15 Hz band)
3. Derivative: d[n] = 2h[n] + h[n-1] - h[n-3] - 2h[n-4]        (Pan & Tompkins 1985 five-point derivative)
4. Energy:     e[n] = (d[n]*d[n]) >> 8                          (int64)
5. Integrate:  m[n] = e[n] + ... + e[n-53]                      (150 ms moving window, int64)

History before the first sample is primed with the first sample (s) and zero (h, d, e), so a stream starts with
no transient. A streaming peak tracker finds candidate peaks of m; Pan-Tompkins style adaptive thresholds (signal
and noise levels SPKI/NPKI, threshold THR1 = NPKI + (SPKI-NPKI)/4, THR2 = THR1/2), a 200 ms refractory period,
T-wave rejection within 360 ms by slope, and search-back after 1.66 x the mean RR decide which are beats. The R
peak is the largest |h| in the 72 samples before the candidate's m peak, moved back by the band-pass delay.

Beat window (model input 1): raw samples s[R-92 .. R+164) (0.71 s), decimated by 2 (sum of pairs) to 128 values,
mean removed and scaled so the largest deviation is 127, rounded half away from zero: int8 in [-127, 127], meaning
q/128 with the model's input scale 1/128 and zero point 0.
RR features (model input 2), int8 meaning q/128, each a ratio r coded as q = round(256 * (r - 1)) clamped to
[-128, 127] (r from 0.5 to ~1.5, centred on a regular rhythm, so small changes of rhythm move the input a lot):
pre-RR and post-RR relative to the patient's running mean RR (the last 64 intervals up to and including the
pre-RR), and pre-RR relative to post-RR (prematurity and compensatory pause). Only ratios: absolute intervals tie
the model to the heart rates of the training patients (measured: S sensitivity across patients fell from 72 % to
9 % with them).
A beat is reported when the next beat has been detected (post-RR) and its window is complete: one beat of latency.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from heartbeat_core.domain import FS, RR_FEATURES, WINDOW_LEN, WINDOW_POST, WINDOW_PRE

DSP_VERSION = "3"  # bump when any constant or rule below changes (part of every cache key and golden vector)

LP_LEN = 8
HP_LEN = 32
HP_DELAY = 16
MWI_LEN = 54  # 150 ms
ENERGY_SHIFT = 8
LEARN_SAMPLES = 2 * FS  # thresholds learned over the first 2 s
LEARN_MAX_CANDIDATES = 16
REFRACTORY = 72  # 200 ms
TWAVE_WINDOW = 130  # 360 ms
PEAK_TIMEOUT = 72  # a tracked m peak is emitted at the latest 200 ms after it was last raised
R_SEARCH = 72  # samples of h searched for the R peak before the m peak
R_DELAY = 20  # band-pass delay: h index minus signal index of the same feature
SEARCHBACK_NUM, SEARCHBACK_DEN = 166, 100
SEARCHBACK_MAX = 1200  # cap on the search-back interval (3.3 s), bounds the raw ring on the device
RR_HISTORY = 8
DEFAULT_RR = FS  # mean RR before any interval is known (60 bpm)

WINDOW_PEAK = 127
RR_LONG_HISTORY = 64  # intervals in the running mean RR
RR_RATIO_GAIN = 256  # q = round(RR_RATIO_GAIN * (ratio - 1))


@dataclass
class Candidate:
    peak: int  # index of the m peak
    value: int  # m at the peak
    r: int  # R-peak sample index (signal coordinates)
    slope: int  # max |d| in the search range


@dataclass
class DetectorTrace:
    """Intermediate signals of a run; useful for plots, tests and golden vectors."""

    h: np.ndarray
    d: np.ndarray
    m: np.ndarray
    candidates: list[Candidate] = field(default_factory=list)


def _moving_sum(x: np.ndarray, n: int, prime: int) -> np.ndarray:
    """y[i] = x[i] + ... + x[i-n+1] with x[<0] = prime, exact in int64."""
    padded = np.concatenate([np.full(n - 1, prime, dtype=np.int64), x.astype(np.int64)])
    c = np.concatenate([[0], np.cumsum(padded, dtype=np.int64)])
    return c[n:] - c[:-n]


def filter_signal(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Band-pass h, derivative d and integrated energy m of a whole stream (exactly what the device computes)."""
    s = np.asarray(samples, dtype=np.int64)
    if s.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    s0 = int(s[0])
    lp = _moving_sum(s, LP_LEN, s0)
    l_prime = LP_LEN * s0
    lp_sum = _moving_sum(lp, HP_LEN, l_prime)
    lp_delayed = np.concatenate([np.full(HP_DELAY, l_prime, dtype=np.int64), lp])[: lp.size]
    h = HP_LEN * lp_delayed - lp_sum
    hp = np.concatenate([np.zeros(4, dtype=np.int64), h])
    d = 2 * hp[4:] + hp[3:-1] - hp[1:-3] - 2 * hp[:-4]
    e = (d * d) >> ENERGY_SHIFT
    m = _moving_sum(e, MWI_LEN, 0)
    return h, d, m


class _Decider:
    """Adaptive thresholds, refractory, T-wave rejection and search-back over the stream of candidates."""

    def __init__(self) -> None:
        self.spki = 0
        self.npki = 0
        self.last_r: int | None = None
        self.last_slope = 0
        self.rr_hist: list[int] = []
        self.best_sb: Candidate | None = None
        self.beats: list[int] = []

    def init_levels(self, max_m: int, sum_m: int) -> None:
        self.spki = max_m // 3
        self.npki = sum_m // (2 * LEARN_SAMPLES)

    def _limit(self) -> int:
        rr_avg = sum(self.rr_hist) // len(self.rr_hist) if self.rr_hist else DEFAULT_RR
        return min(rr_avg * SEARCHBACK_NUM // SEARCHBACK_DEN, SEARCHBACK_MAX)

    def _accept(self, c: Candidate) -> None:
        if self.last_r is not None:
            self.rr_hist.append(c.r - self.last_r)
            if len(self.rr_hist) > RR_HISTORY:
                self.rr_hist.pop(0)
        self.last_r = c.r
        self.last_slope = c.slope
        self.best_sb = None
        self.beats.append(c.r)

    def check_searchback(self, n: int) -> None:
        """Called at sample n (before that sample's candidate): accept the best missed peak if RR ran long."""
        if self.best_sb is not None and self.last_r is not None and n - self.last_r > self._limit():
            c = self.best_sb
            self.spki = (c.value + 3 * self.spki) >> 2
            self._accept(c)

    def classify(self, c: Candidate) -> None:
        if self.last_r is not None and c.r - self.last_r < REFRACTORY:
            return
        thr1 = self.npki + ((self.spki - self.npki) >> 2)
        if c.value > thr1:
            if (self.last_r is not None and c.r - self.last_r < TWAVE_WINDOW
                    and 2 * c.slope < self.last_slope):
                self.npki = (c.value + 7 * self.npki) >> 3
                return
            self.spki = (c.value + 7 * self.spki) >> 3
            self._accept(c)
            return
        self.npki = (c.value + 7 * self.npki) >> 3
        if c.value > (thr1 >> 1) and (self.best_sb is None or c.value > self.best_sb.value):
            self.best_sb = c


def detect_r_peaks(samples: np.ndarray, trace: bool = False) -> np.ndarray | tuple[np.ndarray, DetectorTrace]:
    """R-peak sample indices of a stream, exactly as the device detects them sample by sample."""
    h, d, m = filter_signal(samples)
    n_total = int(m.size)
    habs = np.abs(h)
    dabs = np.abs(d)
    ml = m.tolist()
    dec = _Decider()
    learning: list[Candidate] = []
    learn_max = 0
    learn_sum = 0
    learned = False
    tracking = False
    cur_val = 0
    cur_idx = 0
    prev = 0
    all_candidates: list[Candidate] = []

    for n in range(n_total):
        v = ml[n]
        if not learned:
            learn_max = max(learn_max, v)
            learn_sum += v
        emitted: Candidate | None = None
        if tracking:
            if v > cur_val:
                cur_val, cur_idx = v, n
            elif 2 * v < cur_val or n - cur_idx >= PEAK_TIMEOUT:
                lo = max(0, cur_idx - R_SEARCH)
                seg = habs[lo:cur_idx + 1]
                j = lo + int(np.argmax(seg))
                emitted = Candidate(peak=cur_idx, value=cur_val, r=j - R_DELAY,
                                    slope=int(dabs[lo:cur_idx + 1].max()))
                tracking = False
        elif v > prev:
            tracking = True
            cur_val, cur_idx = v, n
        prev = v
        if learned:
            dec.check_searchback(n)
            if emitted is not None:
                all_candidates.append(emitted)
                dec.classify(emitted)
        else:
            if emitted is not None:
                all_candidates.append(emitted)
                learning.append(emitted)
                if len(learning) > LEARN_MAX_CANDIDATES:
                    learning.pop(0)
            if n == LEARN_SAMPLES - 1:
                learned = True
                dec.init_levels(learn_max, learn_sum)
                for c in learning:
                    dec.classify(c)
                learning.clear()
    if not learned and n_total > 0:  # a stream shorter than the learning period: use what was seen
        dec.init_levels(learn_max, learn_sum)
        for c in learning:
            dec.classify(c)
    beats = np.asarray(dec.beats, dtype=np.int64)
    if trace:
        return beats, DetectorTrace(h=h, d=d, m=m, candidates=all_candidates)
    return beats


def _round_div(num: int, den: int) -> int:
    """round(num/den) half away from zero for num >= 0, den > 0."""
    return (2 * num + den) // (2 * den)


def beat_window(samples: np.ndarray, r: int) -> np.ndarray:
    """The model's int8 window for the beat at R-peak index r (samples before the stream = the first sample)."""
    s = np.asarray(samples, dtype=np.int64)
    lo, hi = r - WINDOW_PRE, r + WINDOW_POST
    if hi > s.size:
        raise ValueError(f"window of beat at {r} needs samples up to {hi}, stream has {s.size}")
    if lo < 0:
        seg = np.concatenate([np.full(-lo, s[0], dtype=np.int64), s[:hi]])
    else:
        seg = s[lo:hi]
    v = seg[0::2] + seg[1::2]
    total = int(v.sum())
    dev = WINDOW_LEN * v - total
    maxabs = int(np.abs(dev).max())
    if maxabs == 0:
        return np.zeros(WINDOW_LEN, dtype=np.int8)
    mag = (2 * WINDOW_PEAK * np.abs(dev) + maxabs) // (2 * maxabs)
    return (np.sign(dev) * mag).astype(np.int8)


def _ratio_code(num: int, den: int) -> int:
    """round(RR_RATIO_GAIN * (num/den - 1)) half away from zero, clamped to int8; num >= 0, den > 0."""
    diff = RR_RATIO_GAIN * (num - den)
    mag = _round_div(abs(diff), den)
    return max(-128, min(127, mag if diff >= 0 else -mag))


def rr_features(pre: int, post: int, long_sum: int, long_count: int) -> np.ndarray:
    """The three int8 RR features of one beat (see the module docstring); intervals in samples, all > 0."""
    return np.array([
        _ratio_code(pre * long_count, long_sum),
        _ratio_code(post * long_count, long_sum),
        _ratio_code(pre, post),
    ], dtype=np.int8)


@dataclass
class Beats:
    """Beats the device reports for a stream: R peaks, int8 windows and int8 RR features."""

    r: np.ndarray  # int64 [n]
    windows: np.ndarray  # int8 [n, WINDOW_LEN]
    rr: np.ndarray  # int8 [n, RR_FEATURES]
    pre_rr: np.ndarray  # int64 [n] samples
    post_rr: np.ndarray  # int64 [n] samples


def beats_from_peaks(samples: np.ndarray, peaks: np.ndarray) -> Beats:
    """Windows and RR features for every beat that has a successor and a complete window."""
    peaks = np.asarray(peaks, dtype=np.int64)
    n_samples = int(np.asarray(samples).size)
    rs, wins, rrs, pres, posts = [], [], [], [], []
    intervals: list[int] = []
    for k in range(len(peaks) - 1):
        r = int(peaks[k])
        post = int(peaks[k + 1]) - r
        if k == 0:
            pre = post
            recent = [post]
        else:
            pre = r - int(peaks[k - 1])
            intervals.append(pre)
            recent = intervals[-RR_LONG_HISTORY:]
        if r + WINDOW_POST > n_samples:
            break
        rs.append(r)
        wins.append(beat_window(samples, r))
        rrs.append(rr_features(pre, post, sum(recent), len(recent)))
        pres.append(pre)
        posts.append(post)
    return Beats(
        r=np.asarray(rs, dtype=np.int64),
        windows=np.asarray(wins, dtype=np.int8).reshape(-1, WINDOW_LEN),
        rr=np.asarray(rrs, dtype=np.int8).reshape(-1, RR_FEATURES),
        pre_rr=np.asarray(pres, dtype=np.int64),
        post_rr=np.asarray(posts, dtype=np.int64),
    )


def device_beats(samples: np.ndarray) -> Beats:
    """The whole device signal path on a stream: detect, then window and RR features."""
    return beats_from_peaks(samples, detect_r_peaks(samples))
