"""Scoring for `heartbeat evaluate`: per-class beat classification metrics and AAMI EC57-style
beat-by-beat comparison of a detector/classifier against reference annotations.

Classes are the five AAMI heartbeat classes, indices 0..4 = N, S, V, F, Q (toolchain.mitdb.AAMI_CLASSES).

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

Beat matching (`match_beats`): each reference beat is paired with at most one detection and vice versa,
globally nearest pair first, a pair only when |detection - reference| <= tolerance (150 ms by default, as in
AAMI EC57). Equal distances are resolved toward the earlier pair. Unpaired references are false negatives,
unpaired detections false positives. This follows the standard's matching window and statistics (QRS Se/+P,
per-class Se/+P), not the exact bookkeeping of the reference `bxb` program; in particular beats are only
ignored before `start_sample` (the standard's optional learning period), and the whole remaining stretch
is scored.
"""
from __future__ import annotations

import heapq
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from toolchain.errors import DataError
from toolchain.mitdb import AAMI_CLASSES

__all__ = [
    "BeatMatch",
    "classification_report",
    "confusion_matrix",
    "ec57_summary",
    "flatten_metrics",
    "match_beats",
    "save_confusion_png",
]

DEFAULT_TOLERANCE_S = 0.15
_METRIC_KEY = re.compile(r"[A-Za-z0-9_./ -]*")


# --------------------------------------------------------------------------- helpers


def _ratio(num: int, den: int) -> float | None:
    """num / den as a plain float, None when the denominator is zero (undefined)."""
    return None if den == 0 else float(num) / float(den)


def _class_names(n_classes: int, class_names: Sequence[str] | None) -> list[str]:
    if class_names is None:
        if n_classes == len(AAMI_CLASSES):
            return list(AAMI_CLASSES)
        return [str(i) for i in range(n_classes)]
    names = [str(n) for n in class_names]
    if len(names) != n_classes:
        raise DataError(f"{len(names)} class names given for {n_classes} classes", "class_names",
                        "give exactly one name per class index")
    if len(set(names)) != len(names):
        raise DataError(f"class names are not unique: {names}", "class_names", "give each class its own name")
    return names


def _check_n_classes(n_classes: Any) -> int:
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise DataError(f"n_classes must be a positive integer, got {n_classes!r}", "n_classes")
    return int(n_classes)


def _as_int_vector(values: Any, name: str) -> np.ndarray:
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


def _check_labels(labels: np.ndarray, n_classes: int, name: str) -> None:
    bad = (labels < 0) | (labels >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{name} holds class {int(labels[i])} at index {i}, outside 0..{n_classes - 1}",
                        f"{name}[{i}]", "labels are AAMI class indices (N=0, S=1, V=2, F=3, Q=4)")


# --------------------------------------------------------------------------- classification


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int = 5) -> np.ndarray:
    """n_classes x n_classes int64 counts, rows = reference class, columns = predicted class."""
    n_classes = _check_n_classes(n_classes)
    t = _as_int_vector(y_true, "y_true")
    p = _as_int_vector(y_pred, "y_pred")
    if t.shape != p.shape:
        raise DataError(f"y_true has {t.size} labels but y_pred has {p.size}", "y_true/y_pred",
                        "score one prediction per reference beat")
    _check_labels(t, n_classes, "y_true")
    _check_labels(p, n_classes, "y_pred")
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
        precision = _ratio(tp, tp + fp)
        recall = _ratio(tp, tp + fn)
        f1 = _ratio(2 * tp, 2 * tp + fp + fn)
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
            "specificity": _ratio(tn, tn + fp),
            "f1": f1,
        }
        if support > 0:
            present.append(name)
            f1_present.append(f1 if f1 is not None else 0.0)  # f1 is defined whenever support > 0
    return {
        "n_classes": n_classes,
        "class_names": list(names),
        "n": total,
        "accuracy": _ratio(int(np.trace(cm)), total),
        "macro_f1": (float(sum(f1_present)) / len(f1_present)) if f1_present else None,
        "macro_f1_classes": present,
        "per_class": per_class,
        "confusion": [[int(v) for v in row] for row in cm],
    }


