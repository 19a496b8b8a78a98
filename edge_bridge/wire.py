"""The wire protocol between the ECG device and the edge bridge: the Python twin of firmware/lib/wire.

The specification is docs/protocol.md; tests/contract/wire_vectors.json is the one table of test vectors that
this module and the C implementation are both checked against. In short, a frame on the wire is

    COBS( version u8 | type u8 | seq u32 | payload | crc16 u16 ) 0x00

little-endian throughout, CRC-16/CCITT-FALSE over everything before it.

    encode(msg, seq) -> bytes            one complete frame, delimiter included
    Decoder(accepts).feed(data)          -> [Frame], never raises; counters for what it dropped
    Decoder.feed_events(data)            -> [Frame | Reject], the same with every dropped frame reported

Pure Python and the standard library only: the bridge runs this on a hospital PC.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import ClassVar

from heartbeat_core.domain import N_CLASSES

PROTOCOL_VERSION = 1
MAX_FRAME = 512  # largest decoded frame (header + payload + CRC), bytes
HEADER_SIZE = 6  # version, type, seq
CRC_SIZE = 2
MIN_FRAME = HEADER_SIZE + CRC_SIZE
MAX_PAYLOAD = MAX_FRAME - MIN_FRAME
STR_MAX = 64  # longest string field, bytes (printable ASCII)
SAMPLES_MAX = 240  # int16 samples per SAMPLES frame
SHA256_SIZE = 32
CHUNK_MAX = 256  # image bytes per UPDATE_CHUNK
CHUNK_ALIGN = 4  # UPDATE_CHUNK offsets are multiples of this (the flash write unit)
N_SLOTS = 2  # image slots of a device (docs/ota.md)
SLOT_NONE = 0xFF  # BOOT_REPORT.running_slot of a device in recovery: no image runs
MAX_ENCODED = MAX_FRAME + (MAX_FRAME + 253) // 254 + 1  # COBS worst case plus the delimiter

U8, U16, U32 = 0xFF, 0xFFFF, 0xFFFFFFFF


class WireError(ValueError):
    """A message that cannot be encoded: names the field and the value."""


class MsgType(IntEnum):
    # device -> host (high bit clear)
    HELLO = 0x01
    BEAT = 0x02
    ALERT = 0x03
    STATUS = 0x04
    ACK = 0x05
    ERROR = 0x06
    GAP = 0x07
    UPDATE_STATE = 0x08
    BOOT_REPORT = 0x09
    # host -> device (high bit set)
    SAMPLES = 0x81
    CONFIG = 0x82
    HOST_ACK = 0x83
    RESEND = 0x84
    GET_STATUS = 0x85
    HELLO_REQUEST = 0x86
    UPDATE_BEGIN = 0x87
    UPDATE_CHUNK = 0x88
    UPDATE_END = 0x89
    UPDATE_INSTALL = 0x8A
    UPDATE_ABORT = 0x8B


def is_host_to_device(msg_type: int) -> bool:
    return bool(msg_type & 0x80)


class Accepts(IntEnum):
    """Which message types a decoder hands out; the others are rejected as unknown (reason 'type')."""

    ALL = 0
    HOST_TO_DEVICE = 1  # the device's decoder
    DEVICE_TO_HOST = 2  # the bridge's decoder


class AckStatus(IntEnum):
    OK = 0
    INVALID = 1  # a value out of range: nothing was changed
    UNSUPPORTED = 2  # the device cannot do this


class ErrorCode(IntEnum):
    BAD_VERSION = 0x0001
    UNKNOWN_TYPE = 0x0002
    BAD_PAYLOAD = 0x0003
    SAMPLE_INDEX = 0x0010
    SAMPLE_RANGE = 0x0011
    MODEL_INVALID = 0x0030
    MODEL_UNSUPPORTED_OP = 0x0031
    MODEL_SHA256 = 0x0032
    MODEL_ARENA = 0x0033
    INTERNAL = 0x00FF


class TransferState(IntEnum):
    """UPDATE_STATE.state: where the device's image transfer stands (docs/protocol.md, UPDATE_STATE)."""

    IDLE = 0  # no transfer
    RECEIVING = 1  # a transfer in progress: next_offset bytes held
    VERIFIED = 2  # the whole image held and verified: UPDATE_INSTALL installs it
    INSTALLING = 3  # installing: the device resets into the bootloader now
    REFUSED = 4  # the image was refused (the result says why); nothing changed


