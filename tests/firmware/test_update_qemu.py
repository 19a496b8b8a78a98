"""The device receives, stores and checks an update: the real firmware in QEMU, the emulated flash file, real
signed images (docs/ota.md "The device receives an update", docs/protocol.md 3.6).

The firmware under test is a real release: `heartbeat firmware build` (build_release) signed with a key this test
makes (keygen into a temporary folder outside the repository, never kept), so the firmware carries that key's
public key (HEARTBEAT_FIRMWARE_PUBKEY, passed by the build). It runs in QEMU mps2-an386 with a flash file holding a
CONFIRMED(slot 0) record whose security counter floor is the release's own counter: the running image is slot 0's,
a transfer goes to slot 1. While MIT-BIH record 100 streams as SAMPLES and the device classifies beats, images are
sent over the UART as UPDATE_BEGIN / UPDATE_CHUNK / UPDATE_END:

* refused, each with its result code, before anything changes (the state pages and slot 0 byte for byte as they
  were; nothing but slot 1 written): a byte flipped in the payload, in the header, in the protected TLVs and in the
  signature; a truncated image; the same firmware signed with another key, for the other target, with a security
  counter below the floor (refused at UPDATE_BEGIN, before a page is erased);
* the release's own signed image: transferred (a disconnect and a resume half way), verified, and accepted for
  install: UPDATE_INSTALL answers INSTALLING and the flash then holds PENDING(1) and the image in slot 1;
* the whole time every sample sent is processed (STATUS.samples), beats keep coming, no overrun and no ERROR.

The variants are the release's own payload (objcopy of its ELF, as the build makes it) signed again by imgtool
(firmware_release.sign_image) with the other key, target or counter; the flips are made in the release's image.
"""
from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from edge_bridge import wire
from heartbeat_system.device_harness import QemuDevice
from heartbeat_system.emulator import Emulator, flash_geometry
from heartbeat_system.firmware_image import parse_image

pytestmark = pytest.mark.slow

SLOT_SIZE = 0x40000
SLOT0, SLOT1, STATE = 0x000000, 0x040000, 0x080000
STATE_END = 0x082000
PAGE = 4096
CHUNK = wire.CHUNK_MAX
WINDOW = 16  # chunks sent before waiting for the last one's answer
RECORD = struct.Struct("<HBBIIBBH")  # docs/ota.md "Records": magic, kind, slot, seq, floor, reason, format, crc
KIND_PENDING, KIND_CONFIRMED = 1, 3
U = wire.UpdateResult
T = wire.TransferState


# ---------------------------------------------------------------------------------------------------------------
# the release and its variants
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def release(tmp_path_factory) -> dict:
    import subprocess

    from heartbeat_system import firmware_release as fr

    keys = tmp_path_factory.mktemp("keys")
    key_a, key_b = fr.keygen(keys / "a"), fr.keygen(keys / "b")
    out = tmp_path_factory.mktemp("release") / "v1"
    manifest = fr.build_release(fr.ReleaseSpec(target="qemu", out_dir=out, key=key_a.private))
    elf = out / fr.ELF_NAME
    image = (out / fr.IMAGE_NAME).read_bytes()
    parsed = parse_image(image)
    work = tmp_path_factory.mktemp("variants")
    binary = work / "firmware.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(binary)], check=True)
    counter = parsed.security_counter
    version = parsed.header.version_text

    def signed(name: str, key: Path, target: str, sec: int) -> bytes:
        path = work / f"{name}.bin"
        fr.sign_image(binary, path, key, "qemu", version, manifest["model_sha256"], sec)
        if target != "qemu":  # the same firmware, its target TLV naming the other target (imgtool, as the build)
            path.unlink()
            fr.imgtool(["sign", "--key", str(key), "--header-size", hex(fr.HEADER_SIZE), "--pad-header",
                        "--align", str(fr.WRITE_ALIGN), "--slot-size", hex(fr.SLOT_SIZE), "--version", version,
                        "--security-counter", str(sec), "--custom-tlv", hex(fr.TLV_TARGET), target,
                        "--custom-tlv", hex(fr.TLV_MODEL_SHA256), "0x" + manifest["model_sha256"],
                        "--load-addr", hex(fr.TARGETS["qemu"].load_address), str(binary), str(path)])
        return path.read_bytes()

    return {
        "elf": elf,
        "image": image,
        "parsed": parsed,
        "counter": counter,
        "other_key": signed("other_key", key_b.private, "qemu", counter),
        "other_target": signed("other_target", key_a.private, "nrf52840", counter),
        "low_counter": signed("low_counter", key_a.private, "qemu", counter - 1),
    }


def flipped(image: bytes, at: int) -> bytes:
    data = bytearray(image)
    data[at] ^= 0x01
    return bytes(data)