def classification_report(y_true: Any, y_pred: Any, n_classes: int = 5,
                          class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Accuracy, macro F1 and per-class Se/+P/Sp/F1/support plus the confusion matrix, JSON-ready.

    Keys: n_classes, class_names, n, accuracy, macro_f1, macro_f1_classes (the classes it averages over),
    per_class[name] = {support, predicted, tp, fp, fn, tn, precision, recall, se, ppv, specificity, f1},
    confusion (nested lists, rows = reference, columns = predicted). Undefined ratios are None.
    """
    n_classes = _check_n_classes(n_classes)
    names = _class_names(n_classes, class_names)
    cm = confusion_matrix(y_true, y_pred, n_classes)
    return _report_from_confusion(cm, names)


# --------------------------------------------------------------------------- MLflow-friendly flattening


def _safe_key_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_./ -]", "_", text)


def _flatten_classification(report: dict[str, Any], prefix: str, out: dict[str, float]) -> None:
    for key in ("accuracy", "macro_f1"):
        if report.get(key) is not None:
            out[f"{prefix}{key}"] = float(report[key])
    for name, stats in report["per_class"].items():
        part = _safe_key_part(str(name))
        for src, dst in (("se", "se"), ("ppv", "ppv"), ("f1", "f1"), ("specificity", "spec")):
            if stats.get(src) is not None:
                out[f"{prefix}{dst}_{part}"] = float(stats[src])
        out[f"{prefix}support_{part}"] = float(stats["support"])


def flatten_metrics(report: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """One flat {name: float} dict for `mlflow.log_metrics`.

    From a classification report: <prefix>accuracy, <prefix>macro_f1 and per class <prefix>se_<C>,
    ppv_<C>, f1_<C>, spec_<C>, support_<C>. From an `ec57_summary`: additionally <prefix>qrs_se, qrs_ppv,
    qrs_tp, qrs_fn, qrs_fp, gross_se_<C>, gross_ppv_<C>, offset_mean_abs_ms; the class metrics there are
    those of the matched beats. Undefined (None) values are left out.
    """
    if not isinstance(prefix, str) or not _METRIC_KEY.fullmatch(prefix):
        raise DataError(f"metric prefix {prefix!r} has characters MLflow refuses", "prefix",
                        "use only letters, digits, '_', '-', '.', '/' and spaces")
    if not isinstance(report, dict):
        raise DataError(f"expected a report dict, got {type(report).__name__}", "report")
    out: dict[str, float] = {}
    if "qrs" in report and "classes" in report:
        qrs = report["qrs"]
        for key in ("se", "ppv", "tp", "fn", "fp"):
            if qrs.get(key) is not None:
                out[f"{prefix}qrs_{key}"] = float(qrs[key])
        offsets = report.get("offset_ms")
        if offsets:
            out[f"{prefix}offset_mean_abs_ms"] = float(offsets["mean_abs"])
        _flatten_classification(report["classes"], prefix, out)
        for name, stats in report["gross"]["per_class"].items():
            part = _safe_key_part(str(name))
            for key in ("se", "ppv"):
                if stats.get(key) is not None:
                    out[f"{prefix}gross_{key}_{part}"] = float(stats[key])
    elif "per_class" in report and "confusion" in report:
        _flatten_classification(report, prefix, out)
    else:
        raise DataError("report is neither a classification_report nor an ec57_summary", "report",
                        "pass the dict returned by classification_report() or ec57_summary()")
    return out


# --------------------------------------------------------------------------- EC57 beat matching


@dataclass(frozen=True, eq=False)
class BeatMatch:
    """Result of `match_beats`. Index arrays point into the inputs as given (original order).

    ref_index[k] and det_index[k] form the k-th matched pair (pairs ordered by reference time);
    missed_ref are reference beats without a detection (false negatives), extra_det detections without a
    reference beat (false positives), both in time order. Beats before start_sample appear in none of them.
    """

    fs: float
    tolerance_s: float
    tolerance_samples: int
    start_sample: int
    n_classes: int
    ref_samples: np.ndarray
    ref_labels: np.ndarray
    det_samples: np.ndarray
    det_labels: np.ndarray
    ref_index: np.ndarray
    det_index: np.ndarray
    missed_ref: np.ndarray
    extra_det: np.ndarray

    @property
    def tp(self) -> int:
        return int(self.ref_index.size)

    @property
    def fn(self) -> int:
        return int(self.missed_ref.size)

    @property
    def fp(self) -> int:
        return int(self.extra_det.size)

    @property
    def n_ref(self) -> int:
        """Reference beats scored (at or after start_sample)."""
        return self.tp + self.fn

    @property
    def n_det(self) -> int:
        """Detections scored (at or after start_sample)."""
        return self.tp + self.fp

    @property
    def pairs(self) -> np.ndarray:
        """(tp, 2) array of [reference index, detection index]."""
        return np.stack([self.ref_index, self.det_index], axis=1) if self.tp else np.zeros((0, 2), np.int64)

    @property
    def offsets_samples(self) -> np.ndarray:
        """Detection minus reference time of each matched pair, in samples."""
        return self.det_samples[self.det_index] - self.ref_samples[self.ref_index]

    @property
    def matched_ref_labels(self) -> np.ndarray:
        return self.ref_labels[self.ref_index]

    @property
    def matched_det_labels(self) -> np.ndarray:
        return self.det_labels[self.det_index]


def _nearest_first_pairs(ref: np.ndarray, det: np.ndarray, ref_lab: np.ndarray, det_lab: np.ndarray,
                         tol: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one matching, globally closest pair first, |det - ref| <= tol.

    On a line the closest remaining reference/detection pair always has no remaining beat between them
    (any beat in between would be at least as close to one end), so it suffices to keep the neighbouring
    reference/detection pairs of the merged time order in a heap, and after each match link the two
    beats that become neighbours. O((n + m) log(n + m)).

    Returns (reference positions, detection positions) into `ref` / `det`.
    """
    n, m = ref.size, det.size
    if n == 0 or m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    times = np.concatenate([ref, det])
    kind = np.concatenate([np.zeros(n, np.int8), np.ones(m, np.int8)])
    labels = np.concatenate([ref_lab, det_lab])
    order = np.lexsort((labels, kind, times))  # merged time order; identical beats are interchangeable
    t = times[order]
    k = kind[order]
    total = n + m
    # Initial neighbouring mixed pairs within tolerance, found vectorised.
    gap = t[1:] - t[:-1]
    cand = np.flatnonzero((k[1:] != k[:-1]) & (gap <= tol))
    heap: list[tuple[int, int, int]] = [(int(gap[i]), int(i), int(i + 1)) for i in cand]
    heapq.heapify(heap)
    prev = list(range(-1, total - 1))
    nxt = list(range(1, total + 1))  # total means "none"
    alive = [True] * total
    t_list = t.tolist()
    k_list = k.tolist()
    out_ref: list[int] = []
    out_det: list[int] = []
    while heap:
        dist, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]):
            continue  # stale: one end already matched (two live beats, once neighbours, stay neighbours)
        alive[a] = alive[b] = False
        if k_list[a] == 0:
            out_ref.append(a)
            out_det.append(b)
        else:
            out_ref.append(b)
            out_det.append(a)
        left, right = prev[a], nxt[b]
        if left >= 0:
            nxt[left] = right
        if right < total:
            prev[right] = left
        if left >= 0 and right < total and k_list[left] != k_list[right]:
            d = t_list[right] - t_list[left]
            if d <= tol:
                heapq.heappush(heap, (d, left, right))
    ref_pos = order[np.asarray(out_ref, dtype=np.int64)]
    det_pos = order[np.asarray(out_det, dtype=np.int64)] - n
    return ref_pos.astype(np.int64), det_pos.astype(np.int64)


