"""The bridge's flasher (edge_bridge/flasher.py) over a real DeviceLink, a real TCP socket and the fault injector.

Parts:
* `FaultRelay`: a byte-stream relay between the link (it listens on TCP; the link connects with socket://) and a
  device; it cuts both streams into frames at their 0x00 delimiters and, frame by frame, as its plan says, passes,
  drops, duplicates, holds back behind the next frame (reorders), corrupts (one bit of one byte; never a 0x00) or
  cuts the connection (the link reconnects; the device keeps its state, like a pulled cable). Tested on its own.
* `ModelDevice`: docs/protocol.md 3.6's table as a Python model (HELLO, BOOT_REPORT, STATUS, the retransmit ring
  with HOST_ACK and RESEND, and the update requests), a reference for the flasher's tests until the device side
  (firmware/lib/app) can be driven from a host program; then the same relay and property run against it
  (`device` is anything with feed(bytes) -> bytes).
* The property: any sequence of lost, repeated, reordered and corrupted frames (both ways) and disconnects ends
  with the verified image installed, or a clean abort with nothing installed; never a half-installed image.
"""
from __future__ import annotations

import hashlib
import socket
import struct
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edge_bridge.link as link_mod
from edge_bridge import wire
from edge_bridge.flasher import Flasher, FlashError, FlashOutcome, FlashTiming, flash_release
from edge_bridge.link import DeviceLink
from edge_bridge.queue import DurableQueue
from heartbeat_core.mcuboot_image import (
    HEADER_SIZE,
    IMAGE_F_RAM_LOAD,
    IMAGE_HEADER_STRUCT,
    IMAGE_MAGIC,
    SLOT_SIZE,
    TLV_ECDSA_SIG,
    TLV_INFO_MAGIC,
    TLV_KEYHASH,
    TLV_MODEL_SHA256,
    TLV_PROT_INFO_MAGIC,
    TLV_SEC_CNT,
    TLV_SHA256,
    TLV_TARGET,
    parse_image,
)

DEV = "hb-flash-test"
FAST = FlashTiming(answer_s=0.25, verify_s=0.5, ready_s=20.0, report_s=1.0, drain_s=20.0, status_s=0.5,
                   boot_s=10.0, confirm_s=3.0, busy_s=3.0, retries=40, reconnects=40)


# --------------------------------------------------------------------------------------------------------- images
def make_image(payload_size: int = 2000, version: tuple[int, int, int, int] = (0, 2, 0, 0), counter: int = 2,
               target: str = "qemu", seed: int = 1) -> bytes:
    """An image laid out as imgtool lays out ours (header, payload, protected TLVs, TLVs); its SHA256 TLV is right,
    its KEYHASH and signature are filler: the host does not verify signatures (the device does)."""
    payload = hashlib.shake_256(seed.to_bytes(4, "little")).digest(payload_size)

    def tlv(kind: int, value: bytes) -> bytes:
        return struct.pack("<HH", kind, len(value)) + value

    prot_body = tlv(TLV_SEC_CNT, struct.pack("<I", counter)) + tlv(TLV_TARGET, target.encode()) \
        + tlv(TLV_MODEL_SHA256, bytes(range(32)))
    prot = struct.pack("<HH", TLV_PROT_INFO_MAGIC, 4 + len(prot_body)) + prot_body
    header = IMAGE_HEADER_STRUCT.pack(IMAGE_MAGIC, 0x10000, HEADER_SIZE, len(prot), payload_size, IMAGE_F_RAM_LOAD,
                                      *version, 0).ljust(HEADER_SIZE, b"\xff")
    signed = header + payload + prot
    body = tlv(TLV_SHA256, hashlib.sha256(signed).digest()) + tlv(TLV_KEYHASH, bytes(32)) \
        + tlv(TLV_ECDSA_SIG, b"\x30" + bytes(70))
    return signed + struct.pack("<HH", TLV_INFO_MAGIC, 4 + len(body)) + body