class UpdateResult(IntEnum):
    """UPDATE_STATE.result and BOOT_REPORT.reason: OK, or why a request or an image was refused or reverted."""

    OK = 0x00
    # the transfer
    BAD_SIZE = 0x01  # UPDATE_BEGIN: image size 0 or larger than a slot
    BAD_OFFSET = 0x02  # UPDATE_CHUNK: offset + length beyond the image size
    BAD_LENGTH = 0x03  # UPDATE_CHUNK: a length not a multiple of 4 in a chunk that does not end the image
    OUT_OF_ORDER = 0x04  # UPDATE_CHUNK: offset beyond next_offset
    NO_TRANSFER = 0x05  # UPDATE_CHUNK or UPDATE_END without a transfer in progress
    INCOMPLETE = 0x06  # UPDATE_END before every byte of the image was received
    NOT_VERIFIED = 0x07  # UPDATE_INSTALL before UPDATE_END verified the image
    BUSY = 0x08  # no update now: the running image is on trial, or an install is under way
    FLASH = 0x09  # erasing, writing or reading back the slot failed
    # the image (UPDATE_END, and the bootloader before it runs an image)
    TRANSFER_HASH = 0x10  # the bytes received do not have the sha256 UPDATE_BEGIN announced
    BAD_IMAGE = 0x11  # not a well-formed MCUboot image (magic, header, sizes, TLV area)
    IMAGE_HASH = 0x12  # the image's SHA256 TLV does not match its header, payload and protected TLVs
    UNKNOWN_KEY = 0x13  # signed with another key (KEYHASH is not the device's public key)
    BAD_SIGNATURE = 0x14  # the signature does not verify
    WRONG_TARGET = 0x15  # built for another target
    SECURITY_COUNTER = 0x16  # security counter below the device's
    MANIFEST_MISMATCH = 0x17  # the signed version or security counter is not what UPDATE_BEGIN announced
    # after the install (BOOT_REPORT only)
    SELF_TEST_FAILED = 0x20  # the new image's self-test failed: it was reverted
    NOT_CONFIRMED = 0x21  # the new image reset before it confirmed itself: it was reverted


class BootOutcome(IntEnum):
    """BOOT_REPORT.last_outcome: what became of the last update the bootloader was asked to install."""

    NONE = 0  # no update since the device was flashed
    INSTALLED = 1  # the new image runs (on trial until it confirms itself)
    REFUSED = 2  # the bootloader would not run the pending image (reason): the old one runs
    REVERTED = 3  # the new image ran on trial and did not confirm itself (reason): the old one runs again


class BeatFlag(IntEnum):
    ALERTED = 0x01  # an ALERT for this beat follows
    LEARNING = 0x02  # the detector or the RR features were still settling
    CLIPPED = 0x04  # the window held samples at the input range's limits


class AlertRule(IntEnum):
    THRESHOLD = 1  # one beat of an enabled class with its score >= that class's threshold
    RUN = 2  # k beats of enabled classes within the last `window` beats


class ConfigBit(IntEnum):
    """CONFIG.enabled: bits 0-4 enable the classes N, S, V, F, Q; bits 5 and 6 the rules; bit 7 reserved."""

    THRESHOLD_RULE = 0x20
    RUN_RULE = 0x40
    RESERVED = 0x80


