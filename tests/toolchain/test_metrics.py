"""Tests for toolchain.metrics: classification report, EC57 beat matching and the confusion-matrix figure.

Expected numbers are derived in the tests from the way the inputs are built; sklearn serves as an
independent oracle for the per-class ratios and a brute-force matcher for the beat matching.
"""
from __future__ import annotations

import json
import math
import re
import struct
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolchain.errors import DataError
from toolchain.metrics import (
    BeatMatch,
    classification_report,
    confusion_matrix,
    ec57_summary,
    flatten_metrics,
    match_beats,
    save_confusion_png,
)
from toolchain.mitdb import AAMI_CLASSES, CLASS_INDEX, FS

N, S, V, F, Q = (CLASS_INDEX[c] for c in AAMI_CLASSES)
MLFLOW_KEY = re.compile(r"[A-Za-z0-9_./ -]+")


def assert_plain_json(obj, where="report"):
    """Only dict/list/str/int/float/None (no numpy scalars, no NaN/inf); dumps strictly."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert type(k) is str, where
            assert_plain_json(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            assert_plain_json(v, f"{where}[{i}]")
    elif isinstance(obj, float):
        assert math.isfinite(obj), where
    else:
        assert obj is None or type(obj) in (str, int, bool), f"{where}: {type(obj)}"
    json.dumps(obj, allow_nan=False)


def as_float(fr: Fraction) -> float:
    return float(fr)


# --------------------------------------------------------------------------- classification_report


def build_known_case():
    """Blocks of (true, predicted, count): every count below follows from this table."""
    blocks = [
        (N, N, 8), (N, S, 2),
        (S, S, 3), (S, N, 1),
        (V, V, 5), (V, F, 1),
        (Q, N, 2),
    ]
    y_true = np.concatenate([np.full(c, t) for t, _, c in blocks])
    y_pred = np.concatenate([np.full(c, p) for _, p, c in blocks])
    return blocks, y_true, y_pred


def test_report_known_case_from_first_principles():
    blocks, y_true, y_pred = build_known_case()
    rep = classification_report(y_true, y_pred)
    total = sum(c for *_, c in blocks)
    assert rep["n"] == total == 22
    assert rep["class_names"] == list(AAMI_CLASSES)

    cm = [[0] * 5 for _ in range(5)]
    for t, p, c in blocks:
        cm[t][p] += c
    assert rep["confusion"] == cm

    correct = sum(c for t, p, c in blocks if t == p)
    assert rep["accuracy"] == pytest.approx(as_float(Fraction(correct, total)))  # 16/22

    expected = {}
    for k, name in enumerate(AAMI_CLASSES):
        tp = sum(c for t, p, c in blocks if t == k and p == k)
        fn = sum(c for t, p, c in blocks if t == k and p != k)
        fp = sum(c for t, p, c in blocks if t != k and p == k)
        tn = total - tp - fn - fp
        expected[name] = dict(tp=tp, fn=fn, fp=fp, tn=tn)
    # Spot values worked out by hand from the table.
    assert expected["N"] == dict(tp=8, fn=2, fp=3, tn=9)
    assert expected["F"] == dict(tp=0, fn=0, fp=1, tn=21)
    assert expected["Q"] == dict(tp=0, fn=2, fp=0, tn=20)

    for name, e in expected.items():
        pc = rep["per_class"][name]
        assert (pc["tp"], pc["fn"], pc["fp"], pc["tn"]) == (e["tp"], e["fn"], e["fp"], e["tn"])
        assert pc["support"] == e["tp"] + e["fn"]
        assert pc["predicted"] == e["tp"] + e["fp"]
        for key, num, den in (("recall", e["tp"], e["tp"] + e["fn"]),
                              ("precision", e["tp"], e["tp"] + e["fp"]),
                              ("specificity", e["tn"], e["tn"] + e["fp"]),
                              ("f1", 2 * e["tp"], 2 * e["tp"] + e["fp"] + e["fn"])):
            if den == 0:
                assert pc[key] is None, (name, key)
            else:
                assert pc[key] == pytest.approx(num / den), (name, key)
        assert pc["se"] == pc["recall"] and pc["ppv"] == pc["precision"]

    # F: never in the reference -> Se undefined; predicted once, wrongly -> +P = 0, F1 = 0.
    assert rep["per_class"]["F"]["se"] is None
    assert rep["per_class"]["F"]["ppv"] == 0.0
    # Q: present, never predicted -> +P undefined, Se = 0.
    assert rep["per_class"]["Q"]["ppv"] is None
    assert rep["per_class"]["Q"]["se"] == 0.0
    # Macro F1 over the classes present in the reference: N, S, V, Q (not F).
    assert rep["macro_f1_classes"] == ["N", "S", "V", "Q"]
    f1 = [Fraction(16, 21), Fraction(6, 9), Fraction(10, 11), Fraction(0)]
    assert rep["macro_f1"] == pytest.approx(as_float(sum(f1) / 4))
    assert_plain_json(rep)


def test_report_agrees_with_sklearn_on_known_case():
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    _, y_true, y_pred = build_known_case()
    rep = classification_report(y_true, y_pred)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(range(5)), zero_division=0)
    for k, name in enumerate(AAMI_CLASSES):
        pc = rep["per_class"][name]
        assert pc["support"] == s[k]
        assert (pc["precision"] or 0.0) == pytest.approx(p[k])
        assert (pc["recall"] or 0.0) == pytest.approx(r[k])
        assert (pc["f1"] or 0.0) == pytest.approx(f[k])
    present = sorted(set(y_true.tolist()))
    assert rep["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))


def test_perfect_predictions():
    y = np.array([N] * 50 + [S] * 7 + [V] * 9 + [F] * 3 + [Q] * 1)
    rep = classification_report(y, y.copy())
    assert rep["accuracy"] == 1.0 and rep["macro_f1"] == 1.0
    assert rep["confusion"] == np.diag(np.bincount(y, minlength=5)).tolist()
    for pc in rep["per_class"].values():
        assert pc["se"] == pc["ppv"] == pc["f1"] == pc["specificity"] == 1.0


def test_single_class_everything_right_has_undefined_specificity():
    rep = classification_report([V, V, V], [V, V, V])
    assert rep["per_class"]["V"]["specificity"] is None  # no negatives at all
    assert rep["per_class"]["N"]["specificity"] == 1.0
    assert rep["macro_f1_classes"] == ["V"]


def test_empty_inputs_are_defined_and_json_safe():
    rep = classification_report([], [])
    assert rep["n"] == 0
    assert rep["accuracy"] is None and rep["macro_f1"] is None
    assert rep["macro_f1_classes"] == []
    assert rep["confusion"] == [[0] * 5 for _ in range(5)]
    assert all(pc["se"] is None and pc["ppv"] is None for pc in rep["per_class"].values())
    assert_plain_json(rep)
    assert flatten_metrics(rep) == {f"support_{c}": 0.0 for c in AAMI_CLASSES}


def test_other_class_counts_and_names():
    rep = classification_report([0, 1, 1], [0, 1, 0], n_classes=2, class_names=["normal", "ectopic"])
    assert rep["class_names"] == ["normal", "ectopic"]
    assert rep["per_class"]["ectopic"]["se"] == 0.5
    rep3 = classification_report([0, 2], [0, 2], n_classes=3)
    assert rep3["class_names"] == ["0", "1", "2"]


@pytest.mark.parametrize("y_true, y_pred, where", [
    ([0, 1, 2], [0, 1], "y_true/y_pred"),
    ([0, 5], [0, 1], "y_true[1]"),
    ([0, 1], [0, -1], "y_pred[1]"),
    ([[0, 1]], [[0, 1]], "y_true"),
    ([0.0, 1.5], [0, 1], "y_true[1]"),
    (["N", "V"], [0, 1], "y_true"),
    ([0, float("nan")], [0, 1], "y_true[1]"),
])
def test_report_refuses_bad_labels(y_true, y_pred, where):
    with pytest.raises(DataError) as info:
        classification_report(y_true, y_pred)
    assert info.value.where == where


def test_report_refuses_bad_class_setup():
    with pytest.raises(DataError, match="class names"):
        classification_report([0], [0], n_classes=2, class_names=["a"])
    with pytest.raises(DataError, match="not unique"):
        classification_report([0], [0], n_classes=2, class_names=["a", "a"])
    with pytest.raises(DataError, match="n_classes"):
        classification_report([0], [0], n_classes=0)


def test_integral_floats_are_accepted():
    a = classification_report(np.array([0.0, 2.0]), np.array([0.0, 1.0]))
    b = classification_report([0, 2], [0, 1])
    assert a == b


labels = st.integers(min_value=0, max_value=4)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(labels, labels), max_size=60), st.randoms(use_true_random=False))
def test_report_properties(pairs, rnd):
    y_true = [t for t, _ in pairs]
    y_pred = [p for _, p in pairs]
    rep = classification_report(y_true, y_pred)
    assert_plain_json(rep)
    cm = np.array(rep["confusion"])
    assert cm.sum() == len(pairs)
    assert cm.sum(axis=1).tolist() == np.bincount(np.asarray(y_true, dtype=int), minlength=5).tolist()
    assert cm.sum(axis=0).tolist() == np.bincount(np.asarray(y_pred, dtype=int), minlength=5).tolist()
    for key in ("accuracy", "macro_f1"):
        assert rep[key] is None or 0.0 <= rep[key] <= 1.0
    for pc in rep["per_class"].values():
        for key in ("precision", "recall", "specificity", "f1"):
            assert pc[key] is None or 0.0 <= pc[key] <= 1.0
        assert pc["tp"] + pc["fn"] + pc["fp"] + pc["tn"] == len(pairs)
    # Beat order does not matter.
    shuffled = list(pairs)
    rnd.shuffle(shuffled)
    assert classification_report([t for t, _ in shuffled], [p for _, p in shuffled]) == rep
    # Independent oracle.
    if pairs:
        from sklearn.metrics import confusion_matrix as sk_cm

        assert cm.tolist() == sk_cm(y_true, y_pred, labels=list(range(5))).tolist()
        assert confusion_matrix(y_true, y_pred).tolist() == cm.tolist()


# --------------------------------------------------------------------------- flatten_metrics


def test_flatten_classification_report_keys_and_values():
    _, y_true, y_pred = build_known_case()
    rep = classification_report(y_true, y_pred)
    flat = flatten_metrics(rep, "ds2_")
    assert flat["ds2_accuracy"] == rep["accuracy"]
    assert flat["ds2_macro_f1"] == rep["macro_f1"]
    assert flat["ds2_se_S"] == rep["per_class"]["S"]["se"]
    assert flat["ds2_ppv_S"] == rep["per_class"]["S"]["ppv"]
    assert flat["ds2_f1_S"] == rep["per_class"]["S"]["f1"]
    assert flat["ds2_spec_N"] == rep["per_class"]["N"]["specificity"]
    assert flat["ds2_support_V"] == 6.0
    assert "ds2_se_F" not in flat  # undefined -> left out, not 0
    assert "ds2_ppv_Q" not in flat
    for key, value in flat.items():
        assert MLFLOW_KEY.fullmatch(key), key
        assert type(value) is float and math.isfinite(value)


@pytest.mark.parametrize("prefix", ["", "val/", "ds2.int8-", "run 1_"])
def test_flatten_accepts_mlflow_safe_prefixes(prefix):
    flat = flatten_metrics(classification_report([0, 1], [0, 1]), prefix)
    assert f"{prefix}accuracy" in flat


@pytest.mark.parametrize("prefix", ["ds2:", "a+b", "é", "x\n"])
def test_flatten_refuses_bad_prefix(prefix):
    with pytest.raises(DataError) as info:
        flatten_metrics(classification_report([0], [0]), prefix)
    assert info.value.where == "prefix"


def test_flatten_refuses_unknown_report():
    with pytest.raises(DataError, match="neither"):
        flatten_metrics({"accuracy": 1.0})
    with pytest.raises(DataError):
        flatten_metrics([1, 2])


def test_flatten_sanitises_odd_class_names():
    rep = classification_report([0, 1], [0, 1], n_classes=2, class_names=["N:sinus", "V+"])
    flat = flatten_metrics(rep)
    assert "se_N_sinus" in flat and "se_V_" in flat
    assert all(MLFLOW_KEY.fullmatch(k) for k in flat)


# --------------------------------------------------------------------------- match_beats: hand cases

TOL = 54  # 150 ms at 360 Hz


def matched_values(m: BeatMatch) -> list[tuple[int, int, int, int]]:
    return sorted(zip(m.ref_samples[m.ref_index].tolist(), m.matched_ref_labels.tolist(),
                      m.det_samples[m.det_index].tolist(), m.matched_det_labels.tolist()))


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
    assert list(zip(m.ref_samples[m.ref_index].tolist(), m.det_samples[m.det_index].tolist())) == [(1070, 1040)]
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

    flat = flatten_metrics(s, "rec100/")
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
    ref = [t for t, r in zip(times, is_ref) if r]
    det = [t for t, r in zip(times, is_ref) if not r]
    m = match_beats(ref, [N] * len(ref), det, [N] * len(det), FS)
    got = set(zip(m.ref_samples[m.ref_index].tolist(), m.det_samples[m.det_index].tolist()))
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
def record_100():
    from pathlib import Path

    from toolchain.mitdb import load_record

    data = Path("/work/shared/data/mitdb")
    if not (data / "100.atr").exists():
        from toolchain.settings import get_settings

        data = get_settings().data_dir
    if not (data / "100.atr").exists():
        pytest.skip(f"MIT-BIH record 100 not found in {data}")
    return load_record(data, "100")


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


# --------------------------------------------------------------------------- save_confusion_png


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return len(data), width, height


def test_confusion_png_is_a_real_figure(tmp_path):
    import matplotlib.image as mpimg

    _, y_true, y_pred = build_known_case()
    rep = classification_report(y_true, y_pred)
    out = save_confusion_png(rep["confusion"], rep["class_names"], tmp_path / "fig" / "cm.png", "DS2 test")
    assert out == tmp_path / "fig" / "cm.png"
    nbytes, width, height = png_size(out)
    assert nbytes > 10_000 and width > 300 and height > 300
    pixels = mpimg.imread(out)
    assert pixels.shape[0] == height and pixels.shape[1] == width
    assert float(pixels[..., :3].std()) > 0.05  # not a blank image
    assert list(tmp_path.joinpath("fig").iterdir()) == [out]  # no temporary file left behind


def test_confusion_png_overwrites_and_handles_empty_rows(tmp_path):
    path = tmp_path / "cm.png"
    path.write_bytes(b"old")
    cm = np.zeros((5, 5), dtype=int)
    cm[0, 0] = 10
    save_confusion_png(cm, AAMI_CLASSES, path, "only N")
    assert png_size(path)[0] > 5_000


@pytest.mark.parametrize("matrix, names, where", [
    ([[1, 2, 3]], ["a"], "matrix"),
    ([[1, -1], [0, 1]], ["a", "b"], "matrix"),
    ([[1.5, 0], [0, 1]], ["a", "b"], "matrix"),
    ([[1, 0], [0, 1]], ["a"], "class_names"),
    ([], [], "matrix"),
])
def test_confusion_png_refuses_bad_input(tmp_path, matrix, names, where):
    path = tmp_path / "cm.png"
    with pytest.raises(DataError) as info:
        save_confusion_png(matrix, names, path, "bad")
    assert info.value.where == where
    assert not path.exists()