def test_the_synthetic_image_parses_as_ours():
    img = parse_image(make_image(counter=7, version=(1, 2, 3, 4)))
    assert (img.security_counter, img.target, img.header.version_text) == (7, "qemu", "1.2.3+4")


# --------------------------------------------------------------------------------------------------------- device
class ModelDevice:
    """docs/protocol.md 3.6 as a model: what a device with update support answers. `after_install`: what the new
    boot reports — "confirm" (INSTALLED, confirmed), "trial" (INSTALLED on trial, confirmed at the host's next
    frame), "revert" (REVERTED SELF_TEST_FAILED, the old image runs), "refuse" (the bootloader refused it:
    REFUSED BAD_SIGNATURE). `refuse_at_end`: an update result UPDATE_END gives (a bad signature, ...).
    `update_support` False: a firmware that answers the update requests with ERROR UNKNOWN_TYPE and sends no
    BOOT_REPORT."""

    def __init__(self, *, beats: int = 5, version: tuple[int, int, int, int] = (0, 1, 0, 0), counter: int = 1,
                 after_install: str = "confirm", refuse_at_end: int = 0, update_support: bool = True,
                 busy_until_frames: int = 0):
        self.lock = threading.Lock()
        self.decoder = wire.Decoder(wire.Accepts.HOST_TO_DEVICE)
        self.version, self.counter = version, counter
        self.after_install, self.refuse_at_end = after_install, refuse_at_end
        self.update_support = update_support
        self.busy_frames = busy_until_frames
        self.slot = 0
        self.boot_id = 100
        self.installed: bytes | None = None  # what an install put into the image slot that runs next
        self.installs = 0
        self.update_requests = 0
        self.acked_at_install: int | None = None
        self.last_beat_at_install: int | None = None
        self.beats_per_boot = beats
        self.outcome, self.reason, self.confirmed = wire.BootOutcome.NONE, wire.UpdateResult.OK, 1
        self._confirm_on_next_frame = False
        self._reset_transfer()
        self.out: list[bytes] = []
        self._boot()

    # -- frames out
    def _emit(self, msg: wire.Message, retain: bool = False) -> None:
        self.seq += 1
        data = wire.encode(msg, self.seq)
        if retain:
            self.ring[self.seq] = data
            self.last_beat = self.seq
            self.beats += 1
        self.out.append(data)

    def _hello(self) -> None:
        self._emit(wire.Hello(DEV, "{}.{}.{}".format(*self.version[:3]), "m-test", bytes(32), 1, self.boot_id, 360))
        if self.update_support:
            self._report()

    def _report(self) -> None:
        self._emit(wire.BootReport(self.slot, *self.version, self.confirmed, self.outcome, self.reason,
                                   self.counter))

    def _status(self) -> None:
        oldest = min(self.ring) if self.ring else 0
        self._emit(wire.Status(1000, 0, self.beats, 0, self.decoder.corrupt, 0, 0, 0, 0, self.last_beat, oldest))

    def _boot(self) -> None:
        self.boot_id += 1
        self.seq = 0
        self.ring: dict[int, bytes] = {}
        self.last_beat = 0
        self.beats = 0
        self.acked = 0
        self._reset_transfer()
        self._hello()
        for i in range(self.beats_per_boot):
            self._emit(wire.Beat(100 * (i + 1), 0, (100, -100, -120, -128, -128), 0, 0), retain=True)

    def _reset_transfer(self) -> None:
        self.state, self.code, self.next = wire.TransferState.IDLE, wire.UpdateResult.OK, 0
        self.begin: wire.UpdateBegin | None = None
        self.held = bytearray()

    # -- frames in
    def feed(self, data: bytes) -> bytes:
        with self.lock:
            self.out = []
            for frame in self.decoder.feed(data):
                self._take(frame.seq, frame.message)
            out, self.out = self.out, []
            return b"".join(out)

    def _take(self, seq: int, msg: wire.Message) -> None:
        if self._confirm_on_next_frame:  # the self-test's last part: the host link is up
            self._confirm_on_next_frame = False
            self.confirmed = 1
            self._report()
        if isinstance(msg, wire.HelloRequest):
            self._hello()
        elif isinstance(msg, wire.GetStatus):
            self._status()
        elif isinstance(msg, wire.HostAck):
            self.acked = max(self.acked, msg.device_seq)
            for s in [s for s in self.ring if s <= msg.device_seq]:
                del self.ring[s]
        elif isinstance(msg, wire.Resend):
            self.out.extend(self.ring[s] for s in sorted(self.ring) if s > msg.after_seq)
            self._status()
        elif type(msg).__name__.startswith("Update"):
            self.update_requests += 1
            if not self.update_support:
                self._emit(wire.Error(wire.ErrorCode.UNKNOWN_TYPE, seq, "update requests are not taken"))
                return
            self._update(seq, msg)

    def _answer(self, seq: int, result: int = wire.UpdateResult.OK) -> None:
        nxt = self.next if self.state == wire.TransferState.RECEIVING else \
            len(self.held) if self.state in (wire.TransferState.VERIFIED, wire.TransferState.INSTALLING) else 0
        self._emit(wire.UpdateState(seq, self.state, result, nxt))

    def _refuse(self, seq: int, code: int) -> None:
        self._reset_transfer()
        self.state, self.code = wire.TransferState.REFUSED, code
        self._answer(seq, code)

    def _update(self, seq: int, msg: wire.Message) -> None:
        S, R = wire.TransferState, wire.UpdateResult
        if self.state == S.INSTALLING:
            return self._answer(seq, R.BUSY)
        if isinstance(msg, wire.UpdateAbort):
            self._reset_transfer()
            return self._answer(seq)
        if isinstance(msg, wire.UpdateBegin):
            if self.state in (S.RECEIVING, S.VERIFIED) and msg == self.begin:
                return self._answer(seq)
            if not 1 <= msg.image_size <= SLOT_SIZE:
                return self._refuse(seq, R.BAD_SIZE)
            if self.busy_frames > 0:
                self.busy_frames -= 1
                return self._refuse(seq, R.BUSY)
            if msg.security_counter < self.counter:
                return self._refuse(seq, R.SECURITY_COUNTER)
            self._reset_transfer()
            self.state, self.begin = S.RECEIVING, msg
            return self._answer(seq)
        if self.state == S.REFUSED:
            return self._answer(seq, self.code)
        if self.state == S.IDLE and not isinstance(msg, wire.UpdateInstall):
            return self._answer(seq, R.NO_TRANSFER)
        assert self.begin is not None or isinstance(msg, wire.UpdateInstall)
        if isinstance(msg, wire.UpdateChunk):
            if self.state == S.VERIFIED:
                return self._answer(seq)
            size = self.begin.image_size if self.begin else 0
            end = msg.offset + len(msg.data)
            if end > size:
                return self._answer(seq, R.BAD_OFFSET)
            if msg.offset > self.next:
                return self._answer(seq, R.OUT_OF_ORDER)
            if len(msg.data) % wire.CHUNK_ALIGN and end < size:
                return self._answer(seq, R.BAD_LENGTH)
            if end > self.next:
                self.held[self.next:end] = msg.data[self.next - msg.offset:]
                self.next = end
            return self._answer(seq)
        if isinstance(msg, wire.UpdateEnd):
            if self.state == S.VERIFIED:
                return self._answer(seq)
            assert self.begin is not None
            if self.next < self.begin.image_size:
                return self._answer(seq, R.INCOMPLETE)
            if hashlib.sha256(self.held).digest() != self.begin.image_sha256:
                return self._refuse(seq, R.TRANSFER_HASH)
            if self.refuse_at_end:
                return self._refuse(seq, self.refuse_at_end)
            self.state = S.VERIFIED
            return self._answer(seq)
        if isinstance(msg, wire.UpdateInstall):
            if self.state != S.VERIFIED:
                return self._answer(seq, R.NOT_VERIFIED)
            self.state = S.INSTALLING
            self._answer(seq)
            self._install()
        return None

    def _install(self) -> None:
        """PENDING written; the device resets into the bootloader, which runs the new image (or not)."""
        assert self.begin is not None
        self.installs += 1
        self.installed = bytes(self.held)
        self.acked_at_install, self.last_beat_at_install = self.acked, self.last_beat
        new_version = (self.begin.version_major, self.begin.version_minor, self.begin.version_revision,
                       self.begin.version_build)
        mode = self.after_install
        if mode in ("confirm", "trial"):
            self.slot, self.version = 1 - self.slot, new_version
            self.counter = max(self.counter, self.begin.security_counter) if mode == "confirm" else self.counter
            self.outcome, self.reason = wire.BootOutcome.INSTALLED, wire.UpdateResult.OK
            self.confirmed = 1 if mode == "confirm" else 0
            self._confirm_on_next_frame = mode == "trial"
        elif mode == "revert":
            self.outcome, self.reason = wire.BootOutcome.REVERTED, wire.UpdateResult.SELF_TEST_FAILED
        else:
            self.outcome, self.reason = wire.BootOutcome.REFUSED, wire.UpdateResult.BAD_SIGNATURE
        self._boot()


