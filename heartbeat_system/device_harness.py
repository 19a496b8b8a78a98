"""A wire-protocol client of the emulated device for tests and benchmarks: QemuDevice.

Used by the software-in-the-loop test (tests/firmware/test_sil.py) and the device budget benchmark
(benchmarks/device_budget.py); plain Python plus pyserial and edge_bridge.wire, no test framework. The image is
built by heartbeat_system.firmware_build and QEMU started by heartbeat_system.emulator; this module adds the
harness around them: a reader thread keeping every frame, waits, requests, memory reads through the QEMU monitor.

    elf = build_image(workspace)                          # `pio run -e qemu` in a PlatformIO workspace
    with QemuDevice(elf) as dev:                          # QEMU mps2-an386, UART0 on a free TCP port
        hello = dev.wait_for(lambda f: isinstance(f.message, wire.Hello))
        dev.send(wire.GetStatus())
        ...

The UART is opened with pyserial as `socket://127.0.0.1:PORT`. A reader thread decodes everything the device
sends, all the time (docs/protocol.md 3.5: a host blocked in write and a device blocked in write would otherwise
wait for each other for ever).
"""
from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import serial

from edge_bridge import wire
from heartbeat_core.errors import DeviceError
from heartbeat_system.emulator import Emulator
from heartbeat_system.ports import LOOPBACK


@dataclass
class Received:
    """One frame from the device, with the moment the host decoded it."""

    seq: int
    message: wire.Message
    t: float


class QemuDevice:
    """The firmware running in QEMU, its UART on a TCP socket, a reader thread decoding what it sends."""

    def __init__(self, elf: Path, icount_shift: int | None = None, monitor: bool = False,
                 log_path: Path | None = None):
        self.emulator = Emulator(elf, icount_shift=icount_shift, monitor=monitor, log_path=log_path)
        self.elf = self.emulator.elf
        self.port = self.emulator.port
        self.monitor_port = self.emulator.monitor_port
        self.cmd = self.emulator.cmd
        self.log_path = log_path
        self.link: serial.SerialBase | None = None
        self.frames: list[Received] = []
        self.rejects: list[wire.Reject] = []
        self.decoder = wire.Decoder(wire.Accepts.DEVICE_TO_HOST)
        self.host_seq = 0
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self.bytes_received = 0

    # -- life cycle ---------------------------------------------------------------------------------
    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return self.emulator.proc

    def start(self) -> QemuDevice:
        self.emulator.start()
        self.connect()
        return self

    def connect(self, timeout_s: float = 30.0) -> None:
        """(Re)connects to the UART socket and starts the reader; sends the session start (0x00)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise DeviceError(f"QEMU exited with status {self.proc.returncode} before accepting a connection")
            try:
                self.link = serial.serial_for_url(f"socket://{LOOPBACK}:{self.port}", timeout=0.2)
                break
            except serial.SerialException:
                if time.monotonic() > deadline:
                    raise DeviceError(f"QEMU never listened on {LOOPBACK}:{self.port}") from None
                time.sleep(0.05)
        self.decoder = wire.Decoder(wire.Accepts.DEVICE_TO_HOST)  # a new connection: a new byte stream
        self.host_seq = 0
        self._stop.clear()
        self._reader = threading.Thread(target=self._read_loop, args=(self.link,), name="qemu-uart-reader",
                                        daemon=True)
        self._reader.start()
        self.write_raw(b"\x00")

    def disconnect(self) -> None:
        """Closes the link (the device keeps running; QEMU listens for the next client)."""
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self.link is not None:
            self.link.close()
            self.link = None

    def close(self) -> None:
        self.disconnect()
        self.emulator.stop()

    def __enter__(self) -> QemuDevice:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------------
    def _read_loop(self, link: serial.SerialBase) -> None:
        while not self._stop.is_set():
            try:
                data = link.read(4096)
            except (serial.SerialException, OSError, TypeError, AttributeError):
                return
            if not data:
                continue
            events = self.decoder.feed_events(data)
            now = time.monotonic()
            with self._cond:
                self.bytes_received += len(data)
                for ev in events:
                    if isinstance(ev, wire.Frame):
                        self.frames.append(Received(ev.seq, ev.message, now))
                    else:
                        self.rejects.append(ev)
                self._cond.notify_all()

    def wait_for(self, predicate: Callable[[Received], bool], timeout_s: float = 60.0, start: int = 0) -> Received:
        """The first received frame (from index `start` on) that satisfies `predicate`; waits for it."""
        deadline = time.monotonic() + timeout_s
        index = start
        with self._cond:
            while True:
                while index < len(self.frames):
                    if predicate(self.frames[index]):
                        return self.frames[index]
                    index += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DeviceError(f"no matching frame from the device within {timeout_s:.0f} s "
                                      f"({len(self.frames)} frames received)")
                self._cond.wait(timeout=min(left, 0.5))

    def mark(self) -> int:
        """Index of the next frame to arrive (for wait_for(start=...))."""
        with self._cond:
            return len(self.frames)

    def of_type(self, cls: type[wire.Message], start: int = 0) -> list[Received]:
        with self._cond:
            return [f for f in self.frames[start:] if isinstance(f.message, cls)]

    # -- writing ------------------------------------------------------------------------------------
    def _open_link(self) -> serial.SerialBase:
        if self.link is None:
            raise DeviceError("not connected to the device", hint="start() or connect() first")
        return self.link

    def write_raw(self, data: bytes) -> None:
        with self._write_lock:
            link = self._open_link()
            link.write(data)
            link.flush()

    def send(self, msg: wire.Message) -> int:
        """Sends a host message with the next host seq; returns that seq."""
        with self._write_lock:
            self.host_seq += 1
            seq = self.host_seq
            self._open_link().write(wire.encode(msg, seq))
        return seq

    def request(self, msg: wire.Message, answer: type[wire.Message], timeout_s: float = 60.0) -> Received:
        """Sends `msg` and waits for the next frame of type `answer`."""
        start = self.mark()
        self.send(msg)
        return self.wait_for(lambda f: isinstance(f.message, answer), timeout_s, start)

    def status(self, timeout_s: float = 60.0) -> wire.Status:
        message = self.request(wire.GetStatus(), wire.Status, timeout_s).message
        assert isinstance(message, wire.Status)
        return message

    # -- memory (QEMU monitor) -----------------------------------------------------------------------
    def read_words(self, address: int, count: int) -> list[int]:
        """Reads `count` 32-bit words of the device's memory through the QEMU monitor (monitor=True)."""
        if self.monitor_port is None:
            raise DeviceError("QemuDevice(monitor=True) is needed to read memory")
        words: dict[int, int] = {}
        with socket.create_connection((LOOPBACK, self.monitor_port), timeout=30) as sock:
            buf = b""
            sock.sendall(f"xp /{count}wx 0x{address:x}\n".encode())
            deadline = time.monotonic() + 60
            last = address + 4 * (count - 1)
            while last not in words and time.monotonic() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                for m in re.finditer(rb"([0-9a-f]{8,16}):((?:\s+0x[0-9a-f]{8})+)", buf):
                    base = int(m.group(1), 16)
                    for i, w in enumerate(re.findall(rb"0x([0-9a-f]{8})", m.group(2))):
                        words[base + 4 * i] = int(w, 16)
        if last not in words:
            raise DeviceError(f"the QEMU monitor did not return the memory at 0x{address:x}")
        return [words[address + 4 * i] for i in range(count)]