def match_beats(ref_samples: Any, ref_labels: Any, det_samples: Any, det_labels: Any, fs: float,
                tolerance_s: float = DEFAULT_TOLERANCE_S, start_sample: int = 0,
                n_classes: int = 5) -> BeatMatch:
    """Pair detected beats with reference beats, AAMI EC57 style (see the module docstring).

    ref_samples/det_samples: sample indices (any order, duplicates allowed); ref_labels/det_labels: class
    indices 0..n_classes-1, one per beat. A pair needs |det - ref| <= floor(tolerance_s * fs) samples
    (150 ms at 360 Hz = 54 samples). Beats before start_sample (a learning period) are not scored.
    """
    n_classes = _check_n_classes(n_classes)
    if isinstance(fs, bool) or not isinstance(fs, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(fs)) or fs <= 0:
        raise DataError(f"sampling rate must be a positive number, got {fs!r}", "fs")
    if isinstance(tolerance_s, bool) or not isinstance(tolerance_s, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(tolerance_s)) or tolerance_s < 0:
        raise DataError(f"tolerance must be a non-negative number of seconds, got {tolerance_s!r}",
                        "tolerance_s", "AAMI EC57 uses 0.15 s")
    if isinstance(start_sample, bool) or not isinstance(start_sample, (int, np.integer)) or start_sample < 0:
        raise DataError(f"start_sample must be a non-negative integer, got {start_sample!r}", "start_sample")
    rs = _as_int_vector(ref_samples, "ref_samples")
    rl = _as_int_vector(ref_labels, "ref_labels")
    ds = _as_int_vector(det_samples, "det_samples")
    dl = _as_int_vector(det_labels, "det_labels")
    for s, lab, side in ((rs, rl, "ref"), (ds, dl, "det")):
        if s.size != lab.size:
            raise DataError(f"{s.size} {side}_samples but {lab.size} {side}_labels", f"{side}_labels",
                            "give one class label per beat")
        if s.size and s.min() < 0:
            i = int(np.argmin(s))
            raise DataError(f"{side}_samples holds a negative sample index {int(s[i])} at index {i}",
                            f"{side}_samples[{i}]")
        _check_labels(lab, n_classes, f"{side}_labels")
    # Tiny epsilon so that e.g. 0.15 s * 360 Hz gives 54 and not 53 through rounding of 0.15.
    tol = int(math.floor(float(tolerance_s) * float(fs) + 1e-9))

    r_keep = np.flatnonzero(rs >= start_sample)
    d_keep = np.flatnonzero(ds >= start_sample)
    r_pos, d_pos = _nearest_first_pairs(rs[r_keep], ds[d_keep], rl[r_keep], dl[d_keep], tol)
    ref_index = r_keep[r_pos]
    det_index = d_keep[d_pos]
    # Pairs in time order; ties only between identical beats, so the order of values never depends on input order.
    by_time = np.lexsort((dl[det_index], ds[det_index], rl[ref_index], rs[ref_index]))
    ref_index, det_index = ref_index[by_time], det_index[by_time]

    r_matched = np.zeros(rs.size, dtype=bool)
    r_matched[ref_index] = True
    d_matched = np.zeros(ds.size, dtype=bool)
    d_matched[det_index] = True
    missed = r_keep[~r_matched[r_keep]]
    extra = d_keep[~d_matched[d_keep]]
    missed = missed[np.lexsort((rl[missed], rs[missed]))]
    extra = extra[np.lexsort((dl[extra], ds[extra]))]
    return BeatMatch(
        fs=float(fs), tolerance_s=float(tolerance_s), tolerance_samples=tol, start_sample=int(start_sample),
        n_classes=n_classes, ref_samples=rs, ref_labels=rl, det_samples=ds, det_labels=dl,
        ref_index=ref_index.astype(np.int64), det_index=det_index.astype(np.int64),
        missed_ref=missed.astype(np.int64), extra_det=extra.astype(np.int64),
    )


