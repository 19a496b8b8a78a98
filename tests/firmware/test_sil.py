"""Software in the loop: the real firmware image in QEMU, a real MIT-BIH record over its UART.

Builds the `qemu` image (`pio run -e qemu`, in a temporary PlatformIO workspace, so firmware/lib/model_data
is generated from models/current and checked against its card), starts it in QEMU mps2-an386 with
`-icount shift=0` and UART0 on a TCP port (heartbeat_system.device_harness), and talks the wire protocol
to it with edge_bridge.wire over pyserial's `socket://`, as the bridge does:

* 5 minutes of DS2 record 100 (MLII) as SAMPLES frames, beats acknowledged as they arrive; the device's
  beats must find the reference annotations (150 ms matching) with QRS Se and +P >= 99.5 %, and every
  BEAT must equal what the toolchain's twin (toolchain.device_eval.classify_stream: dsp.py + TFLM) gives on
  the same samples: R peak, class and all five scores;
* a corrupt frame, an oversize frame, an unknown type and out-of-range samples each give an ERROR or a
  counter, and the device goes on classifying exactly like the twin on what it received;
* after a simulated reconnection RESEND returns the retained beats byte for byte, and once the retransmit
  ring has been overwritten the device reports the lost range as a GAP and counts it.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from edge_bridge import wire
from heartbeat_core.domain import AAMI_CLASSES, FS
from heartbeat_system.device_harness import QemuDevice
from heartbeat_system.firmware_build import build

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

STREAM_S = 5 * 60
RING_SLOTS = int(re.search(r"#define APP_TXRING_SLOTS (\d+)u",
                           (REPO / "firmware/include/app_config.h").read_text()).group(1))
SAMPLE_MAX = int(re.search(r"#define APP_SAMPLE_MAX (\d+)",
                           (REPO / "firmware/include/app_config.h").read_text()).group(1))
V_BIT = 1 << AAMI_CLASSES.index("V")  # CONFIG.enabled bit of class V
ACK_EVERY_FRAMES = 8  # a HOST_ACK after every 8 SAMPLES frames (~5 s of signal)


# ---------------------------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads((REPO / "models" / "current" / "card.json").read_text())


@pytest.fixture(scope="module")
def flatbuffer() -> bytes:
    return (REPO / "models" / "current" / "model_int8.tflite").read_bytes()


def _record(mitdb_dir: Path, rid: str):
    from toolchain.mitdb import DEFAULT_LEAD, load_record

    return load_record(mitdb_dir, rid, DEFAULT_LEAD)


@pytest.fixture()
def device(qemu_image, tmp_path):
    dev = QemuDevice(qemu_image, log_path=tmp_path / "qemu.log")
    dev.start()
    try:
        yield dev
    finally:
        dev.close()


# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------
def _hello(dev: QemuDevice, start: int = 0) -> wire.Hello:
    return dev.wait_for(lambda f: isinstance(f.message, wire.Hello), 30, start).message


def _reports(dev: QemuDevice, start: int = 0) -> list:
    """BEAT and ALERT frames received from index `start` on, each seq once (a replay repeats seqs)."""
    seen, out = set(), []
    for f in dev.frames[start:]:
        if isinstance(f.message, (wire.Beat, wire.Alert)) and f.seq not in seen:
            seen.add(f.seq)
            out.append(f)
    return sorted(out, key=lambda f: f.seq)


def _contiguous_report_seq(dev: QemuDevice) -> int:
    """Highest seq up to which the host holds every frame (all frame types share the seq space)."""
    seqs = sorted({f.seq for f in dev.frames})
    held = 0
    for s in seqs:
        if s != held + 1:
            break
        held = s
    return held


def stream(dev: QemuDevice, samples: np.ndarray, first: int, ack: bool = True) -> int:
    """Sends samples[...] as SAMPLES frames starting at device index `first`; returns the next index."""
    n = first
    for k, i in enumerate(range(0, len(samples), wire.SAMPLES_MAX)):
        chunk = samples[i:i + wire.SAMPLES_MAX]
        dev.send(wire.Samples(n, tuple(int(v) for v in chunk)))
        n += len(chunk)
        if ack and k % ACK_EVERY_FRAMES == ACK_EVERY_FRAMES - 1:
            dev.send(wire.HostAck(_contiguous_report_seq(dev)))
    return n


def twin(flatbuffer: bytes, samples: np.ndarray):
    """The toolchain's twin pipeline on the samples the device processed: [(r, class, scores)]."""
    from toolchain.device_eval import classify_stream

    beats, scores = classify_stream(flatbuffer, np.asarray(samples, dtype=np.int64))
    return [(int(r), int(np.argmax(s)), tuple(int(v) for v in s))
            for r, s in zip(beats.r, scores, strict=True) if r >= 0]


