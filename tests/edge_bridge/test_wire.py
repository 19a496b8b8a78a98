"""edge_bridge/wire.py against the frozen vector table (tests/contract/wire_vectors.json) and properties.

The table is the contract the C implementation (firmware/lib/wire) is tested against too; nothing here
re-derives it from the code.
"""
from __future__ import annotations

import ast
import binascii
import json
import random
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_bridge import wire as w

REPO = Path(__file__).resolve().parents[2]
VECTORS = json.loads((REPO / "tests" / "contract" / "wire_vectors.json").read_text())
ACCEPTS = {"all": w.Accepts.ALL, "host_to_device": w.Accepts.HOST_TO_DEVICE,
           "device_to_host": w.Accepts.DEVICE_TO_HOST}
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def by_name(items):
    return {item["name"]: item for item in items}


def message_of(vector: dict) -> w.Message:
    return w.MESSAGE_CLASSES[w.MsgType[vector["type"]]].from_fields(vector["fields"])


def event_as_json(event: w.Frame | w.Reject) -> dict:
    if isinstance(event, w.Frame):
        return {"event": "frame", "seq": event.seq, "type": event.message.TYPE.name,
                "fields": event.message.to_fields(), "raw_len": event.raw_len}
    return {"event": "reject", "reason": event.reason, "raw_len": event.raw_len, "version": event.version,
            "type": event.msg_type, "seq": event.seq}


def feed_in_pieces(decoder: w.Decoder, data: bytes, cuts: list[int]) -> list:
    events, start = [], 0
    for cut in sorted(set(c for c in cuts if 0 < c < len(data))) + [len(data)]:
        events += decoder.feed_events(data[start:cut])
        start = cut
    return events


# ---------------------------------------------------------------------------------------------------------------
# the vector table
# ---------------------------------------------------------------------------------------------------------------
def test_the_table_states_the_implementations_constants():
    assert VECTORS["protocol_version"] == w.PROTOCOL_VERSION == 1
    assert VECTORS["max_frame"] == w.MAX_FRAME == 512
    assert VECTORS["samples_max"] == w.SAMPLES_MAX
    assert VECTORS["str_max"] == w.STR_MAX
    assert VECTORS["chunk_max"] == w.CHUNK_MAX == 256
    assert VECTORS["types"] == {t.name: int(t) for t in w.MsgType}
    assert VECTORS["update_codes"] == {"state": {e.name: int(e) for e in w.TransferState},
                                       "result": {e.name: int(e) for e in w.UpdateResult},
                                       "outcome": {e.name: int(e) for e in w.BootOutcome}}
    # a full SAMPLES frame fits in MAX_FRAME, one more sample would not fit the u16 count's promise
    assert w.MIN_FRAME + 6 + 2 * w.SAMPLES_MAX <= w.MAX_FRAME
    assert w.MIN_FRAME + 6 + w.CHUNK_MAX <= w.MAX_FRAME  # a full UPDATE_CHUNK fits too


def test_the_update_types_follow_the_existing_ones_in_each_direction():
    """Device -> host codes continue after GAP, host -> device codes after HELLO_REQUEST (docs/protocol.md, 2)."""
    device = sorted(int(t) for t in w.MsgType if not w.is_host_to_device(t))
    host = sorted(int(t) for t in w.MsgType if w.is_host_to_device(t))
    assert device == list(range(0x01, 0x0A)) and host == list(range(0x81, 0x8C))
    assert (w.MsgType.UPDATE_STATE, w.MsgType.BOOT_REPORT) == (0x08, 0x09)
    assert [w.MsgType.UPDATE_BEGIN, w.MsgType.UPDATE_CHUNK, w.MsgType.UPDATE_END, w.MsgType.UPDATE_INSTALL,
            w.MsgType.UPDATE_ABORT] == list(range(0x87, 0x8C))


