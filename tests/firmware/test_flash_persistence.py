"""The emulated device's flash behaves like flash: it keeps its data across a reset and a power cycle (QEMU
restarted on the same flash file), and a power cut (QEMU killed) during a write leaves the writes done so far and
nothing else. Plus the flash file heartbeat_system.emulator makes, the host port's file-backed flash, and the
nRF52840 port compiled.

The device side is tests/firmware/c/flash_probe.c, built as a PlatformIO test program of the `qemu` environment (in
a copy of firmware/test) and driven over its UART through heartbeat_system.emulator.Emulator with a flash file.
The NOR semantics themselves (erase, program, refusals) are the unit suite firmware/test/test_flash, on native and
in QEMU.

If the toolchain is missing, every test here fails with a message naming what is missing (nothing is skipped).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
from pathlib import Path

import pio_helpers
import pytest
from pio_helpers import require_pio

from heartbeat_core.errors import DeviceError
from heartbeat_system.emulator import Emulator, flash_geometry, prepare_flash_file, qemu_command
from heartbeat_system.firmware_build import run_pio
from heartbeat_system.ports import LOOPBACK

REPO = Path(__file__).resolve().parents[2]
FIRMWARE_TEST_DIR = REPO / "firmware" / "test"
PORT_DIR = REPO / "firmware" / "lib" / "port"
PROBE_SOURCE = Path(__file__).resolve().parent / "c" / "flash_probe.c"
NATIVE_FILE_SOURCE = Path(__file__).resolve().parent / "c" / "flash_native_file.c"
PROBE_SUITE = "test_flash_probe"
IO_TIMEOUT_S = 120  # a hang guard on the UART only, never an assertion
ERASED_WORD = 0xFFFFFFFF

pytestmark = pytest.mark.slow


# ----------------------------------------------------------------------------
# the probe: the flash API over the UART (tests/firmware/c/flash_probe.c)
# ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def probe_elf(tmp_path_factory) -> Path:
    pio = require_pio()
    root = tmp_path_factory.mktemp("flash-probe")
    test_dir = root / "test"
    shutil.copytree(FIRMWARE_TEST_DIR, test_dir, ignore=shutil.ignore_patterns("__pycache__"))
    (test_dir / PROBE_SUITE).mkdir()
    shutil.copy(PROBE_SOURCE, test_dir / PROBE_SUITE / PROBE_SOURCE.name)
    env = pio_helpers.pio_env(root / "ws", test_dir=test_dir)
    rc, out = run_pio(["test", "-e", "qemu", "-f", PROBE_SUITE, "--without-testing"], env, pio)
    elf = root / "ws" / "build" / "qemu" / "firmware.elf"
    assert rc == 0 and elf.exists(), out
    return elf


def sequence_word(seed: int, i: int) -> int:
    """Word i of the probe's write sequence (flash_probe.c sequence_word)."""
    return (seed + i * 0x9E3779B1) & 0x7FFFFFFF


class Probe:
    """The probe running in an Emulator: one command line, one answer line."""

    def __init__(self, emu: Emulator):
        self.emu = emu
        emu.wait_listening()
        self.sock = socket.create_connection((LOOPBACK, emu.port), timeout=IO_TIMEOUT_S)
        self.lines = self.sock.makefile("rb")
        self.size, self.page, self.unit = self.banner()

    def banner(self) -> tuple[int, int, int]:
        line = self.line()
        m = re.fullmatch(r"FLASH size=([0-9a-f]+) page=([0-9a-f]+) unit=([0-9a-f]+)", line)
        assert m, line
        return int(m[1], 16), int(m[2], 16), int(m[3], 16)

    def line(self) -> str:
        raw = self.lines.readline()
        assert raw.endswith(b"\n"), f"the probe's line ended early: {raw!r}"
        return raw.decode().rstrip("\n")

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\n")

    def ask(self, text: str) -> str:
        self.send(text)
        return self.line()

    def erase(self, offset: int) -> str:
        return self.ask(f"E {offset:x}")

    def write(self, offset: int, data: bytes) -> str:
        return self.ask(f"W {offset:x} {data.hex()}")

    def read(self, offset: int, length: int) -> bytes:
        answer = self.ask(f"R {offset:x} {length:x}")
        assert answer.startswith("DATA "), answer
        return bytes.fromhex(answer[len("DATA "):])

    def exit(self, code: int) -> int:
        self.send(f"X {code:x}")
        assert self.emu.proc is not None
        return self.emu.proc.wait(timeout=IO_TIMEOUT_S)

    def close(self) -> None:
        self.lines.close()
        self.sock.close()


