"""Tests for toolchain.ec57: AAMI EC57 beat-by-beat matching, its summary and the summary's flat form.

Expected numbers are derived in the tests from the way the inputs are built; a brute-force matcher is the
independent oracle for the nearest-pair-first matching.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from report_checks import MLFLOW_KEY, assert_plain_json

from heartbeat_core.domain import AAMI_CLASSES, CLASS_INDEX, FS, N_CLASSES
from heartbeat_core.errors import DataError
from toolchain.ec57 import BeatMatch, ec57_summary, flatten_ec57, match_beats

N, S, V, F, Q = (CLASS_INDEX[c] for c in AAMI_CLASSES)
labels = st.integers(min_value=0, max_value=N_CLASSES - 1)


# --------------------------------------------------------------------------- match_beats: hand cases

TOL = 54  # 150 ms at 360 Hz


def matched_times(m: BeatMatch) -> list[tuple[int, int]]:
    """(reference sample, detection sample) of each matched pair, in the match's order."""
    return list(zip(m.ref_samples[m.ref_index].tolist(), m.det_samples[m.det_index].tolist(), strict=True))


def matched_values(m: BeatMatch) -> list[tuple[int, int, int, int]]:
    return sorted(zip(m.ref_samples[m.ref_index].tolist(), m.matched_ref_labels.tolist(),
                      m.det_samples[m.det_index].tolist(), m.matched_det_labels.tolist(), strict=True))


def test_tolerance_is_54_samples_at_360_hz():
    assert match_beats([0], [N], [0], [N], FS).tolerance_samples == round(0.150 * 360) == TOL


@pytest.mark.parametrize("offset, matched", [(0, True), (TOL, True), (-TOL, True),
                                             (TOL + 1, False), (-(TOL + 1), False)])
def test_match_window_edge(offset, matched):
    # 54 samples = exactly 150 ms; 55 samples = 152.8 ms, the first whole sample beyond 151 ms.
    m = match_beats([1000], [N], [1000 + offset], [N], FS)
    assert (m.tp, m.fn, m.fp) == ((1, 0, 0) if matched else (0, 1, 1))


def test_tolerance_follows_seconds_and_rate():
    # 151 ms at 1000 Hz = 151 samples: a detection 151 samples away now matches, 152 does not.
    assert match_beats([0], [N], [151], [N], 1000, tolerance_s=0.151).tp == 1
    assert match_beats([0], [N], [152], [N], 1000, tolerance_s=0.151).tp == 0
    assert match_beats([0], [N], [151], [N], 1000, tolerance_s=0.150).tp == 0


def test_tolerance_survives_float_rounding():
    # 0.29 * 100 evaluates to 28.999999999999996 in binary floating point; 29 samples is exactly 0.29 s.
    assert 0.29 * 100 < 29
    m = match_beats([0], [N], [29], [N], 100, tolerance_s=0.29)
    assert m.tolerance_samples == 29 and m.tp == 1


def test_two_detections_near_one_reference_nearest_wins():
    m = match_beats([1000], [V], [980, 1010], [N, V], FS)
    assert m.tp == 1 and m.fp == 1 and m.fn == 0
    assert m.det_samples[m.det_index].tolist() == [1010]
    assert m.det_samples[m.extra_det].tolist() == [980]
    assert m.offsets_samples.tolist() == [10]


def test_one_detection_between_two_references():
    m = match_beats([1000, 1040], [N, V], [1030], [V], FS)
    assert m.ref_samples[m.ref_index].tolist() == [1040]
    assert m.ref_samples[m.missed_ref].tolist() == [1000]
    assert (m.tp, m.fn, m.fp) == (1, 1, 0)


def test_nearest_pair_first_across_a_chain():
    # r1=1000, d1=1040 (40), r2=1070 (30 from d1), d2=1120 (50 from r2).
    # Nearest first takes d1-r2 (30); then r1-d2 are 120 apart, beyond 54: 1 TP, 1 FN, 1 FP.
    m = match_beats([1000, 1070], [N, N], [1040, 1120], [N, N], FS)
    assert matched_times(m) == [(1070, 1040)]
    assert (m.tp, m.fn, m.fp) == (1, 1, 1)


def test_equal_distances_resolve_to_the_earlier_pair():
    # Detection at 1030 is 30 from both references; the earlier pair (1000, 1030) is taken.
    m = match_beats([1000, 1060], [N, V], [1030], [N], FS)
    assert m.ref_samples[m.ref_index].tolist() == [1000]


def test_duplicate_detections_count_once():
    m = match_beats([500, 800], [N, N], [500, 500, 801], [N, N, N], FS)
    assert (m.tp, m.fn, m.fp) == (2, 0, 1)


