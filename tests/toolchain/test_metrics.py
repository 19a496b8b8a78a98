"""Tests for toolchain.metrics: the classification report and its flat form for MLflow.

Expected numbers are derived in the tests from the way the inputs are built; sklearn serves as an
independent oracle for the per-class ratios.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from report_checks import MLFLOW_KEY, assert_plain_json

from heartbeat_core.domain import AAMI_CLASSES, CLASS_INDEX
from heartbeat_core.errors import DataError
from toolchain.metrics import classification_report, confusion_matrix, flatten_metrics

N, S, V, F, Q = (CLASS_INDEX[c] for c in AAMI_CLASSES)


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
    with pytest.raises(DataError, match="not a classification_report"):
        flatten_metrics({"accuracy": 1.0})
    with pytest.raises(DataError):
        flatten_metrics([1, 2])


def test_flatten_sanitises_odd_class_names():
    rep = classification_report([0, 1], [0, 1], n_classes=2, class_names=["N:sinus", "V+"])
    flat = flatten_metrics(rep)
    assert "se_N_sinus" in flat and "se_V_" in flat
    assert all(MLFLOW_KEY.fullmatch(k) for k in flat)