def record(kind: int, slot: int, seq: int, floor: int) -> bytes:
    head = RECORD.pack(0xB007, kind, slot, seq, floor, 0, 1, 0)[:14]
    return head + struct.pack("<H", wire.crc16(head))


def decode_records(page: bytes) -> list[tuple[int, int, int, int]]:
    """(seq, kind, slot, floor) of every valid record in a state page."""
    out = []
    for i in range(0, len(page), RECORD.size):
        raw = page[i:i + RECORD.size]
        magic, kind, slot, seq, floor, _reason, fmt, crc = RECORD.unpack(raw)
        if magic == 0xB007 and fmt == 1 and crc == wire.crc16(raw[:14]):
            out.append((seq, kind, slot, floor))
    return out


# ---------------------------------------------------------------------------------------------------------------
# the device
# ---------------------------------------------------------------------------------------------------------------
class Flash:
    """The flash file: the region port.h sees (flash_geometry: where the PSRAM is; offsets from its start)."""

    def __init__(self, path: Path):
        self.path = path

    def read(self, offset: int, length: int) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def write(self, offset: int, data: bytes) -> None:
        with open(self.path, "r+b") as f:
            f.seek(offset)
            f.write(data)


class Streamer:
    """Record 100 as SAMPLES frames, sent a few at a time between update requests."""

    def __init__(self, dev: QemuDevice, signal: np.ndarray):
        self.dev, self.signal, self.sent = dev, signal, 0

    def frames(self, n: int) -> None:
        for _ in range(n):
            chunk = self.signal[self.sent:self.sent + wire.SAMPLES_MAX]
            self.dev.send(wire.Samples(self.sent, tuple(int(v) for v in chunk)))
            self.sent += len(chunk)


@pytest.fixture(scope="module")
def device(release, tmp_path_factory, mitdb_dir):
    from toolchain.mitdb import DEFAULT_LEAD, load_record

    tmp = tmp_path_factory.mktemp("device")
    flash_path = tmp / "flash.bin"
    dev = QemuDevice(release["elf"], log_path=tmp / "qemu.log")
    # the harness's device, its emulator given the flash file (the same QEMU command line otherwise)
    dev.emulator = Emulator(release["elf"], log_path=tmp / "qemu.log", flash_file=flash_path)
    dev.port, dev.cmd = dev.emulator.port, dev.emulator.cmd
    flash = Flash(flash_path)
    base, _size = flash_geometry()
    assert base == 0x21000000
    # a device whose bootloader adopted slot 0's image (the release) and recorded its counter as the floor
    flash.write(STATE, record(KIND_CONFIRMED, 0, 1, release["counter"]))
    dev.start()
    signal = np.asarray(load_record(mitdb_dir, "100", DEFAULT_LEAD).signal, dtype=np.int64)
    try:
        dev.wait_for(lambda f: isinstance(f.message, wire.Hello), 30)
        yield dev, flash, Streamer(dev, signal)
    finally:
        dev.close()


def answer(dev: QemuDevice, seq: int, start: int, timeout_s: float = 120.0) -> wire.UpdateState:
    """The UPDATE_STATE answering host seq `seq`, among the frames from `start` on (seqs restart on a reconnect)."""
    frame = dev.wait_for(lambda f: isinstance(f.message, wire.UpdateState) and f.message.host_seq == seq, timeout_s,
                         start)
    assert isinstance(frame.message, wire.UpdateState)
    return frame.message


def request(dev: QemuDevice, msg: wire.Message) -> wire.UpdateState:
    start = dev.mark()
    return answer(dev, dev.send(msg), start)


def begin(dev: QemuDevice, image: bytes, counter: int, version: tuple[int, int, int, int]) -> wire.UpdateState:
    major, minor, revision, build = version
    return request(dev, wire.UpdateBegin(len(image), hashlib.sha256(image).digest(), major, minor, revision, build,
                                         counter))


def send_chunks(dev: QemuDevice, streamer: Streamer, image: bytes, start: int, stop: int) -> wire.UpdateState:
    """Chunks of image[start:stop] in windows, a SAMPLES frame after each window; the last chunk's answer."""
    last = None
    offsets = list(range(start, stop, CHUNK))
    for w in range(0, len(offsets), WINDOW):
        seq, start = 0, dev.mark()
        for at in offsets[w:w + WINDOW]:
            seq = dev.send(wire.UpdateChunk(at, image[at:min(at + CHUNK, stop)]))
        streamer.frames(1)
        last = answer(dev, seq, start)
        assert last.result == U.OK, f"chunk answered {U(last.result).name} at {last.next_offset}"
    assert last is not None
    return last


def transfer(dev, streamer, image: bytes, counter: int, version) -> wire.UpdateState:
    st = begin(dev, image, counter, version)
    assert (st.state, st.result, st.next_offset) == (T.RECEIVING, U.OK, 0)
    st = send_chunks(dev, streamer, image, 0, len(image))
    assert (st.state, st.next_offset) == (T.RECEIVING, len(image))
    return request(dev, wire.UpdateEnd())


