"""Data sets: MIT-BIH records -> labelled beats -> protocol splits, cached by a hash of inputs and parameters.

Two beat constructions:
- "device": the device's own view. The DSP twin (toolchain.dsp) detects R peaks in the record, each detection is
  matched to the nearest reference beat annotation within 150 ms (one to one) and takes its AAMI class; detections
  with no reference beat are not training data. Inputs: the int8 beat window and the int8 RR features.
- "kaggle": Kachuee et al. 2018 (toolchain.kaggle): 125 Hz, 1.2 x median RR from the annotated R peak, [0, 1],
  zero-padded to 187.

Two protocols:
- "inter-patient" (de Chazal 2004): train on DS1, test on DS2, paced records left out. The product's claim.
- "intra-patient": all 48 records, stratified random split of the beats. Only for comparison with the design
  document's figure; it leaks patients between train and test.

A BeatSet is stored as one .npz file (`BeatSet.save` / `BeatSet.load`): the beat cache here, and the clinician-
labelled beats the server's worker hands to a training job.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from heartbeat_core import ui
from heartbeat_core.domain import AAMI_CLASSES, FS, INPUT_SCALE, N_CLASSES
from heartbeat_core.errors import DataError
from toolchain import dsp
from toolchain.ec57 import DEFAULT_TOLERANCE_S, match_beats
from toolchain.mitdb import ALL_RECORDS, DEFAULT_LEAD, DS1, DS2, load_record, read_checksums, verify_record_files

KINDS = ("device", "kaggle")
PROTOCOLS = ("inter-patient", "intra-patient")
CACHE_FORMAT = "2"


@dataclass
class BeatSet:
    """Labelled beats of one construction. `x` is int8 windows (device) or float32 [0,1] beats (kaggle)."""

    kind: str
    x: np.ndarray
    rr: np.ndarray | None
    y: np.ndarray
    record: np.ndarray
    sample: np.ndarray
    pre_rr: np.ndarray  # int64 samples at 360 Hz to the previous beat (device: the first beat uses its post-RR)
    post_rr: np.ndarray  # int64 samples at 360 Hz to the next beat
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, idx: np.ndarray) -> BeatSet:
        return BeatSet(self.kind, self.x[idx], None if self.rr is None else self.rr[idx], self.y[idx],
                       self.record[idx], self.sample[idx], self.pre_rr[idx], self.post_rr[idx], dict(self.stats))

    def model_inputs(self) -> dict[str, np.ndarray]:
        """Float inputs of the Keras model, keyed by input name ("beat" [n,1,L,1] and, for device, "rr"
        [n,RR_FEATURES])."""
        if self.kind == "device":
            return {
                "beat": (self.x.astype(np.float32) * INPUT_SCALE).reshape(len(self), 1, -1, 1),
                "rr": self.rr.astype(np.float32) * INPUT_SCALE,
            }
        return {"beat": self.x.astype(np.float32).reshape(len(self), 1, -1, 1)}

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y, minlength=N_CLASSES)
        return {c: int(n) for c, n in zip(AAMI_CLASSES, counts, strict=True)}

    def save(self, path: Path) -> Path:
        """Write the beats to `path` as one compressed .npz (written under a temporary name, then renamed)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, x=self.x, rr=self.rr if self.rr is not None else np.zeros(0, np.int8),
                                    y=self.y, record=self.record, sample=self.sample, pre_rr=self.pre_rr,
                                    post_rr=self.post_rr, stats=json.dumps(self.stats))
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @staticmethod
    def load(path: Path, kind: str) -> BeatSet:
        """The beats `save` wrote to `path` (of construction `kind`: the file does not record it)."""
        with np.load(path, allow_pickle=False) as z:
            rr = z["rr"] if z["rr"].size else None
            stats = json.loads(str(z["stats"])) if "stats" in z.files else {}
            return BeatSet(kind, z["x"], rr, z["y"], z["record"], z["sample"], z["pre_rr"], z["post_rr"], stats)

    @staticmethod
    def concat(sets: list[BeatSet]) -> BeatSet:
        if not sets:
            raise DataError("no beats to concatenate")
        first = sets[0]
        return BeatSet(
            first.kind,
            np.concatenate([s.x for s in sets]),
            None if first.rr is None else np.concatenate([s.rr for s in sets]),
            np.concatenate([s.y for s in sets]),
            np.concatenate([s.record for s in sets]),
            np.concatenate([s.sample for s in sets]),
            np.concatenate([s.pre_rr for s in sets]),
            np.concatenate([s.post_rr for s in sets]),
        )