def test_the_table_covers_every_message_type_several_times_and_every_reject_reason():
    counts = {}
    for vector in VECTORS["messages"]:
        counts[vector["type"]] = counts.get(vector["type"], 0) + 1
    assert set(counts) == {t.name for t in w.MsgType}
    assert min(counts.values()) >= 2
    reasons = {e["reason"] for s in VECTORS["streams"] for e in s["events"] if e["event"] == "reject"}
    assert reasons == set(w.REASON_COUNTER)
    assert any(v["source"] == "hand" for v in VECTORS["messages"])


@pytest.mark.parametrize("vector", VECTORS["crc"], ids=lambda v: v["name"])
def test_crc16_ccitt_false(vector):
    data = bytes.fromhex(vector["data_hex"])
    assert w.crc16(data) == vector["crc"]
    assert w.crc16(data) == binascii.crc_hqx(data, 0xFFFF)  # the standard library's CRC-CCITT as an oracle


def test_crc16_check_value_by_hand():
    assert w.crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize("vector", VECTORS["cobs"], ids=lambda v: v["encoded_hex"][:16])
def test_cobs(vector):
    decoded, encoded = bytes.fromhex(vector["decoded_hex"]), bytes.fromhex(vector["encoded_hex"])
    assert w.cobs_encode(decoded) == encoded
    assert w.cobs_decode(encoded) == decoded
    assert 0 not in encoded


@pytest.mark.parametrize("vector", VECTORS["messages"], ids=lambda v: v["name"])
def test_message_encodes_to_the_vector_bytes(vector):
    assert w.encode(message_of(vector), vector["seq"]).hex() == vector["frame_hex"]


@pytest.mark.parametrize("vector", VECTORS["messages"], ids=lambda v: v["name"])
def test_message_vector_decodes_to_its_fields(vector):
    frame = bytes.fromhex(vector["frame_hex"])
    for decoder_input in (frame, b"\x00" + frame):
        decoder = w.Decoder()
        events = decoder.feed_events(decoder_input)
        assert [event_as_json(e) for e in events] == [
            {"event": "frame", "seq": vector["seq"], "type": vector["type"], "fields": vector["fields"],
             "raw_len": len(frame) - 1}]
        assert decoder.counters == {"frames": 1, "corrupt": 0, "oversize": 0, "unknown": 0,
                                    "bytes": len(decoder_input)}
    # one byte at a time: the same
    decoder = w.Decoder()
    events = [e for b in frame for e in decoder.feed_events(bytes([b]))]
    assert [e.message for e in events] == [message_of(vector)]


@pytest.mark.parametrize("vector", VECTORS["streams"], ids=lambda v: v["name"])
def test_stream_gives_the_vector_events_and_counters(vector):
    data = bytes.fromhex(vector["input_hex"])
    decoder = w.Decoder(ACCEPTS[vector["accepts"]])
    events = decoder.feed_events(data)
    assert [event_as_json(e) for e in events] == vector["events"]
    assert {**decoder.counters, "pending": decoder.pending} == vector["counters"]
    for event in events:
        if isinstance(event, w.Reject):
            assert getattr(decoder, event.counter) >= 1


@pytest.mark.parametrize("vector", VECTORS["streams"], ids=lambda v: v["name"])
def test_stream_vectors_hold_whatever_the_chunking(vector):
    data = bytes.fromhex(vector["input_hex"])
    rng = random.Random(vector["name"])
    for cuts in (list(range(len(data))), [rng.randrange(len(data) + 1) for _ in range(7)]):
        decoder = w.Decoder(ACCEPTS[vector["accepts"]])
        events = feed_in_pieces(decoder, data, cuts)
        assert [event_as_json(e) for e in events] == vector["events"]
        assert {**decoder.counters, "pending": decoder.pending} == vector["counters"]


def test_feed_returns_only_intact_frames():
    stream = bytes.fromhex(by_name(VECTORS["streams"])["mixed_session"]["input_hex"])
    decoder = w.Decoder()
    frames = decoder.feed(stream)
    assert [type(f.message).__name__ for f in frames] == ["Beat", "Alert", "Beat", "Status"]
    assert (decoder.corrupt, decoder.oversize, decoder.unknown) == (3, 1, 1)