# ---------------------------------------------------------------------------------------------------------------
# CRC-16/CCITT-FALSE and COBS
# ---------------------------------------------------------------------------------------------------------------
def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16(data: bytes | bytearray | memoryview, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor."""
    for byte in bytes(data):
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ byte]
    return crc


def cobs_encode(data: bytes | bytearray) -> bytes:
    """COBS without the delimiter. A final run of 254 non-zero bytes is not followed by a redundant 0x01."""
    out = bytearray()
    block = bytearray()
    closed_full = False  # the last thing done was closing a 254-byte block
    for byte in bytes(data):
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
            closed_full = False
        else:
            block.append(byte)
            closed_full = False
            if len(block) == 254:
                out.append(0xFF)
                out += block
                block.clear()
                closed_full = True
    if not closed_full:
        out.append(len(block) + 1)
        out += block
    return bytes(out)


def cobs_decode(data: bytes | bytearray) -> bytes:
    """Decodes one COBS block sequence (no delimiter inside); raises WireError when it is malformed."""
    out = bytearray()
    i, n = 0, len(data)
    code = 0xFF  # no implicit zero before the first block
    while i < n:
        if i > 0 and code != 0xFF:
            out.append(0)
        code = data[i]
        if code == 0:
            raise WireError(f"COBS: zero byte at offset {i}")
        if i + code > n:
            raise WireError(f"COBS: block at offset {i} needs {code - 1} bytes, {n - i - 1} left")
        out += data[i + 1 : i + code]
        i += code
    return bytes(out)


# ---------------------------------------------------------------------------------------------------------------
# field checks (encode side: raise WireError naming the field)
# ---------------------------------------------------------------------------------------------------------------
def _check_uint(owner: str, name: str, value: object, top: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
        raise WireError(f"{owner}.{name} must be an integer 0..{top}, got {value!r}")


def _check_int(owner: str, name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise WireError(f"{owner}.{name} must be an integer {low}..{high}, got {value!r}")


def _check_enum(owner: str, name: str, value: object, enum: type[IntEnum]) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value not in {int(e) for e in enum}:
        names = ", ".join(f"{int(e)} {e.name}" for e in enum)
        raise WireError(f"{owner}.{name} must be one of {names}; got {value!r}")


def _check_sha256(owner: str, name: str, value: object) -> None:
    if not isinstance(value, bytes) or len(value) != SHA256_SIZE:
        raise WireError(f"{owner}.{name} must be {SHA256_SIZE} bytes, got {value!r}")


def _printable(raw: bytes) -> bool:
    return all(0x20 <= b <= 0x7E for b in raw)


def _check_str(owner: str, name: str, value: object) -> None:
    if not isinstance(value, str):
        raise WireError(f"{owner}.{name} must be a str, got {type(value).__name__}")
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise WireError(f"{owner}.{name} must be printable ASCII, got {value!r}") from None
    if len(raw) > STR_MAX or not _printable(raw):
        raise WireError(f"{owner}.{name} must be 0..{STR_MAX} printable ASCII characters, got {value!r}")


def _check_seq_of(owner: str, name: str, value: object, low: int, high: int, min_len: int, max_len: int) -> None:
    if not isinstance(value, tuple):
        raise WireError(f"{owner}.{name} must be a tuple of integers, got {type(value).__name__}")
    if not min_len <= len(value) <= max_len:
        want = str(min_len) if min_len == max_len else f"{min_len}..{max_len}"
        raise WireError(f"{owner}.{name} must hold {want} values, got {len(value)}")
    for i, v in enumerate(value):
        _check_int(owner, f"{name}[{i}]", v, low, high)


class _PayloadError(Exception):
    """Decode side: a payload that does not match its type's layout (reported, never raised out of the decoder)."""


class _Reader:
    def __init__(self, payload: bytes):
        self.data = payload
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise _PayloadError(f"payload ends at {len(self.data)}, field needs bytes {self.pos}..{self.pos + n}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def i8(self) -> int:
        value: int = struct.unpack("<b", self.take(1))[0]
        return value

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "little")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "little")

    def string(self) -> str:
        n = self.u8()
        if n > STR_MAX:
            raise _PayloadError(f"string of {n} bytes, at most {STR_MAX}")
        raw = self.take(n)
        if not _printable(raw):
            raise _PayloadError("string with a byte outside printable ASCII")
        return raw.decode("ascii")

    def end(self) -> None:
        if self.pos != len(self.data):
            raise _PayloadError(f"{len(self.data) - self.pos} bytes after the last field")


def _pack_str(value: str) -> bytes:
    raw = value.encode("ascii")
    return bytes([len(raw)]) + raw


# ---------------------------------------------------------------------------------------------------------------
# messages
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    """Base of every message (each a frozen dataclass); TYPE is its message type. Fields are checked when made."""

    TYPE: ClassVar[MsgType]

    def __post_init__(self) -> None:
        self._check()

    def _check(self) -> None:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def pack(self) -> bytes:
        raise NotImplementedError

    @classmethod
    def unpack(cls, r: _Reader) -> Message:
        raise NotImplementedError

    def to_fields(self) -> dict[str, object]:
        """The message's fields as plain JSON values (bytes as hex, tuples as lists): the vector table's form."""
        out: dict[str, object] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.hex() if isinstance(v, bytes) else list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_fields(cls, values: dict[str, object]) -> Message:
        """Inverse of to_fields(); raises WireError on missing, extra or invalid fields."""
        names = [f.name for f in fields(cls)]
        if sorted(values) != sorted(names):
            raise WireError(f"{cls.__name__} takes fields {names}, got {sorted(values)}")
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            v = values[f.name]
            if f.type in ("bytes",) and isinstance(v, str):
                try:
                    v = bytes.fromhex(v)
                except ValueError:
                    raise WireError(f"{cls.__name__}.{f.name} must be hex, got {v!r}") from None
            elif isinstance(v, list):
                v = tuple(v)
            kwargs[f.name] = v
        return cls(**kwargs)


@dataclass(frozen=True)
class Hello(Message):
    TYPE: ClassVar[MsgType] = MsgType.HELLO
    device_id: str
    firmware_version: str
    model_version: str
    model_sha256: bytes
    protocol_version: int
    boot_id: int
    sample_rate_hz: int

    def _check(self) -> None:
        for name in ("device_id", "firmware_version", "model_version"):
            _check_str("Hello", name, getattr(self, name))
        _check_sha256("Hello", "model_sha256", self.model_sha256)
        _check_uint("Hello", "protocol_version", self.protocol_version, U8)
        _check_uint("Hello", "boot_id", self.boot_id, U32)
        _check_uint("Hello", "sample_rate_hz", self.sample_rate_hz, U16)

    def pack(self) -> bytes:
        return (
            _pack_str(self.device_id)
            + _pack_str(self.firmware_version)
            + _pack_str(self.model_version)
            + self.model_sha256
            + struct.pack("<BIH", self.protocol_version, self.boot_id, self.sample_rate_hz)
        )

    @classmethod
    def unpack(cls, r: _Reader) -> Hello:
        return cls(r.string(), r.string(), r.string(), r.take(SHA256_SIZE), r.u8(), r.u32(), r.u16())