def label_detections(ref_samples: np.ndarray, ref_labels: np.ndarray, det_samples: np.ndarray,
                     tolerance_s: float = DEFAULT_TOLERANCE_S) -> np.ndarray:
    """AAMI class of each detection (-1 where no reference beat lies within tolerance), matched one to one."""
    match = match_beats(ref_samples, ref_labels, det_samples, np.zeros(len(det_samples), dtype=np.int64),
                        fs=FS, tolerance_s=tolerance_s)
    labels = np.full(len(det_samples), -1, dtype=np.int64)
    ref_idx = np.asarray(match.ref_index, dtype=np.int64)
    det_idx = np.asarray(match.det_index, dtype=np.int64)
    labels[det_idx] = np.asarray(ref_labels, dtype=np.int64)[ref_idx]
    return labels


def device_beats_of_record(data_dir: Path, record_id: str, lead: str | int = DEFAULT_LEAD,
                           checksums: dict[str, str] | None = None) -> BeatSet:
    rec = load_record(data_dir, record_id, lead, checksums=checksums)
    beats = dsp.device_beats(rec.signal)
    ref_samples, ref_labels = rec.beat_annotations()
    labels = label_detections(ref_samples, ref_labels, beats.r)
    keep = labels >= 0
    stats = {"record": record_id, "lead": rec.lead, "reference_beats": int(len(ref_samples)),
             "device_beats": int(len(beats.r)), "labelled": int(keep.sum())}
    return BeatSet("device", beats.windows[keep], beats.rr[keep], labels[keep],
                   np.full(int(keep.sum()), record_id), beats.r[keep], beats.pre_rr[keep], beats.post_rr[keep], stats)


def kaggle_beats_of_record(data_dir: Path, record_id: str, lead: str | int = DEFAULT_LEAD,
                           checksums: dict[str, str] | None = None) -> BeatSet:
    from toolchain.kaggle import build_kaggle_beats

    rec = load_record(data_dir, record_id, lead, checksums=checksums)
    kb = build_kaggle_beats(data_dir, [record_id], lead=lead, edge="truncate")  # closest to the published set
    ref, _ = rec.beat_annotations()
    pre_rr, post_rr = _annotated_rr(ref, kb.sample.astype(np.int64))
    return BeatSet("kaggle", kb.x.astype(np.float32), None, kb.y.astype(np.int64),
                   np.asarray(kb.record).astype(str), kb.sample.astype(np.int64), pre_rr, post_rr,
                   {"record": record_id, "beats": int(len(kb.y))})


