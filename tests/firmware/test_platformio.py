"""The PlatformIO project, built and run for real, offline.

Runs the venv's `pio` with PLATFORMIO_CORE_DIR as scripts/setup.sh sets it,
builds with the real compilers (host gcc, Debian's arm-none-eabi-gcc) and runs
the firmware for real (host binary, QEMU mps2-an386). Build output goes to a
temporary PlatformIO workspace, never to the developer's .pio/.

If the toolchain is missing, every test here fails with a message naming
what is missing and saying to run scripts/setup.sh (nothing is skipped).
"""

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pio_helpers
import pytest
from pio_helpers import pio_test, registered_cases, require_pio

from heartbeat_system.emulator import BOARD_JSON
from heartbeat_system.firmware_build import PIO_TIMEOUT_S, run_pio
from heartbeat_system.ports import free_port

REPO = Path(__file__).resolve().parents[2]
FIRMWARE_TEST_DIR = REPO / "firmware" / "test"

pytestmark = pytest.mark.slow


# ----------------------------------------------------------------------------
# prerequisites and helpers
# ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pio():
    """The venv's pio; fails (never skips) when the set-up is incomplete."""
    return require_pio()


def _cases_by_status(suite):
    result = {}
    for case in suite["test_cases"]:
        result.setdefault(case["status"], []).append(case)
    return result


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("pio-workspace")


@pytest.fixture(scope="session")
def pio_env(workspace):
    return pio_helpers.pio_env(workspace)


# ----------------------------------------------------------------------------
# the committed test suites pass, and every registered case ran
# ----------------------------------------------------------------------------
def _assert_suites_pass(rc, out, suites, suite_names, skipped=()):
    assert rc == 0, out
    assert sorted(suites) == sorted([*suite_names, *skipped]), out
    for name in skipped:  # test_ignore of the environment
        assert suites[name]["status"] == "SKIPPED" and suites[name]["test_cases"] == []
    for name in suite_names:
        suite = suites[name]
        expected = registered_cases(name)
        assert len(expected) >= 3, f"could not read the case names of {name}"
        ran = [c["name"] for c in suite["test_cases"]]
        assert sorted(ran) == sorted(expected), out
        assert {c["status"] for c in suite["test_cases"]} == {"PASSED"}, out
        assert suite["status"] == "PASSED"


def _committed_suites() -> list[str]:
    return sorted(p.name for p in FIRMWARE_TEST_DIR.glob("test_*") if p.is_dir())


def test_native_unit_tests_pass(pio, pio_env, tmp_path):
    rc, out, suites = pio_test(pio, pio_env, "native", tmp_path / "native.json")
    every = _committed_suites()
    _assert_suites_pass(rc, out, suites, [s for s in every if not s.startswith("test_qemu_")],
                        skipped=[s for s in every if s.startswith("test_qemu_")])
    assert "uart_receives_the_line_the_host_sent" in registered_cases("test_port")


def test_qemu_on_target_tests_pass(pio, pio_env, tmp_path):
    rc, out, suites = pio_test(pio, pio_env, "qemu", tmp_path / "qemu.json")
    _assert_suites_pass(rc, out, suites, _committed_suites())
    assert "fpu_is_enabled_and_used" in registered_cases("test_qemu_runtime")


# ----------------------------------------------------------------------------
# the images: memory map, vector table, hard float
# ----------------------------------------------------------------------------
def _check_cortex_m4f_image(elf_path, flash, ram):
    from elftools.elf.elffile import ELFFile  # pyelftools: a PlatformIO dependency

    with open(elf_path, "rb") as fp:
        elf = ELFFile(fp)
        assert elf["e_machine"] == "EM_ARM"
        symbols = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
        vectors = elf.get_section_by_name(".isr_vector")
        assert vectors["sh_addr"] == flash[0]
        stack_top = int.from_bytes(vectors.data()[0:4], "little")
        reset = int.from_bytes(vectors.data()[4:8], "little")
        assert stack_top == symbols["__stack_top__"] == ram[0] + ram[1]
        assert reset == symbols["Reset_Handler"] | 1  # Thumb bit
        assert elf["e_entry"] == symbols["Reset_Handler"]
        for section in elf.iter_sections():
            if not section["sh_flags"] & 0x2 or section["sh_size"] == 0:  # SHF_ALLOC
                continue
            addr, end = section["sh_addr"], section["sh_addr"] + section["sh_size"]
            in_flash = flash[0] <= addr and end <= flash[0] + flash[1]
            in_ram = ram[0] <= addr and end <= ram[0] + ram[1]
            assert in_flash or in_ram, f"{section.name} at {addr:#x} outside flash and RAM"
    attrs = subprocess.run(
        ["arm-none-eabi-readelf", "-A", str(elf_path)], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"Tag_ABI_VFP_args:\s+VFP registers", attrs), attrs  # hard-float ABI
    assert re.search(r"Tag_FP_arch:\s+VFPv4-D16", attrs), attrs  # fpv4-sp-d16


