"""The DSP reference (toolchain.dsp): detection quality on real records, integer rules, streaming invariants."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from heartbeat_core.domain import FS, WINDOW_LEN, WINDOW_POST
from toolchain import dsp
from toolchain.ec57 import match_beats
from toolchain.mitdb import load_record


def _qrs(mitdb_dir, rid, start_s=0, length_s=None):
    rec = load_record(mitdb_dir, rid)
    lo = start_s * FS
    hi = None if length_s is None else lo + length_s * FS
    samples = rec.signal[lo:hi]
    ref, lab = rec.beat_annotations()
    keep = (ref >= lo) & (ref < (hi if hi is not None else len(rec.signal)))
    peaks = dsp.detect_r_peaks(samples)
    m = match_beats(ref[keep] - lo, lab[keep], peaks, np.zeros(len(peaks), dtype=np.int64), fs=FS)
    return m, peaks


@pytest.mark.parametrize("rid", ["100", "103", "113"])
def test_detector_finds_the_annotated_beats_of_clean_records(mitdb_dir, rid):
    m, _ = _qrs(mitdb_dir, rid)
    assert m.tp / m.n_ref >= 0.995, f"Se {m.tp / m.n_ref:.4f} on {rid}"
    assert m.tp / m.n_det >= 0.995, f"+P {m.tp / m.n_det:.4f} on {rid}"


def test_detector_handles_ventricular_ectopy(mitdb_dir):
    # record 208: frequent V and F beats of large amplitude and odd shape
    m, _ = _qrs(mitdb_dir, "208", 0, 300)
    assert m.tp / m.n_ref >= 0.98
    assert m.tp / m.n_det >= 0.98


def test_r_peak_lands_on_the_annotation(mitdb_dir):
    m, _ = _qrs(mitdb_dir, "100")
    offsets = np.asarray(m.offsets_samples)
    assert np.median(np.abs(offsets)) <= 2  # within ~6 ms of the cardiologists' R mark


def test_filters_are_exact_integers_and_match_a_direct_loop():
    rng = np.random.default_rng(3)
    s = (1024 + 300 * np.sin(np.arange(3000) / 20) + rng.integers(-20, 20, 3000)).astype(np.int64)
    h, d, m = dsp.filter_signal(s)
    # direct per-sample definition with primed history
    hist = [int(s[0])] * 7 + s.tolist()
    lp = [sum(hist[i:i + 8]) for i in range(len(s))]
    lhist = [8 * int(s[0])] * 31 + lp
    hh = [32 * lhist[i + 31 - 16] - sum(lhist[i:i + 32]) for i in range(len(s))]
    assert h.tolist() == hh
    hz = [0, 0, 0, 0] + hh
    dd = [2 * hz[i + 4] + hz[i + 3] - hz[i + 1] - 2 * hz[i] for i in range(len(s))]
    assert d.tolist() == dd
    ee = [0] * 53 + [(x * x) >> dsp.ENERGY_SHIFT for x in dd]
    assert m.tolist() == [sum(ee[i:i + 54]) for i in range(len(s))]


def test_constant_signal_has_no_beats_and_no_transient():
    s = np.full(5000, 1024)
    h, d, m = dsp.filter_signal(s)
    assert not h.any() and not d.any() and not m.any()
    assert dsp.detect_r_peaks(s).size == 0


def test_detection_is_causal_a_prefix_gives_the_same_early_beats(mitdb_dir):
    rec = load_record(mitdb_dir, "100")
    full = dsp.detect_r_peaks(rec.signal[: 60 * FS])
    prefix = dsp.detect_r_peaks(rec.signal[: 40 * FS])
    # beats well before the end of the prefix are final (the device cannot look ahead)
    settled = full[full < 40 * FS - dsp.SEARCHBACK_MAX - dsp.PEAK_TIMEOUT]
    assert prefix[: len(settled)].tolist() == settled.tolist()


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-2048, max_value=4095), min_size=256, max_size=600),
       st.integers(min_value=0, max_value=400))
def test_window_is_int8_normalised_and_centred(values, r_offset):
    s = np.asarray(values)
    r = min(r_offset, s.size - WINDOW_POST)
    w = dsp.beat_window(s, r)
    assert w.dtype == np.int8 and w.shape == (WINDOW_LEN,)
    assert np.abs(w.astype(int)).max() in (0, dsp.WINDOW_PEAK)
    assert abs(int(w.astype(int).sum())) <= WINDOW_LEN  # mean removed (up to rounding)


def test_window_is_invariant_to_gain_and_offset():
    rng = np.random.default_rng(0)
    s = rng.integers(900, 1200, 1000)
    w1 = dsp.beat_window(s, 300)
    w2 = dsp.beat_window(4 * s + 77, 300)
    assert np.array_equal(w1, w2)


def test_window_rejects_an_incomplete_stream():
    with pytest.raises(ValueError, match="needs samples"):
        dsp.beat_window(np.zeros(200), 100)


def test_rr_features_are_centred_ratios_rounded_and_clamped():
    # pre 0.5 s, post 1.0 s, running mean 0.8 s over 4 intervals
    f = dsp.rr_features(pre=180, post=360, long_sum=288 * 4, long_count=4)
    assert f.tolist() == [-96, 64, -128]  # 256*(180/288-1) = -96, 256*(360/288-1) = 64, 256*(0.5-1) clamps
    f = dsp.rr_features(pre=5000, post=10, long_sum=100, long_count=1)
    assert f.tolist() == [127, -128, 127]
    assert dsp.rr_features(pre=300, post=300, long_sum=300, long_count=1).tolist() == [0, 0, 0]
    # 256*(513/512-1) = 0.5 rounds away from zero, both ways
    assert dsp.rr_features(pre=513, post=511, long_sum=512, long_count=1).tolist()[:2] == [1, -1]


def test_beats_need_a_successor_and_use_the_first_interval_as_pre_rr(mitdb_dir):
    rec = load_record(mitdb_dir, "100")
    s = rec.signal[: 20 * FS]
    peaks = dsp.detect_r_peaks(s)
    beats = dsp.beats_from_peaks(s, peaks)
    assert len(beats.r) <= len(peaks) - 1
    assert beats.pre_rr[0] == beats.post_rr[0] == peaks[1] - peaks[0]
    assert np.array_equal(beats.pre_rr[1:], np.diff(peaks)[: len(beats.r) - 1])


def test_golden_vectors_match_the_reference(mitdb_dir):
    """tests/contract/dsp_golden.json (the firmware's contract) still equals what the reference computes."""
    import json
    from pathlib import Path

    from toolchain import golden

    path = Path(__file__).resolve().parents[1] / "contract" / "dsp_golden.json"
    committed = json.loads(path.read_text())
    assert committed["dsp_version"] == dsp.DSP_VERSION
    fresh = golden.dsp_vectors(mitdb_dir)
    assert committed == fresh
    assert sum(len(c["beats"]) for c in committed["cases"]) > 150