def _annotated_rr(ref: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pre- and post-RR of annotated beats from the record's full beat list (0 where there is no neighbour)."""
    idx = np.searchsorted(ref, samples)
    prev = np.where(idx > 0, ref[np.maximum(idx - 1, 0)], samples)
    nxt = np.where(idx + 1 < len(ref), ref[np.minimum(idx + 1, len(ref) - 1)], samples)
    return (samples - prev).astype(np.int64), (nxt - samples).astype(np.int64)


def _cache_key(kind: str, records: tuple[str, ...], lead: str | int, data_dir: Path) -> str:
    checksums = read_checksums(data_dir)
    digests = {r: verify_record_files(data_dir, r, checksums) for r in records}
    payload = {"format": CACHE_FORMAT, "kind": kind, "dsp": dsp.DSP_VERSION, "lead": lead,
               "records": list(records), "files": digests}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def build_beats(kind: str, records: tuple[str, ...], data_dir: Path, lead: str | int = DEFAULT_LEAD,
                cache_dir: Path | None = None) -> BeatSet:
    """Beats of the given records (cached: same files and parameters give the same arrays without rebuilding)."""
    if kind not in KINDS:
        raise DataError(f"unknown beat construction {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    records = tuple(records)
    key = _cache_key(kind, records, lead, data_dir)
    path = cache_dir / f"beats-{kind}-{key}.npz" if cache_dir else None
    if path is not None and path.exists():
        return BeatSet.load(path, kind)
    checksums = read_checksums(data_dir)
    per_record = device_beats_of_record if kind == "device" else kaggle_beats_of_record
    parts = [per_record(data_dir, r, lead, checksums) for r in ui.track(records, f"Building {kind} beats")]
    out = BeatSet.concat(parts)
    out.stats = {"records": [p.stats for p in parts], "class_counts": out.class_counts()}
    if path is not None:
        out.save(path)
    return out


@dataclass
class Splits:
    protocol: str
    kind: str
    train: BeatSet
    val: BeatSet
    test: BeatSet
    train_records: tuple[str, ...]
    test_records: tuple[str, ...]
    seed: int

    def describe(self) -> dict:
        return {
            "protocol": self.protocol, "kind": self.kind, "seed": self.seed,
            "train_records": list(self.train_records), "test_records": list(self.test_records),
            "train_beats": len(self.train), "val_beats": len(self.val), "test_beats": len(self.test),
            "train_class_counts": self.train.class_counts(), "test_class_counts": self.test.class_counts(),
        }


def _stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rest, held_out): `fraction` of every class held out, at least one where a class has two or more."""
    rng = np.random.default_rng(seed)
    held, rest = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        k = int(round(fraction * len(idx)))
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        else:
            k = 0
        held.append(idx[:k])
        rest.append(idx[k:])
    return np.sort(np.concatenate(rest)), np.sort(np.concatenate(held))


def make_splits(protocol: str, kind: str, data_dir: Path, cache_dir: Path | None, seed: int = 0,
                train_records: tuple[str, ...] | None = None, test_records: tuple[str, ...] | None = None,
                val_fraction: float = 0.1, test_fraction: float = 0.2, lead: str | int = DEFAULT_LEAD,
                val_records: tuple[str, ...] | None = None) -> Splits:
    """Train/validation/test beats of a protocol. Record lists may be narrowed (tests train on small subsets).

    Validation (early stopping) is a stratified `val_fraction` of the training beats, or, with `val_records`,
    whole training patients held out (inter-patient only): early stopping then rewards generalising to new
    patients rather than fitting the training patients better.
    """
    if protocol == "inter-patient":
        train_records = tuple(train_records or DS1)
        test_records = tuple(test_records or DS2)
        overlap = set(train_records) & set(test_records)
        if overlap:
            raise DataError(f"inter-patient protocol with records in both train and test: {sorted(overlap)}",
                            hint="a patient may be in only one of the two sets")
        train_all = build_beats(kind, train_records, data_dir, lead, cache_dir)
        test = build_beats(kind, test_records, data_dir, lead, cache_dir)
    elif protocol == "intra-patient":
        records = tuple(train_records or ALL_RECORDS)
        every = build_beats(kind, records, data_dir, lead, cache_dir)
        rest, held = _stratified_split(every.y, test_fraction, seed)
        train_all, test = every.subset(rest), every.subset(held)
        train_records = test_records = records
    else:
        raise DataError(f"unknown protocol {protocol!r}", hint=f"use one of {', '.join(PROTOCOLS)}")
    if val_records:
        if protocol != "inter-patient" or not set(val_records) <= set(train_records):
            raise DataError(f"validation records {list(val_records)} must be training records of the "
                            "inter-patient protocol")
        held = np.isin(train_all.record, np.asarray(val_records))
        fit, val = np.flatnonzero(~held), np.flatnonzero(held)
    else:
        fit, val = _stratified_split(train_all.y, val_fraction, seed + 1)
    return Splits(protocol, kind, train_all.subset(fit), train_all.subset(val), test, train_records, test_records,
                  seed)


def splits_from_kaggle_csv(train_csv: Path, test_csv: Path, seed: int = 0, val_fraction: float = 0.1) -> Splits:
    """Splits from the Kaggle set's CSV files (187 values + label per row), e.g. the published mitbih_*.csv."""
    from toolchain.kaggle import read_kaggle_csv

    parts = []
    for path in (train_csv, test_csv):
        x, y = read_kaggle_csv(path)
        unknown = np.zeros(len(y), dtype=np.int64)  # the CSV format carries no RR intervals
        parts.append(BeatSet("kaggle", x, None, y, np.full(len(y), Path(path).name), np.arange(len(y)),
                             unknown, unknown, {"csv": str(path)}))
    fit, val = _stratified_split(parts[0].y, val_fraction, seed + 1)
    return Splits("intra-patient", "kaggle", parts[0].subset(fit), parts[0].subset(val), parts[1],
                  (str(train_csv),), (str(test_csv),), seed)


def extend_training(splits: Splits, extra: BeatSet | None = None, sample: int | None = None,
                    seed: int = 0) -> Splits:
    """The splits with a different training set: `extra` labelled beats added, and/or sampled down to `sample` beats.

    `extra` are device beats from outside the records (e.g. beats a clinician confirmed or relabelled on the ward),
    in the caller's order of priority (newest first). With `sample`, the training set holds exactly
    min(sample, available) beats: the first `sample` extra beats, filled up with a stratified random sample
    (`seed`) of the records' training beats. Validation and test beats are never changed, so the test metrics
    stay comparable with other models of the same protocol.
    """
    if extra is not None:
        if extra.kind != splits.kind:
            raise DataError(f"extra beats are {extra.kind!r} beats, the splits are {splits.kind!r}", "extra beats")
        if len(extra) and (extra.x.shape[1:] != splits.train.x.shape[1:]
                           or (extra.rr is None) != (splits.train.rr is None)
                           or (extra.rr is not None and extra.rr.shape[1:] != splits.train.rr.shape[1:])):
            raise DataError(f"extra beats have inputs {extra.x.shape[1:]} / "
                            f"{None if extra.rr is None else extra.rr.shape[1:]}, the training beats "
                            f"{splits.train.x.shape[1:]} / "
                            f"{None if splits.train.rr is None else splits.train.rr.shape[1:]}", "extra beats")
        if len(extra) and (extra.y.min() < 0 or extra.y.max() >= N_CLASSES):
            raise DataError(f"extra beats have labels outside 0..{N_CLASSES - 1}", "extra beats")
    if sample is not None and sample < 1:
        raise DataError(f"training sample size must be at least 1, got {sample}", "sample")
    train = splits.train
    if sample is not None:
        taken = extra.subset(np.arange(min(sample, len(extra)))) if extra is not None and len(extra) else None
        room = sample - (len(taken) if taken is not None else 0)
        if room <= 0:
            train = taken
        elif room < len(train):
            _, picked = _stratified_split(train.y, room / len(train), seed)
            rng = np.random.default_rng(seed)
            if len(picked) > room:  # per-class rounding can overshoot by a few beats
                picked = np.sort(rng.choice(picked, room, replace=False))
            train = train.subset(picked)
        if taken is not None and room > 0:
            train = BeatSet.concat([train, taken])
    elif extra is not None and len(extra):
        train = BeatSet.concat([train, extra])
    return Splits(splits.protocol, splits.kind, train, splits.val, splits.test, splits.train_records,
                  splits.test_records, splits.seed)