@dataclass(frozen=True)
class Beat(Message):
    TYPE: ClassVar[MsgType] = MsgType.BEAT
    r_sample: int
    beat_class: int
    scores: tuple[int, ...]
    cost: int
    flags: int

    def _check(self) -> None:
        _check_uint("Beat", "r_sample", self.r_sample, U32)
        _check_uint("Beat", "beat_class", self.beat_class, N_CLASSES - 1)
        _check_seq_of("Beat", "scores", self.scores, -128, 127, N_CLASSES, N_CLASSES)
        _check_uint("Beat", "cost", self.cost, U32)
        _check_uint("Beat", "flags", self.flags, U8)

    def pack(self) -> bytes:
        return struct.pack("<IB5bIB", self.r_sample, self.beat_class, *self.scores, self.cost, self.flags)

    @classmethod
    def unpack(cls, r: _Reader) -> Beat:
        r_sample, beat_class = r.u32(), r.u8()
        if beat_class >= N_CLASSES:
            raise _PayloadError(f"beat_class {beat_class}")
        scores = tuple(r.i8() for _ in range(N_CLASSES))
        return cls(r_sample, beat_class, scores, r.u32(), r.u8())


@dataclass(frozen=True)
class Alert(Message):
    TYPE: ClassVar[MsgType] = MsgType.ALERT
    beat_seq: int
    r_sample: int
    beat_class: int
    score: int
    rule: int
    threshold: int

    def _check(self) -> None:
        _check_uint("Alert", "beat_seq", self.beat_seq, U32)
        _check_uint("Alert", "r_sample", self.r_sample, U32)
        _check_uint("Alert", "beat_class", self.beat_class, N_CLASSES - 1)
        _check_int("Alert", "score", self.score, -128, 127)
        _check_uint("Alert", "rule", self.rule, U8)
        _check_uint("Alert", "threshold", self.threshold, U8)

    def pack(self) -> bytes:
        return struct.pack("<IIBbBB", self.beat_seq, self.r_sample, self.beat_class, self.score, self.rule,
                           self.threshold)

    @classmethod
    def unpack(cls, r: _Reader) -> Alert:
        beat_seq, r_sample, beat_class = r.u32(), r.u32(), r.u8()
        if beat_class >= N_CLASSES:
            raise _PayloadError(f"beat_class {beat_class}")
        return cls(beat_seq, r_sample, beat_class, r.i8(), r.u8(), r.u8())


@dataclass(frozen=True)
class Status(Message):
    TYPE: ClassVar[MsgType] = MsgType.STATUS
    uptime_ms: int
    samples: int
    beats: int
    alerts: int
    corrupt_frames: int
    oversize_frames: int
    unknown_frames: int
    overruns: int
    lost: int
    last_seq: int
    ring_oldest_seq: int

    def _check(self) -> None:
        for f in fields(self):
            _check_uint("Status", f.name, getattr(self, f.name), U32)

    def pack(self) -> bytes:
        return struct.pack("<11I", *(getattr(self, f.name) for f in fields(self)))

    @classmethod
    def unpack(cls, r: _Reader) -> Status:
        return cls(*(r.u32() for _ in range(11)))


@dataclass(frozen=True)
class Ack(Message):
    TYPE: ClassVar[MsgType] = MsgType.ACK
    host_seq: int
    status: int

    def _check(self) -> None:
        _check_uint("Ack", "host_seq", self.host_seq, U32)
        _check_uint("Ack", "status", self.status, U8)

    def pack(self) -> bytes:
        return struct.pack("<IB", self.host_seq, self.status)

    @classmethod
    def unpack(cls, r: _Reader) -> Ack:
        return cls(r.u32(), r.u8())


@dataclass(frozen=True)
class Error(Message):
    TYPE: ClassVar[MsgType] = MsgType.ERROR
    code: int
    host_seq: int
    text: str

    def _check(self) -> None:
        _check_uint("Error", "code", self.code, U16)
        _check_uint("Error", "host_seq", self.host_seq, U32)
        _check_str("Error", "text", self.text)

    def pack(self) -> bytes:
        return struct.pack("<HI", self.code, self.host_seq) + _pack_str(self.text)

    @classmethod
    def unpack(cls, r: _Reader) -> Error:
        return cls(r.u16(), r.u32(), r.string())