# --------------------------------------------------------------------------------------------------------- relay
ACTIONS = ("pass", "drop", "dup", "hold", "corrupt", "cut")


class Faults:
    """One direction's plan: the n-th frame gets plan[n] (then "pass" for ever). `apply(frame)` returns the frames
    to forward now (the held one after this one) and whether to cut the connection after them."""

    def __init__(self, plan: list[str], byte_stream_losses: bool = False):
        self.plan = list(plan)
        self.byte_stream_losses = byte_stream_losses
        self.n = 0
        self.held: bytes | None = None
        self.log: list[str] = []

    def apply(self, frame: bytes) -> tuple[list[bytes], bool]:
        action = self.plan[self.n] if self.n < len(self.plan) else "pass"
        self.n += 1
        if self.byte_stream_losses and action in ("drop", "hold") and _retained(frame):
            action = "corrupt"  # see FaultRelay
        self.log.append(action)
        out: list[bytes] = []
        cut = False
        if action == "pass":
            out = [frame]
        elif action == "dup":
            out = [frame, frame]
        elif action == "corrupt":
            out = [corrupt(frame, self.n)]
        elif action == "hold":
            if self.held is None:
                self.held = frame
                return [], False
            out = [frame]  # already holding one: this one passes
        elif action == "cut":
            cut = True  # the frame is lost with the connection
        if self.held is not None and action != "hold":
            out.append(self.held)
            self.held = None
        if cut:
            out, self.held = [], None
        return out, cut