def protected_regions(flash: Flash) -> bytes:
    return flash.read(SLOT0, SLOT_SIZE) + flash.read(STATE, STATE_END - STATE)


def still_classifying(dev: QemuDevice, streamer: Streamer, beats_before: int) -> int:
    """Every sample sent was processed, beats keep coming, nothing was dropped; returns the beats so far."""
    status = dev.status()
    assert status.samples == streamer.sent
    assert status.overruns == 0
    assert status.beats > beats_before
    assert not dev.of_type(wire.Error)
    return status.beats


# ---------------------------------------------------------------------------------------------------------------
# the test
# ---------------------------------------------------------------------------------------------------------------
def test_bad_images_are_refused_and_a_valid_one_is_accepted_while_beats_stream(device, release):
    dev, flash, streamer = device
    image, parsed, counter = release["image"], release["parsed"], release["counter"]
    version = parsed.header.version
    header = parsed.header
    prot_start = header.header_size + header.payload_size
    sig = parsed.signature
    streamer.frames(20)
    beats = still_classifying(dev, streamer, 0)
    before = protected_regions(flash)

    cases = [
        ("a byte flipped in the payload", flipped(image, header.header_size + header.payload_size // 2),
         U.IMAGE_HASH),
        ("a byte flipped in the header", flipped(image, 20), U.IMAGE_HASH),
        ("a byte flipped in the protected TLVs", flipped(image, prot_start + 8), U.IMAGE_HASH),
        ("a byte flipped in the signature", flipped(image, sig.offset + len(sig.value) // 2), U.BAD_SIGNATURE),
        ("a truncated image", image[:-8], U.BAD_IMAGE),
        ("an image signed with another key", release["other_key"], U.UNKNOWN_KEY),
        ("an image for the other target", release["other_target"], U.WRONG_TARGET),
    ]
    for what, bad, code in cases:
        st = transfer(dev, streamer, bad, counter, version)
        assert (st.state, st.result, st.next_offset) == (T.REFUSED, code, 0), \
            f"{what}: answered {T(st.state).name} {U(st.result).name}"
        st = request(dev, wire.UpdateInstall())
        assert (st.state, st.result) == (T.REFUSED, code), what
        assert protected_regions(flash) == before, f"{what}: slot 0 or the boot state changed"
        beats = still_classifying(dev, streamer, beats)

    # a lower security counter: refused at UPDATE_BEGIN, before a page is erased
    slot1_before = flash.read(SLOT1, SLOT_SIZE)
    low = release["low_counter"]
    st = begin(dev, low, counter - 1, version)
    assert (st.state, st.result, st.next_offset) == (T.REFUSED, U.SECURITY_COUNTER, 0)
    assert flash.read(SLOT1, SLOT_SIZE) == slot1_before and protected_regions(flash) == before
    # announced with the floor's counter, it is refused at UPDATE_END from its signed counter
    st = transfer(dev, streamer, low, counter, version)
    assert (st.state, st.result) == (T.REFUSED, U.SECURITY_COUNTER)
    assert protected_regions(flash) == before
    beats = still_classifying(dev, streamer, beats)

    # the release's image: half, a disconnect, the same BEGIN resumes, the rest, verified, installed
    st = begin(dev, image, counter, version)
    assert (st.state, st.result, st.next_offset) == (T.RECEIVING, U.OK, 0)
    half = (len(image) // 2) // CHUNK * CHUNK
    send_chunks(dev, streamer, image, 0, half)
    dev.disconnect()
    dev.connect()
    st = begin(dev, image, counter, version)
    assert (st.state, st.result, st.next_offset) == (T.RECEIVING, U.OK, half)
    send_chunks(dev, streamer, image, half, len(image))
    st = request(dev, wire.UpdateEnd())
    assert (st.state, st.result, st.next_offset) == (T.VERIFIED, U.OK, len(image))
    assert flash.read(SLOT1, len(image)) == image
    assert protected_regions(flash) == before
    streamer.frames(2)
    beats = still_classifying(dev, streamer, beats)

    st = request(dev, wire.UpdateInstall())
    assert (st.state, st.result, st.next_offset) == (T.INSTALLING, U.OK, len(image))
    newest = max(decode_records(flash.read(STATE, PAGE)))
    assert newest[1:] == (KIND_PENDING, 1, counter)
    assert flash.read(SLOT0, SLOT_SIZE) == before[:SLOT_SIZE]
    # until the bootloader integration resets it, the device keeps classifying and answers BUSY
    st = request(dev, wire.UpdateAbort())
    assert (st.state, st.result) == (T.INSTALLING, U.BUSY)
    streamer.frames(4)
    still_classifying(dev, streamer, beats)