def test_empty_inputs():
    for ref, det in (([], []), ([100, 400], []), ([], [100, 400, 700])):
        m = match_beats(ref, [N] * len(ref), det, [N] * len(det), FS)
        assert (m.tp, m.fn, m.fp) == (0, len(ref), len(det))
        assert m.pairs.shape == (0, 2)
        s = ec57_summary(m)
        assert_plain_json(s)
        assert s["qrs"]["se"] == (0.0 if ref else None)
        assert s["qrs"]["ppv"] == (0.0 if det else None)
        assert s["offset_ms"] is None
        assert s["classes"]["accuracy"] is None


def shifted_case(shift):
    ref = np.arange(1, 41) * 300  # 40 beats, 300 samples apart
    lab = np.array([N, N, V, N, S, N, F, N, Q, N] * 4)
    return match_beats(ref, lab, ref + shift, lab, FS), ref


@pytest.mark.parametrize("shift", [0, 30, -54, 54])
def test_shifted_detections_within_window(shift):
    m, ref = shifted_case(shift)
    assert (m.tp, m.fn, m.fp) == (ref.size, 0, 0)
    assert set(m.offsets_samples.tolist()) == {shift}
    s = ec57_summary(m)
    assert s["offset_ms"]["mean"] == pytest.approx(shift * 1000 / FS)
    assert s["offset_ms"]["max_abs"] == pytest.approx(abs(shift) * 1000 / FS)
    assert s["classes"]["accuracy"] == 1.0


@pytest.mark.parametrize("shift", [55, -100, 150])
def test_shifted_detections_outside_window(shift):
    m, ref = shifted_case(shift)
    # Each detection is >= 55 from its own beat and >= 150 from the neighbours.
    assert (m.tp, m.fn, m.fp) == (0, ref.size, ref.size)


def test_indices_refer_to_the_inputs_as_given():
    ref = [900, 300, 600]
    det = [610, 905, 2000, 290]
    m = match_beats(ref, [V, N, S], det, [S, V, N, N], FS)
    assert m.ref_index.tolist() == [1, 2, 0]  # pairs in reference time order
    assert m.det_index.tolist() == [3, 0, 1]
    assert m.extra_det.tolist() == [2]
    assert m.pairs.tolist() == [[1, 3], [2, 0], [0, 1]]
    assert m.matched_ref_labels.tolist() == m.matched_det_labels.tolist() == [N, S, V]


def test_start_sample_ignores_the_learning_period():
    ref = [100, 400, 700, 1000]
    det = [110, 390, 405, 650, 1004, 1500]
    m = match_beats(ref, [N] * 4, det, [N] * 6, FS, start_sample=400)
    assert m.start_sample == 400
    assert m.ref_samples[m.ref_index].tolist() == [400, 700, 1000]
    assert m.det_samples[m.det_index].tolist() == [405, 650, 1004]
    assert m.det_samples[m.extra_det].tolist() == [1500]
    assert (m.n_ref, m.n_det) == (3, 4)
    # A detection before the start never pairs with a reference after it.
    m2 = match_beats([410], [N], [395], [N], FS, start_sample=400)
    assert (m2.tp, m2.fn, m2.fp) == (0, 1, 0)


@pytest.mark.parametrize("kwargs, where", [
    (dict(ref_samples=[1, 2], ref_labels=[0]), "ref_labels"),
    (dict(det_samples=[5], det_labels=[0, 1]), "det_labels"),
    (dict(ref_samples=[-3], ref_labels=[0]), "ref_samples[0]"),
    (dict(ref_samples=[3], ref_labels=[7]), "ref_labels[0]"),
    (dict(det_samples=[3.5], det_labels=[0]), "det_samples[0]"),
    (dict(fs=0), "fs"),
    (dict(fs=float("nan")), "fs"),
    (dict(tolerance_s=-0.1), "tolerance_s"),
    (dict(start_sample=-1), "start_sample"),
    (dict(start_sample=1.5), "start_sample"),
])
def test_match_refuses_bad_input(kwargs, where):
    args = dict(ref_samples=[100], ref_labels=[0], det_samples=[100], det_labels=[0], fs=FS)
    args.update(kwargs)
    with pytest.raises(DataError) as info:
        match_beats(**args)
    assert info.value.where == where


def test_ec57_summary_refuses_other_objects():
    with pytest.raises(DataError, match="BeatMatch"):
        ec57_summary({"tp": 1})


# --------------------------------------------------------------------------- ec57_summary: hand case