def test_nrf52840_image_links_for_the_nrf52840_memory_map(pio, pio_env, workspace):
    rc, out = run_pio(["run", "-e", "nrf52840"], pio_env, pio)
    assert rc == 0, out
    build = workspace / "build" / "nrf52840"
    _check_cortex_m4f_image(build / "firmware.elf", flash=(0x0, 1 << 20), ram=(0x20000000, 256 << 10))
    hex_lines = (build / "firmware.hex").read_text().splitlines()
    assert hex_lines[0].startswith(":") and hex_lines[-1] == ":00000001FF"
    nm = subprocess.run(
        ["arm-none-eabi-nm", str(build / "firmware.elf")], capture_output=True, text=True, check=True
    ).stdout
    assert " port_uart_write" in nm and " main" in nm


def test_qemu_image_uses_the_mps2_an386_memory_map(pio, pio_env, workspace):
    rc, out = run_pio(["run", "-e", "qemu"], pio_env, pio)
    assert rc == 0, out
    _check_cortex_m4f_image(
        workspace / "build" / "qemu" / "firmware.elf", flash=(0x0, 4 << 20), ram=(0x20000000, 4 << 20)
    )


# ----------------------------------------------------------------------------
# the firmware in QEMU through the upload target, UART0 on a TCP socket
# ----------------------------------------------------------------------------
def _recv_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def test_upload_starts_qemu_and_the_firmware_boots_and_speaks_the_protocol_over_tcp(pio, pio_env, tmp_path):
    version = re.search(
        r'#define APP_FW_VERSION "([^"]+)"', (REPO / "firmware/include/app_config.h").read_text()
    ).group(1)
    port = free_port()
    log_path = tmp_path / "upload.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [str(pio), "run", "-e", "qemu", "-t", "upload", "--upload-port", str(port)],
            cwd=REPO,
            env=pio_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # pio, scons and QEMU share one process group
        )
    try:
        deadline = time.monotonic() + PIO_TIMEOUT_S
        sock = None
        while sock is None:
            assert proc.poll() is None, "upload ended early:\n" + log_path.read_text()
            assert time.monotonic() < deadline, "QEMU never listened:\n" + log_path.read_text()
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=1)
            except OSError:
                time.sleep(0.1)
        with sock:
            sock.settimeout(60)
            boot = _recv_line(sock)
            assert boot == f"heartbeat-edge boot version={version}\n".encode(), boot
            from edge_bridge import wire

            # after the boot line the device speaks the protocol: 0x00, HELLO (seq 1); HELLO_REQUEST -> HELLO (seq 2)
            sock.sendall(b"\x00" + wire.encode(wire.HelloRequest(), 1))
            decoder, hellos = wire.Decoder(wire.Accepts.DEVICE_TO_HOST), []
            while len(hellos) < 2:
                chunk = sock.recv(4096)
                assert chunk, "the device closed the connection"
                hellos += [f for f in decoder.feed(chunk) if isinstance(f.message, wire.Hello)]
            assert (hellos[0].seq, hellos[1].seq) == (1, 2) and hellos[0].message == hellos[1].message
            assert hellos[0].message.firmware_version == version
        # QEMU's own words: it held the CPU until a client connected
        assert f"QEMU waiting for connection on: disconnected:tcp:127.0.0.1:{port}" in (
            log_path.read_text()
        )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# ----------------------------------------------------------------------------
# the runner reports failures: suites written here, never committed
# ----------------------------------------------------------------------------
FAILING_SUITE = r"""
#include "hbtest.h"
#include "port.h"

static void test_passes(hbtest_t *t) { HBTEST_CHECK(t, 2 + 2 == 4); }
static void test_fails(hbtest_t *t)
{
    volatile int one = 1;
    HBTEST_CHECK(t, one + 1 == 3);
}

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "passes_on_purpose", test_passes);
    hbtest_run(&t, "fails_on_purpose", test_fails);
    port_exit(hbtest_end(&t));
}
"""