@pytest.mark.parametrize("check", VECTORS["config_checks"], ids=lambda c: json.dumps(c["fields"]))
def test_config_status(check):
    assert w.config_status(w.Config.from_fields(check["fields"])) == check["status"]


# ---------------------------------------------------------------------------------------------------------------
# bad input on the encode side: a clear error naming the field
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, field", [
    (lambda: w.Beat(0, 5, (0,) * 5, 0, 0), "Beat.beat_class"),
    (lambda: w.Beat(0, 0, (0,) * 4, 0, 0), "Beat.scores"),
    (lambda: w.Beat(0, 0, (0, 0, 0, 0, 128), 0, 0), "Beat.scores[4]"),
    (lambda: w.Beat(-1, 0, (0,) * 5, 0, 0), "Beat.r_sample"),
    (lambda: w.Beat(0, 0, [0] * 5, 0, 0), "Beat.scores"),
    (lambda: w.Hello("x" * 65, "", "", bytes(32), 1, 1, 360), "Hello.device_id"),
    (lambda: w.Hello("caf\u00e9", "", "", bytes(32), 1, 1, 360), "Hello.device_id"),
    (lambda: w.Hello("a\nb", "", "", bytes(32), 1, 1, 360), "Hello.device_id"),
    (lambda: w.Hello("", "", "", bytes(31), 1, 1, 360), "Hello.model_sha256"),
    (lambda: w.Hello("", "", "", bytes(32), 1, 2 ** 32, 360), "Hello.boot_id"),
    (lambda: w.Samples(0, (0,) * (w.SAMPLES_MAX + 1)), "Samples.samples"),
    (lambda: w.Samples(0, (40000,)), "Samples.samples[0]"),
    (lambda: w.Config((0,) * 5, 256, 0, 0), "Config.k"),
    (lambda: w.Gap(0, 3), "Gap"),
    (lambda: w.Gap(4, 3), "Gap"),
    (lambda: w.Error(1, 0, 7), "Error.text"),
    (lambda: w.Ack(True, 0), "Ack.host_seq"),
    (lambda: w.UpdateBegin(-1, bytes(32), 1, 0, 0, 0, 0), "UpdateBegin.image_size"),
    (lambda: w.UpdateBegin(1, bytes(31), 1, 0, 0, 0, 0), "UpdateBegin.image_sha256"),
    (lambda: w.UpdateBegin(1, bytes(32), 256, 0, 0, 0, 0), "UpdateBegin.version_major"),
    (lambda: w.UpdateBegin(1, bytes(32), 1, 0, 0x10000, 0, 0), "UpdateBegin.version_revision"),
    (lambda: w.UpdateBegin(1, bytes(32), 1, 0, 0, 2 ** 32, 0), "UpdateBegin.version_build"),
    (lambda: w.UpdateBegin(1, bytes(32), 1, 0, 0, 0, -1), "UpdateBegin.security_counter"),
    (lambda: w.UpdateChunk(2, b"abcd"), "UpdateChunk.offset must be a multiple of 4"),
    (lambda: w.UpdateChunk(0, b""), "UpdateChunk.data must be 1..256 bytes, got 0 bytes"),
    (lambda: w.UpdateChunk(0, bytes(257)), "UpdateChunk.data must be 1..256 bytes, got 257 bytes"),
    (lambda: w.UpdateChunk(0, "abcd"), "UpdateChunk.data must be 1..256 bytes, got str"),
    (lambda: w.UpdateState(1, 5, 0, 0), "UpdateState.state must be one of 0 IDLE"),
    (lambda: w.UpdateState(1, 1, 0x0A, 0), "UpdateState.result must be one of"),
    (lambda: w.UpdateState(1, 1, 0, 2 ** 32), "UpdateState.next_offset"),
    (lambda: w.BootReport(2, 1, 0, 0, 0, 1, 0, 0, 0), "BootReport.running_slot must be 0..1 or 255"),
    (lambda: w.BootReport(0, 1, 0, 0, 0, 2, 0, 0, 0), "BootReport.confirmed"),
    (lambda: w.BootReport(0, 1, 0, 0, 0, 1, 4, 0, 0), "BootReport.last_outcome"),
    (lambda: w.BootReport(0, 1, 0, 0, 0, 1, 3, 0x18, 0), "BootReport.reason"),
])
def test_invalid_fields_are_refused_with_the_field_named(make, field):
    with pytest.raises(w.WireError) as err:
        make()
    assert field in str(err.value)


