"""The emulated device: build the firmware's `qemu` image with PlatformIO and run it in QEMU mps2-an386.

    elf = build_image(workspace)              `pio run -e qemu` in a PlatformIO workspace folder
    with Emulator(elf) as emu:                QEMU with UART0 on a free TCP port
        emu.url                               "socket://127.0.0.1:PORT", for pyserial / DeviceLink

QEMU's flags come from the board manifest (firmware/platforms/qemu-cortex-m4f/boards/mps2_an386.json, the same
place the upload target and the test runner read them): `-icount shift=0`, semihosting. The UART is
`-serial tcp:127.0.0.1:PORT,server=on,wait=on`: QEMU waits for the first client, so no boot output is lost, and it
applies back-pressure on the socket instead of dropping bytes. firmware/scripts/qemu_device.py (tests,
benchmarks) builds on this module.

The firmware sources live in the repository, so this works from a checkout (the `bridge` extra alone, on a
hospital PC, talks to a real device and never needs it).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

from edge_bridge.settings import PROJECT_ROOT, EmulatorSettings
from toolchain.errors import HeartbeatError

REPO = PROJECT_ROOT
BOARD_JSON = REPO / "firmware" / "platforms" / "qemu-cortex-m4f" / "boards" / "mps2_an386.json"
SYSTICK_HZ = 25_000_000  # mps2-an386 core clock: the BEAT cost unit
PIO_TIMEOUT_S = 900


class DeviceError(HeartbeatError, RuntimeError):
    """The emulated device or its build did not do what was needed; the message says what."""


def pio_environ(workspace: Path | None = None) -> dict:
    env = dict(os.environ)  # the child's environment: PlatformIO reads its own variables
    env["PLATFORMIO_CORE_DIR"] = str(EmulatorSettings().platformio_core_dir)
    env["PLATFORMIO_DISABLE_UPGRADE_CHECK"] = "true"
    env["PLATFORMIO_SETTING_ENABLE_TELEMETRY"] = "no"
    env.pop("PLATFORMIO_BUILD_DIR", None)
    env.pop("PLATFORMIO_UPLOAD_PORT", None)
    if workspace is not None:
        env["PLATFORMIO_WORKSPACE_DIR"] = str(workspace)
    return env


def pio_path() -> Path:
    path = REPO / ".venv" / "bin" / "pio"
    missing = [str(path)] if not path.exists() else []
    missing += [t for t in ("arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]
    if missing:
        raise DeviceError("firmware toolchain incomplete, missing: %s" % ", ".join(missing), None,
                          "run `bash scripts/setup.sh`")
    return path


def build(environment: str, workspace: Path, extra_env: dict | None = None) -> tuple[int, str]:
    """`pio run -e <environment>` in `workspace`; returns (exit status, output)."""
    env = pio_environ(workspace)
    env.update(extra_env or {})
    proc = subprocess.run(
        [str(pio_path()), "run", "-e", environment], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=PIO_TIMEOUT_S, check=False,
    )
    return proc.returncode, proc.stdout


def build_image(workspace: Path, environment: str = "qemu") -> Path:
    """Builds an image (incrementally: an unchanged tree is not recompiled) and returns its ELF."""
    rc, out = build(environment, workspace)
    elf = Path(workspace) / "build" / environment / "firmware.elf"
    if rc != 0 or not elf.exists():
        raise DeviceError("`pio run -e %s` failed (status %d):\n%s" % (environment, rc, out[-4000:]))
    return elf


def qemu_command(elf: Path, serial_port: int, icount_shift: int | None = None,
                 monitor_port: int | None = None) -> list[str]:
    board = json.loads(BOARD_JSON.read_text())
    qemu = board["qemu"]
    flags = list(qemu.get("flags", []))
    if icount_shift is not None:
        i = flags.index("-icount")
        flags[i + 1] = re.sub(r"shift=\d+", "shift=%d" % icount_shift, flags[i + 1])
    cmd = [qemu["system"], "-M", qemu["machine"], "-nographic"]
    cmd += ["-monitor", "tcp:127.0.0.1:%d,server=on,wait=off" % monitor_port] if monitor_port else ["-monitor", "none"]
    cmd += flags + ["-kernel", str(elf), "-serial", "tcp:127.0.0.1:%d,server=on,wait=on" % serial_port]
    return cmd


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Emulator:
    """A QEMU process running an image, its UART0 listening on 127.0.0.1:`port`."""

    def __init__(self, elf: Path, icount_shift: int | None = None, monitor: bool = False,
                 log_path: Path | None = None, port: int | None = None):
        self.elf = Path(elf)
        if not self.elf.exists():
            raise DeviceError("firmware image not found", str(self.elf), "build it with `pio run -e qemu`")
        self.port = port or free_tcp_port()
        self.monitor_port = free_tcp_port() if monitor else None
        self.cmd = qemu_command(self.elf, self.port, icount_shift, self.monitor_port)
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return "socket://127.0.0.1:%d" % self.port

    def start(self) -> "Emulator":
        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        finally:
            if self.log_path:
                log.close()
        return self

    def wait_listening(self, timeout_s: float = 30.0) -> None:
        """Waits until QEMU listens on its UART port (without connecting: the first client gets the boot)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise DeviceError("QEMU exited with status %s before listening" % self.proc.returncode,
                                  " ".join(self.cmd))
            if _listening(self.port):
                return
            if time.monotonic() > deadline:
                raise DeviceError("QEMU never listened on 127.0.0.1:%d" % self.port)
            time.sleep(0.05)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _listening(port: int) -> bool:
    """True when something listens on 127.0.0.1:port (checked in /proc, so QEMU's one client is not taken)."""
    want = ":%04X" % port
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 3 and parts[1].endswith(want) and parts[3] == "0A":  # 0A: LISTEN
                return True
    return False


def elf_symbols(elf: Path, names: tuple[str, ...]) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in names:
            found[parts[2]] = int(parts[0], 16)
    return found


def elf_sizes(elf: Path) -> dict[str, int]:
    """text, data, bss (bytes) of an image, from arm-none-eabi-size (Berkeley format)."""
    out = subprocess.run(["arm-none-eabi-size", "-B", "-d", str(elf)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    text, data, bss = (int(x) for x in out[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}