EXIT_STATUS_SUITE = r"""
#include "hbtest.h"
#include "port.h"

static void test_passes(hbtest_t *t) { HBTEST_CHECK(t, 1); }

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "passes_then_exits_early", test_passes);
    port_exit(42); /* no summary line, status 42 */
}
"""

CRASH_SUITE = r"""
#include <stdlib.h>
#include "hbtest.h"
#include "port.h"

static void test_passes(hbtest_t *t) { HBTEST_CHECK(t, 1); }

int main(void)
{
    hbtest_t t;
    port_init();
    hbtest_begin(&t);
    hbtest_run(&t, "passes_then_crashes", test_passes);
    abort();
}
"""


@pytest.fixture(scope="module")
def failing_test_dir(tmp_path_factory):
    """A copy of firmware/test plus suites that must be reported as failing."""
    test_dir = tmp_path_factory.mktemp("failing") / "test"
    shutil.copytree(FIRMWARE_TEST_DIR, test_dir, ignore=shutil.ignore_patterns("__pycache__"))
    for name, source in (
        ("test_deliberate_failure", FAILING_SUITE),
        ("test_exit_status", EXIT_STATUS_SUITE),
        ("test_crash", CRASH_SUITE),
    ):
        (test_dir / name).mkdir()
        (test_dir / name / "main.c").write_text(source)
    return test_dir


def _assert_deliberate_failure_reported(suite):
    by_status = _cases_by_status(suite)
    assert suite["status"] == "FAILED"
    assert [c["name"] for c in by_status.get("PASSED", [])] == ["passes_on_purpose"]
    failed = by_status.get("FAILED", [])
    assert [c["name"] for c in failed] == ["fails_on_purpose"]
    assert failed[0]["message"] == "one + 1 == 3"
    assert failed[0]["source"]["file"].endswith("main.c") and failed[0]["source"]["line"] > 0
    # the exit status (1) agreed with the lines: the runner added no error
    assert "ERRORED" not in by_status


def _assert_exit_status_reported(suite, status):
    by_status = _cases_by_status(suite)
    assert suite["status"] == "ERRORED"
    assert [c["name"] for c in by_status.get("PASSED", [])] == ["passes_then_exits_early"]
    messages = " | ".join(c["message"] for c in by_status["ERRORED"])
    assert "without the summary line" in messages
    assert f"exited with status {status} but reported no failed case" in messages


def test_runner_reports_failing_cases_on_native(pio, failing_test_dir, tmp_path):
    env = pio_helpers.pio_env(tmp_path / "ws", test_dir=failing_test_dir)
    rc, out, suites = pio_test(
        pio, env, "native", tmp_path / "r.json", "test_deliberate_failure", "test_exit_status", "test_crash"
    )
    assert rc != 0, out
    _assert_deliberate_failure_reported(suites["test_deliberate_failure"])
    _assert_exit_status_reported(suites["test_exit_status"], 42)
    crash = _cases_by_status(suites["test_crash"])
    assert [c["name"] for c in crash["PASSED"]] == ["passes_then_crashes"]
    assert any(
        f"killed by signal {signal.SIGABRT:d}" in c["message"] for c in crash["ERRORED"]
    ), crash


