"""Writes tests/contract/wire_vectors.json ONCE, from edge_bridge/wire.py, then the file is frozen.

    python tests/edge_bridge/freeze_wire_vectors.py            # refuses when the file exists
    python tests/edge_bridge/freeze_wire_vectors.py --extend   # adds the vectors of new messages (see below)
    python tests/edge_bridge/freeze_wire_vectors.py --force    # a deliberate re-freeze: review the diff byte by byte

--extend is how the protocol grows: it rebuilds the table, refuses (naming the entry) unless every vector already
frozen comes out byte-identical, and appends only the entries the frozen table lacks; `git diff` then shows
additions only (and the commas JSON needs before them).

The tests never run this: they check both implementations against the committed JSON, so a change in either
implementation that changes a single byte on the wire fails them. The "hand" vectors below are built without
edge_bridge.wire (struct, binascii.crc_hqx and a COBS written differently here), and the script refuses to write
a table in which the implementation disagrees with them.
"""
from __future__ import annotations

import argparse
import binascii
import hashlib
import json
import math
import struct
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from edge_bridge import wire as w  # noqa: E402 - a standalone script: the import needs the sys.path line

OUT = REPO / "tests" / "contract" / "wire_vectors.json"


# ---------------------------------------------------------------------------------------------------------------
# independent helpers (not edge_bridge.wire)
# ---------------------------------------------------------------------------------------------------------------
def hand_cobs(data: bytes) -> bytes:
    """COBS by splitting at zeros, then cutting each run into 254-byte pieces; no trailing 0x01 after a full run."""
    out = bytearray()
    runs = data.split(b"\x00")
    for index, run in enumerate(runs):
        last_run = index == len(runs) - 1
        while len(run) >= 254:
            out.append(0xFF)
            out += run[:254]
            run = run[254:]
            if not run and last_run:
                return bytes(out)
        out.append(len(run) + 1)
        out += run
    return bytes(out)


def hand_frame(msg_type: int, seq: int, payload: bytes, version: int = 1) -> bytes:
    body = struct.pack("<BBI", version, msg_type, seq) + payload
    return hand_cobs(body + struct.pack("<H", binascii.crc_hqx(body, 0xFFFF))) + b"\x00"


# the COBS examples of the literature, written out by hand: (decoded, encoded without delimiter)
LITERATURE_COBS = [
    ("00", "0101"),
    ("0000", "010101"),
    ("00110000", "0102110101"),  # 00 11 00 00 -> 01 02 11 01 01
    ("11220033", "0311220233"),
    ("11223344", "0511223344"),
    ("11000000", "0211010101"),
    (bytes(range(1, 255)).hex(), "ff" + bytes(range(1, 255)).hex()),
    ("00" + bytes(range(1, 255)).hex(), "01ff" + bytes(range(1, 255)).hex()),
    (bytes(range(1, 256)).hex(), "ff" + bytes(range(1, 255)).hex() + "02ff"),
    (bytes(range(2, 256)).hex() + "00", "ff" + bytes(range(2, 256)).hex() + "0101"),
    (bytes(range(3, 256)).hex() + "0001", "fe" + bytes(range(3, 256)).hex() + "0201"),
]


