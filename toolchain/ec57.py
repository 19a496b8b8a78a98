"""AAMI EC57-style beat-by-beat comparison of a detector/classifier against reference annotations.

Beat matching (`match_beats`): each reference beat is paired with at most one detection and vice versa,
globally nearest pair first, a pair only when |detection - reference| <= tolerance (150 ms by default, as in
AAMI EC57). Equal distances are resolved toward the earlier pair. Unpaired references are false negatives,
unpaired detections false positives. This follows the standard's matching window and statistics (QRS Se/+P,
per-class Se/+P), not the exact bookkeeping of the reference `bxb` program; in particular beats are only
ignored before `start_sample` (the standard's optional learning period), and the whole remaining stretch
is scored.

`ec57_summary` turns a match into QRS and per-class statistics (the classification metrics of toolchain.metrics
on the matched beats, plus the gross statistics that count missed and extra beats), JSON-ready, undefined
ratios None; `flatten_ec57` gives its flat form for MLflow.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from heartbeat_core.domain import N_CLASSES
from heartbeat_core.errors import DataError
from toolchain.metrics import (
    as_int_vector,
    check_labels,
    check_metric_prefix,
    check_n_classes,
    class_names_for,
    classification_report,
    flatten_metrics,
    metric_key_part,
    ratio,
)

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "BeatMatch",
    "ec57_summary",
    "flatten_ec57",
    "match_beats",
]

DEFAULT_TOLERANCE_S = 0.15  # AAMI EC57's matching window


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
                n_classes: int = N_CLASSES) -> BeatMatch:
    """Pair detected beats with reference beats, AAMI EC57 style (see the module docstring).

    ref_samples/det_samples: sample indices (any order, duplicates allowed); ref_labels/det_labels: class
    indices 0..n_classes-1, one per beat. A pair needs |det - ref| <= floor(tolerance_s * fs) samples
    (150 ms at 360 Hz = 54 samples). Beats before start_sample (a learning period) are not scored.
    """
    n_classes = check_n_classes(n_classes)
    if isinstance(fs, bool) or not isinstance(fs, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(fs)) or fs <= 0:
        raise DataError(f"sampling rate must be a positive number, got {fs!r}", "fs")
    if isinstance(tolerance_s, bool) or not isinstance(tolerance_s, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(tolerance_s)) or tolerance_s < 0:
        raise DataError(f"tolerance must be a non-negative number of seconds, got {tolerance_s!r}",
                        "tolerance_s", "AAMI EC57 uses 0.15 s")
    if isinstance(start_sample, bool) or not isinstance(start_sample, (int, np.integer)) or start_sample < 0:
        raise DataError(f"start_sample must be a non-negative integer, got {start_sample!r}", "start_sample")
    rs = as_int_vector(ref_samples, "ref_samples")
    rl = as_int_vector(ref_labels, "ref_labels")
    ds = as_int_vector(det_samples, "det_samples")
    dl = as_int_vector(det_labels, "det_labels")
    for s, lab, side in ((rs, rl, "ref"), (ds, dl, "det")):
        if s.size != lab.size:
            raise DataError(f"{s.size} {side}_samples but {lab.size} {side}_labels", f"{side}_labels",
                            "give one class label per beat")
        if s.size and s.min() < 0:
            i = int(np.argmin(s))
            raise DataError(f"{side}_samples holds a negative sample index {int(s[i])} at index {i}",
                            f"{side}_samples[{i}]")
        check_labels(lab, n_classes, f"{side}_labels")
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
    names = class_names_for(n, class_names)
    classes = classification_report(match.matched_ref_labels, match.matched_det_labels, n, names)
    gross = np.zeros((n + 1, n + 1), dtype=np.int64)
    gross[:n, :n] = np.asarray(classes["confusion"], dtype=np.int64).reshape(n, n)
    gross[:n, n] = np.bincount(match.ref_labels[match.missed_ref], minlength=n)
    gross[n, :n] = np.bincount(match.det_labels[match.extra_det], minlength=n)
    gross_per_class = {
        name: {
            "se": ratio(int(gross[c, c]), int(gross[c, :].sum())),
            "ppv": ratio(int(gross[c, c]), int(gross[:, c].sum())),
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
            "se": ratio(match.tp, match.tp + match.fn),
            "ppv": ratio(match.tp, match.tp + match.fp),
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


def flatten_ec57(summary: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """One flat {name: float} dict of an `ec57_summary` for `mlflow.log_metrics`.

    Keys: <prefix>qrs_se, qrs_ppv, qrs_tp, qrs_fn, qrs_fp, offset_mean_abs_ms, gross_se_<C>, gross_ppv_<C>,
    and the classification keys of `toolchain.metrics.flatten_metrics` for the matched beats. Undefined (None)
    values are left out.
    """
    check_metric_prefix(prefix)
    if not isinstance(summary, dict) or "qrs" not in summary or "classes" not in summary:
        raise DataError("report is not an ec57_summary", "summary", "pass the dict returned by ec57_summary()")
    out: dict[str, float] = {}
    qrs = summary["qrs"]
    for key in ("se", "ppv", "tp", "fn", "fp"):
        if qrs.get(key) is not None:
            out[f"{prefix}qrs_{key}"] = float(qrs[key])
    offsets = summary.get("offset_ms")
    if offsets:
        out[f"{prefix}offset_mean_abs_ms"] = float(offsets["mean_abs"])
    out.update(flatten_metrics(summary["classes"], prefix))
    for name, stats in summary["gross"]["per_class"].items():
        part = metric_key_part(str(name))
        for key in ("se", "ppv"):
            if stats.get(key) is not None:
                out[f"{prefix}gross_{key}_{part}"] = float(stats[key])
    return out