@pytest.mark.parametrize("seq", [-1, 2 ** 32, 1.0, None])
def test_encode_refuses_a_seq_outside_u32(seq):
    with pytest.raises(w.WireError, match="seq"):
        w.encode(w.GetStatus(), seq)


def test_encode_refuses_what_is_not_a_message():
    with pytest.raises(w.WireError, match="wire message"):
        w.encode(b"\x01\x02", 1)


def test_from_fields_names_missing_and_extra_fields():
    with pytest.raises(w.WireError, match="HostAck takes fields"):
        w.HostAck.from_fields({"seq": 1})


def _imported(path):
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module)
    return imported


def test_wire_uses_the_standard_library_and_the_domain_constants_only():
    """The wire mirror runs on a hospital PC: the standard library plus the shared kernel's domain facts,
    which themselves import only the standard library."""
    stdlib = set(sys.stdlib_module_names)
    wire_imports = _imported(REPO / "edge_bridge" / "wire.py")
    assert wire_imports and {m for m in wire_imports if m.split(".")[0] not in stdlib} == {"heartbeat_core.domain"}
    domain_imports = _imported(REPO / "heartbeat_core" / "domain.py")
    assert {m.split(".")[0] for m in domain_imports} <= stdlib, domain_imports


# ---------------------------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------------------------
u32 = st.integers(0, 0xFFFFFFFF)
U32_WORDS = 0xFFFFFFFF // w.CHUNK_ALIGN  # the largest chunk offset, in units of CHUNK_ALIGN
u16 = st.integers(0, 0xFFFF)
u8 = st.integers(0, 0xFF)
i8 = st.integers(-128, 127)
klass = st.integers(0, w.N_CLASSES - 1)
text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=w.STR_MAX)
scores = st.tuples(*[i8] * w.N_CLASSES)


@st.composite
def gaps(draw):
    first = draw(st.integers(1, 0xFFFFFFFF))
    return w.Gap(first, draw(st.integers(first, 0xFFFFFFFF)))


MESSAGES = {
    w.Hello: st.builds(w.Hello, text, text, text, st.binary(min_size=32, max_size=32), u8, u32, u16),
    w.Beat: st.builds(w.Beat, u32, klass, scores, u32, u8),
    w.Alert: st.builds(w.Alert, u32, u32, klass, i8, u8, u8),
    w.Status: st.builds(w.Status, *[u32] * 11),
    w.Ack: st.builds(w.Ack, u32, u8),
    w.Error: st.builds(w.Error, u16, u32, text),
    w.Gap: gaps(),
    w.Samples: st.builds(w.Samples, u32, st.lists(st.integers(-32768, 32767), max_size=w.SAMPLES_MAX).map(tuple)),
    w.Config: st.builds(w.Config, st.tuples(*[u8] * w.N_CLASSES), u8, u8, u8),
    w.HostAck: st.builds(w.HostAck, u32),
    w.Resend: st.builds(w.Resend, u32),
    w.GetStatus: st.just(w.GetStatus()),
    w.HelloRequest: st.just(w.HelloRequest()),
    w.UpdateState: st.builds(w.UpdateState, u32, st.sampled_from(list(w.TransferState)),
                             st.sampled_from(list(w.UpdateResult)), u32),
    w.BootReport: st.builds(w.BootReport, st.sampled_from([*range(w.N_SLOTS), w.SLOT_NONE]), u8, u8, u16, u32,
                            st.integers(0, 1), st.sampled_from(list(w.BootOutcome)),
                            st.sampled_from(list(w.UpdateResult)), u32),
    w.UpdateBegin: st.builds(w.UpdateBegin, u32, st.binary(min_size=32, max_size=32), u8, u8, u16, u32, u32),
    w.UpdateChunk: st.builds(w.UpdateChunk, st.integers(0, U32_WORDS).map(lambda i: i * w.CHUNK_ALIGN),
                             st.binary(min_size=1, max_size=w.CHUNK_MAX)),
    w.UpdateEnd: st.just(w.UpdateEnd()),
    w.UpdateInstall: st.just(w.UpdateInstall()),
    w.UpdateAbort: st.just(w.UpdateAbort()),
}
any_message = st.one_of(*MESSAGES.values())


