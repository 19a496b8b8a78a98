"""Classification metrics of beat labels: the confusion matrix, per-class Se/+P/Sp/F1, accuracy and macro F1,
and their flat form for MLflow.

Classes are the five AAMI heartbeat classes, indices 0..4 = N, S, V, F, Q (heartbeat_core.domain.AAMI_CLASSES).

Definitions (per class c, one-vs-rest, from the confusion matrix C with rows = reference, cols = predicted):
    TP = C[c, c]; FN = row sum - TP; FP = column sum - TP; TN = total - TP - FN - FP
    recall = sensitivity Se = TP / (TP + FN)
    precision = positive predictivity +P = TP / (TP + FP)
    specificity Sp = TN / (TN + FP)
    F1 = 2 TP / (2 TP + FP + FN)
    macro F1 = mean of F1 over the classes present in the reference (support > 0)

Undefined values: a ratio whose denominator is zero (e.g. Se of a class with no reference beats, +P of a
class never predicted) is reported as None (JSON null), never as 0.0 or NaN, so that "not measurable" is
not mistaken for "always wrong". `flatten_metrics` leaves such keys out, since MLflow metrics must be numbers.
Every report is made of plain dict/list/str/int/float/None and passes `json.dumps(..., allow_nan=False)`.

The input checks (`as_int_vector`, `check_labels`, `check_n_classes`, `class_names_for`) and `ratio` are shared
with the EC57 beat matching (toolchain.ec57).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from heartbeat_core.domain import AAMI_CLASSES, N_CLASSES
from heartbeat_core.errors import DataError

__all__ = [
    "as_int_vector",
    "check_labels",
    "check_metric_prefix",
    "check_n_classes",
    "class_names_for",
    "classification_report",
    "confusion_matrix",
    "flatten_metrics",
    "metric_key_part",
    "ratio",
]

_METRIC_KEY = re.compile(r"[A-Za-z0-9_./ -]*")
_CLASS_INDICES = ", ".join(f"{c}={i}" for i, c in enumerate(AAMI_CLASSES))  # "N=0, S=1, V=2, F=3, Q=4"


# --------------------------------------------------------------------------- input checks


def ratio(num: int, den: int) -> float | None:
    """num / den as a plain float, None when the denominator is zero (undefined)."""
    return None if den == 0 else float(num) / float(den)


def class_names_for(n_classes: int, class_names: Sequence[str] | None) -> list[str]:
    """The names of the class indices: as given (one each, unique), else the AAMI names for five classes."""
    if class_names is None:
        if n_classes == N_CLASSES:
            return list(AAMI_CLASSES)
        return [str(i) for i in range(n_classes)]
    names = [str(n) for n in class_names]
    if len(names) != n_classes:
        raise DataError(f"{len(names)} class names given for {n_classes} classes", "class_names",
                        "give exactly one name per class index")
    if len(set(names)) != len(names):
        raise DataError(f"class names are not unique: {names}", "class_names", "give each class its own name")
    return names


def check_n_classes(n_classes: Any) -> int:
    """`n_classes` as an int when it is a positive integer; DataError otherwise."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise DataError(f"n_classes must be a positive integer, got {n_classes!r}", "n_classes")
    return int(n_classes)


def as_int_vector(values: Any, name: str) -> np.ndarray:
    """A 1-D int64 copy of `values`; integral floats are accepted, anything else is refused."""
    try:
        arr = np.asarray(values)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{name} is not an array of integers: {exc}", name) from exc
    if arr.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {arr.shape}", name,
                        "pass a flat list or 1-D array")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{name} must hold whole numbers, got {arr[i]!r} at index {i}", f"{name}[{i}]")
        return arr.astype(np.int64)
    raise DataError(f"{name} must hold integers, got dtype {arr.dtype}", name)


def check_labels(labels: np.ndarray, n_classes: int, name: str) -> None:
    """DataError naming the first label outside 0..n_classes-1."""
    bad = (labels < 0) | (labels >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{name} holds class {int(labels[i])} at index {i}, outside 0..{n_classes - 1}",
                        f"{name}[{i}]", f"labels are AAMI class indices ({_CLASS_INDICES})")