def monitor(emu: Emulator, command: str) -> None:
    """One command to the QEMU monitor (Emulator(monitor=True))."""
    assert emu.monitor_port is not None
    with socket.create_connection((LOOPBACK, emu.monitor_port), timeout=IO_TIMEOUT_S) as sock:
        _read_to_prompt(sock)  # the monitor's greeting, up to its first prompt
        sock.sendall(command.encode() + b"\n")
        _read_to_prompt(sock)  # the next prompt: QEMU has run the command (closing earlier could lose it)


def _read_to_prompt(sock: socket.socket) -> bytes:
    seen = b""
    while not seen.rstrip().endswith(b"(qemu)"):
        chunk = sock.recv(4096)
        assert chunk, f"the QEMU monitor closed before its prompt: {seen!r}"
        seen += chunk
    return seen


# ----------------------------------------------------------------------------
# the flash file
# ----------------------------------------------------------------------------
def test_a_missing_flash_file_is_created_erased_and_private(tmp_path):
    _, size = flash_geometry()
    path = prepare_flash_file(tmp_path / "flash.bin")
    assert path == tmp_path / "flash.bin"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    assert len(data) == size == 16 << 20
    assert data == b"\xff" * size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flash.bin"]  # no temporary file left behind


def test_an_existing_flash_file_is_kept_as_it_is(tmp_path):
    _, size = flash_geometry()
    path = tmp_path / "flash.bin"
    content = bytes(range(256)) * (size // 256)
    path.write_bytes(content)
    assert prepare_flash_file(path) == path
    assert path.read_bytes() == content


def test_a_flash_file_that_cannot_be_the_flash_is_refused_with_what_is_wrong(tmp_path):
    _, size = flash_geometry()
    small = tmp_path / "small.bin"
    small.write_bytes(b"\xff" * 4096)
    with pytest.raises(DeviceError, match=rf"the flash file is 4096 bytes, the device's flash is {size}"):
        prepare_flash_file(small)
    assert small.read_bytes() == b"\xff" * 4096
    with pytest.raises(DeviceError, match="not a regular file"):
        prepare_flash_file(tmp_path)
    with pytest.raises(DeviceError, match="folder does not exist"):
        prepare_flash_file(tmp_path / "nowhere" / "flash.bin")


def test_qemu_maps_the_flash_file_as_the_machine_ram(tmp_path):
    _, size = flash_geometry()
    odd = tmp_path / "a,b" / "flash.bin"
    cmd = qemu_command(Path("fw.elf"), 4321, flash_file=odd)
    i = cmd.index("-object")
    assert cmd[i + 1] == f"memory-backend-file,id=flash,size={size},mem-path={tmp_path}/a,,b/flash.bin,share=on"
    assert cmd[cmd.index("-machine") + 1] == "memory-backend=flash"
    assert "-object" not in qemu_command(Path("fw.elf"), 4321)  # no flash file: QEMU's own RAM, as before


# ----------------------------------------------------------------------------
# the device's flash in QEMU
# ----------------------------------------------------------------------------
def test_the_device_sees_the_flash_the_manifest_describes(probe_elf, tmp_path):
    address, size = flash_geometry()
    assert address == 0x21000000  # mps2-an386's PSRAM, QEMU's RAM of the machine
    with Emulator(probe_elf, flash_file=tmp_path / "flash.bin", log_path=tmp_path / "qemu.log") as emu:
        probe = Probe(emu)
        assert (probe.size, probe.page, probe.unit) == (size, 4096, 4)
        assert probe.read(size - 16, 16) == b"\xff" * 16  # the file's erased bytes, up to the last one
        assert probe.write(size - 4, b"\x01\x02\x03\x04") == "OK"
        assert probe.read(size - 8, 8) == b"\xff" * 4 + b"\x01\x02\x03\x04"
        assert probe.write(size, b"\x00" * 4) == "ERR out of bounds"
        assert probe.exit(0) == 0
        probe.close()
    data = (tmp_path / "flash.bin").read_bytes()
    assert data[-4:] == b"\x01\x02\x03\x04"  # device offset = file offset
    assert data[:-4] == b"\xff" * (size - 4)


def test_data_written_before_a_power_cycle_is_read_after_it(probe_elf, tmp_path):
    flash = tmp_path / "flash.bin"
    page = 5 * 4096
    nonce = bytes([0x5A]) + os.urandom(63)  # its first byte has bit 0 clear
    with Emulator(probe_elf, flash_file=flash, log_path=tmp_path / "run1.log") as emu:
        probe = Probe(emu)
        assert probe.erase(page) == "OK"
        assert probe.write(page + 16, nonce) == "OK"
        assert probe.read(page + 16, 64) == nonce
        assert probe.exit(0) == 0  # QEMU ends: the power is off
        probe.close()
    assert flash.read_bytes()[page + 16 : page + 80] == nonce

    with Emulator(probe_elf, flash_file=flash, log_path=tmp_path / "run2.log") as emu:  # power on again
        probe = Probe(emu)
        assert probe.read(page + 16, 64) == nonce
        assert probe.read(page, 16) == b"\xff" * 16  # around it: still erased
        assert probe.read(page + 80, 16) == b"\xff" * 16
        # still flash: a bit the first run cleared cannot be set again without an erase
        assert probe.write(page + 16, bytes([nonce[0] | 0x01]) + nonce[1:4]) == "ERR not erased"
        assert probe.write(page + 16, nonce[:4]) == "OK"  # the same bits again: nothing to set
        assert probe.read(page + 16, 64) == nonce
        assert probe.erase(page) == "OK"
        assert probe.read(page + 16, 64) == b"\xff" * 64
        assert probe.exit(0) == 0
        probe.close()
    assert flash.read_bytes()[page : page + 4096] == b"\xff" * 4096


def test_data_survives_a_reset_of_the_device(probe_elf, tmp_path):
    page = 9 * 4096
    nonce = os.urandom(32)
    with Emulator(probe_elf, flash_file=tmp_path / "flash.bin", monitor=True,
                  log_path=tmp_path / "qemu.log") as emu:
        probe = Probe(emu)
        assert probe.write(page, nonce) == "OK"
        monitor(emu, "system_reset")  # the core restarts from its reset vector: RAM would be lost, flash not
        assert probe.banner() == (probe.size, probe.page, probe.unit)  # booted again
        assert probe.read(page, 32) == nonce
        assert probe.exit(0) == 0
        probe.close()


def test_a_power_cut_during_writes_leaves_a_prefix_of_them_and_the_rest_erased(probe_elf, tmp_path):
    """QEMU is killed (SIGKILL) while the device writes a long sequence of words, one write call each; the file
    then holds the sequence's first k words, every later word of it still erased and every byte outside it as it
    was: a torn page, no byte from nowhere. The device never finishes by itself (it waits before the last word);
    if it got there before the kill, the test runs again with a slower writer, so the kill lands mid-write."""
    start, pages, seed = 16 * 4096, 64, 0x5EED
    words = pages * 4096 // 4
    for attempt, spin in enumerate((2000, 8000, 32000)):
        flash = tmp_path / f"flash{attempt}.bin"
        before = prepare_flash_file(flash).read_bytes()
        emu = Emulator(probe_elf, flash_file=flash, log_path=tmp_path / f"qemu{attempt}.log").start()
        try:
            probe = Probe(emu)
            probe.send(f"T {start:x} {words:x} {seed:x} {spin:x}")
            assert probe.line() == "P 1"
            assert probe.line() == "P 2"  # 2 pages written (and reported): now the power goes
            assert emu.proc is not None
            emu.proc.send_signal(signal.SIGKILL)
            emu.proc.wait(timeout=IO_TIMEOUT_S)
            rest = probe.lines.read().decode()  # what the device said before it died
            probe.close()
        finally:
            emu.stop()
        assert emu.proc.returncode == -signal.SIGKILL
        after = flash.read_bytes()
        assert len(after) == len(before)
        assert after[:start] == before[:start] and after[start + 4 * words :] == before[start + 4 * words :]
        got = [int.from_bytes(after[start + 4 * i : start + 4 * i + 4], "little") for i in range(words)]
        k = next((i for i, w in enumerate(got) if w == ERASED_WORD), words)
        assert got[:k] == [sequence_word(seed, i) for i in range(k)], "a written word is not the one written there"
        assert got[k:] == [ERASED_WORD] * (words - k), f"a word after the first erased one (#{k}) was written"
        assert 2 * 1024 <= k < words  # at least what the device reported; never the whole sequence
        if "LAST" not in rest:
            assert k < words - 1  # killed while writing, not while waiting before the last word
            torn_page = k // 1024
            print(f"killed after {k} of {words} words (spin {spin}): page {torn_page} holds {k % 1024} of 1024")
            return
    pytest.fail("the device finished the sequence before QEMU was killed, even with the slowest writer")


# ----------------------------------------------------------------------------
# the host port's file-backed flash, and the nRF52840 port
# ----------------------------------------------------------------------------
def test_the_host_port_attaches_a_buffer_or_a_file_that_keeps_its_contents(tmp_path):
    gcc = shutil.which("gcc")
    assert gcc, "the host gcc is needed (scripts/setup.sh installs it)"
    sources = [NATIVE_FILE_SOURCE, FIRMWARE_TEST_DIR / "hbtest.c", REPO / "firmware/lib/textfmt/textfmt.c"]
    sources += [PORT_DIR / name for name in ("port_native.c", "port_noadc.c", "port_flash.c", "port_flash_native.c",
                                             "port_flash_mem.c")]
    exe = tmp_path / "flash_native_file"
    build = subprocess.run(
        [gcc, "-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
         "-fno-sanitize-recover=all", f"-I{PORT_DIR}", f"-I{FIRMWARE_TEST_DIR}", f"-I{REPO / 'firmware/lib/textfmt'}",
         *map(str, sources), "-o", str(exe)],
        capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    files = tmp_path / "files"
    files.mkdir()
    run = subprocess.run([str(exe), str(files)], capture_output=True, text=True, timeout=IO_TIMEOUT_S, check=False)
    expected = re.findall(r'hbtest_run\(\s*&t,\s*"([^"]+)"', NATIVE_FILE_SOURCE.read_text())
    passed = re.findall(r"^CASE (\S+) PASS$", run.stdout, re.M)
    assert run.returncode == 0 and sorted(passed) == sorted(expected) and len(expected) >= 5, run.stdout + run.stderr
    assert f"hbtest: {len(expected)} passed, 0 failed" in run.stdout


def test_the_nrf52840_port_programs_its_flash_through_the_nvmc(tmp_path):
    pio = require_pio()
    rc, out = run_pio(["run", "-e", "nrf52840"], pio_helpers.pio_env(tmp_path / "ws"), pio)
    assert rc == 0, out
    objects = list((tmp_path / "ws" / "build" / "nrf52840").glob("lib*/port/port_flash_nrf52840.o"))
    assert len(objects) == 1, out
    dump = subprocess.run(["arm-none-eabi-objdump", "-d", "-t", str(objects[0])], capture_output=True, text=True,
                          check=True).stdout
    for symbol in ("port_flash_hw_region", "port_flash_hw_program_word", "port_flash_hw_erase_page"):
        assert re.search(rf"F \.text\.{symbol}\s+\S+\s+{symbol}$", dump, re.M), symbol
    erase = dump.split("<port_flash_hw_erase_page>:")[1]
    assert ".word\t0x4001e000" in erase  # NVMC
    for offset in ("#1024]", "#1284]", "#1288]"):  # READY 0x400, CONFIG 0x504, ERASEPAGE 0x508
        assert offset in erase, offset
    # the nRF52840 port compiled with the shared flash API, not the emulated one
    names = {p.name for p in objects[0].parent.glob("*.o")}
    assert {"port_flash.o", "port_flash_nrf52840.o", "port_nrf52840.o"} <= names
    assert "port_flash_mem.o" not in names and "port_flash_qemu.o" not in names