@dataclass(frozen=True)
class Gap(Message):
    TYPE: ClassVar[MsgType] = MsgType.GAP
    first: int
    last: int

    def _check(self) -> None:
        _check_uint("Gap", "first", self.first, U32)
        _check_uint("Gap", "last", self.last, U32)
        if not 1 <= self.first <= self.last:
            raise WireError(f"Gap needs 1 <= first <= last, got first={self.first} last={self.last}")

    def pack(self) -> bytes:
        return struct.pack("<II", self.first, self.last)

    @classmethod
    def unpack(cls, r: _Reader) -> Gap:
        first, last = r.u32(), r.u32()
        if not 1 <= first <= last:
            raise _PayloadError(f"gap {first}..{last}")
        return cls(first, last)


@dataclass(frozen=True)
class Samples(Message):
    TYPE: ClassVar[MsgType] = MsgType.SAMPLES
    first_sample: int
    samples: tuple[int, ...]

    def _check(self) -> None:
        _check_uint("Samples", "first_sample", self.first_sample, U32)
        _check_seq_of("Samples", "samples", self.samples, -32768, 32767, 0, SAMPLES_MAX)

    def pack(self) -> bytes:
        n = len(self.samples)
        return struct.pack(f"<IH{n}h", self.first_sample, n, *self.samples)

    @classmethod
    def unpack(cls, r: _Reader) -> Samples:
        first, count = r.u32(), r.u16()
        if count > SAMPLES_MAX:
            raise _PayloadError(f"count {count} > {SAMPLES_MAX}")
        if len(r.data) - r.pos != 2 * count:
            raise _PayloadError(f"count {count} but {len(r.data) - r.pos} sample bytes")
        return cls(first, struct.unpack(f"<{count}h", r.take(2 * count)))


@dataclass(frozen=True)
class Config(Message):
    TYPE: ClassVar[MsgType] = MsgType.CONFIG
    thresholds: tuple[int, ...]
    k: int
    window: int
    enabled: int

    def _check(self) -> None:
        _check_seq_of("Config", "thresholds", self.thresholds, 0, U8, N_CLASSES, N_CLASSES)
        _check_uint("Config", "k", self.k, U8)
        _check_uint("Config", "window", self.window, U8)
        _check_uint("Config", "enabled", self.enabled, U8)

    def pack(self) -> bytes:
        return struct.pack("<5BBBB", *self.thresholds, self.k, self.window, self.enabled)

    @classmethod
    def unpack(cls, r: _Reader) -> Config:
        return cls(tuple(r.u8() for _ in range(N_CLASSES)), r.u8(), r.u8(), r.u8())


@dataclass(frozen=True)
class HostAck(Message):
    TYPE: ClassVar[MsgType] = MsgType.HOST_ACK
    device_seq: int

    def _check(self) -> None:
        _check_uint("HostAck", "device_seq", self.device_seq, U32)

    def pack(self) -> bytes:
        return struct.pack("<I", self.device_seq)

    @classmethod
    def unpack(cls, r: _Reader) -> HostAck:
        return cls(r.u32())


@dataclass(frozen=True)
class Resend(Message):
    TYPE: ClassVar[MsgType] = MsgType.RESEND
    after_seq: int

    def _check(self) -> None:
        _check_uint("Resend", "after_seq", self.after_seq, U32)

    def pack(self) -> bytes:
        return struct.pack("<I", self.after_seq)

    @classmethod
    def unpack(cls, r: _Reader) -> Resend:
        return cls(r.u32())


@dataclass(frozen=True)
class GetStatus(Message):
    TYPE: ClassVar[MsgType] = MsgType.GET_STATUS

    def _check(self) -> None:
        pass

    def pack(self) -> bytes:
        return b""

    @classmethod
    def unpack(cls, r: _Reader) -> GetStatus:
        return cls()


@dataclass(frozen=True)
class HelloRequest(Message):
    TYPE: ClassVar[MsgType] = MsgType.HELLO_REQUEST

    def _check(self) -> None:
        pass

    def pack(self) -> bytes:
        return b""

    @classmethod
    def unpack(cls, r: _Reader) -> HelloRequest:
        return cls()


def _check_version(owner: str, msg: UpdateBegin | BootReport) -> None:
    _check_uint(owner, "version_major", msg.version_major, U8)
    _check_uint(owner, "version_minor", msg.version_minor, U8)
    _check_uint(owner, "version_revision", msg.version_revision, U16)
    _check_uint(owner, "version_build", msg.version_build, U32)