# --------------------------------------------------------------------------- classification


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int = N_CLASSES) -> np.ndarray:
    """n_classes x n_classes int64 counts, rows = reference class, columns = predicted class."""
    n_classes = check_n_classes(n_classes)
    t = as_int_vector(y_true, "y_true")
    p = as_int_vector(y_pred, "y_pred")
    if t.shape != p.shape:
        raise DataError(f"y_true has {t.size} labels but y_pred has {p.size}", "y_true/y_pred",
                        "score one prediction per reference beat")
    check_labels(t, n_classes, "y_true")
    check_labels(p, n_classes, "y_pred")
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _report_from_confusion(cm: np.ndarray, names: list[str]) -> dict[str, Any]:
    n_classes = cm.shape[0]
    total = int(cm.sum())
    per_class: dict[str, dict[str, Any]] = {}
    f1_present: list[float] = []
    present: list[str] = []
    for c, name in enumerate(names):
        tp = int(cm[c, c])
        support = int(cm[c, :].sum())
        predicted = int(cm[:, c].sum())
        fn = support - tp
        fp = predicted - tp
        tn = total - tp - fn - fp
        precision = ratio(tp, tp + fp)
        recall = ratio(tp, tp + fn)
        f1 = ratio(2 * tp, 2 * tp + fp + fn)
        per_class[name] = {
            "support": support,
            "predicted": predicted,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
            "precision": precision,
            "recall": recall,
            "se": recall,
            "ppv": precision,
            "specificity": ratio(tn, tn + fp),
            "f1": f1,
        }
        if support > 0:
            present.append(name)
            f1_present.append(f1 if f1 is not None else 0.0)  # f1 is defined whenever support > 0
    return {
        "n_classes": n_classes,
        "class_names": list(names),
        "n": total,
        "accuracy": ratio(int(np.trace(cm)), total),
        "macro_f1": (float(sum(f1_present)) / len(f1_present)) if f1_present else None,
        "macro_f1_classes": present,
        "per_class": per_class,
        "confusion": [[int(v) for v in row] for row in cm],
    }


def classification_report(y_true: Any, y_pred: Any, n_classes: int = N_CLASSES,
                          class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Accuracy, macro F1 and per-class Se/+P/Sp/F1/support plus the confusion matrix, JSON-ready.

    Keys: n_classes, class_names, n, accuracy, macro_f1, macro_f1_classes (the classes it averages over),
    per_class[name] = {support, predicted, tp, fp, fn, tn, precision, recall, se, ppv, specificity, f1},
    confusion (nested lists, rows = reference, columns = predicted). Undefined ratios are None.
    """
    n_classes = check_n_classes(n_classes)
    names = class_names_for(n_classes, class_names)
    cm = confusion_matrix(y_true, y_pred, n_classes)
    return _report_from_confusion(cm, names)


# --------------------------------------------------------------------------- MLflow-friendly flattening


def metric_key_part(text: str) -> str:
    """A class name as MLflow accepts it in a metric name (any other character becomes '_')."""
    return re.sub(r"[^A-Za-z0-9_./ -]", "_", text)


def check_metric_prefix(prefix: Any) -> str:
    """A metric name prefix MLflow accepts; DataError otherwise."""
    if not isinstance(prefix, str) or not _METRIC_KEY.fullmatch(prefix):
        raise DataError(f"metric prefix {prefix!r} has characters MLflow refuses", "prefix",
                        "use only letters, digits, '_', '-', '.', '/' and spaces")
    return prefix


def _flatten_classification(report: dict[str, Any], prefix: str, out: dict[str, float]) -> None:
    for key in ("accuracy", "macro_f1"):
        if report.get(key) is not None:
            out[f"{prefix}{key}"] = float(report[key])
    for name, stats in report["per_class"].items():
        part = metric_key_part(str(name))
        for src, dst in (("se", "se"), ("ppv", "ppv"), ("f1", "f1"), ("specificity", "spec")):
            if stats.get(src) is not None:
                out[f"{prefix}{dst}_{part}"] = float(stats[src])
        out[f"{prefix}support_{part}"] = float(stats["support"])


def flatten_metrics(report: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """One flat {name: float} dict of a classification report for `mlflow.log_metrics`.

    Keys: <prefix>accuracy, <prefix>macro_f1 and per class <prefix>se_<C>, ppv_<C>, f1_<C>, spec_<C>,
    support_<C> (characters MLflow refuses in a class name become '_'). Undefined (None) values are left out.
    An EC57 summary is flattened by `toolchain.ec57.flatten_ec57`.
    """
    check_metric_prefix(prefix)
    if not isinstance(report, dict):
        raise DataError(f"expected a report dict, got {type(report).__name__}", "report")
    if "per_class" not in report or "confusion" not in report:
        raise DataError("report is not a classification_report", "report",
                        "pass the dict returned by classification_report() (an EC57 summary: ec57.flatten_ec57)")
    out: dict[str, float] = {}
    _flatten_classification(report, prefix, out)
    return out