def test_every_message_type_has_a_strategy():
    assert set(MESSAGES) == set(w.MESSAGE_CLASSES.values())


@pytest.mark.parametrize("cls", list(MESSAGES), ids=lambda c: c.__name__)
def test_encode_then_decode_is_the_identity(cls):
    @PROPERTY
    @given(MESSAGES[cls], u32)
    def check(msg, seq):
        frame = w.encode(msg, seq)
        assert frame.endswith(b"\x00") and 0 not in frame[:-1]
        assert len(frame) <= w.MAX_ENCODED
        decoder = w.Decoder()
        assert decoder.feed_events(frame) == [w.Frame(seq, msg, len(frame) - 1)]
        assert decoder.pending == 0 and decoder.frames == 1

    check()


@pytest.mark.parametrize("cls", list(MESSAGES), ids=lambda c: c.__name__)
def test_a_payload_cut_short_or_one_byte_long_is_refused_with_its_header(cls):
    """Any truncation of a message's payload (CRC made right again, so only the layout can catch it), or one byte
    more, is refused with reason 'payload' and its seq known: a device then answers ERROR BAD_PAYLOAD naming it."""
    @PROPERTY
    @given(MESSAGES[cls], u32, st.data())
    def check(msg, seq, data):
        payload = msg.pack()
        cut = data.draw(st.integers(0, len(payload) - 1), label="cut") if payload else None
        extra = data.draw(st.binary(min_size=1, max_size=1), label="extra")
        for bad in ([payload[:cut]] if cut is not None else []) + [payload + extra]:
            events = w.decode_frames(w.encode_raw(w.PROTOCOL_VERSION, msg.TYPE, seq, bad))
            assert events == [w.Reject("payload", events[0].raw_len, w.PROTOCOL_VERSION, msg.TYPE, seq)]

    check()


@pytest.mark.parametrize("value", range(256))
def test_update_enum_fields_take_exactly_their_table_values(value):
    state = w.encode_raw(1, w.MsgType.UPDATE_STATE, 5, struct.pack("<IBBI", 9, value, 0, 0))
    result = w.encode_raw(1, w.MsgType.UPDATE_STATE, 5, struct.pack("<IBBI", 9, 4, value, 0))
    outcome = w.encode_raw(1, w.MsgType.BOOT_REPORT, 5, struct.pack("<BBBHIBBBI", 0, 1, 0, 0, 0, 1, value, 0, 0))
    reason = w.encode_raw(1, w.MsgType.BOOT_REPORT, 5, struct.pack("<BBBHIBBBI", 0, 1, 0, 0, 0, 1, 3, value, 0))
    slot = w.encode_raw(1, w.MsgType.BOOT_REPORT, 5, struct.pack("<BBBHIBBBI", value, 1, 0, 0, 0, 1, 0, 0, 0))
    confirmed = w.encode_raw(1, w.MsgType.BOOT_REPORT, 5, struct.pack("<BBBHIBBBI", 0, 1, 0, 0, 0, value, 0, 0, 0))
    codes = VECTORS["update_codes"]
    for frame, taken in ((state, value in codes["state"].values()), (result, value in codes["result"].values()),
                         (outcome, value in codes["outcome"].values()), (reason, value in codes["result"].values()),
                         (slot, value in (0, 1, 0xFF)), (confirmed, value in (0, 1))):
        [event] = w.decode_frames(frame)
        assert isinstance(event, w.Frame) == taken
        assert taken or event.reason == "payload"