def corrupt(frame: bytes, salt: int) -> bytes:
    """`frame` (delimiter included) with one bit of one non-delimiter byte flipped, never to 0x00."""
    body = bytearray(frame[:-1])
    i = salt * 7 % len(body)
    mask = 1 << (salt % 8)
    if body[i] ^ mask == 0:
        mask = 0x02 if mask != 0x02 else 0x04
    body[i] ^= mask
    return bytes(body) + b"\x00"


def split_frames(buf: bytearray) -> list[bytes]:
    """Complete frames (ending in 0x00) taken from the front of `buf`; lone delimiters pass as they are."""
    frames = []
    while True:
        z = buf.find(0)
        if z < 0:
            return frames
        frames.append(bytes(buf[:z + 1]))
        del buf[:z + 1]


def _retained(frame: bytes) -> bool:
    got = wire.decode_frames(frame)
    return bool(got) and isinstance(got[0], wire.Frame) and isinstance(got[0].message, (wire.Beat, wire.Alert))


class FaultRelay:
    """TCP on 127.0.0.1 for the link; `device.feed(bytes) -> bytes` behind it. Connections are served one at a
    time; a cut closes the current one (the device keeps its state).

    Device -> host, a BEAT or ALERT planned to be dropped or held back is corrupted instead: on a byte stream a
    lost frame shows as a damaged one, and the link's RESEND logic relies on that (a BEAT that vanishes without a
    trace inside a RESEND replay is taken as settled: see test_link_finding_a_beat_lost_silently_in_a_replay)."""

    def __init__(self, device: ModelDevice, to_device: list[str], to_host: list[str]):
        self.device = device
        self.down, self.up = Faults(to_device), Faults(to_host, byte_stream_losses=True)
        self.cuts = 0
        self.connections = 0
        self._srv = socket.create_server(("127.0.0.1", 0))
        self._srv.settimeout(0.1)
        self.port = self._srv.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self._srv.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._srv.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.settimeout(0.05)
            try:
                self._serve(conn)
            finally:
                conn.close()

    def _serve(self, conn: socket.socket) -> None:
        buf = bytearray()
        while not self._stop.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            buf += data
            for frame in split_frames(buf):
                if frame == b"\x00":
                    self.device.feed(frame)
                    continue
                frames, cut = self.down.apply(frame)
                reply = b"".join(self.device.feed(f) for f in frames)
                replies = split_frames(bytearray(reply))
                out = []
                for r in replies:
                    fs, cut_up = self.up.apply(r)
                    out += fs
                    cut = cut or cut_up
                if out:
                    try:
                        conn.sendall(b"".join(out))
                    except OSError:
                        return
                if cut:
                    self.cuts += 1
                    return


