"""Writes the C header of the wire protocol's vector table for the firmware's tests.

    python firmware/test/gen_wire_vectors.py [--json tests/contract/wire_vectors.json]
                                             [--out firmware/test/test_wire/wire_vectors.h]

The one table of test vectors is tests/contract/wire_vectors.json (docs/protocol.md, section 5); the C tests
(firmware/test/test_wire/) cannot read JSON on the target, so this turns it into static const data. The header
is generated, git-ignored and rewritten only when its content changes. `pio test` runs this before building
a test_wire suite (the test builds' pre-build step firmware/test/prebuild_vectors.py);
tests/firmware/test_wire_twin.py runs it too.

Standard library only. A table that lacks a field or holds a value the header cannot carry is refused with
a message naming the entry (SystemExit), never half-written.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_JSON = REPO / "tests" / "contract" / "wire_vectors.json"
DEFAULT_OUT = HERE / "test_wire" / "wire_vectors.h"

ACCEPT = {"all": "WIRE_ACCEPT_ALL", "host_to_device": "WIRE_ACCEPT_HOST_TO_DEVICE",
          "device_to_host": "WIRE_ACCEPT_DEVICE_TO_HOST"}
REASON = {"cobs": "WIRE_REASON_COBS", "short": "WIRE_REASON_SHORT", "crc": "WIRE_REASON_CRC",
          "payload": "WIRE_REASON_PAYLOAD", "oversize": "WIRE_REASON_OVERSIZE", "version": "WIRE_REASON_VERSION",
          "type": "WIRE_REASON_TYPE"}
# the C struct member of wire_msg_t.u per type, and each field's kind
LAYOUT = {
    "HELLO": ("hello", {"device_id": "str", "firmware_version": "str", "model_version": "str",
                        "model_sha256": "hex32", "protocol_version": "u", "boot_id": "u", "sample_rate_hz": "u"}),
    "BEAT": ("beat", {"r_sample": "u", "beat_class": "u", "scores": "ilist", "cost": "u", "flags": "u"}),
    "ALERT": ("alert", {"beat_seq": "u", "r_sample": "u", "beat_class": "u", "score": "i", "rule": "u",
                        "threshold": "u"}),
    "STATUS": ("status", {n: "u" for n in ("uptime_ms", "samples", "beats", "alerts", "corrupt_frames",
                                           "oversize_frames", "unknown_frames", "overruns", "lost", "last_seq",
                                           "ring_oldest_seq")}),
    "ACK": ("ack", {"host_seq": "u", "status": "u"}),
    "ERROR": ("error", {"code": "u", "host_seq": "u", "text": "str"}),
    "GAP": ("gap", {"first": "u", "last": "u"}),
    "SAMPLES": ("samples", {"first_sample": "u", "samples": "samples"}),
    "CONFIG": ("config", {"thresholds": "ulist", "k": "u", "window": "u", "enabled": "u"}),
    "HOST_ACK": ("host_ack", {"device_seq": "u"}),
    "RESEND": ("resend", {"after_seq": "u"}),
    "GET_STATUS": (None, {}),
    "HELLO_REQUEST": (None, {}),
    "UPDATE_STATE": ("update_state", {"host_seq": "u", "state": "u", "result": "u", "next_offset": "u"}),
    "BOOT_REPORT": ("boot_report", {"running_slot": "u", "version_major": "u", "version_minor": "u",
                                    "version_revision": "u", "version_build": "u", "confirmed": "u",
                                    "last_outcome": "u", "reason": "u", "security_counter": "u"}),
    "UPDATE_BEGIN": ("update_begin", {"image_size": "u", "image_sha256": "hex32", "version_major": "u",
                                      "version_minor": "u", "version_revision": "u", "version_build": "u",
                                      "security_counter": "u"}),
    "UPDATE_CHUNK": ("update_chunk", {"offset": "u", "data": "chunk"}),
    "UPDATE_END": (None, {}),
    "UPDATE_INSTALL": (None, {}),
    "UPDATE_ABORT": (None, {}),
}


class TableError(SystemExit):
    def __init__(self, where: str, what: str):
        super().__init__(f"gen_wire_vectors: {where}: {what}")


def c_bytes(hex_text: str, where: str) -> tuple[str, int]:
    try:
        data = bytes.fromhex(hex_text)
    except (TypeError, ValueError):
        raise TableError(where, f"not a hex string: {hex_text!r}") from None
    if not data:
        return "{0}", 0  # C has no empty initializer; the length says 0
    rows = [", ".join(f"0x{b:02x}" for b in data[i:i + 16]) for i in range(0, len(data), 16)]
    return "{\n    " + ",\n    ".join(rows) + "\n}", len(data)


def c_string(text: object, where: str) -> str:
    if not isinstance(text, str) or any(not 0x20 <= ord(c) <= 0x7E for c in text):
        raise TableError(where, f"string fields hold printable ASCII, got {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("?", "\\?") + '"'


def c_int(value: object, where: str, signed: bool = False) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TableError(where, f"expected an integer, got {value!r}")
    if signed:
        return str(value)
    if not 0 <= value <= 0xFFFFFFFF:
        raise TableError(where, f"{value} is outside u32")
    return f"{value}u"


def c_msg(type_name: str, fields: dict, where: str, chunk_max: int) -> str:
    if type_name not in LAYOUT:
        raise TableError(where, f"unknown message type {type_name!r}")
    member, layout = LAYOUT[type_name]
    if not isinstance(fields, dict) or sorted(fields) != sorted(layout):
        raise TableError(where, f"{type_name} takes fields {sorted(layout)}, got {fields!r}")
    parts = []
    for name, kind in layout.items():
        value, at = fields[name], f"{where}.{name}"
        if kind == "u":
            parts.append(f".{name} = {c_int(value, at)}")
        elif kind == "i":
            parts.append(f".{name} = {c_int(value, at, signed=True)}")
        elif kind == "str":
            parts.append(f".{name} = {c_string(value, at)}")
        elif kind == "hex32":
            init, n = c_bytes(value, at)
            if n != 32:
                raise TableError(at, f"expected 32 bytes, got {n}")
            parts.append(f".{name} = {init}")
        elif kind in ("ilist", "ulist"):
            if not isinstance(value, list) or not value:
                raise TableError(at, f"expected a non-empty list, got {value!r}")
            items = ", ".join(c_int(v, at, signed=kind == "ilist") for v in value)
            parts.append(f".{name} = {{{items}}}")
        elif kind == "chunk":  # hex bytes: the C struct's length and data
            init, n = c_bytes(value, at)
            if not 1 <= n <= chunk_max:
                raise TableError(at, f"expected 1..{chunk_max} bytes, got {n}")
            parts += [f".length = {n}u", f".data = {init}"]
        elif kind == "samples":
            if not isinstance(value, list):
                raise TableError(at, f"expected a list, got {value!r}")
            parts.append(f".count = {len(value)}u")
            if value:
                parts.append(".samples = {" + ", ".join(c_int(v, at, signed=True) for v in value) + "}")
    body = f".u.{member} = {{{', '.join(parts)}}}" if member else ""
    return f"{{.type = WIRE_T_{type_name}{', ' if body else ''}{body}}}"


def require(entry: dict, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(entry, dict):
        raise TableError(where, f"expected an object, got {entry!r}")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise TableError(where, f"missing {', '.join(missing)}")


def render(table: dict) -> str:
    require(table, ("protocol_version", "max_frame", "samples_max", "str_max", "chunk_max", "types", "update_codes",
                    "crc", "cobs", "messages", "streams", "config_checks"), "table")
    chunk_max = table["chunk_max"]
    out = [
        "/* GENERATED by firmware/test/gen_wire_vectors.py from tests/contract/wire_vectors.json: do not edit,",
        " * do not commit (git-ignored). The one vector table of docs/protocol.md, as C data. */",
        "#ifndef WIRE_VECTORS_H",
        "#define WIRE_VECTORS_H",
        "",
        "#include <stdbool.h>",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
        '#include "wire.h"',
        "",
        f"#define WV_PROTOCOL_VERSION {c_int(table['protocol_version'], 'protocol_version')}",
        f"#define WV_MAX_FRAME {c_int(table['max_frame'], 'max_frame')}",
        f"#define WV_SAMPLES_MAX {c_int(table['samples_max'], 'samples_max')}",
        f"#define WV_STR_MAX {c_int(table['str_max'], 'str_max')}",
        f"#define WV_CHUNK_MAX {c_int(chunk_max, 'chunk_max')}",
        "",
        "typedef struct { const char *name; unsigned code; } wv_type_t;",
        "typedef struct { const char *name; const uint8_t *data; size_t len; uint16_t crc; } wv_crc_t;",
        "typedef struct { const uint8_t *decoded; size_t decoded_len; const uint8_t *encoded; size_t encoded_len; }"
        " wv_cobs_t;",
        "typedef struct { const char *name; uint32_t seq; const wire_msg_t *msg; const uint8_t *frame;"
        " size_t frame_len; } wv_message_t;",
        "typedef struct { wire_event_kind_t kind; wire_reason_t reason; uint32_t raw_len; bool has_header;"
        " uint8_t version; uint8_t type; uint32_t seq; const wire_msg_t *msg; } wv_event_t;",
        "typedef struct { const char *name; wire_accept_t accept; const uint8_t *input; size_t input_len;"
        " const wv_event_t *events; size_t n_events; wire_counters_t counters; uint32_t pending; } wv_stream_t;",
        "typedef struct { wire_config_t config; uint8_t status; } wv_config_check_t;",
        "",
    ]
    types = table["types"]
    if not isinstance(types, dict) or not types:
        raise TableError("types", "expected an object of type names and codes")
    out.append("static const wv_type_t WV_TYPES[] = {")
    out += [f'    {{"{name}", {c_int(code, "types." + name)}}},' for name, code in types.items()]
    out += ["};", f"#define WV_N_TYPES {len(types)}u", ""]

    codes = table["update_codes"]
    require(codes, ("state", "result", "outcome"), "update_codes")
    for key, array, count in (("state", "WV_UPDATE_STATES", "WV_N_UPDATE_STATES"),
                              ("result", "WV_UPDATE_RESULTS", "WV_N_UPDATE_RESULTS"),
                              ("outcome", "WV_BOOT_OUTCOMES", "WV_N_BOOT_OUTCOMES")):
        where = f"update_codes.{key}"
        if not isinstance(codes[key], dict) or not codes[key]:
            raise TableError(where, "expected an object of names and codes")
        out.append(f"static const wv_type_t {array}[] = {{")
        out += [f"    {{{c_string(name, where)}, {c_int(code, f'{where}.{name}')}}},"
                for name, code in codes[key].items()]
        out += ["};", f"#define {count} {len(codes[key])}u", ""]

    crc_rows = []
    for i, entry in enumerate(table["crc"]):
        where = f"crc[{i}]"
        require(entry, ("name", "data_hex", "crc"), where)
        init, n = c_bytes(entry["data_hex"], where)
        out.append(f"static const uint8_t wv_crc_{i}[] = {init};")
        crc_rows.append(f'    {{{c_string(entry["name"], where)}, wv_crc_{i}, {n}u, {c_int(entry["crc"], where)}}},')
    out += ["static const wv_crc_t WV_CRC[] = {", *crc_rows, "};", f"#define WV_N_CRC {len(crc_rows)}u", ""]

    cobs_rows = []
    for i, entry in enumerate(table["cobs"]):
        where = f"cobs[{i}]"
        require(entry, ("decoded_hex", "encoded_hex"), where)
        dec, n_dec = c_bytes(entry["decoded_hex"], where)
        enc, n_enc = c_bytes(entry["encoded_hex"], where)
        out.append(f"static const uint8_t wv_cobs_{i}_dec[] = {dec};")
        out.append(f"static const uint8_t wv_cobs_{i}_enc[] = {enc};")
        cobs_rows.append(f"    {{wv_cobs_{i}_dec, {n_dec}u, wv_cobs_{i}_enc, {n_enc}u}},")
    out += ["static const wv_cobs_t WV_COBS[] = {", *cobs_rows, "};", f"#define WV_N_COBS {len(cobs_rows)}u", ""]

    msg_rows = []
    for i, entry in enumerate(table["messages"]):
        where = f"messages[{i}]"
        require(entry, ("name", "type", "seq", "fields", "frame_hex"), where)
        where = f"messages[{entry['name']}]"
        out.append(f"static const wire_msg_t wv_msg_{i} = {c_msg(entry['type'], entry['fields'], where, chunk_max)};")
        init, n = c_bytes(entry["frame_hex"], where)
        out.append(f"static const uint8_t wv_msg_{i}_frame[] = {init};")
        msg_rows.append(f"    {{{c_string(entry['name'], where)}, {c_int(entry['seq'], where)}, &wv_msg_{i}, "
                        f"wv_msg_{i}_frame, {n}u}},")
    out += ["static const wv_message_t WV_MESSAGES[] = {", *msg_rows, "};",
            f"#define WV_N_MESSAGES {len(msg_rows)}u", ""]

    stream_rows = []
    for i, entry in enumerate(table["streams"]):
        where = f"streams[{i}]"
        require(entry, ("name", "accepts", "input_hex", "events", "counters"), where)
        where = f"streams[{entry['name']}]"
        if entry["accepts"] not in ACCEPT:
            raise TableError(where, f"accepts must be one of {sorted(ACCEPT)}, got {entry['accepts']!r}")
        init, n = c_bytes(entry["input_hex"], where)
        out.append(f"static const uint8_t wv_stream_{i}_input[] = {init};")
        events = []
        for j, ev in enumerate(entry["events"]):
            at = f"{where}.events[{j}]"
            require(ev, ("event", "raw_len"), at)
            if ev["event"] == "frame":
                require(ev, ("seq", "type", "fields"), at)
                msg = c_msg(ev["type"], ev["fields"], at, chunk_max)
                out.append(f"static const wire_msg_t wv_stream_{i}_msg_{j} = {msg};")
                code = types.get(ev["type"])
                events.append(f"    {{WIRE_EVENT_FRAME, WIRE_REASON_NONE, {c_int(ev['raw_len'], at)}, true, "
                              f"{c_int(table['protocol_version'], at)}, {c_int(code, at)}, {c_int(ev['seq'], at)}, "
                              f"&wv_stream_{i}_msg_{j}}},")
            elif ev["event"] == "reject":
                require(ev, ("reason", "version", "type", "seq"), at)
                if ev["reason"] not in REASON:
                    raise TableError(at, f"reason must be one of {sorted(REASON)}, got {ev['reason']!r}")
                header = ev["seq"] is not None
                if header and (ev["version"] is None or ev["type"] is None):
                    raise TableError(at, "a reject with a seq needs its version and type")
                events.append(f"    {{WIRE_EVENT_REJECT, {REASON[ev['reason']]}, {c_int(ev['raw_len'], at)}, "
                              f"{'true' if header else 'false'}, {c_int(ev['version'] or 0, at)}, "
                              f"{c_int(ev['type'] or 0, at)}, {c_int(ev['seq'] or 0, at)}, NULL}},")
            else:
                raise TableError(at, f"event must be frame or reject, got {ev['event']!r}")
        if events:
            out += [f"static const wv_event_t wv_stream_{i}_events[] = {{", *events, "};"]
        counters = entry["counters"]
        require(counters, ("frames", "corrupt", "oversize", "unknown", "bytes", "pending"), f"{where}.counters")
        cnt = ", ".join(f".{k} = {c_int(counters[k], where)}" for k in ("frames", "corrupt", "oversize", "unknown",
                                                                        "bytes"))
        stream_rows.append(f"    {{{c_string(entry['name'], where)}, {ACCEPT[entry['accepts']]}, wv_stream_{i}_input, "
                           f"{n}u, {f'wv_stream_{i}_events' if events else 'NULL'}, {len(events)}u, {{{cnt}}}, "
                           f"{c_int(counters['pending'], where)}}},")
    out += ["static const wv_stream_t WV_STREAMS[] = {", *stream_rows, "};",
            f"#define WV_N_STREAMS {len(stream_rows)}u", ""]

    cfg_rows = []
    for i, entry in enumerate(table["config_checks"]):
        where = f"config_checks[{i}]"
        require(entry, ("fields", "status"), where)
        msg = c_msg("CONFIG", entry["fields"], where, chunk_max)
        config_init = msg[msg.index(".u.config = ") + len(".u.config = "):-1]
        cfg_rows.append(f"    {{{config_init}, {c_int(entry['status'], where)}}},")
    out += ["static const wv_config_check_t WV_CONFIG_CHECKS[] = {", *cfg_rows, "};",
            f"#define WV_N_CONFIG_CHECKS {len(cfg_rows)}u", "", "#endif /* WIRE_VECTORS_H */", ""]
    return "\n".join(out)


def generate(json_path: Path, out_path: Path) -> bool:
    """Writes the header; returns True when its content changed. Raises SystemExit on a bad table."""
    try:
        table = json.loads(Path(json_path).read_text())
    except OSError as exc:
        raise SystemExit(f"gen_wire_vectors: cannot read {json_path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise SystemExit(f"gen_wire_vectors: {json_path} is not JSON: {exc}") from None
    text = render(table)
    out_path = Path(out_path)
    if out_path.exists() and out_path.read_text() == text:
        return False
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".wire_vectors.", suffix=".tmp")
    with os.fdopen(fd, "w") as fp:
        fp.write(text)
    os.replace(tmp, out_path)  # atomic: a concurrent build sees the old or the new header, never half of one
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the wire vector table as a C header.")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    changed = generate(args.json, args.out)
    print(f"gen_wire_vectors: {args.out} {'written' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
