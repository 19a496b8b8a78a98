"""Replay a WFDB recording through a device: the machinery of `heartbeat replay` (heartbeat_system/cli.py).

* Reading: any WFDB record (wfdb), one lead chosen by name or index (the first by default). Records already on the
  device's scale (360 Hz, 200 codes/mV, like MIT-BIH) are streamed as their own ADC codes, unchanged. Others are
  taken in physical units, converted to mV, resampled to 360 Hz with an exact rational polyphase resampler
  (scipy.signal.resample_poly, up/down = 360/fs as a reduced fraction) and coded like MIT-BIH: 200 codes/mV around
  1024, clamped to the 11-bit range 0..2047.
* Streaming: SAMPLES frames through the bridge's DeviceLink, which queues every frame the device sends and
  acknowledges it (so the device's retransmit ring never overflows); QEMU's back-pressure paces the host. After a
  reconnection the replay continues from the device's STATUS `samples`; a device that restarts ends the replay
  with an error.
* Output: one JSON line per BEAT the device reported (`record`, `sample`: the R peak at the record's own sampling
  rate, `label`, `scores`: the device's int8 outputs for N, S, V, F, Q, `model_version`, plus `seq` and
  `boot_id`), each exactly once (retransmissions are recognised by the queue).
* Scoring: when the record has reference annotations (.atr), the AAMI EC57 summary of the streamed span
  (toolchain.ec57: 150 ms matching, QRS Se/+P, per-class Se/+P), the same scoring as
  `heartbeat evaluate --pipeline`.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from edge_bridge import wire
from edge_bridge.link import DeviceLink, LinkDown
from heartbeat_core.domain import AAMI_CLASSES
from heartbeat_core.errors import HeartbeatError

DEVICE_FS = 360
CODES_PER_MV = 200
CODE_ZERO = 1024
CODE_MIN, CODE_MAX = 0, 2047
STATUS_EVERY_FRAMES = 4
ECG_HALF = 2 * DEVICE_FS  # an alert carries 2 s of ECG either side of its R peak (1440 codes; ingest takes <= 4096)
WINDOW_SAMPLES = 16 * 240  # about 10.7 s of signal in flight; the ring (128 beats/alerts) covers far more
UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3, "nv": 1e-6}


class ReplayError(HeartbeatError):
    """A recording that cannot be replayed, or a device that could not finish the replay."""


@dataclass
class Recording:
    name: str
    fs: float  # the record's own sampling rate
    lead: str
    codes: np.ndarray  # int64 ADC codes at 360 Hz, what the device receives
    source_len: int  # samples of the record streamed (at its own rate)
    up: int = 1
    down: int = 1
    ref_samples: np.ndarray | None = None  # annotated beats in the streamed span, at the record's rate
    ref_labels: np.ndarray | None = None  # their AAMI class indices

    def to_source(self, r_device: int) -> int:
        """A device sample index (360 Hz) as a sample index of the record."""
        return int(round(r_device * self.down / self.up))


def resolve_record(record: str, data_dir: Path | None) -> Path:
    """The record's base path (without extension): a path to it, or a record name in the data folder."""
    p = Path(record)
    if p.suffix in (".hea", ".dat", ".atr"):
        p = p.with_suffix("")
    if p.with_suffix(".hea").exists():
        return p
    if data_dir is not None and (Path(data_dir) / (record + ".hea")).exists():
        return Path(data_dir) / record
    where = f"{p}.hea" + (f" or {Path(data_dir) / (record + '.hea')}" if data_dir is not None else "")
    raise ReplayError(f"no WFDB record {record!r}", where, "give the record's path (without extension) or set "
                                                             "HEARTBEAT_DATA_DIR")