def test_faults_each_action_does_what_it_says():
    f = [wire.encode(wire.GetStatus(), s) for s in range(1, 9)]
    plan = Faults(["pass", "drop", "dup", "hold", "pass", "corrupt", "cut"])
    outs = [plan.apply(x) for x in f]
    assert outs[0] == ([f[0]], False)
    assert outs[1] == ([], False)  # dropped
    assert outs[2] == ([f[2], f[2]], False)  # repeated
    assert outs[3] == ([], False) and outs[4] == ([f[4], f[3]], False)  # held behind the next: reordered
    (bad,), cut = outs[5]
    assert not cut and len(bad) == len(f[5]) and bad != f[5] and bad.count(0) == 1 and bad.endswith(b"\x00")
    assert sum(bin(a ^ b).count("1") for a, b in zip(bad, f[5], strict=True)) == 1  # one bit
    assert isinstance(wire.decode_frames(bad)[0], wire.Reject)  # the receiver sees it damaged (crc or cobs)
    assert outs[6] == ([], True)  # cut: the frame goes with the connection
    assert outs[7] == ([f[7]], False)  # after the plan: everything passes


def test_faults_a_cut_loses_a_held_frame_and_corruption_never_makes_a_delimiter():
    plan = Faults(["hold", "cut"])
    a, b = wire.encode(wire.GetStatus(), 1), wire.encode(wire.GetStatus(), 2)
    assert plan.apply(a) == ([], False) and plan.apply(b) == ([], True)
    for salt in range(1, 400):
        frame = wire.encode(wire.UpdateChunk(0, bytes([1 << (salt % 8)] * 40)), salt)
        assert corrupt(frame, salt).count(0) == 1


def test_relay_forwards_frames_and_cuts_the_connection():
    dev = ModelDevice(beats=0)
    with FaultRelay(dev, ["pass", "drop", "cut"], ["dup"]) as relay:
        s = socket.create_connection(("127.0.0.1", relay.port))
        s.sendall(wire.encode(wire.HelloRequest(), 1))  # passes; its HELLO goes back twice, then the BOOT_REPORT
        got = bytearray()
        while len(wire.decode_frames(bytes(got))) < 3:
            got += s.recv(4096)
        kinds = [type(m).__name__ for m in wire.iter_messages(wire.decode_frames(bytes(got)))]
        assert kinds == ["Hello", "Hello", "BootReport"]
        s.sendall(wire.encode(wire.GetStatus(), 2))  # dropped: nothing comes back
        s.sendall(wire.encode(wire.GetStatus(), 3))  # cut
        s.settimeout(5)
        assert s.recv(4096) == b""  # the relay closed the connection
        s.close()
        s2 = socket.create_connection(("127.0.0.1", relay.port))  # the device is still there
        s2.sendall(wire.encode(wire.GetStatus(), 1))
        s2.settimeout(5)
        assert isinstance(wire.iter_messages(wire.decode_frames(s2.recv(4096)))[0], wire.Status)
        s2.close()
    assert relay.cuts == 1 and relay.connections == 2 and dev.decoder.frames == 2  # dropped, cut: never came