def device_beats(dev: QemuDevice, start: int = 0):
    return [(f.message.r_sample, f.message.beat_class, tuple(f.message.scores))
            for f in dev.frames[start:] if isinstance(f.message, wire.Beat)]


def assert_equal_to_twin(got, want):
    assert len(got) == len(want), f"device sent {len(got)} beats, the twin gives {len(want)}"
    diffs = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert not diffs, f"{len(diffs)} beats differ from the twin, first: {diffs[:3]}"


# ---------------------------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------------------------
def test_build_fails_when_the_model_files_disagree_with_the_card(tmp_path):
    """firmware/scripts/gen_model_data.py verifies models/current before generating firmware/lib/model_data."""
    import shutil

    current = (REPO / "models" / "current").resolve()
    models = tmp_path / "models"
    shutil.copytree(current, models / current.name)
    (models / "current").symlink_to(current.name)
    lib = REPO / "firmware" / "lib" / "model_data"
    before = {p.name: p.read_bytes() for p in lib.iterdir()} if lib.is_dir() else {}

    tflite = models / current.name / "model_int8.tflite"
    data = bytearray(tflite.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of the weights
    tflite.write_bytes(bytes(data))
    rc, out = build("qemu", tmp_path / "ws", {"HEARTBEAT_MODELS_DIR": str(models)})
    assert rc != 0, out
    assert "model library not generated" in out and "model_int8.tflite has sha256" in out, out
    assert not (tmp_path / "ws" / "build" / "qemu" / "firmware.elf").exists()
    after = {p.name: p.read_bytes() for p in lib.iterdir()} if lib.is_dir() else {}
    assert after == before  # nothing was generated from the bad model

    # a model file that agrees with itself but not with the card's sha256 (the card edited)
    tflite.write_bytes(current.joinpath("model_int8.tflite").read_bytes())
    card_path = models / current.name / "card.json"
    card = json.loads(card_path.read_text())
    card["sha256"] = "0" * 64
    card_path.write_text(json.dumps(card))
    rc, out = build("qemu", tmp_path / "ws", {"HEARTBEAT_MODELS_DIR": str(models)})
    assert rc != 0 and "card.json says sha256 " + "0" * 64 in out, out


def test_device_beats_match_the_annotations_and_the_twin(device, mitdb_dir, card, flatbuffer):
    from toolchain.ec57 import match_beats

    hello = _hello(device)
    assert device.frames[0].seq == 1 and isinstance(device.frames[0].message, wire.Hello)
    assert hello.model_sha256.hex() == card["sha256"] and hello.model_version == card["version"]
    assert hello.protocol_version == wire.PROTOCOL_VERSION and hello.sample_rate_hz == FS and hello.boot_id != 0
    assert not device.of_type(wire.Error), "the device refused its model"

    rec = _record(mitdb_dir, "100")
    x = rec.signal[:STREAM_S * FS]
    assert x.min() >= 0 and x.max() <= SAMPLE_MAX  # a real stretch: nothing to clamp
    t0 = time.monotonic()
    sent = stream(device, x, 0)
    status = device.status()
    wall_s = time.monotonic() - t0
    assert status.samples == sent == len(x)
    assert status.overruns == 0 and status.corrupt_frames == 0 and status.unknown_frames == 0
    assert not device.of_type(wire.Error)

    got = device_beats(device)
    assert status.beats == len(got)
    want = twin(flatbuffer, x)
    assert_equal_to_twin(got, want)

    # QRS detection against the cardiologists' annotations, 150 ms matching; the last 2 s are not scored
    # (a beat is reported once the next one is detected)
    end = len(x) - 2 * FS
    ref, ref_lab = rec.beat_annotations()
    keep = ref < end
    det = np.array([r for r, _, _ in got if r < end])
    det_lab = np.array([c for r, c, _ in got if r < end])
    m = match_beats(ref[keep], ref_lab[keep], det, det_lab, fs=FS)
    se, ppv = m.tp / (m.tp + m.fn), m.tp / (m.tp + m.fp)
    assert m.n_ref > 300
    assert se >= 0.995 and ppv >= 0.995, f"QRS Se {se:.4f}, +P {ppv:.4f} ({m.fn} missed, {m.fp} extra)"

    # every BEAT carries its inference cost: instructions = cost x 40 under -icount shift=0
    costs = [f.message.cost for f in device.of_type(wire.Beat)]
    assert min(costs) > 0
    print(f"\nSIL record 100, {STREAM_S} s: {len(got)} beats, Se {se:.4f}, +P {ppv:.4f}, "
          f"median inference {int(np.median(costs)) * 40} instructions, {wall_s:.1f} s wall")


def test_every_boot_has_its_own_boot_id(qemu_image, tmp_path):
    ids = []
    for k in range(2):
        with QemuDevice(qemu_image, log_path=tmp_path / f"boot{k}.log") as dev:
            hello = _hello(dev)
            again = dev.request(wire.HelloRequest(), wire.Hello).message
            assert again.boot_id == hello.boot_id  # the same boot answers with the same id
            ids.append(hello.boot_id)
    assert ids[0] != ids[1] and 0 not in ids


def test_bad_input_gives_errors_or_counters_and_the_device_goes_on(device, mitdb_dir, flatbuffer):
    _hello(device)
    rec = _record(mitdb_dir, "103")
    x = rec.signal[:90 * FS].astype(np.int64)
    received = []  # what the device really processed, in order

    n = stream(device, x[:20 * FS], 0)
    received.append(x[:20 * FS])

    # 1. corrupt: a SAMPLES frame with one byte changed (its CRC fails): counted, never answered, dropped
    frame = bytearray(wire.encode(wire.Samples(n, tuple(int(v) for v in x[n:n + 240])), 999))
    frame[20] ^= 0x01 if frame[20] not in (0x00, 0x01) else 0x02
    mark = device.mark()
    device.write_raw(bytes(frame))
    # the next SAMPLES then carries an index the device has not reached: ERROR SAMPLE_INDEX, dropped too
    seq = device.send(wire.Samples(n + 240, tuple(int(v) for v in x[n + 240:n + 480])))
    err = device.wait_for(lambda f: isinstance(f.message, wire.Error), 30, mark).message
    assert err.code == wire.ErrorCode.SAMPLE_INDEX and err.host_seq == seq
    assert err.text == f"first_sample {n + 240} expected {n}"
    status = device.status()
    assert status.corrupt_frames == 1 and status.samples == n  # the host continues from `samples`

    # 2. oversize: 600 bytes without a delimiter: counted
    device.write_raw(bytes([0x55]) * 600 + b"\x00")
    # 3. unknown type with a good CRC: ERROR UNKNOWN_TYPE naming its seq
    mark = device.mark()
    device.write_raw(wire.encode_raw(wire.PROTOCOL_VERSION, 0x9F, 4242, b""))
    err = device.wait_for(lambda f: isinstance(f.message, wire.Error), 30, mark).message
    assert err.code == wire.ErrorCode.UNKNOWN_TYPE and err.host_seq == 4242
    status = device.status()
    assert (status.corrupt_frames, status.oversize_frames, status.unknown_frames) == (1, 1, 1)

    # 4. out-of-range samples: clamped (and so processed) with one ERROR SAMPLE_RANGE for the frame
    bad = x[n:n + 240].copy()
    bad[100], bad[101] = -7, 4000
    mark = device.mark()
    seq = device.send(wire.Samples(n, tuple(int(v) for v in bad)))
    err = device.wait_for(lambda f: isinstance(f.message, wire.Error), 30, mark).message
    assert err.code == wire.ErrorCode.SAMPLE_RANGE and err.host_seq == seq
    assert err.text.startswith("2 samples outside 0..")
    received.append(np.clip(bad, 0, SAMPLE_MAX))
    n += 240

    # the device goes on: the rest of the stretch, and its beats equal the twin's on what it received
    n = stream(device, x[n:], n)
    received.append(x[len(np.concatenate(received)):])
    processed = np.concatenate(received)
    status = device.status()
    assert status.samples == n == len(processed) == len(x)
    assert status.overruns == 0
    got = device_beats(device)
    assert len(got) > 60
    assert_equal_to_twin(got, twin(flatbuffer, processed))


def test_resend_after_reconnect_and_gap_after_overwrite(device, mitdb_dir):
    hello = _hello(device)
    rec = _record(mitdb_dir, "100")
    x = rec.signal[5 * 60 * FS:]  # another stretch of the record
    per_s = FS

    # CONFIG is acknowledged and applies: rule 1 on V only (record 100 has almost none)
    ack = device.request(wire.Config((255, 255, 230, 255, 255), 1, 1,
                                     V_BIT | wire.ConfigBit.THRESHOLD_RULE), wire.Ack).message
    assert ack.status == wire.AckStatus.OK
    bad = device.request(wire.Config((0,) * 5, 9, 3, wire.ConfigBit.RUN_RULE), wire.Ack).message
    assert bad.status == wire.AckStatus.INVALID

    # 30 s acknowledged, then 20 s whose frames the host "loses" (never acknowledged)
    n = stream(device, x[:30 * per_s], 0)
    device.status()  # everything so far has arrived
    held = _contiguous_report_seq(device)
    device.send(wire.HostAck(held))
    lost_from = device.mark()
    n = stream(device, x[n:n + 20 * per_s], n, ack=False)
    last_status = device.status()
    unacked = _reports(device, lost_from)
    assert 10 < len(unacked) < RING_SLOTS

    # reconnect: same boot, RESEND from what the host holds -> the retained frames, byte for byte, then STATUS
    device.disconnect()
    device.connect()
    mark = device.mark()
    device.send(wire.HelloRequest())
    again = _hello(device, mark)
    assert again.boot_id == hello.boot_id
    status = device.status()
    assert status.last_seq == last_status.last_seq and status.lost == 0
    mark = device.mark()
    device.send(wire.Resend(held))
    end = device.wait_for(lambda f: isinstance(f.message, wire.Status), 60, mark)
    replay = [f for f in device.frames[mark:] if f.t <= end.t and f is not end]
    assert not [f for f in replay if isinstance(f.message, wire.Gap)]
    assert [(f.seq, wire.encode(f.message, f.seq)) for f in replay] == \
        [(f.seq, wire.encode(f.message, f.seq)) for f in unacked]

    # now more than the ring holds without acknowledgement: the oldest are overwritten and counted
    n = stream(device, x[n:n + (RING_SLOTS + 40) * per_s], n, ack=False)
    status = device.status()
    unacked = [f for f in _reports(device) if f.seq > held]
    assert len(unacked) > RING_SLOTS
    assert status.lost == len(unacked) - RING_SLOTS
    assert status.ring_oldest_seq == unacked[status.lost].seq
    device.disconnect()
    device.connect()
    mark = device.mark()
    device.send(wire.Resend(held))
    end = device.wait_for(lambda f: isinstance(f.message, wire.Status), 60, mark)
    replay = [f for f in device.frames[mark:] if f.seq != end.seq and f.t <= end.t]
    gap = replay[0].message
    assert isinstance(gap, wire.Gap)
    assert (gap.first, gap.last) == (held + 1, unacked[status.lost - 1].seq)
    assert [f.seq for f in replay[1:]] == [f.seq for f in unacked[status.lost:]]
    assert all(a.message == b.message for a, b in zip(replay[1:], unacked[status.lost:], strict=True))
    # the host can account for every BEAT and ALERT: held + declared lost + replayed
    assert end.message.beats + end.message.alerts == \
        len([f for f in _reports(device) if f.seq <= held]) + status.lost + (len(replay) - 1)