def _segments(data: bytes) -> tuple[int, int]:
    """(non-empty delimited segments, bytes in them), counted without the decoder."""
    parts = data.split(b"\x00")[:-1]  # the last part is not delimited yet
    return sum(1 for p in parts if p), sum(len(p) for p in parts)


def _check_accounting(decoder: w.Decoder, data: bytes, events: list) -> None:
    counters = decoder.counters
    assert counters["bytes"] == len(data)
    assert counters["frames"] + counters["corrupt"] + counters["oversize"] + counters["unknown"] == len(events)
    segments, segment_bytes = _segments(data)
    assert len(events) == segments
    assert sum(e.raw_len for e in events) == segment_bytes
    assert segment_bytes + data.count(0) + decoder.pending == len(data)  # every byte accounted for
    assert decoder.pending == len(data) - (data.rfind(0) + 1)


@PROPERTY
@given(st.lists(st.binary(max_size=700), max_size=6), st.sampled_from(list(w.Accepts)))
def test_any_byte_stream_gives_frames_or_counted_rejects_never_an_exception(chunks, accepts):
    decoder = w.Decoder(accepts)
    events = []
    for chunk in chunks:
        events += decoder.feed_events(chunk)
    _check_accounting(decoder, b"".join(chunks), events)
    for event in events:
        assert isinstance(event, (w.Frame, w.Reject))


@st.composite
def streams(draw):
    """Valid frames, garbage and mutated frames, glued together."""
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["frame", "garbage", "mutated", "delimiter", "truncated"]))
        if kind == "garbage":
            parts.append(draw(st.binary(max_size=80)))
        elif kind == "delimiter":
            parts.append(b"\x00")
        else:
            frame = w.encode(draw(any_message), draw(u32))
            if kind == "mutated":
                pos = draw(st.integers(0, len(frame) - 1))
                frame = frame[:pos] + bytes([draw(u8)]) + frame[pos + 1:]
            elif kind == "truncated":
                frame = frame[: draw(st.integers(0, len(frame) - 1))]
            parts.append(frame)
    return b"".join(parts)


@PROPERTY
@given(streams(), st.lists(st.integers(0, 2000), max_size=12))
def test_splitting_a_stream_anywhere_gives_the_same_result(data, cuts):
    whole = w.Decoder()
    expected = whole.feed_events(data)
    pieces = w.Decoder()
    assert feed_in_pieces(pieces, data, cuts) == expected
    assert pieces.counters == whole.counters and pieces.pending == whole.pending
    _check_accounting(whole, data, expected)


@PROPERTY
@given(streams(), any_message, u32)
def test_after_any_input_a_delimiter_and_a_valid_frame_are_decoded(noise, msg, seq):
    decoder = w.Decoder()
    decoder.feed_events(noise)
    frame = w.encode(msg, seq)
    events = decoder.feed_events(b"\x00" + frame)
    # the 0x00 may end a frame the noise left open (counted one way or the other); then comes ours, intact
    assert len(events) == (1 if noise.rfind(0) == len(noise) - 1 else 2)
    assert events[-1] == w.Frame(seq, msg, len(frame) - 1)
    assert decoder.pending == 0


@PROPERTY
@given(st.binary(min_size=1, max_size=600))
def test_cobs_round_trip(data):
    encoded = w.cobs_encode(data)
    assert 0 not in encoded and w.cobs_decode(encoded) == data
    assert len(encoded) <= len(data) + (len(data) + 253) // 254