@dataclass(frozen=True)
class UpdateState(Message):
    """The device's answer to every update request: where its transfer stands and whether the request was taken."""

    TYPE: ClassVar[MsgType] = MsgType.UPDATE_STATE
    host_seq: int
    state: int  # TransferState
    result: int  # UpdateResult
    next_offset: int

    def _check(self) -> None:
        _check_uint("UpdateState", "host_seq", self.host_seq, U32)
        _check_enum("UpdateState", "state", self.state, TransferState)
        _check_enum("UpdateState", "result", self.result, UpdateResult)
        _check_uint("UpdateState", "next_offset", self.next_offset, U32)

    def pack(self) -> bytes:
        return struct.pack("<IBBI", self.host_seq, self.state, self.result, self.next_offset)

    @classmethod
    def unpack(cls, r: _Reader) -> UpdateState:
        return cls(r.u32(), r.u8(), r.u8(), r.u32())  # the constructor checks the enums


@dataclass(frozen=True)
class BootReport(Message):
    """What runs and what became of the last update; sent after every HELLO."""

    TYPE: ClassVar[MsgType] = MsgType.BOOT_REPORT
    running_slot: int  # 0 .. N_SLOTS - 1, or SLOT_NONE
    version_major: int
    version_minor: int
    version_revision: int
    version_build: int
    confirmed: int  # 1 confirmed, 0 on trial
    last_outcome: int  # BootOutcome
    reason: int  # UpdateResult
    security_counter: int

    def _check(self) -> None:
        slot = self.running_slot
        if not isinstance(slot, int) or isinstance(slot, bool) or not (0 <= slot < N_SLOTS or slot == SLOT_NONE):
            raise WireError(f"BootReport.running_slot must be 0..{N_SLOTS - 1} or {SLOT_NONE} (none), got {slot!r}")
        _check_version("BootReport", self)
        _check_uint("BootReport", "confirmed", self.confirmed, 1)
        _check_enum("BootReport", "last_outcome", self.last_outcome, BootOutcome)
        _check_enum("BootReport", "reason", self.reason, UpdateResult)
        _check_uint("BootReport", "security_counter", self.security_counter, U32)

    def pack(self) -> bytes:
        return struct.pack("<BBBHIBBBI", self.running_slot, self.version_major, self.version_minor,
                           self.version_revision, self.version_build, self.confirmed, self.last_outcome, self.reason,
                           self.security_counter)

    @classmethod
    def unpack(cls, r: _Reader) -> BootReport:
        # the constructor checks the slot, the flag and the enums
        return cls(r.u8(), r.u8(), r.u8(), r.u16(), r.u32(), r.u8(), r.u8(), r.u8(), r.u32())


@dataclass(frozen=True)
class UpdateBegin(Message):
    """Starts (or, for the same image, resumes) an image transfer; answered by UPDATE_STATE."""

    TYPE: ClassVar[MsgType] = MsgType.UPDATE_BEGIN
    image_size: int
    image_sha256: bytes
    version_major: int
    version_minor: int
    version_revision: int
    version_build: int
    security_counter: int

    def _check(self) -> None:
        _check_uint("UpdateBegin", "image_size", self.image_size, U32)
        _check_sha256("UpdateBegin", "image_sha256", self.image_sha256)
        _check_version("UpdateBegin", self)
        _check_uint("UpdateBegin", "security_counter", self.security_counter, U32)

    def pack(self) -> bytes:
        return (struct.pack("<I", self.image_size) + self.image_sha256
                + struct.pack("<BBHII", self.version_major, self.version_minor, self.version_revision,
                              self.version_build, self.security_counter))

    @classmethod
    def unpack(cls, r: _Reader) -> UpdateBegin:
        return cls(r.u32(), r.take(SHA256_SIZE), r.u8(), r.u8(), r.u16(), r.u32(), r.u32())


@dataclass(frozen=True)
class UpdateChunk(Message):
    """Image bytes at an offset (a multiple of CHUNK_ALIGN), 1 .. CHUNK_MAX of them; answered by UPDATE_STATE."""

    TYPE: ClassVar[MsgType] = MsgType.UPDATE_CHUNK
    offset: int
    data: bytes

    def _check(self) -> None:
        _check_uint("UpdateChunk", "offset", self.offset, U32)
        if self.offset % CHUNK_ALIGN:
            raise WireError(f"UpdateChunk.offset must be a multiple of {CHUNK_ALIGN}, got {self.offset}")
        if not isinstance(self.data, bytes) or not 1 <= len(self.data) <= CHUNK_MAX:
            got = f"{len(self.data)} bytes" if isinstance(self.data, bytes) else type(self.data).__name__
            raise WireError(f"UpdateChunk.data must be 1..{CHUNK_MAX} bytes, got {got}")

    def pack(self) -> bytes:
        return struct.pack("<IH", self.offset, len(self.data)) + self.data

    @classmethod
    def unpack(cls, r: _Reader) -> UpdateChunk:
        offset, length = r.u32(), r.u16()
        return cls(offset, r.take(length))  # the constructor checks offset and length; _parse the payload's end