def read_recording(record: str, data_dir: Path | None = None, lead: str | None = None,
                   seconds: float | None = None) -> Recording:
    import wfdb

    from heartbeat_core.domain import CLASS_INDEX
    from toolchain.mitdb import SYMBOL_TO_CLASS

    base = resolve_record(record, data_dir)
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises many types for a damaged header
        raise ReplayError(f"record header cannot be read: {exc}", f"{base}.hea") from None
    fs = float(header.fs)
    if not fs > 0:
        raise ReplayError(f"record has no valid sampling rate ({header.fs})", f"{base}.hea")
    names = list(header.sig_name or [])
    if not names:
        raise ReplayError("record has no signals", f"{base}.hea")
    if lead is None:
        idx = 0
    elif lead in names:
        idx = names.index(lead)
    elif lead.lstrip("-").isdigit():
        idx = int(lead)
        if not 0 <= idx < len(names):
            raise ReplayError(f"record has no lead index {idx}", f"{base}.hea",
                              f"choose 0..{len(names) - 1} or a name: {', '.join(names)}")
    else:
        raise ReplayError(f"record has no lead {lead!r}", f"{base}.hea", f"leads: {', '.join(names)}")
    if seconds is not None and seconds <= 0:
        raise ReplayError(f"--seconds must be positive, got {seconds}")
    sampto = header.sig_len if seconds is None else min(header.sig_len, int(round(seconds * fs)))
    try:
        rec = wfdb.rdrecord(str(base), sampto=sampto, channels=[idx], physical=False)
    except Exception as exc:
        raise ReplayError(f"record signal cannot be read: {exc}", f"{base}.dat") from None
    d = np.asarray(rec.d_signal[:, 0], dtype=np.int64)
    if d.size == 0:
        raise ReplayError("record holds no samples", f"{base}.dat")
    gain = float(rec.adc_gain[0]) or CODES_PER_MV
    baseline = int(rec.baseline[0])
    unit = (rec.units[0] if rec.units else "mV") or "mV"
    scale = UNIT_TO_MV.get(unit.strip().lower())
    if scale is None:
        raise ReplayError(f"lead {names[idx]} is in {unit!r}, not a voltage", f"{base}.hea")
    invalid = d == -32768  # WFDB's "no sample"
    ratio = Fraction(DEVICE_FS) / Fraction(fs).limit_denominator(100000)
    up, down = ratio.numerator, ratio.denominator
    if up == 1 and down == 1 and gain == CODES_PER_MV and scale == 1.0 and not invalid.any():
        codes = d - baseline + CODE_ZERO  # already the device's scale: the record's own integers
    else:
        mv = (d - baseline).astype(np.float64) / gain * scale
        mv[invalid] = 0.0
        if up != 1 or down != 1:
            from scipy.signal import resample_poly  # seconds to import: only when a record needs it

            mv = resample_poly(mv, up, down)
        codes = np.rint(mv * CODES_PER_MV).astype(np.int64) + CODE_ZERO
    codes = np.clip(codes, CODE_MIN, CODE_MAX)

    ref_s = ref_l = None
    if base.with_suffix(".atr").exists():
        try:
            ann = wfdb.rdann(str(base), "atr")
        except Exception as exc:
            raise ReplayError(f"annotations cannot be read: {exc}", f"{base}.atr") from None
        samples = np.asarray(ann.sample, dtype=np.int64)
        symbols = list(ann.symbol)
        keep = [i for i, s in enumerate(symbols) if s in SYMBOL_TO_CLASS and samples[i] < sampto]
        ref_s = samples[keep]
        ref_l = np.array([CLASS_INDEX[SYMBOL_TO_CLASS[symbols[i]]] for i in keep], dtype=np.int64)
    return Recording(name=base.name, fs=fs, lead=names[idx], codes=codes, source_len=int(sampto), up=up, down=down,
                     ref_samples=ref_s, ref_labels=ref_l)


@dataclass
class ReplayResult:
    recording: Recording
    hello: wire.Hello
    status: wire.Status
    beats: list[dict[str, Any]] = field(default_factory=list)  # the JSON lines, in seq order
    wall_s: float = 0.0
    reconnects: int = 0

    def ec57(self) -> dict[str, Any] | None:
        """AAMI EC57 summary of the streamed span (None without annotations)."""
        from toolchain.ec57 import ec57_summary, match_beats

        rec = self.recording
        if rec.ref_samples is None:
            return None
        det = np.array([b["sample"] for b in self.beats], dtype=np.int64)
        lab = np.array([AAMI_CLASSES.index(b["label"]) for b in self.beats], dtype=np.int64)
        return ec57_summary(match_beats(rec.ref_samples, rec.ref_labels, det, lab, fs=rec.fs))


class BeatCollector:
    """The link's on_message listener: keeps the device's beats of one boot from a sample offset on."""

    def __init__(self, recording: Recording):
        self.recording = recording
        self.boot_id: int | None = None
        self.offset = 0
        self.model_version = ""
        self.beats: list[dict[str, Any]] = []

    def enrich(self, msg: wire.Message, item: dict[str, Any]) -> None:
        """The link's enrich hook: an alert of this replay gets the ECG around its beat (`ecg`, docs/ingest.md):
        ECG_HALF samples (2 s) either side of the R peak, as the device's 360 Hz ADC codes."""
        if not isinstance(msg, wire.Alert) or self.boot_id is None or item["boot_id"] != self.boot_id:
            return
        r = msg.r_sample - self.offset
        codes = self.recording.codes
        if not 0 <= r < len(codes):
            return
        start, end = max(0, r - ECG_HALF), min(len(codes), r + ECG_HALF)
        item["ecg"] = {"start_sample": start + self.offset, "samples": [int(v) for v in codes[start:end]]}

    def __call__(self, device_id: str, boot_id: int, row_id: int, seq: int, msg: wire.Message) -> None:
        if not isinstance(msg, wire.Beat) or self.boot_id is None or boot_id != self.boot_id:
            return
        if msg.r_sample < self.offset:
            return  # a beat of samples sent before this replay
        self.beats.append({
            "record": self.recording.name,
            "sample": self.recording.to_source(msg.r_sample - self.offset),
            "label": AAMI_CLASSES[msg.beat_class],
            "scores": list(msg.scores),
            "model_version": self.model_version,
            "seq": seq,
            "boot_id": boot_id,
        })


