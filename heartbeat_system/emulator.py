"""The emulated device: an image running in QEMU mps2-an386, its UART0 on a loopback TCP port.

    elf = firmware_build.build_image(workspace)     the `qemu` image
    with Emulator(elf) as emu:                      QEMU with UART0 on a free TCP port
        emu.wait_listening()
        emu.url                                     "socket://127.0.0.1:PORT", for pyserial / DeviceLink
    Emulator(elf, flash_file=path)              the device's flash kept in a host file across runs

QEMU's flags come from the board manifest (firmware/platforms/qemu-cortex-m4f/boards/mps2_an386.json, the same
place the upload target and the test runner read them): `-icount shift=0`, semihosting. The UART is
`-serial tcp:127.0.0.1:PORT,server=on,wait=on`: QEMU waits for the first client, so no boot output is lost, and it
applies back-pressure on the socket instead of dropping bytes.

The device's flash (the board manifest's qemu.flash: the machine's RAM, mps2-an386's 16 MiB PSRAM at 0x21000000,
which the firmware's port_flash_qemu.c uses as flash) is mapped from a host file when one is given:
`-object memory-backend-file,id=flash,size=SIZE,mem-path=FILE,share=on -machine memory-backend=flash`. Every store
of the device goes straight into the file, so its contents survive a reset and QEMU being restarted (a power cycle),
and a QEMU process killed mid-write leaves exactly the words stored so far. The bootloader and the application of
one device share one file. A missing file is created erased (every byte 0xFF), mode 0600.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from heartbeat_core.errors import DeviceError
from heartbeat_core.settings import PROJECT_ROOT
from heartbeat_system.ports import LOOPBACK, free_port

BOARD_JSON = PROJECT_ROOT / "firmware" / "platforms" / "qemu-cortex-m4f" / "boards" / "mps2_an386.json"
SYSTICK_HZ = 25_000_000  # mps2-an386 core clock: the BEAT cost unit
FLASH_ERASED = 0xFF


def flash_geometry() -> tuple[int, int]:
    """(address, size in bytes) of the device's flash, from the board manifest's qemu.flash."""
    flash = json.loads(BOARD_JSON.read_text())["qemu"]["flash"]
    return int(str(flash["address"]), 0), int(flash["size"])


def prepare_flash_file(path: Path) -> Path:
    """`path` as the device's flash: created erased (`size` bytes of 0xFF, mode 0600) when missing, else checked
    to be a file of exactly the flash's size (QEMU would otherwise resize it or refuse with words of its own)."""
    path = Path(path)
    _, size = flash_geometry()
    if path.exists():
        if not path.is_file():
            raise DeviceError("the flash file is not a regular file", str(path))
        actual = path.stat().st_size
        if actual != size:
            raise DeviceError(f"the flash file is {actual} bytes, the device's flash is {size}", str(path),
                              "give a new path (it is created erased) or the file of this device")
        return path
    if not path.parent.is_dir():
        raise DeviceError("the flash file's folder does not exist", str(path.parent))
    # written beside it and renamed: an interrupted creation never leaves a half-erased flash behind
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            chunk = bytes([FLASH_ERASED]) * (1 << 20)
            for _ in range(size // len(chunk)):
                out.write(chunk)
            out.write(chunk[: size % len(chunk)])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def qemu_command(elf: Path, serial_port: int, icount_shift: int | None = None,
                 monitor_port: int | None = None, flash_file: Path | None = None) -> list[str]:
    """QEMU's command line for `elf` from the board manifest; the monitor on `monitor_port` when given; the
    device's flash mapped from `flash_file` when given (see prepare_flash_file: this only names it)."""
    board: dict[str, Any] = json.loads(BOARD_JSON.read_text())
    qemu = board["qemu"]
    flags = [str(f) for f in qemu.get("flags", [])]
    if icount_shift is not None:
        i = flags.index("-icount")
        flags[i + 1] = re.sub(r"shift=\d+", f"shift={icount_shift}", flags[i + 1])
    cmd = [str(qemu["system"]), "-M", str(qemu["machine"]), "-nographic"]
    cmd += ["-monitor", f"tcp:{LOOPBACK}:{monitor_port},server=on,wait=off"] if monitor_port else ["-monitor", "none"]
    cmd += flags + ["-kernel", str(elf), "-serial", f"tcp:{LOOPBACK}:{serial_port},server=on,wait=on"]
    if flash_file is not None:
        _, size = flash_geometry()
        mem_path = str(Path(flash_file).resolve()).replace(",", ",,")  # QEMU's option syntax: a comma doubled
        cmd += ["-object", f"memory-backend-file,id=flash,size={size},mem-path={mem_path},share=on",
                "-machine", "memory-backend=flash"]
    return cmd


def listening(port: int) -> bool:
    """True when something listens on 127.0.0.1:`port` (read in /proc, so QEMU's one client is not taken)."""
    want = f":{port:04X}"
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


class Emulator:
    """A QEMU process running an image, its UART0 listening on 127.0.0.1:`port`."""

    def __init__(self, elf: Path, icount_shift: int | None = None, monitor: bool = False,
                 log_path: Path | None = None, port: int | None = None, flash_file: Path | None = None):
        self.elf = Path(elf)
        if not self.elf.exists():
            raise DeviceError("firmware image not found", str(self.elf), "build it with `pio run -e qemu`")
        self.port = port or free_port()
        self.monitor_port = free_port() if monitor else None
        self.flash_file = prepare_flash_file(flash_file) if flash_file is not None else None
        self.cmd = qemu_command(self.elf, self.port, icount_shift, self.monitor_port, self.flash_file)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"socket://{LOOPBACK}:{self.port}"

    def start(self) -> Emulator:
        if self.log_path is None:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.STDOUT)
        else:
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait_listening(self, timeout_s: float = 30.0) -> None:
        """Waits until QEMU listens on its UART port (without connecting: the first client gets the boot)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise DeviceError(f"QEMU exited with status {self.proc.returncode} before listening",
                                  " ".join(self.cmd))
            if listening(self.port):
                return
            if time.monotonic() > deadline:
                raise DeviceError(f"QEMU never listened on {LOOPBACK}:{self.port}")
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

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