@dataclass(frozen=True)
class UpdateEnd(Message):
    """Every byte is sent: verify the whole image; answered by UPDATE_STATE (VERIFIED or REFUSED)."""

    TYPE: ClassVar[MsgType] = MsgType.UPDATE_END

    def _check(self) -> None:
        pass

    def pack(self) -> bytes:
        return b""

    @classmethod
    def unpack(cls, r: _Reader) -> UpdateEnd:
        return cls()


@dataclass(frozen=True)
class UpdateInstall(Message):
    """Install the verified image (the device answers INSTALLING and resets); answered by UPDATE_STATE."""

    TYPE: ClassVar[MsgType] = MsgType.UPDATE_INSTALL

    def _check(self) -> None:
        pass

    def pack(self) -> bytes:
        return b""

    @classmethod
    def unpack(cls, r: _Reader) -> UpdateInstall:
        return cls()


@dataclass(frozen=True)
class UpdateAbort(Message):
    """Drop the transfer (the slot is left as it is, never installed); answered by UPDATE_STATE (IDLE)."""

    TYPE: ClassVar[MsgType] = MsgType.UPDATE_ABORT

    def _check(self) -> None:
        pass

    def pack(self) -> bytes:
        return b""

    @classmethod
    def unpack(cls, r: _Reader) -> UpdateAbort:
        return cls()


MESSAGE_CLASSES: dict[MsgType, type[Message]] = {
    cls.TYPE: cls
    for cls in (Hello, Beat, Alert, Status, Ack, Error, Gap, UpdateState, BootReport, Samples, Config, HostAck, Resend,
                GetStatus, HelloRequest, UpdateBegin, UpdateChunk, UpdateEnd, UpdateInstall, UpdateAbort)
}


def config_status(cfg: Config) -> AckStatus:
    """The ACK status a device gives a CONFIG (docs/protocol.md, CONFIG): OK or INVALID."""
    if cfg.enabled & ConfigBit.RESERVED:
        return AckStatus.INVALID
    if cfg.enabled & ConfigBit.RUN_RULE and not 1 <= cfg.k <= cfg.window:
        return AckStatus.INVALID
    return AckStatus.OK


# ---------------------------------------------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------------------------------------------
def frame_bytes(version: int, msg_type: int, seq: int, payload: bytes) -> bytes:
    """The decoded frame (header, payload, CRC) for raw parts; no checks beyond the field widths."""
    _check_uint("frame", "version", version, U8)
    _check_uint("frame", "type", msg_type, U8)
    _check_uint("frame", "seq", seq, U32)
    body = struct.pack("<BBI", version, msg_type, seq) + bytes(payload)
    return body + struct.pack("<H", crc16(body))


def encode_raw(version: int, msg_type: int, seq: int, payload: bytes) -> bytes:
    """A complete frame on the wire (COBS + 0x00) from raw parts; lets tests build frames encode() refuses."""
    return cobs_encode(frame_bytes(version, msg_type, seq, payload)) + b"\x00"