# ---------------------------------------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------------------------------------
def sha(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def ecg_like(n: int, start: int) -> tuple[int, ...]:
    """Deterministic ECG-shaped ADC codes (baseline ~1000, a spike every 0.8 s at 360 Hz)."""
    out = []
    for i in range(start, start + n):
        phase = i % 288
        spike = 900 * math.exp(-((phase - 40) ** 2) / 18.0)
        out.append(int(round(1000 + 60 * math.sin(2 * math.pi * i / 1440) + spike - 200 * (phase == 44))))
    return tuple(out)


def message_cases() -> list[tuple[str, int, w.Message]]:
    text64 = ("device says: first_sample 100 expected 340 ~ " + "x" * 64)[:64]
    # every byte non-zero (COBS worst case), positive and negative values
    nonzero = tuple(((1 + (i * 7) % 255) | ((1 + (i * 13) % 255) << 8)) - (65536 if (1 + (i * 13) % 255) >= 128 else 0)
                    for i in range(240))
    return [
        ("hello_qemu", 1, w.Hello("hb-qemu-0001", "0.1.0", "cnn4-20261101-1", sha("model"), 1, 0x1234ABCD, 360)),
        ("hello_empty_strings_zero_sha", 1, w.Hello("", "", "", bytes(32), 1, 1, 0)),
        ("hello_max", 0xFFFFFFFF,
         w.Hello("D" * 64, "~" * 64, bytes(range(0x20, 0x60)).decode(),
                 b"\xff" * 32, 255, 0xFFFFFFFF, 0xFFFF)),
        ("beat_normal", 2, w.Beat(455, 0, (127, -128, -127, -128, -128), 61_234, 0)),
        ("beat_ventricular_alerted", 1000, w.Beat(1_234_567, 2, (-120, -110, 100, -90, -128), 2_500_000, 0x01)),
        ("beat_zeros", 256, w.Beat(0, 0, (0, 0, 0, 0, 0), 0, 0)),
        ("beat_max", 0x01000000, w.Beat(0xFFFFFFFF, 4, (-128, 127, -1, 1, 0), 0xFFFFFFFF, 0xFF)),
        ("alert_threshold", 1001, w.Alert(1000, 1_234_567, 2, 100, 1, 200)),
        ("alert_run", 77, w.Alert(76, 99_000, 1, -20, 2, 3)),
        ("alert_max", 0xFFFFFFFF, w.Alert(0xFFFFFFFE, 0xFFFFFFFF, 4, -128, 255, 255)),
        ("status_zero", 2, w.Status(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
        ("status_typical", 5000,
         w.Status(1_800_000, 648_000, 2_210, 31, 2, 1, 3, 0, 12, 4_998, 4_871)),
        ("status_max", 0xFFFFFFFF, w.Status(*([0xFFFFFFFF] * 11))),
        ("ack_ok", 3, w.Ack(1, 0)),
        ("ack_invalid", 40, w.Ack(0x00010000, 1)),
        ("ack_unsupported", 41, w.Ack(0xFFFFFFFF, 2)),
        ("error_sample_index", 9, w.Error(0x0010, 17, "first_sample 100 expected 340")),
        ("error_empty_text", 10, w.Error(0x00FF, 0, "")),
        ("error_max", 0xFFFFFFFF, w.Error(0xFFFF, 0xFFFFFFFF, text64)),
        ("gap_single", 12, w.Gap(1, 1)),
        ("gap_range", 300, w.Gap(5, 120)),
        ("gap_max", 301, w.Gap(1, 0xFFFFFFFF)),
        ("samples_empty", 1, w.Samples(0, ())),
        ("samples_one", 2, w.Samples(240, (-32768,))),
        ("samples_full_ecg", 3, w.Samples(480, ecg_like(240, 480))),
        ("samples_full_zeros", 4, w.Samples(720, (0,) * 240)),
        ("samples_full_nonzero_bytes", 0x01010101, w.Samples(0x01010101, nonzero)),
        ("samples_extremes", 0x10000, w.Samples(0xFFFFFFFF, (32767, -32768, 0, -1, 1, 256, -256))),
        ("config_defaults", 5, w.Config((255, 200, 180, 200, 230), 3, 10, 0x1E | 0x20 | 0x40)),
        ("config_all_off", 6, w.Config((0, 0, 0, 0, 0), 0, 0, 0)),
        ("config_max", 0xFFFFFFFF, w.Config((255, 255, 255, 255, 255), 255, 255, 0xFF)),
        ("host_ack_first", 7, w.HostAck(1)),
        ("host_ack_zero", 8, w.HostAck(0)),
        ("host_ack_max", 0xFFFFFFFF, w.HostAck(0xFFFFFFFF)),
        ("resend_all", 9, w.Resend(0)),
        ("resend_after", 10, w.Resend(4_870)),
        ("resend_max", 0x00FF00FF, w.Resend(0xFFFFFFFF)),
        ("get_status_first", 1, w.GetStatus()),
        ("get_status_seq_with_zeros", 0x00010000, w.GetStatus()),
        ("hello_request_first", 1, w.HelloRequest()),
        ("hello_request_max_seq", 0xFFFFFFFF, w.HelloRequest()),
    ]


def image_bytes(n: int, label: str) -> bytes:
    """Deterministic stand-in bytes for part of an image (a sha256 chain): the codec carries any bytes."""
    out, block = bytearray(), label.encode()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


def update_message_cases() -> list[tuple[str, int, w.Message]]:
    """The update messages (docs/protocol.md, 2.1 and 2.2): added to the frozen table by --extend."""
    ts, res, outcome = w.TransferState, w.UpdateResult, w.BootOutcome
    nonzero = bytes(1 + (i * 37) % 255 for i in range(w.CHUNK_MAX))  # 270-byte frame without a zero: 0xFF blocks
    return [
        ("update_begin_typical", 11, w.UpdateBegin(102_403, sha("image v2"), 1, 2, 3, 4, 2)),
        ("update_begin_zeros", 1, w.UpdateBegin(0, bytes(32), 0, 0, 0, 0, 0)),
        ("update_begin_max", 0xFFFFFFFF,
         w.UpdateBegin(0xFFFFFFFF, b"\xff" * 32, 255, 255, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF)),
        ("update_chunk_first_full", 12, w.UpdateChunk(0, image_bytes(w.CHUNK_MAX, "image v2"))),
        ("update_chunk_last_odd_length", 13, w.UpdateChunk(102_400, b"\x01\x00\x02")),
        ("update_chunk_one_byte", 14, w.UpdateChunk(4, b"\x00")),
        ("update_chunk_full_zeros", 15, w.UpdateChunk(256, bytes(w.CHUNK_MAX))),
        ("update_chunk_full_nonzero_bytes", 0x01010101, w.UpdateChunk(0x01010104, nonzero)),
        ("update_chunk_max_offset", 0x00FF00FF, w.UpdateChunk(0xFFFFFFFC, b"\xff" * 4)),
        ("update_end", 16, w.UpdateEnd()),
        ("update_end_seq_with_zeros", 0x00010000, w.UpdateEnd()),
        ("update_install", 17, w.UpdateInstall()),
        ("update_install_max_seq", 0xFFFFFFFF, w.UpdateInstall()),
        ("update_abort", 18, w.UpdateAbort()),
        ("update_abort_max_seq", 0xFFFFFFFF, w.UpdateAbort()),
        ("update_state_idle", 20, w.UpdateState(0, ts.IDLE, res.OK, 0)),
        ("update_state_receiving", 21, w.UpdateState(12, ts.RECEIVING, res.OK, 256)),
        ("update_state_out_of_order", 22, w.UpdateState(15, ts.RECEIVING, res.OUT_OF_ORDER, 512)),
        ("update_state_verified", 23, w.UpdateState(16, ts.VERIFIED, res.OK, 102_403)),
        ("update_state_installing", 24, w.UpdateState(17, ts.INSTALLING, res.OK, 102_403)),
        ("update_state_refused_signature", 25, w.UpdateState(16, ts.REFUSED, res.BAD_SIGNATURE, 0)),
        ("update_state_max", 0xFFFFFFFF, w.UpdateState(0xFFFFFFFF, ts.REFUSED, res.NOT_CONFIRMED, 0xFFFFFFFF)),
        ("boot_report_as_flashed", 2, w.BootReport(0, 1, 0, 0, 0, 1, outcome.NONE, res.OK, 1)),
        ("boot_report_installed_on_trial", 2, w.BootReport(1, 1, 1, 0, 7, 0, outcome.INSTALLED, res.OK, 2)),
        ("boot_report_reverted_self_test", 2,
         w.BootReport(0, 1, 0, 0, 0, 1, outcome.REVERTED, res.SELF_TEST_FAILED, 1)),
        ("boot_report_refused_signature", 2, w.BootReport(0, 1, 0, 0, 0, 1, outcome.REFUSED, res.BAD_SIGNATURE, 1)),
        ("boot_report_recovery_no_image", 2,
         w.BootReport(w.SLOT_NONE, 0, 0, 0, 0, 0, outcome.REVERTED, res.IMAGE_HASH, 3)),
        ("boot_report_max", 0xFFFFFFFF,
         w.BootReport(1, 255, 255, 0xFFFF, 0xFFFFFFFF, 1, outcome.REVERTED, res.NOT_CONFIRMED, 0xFFFFFFFF)),
    ]


def update_hand_cases() -> list[tuple[str, int, w.Message, bytes]]:
    """Update messages whose wire bytes are built here without edge_bridge.wire."""
    digest = sha("hand image")
    data = bytes(range(1, 9))
    return [
        ("hand_update_begin", 30, w.UpdateBegin(4096, digest, 2, 0, 1, 9, 5),
         hand_frame(0x87, 30, struct.pack("<I", 4096) + digest + struct.pack("<BBHII", 2, 0, 1, 9, 5))),
        ("hand_update_chunk", 31, w.UpdateChunk(1024, data),
         hand_frame(0x88, 31, struct.pack("<IH", 1024, 8) + data)),
        ("hand_update_end", 32, w.UpdateEnd(), hand_frame(0x89, 32, b"")),
        ("hand_update_state", 33, w.UpdateState(31, 1, 0x04, 1024),
         hand_frame(0x08, 33, struct.pack("<IBBI", 31, 1, 0x04, 1024))),
        ("hand_boot_report", 2, w.BootReport(1, 2, 0, 1, 9, 0, 3, 0x21, 5),
         hand_frame(0x09, 2, struct.pack("<BBBHIBBBI", 1, 2, 0, 1, 9, 0, 3, 0x21, 5))),
    ]


def hand_cases() -> list[tuple[str, int, w.Message, bytes]]:
    """Messages whose wire bytes are built here without edge_bridge.wire."""
    return [
        ("hand_get_status", 1, w.GetStatus(), hand_frame(0x85, 1, b"")),
        ("hand_host_ack", 2, w.HostAck(0x01020304), hand_frame(0x83, 2, struct.pack("<I", 0x01020304))),
        ("hand_beat", 42, w.Beat(360, 1, (-100, 90, -128, -128, -128), 123_456, 0x03),
         hand_frame(0x02, 42, struct.pack("<IB5bIB", 360, 1, -100, 90, -128, -128, -128, 123_456, 3))),
        ("hand_error", 43, w.Error(0x0003, 5, "bad payload"),
         hand_frame(0x06, 43, struct.pack("<HIB", 3, 5, 11) + b"bad payload")),
        ("hand_samples", 3, w.Samples(10, (1000, -5, 0)),
         hand_frame(0x81, 3, struct.pack("<IH3h", 10, 3, 1000, -5, 0))),
    ]


def event_json(event: w.Frame | w.Reject) -> dict:
    if isinstance(event, w.Frame):
        return {"event": "frame", "seq": event.seq, "type": event.message.TYPE.name,
                "fields": event.message.to_fields(), "raw_len": event.raw_len}
    return {"event": "reject", "reason": event.reason, "raw_len": event.raw_len, "version": event.version,
            "type": event.msg_type, "seq": event.seq}


def flip_bit(frame_wire: bytes, decoded_offset: int, bit: int) -> bytes:
    """A frame on the wire with one bit of its decoded bytes flipped, re-encoded (COBS stays valid)."""
    decoded = bytearray(w.cobs_decode(frame_wire[:-1]))
    decoded[decoded_offset] ^= 1 << bit
    return hand_cobs(bytes(decoded)) + b"\x00"


def full_ff_frame() -> bytes:
    """SAMPLES whose decoded frame ends in exactly 254 non-zero bytes: its COBS ends with a 0xFF block."""
    samples = tuple(0x0101 + i for i in range(126))  # samples + CRC = 254 bytes after count's zero high byte
    for seq in range(1, 1000):
        frame = w.encode(w.Samples(0x01010101, samples), seq)
        decoded = w.cobs_decode(frame[:-1])
        if 0 not in decoded[-254:]:
            assert frame[-256] == 0xFF and w.cobs_decode(frame[:-1]) == decoded, frame.hex()
            return frame
    raise SystemExit("no seq gives a CRC without a zero byte")


def stream_cases() -> list[dict]:
    beat = w.encode(w.Beat(455, 0, (127, -128, -127, -128, -128), 61_234, 0), 2)
    beat2 = w.encode(w.Beat(740, 2, (-120, -110, 100, -90, -128), 70_001, 1), 3)
    alert = w.encode(w.Alert(3, 740, 2, 100, 1, 200), 4)
    samples = w.encode(w.Samples(0, ecg_like(40, 0)), 1)
    cfg = w.encode(w.Config((255, 200, 180, 200, 230), 3, 10, 0x7E), 2)
    boot_text = b"heartbeat-edge boot version=0.1.0\n"
    ff = full_ff_frame()
    oversize_ok_size = w.encode_raw(1, 0x81, 9, struct.pack("<IH", 0, 249) + bytes(498))
    assert len(w.cobs_decode(oversize_ok_size[:-1])) == 512
    oversize_513 = w.encode_raw(1, 0x81, 9, struct.pack("<IH", 0, 249) + bytes(499))
    assert len(w.cobs_decode(oversize_513[:-1])) == 513
    cases = [
        ("two_frames_back_to_back", "all", beat + alert),
        ("delimiters_only", "all", b"\x00\x00\x00"),
        ("empty_frames_around_a_frame", "all", b"\x00\x00" + beat + b"\x00\x00"),
        ("boot_text_then_session_start_delimiter", "all", boot_text + b"\x00" + beat),
        ("boot_text_glued_to_a_frame_loses_it", "all", boot_text + beat + beat2),
        ("bad_crc_low_byte", "all", flip_bit(beat, len(w.cobs_decode(beat[:-1])) - 2, 0) + beat2),
        ("bad_crc_high_byte", "all", flip_bit(beat, len(w.cobs_decode(beat[:-1])) - 1, 7) + beat2),
        ("bad_crc_payload_bit", "all", flip_bit(alert, 9, 3) + beat2),
        ("bad_crc_seq_bit", "all", flip_bit(beat, 2, 0) + beat2),
        ("truncated_to_half_then_resync", "all", beat[: len(beat) // 2] + b"\x00" + beat2),
        ("truncated_to_three_bytes", "all", beat[:3] + b"\x00" + beat2),
        ("truncated_to_one_byte", "all", b"\x01\x00" + beat2),
        ("truncated_last_byte_missing", "all", beat[:-2] + b"\x00" + beat2),
        ("cobs_block_longer_than_frame", "all", bytes.fromhex("0511220033") + b"\x00" + beat2),
        ("cobs_code_ff_cut_short", "all", b"\xff" + bytes(range(1, 101)) + b"\x00" + beat2),
        ("oversize_noise", "all", bytes((i % 255) + 1 for i in range(600)) + b"\x00" + beat2),
        ("oversize_513_decoded_bytes", "all", oversize_513 + beat2),
        ("size_512_is_not_oversize_but_bad_payload", "all", oversize_ok_size + beat2),
        ("oversize_long_run_of_ff", "all", b"\xff" * 2000 + b"\x00" + beat2),
        ("unknown_type", "all", w.encode_raw(1, 0x42, 77, b"\x01\x02") + beat2),
        ("unknown_type_host_range", "all", w.encode_raw(1, 0xFF, 78, b"") + beat2),
        ("wrong_version_2", "all", w.encode_raw(2, 0x02, 79, w.Beat(1, 0, (0,) * 5, 0, 0).pack()) + beat2),
        ("wrong_version_0", "all", w.encode_raw(0, 0x85, 80, b"") + beat2),
        ("device_decoder_refuses_beat", "host_to_device", beat + samples),
        ("host_decoder_refuses_samples", "device_to_host", samples + beat),
        ("device_decoder_takes_config_and_samples", "host_to_device", cfg + samples),
        ("payload_beat_one_byte_short", "all", w.encode_raw(1, 0x02, 81, w.Beat(1, 0, (0,) * 5, 0, 0).pack()[:-1])
         + beat2),
        ("payload_beat_one_byte_long", "all",
         w.encode_raw(1, 0x02, 82, w.Beat(1, 0, (0,) * 5, 0, 0).pack() + b"\x00") + beat2),
        ("payload_beat_class_5", "all",
         w.encode_raw(1, 0x02, 83, struct.pack("<IB5bIB", 1, 5, 0, 0, 0, 0, 0, 0, 0)) + beat2),
        ("payload_alert_class_200", "all", w.encode_raw(1, 0x03, 84, struct.pack("<IIBbBB", 1, 2, 200, 0, 1, 1))
         + beat2),
        ("payload_samples_count_too_big", "all", w.encode_raw(1, 0x81, 85, struct.pack("<IH", 0, 241) + bytes(482))
         + beat2),
        ("payload_samples_count_disagrees", "all",
         w.encode_raw(1, 0x81, 86, struct.pack("<IH3h", 0, 4, 1, 2, 3)) + beat2),
        ("payload_string_with_control_byte", "all",
         w.encode_raw(1, 0x06, 87, struct.pack("<HIB", 1, 0, 3) + b"a\x01b") + beat2),
        ("payload_string_with_high_byte", "all",
         w.encode_raw(1, 0x06, 88, struct.pack("<HIB", 1, 0, 2) + b"\xc3\xa9") + beat2),
        ("payload_string_65_bytes", "all", w.encode_raw(1, 0x06, 89, struct.pack("<HIB", 1, 0, 65) + b"a" * 65)
         + beat2),
        ("payload_string_longer_than_payload", "all",
         w.encode_raw(1, 0x06, 90, struct.pack("<HIB", 1, 0, 10) + b"abc") + beat2),
        ("payload_hello_sha_cut", "all",
         w.encode_raw(1, 0x01, 91, b"\x01a\x01b\x01c" + bytes(31)) + beat2),
        ("payload_gap_first_after_last", "all", w.encode_raw(1, 0x07, 92, struct.pack("<II", 9, 8)) + beat2),
        ("payload_gap_first_zero", "all", w.encode_raw(1, 0x07, 93, struct.pack("<II", 0, 8)) + beat2),
        ("payload_get_status_with_a_byte", "all", w.encode_raw(1, 0x85, 94, b"\x07") + beat2),
        ("cobs_final_ff_block_with_redundant_01", "all", ff[:-1] + b"\x01\x00" + beat2),
        ("cobs_final_ff_block_canonical", "all", ff + beat2),
        ("frame_without_delimiter_is_pending", "all", beat + beat2[:-1]),
        ("mixed_session", "all",
         b"\x00" + boot_text + b"\x00" + beat + flip_bit(beat2, 5, 1) + alert + b"\x00"
         + bytes((i % 255) + 1 for i in range(700)) + b"\x00" + w.encode_raw(1, 0x42, 5, b"") + beat2
         + beat[:10] + b"\x00" + w.encode(w.Status(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 6)),
    ]
    return run_streams(cases)


def update_stream_cases() -> list[dict]:
    """Good and bad update frames in streams, each bad one followed by a good frame (the decoder resyncs)."""
    begin = w.encode(w.UpdateBegin(102_403, sha("image v2"), 1, 2, 3, 4, 2), 11)
    chunk = w.encode(w.UpdateChunk(0, image_bytes(64, "image v2")), 12)
    end, install, abort = w.encode(w.UpdateEnd(), 13), w.encode(w.UpdateInstall(), 14), w.encode(w.UpdateAbort(), 15)
    state = w.encode(w.UpdateState(12, w.TransferState.RECEIVING, w.UpdateResult.OK, 64), 21)
    report = w.encode(w.BootReport(0, 1, 0, 0, 0, 1, w.BootOutcome.REVERTED, w.UpdateResult.SELF_TEST_FAILED, 1), 2)
    begin_payload = w.UpdateBegin(4096, sha("x"), 1, 0, 0, 0, 1).pack()
    report_fields = (0, 1, 0, 0, 0, 1, 0, 0, 1)  # slot, version x4, confirmed, outcome, reason, counter

    def report_with(**changes: int) -> bytes:
        names = ("slot", "major", "minor", "revision", "build", "confirmed", "outcome", "reason", "counter")
        values = dict(zip(names, report_fields, strict=True)) | changes
        return struct.pack("<BBBHIBBBI", *(values[n] for n in names))

    cases = [
        ("update_device_decoder_takes_every_update_request", "host_to_device", begin + chunk + end + install + abort),
        ("update_host_decoder_takes_state_and_boot_report", "device_to_host", report + state),
        ("update_device_decoder_refuses_update_state", "host_to_device", state + chunk),
        ("update_device_decoder_refuses_boot_report", "host_to_device", report + end),
        ("update_host_decoder_refuses_update_chunk", "device_to_host", chunk + state),
        ("update_host_decoder_refuses_update_begin", "device_to_host", begin + report),
        ("unknown_type_after_the_update_requests_0x8c", "all", w.encode_raw(1, 0x8C, 100, b"") + chunk),
        ("unknown_type_after_the_update_answers_0x0a", "all", w.encode_raw(1, 0x0A, 101, b"") + state),
        ("payload_update_begin_one_byte_short", "all", w.encode_raw(1, 0x87, 102, begin_payload[:-1]) + chunk),
        ("payload_update_begin_one_byte_long", "all", w.encode_raw(1, 0x87, 103, begin_payload + b"\x01") + chunk),
        ("payload_update_begin_sha_cut", "all", w.encode_raw(1, 0x87, 104, begin_payload[:20]) + chunk),
        ("payload_update_chunk_length_0", "all", w.encode_raw(1, 0x88, 105, struct.pack("<IH", 0, 0)) + chunk),
        ("payload_update_chunk_length_257", "all",
         w.encode_raw(1, 0x88, 106, struct.pack("<IH", 0, 257) + bytes(257)) + chunk),
        ("payload_update_chunk_length_disagrees", "all",
         w.encode_raw(1, 0x88, 107, struct.pack("<IH", 0, 4) + b"abc") + chunk),
        ("payload_update_chunk_length_disagrees_long", "all",
         w.encode_raw(1, 0x88, 108, struct.pack("<IH", 0, 4) + b"abcde") + chunk),
        ("payload_update_chunk_offset_not_aligned", "all",
         w.encode_raw(1, 0x88, 109, struct.pack("<IH", 2, 4) + b"abcd") + chunk),
        ("payload_update_chunk_header_cut", "all", w.encode_raw(1, 0x88, 110, struct.pack("<I", 0) + b"\x04")
         + chunk),
        ("payload_update_end_with_a_byte", "all", w.encode_raw(1, 0x89, 111, b"\x00") + chunk),
        ("payload_update_install_with_a_byte", "all", w.encode_raw(1, 0x8A, 112, b"\x01") + chunk),
        ("payload_update_abort_with_a_byte", "all", w.encode_raw(1, 0x8B, 113, b"\xff") + chunk),
        ("payload_update_state_state_5", "all", w.encode_raw(1, 0x08, 114, struct.pack("<IBBI", 1, 5, 0, 0)) + state),
        ("payload_update_state_result_0x0a", "all",
         w.encode_raw(1, 0x08, 115, struct.pack("<IBBI", 1, 1, 0x0A, 0)) + state),
        ("payload_update_state_result_0xff", "all",
         w.encode_raw(1, 0x08, 116, struct.pack("<IBBI", 1, 4, 0xFF, 0)) + state),
        ("payload_update_state_one_byte_short", "all",
         w.encode_raw(1, 0x08, 117, struct.pack("<IBBI", 1, 1, 0, 0)[:-1]) + state),
        ("payload_boot_report_slot_2", "all", w.encode_raw(1, 0x09, 118, report_with(slot=2)) + state),
        ("payload_boot_report_slot_0xfe", "all", w.encode_raw(1, 0x09, 119, report_with(slot=0xFE)) + state),
        ("payload_boot_report_confirmed_2", "all", w.encode_raw(1, 0x09, 120, report_with(confirmed=2)) + state),
        ("payload_boot_report_outcome_4", "all", w.encode_raw(1, 0x09, 121, report_with(outcome=4)) + state),
        ("payload_boot_report_reason_0x18", "all", w.encode_raw(1, 0x09, 122, report_with(reason=0x18)) + state),
        ("payload_boot_report_one_byte_long", "all", w.encode_raw(1, 0x09, 123, report_with() + b"\x00") + state),
        ("update_transfer_with_a_corrupt_chunk", "host_to_device",
         b"\x00" + begin + flip_bit(chunk, 20, 2) + chunk + end),
    ]
    return run_streams(cases)


def run_streams(cases: list[tuple[str, str, bytes]]) -> list[dict]:
    out = []
    accepts = {"all": w.Accepts.ALL, "host_to_device": w.Accepts.HOST_TO_DEVICE,
               "device_to_host": w.Accepts.DEVICE_TO_HOST}
    for name, accept, data in cases:
        dec = w.Decoder(accepts[accept])
        events = dec.feed_events(data)
        out.append({"name": name, "accepts": accept, "input_hex": data.hex(),
                    "events": [event_json(e) for e in events],
                    "counters": {**dec.counters, "pending": dec.pending}})
    return out


def build() -> dict:
    crc_inputs = [("check_value_123456789", b"123456789", 0x29B1), ("empty", b"", 0xFFFF),
                  ("one_zero_byte", b"\x00", None), ("letter_A", b"A", None),
                  ("all_byte_values", bytes(range(256)), None), ("frame_header", bytes.fromhex("010207000000"), None)]
    crc = []
    for name, data, known in crc_inputs:
        value = binascii.crc_hqx(data, 0xFFFF)
        assert known is None or value == known, name
        assert w.crc16(data) == value, name
        crc.append({"name": name, "data_hex": data.hex(), "crc": value, "source": "hand" if known else "binascii"})

    cobs = []
    for decoded_hex, encoded_hex in LITERATURE_COBS:
        decoded, encoded = bytes.fromhex(decoded_hex), bytes.fromhex(encoded_hex)
        assert hand_cobs(decoded) == encoded, decoded_hex
        assert w.cobs_encode(decoded) == encoded, decoded_hex
        assert w.cobs_decode(encoded) == decoded, decoded_hex
        cobs.append({"decoded_hex": decoded_hex, "encoded_hex": encoded_hex, "source": "hand"})
    for decoded in (bytes([1]) * 508, bytes([7]) * 253 + b"\x00", bytes(300), bytes(range(1, 255)) * 2 + b"\x00\x05"):
        encoded = w.cobs_encode(decoded)
        assert hand_cobs(decoded) == encoded
        cobs.append({"decoded_hex": decoded.hex(), "encoded_hex": encoded.hex(), "source": "implementation"})

    messages = []
    for cases, hand in ((message_cases(), hand_cases()), (update_message_cases(), update_hand_cases())):
        for name, seq, msg in cases:
            frame = w.encode(msg, seq)
            assert hand_frame(msg.TYPE, seq, msg.pack()) == frame, name
            messages.append({"name": name, "type": msg.TYPE.name, "seq": seq, "fields": msg.to_fields(),
                             "frame_hex": frame.hex(), "source": "implementation"})
        for name, seq, msg, frame in hand:
            assert w.encode(msg, seq) == frame, f"{name}: the implementation disagrees with the hand-built frame"
            messages.append({"name": name, "type": msg.TYPE.name, "seq": seq, "fields": msg.to_fields(),
                             "frame_hex": frame.hex(), "source": "hand"})
    types = {t.name for t in w.MsgType}
    assert types == {m["type"] for m in messages}, types - {m["type"] for m in messages}

    config_checks = []
    for thresholds, k, window, enabled in [
        ((255, 200, 180, 200, 230), 3, 10, 0x7E), ((0, 0, 0, 0, 0), 0, 0, 0), ((255,) * 5, 0, 0, 0x3F),
        ((10,) * 5, 0, 10, 0x40), ((10,) * 5, 11, 10, 0x40), ((10,) * 5, 10, 10, 0x40), ((10,) * 5, 1, 1, 0x5F),
        ((10,) * 5, 1, 0, 0x40), ((10,) * 5, 11, 10, 0x20), ((1, 2, 3, 4, 5), 2, 3, 0x80),
        ((1, 2, 3, 4, 5), 2, 3, 0xFF), ((1, 2, 3, 4, 5), 255, 255, 0x7F),
    ]:
        cfg = w.Config(thresholds, k, window, enabled)
        config_checks.append({"fields": cfg.to_fields(), "status": int(w.config_status(cfg))})

    return {
        "description": "Wire protocol test vectors (docs/protocol.md). Frozen: generated once by "
                       "tests/edge_bridge/freeze_wire_vectors.py; both implementations are tested against it.",
        "protocol_version": w.PROTOCOL_VERSION,
        "max_frame": w.MAX_FRAME,
        "samples_max": w.SAMPLES_MAX,
        "str_max": w.STR_MAX,
        "chunk_max": w.CHUNK_MAX,
        "types": {t.name: int(t) for t in w.MsgType},
        "update_codes": {"state": {e.name: int(e) for e in w.TransferState},
                         "result": {e.name: int(e) for e in w.UpdateResult},
                         "outcome": {e.name: int(e) for e in w.BootOutcome}},
        "crc": crc,
        "cobs": cobs,
        "messages": messages,
        "streams": stream_cases() + update_stream_cases(),
        "config_checks": config_checks,
    }


def _entry_key(entry: object) -> str:
    """A frozen entry's identity: its name, or (entries without one: cobs, config_checks) the entry itself."""
    if isinstance(entry, dict) and "name" in entry:
        return str(entry["name"])
    return json.dumps(entry, sort_keys=True)


def extend(frozen: dict, rebuilt: dict) -> dict:
    """The frozen table with the entries it lacks appended; refuses unless every frozen entry is rebuilt as is."""
    if set(frozen) - set(rebuilt):
        raise SystemExit(f"--extend: the rebuilt table lacks {sorted(set(frozen) - set(rebuilt))}; "
                         "that needs a deliberate re-freeze (--force)")
    out: dict = {}
    for key, new in rebuilt.items():  # the rebuilt table's order: a new key goes where build() puts it
        if key not in frozen:
            out[key] = new
            continue
        old = frozen[key]
        if isinstance(old, list):
            rebuilt_by_key = {_entry_key(e): e for e in new}
            for entry in old:
                k = _entry_key(entry)
                if rebuilt_by_key.get(k) != entry:
                    raise SystemExit(f"--extend: frozen {key} entry {k[:80]} is not reproduced byte for byte by "
                                     "edge_bridge.wire: the implementation changed, or the entry was edited")
            known = {_entry_key(e) for e in old}
            out[key] = old + [e for e in new if _entry_key(e) not in known]
        elif isinstance(old, dict):
            changed = [k for k, v in old.items() if new.get(k) != v]
            if changed:
                raise SystemExit(f"--extend: frozen {key} entries {changed} differ in the rebuilt table")
            out[key] = old | {k: v for k, v in new.items() if k not in old}
        else:
            if old != new:
                raise SystemExit(f"--extend: frozen {key} is {old!r}, the rebuilt table says {new!r}")
            out[key] = old
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true", help="overwrite the frozen table (a deliberate re-freeze)")
    mode.add_argument("--extend", action="store_true",
                      help="append the entries the frozen table lacks; every frozen entry must be rebuilt as is")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.extend:
        if not args.out.exists():
            print(f"--extend: {args.out} does not exist", file=sys.stderr)
            return 1
        frozen = json.loads(args.out.read_text())
        table = extend(frozen, build())
        added = {k: len(table[k]) - len(frozen[k]) for k in frozen if isinstance(table[k], list | dict)}
        added |= {k: 1 for k in table if k not in frozen}
        args.out.write_text(json.dumps(table, indent=1) + "\n")
        print(f"extended {args.out}: added " + (", ".join(f"{n} {k}" for k, n in added.items() if n) or "nothing"))
        return 0
    if args.out.exists() and not args.force:
        print(f"{args.out} exists and is frozen; pass --extend to add vectors, --force for a deliberate re-freeze",
              file=sys.stderr)
        return 1
    table = build()
    args.out.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {args.out}: {len(table['messages'])} messages, {len(table['streams'])} streams")
    return 0


if __name__ == "__main__":
    sys.exit(main())