def test_ec57_summary_hand_case():
    # Reference: N@1000, V@1300, V@1600, S@1900, F@2200 (missed).
    # Detections: n@1005 (ok), v@1290 (ok), n@1610 (V called N), s@1900 (ok), v@2700 (no reference).
    ref = [1000, 1300, 1600, 1900, 2200]
    ref_lab = [N, V, V, S, F]
    det = [1005, 1290, 1610, 1900, 2700]
    det_lab = [N, V, N, S, V]
    s = ec57_summary(match_beats(ref, ref_lab, det, det_lab, FS))
    assert_plain_json(s)
    assert s["qrs"] == {"tp": 4, "fn": 1, "fp": 1, "se": 4 / 5, "ppv": 4 / 5}
    assert (s["n_ref"], s["n_det"]) == (5, 5)

    cls = s["classes"]  # matched beats only: (N,N), (V,V), (V,N), (S,S)
    assert cls["n"] == 4
    assert cls["accuracy"] == 3 / 4
    assert cls["per_class"]["V"]["se"] == 1 / 2 and cls["per_class"]["V"]["ppv"] == 1.0
    assert cls["per_class"]["N"]["se"] == 1.0 and cls["per_class"]["N"]["ppv"] == 1 / 2
    assert cls["per_class"]["F"]["se"] is None  # the F beat was never detected

    g = s["gross"]
    assert g["row_names"][-1] == "unmatched" and g["col_names"][-1] == "missed"
    expected = np.zeros((6, 6), dtype=int)
    expected[N, N] = 1
    expected[V, V] = 1
    expected[V, N] = 1
    expected[S, S] = 1
    expected[F, 5] = 1  # missed F
    expected[5, V] = 1  # unmatched detection labelled V
    assert g["matrix"] == expected.tolist()
    assert g["per_class"]["V"] == {"se": 1 / 2, "ppv": 1 / 2}
    assert g["per_class"]["F"] == {"se": 0.0, "ppv": None}
    assert g["per_class"]["N"] == {"se": 1.0, "ppv": 1 / 2}

    offs_ms = np.array([5, -10, 10, 0]) * 1000 / FS
    assert s["offset_ms"]["mean"] == pytest.approx(offs_ms.mean())
    assert s["offset_ms"]["mean_abs"] == pytest.approx(np.abs(offs_ms).mean())
    assert s["offset_ms"]["max_abs"] == pytest.approx(10 * 1000 / FS)

    flat = flatten_ec57(s, "rec100/")
    assert flat["rec100/qrs_se"] == 0.8 and flat["rec100/qrs_fp"] == 1.0
    assert flat["rec100/gross_se_V"] == 0.5 and flat["rec100/se_V"] == 0.5
    assert flat["rec100/accuracy"] == 0.75
    assert "rec100/gross_ppv_F" not in flat
    assert all(MLFLOW_KEY.fullmatch(k) and type(v) is float for k, v in flat.items())


# --------------------------------------------------------------------------- match_beats: properties


def brute_force_nearest_first(ref, det, tol):
    """Quadratic reference: repeatedly take the closest remaining pair (ties: earlier pair)."""
    alive_r, alive_d = set(range(len(ref))), set(range(len(det)))
    pairs = set()
    while True:
        best = None
        for i in alive_r:
            for j in alive_d:
                d = abs(ref[i] - det[j])
                if d <= tol:
                    key = (d, min(ref[i], det[j]))
                    if best is None or key < best[0]:
                        best = (key, i, j)
        if best is None:
            return pairs
        _, i, j = best
        alive_r.discard(i)
        alive_d.discard(j)
        pairs.add((ref[i], det[j]))


beats = st.lists(st.tuples(st.integers(0, 3000), labels), max_size=40)