def encode(msg: Message, seq: int) -> bytes:
    """One complete frame on the wire: COBS-encoded, delimiter included. Raises WireError on a bad seq."""
    if not isinstance(msg, Message) or type(msg) not in MESSAGE_CLASSES.values():
        raise WireError(f"encode() takes a wire message, got {type(msg).__name__}")
    msg._check()  # a dataclass could have been changed with object.__setattr__
    payload = msg.pack()
    if len(payload) > MAX_PAYLOAD:  # pragma: no cover - the field limits keep every message below it
        raise WireError(f"{type(msg).__name__} payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return encode_raw(PROTOCOL_VERSION, msg.TYPE, seq, payload)


@dataclass(frozen=True)
class Frame:
    """A decoded, intact frame."""

    seq: int
    message: Message
    raw_len: int  # encoded bytes on the wire, without the delimiter


REASON_COUNTER = {
    "cobs": "corrupt",
    "short": "corrupt",
    "crc": "corrupt",
    "payload": "corrupt",
    "oversize": "oversize",
    "version": "unknown",
    "type": "unknown",
}


@dataclass(frozen=True)
class Reject:
    """A dropped frame: why, how many encoded bytes it had, and its header when the CRC was good."""

    reason: str  # cobs, short, crc, payload, oversize, version, type
    raw_len: int
    version: int | None = None
    msg_type: int | None = None
    seq: int | None = None

    @property
    def counter(self) -> str:
        return REASON_COUNTER[self.reason]


_IDLE, _FRAME, _DISCARD = 0, 1, 2


class Decoder:
    """Streaming frame decoder: an explicit state machine that never raises on any input.

    States: IDLE (between frames), FRAME (inside a COBS frame), DISCARD (the frame has outgrown MAX_FRAME; skip to
    the next 0x00). Every 0x00 ends a frame; empty frames (0x00 0x00) are ignored. Counters: frames (intact),
    corrupt (cobs/short/crc/payload), oversize, unknown (version/type), bytes (every byte fed).
    """

    def __init__(self, accepts: Accepts = Accepts.ALL):
        self.accepts = Accepts(accepts)
        self.frames = 0
        self.corrupt = 0
        self.oversize = 0
        self.unknown = 0
        self.bytes = 0
        self._state = _IDLE
        self._code = 0
        self._left = 0
        self._buf = bytearray()
        self._raw_len = 0

    @property
    def counters(self) -> dict[str, int]:
        return {"frames": self.frames, "corrupt": self.corrupt, "oversize": self.oversize, "unknown": self.unknown,
                "bytes": self.bytes}

    @property
    def pending(self) -> int:
        """Encoded bytes of the frame in progress (not yet ended by a 0x00)."""
        return self._raw_len

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """The intact frames completed by `data`, in order; dropped frames only change the counters."""
        return [e for e in self.feed_events(data) if isinstance(e, Frame)]

    def feed_events(self, data: bytes | bytearray | memoryview) -> list[Frame | Reject]:
        """Every frame completed by `data`, intact (Frame) or dropped (Reject), in order."""
        data = bytes(data)
        events: list[Frame | Reject] = []
        i, n = 0, len(data)
        self.bytes += n
        while i < n:
            if self._state == _DISCARD:
                z = data.find(0, i)
                if z < 0:
                    self._raw_len += n - i
                    break
                self._raw_len += z - i
                events.append(self._finish())
                i = z + 1
                continue
            byte = data[i]
            if byte == 0:
                if self._state == _FRAME:
                    events.append(self._finish())
                i += 1
                continue
            if self._state == _IDLE:  # the first code byte of a frame
                self._state = _FRAME
                self._buf.clear()
                self._raw_len = 1
                self._code, self._left = byte, byte - 1
                i += 1
                continue
            if self._left == 0:  # a code byte: the previous block ended with a zero unless it was full
                self._raw_len += 1
                if self._code != 0xFF and not self._append(b"\x00"):
                    i += 1
                    continue
                self._code, self._left = byte, byte - 1
                i += 1
                continue
            # data bytes of the current block, up to the next 0x00 or the block's end
            z = data.find(0, i, i + self._left)
            end = i + self._left if z < 0 else z
            end = min(end, n)
            chunk = data[i:end]
            self._raw_len += len(chunk)
            self._left -= len(chunk)
            self._append(chunk)
            i = end
        return events

    def _append(self, chunk: bytes) -> bool:
        if len(self._buf) + len(chunk) > MAX_FRAME:
            self._state = _DISCARD
            self._buf.clear()
            return False
        self._buf += chunk
        return True

    def _finish(self) -> Frame | Reject:
        state, raw_len, left = self._state, self._raw_len, self._left
        self._state, self._raw_len, self._code, self._left = _IDLE, 0, 0, 0
        if state == _DISCARD:
            event: Frame | Reject = Reject("oversize", raw_len)
        elif left > 0:  # the frame ended inside a COBS block
            event = Reject("cobs", raw_len)
        else:
            event = self._parse(bytes(self._buf), raw_len)
        self._buf.clear()
        if isinstance(event, Frame):
            self.frames += 1
        else:
            setattr(self, event.counter, getattr(self, event.counter) + 1)
        return event

    def _parse(self, buf: bytes, raw_len: int) -> Frame | Reject:
        if len(buf) < MIN_FRAME:
            return Reject("short", raw_len)
        if crc16(buf[:-CRC_SIZE]) != int.from_bytes(buf[-CRC_SIZE:], "little"):
            return Reject("crc", raw_len)
        version, msg_type, seq = struct.unpack_from("<BBI", buf)
        if version != PROTOCOL_VERSION:
            return Reject("version", raw_len, version, msg_type, seq)
        cls = MESSAGE_CLASSES.get(msg_type)
        wrong_way = (self.accepts == Accepts.HOST_TO_DEVICE and not is_host_to_device(msg_type)) or (
            self.accepts == Accepts.DEVICE_TO_HOST and is_host_to_device(msg_type))
        if cls is None or wrong_way:
            return Reject("type", raw_len, version, msg_type, seq)
        reader = _Reader(buf[HEADER_SIZE:-CRC_SIZE])
        try:
            message = cls.unpack(reader)
            reader.end()
        except (_PayloadError, WireError):
            return Reject("payload", raw_len, version, msg_type, seq)
        return Frame(seq, message, raw_len)


def decode_frames(stream: bytes, accepts: Accepts = Accepts.ALL) -> list[Frame | Reject]:
    """Every frame in a complete byte stream (a fresh decoder): handy in tests and tools."""
    return Decoder(accepts).feed_events(stream)


def iter_messages(frames: Iterable[Frame | Reject]) -> list[Message]:
    return [f.message for f in frames if isinstance(f, Frame)]