def ec57_summary(match: BeatMatch, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """QRS detection and per-class statistics of a `BeatMatch`, JSON-ready.

    Keys:
      qrs: {tp, fn, fp, se, ppv} — detection sensitivity and positive predictivity.
      classes: a classification_report of the matched beats only (reference label vs detected label).
      gross: matrix (n_classes + 1) square: the matched-beat confusion, plus a last column counting each
        reference class's missed beats and a last row counting each detected class's unmatched detections
        (corner 0); row_names/col_names; per_class {se, ppv} where a missed reference beat of class c
        counts against Se_c and an unmatched detection labelled c counts against +P_c.
      offset_ms: {mean, mean_abs, max_abs} of detection minus reference time over matched pairs, or None.
      plus fs, tolerance_s, tolerance_samples, start_sample, n_ref, n_det.
    """
    if not isinstance(match, BeatMatch):
        raise DataError(f"expected the BeatMatch from match_beats(), got {type(match).__name__}", "match")
    n = match.n_classes
    names = _class_names(n, class_names)
    classes = classification_report(match.matched_ref_labels, match.matched_det_labels, n, names)
    gross = np.zeros((n + 1, n + 1), dtype=np.int64)
    gross[:n, :n] = np.asarray(classes["confusion"], dtype=np.int64).reshape(n, n)
    gross[:n, n] = np.bincount(match.ref_labels[match.missed_ref], minlength=n)
    gross[n, :n] = np.bincount(match.det_labels[match.extra_det], minlength=n)
    gross_per_class = {
        name: {
            "se": _ratio(int(gross[c, c]), int(gross[c, :].sum())),
            "ppv": _ratio(int(gross[c, c]), int(gross[:, c].sum())),
        }
        for c, name in enumerate(names)
    }
    if match.tp:
        off_ms = match.offsets_samples.astype(np.float64) * 1000.0 / match.fs
        offsets: dict[str, float] | None = {
            "mean": float(off_ms.mean()),
            "mean_abs": float(np.abs(off_ms).mean()),
            "max_abs": float(np.abs(off_ms).max()),
        }
    else:
        offsets = None
    return {
        "fs": match.fs,
        "tolerance_s": match.tolerance_s,
        "tolerance_samples": match.tolerance_samples,
        "start_sample": match.start_sample,
        "n_ref": match.n_ref,
        "n_det": match.n_det,
        "qrs": {
            "tp": match.tp,
            "fn": match.fn,
            "fp": match.fp,
            "se": _ratio(match.tp, match.tp + match.fn),
            "ppv": _ratio(match.tp, match.tp + match.fp),
        },
        "classes": classes,
        "gross": {
            "row_names": names + ["unmatched"],
            "col_names": names + ["missed"],
            "matrix": [[int(v) for v in row] for row in gross],
            "per_class": gross_per_class,
        },
        "offset_ms": offsets,
    }


# --------------------------------------------------------------------------- figure


def save_confusion_png(matrix: Any, class_names: Sequence[str], path: str | os.PathLike[str],
                       title: str = "Confusion matrix") -> Path:
    """Write a confusion-matrix heat map (counts and row-normalised percentages) as PNG; return the path.

    Rows are reference classes (with their support), columns predicted classes. The colour of a cell is
    its share of the row, so rare classes are as readable as common ones. The file is written to a
    temporary name and renamed, so an existing figure is never left half-written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    try:
        cm = np.asarray(matrix)
    except Exception as exc:
        raise DataError(f"confusion matrix is not an array: {exc}", "matrix") from exc
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise DataError(f"confusion matrix must be square and non-empty, got shape {cm.shape}", "matrix")
    if cm.dtype.kind not in "iuf" or not np.all(np.isfinite(cm)) or (cm < 0).any() \
            or (cm != np.round(cm)).any():
        raise DataError("confusion matrix must hold non-negative whole counts", "matrix")
    cm = cm.astype(np.int64)
    names = [str(n) for n in class_names]
    if len(names) != cm.shape[0]:
        raise DataError(f"{len(names)} class names for a {cm.shape[0]}x{cm.shape[0]} matrix", "class_names",
                        "give one name per row")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)

    n = cm.shape[0]
    row_sums = cm.sum(axis=1)
    frac = np.divide(cm, row_sums[:, None], out=np.zeros(cm.shape, dtype=np.float64),
                     where=row_sums[:, None] > 0)
    side = max(4.5, 1.1 * n + 2.2)
    fig = Figure(figsize=(side + 1.0, side), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.set_label("share of reference row")
    for i in range(n):
        for j in range(n):
            if row_sums[i] > 0:
                text = f"{cm[i, j]:,}\n{100.0 * frac[i, j]:.1f}%"
            else:
                text = f"{cm[i, j]:,}\n-"
            colour = "white" if frac[i, j] > 0.55 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color=colour)
    ax.set_xticks(range(n), labels=names)
    ax.set_yticks(range(n), labels=[f"{nm}\n(n={int(s):,})" for nm, s in zip(names, row_sums)])
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("Reference class")
    ax.set_title(f"{title}\n{int(cm.sum()):,} beats, accuracy "
                 + (f"{100.0 * np.trace(cm) / cm.sum():.1f}%" if cm.sum() else "n/a"), fontsize=10)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        fig.savefig(tmp, format="png", bbox_inches="tight", pad_inches=0.15)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out