# --------------------------------------------------------------------------------------------------------- flasher
def run_flash(dev: ModelDevice, image: bytes, to_device: list[str] | None = None, to_host: list[str] | None = None,
              target: str | None = "qemu", timing: FlashTiming = FAST) -> tuple[FlashOutcome, list[tuple],
                                                                               DeviceLink, FaultRelay]:
    with tempfile.TemporaryDirectory() as tmp, FaultRelay(dev, to_device or [], to_host or []) as relay:
        q = DurableQueue(Path(tmp) / "queue.db")
        link = DeviceLink(relay.url, q, ack_every=4, ack_interval_s=0.2, backoff_initial_s=0.02, backoff_max_s=0.1)
        with link:
            try:
                outcome = flash_release(link, image, target=target, timing=timing)
            finally:
                rows = q._db.execute("SELECT boot_id, seq, kind FROM messages").fetchall()
        q.close()
    return outcome, rows, link, relay


@pytest.fixture(autouse=True)
def quick_handshake(monkeypatch):
    monkeypatch.setattr(link_mod, "HANDSHAKE_RETRY_S", 0.5)


def beats_in(rows) -> list[tuple[int, int]]:
    return [(b, s) for b, s, k in rows if k == "beat"]


def test_a_clean_flash_drains_transfers_installs_and_reports_confirmed():
    dev = ModelDevice(beats=6)
    image = make_image(payload_size=3000)
    outcome, rows, link, _ = run_flash(dev, image)
    assert outcome.result == "installed" and outcome.confirmed and outcome.ok, outcome
    assert dev.installed == image and dev.installs == 1
    # every BEAT of the old boot was in the queue and acknowledged before INSTALL (the reset loses the ring)
    assert dev.last_beat_at_install and dev.acked_at_install >= dev.last_beat_at_install
    old_boot = 101
    assert sorted(s for b, s in beats_in(rows) if b == old_boot) == list(range(3, 9))  # each once
    assert outcome.hello is not None and outcome.hello.boot_id == 102 and outcome.boot_report.running_slot == 1
    assert outcome.image_version == "0.2.0+0" and "0.2.0+0 runs and confirmed itself" in outcome.detail
    n = len(image)
    assert outcome.stats["bytes"] == n and outcome.stats["chunks"] == -(-n // wire.CHUNK_MAX)
    sent = [m for _, m in link.counters.sent if isinstance(m, wire.UpdateChunk)]
    assert all(len(c.data) == 256 for c in sent[:-1]) and b"".join(c.data for c in sent) == image


def test_an_image_on_trial_is_reported_once_it_confirms_itself():
    dev = ModelDevice(after_install="trial")
    outcome, *_ = run_flash(dev, make_image())
    assert outcome.result == "installed" and outcome.confirmed and outcome.boot_report.confirmed == 1


@pytest.mark.parametrize("mode, result, reason", [("revert", "reverted", "SELF_TEST_FAILED"),
                                                  ("refuse", "refused", "BAD_SIGNATURE")])
def test_after_the_reboot_a_revert_or_a_refusal_is_reported_with_its_reason(mode, result, reason):
    dev = ModelDevice(after_install=mode)
    outcome, *_ = run_flash(dev, make_image())
    assert (outcome.result, outcome.reason, outcome.ok) == (result, reason, False)
    assert "0.1.0+0 runs" in outcome.detail and reason in outcome.detail


@pytest.mark.parametrize("code", [wire.UpdateResult.BAD_SIGNATURE, wire.UpdateResult.UNKNOWN_KEY,
                                  wire.UpdateResult.WRONG_TARGET, wire.UpdateResult.IMAGE_HASH])
def test_a_refusal_at_verification_aborts_cleanly_naming_the_code(code):
    dev = ModelDevice(refuse_at_end=code)
    outcome, _, link, _ = run_flash(dev, make_image())
    assert (outcome.result, outcome.reason) == ("refused", code.name) and code.name in outcome.detail
    updates = [m for _, m in link.counters.sent if type(m).__name__.startswith("Update")]
    assert isinstance(updates[-1], wire.UpdateAbort) and not any(isinstance(m, wire.UpdateInstall) for m in updates)
    assert dev.state == wire.TransferState.IDLE and dev.installed is None and dev.installs == 0


def test_busy_waits_for_the_running_image_then_flashes():
    dev = ModelDevice(busy_until_frames=2)
    outcome, *_ = run_flash(dev, make_image())
    assert outcome.ok and outcome.stats["busy_waits"] == 2


@pytest.mark.parametrize("image, target, counter, says", [
    (make_image()[:-10], "qemu", 1, "image refused: truncated image"),
    (make_image()[:100], "qemu", 1, "image refused: truncated image"),
    (b"\x00" * 600, "qemu", 1, "image refused: not an MCUboot image"),
    (make_image(target="nrf52840"), "qemu", 1, "image refused: wrong target: the image is for 'nrf52840'"),
    (make_image(counter=3), "qemu", 4, "image refused: security counter 3 is below the device's 4"),
    (make_image() + b"\xff", "qemu", 1, "image refused: 1 unexpected bytes after the TLV area"),
])
def test_host_pre_checks_refuse_before_anything_is_sent(image, target, counter, says):
    dev = ModelDevice(counter=counter)
    with pytest.raises(FlashError) as err:
        run_flash(dev, image, target=target)
    assert str(err.value).startswith(says) and "\n" not in str(err.value)
    assert dev.update_requests == 0 and dev.installed is None


def test_a_firmware_without_update_support_is_named_before_anything_is_sent():
    dev = ModelDevice(update_support=False)
    with pytest.raises(FlashError, match="sent no BOOT_REPORT after its HELLO: its firmware has no update support"):
        run_flash(dev, make_image(), timing=FlashTiming(**{**FAST.__dict__, "report_s": 0.3}))
    assert dev.update_requests == 0


def test_unknown_target_leaves_the_target_check_to_the_device():
    dev = ModelDevice()
    outcome, *_ = run_flash(dev, make_image(target="nrf52840"), target=None)
    assert outcome.ok  # (the model device does not check targets: the real one answers WRONG_TARGET)


def test_resumes_from_next_offset_after_a_disconnect():
    dev = ModelDevice(beats=0)
    # the link's first frames: 0x00 is not planned; HELLO_REQUEST, GET_STATUS, BEGIN, then chunks: cut at the 6th
    outcome, _, _, relay = run_flash(dev, make_image(payload_size=4000), to_device=["pass"] * 8 + ["cut"])
    assert outcome.ok and relay.cuts == 1 and relay.connections == 2
    assert outcome.stats["reconnects"] >= 1 and outcome.stats["resumes"] == 1  # BEGIN again answered from N > 0
    assert dev.installed == make_image(payload_size=4000)


def test_out_of_order_chunks_are_sent_again_from_next_offset():
    dev = ModelDevice(beats=0)
    plan = ["pass"] * 5 + ["drop"]  # a chunk lost: the ones after it come back OUT_OF_ORDER
    outcome, *_ = run_flash(dev, make_image(payload_size=4000), to_device=plan)
    assert outcome.ok and outcome.stats["out_of_order"] >= 1


def test_no_answer_at_all_ends_in_an_abort_not_an_install():
    dev = ModelDevice(beats=0)
    timing = FlashTiming(**{**FAST.__dict__, "retries": 3})
    outcome, *_ = run_flash(dev, make_image(), to_device=["pass"] * 3 + ["drop"] * 400, timing=timing)
    assert outcome.result == "aborted" and outcome.reason == "NO_ANSWER" and dev.installed is None


def test_flasher_judges_a_boot_report_without_a_device():
    f = Flasher.__new__(Flasher)  # judge() needs only the image
    f.data, f.image, f.stats, f.link = make_image(), parse_image(make_image()), {}, None
    f.t = FAST
    hello = wire.Hello(DEV, "0.2.0", "m", bytes(32), 1, 7, 360)
    other = wire.BootReport(0, 0, 1, 0, 0, 1, wire.BootOutcome.INSTALLED, 0, 1)  # "installed", but not this image
    out = f.judge(hello, other)
    assert out.result == "aborted" and "reports INSTALLED, not this image (0.2.0+0)" in out.detail


# --------------------------------------------------------------------------------------------------------- property
plans = st.lists(st.sampled_from(ACTIONS), max_size=30)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(to_device=plans, to_host=plans, size=st.integers(600, 3000), beats=st.integers(0, 6))
def test_any_faults_end_in_the_verified_image_or_a_clean_abort(to_device, to_host, size, beats):
    dev = ModelDevice(beats=beats)
    image = make_image(payload_size=size)
    outcome, rows, _, _ = run_flash(dev, image, to_device=to_device, to_host=to_host)
    if dev.installed is not None:
        assert dev.installed == image  # never anything but the whole, verified image
        assert dev.installs == 1
        assert outcome.result in ("installed", "aborted")  # aborted only when the new boot's report never came
        if outcome.result == "installed":
            assert outcome.ok
        # nothing of the old boot was lost: every BEAT was held and acknowledged before the reset
        assert dev.acked_at_install >= dev.last_beat_at_install
        old = sorted(s for b, s in beats_in(rows) if b == 101)
        assert old == sorted(set(old)) and len(old) == beats
    else:
        assert outcome.result == "aborted", outcome  # faults alone never make the device refuse the image
        assert dev.state != wire.TransferState.INSTALLING


@pytest.mark.xfail(strict=True, reason="link finding (edge_bridge/link.py, not the flasher's): the STATUS that ends "
                   "a RESEND replay settles everything before it, so a BEAT that vanished from the replay without a "
                   "damaged frame (possible only on a transport that loses whole frames) is never asked for again; "
                   "docs/protocol.md 3.3's check (STATUS beats + alerts = held + GAPs) would catch it")
def test_link_finding_a_beat_lost_silently_in_a_replay(tmp_path):
    with DurableQueue(tmp_path / "q.db") as q:
        lk = DeviceLink("loop://", q, ack_every=1, ack_interval_s=3600, backoff_initial_s=0.05).start()
        try:
            def inject(*frames):
                with lk.port_lock:
                    lk._port.write(b"".join(wire.encode(m, s) for s, m in frames))
            inject((1, wire.Hello(DEV, "0.1.0", "m", bytes(32), 1, 9, 360)),
                   (2, wire.Status(1, 0, 3, 0, 0, 0, 0, 0, 0, 5, 3)))
            deadline = time.monotonic() + 20
            while not any(isinstance(m, wire.Resend) for _, m in lk.counters.sent) and time.monotonic() < deadline:
                time.sleep(0.01)
            beat = wire.Beat(1, 0, (0, 0, 0, 0, 0), 0, 0)
            inject((3, beat), (5, beat), (6, wire.Status(1, 0, 3, 0, 0, 0, 0, 0, 0, 5, 3)))  # beat 4 vanished
            while lk.held_through < 6 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert lk.held_through < 4  # fails today: held through 6 without beat 4
        finally:
            lk.stop()


def test_heartbeat_flash_refuses_a_truncated_image_in_one_line_before_opening_the_device(tmp_path):
    from typer.testing import CliRunner

    from heartbeat_core.cli import make_app

    bad = tmp_path / "firmware.signed.bin"
    bad.write_bytes(make_image()[:-1])
    res = CliRunner().invoke(make_app(), ["flash", str(bad), "--device", "socket://127.0.0.1:9",
                                          "--queue", str(tmp_path / "q.db")])
    assert res.exit_code != 0 and not (tmp_path / "q.db").exists()
    assert isinstance(res.exception, FlashError) and "image refused: truncated image" in str(res.exception)