def test_runner_reports_failing_cases_in_qemu_from_the_semihosting_status(pio, failing_test_dir, tmp_path):
    env = pio_helpers.pio_env(tmp_path / "ws", test_dir=failing_test_dir)
    rc, out, suites = pio_test(pio, env, "qemu", tmp_path / "r.json", "test_deliberate_failure", "test_exit_status")
    assert rc != 0, out
    _assert_deliberate_failure_reported(suites["test_deliberate_failure"])
    _assert_exit_status_reported(suites["test_exit_status"], 42)

    # QEMU itself exits with the status the firmware gave SYS_EXIT_EXTENDED
    rc, out = run_pio(["test", "-e", "qemu", "-f", "test_exit_status", "--without-testing"], env, pio)
    assert rc == 0, out
    board = json.loads(BOARD_JSON.read_text())
    qemu = subprocess.run(
        [board["qemu"]["system"], "-M", board["qemu"]["machine"], "-nographic", "-monitor", "none"]
        + board["qemu"]["flags"]
        + ["-serial", "stdio", "-kernel", str(tmp_path / "ws" / "build" / "qemu" / "firmware.elf")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=PIO_TIMEOUT_S,
        check=False,
    )
    assert qemu.returncode == 42, qemu
    assert b"CASE passes_then_exits_early PASS" in qemu.stdout


# ----------------------------------------------------------------------------
# the runner's judgement, case by case
# ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runner_module():
    spec = importlib.util.spec_from_file_location("hb_test_custom_runner", FIRMWARE_TEST_DIR / "test_custom_runner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runner_parses_case_and_summary_lines(runner_module):
    passed = runner_module.parse_case_line("CASE uart_ok PASS\n")
    assert (passed.name, passed.status.name, passed.source) == ("uart_ok", "PASSED", None)
    failed = runner_module.parse_case_line("CASE tick FAIL firmware/test/x.c:42: a == b\r\n")
    assert (failed.name, failed.status.name, failed.message) == ("tick", "FAILED", "a == b")
    assert (failed.source.filename, failed.source.line) == ("firmware/test/x.c", 42)
    assert runner_module.parse_case_line("hbtest: uart write check\n") is None
    assert runner_module.parse_case_line("CASE missing_status\n") is None
    assert runner_module.parse_summary_line("hbtest: 3 passed, 1 failed\n") == (3, 1)
    assert runner_module.parse_summary_line("3 passed, 1 failed\n") is None


@pytest.mark.parametrize(
    "lines, returncode, timed_out, problem",
    [
        (["CASE a PASS", "hbtest: 1 passed, 0 failed"], 0, False, None),
        (["CASE a PASS", "CASE b FAIL x.c:1: e", "hbtest: 1 passed, 1 failed"], 1, False, None),
        (["CASE a PASS", "CASE b FAIL x.c:1: e", "hbtest: 1 passed, 1 failed"], 0, False, "exited with status 0"),
        (["CASE a PASS", "hbtest: 1 passed, 0 failed"], 3, False, "status 3 but reported no failed case"),
        (["CASE a PASS", "hbtest: 2 passed, 0 failed"], 0, False, "summary says 2 passed"),
        (["CASE a PASS"], 0, False, "without the summary line"),
        (["hbtest: 0 passed, 0 failed"], 0, False, "no test case ran"),
        (["CASE a PASS"], -11, False, "killed by signal 11"),
        (["CASE a PASS"], -9, True, "did not finish within"),
    ],
)
def test_runner_judges_each_way_a_run_can_end(runner_module, lines, returncode, timed_out, problem):
    cases = [c for c in map(runner_module.parse_case_line, lines) if c is not None]
    summaries = [s for s in map(runner_module.parse_summary_line, lines) if s is not None]
    problems = runner_module.judge_run(cases, summaries[-1] if summaries else None, returncode, timed_out, 5)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


# ----------------------------------------------------------------------------
# scripts/setup.sh: the offline tool-scons package, idempotently
# ----------------------------------------------------------------------------
def test_setup_writes_a_tool_scons_platformio_accepts_and_is_idempotent(tmp_path):
    core_dir = tmp_path / "core"
    env = dict(os.environ, PLATFORMIO_CORE_DIR=str(core_dir))
    first = subprocess.run(
        ["bash", str(REPO / "scripts/setup.sh")], env=env, capture_output=True, text=True, check=False
    )
    assert first.returncode == 0, first.stderr
    assert "tool-scons/scons.py" in first.stdout

    pkg = core_dir / "packages" / "tool-scons"
    import SCons  # the pip package in this venv

    major, minor, patch = (int(p) for p in SCons.__version__.split(".")[:3])
    version = f"{major}.4{minor:02d}{patch:02d}.0"
    piopm = json.loads((pkg / ".piopm").read_text())
    assert piopm["type"] == "tool" and piopm["name"] == "tool-scons" and piopm["version"] == version
    assert piopm["spec"]["owner"] == "platformio" and piopm["spec"]["name"] == "tool-scons"
    assert json.loads((pkg / "package.json").read_text())["version"] == version

    # PlatformIO's own package manager finds it without installing anything
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from platformio.package.manager.core import get_core_package_dir;"
            "print(get_core_package_dir('tool-scons', auto_install=False))",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()) == pkg

    # and its scons.py runs the venv's SCons
    scons = subprocess.run(
        [sys.executable, str(pkg / "scons.py"), "--version"], capture_output=True, text=True, check=False
    )
    assert scons.returncode == 0 and SCons.__version__ in scons.stdout, scons

    settings = json.loads((core_dir / "appstate.json").read_text())["settings"]
    assert settings["enable_telemetry"] is False

    second = subprocess.run(
        ["bash", str(REPO / "scripts/setup.sh")], env=env, capture_output=True, text=True, check=False
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout == "" and second.stderr == ""