def stream_recording(link: DeviceLink, collector: BeatCollector, *, timeout_s: float = 120.0,
                     window_samples: int = WINDOW_SAMPLES, resume: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> ReplayResult:
    """Streams the collector's recording through a started link; returns when every beat is held.

    A GET_STATUS follows every STATUS_EVERY_FRAMES SAMPLES frames, and no sample is sent more than
    `window_samples` ahead of the newest STATUS `samples`: the socket's buffers would otherwise hold minutes of
    signal, and the device would only see the HOST_ACKs behind them after its retransmit ring had overflowed.

    `resume`: the device was started for this recording (its sample 0 is the recording's sample 0) and an earlier
    run of the bridge, killed or stopped, already sent part of it: continue from the device's STATUS `samples`;
    the beats are then those of the whole boot, from the queue."""
    rec = collector.recording
    codes = rec.codes
    n = len(codes)
    t0 = time.monotonic()
    try:
        hello, status = link.wait_ready(timeout_s)
    except TimeoutError as exc:
        raise ReplayError(str(exc)) from None
    if hello.sample_rate_hz != DEVICE_FS:
        raise ReplayError(f"the device expects {hello.sample_rate_hz} Hz; replay resamples to {DEVICE_FS} Hz")
    offset = 0 if resume else status.samples
    if resume and status.samples > n:
        raise ReplayError(f"--resume: the device has processed {status.samples} samples, the recording has {n}",
                          hint="the device was not started for this recording: replay without --resume")
    collector.boot_id, collector.offset, collector.model_version = hello.boot_id, offset, hello.model_version
    boot = hello.boot_id
    status_every = max(1, min(STATUS_EVERY_FRAMES, window_samples // wire.SAMPLES_MAX // 4))
    conn = link.connection
    pos, reconnects = (status.samples if resume else 0), 0
    while True:
        try:
            frames = 0
            while pos < n:
                # pacing: at most `window_samples` ahead of what the device has reported processing, so the
                # HOST_ACKs (queued behind the samples in the socket) reach it before its ring overflows
                if not link.wait_samples(offset + pos - window_samples, timeout_s, conn):
                    raise TimeoutError(f"the device did not process samples up to {pos - window_samples}")
                pos = link.send_samples(offset + pos, codes[pos:pos + wire.SAMPLES_MAX], conn=conn) - offset
                frames += 1
                if frames % status_every == 0:
                    link.send(wire.GetStatus(), expect_status=True, control=False, conn=conn)
                if progress is not None:
                    progress(pos, n)
            link.send(wire.GetStatus(), expect_status=True, control=False, conn=conn)
            if not link.wait_samples(offset + n, timeout_s, conn):
                raise TimeoutError(f"the device did not report all {n} samples processed")
            final = link.status
            if final is None:  # the link reconnected since: carry on as after any reconnection
                raise LinkDown(f"{link.url} was disconnected")
            if final.samples != offset + n:
                raise ReplayError(f"the device holds {final.samples - offset} of {n} samples after the replay")
            break
        except (LinkDown, TimeoutError):
            reconnects += 1
            try:
                hello, status = link.wait_ready(timeout_s)
            except TimeoutError as exc:
                raise ReplayError(f"the device did not come back: {exc}") from None
            if hello.boot_id != boot:
                raise ReplayError(f"the device restarted during the replay (boot {boot} -> {hello.boot_id}); "
                                  "its beats so far are queued", hint="replay again") from None
            conn = link.connection
            pos = status.samples - offset
    if not link.wait_held(final.last_seq, timeout_s):
        raise ReplayError(f"the device's frames up to seq {final.last_seq} did not all arrive "
                          f"(held through {link.held_through})")
    link.flush_ack()
    if resume:  # beats received by an earlier run are in the queue, not in this run's collector: take the boot's
        collector.beats = []
        for _, kind, item in link.queue.device_messages(hello.device_id, boot):
            if kind == "beat":
                collector(hello.device_id, boot, 0, item["seq"], wire.Beat(
                    item["r_sample"], AAMI_CLASSES.index(item["label"]), tuple(item["scores"]), item["cost"],
                    item["flags"]))
    beats = sorted(collector.beats, key=lambda b: b["seq"])
    return ReplayResult(rec, hello, final, beats, time.monotonic() - t0, reconnects)


def write_jsonl(path: Path, beats: list[dict[str, Any]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    with open(tmp, "w") as f:
        for b in beats:
            f.write(json.dumps(b, separators=(",", ":")) + "\n")
    tmp.replace(path)
