"""The Kaggle "ECG Heartbeat Categorization" beats, built from MIT-BIH records, and their CSV format.

The construction follows Kachuee M, Fazeli S, Sarrafzadeh M. "ECG Heartbeat Classification: A Deep Transferable
Representation", IEEE ICHI 2018 (arXiv:1805.00794), with one deliberate change: the R peaks are the record's
reference beat annotations instead of the paper's thresholded local maxima, so every beat has its reference label.

For each record (one lead, MLII by default; `toolchain.mitdb.load_record` falls back to the first lead when the
record has no lead of that name, and `KaggleBeats.leads` tells which lead was used):

1. The whole signal is resampled from 360 Hz to 125 Hz (`scipy.signal.resample_poly(x, 25, 72)`; output sample
   k is at input time 72k/25).
2. It is cut into consecutive, non-overlapping 10 s windows (1250 samples) from the record's first sample. The
   trailing part shorter than 10 s is not used.
3. Each window is scaled to [0, 1] on its own: (w - min(w)) / (max(w) - min(w)).
4. The R peaks are the beat annotations (symbols of `toolchain.mitdb.SYMBOL_TO_CLASS`; every other annotation is
   ignored), moved to 125 Hz as round(sample * 25 / 72) (halves round up). A beat belongs to the window holding
   its 125 Hz R peak.
5. T = median of the RR intervals between consecutive beats of the window (125 Hz samples); the beat length is
   L = round(1.2 * T) (halves round up).
6. Each beat is the window's samples from its R peak on, min(L, 187) of them, zero-padded to 187 values. Its
   label is the AAMI class index (0..4 for N, S, V, F, Q, `toolchain.mitdb.CLASS_INDEX`); it keeps its record
   id and its annotation's sample index at 360 Hz.

Beats that are left out, counted per reason in `KaggleBeats.skipped`:

- ``past_window``: the beat's min(L, 187) samples run past the end of its window (only with
  ``edge="skip"``, the default; ``edge="truncate"`` keeps the beat, cut at the window's end and zero-padded).
- ``partial_window``: the R peak lies in the trailing part of the record shorter than 10 s.
- ``lone_beat``: its window holds fewer than two beats, so it has no RR interval (or its median RR rounds to
  less than one sample).
- ``flat_window``: its window is constant, so it cannot be scaled to [0, 1].

The CSV format is the published one: one beat per line, no header, 188 comma-separated numbers: the 187 values
and then the label as a float (0.0 .. 4.0). Values are written as ``%.18e`` like the published files, so a
float32 value reads back exactly.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from heartbeat_core.domain import FS, N_CLASSES
from heartbeat_core.errors import DataError
from toolchain.mitdb import DEFAULT_LEAD, load_record, read_checksums

TARGET_FS = 125  # Hz
RESAMPLE_UP, RESAMPLE_DOWN = 25, 72  # 360 Hz * 25 / 72 = 125 Hz
WINDOW_SECONDS = 10
WINDOW_LEN = TARGET_FS * WINDOW_SECONDS  # 1250 samples at 125 Hz
BEAT_LEN = 187  # values per beat
RR_FACTOR = 1.2
N_COLUMNS = BEAT_LEN + 1  # 187 values + label
SKIP_REASONS: tuple[str, ...] = ("past_window", "partial_window", "lone_beat", "flat_window")
EDGE_MODES: tuple[str, ...] = ("skip", "truncate")

_CHUNK_LINES = 4096  # lines parsed per numpy call when reading a CSV
_CSV_HINT = (f"each line must hold {BEAT_LEN} values in [0, 1] and a label 0.0..{N_CLASSES - 1}.0, comma-separated, "
             "no header")

assert FS * RESAMPLE_UP == TARGET_FS * RESAMPLE_DOWN


@dataclass(frozen=True, eq=False)
class KaggleBeats:
    """Beats in the Kaggle layout, in record order (as given) and then annotation order."""

    x: np.ndarray  # float32 [n, 187], values in [0, 1], zero-padded
    y: np.ndarray  # int64 [n], AAMI class index 0..4
    record: np.ndarray  # str [n], record id
    sample: np.ndarray  # int64 [n], annotation sample index at 360 Hz
    skipped: dict[str, int] = field(default_factory=dict)  # beats left out, per reason (SKIP_REASONS)
    leads: dict[str, str] = field(default_factory=dict)  # record id -> lead actually used

    def __len__(self) -> int:
        return int(self.y.shape[0])


def resample_to_125hz(signal: np.ndarray) -> np.ndarray:
    """A 360 Hz signal resampled to 125 Hz (float64; polyphase FIR with its delay compensated)."""
    from scipy.signal import resample_poly  # heavy import kept local

    return resample_poly(np.asarray(signal, dtype=np.float64), RESAMPLE_UP, RESAMPLE_DOWN)


def to_125hz_index(samples: np.ndarray) -> np.ndarray:
    """360 Hz sample indices -> 125 Hz indices, round(s * 25 / 72) with halves up, in exact integer arithmetic."""
    s = np.asarray(samples, dtype=np.int64)
    return (s * RESAMPLE_UP + RESAMPLE_DOWN // 2) // RESAMPLE_DOWN


def beat_length(rr_125hz: np.ndarray) -> int:
    """L = round(1.2 x median RR) in 125 Hz samples (halves up); 0 when there is no RR interval."""
    rr = np.asarray(rr_125hz, dtype=np.float64)
    if rr.size == 0:
        return 0
    return int(np.floor(RR_FACTOR * float(np.median(rr)) + 0.5))


def _record_beats(rec_signal: np.ndarray, samples: np.ndarray, classes: np.ndarray, edge: str,
                  skipped: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, sample) of one record's kept beats; adds the left-out ones to `skipped`."""
    order = np.argsort(samples, kind="stable")
    samples, classes = samples[order], classes[order]
    sig = resample_to_125hz(rec_signal)
    n_windows = sig.shape[0] // WINDOW_LEN
    windows = sig[: n_windows * WINDOW_LEN].reshape(n_windows, WINDOW_LEN)
    lo = windows.min(axis=1)
    span = windows.max(axis=1) - lo

    r = to_125hz_index(samples)
    win = r // WINDOW_LEN
    in_full = win < n_windows
    skipped["partial_window"] += int(np.count_nonzero(~in_full))
    r, win, samples, classes = r[in_full], win[in_full], samples[in_full], classes[in_full]

    xs: list[np.ndarray] = []
    keep_idx: list[np.ndarray] = []
    bounds = np.searchsorted(win, np.arange(n_windows + 1), side="left")
    for w in range(n_windows):
        a, b = int(bounds[w]), int(bounds[w + 1])
        if a == b:
            continue
        if span[w] == 0:
            skipped["flat_window"] += b - a
            continue
        length = beat_length(np.diff(r[a:b]))
        if length < 1:
            skipped["lone_beat"] += b - a
            continue
        used = min(length, BEAT_LEN)
        norm = (windows[w] - lo[w]) / span[w]
        offsets = r[a:b] - w * WINDOW_LEN
        fits = offsets + used <= WINDOW_LEN
        if edge == "skip":
            skipped["past_window"] += int(np.count_nonzero(~fits))
            offsets = offsets[fits]
            idx = np.arange(a, b)[fits]
        else:
            idx = np.arange(a, b)
        block = np.zeros((offsets.shape[0], BEAT_LEN), dtype=np.float64)
        for j, off in enumerate(offsets):
            seg = norm[off: off + used]
            block[j, : seg.shape[0]] = seg
        xs.append(block)
        keep_idx.append(idx)
    if not xs:
        return np.zeros((0, BEAT_LEN), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    idx = np.concatenate(keep_idx)
    x = np.clip(np.concatenate(xs), 0.0, 1.0).astype(np.float32)
    return x, classes[idx].astype(np.int64), samples[idx].astype(np.int64)


def build_kaggle_beats(data_dir: Path | str | None, records: Iterable[str], lead: str | int = DEFAULT_LEAD,
                       edge: str = "skip") -> KaggleBeats:
    """Build the Kaggle-style beats of `records` (see the module docstring); deterministic.

    `data_dir` None means the configured data folder (HEARTBEAT_DATA_DIR). `edge` is "skip" (leave out beats
    that run past their 10 s window, as counted in `skipped["past_window"]`) or "truncate" (keep them, cut at
    the window's end and zero-padded).
    """
    if edge not in EDGE_MODES:
        raise ValueError(f"edge must be one of {EDGE_MODES}, not {edge!r}")
    if data_dir is None:
        from heartbeat_core.settings import get_settings

        data_dir = get_settings().data_dir
    data_dir = Path(data_dir)
    records = [str(r) for r in records]
    seen: set[str] = set()
    for rid in records:
        if rid in seen:
            raise DataError(f"record {rid} is listed twice", "records", "list each record once")
        seen.add(rid)

    checksums = read_checksums(data_dir) if data_dir.is_dir() else None
    skipped = {reason: 0 for reason in SKIP_REASONS}
    leads: dict[str, str] = {}
    xs, ys, recs, samples = [], [], [], []
    for rid in records:
        rec = load_record(data_dir, rid, lead, checksums=checksums)
        leads[rid] = rec.lead
        ann_samples, classes = rec.beat_annotations()
        x, y, s = _record_beats(rec.signal, ann_samples, classes, edge, skipped)
        xs.append(x)
        ys.append(y)
        samples.append(s)
        recs.append(np.full(y.shape[0], rid, dtype=object))
    if not xs:
        return KaggleBeats(np.zeros((0, BEAT_LEN), np.float32), np.zeros(0, np.int64),
                           np.zeros(0, dtype=str), np.zeros(0, np.int64), skipped, leads)
    record_ids = np.concatenate(recs).astype(str)
    return KaggleBeats(np.concatenate(xs), np.concatenate(ys), record_ids, np.concatenate(samples), skipped, leads)


# ----------------------------------------------------------------------------------------------------- CSV


def _check_xy(x: np.ndarray, y: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate arrays for writing; returns x as float32 and y as int64."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or x.shape[1] != BEAT_LEN:
        raise DataError(f"beats must have shape [n, {BEAT_LEN}], not {list(x.shape)}", where)
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DataError(f"labels must have shape [{x.shape[0]}], not {list(y.shape)}", where)
    if x.shape[0] == 0:
        raise DataError("no beats to write", where, "build beats from at least one record")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise DataError(f"beats must be numbers, not {x.dtype}", where)
    x32 = x.astype(np.float32)
    bad = ~np.isfinite(x32) | (x32 < 0.0) | (x32 > 1.0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        v = float(x[i, j])
        why = "outside [0, 1]" if np.isfinite(v) else "not a finite number"
        raise DataError(f"beat {i} value {j + 1} is {v!r}, {why}", where)
    yf = y.astype(np.float64) if (np.issubdtype(y.dtype, np.floating) or np.issubdtype(y.dtype, np.integer)) \
        else None
    if yf is None:
        raise DataError(f"labels must be numbers, not {y.dtype}", where)
    bad_y = ~np.isfinite(yf) | (yf != np.round(yf)) | (yf < 0) | (yf > N_CLASSES - 1)
    if bad_y.any():
        i = int(np.argmax(bad_y))
        raise DataError(f"label of beat {i} is {y[i].item()!r}, not a class index 0..{N_CLASSES - 1}", where)
    return x32, yf.astype(np.int64)


def write_kaggle_csv(path: Path | str, x: np.ndarray, y: np.ndarray) -> Path:
    """Write beats in the published CSV layout (atomically: the file appears whole or not at all)."""
    path = Path(path)
    x32, y64 = _check_xy(x, y, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    row_fmt = ",".join(["%.18e"] * N_COLUMNS) + "\n"
    table = np.concatenate([x32.astype(np.float64), y64.astype(np.float64)[:, None]], axis=1)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii", newline="\n") as f:
            for start in range(0, table.shape[0], _CHUNK_LINES):
                f.write("".join(row_fmt % tuple(row) for row in table[start: start + _CHUNK_LINES].tolist()))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _value_problem(row: np.ndarray, value_range: tuple[float, float] | None) -> str | None:
    """What is wrong with one parsed row of N_COLUMNS floats, or None."""
    for j, v in enumerate(row.tolist()):
        if not np.isfinite(v):
            what = "label" if j == BEAT_LEN else f"value {j + 1}"
            return f"{what} is {v!r}, not a finite number"
    if value_range is not None:
        lo, hi = value_range
        for j, v in enumerate(row[:BEAT_LEN].tolist()):
            if not lo <= v <= hi:
                return f"value {j + 1} is {v!r}, outside [{lo:g}, {hi:g}]"
    label = float(row[BEAT_LEN])
    if label != round(label) or not 0 <= label <= N_CLASSES - 1:
        return f"label is {label!r}, not a class index 0.0..{float(N_CLASSES - 1)}"
    return None


def _first_bad_value_row(block: np.ndarray, value_range: tuple[float, float] | None) -> int | None:
    """Index of the first row of a parsed block with a bad value or label, or None (vectorised)."""
    bad = ~np.isfinite(block).all(axis=1)
    if value_range is not None:
        vals = block[:, :BEAT_LEN]
        with np.errstate(invalid="ignore"):
            bad |= ((vals < value_range[0]) | (vals > value_range[1])).any(axis=1)
    labels = block[:, BEAT_LEN]
    with np.errstate(invalid="ignore"):
        bad |= (labels != np.round(labels)) | (labels < 0) | (labels > N_CLASSES - 1)
    return int(np.argmax(bad)) if bad.any() else None


def _parse_lines(lines: list[str]) -> np.ndarray:
    """Lines -> float64 [len(lines), N_COLUMNS]; raises ValueError if that is not exactly what they hold."""
    block = np.loadtxt(lines, delimiter=",", dtype=np.float64, comments=None, ndmin=2, encoding=None)
    if block.shape != (len(lines), N_COLUMNS):
        raise ValueError(f"parsed shape {block.shape}")
    return block


def _line_problem(line: str) -> str | None:
    """What keeps one line from parsing as N_COLUMNS numbers, or None."""
    if not line.strip():
        return "blank line"
    fields = line.split(",")
    if len(fields) != N_COLUMNS:
        return (f"expected {N_COLUMNS} comma-separated values (187 samples and the label), "
                f"found {len(fields)}")
    for j, text in enumerate(fields):
        what = "label" if j == BEAT_LEN else f"value {j + 1}"
        shown = text if len(text) <= 40 else text[:37] + "..."
        try:
            float(text)
        except ValueError:
            return f"{what} {shown!r} is not a number"
    try:
        _parse_lines([line])
    except ValueError as exc:
        return f"cannot be read as {N_COLUMNS} numbers: {exc}"
    return None


def read_kaggle_csv(path: Path | str,
                    value_range: tuple[float, float] | None = (0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Read a Kaggle-layout CSV: (x float32 [n, 187], y int64 [n]). All or nothing.

    Any line that is blank, has other than 188 fields, holds a non-number, NaN or inf, a value outside
    `value_range` (the published files hold [0, 1]; None turns the check off) or a label that is not one of
    0..4 raises DataError naming the file and the 1-based line number; the first bad line in the file is named.
    Lines may end in LF or CRLF.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("CSV file not found", str(path), "check the path")
    blocks: list[np.ndarray] = []
    line_no = 0  # lines consumed before the current chunk
    with open(path, "rb") as f:
        while True:
            raw = f.readlines(_CHUNK_LINES * N_COLUMNS * 26)  # about _CHUNK_LINES lines of %.18e values
            if not raw:
                break
            lines = [b.decode("ascii", errors="replace").rstrip("\r\n") for b in raw]
            try:
                block = _parse_lines(lines)
            except ValueError:
                block = None
            if block is None:
                for k, line in enumerate(lines):
                    problem = _line_problem(line)
                    if problem is None:
                        problem = _value_problem(_parse_lines([line])[0], value_range)
                    if problem is not None:
                        raise DataError(problem, f"{path}:{line_no + k + 1}", _CSV_HINT)
                raise DataError("lines cannot be read as numbers", f"{path}:{line_no + 1}-{line_no + len(lines)}",
                                _CSV_HINT)
            bad = _first_bad_value_row(block, value_range)
            if bad is not None:
                problem = _value_problem(block[bad], value_range) or "bad value"
                raise DataError(problem, f"{path}:{line_no + bad + 1}", _CSV_HINT)
            blocks.append(block)
            line_no += len(lines)
    if not blocks:
        raise DataError("CSV file holds no rows", str(path), _CSV_HINT)
    table = np.concatenate(blocks)
    return np.ascontiguousarray(table[:, :BEAT_LEN], dtype=np.float32), table[:, BEAT_LEN].astype(np.int64)