@settings(max_examples=200, deadline=None)
@given(beats, beats, st.integers(0, 60), st.randoms(use_true_random=False))
def test_match_properties(ref, det, tol_samples, rnd):
    rs = [s for s, _ in ref]
    det_s = [s for s, _ in det]
    m = match_beats(rs, [lab for _, lab in ref], det_s, [lab for _, lab in det], 1000,
                    tolerance_s=tol_samples / 1000)
    assert m.tolerance_samples == tol_samples
    assert m.tp + m.fn == len(ref)
    assert m.tp + m.fp == len(det)
    # One-to-one, within the window, and the three sets partition the inputs.
    assert len(set(m.ref_index.tolist())) == m.tp and len(set(m.det_index.tolist())) == m.tp
    assert sorted(m.ref_index.tolist() + m.missed_ref.tolist()) == list(range(len(ref)))
    assert sorted(m.det_index.tolist() + m.extra_det.tolist()) == list(range(len(det)))
    assert np.all(np.abs(m.offsets_samples) <= tol_samples)
    # Maximal: no missed reference has an unmatched detection within the window.
    if m.fn and m.fp:
        gaps = np.abs(m.ref_samples[m.missed_ref][:, None] - m.det_samples[m.extra_det][None, :])
        assert gaps.min() > tol_samples
    # Summary ratios are in [0, 1] and JSON-safe.
    s = ec57_summary(m)
    assert_plain_json(s)
    for v in (s["qrs"]["se"], s["qrs"]["ppv"], *[x for pc in s["gross"]["per_class"].values()
                                                   for x in pc.values()]):
        assert v is None or 0.0 <= v <= 1.0
    # Permutation invariance: the same beats in another order give the same matched beats.
    ref2, det2 = list(ref), list(det)
    rnd.shuffle(ref2)
    rnd.shuffle(det2)
    m2 = match_beats([s for s, _ in ref2], [lab for _, lab in ref2], [s for s, _ in det2],
                     [lab for _, lab in det2], 1000, tolerance_s=tol_samples / 1000)
    assert matched_values(m2) == matched_values(m)
    assert ec57_summary(m2) == s


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2000), unique=True, max_size=30), st.data())
def test_match_equals_brute_force_on_distinct_times(times, data):
    # Split distinct time points between references and detections.
    is_ref = data.draw(st.lists(st.booleans(), min_size=len(times), max_size=len(times)))
    ref = [t for t, r in zip(times, is_ref, strict=True) if r]
    det = [t for t, r in zip(times, is_ref, strict=True) if not r]
    m = match_beats(ref, [N] * len(ref), det, [N] * len(det), FS)
    got = set(matched_times(m))
    assert got == brute_force_nearest_first(ref, det, TOL)


def test_large_input_counts_are_consistent():
    # A database-sized stretch: every 7th beat missed, a spurious detection every 11th beat.
    rng = np.random.default_rng(7)
    ref = np.cumsum(rng.integers(200, 500, 100_000))
    lab = rng.integers(0, 5, ref.size)
    keep = np.arange(ref.size) % 7 != 0
    jitter = rng.integers(-20, 21, ref.size)
    spurious = ref[:-1:11] + 150  # 150 after one reference, >= 50 before the next (RR >= 200)
    det = np.concatenate([(ref + jitter)[keep], spurious])
    det_lab = np.concatenate([lab[keep], np.zeros(spurious.size, dtype=np.int64)])
    m = match_beats(ref, lab, det, det_lab, FS, tolerance_s=0.1)  # 36 samples
    # Kept detections sit within 20 samples of their own reference and >= 180 from any other; spurious
    # ones are >= 50 from every reference: exactly the kept beats match, each with its own reference.
    assert (m.tp, m.fn, m.fp) == (int(keep.sum()), int((~keep).sum()), int(spurious.size))
    assert ec57_summary(m)["classes"]["accuracy"] == 1.0


# --------------------------------------------------------------------------- real MIT-BIH annotations


@pytest.fixture(scope="module")
def record_100(mitdb_dir):
    from toolchain.mitdb import load_record

    return load_record(mitdb_dir, "100")


def test_real_record_reference_against_jittered_copy(record_100):
    samples, classes = record_100.beat_annotations()
    assert samples.size > 2000
    rng = np.random.default_rng(100)
    det = samples + rng.integers(-TOL, TOL + 1, samples.size)
    drop = rng.choice(samples.size, 25, replace=False)
    keep = np.setdiff1d(np.arange(samples.size), drop)
    pred = classes.copy()
    flip = rng.choice(keep, 40, replace=False)
    pred[flip] = (pred[flip] + 1) % 5
    # Beats more than 2 x 54 samples apart: a jitter within +-54 leaves each detection in range of its
    # own reference only, so the expected counts follow directly.
    assert np.diff(np.sort(samples)).min() > 2 * TOL
    m = match_beats(samples, classes, det[keep], pred[keep], record_100.fs)
    s = ec57_summary(m)
    assert s["qrs"] == {"tp": samples.size - 25, "fn": 25, "fp": 0,
                        "se": (samples.size - 25) / samples.size, "ppv": 1.0}
    assert s["classes"]["n"] == samples.size - 25
    assert s["classes"]["accuracy"] == pytest.approx((samples.size - 25 - 40) / (samples.size - 25))
    assert sorted(m.missed_ref.tolist()) == sorted(drop.tolist())
    assert_plain_json(s)


def test_flatten_ec57_refuses_other_reports_and_bad_prefixes():
    s = ec57_summary(match_beats([1000], [N], [1000], [N], FS))
    assert flatten_ec57(s)["qrs_se"] == 1.0
    with pytest.raises(DataError, match="not an ec57_summary"):
        flatten_ec57(s["classes"])
    with pytest.raises(DataError) as info:
        flatten_ec57(s, "rec:100")
    assert info.value.where == "prefix"
