"""A part of the system (the server, its worker, ...) run as `python -m heartbeat_core.cli ARGS` in a process
of its own, its output in a log file: started, checked, stopped with SIGTERM (SIGKILL after a grace period)."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from heartbeat_core.errors import HeartbeatError


class PartError(HeartbeatError):
    """A part of the system did not start, stopped, or refused what the main job asked of it."""


def heartbeat_command(*args: str) -> list[str]:
    """The `heartbeat` command line run with this interpreter (the venv's)."""
    return [sys.executable, "-m", "heartbeat_core.cli", *args]


class Part:
    """`heartbeat ARGS` in a subprocess of its own session (so Ctrl-C in the terminal reaches only the main job),
    output appended to `log`."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path):
        self.name, self.log = name, log
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(heartbeat_command(*args), env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def running(self) -> bool:
        return self.proc.poll() is None

    def check(self) -> None:
        """PartError with the end of its log when the part has stopped."""
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-1500:]
            raise PartError(f"the {self.name} stopped (status {self.proc.returncode})", str(self.log), tail)

    def wait_http_ok(self, url: str, timeout_s: float = 120.0) -> None:
        """Waits until GET `url` answers 200 (the part still running); PartError after `timeout_s`."""
        end = time.monotonic() + timeout_s
        while True:
            self.check()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > end:
                raise PartError(f"the {self.name} did not answer within {timeout_s:.0f} s", str(self.log))
            time.sleep(0.3)

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
