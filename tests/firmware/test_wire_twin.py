"""The C twin of the wire codec (firmware/lib/wire), built and run for real against the one vector table.

`pio test -e native` (host gcc, AddressSanitizer + UBSan) and `pio test -e qemu` (the Cortex-M4F image in QEMU
mps2-an386) run firmware/test/test_wire (tests/contract/wire_vectors.json, turned into a C header by
firmware/test/gen_wire_vectors.py as a pre-build step) and firmware/test/test_wire_fuzz (>= 1,000,000 random
inputs through the decoder on the native build). The Python twin runs the same table in tests/edge_bridge.

Build output goes to a temporary PlatformIO workspace. A missing toolchain fails (never skips) with a message
saying to run scripts/setup.sh.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pio_helpers import pio_env, pio_test, registered_cases, require_pio

REPO = Path(__file__).resolve().parents[2]
TEST_DIR = REPO / "firmware" / "test"
TABLE = REPO / "tests" / "contract" / "wire_vectors.json"
GENERATOR = TEST_DIR / "gen_wire_vectors.py"
SUITES = ("test_wire", "test_wire_fuzz")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pio() -> Path:
    return require_pio()


def _fuzz_inputs(output: str) -> int:
    match = re.search(r"wire fuzz: inputs=(\d+) bytes=(\d+) frames=(\d+) corrupt=(\d+) oversize=(\d+) "
                      r"unknown=(\d+)", output)
    assert match, "the fuzz suite printed no summary line:\n" + output
    inputs, _bytes, frames, corrupt, oversize, unknown = (int(g) for g in match.groups())
    assert frames > 0 and corrupt > 0 and oversize > 0 and unknown > 0, match.group(0)
    return inputs


def _assert_passed(rc: int, out: str, suites: dict) -> None:
    assert rc == 0, out
    assert set(SUITES) <= set(suites), out
    assert all(s["status"] == "SKIPPED" for name, s in suites.items() if name not in SUITES), out  # filtered out
    for name in SUITES:
        expected = registered_cases(name)
        assert len(expected) >= 4, f"could not read the case names of {name}"
        assert sorted(c["name"] for c in suites[name]["test_cases"]) == sorted(expected), out
        assert {c["status"] for c in suites[name]["test_cases"]} == {"PASSED"}, out
        assert suites[name]["status"] == "PASSED", out


# ---------------------------------------------------------------------------------------------------------------
# the header generator
# ---------------------------------------------------------------------------------------------------------------
def _run_generator(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GENERATOR), *args], capture_output=True, text=True, check=False)


def test_generator_writes_the_whole_table_and_only_rewrites_on_change(tmp_path):
    out = tmp_path / "wire_vectors.h"
    first = _run_generator("--out", str(out))
    assert first.returncode == 0, first.stderr
    header = out.read_text()
    table = json.loads(TABLE.read_text())
    for macro, key in (("WV_N_MESSAGES", "messages"), ("WV_N_STREAMS", "streams"), ("WV_N_CRC", "crc"),
                       ("WV_N_COBS", "cobs"), ("WV_N_CONFIG_CHECKS", "config_checks")):
        assert f"#define {macro} {len(table[key])}u" in header
    for vector in table["messages"]:
        assert f'"{vector["name"]}"' in header
    assert f"#define WV_MAX_FRAME {table['max_frame']}u" in header
    assert f"#define WV_CHUNK_MAX {table['chunk_max']}u" in header
    for macro, key in (("WV_N_UPDATE_STATES", "state"), ("WV_N_UPDATE_RESULTS", "result"),
                       ("WV_N_BOOT_OUTCOMES", "outcome")):
        assert f"#define {macro} {len(table['update_codes'][key])}u" in header
    assert '{"SELF_TEST_FAILED", 32u}' in header
    mtime = out.stat().st_mtime_ns
    second = _run_generator("--out", str(out))
    assert second.returncode == 0 and "up to date" in second.stdout
    assert out.stat().st_mtime_ns == mtime


def _vector(table: dict, name: str) -> dict:
    return next(v for v in table["messages"] if v["name"] == name)


@pytest.mark.parametrize("breakage, named", [
    (lambda t: t["messages"][0].pop("frame_hex"), "messages[0]: missing frame_hex"),
    (lambda t: t["messages"][1]["fields"].pop("boot_id"), "messages[hello_empty_strings_zero_sha]"),
    (lambda t: t["streams"][0].update(accepts="sideways"), "accepts must be one of"),
    (lambda t: t["streams"][1]["events"].append({"event": "reject", "reason": "cosmic", "raw_len": 1,
                                                  "version": None, "type": None, "seq": None}), "reason must be"),
    (lambda t: t["crc"][0].update(data_hex="zz"), "crc[0]: not a hex string"),
    (lambda t: _vector(t, "update_chunk_one_byte")["fields"].update(data="00" * 257),
     "messages[update_chunk_one_byte].data: expected 1..256 bytes, got 257"),
    (lambda t: _vector(t, "update_chunk_one_byte")["fields"].update(data=""),
     "messages[update_chunk_one_byte].data: expected 1..256 bytes, got 0"),
    (lambda t: _vector(t, "boot_report_max")["fields"].pop("reason"), "messages[boot_report_max]: BOOT_REPORT takes"),
    (lambda t: t.pop("update_codes"), "table: missing update_codes"),
    (lambda t: t["update_codes"]["result"].update(BUSY="eight"), "update_codes.result.BUSY: expected an integer"),
])
def test_generator_refuses_a_broken_table_naming_the_entry(tmp_path, breakage, named):
    table = json.loads(TABLE.read_text())
    breakage(table)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(table))
    out = tmp_path / "wire_vectors.h"
    proc = _run_generator("--json", str(bad), "--out", str(out))
    assert proc.returncode != 0
    assert named in proc.stderr, proc.stderr
    assert not out.exists()  # nothing half-written


# ---------------------------------------------------------------------------------------------------------------
# the C suites, native and in QEMU
# ---------------------------------------------------------------------------------------------------------------
def test_native_wire_suites_pass_with_a_million_fuzz_inputs(pio, tmp_path):
    rc, out, suites = pio_test(pio, pio_env(tmp_path / "ws"), "native", tmp_path / "native.json", *SUITES)
    _assert_passed(rc, out, suites)
    table = json.loads(TABLE.read_text())
    assert f"wire vectors: {len(table['messages'])} messages, {len(table['streams'])} streams" in out
    assert _fuzz_inputs(out) >= 1_000_000


def test_qemu_wire_suites_pass_on_the_cortex_m4f(pio, tmp_path):
    rc, out, suites = pio_test(pio, pio_env(tmp_path / "ws"), "qemu", tmp_path / "qemu.json", *SUITES)
    _assert_passed(rc, out, suites)
    assert _fuzz_inputs(out) >= 10_000


def test_the_c_tests_read_the_table_a_changed_byte_fails_them(pio, tmp_path):
    """A copy of the table with one frame byte and one counter changed: the C suite must fail on exactly those."""
    test_dir = tmp_path / "test"
    shutil.copytree(TEST_DIR, test_dir, ignore=shutil.ignore_patterns("__pycache__", "wire_vectors.h"))
    table = json.loads(TABLE.read_text())
    vector = next(v for v in table["messages"] if v["name"] == "beat_normal")
    frame = bytearray.fromhex(vector["frame_hex"])
    code_at, data_at = 0, []
    while code_at < len(frame) - 1:  # walk the COBS blocks to find the data bytes (not code bytes)
        data_at += range(code_at + 1, code_at + frame[code_at])
        code_at += frame[code_at]
    at = next(i for i in data_at if frame[i] not in (0x00, 0x01))
    frame[at] ^= 0x01  # one bit of one data byte: the COBS structure stays, the CRC no longer matches
    assert 0 not in frame[:-1]
    vector["frame_hex"] = frame.hex()
    stream = next(s for s in table["streams"] if s["name"] == "bad_crc_low_byte")
    stream["counters"]["corrupt"] += 1
    table["update_codes"]["result"]["BUSY"] = 0x0A  # a code the C twin does not have
    _vector(table, "update_state_receiving")["fields"]["next_offset"] += 4  # fields no longer match the bytes
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(table))

    rc, out, suites = pio_test(pio, pio_env(tmp_path / "ws", test_dir=test_dir, HEARTBEAT_WIRE_VECTORS=bad), "native",
                                tmp_path / "r.json", "test_wire")
    assert rc != 0, out
    failed = {c["name"] for c in suites["test_wire"]["test_cases"] if c["status"] == "FAILED"}
    assert {"messages_encode_to_the_vector_bytes", "messages_decode_to_their_fields",
            "streams_give_the_vector_events_and_counters", "constants_match_the_table",
            "update_enums_take_exactly_the_table_values"} <= failed, out
    assert "crc16_vectors" not in failed and "config_status_vectors" not in failed
    assert "vector beat_normal:" in out and "vector bad_crc_low_byte:" in out
    assert "vector BUSY:" in out and "vector update_state_receiving:" in out
    # the pre-build step wrote the tampered header into the copy's suite, not into the repository
    tampered = ", ".join(f"0x{b:02x}" for b in frame[:8])
    assert tampered in (test_dir / "test_wire" / "wire_vectors.h").read_text()
    repo_header = TEST_DIR / "test_wire" / "wire_vectors.h"
    assert not repo_header.exists() or tampered not in repo_header.read_text()
