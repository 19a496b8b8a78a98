"""The MIT-BIH Arrhythmia Database: reading records with wfdb, integrity checks, AAMI labels and splits.

Data: Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. IEEE Eng in Med and Biol
20(3):45-50 (2001). Goldberger AL et al. PhysioBank, PhysioToolkit, and PhysioNet. Circulation
101(23):e215-e220 (2000). Open Data Commons Attribution License v1.0.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heartbeat_core.domain import CLASS_INDEX
from heartbeat_core.errors import DataError

CITATION = (
    "Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. IEEE Eng in Med and Biol "
    "20(3):45-50 (2001); Goldberger AL et al. PhysioBank, PhysioToolkit, and PhysioNet. "
    "Circulation 101(23):e215-e220 (2000). MIT-BIH Arrhythmia Database v1.0.0 (PhysioNet mitdb), "
    "Open Data Commons Attribution License v1.0."
)

SYMBOL_TO_CLASS: dict[str, str] = {
    **{s: "N" for s in ("N", "L", "R", "e", "j")},
    **{s: "S" for s in ("A", "a", "J", "S")},
    **{s: "V" for s in ("V", "E")},
    "F": "F",
    **{s: "Q" for s in ("/", "f", "Q")},
}

ALL_RECORDS: tuple[str, ...] = tuple(
    [str(r) for r in range(100, 125) if r not in (110, 120)]
    + [str(r) for r in (200, 201, 202, 203, 205, 207, 208, 209, 210, 212, 213, 214, 215, 217, 219,
                        220, 221, 222, 223, 228, 230, 231, 232, 233, 234)]
)
PACED: tuple[str, ...] = ("102", "104", "107", "217")
DS1: tuple[str, ...] = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
                        "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230")
DS2: tuple[str, ...] = ("100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
                        "212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234")
DEFAULT_LEAD = "MLII"


@dataclass(frozen=True)
class Record:
    """One record's chosen lead as raw ADC codes plus its reference beat annotations."""

    record_id: str
    fs: int
    lead: str
    signal: np.ndarray  # int32 ADC codes (digital values, 11-bit, zero at 1024 for MIT-BIH)
    ann_samples: np.ndarray  # int64 sample index of every annotation
    ann_symbols: np.ndarray  # str symbol of every annotation (beats and non-beats)

    def beat_annotations(self) -> tuple[np.ndarray, np.ndarray]:
        """Beat annotations only: (sample indices, AAMI class indices); non-beat symbols dropped."""
        keep = np.array([s in SYMBOL_TO_CLASS for s in self.ann_symbols], dtype=bool)
        classes = np.array([CLASS_INDEX[SYMBOL_TO_CLASS[s]] for s in self.ann_symbols[keep]], dtype=np.int64)
        return self.ann_samples[keep].astype(np.int64), classes


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_checksums(data_dir: Path) -> dict[str, str]:
    """SHA256SUMS as {file name: digest}; empty when the folder has none."""
    sums = data_dir / "SHA256SUMS"
    if not sums.exists():
        return {}
    out: dict[str, str] = {}
    for lineno, line in enumerate(sums.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError("malformed line in SHA256SUMS", f"{sums}:{lineno}", "restore the file from PhysioNet")
        out[parts[1].lstrip("*")] = parts[0]
    return out


def record_files(data_dir: Path, record_id: str) -> list[Path]:
    return [data_dir / f"{record_id}.{ext}" for ext in ("hea", "dat", "atr")]


def verify_record_files(data_dir: Path, record_id: str, checksums: dict[str, str] | None = None) -> list[str]:
    """Check that a record's files exist and match SHA256SUMS; return their digests (for cache keys)."""
    if not data_dir.is_dir():
        raise DataError(
            "MIT-BIH data folder not found", str(data_dir),
            "set HEARTBEAT_DATA_DIR to the mitdb folder, or run `heartbeat data download`",
        )
    if checksums is None:
        checksums = read_checksums(data_dir)
    digests = []
    for path in record_files(data_dir, record_id):
        if not path.exists():
            raise DataError(f"record {record_id} is missing a file", str(path),
                            "restore it or run `heartbeat data download`")
        digest = sha256_file(path)
        expected = checksums.get(path.name)
        if expected is not None and expected != digest:
            raise DataError(f"record {record_id} is corrupt or truncated: sha256 mismatch", str(path),
                            "restore the file from PhysioNet (`heartbeat data download --force`)")
        digests.append(digest)
    return digests


def load_record(data_dir: Path, record_id: str, lead: str | int = DEFAULT_LEAD,
                checksums: dict[str, str] | None = None, verify: bool = True) -> Record:
    """Read one record's lead (by name, falling back to the first lead if the name is absent, or by index)."""
    import wfdb  # heavy import kept local

    if verify:
        verify_record_files(data_dir, record_id, checksums)
    base = str(data_dir / record_id)
    try:
        rec = wfdb.rdrecord(base, physical=False)
        ann = wfdb.rdann(base, "atr")
    except Exception as exc:  # wfdb raises many types for a damaged file
        raise DataError(f"record {record_id} cannot be read: {exc}", base + ".*",
                        "check the files against SHA256SUMS") from exc
    names = list(rec.sig_name)
    if isinstance(lead, int):
        if not 0 <= lead < len(names):
            raise DataError(f"record {record_id} has no lead index {lead}", base + ".hea",
                            f"choose one of 0..{len(names) - 1}")
        idx = lead
    else:
        idx = names.index(lead) if lead in names else 0
    signal = np.asarray(rec.d_signal[:, idx], dtype=np.int32)
    expected_len = rec.sig_len
    if signal.shape[0] != expected_len or expected_len == 0:
        raise DataError(f"record {record_id} is truncated: {signal.shape[0]} of {expected_len} samples",
                        base + ".dat", "restore the file from PhysioNet")
    return Record(
        record_id=record_id,
        fs=int(rec.fs),
        lead=names[idx],
        signal=signal,
        ann_samples=np.asarray(ann.sample, dtype=np.int64),
        ann_symbols=np.asarray(ann.symbol, dtype=object),
    )


def download(data_dir: Path, records: tuple[str, ...] = ALL_RECORDS) -> None:
    """Download mitdb from PhysioNet through wfdb. Only ever called on an explicit user request."""
    import wfdb

    data_dir.mkdir(parents=True, exist_ok=True)
    wfdb.dl_database("mitdb", dl_dir=str(data_dir), records=list(records))
