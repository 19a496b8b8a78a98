"""The real server as its own process, for the server benchmarks (login_flood.py, server_faults.py,
schemathesis_long.py): `heartbeat server run` (migrations, umask, uvicorn as in production) on a free loopback
port with a temporary state folder, an administrator made with `heartbeat server create-admin`, and a registered
device with a token. Loopback only; every wait is bounded."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heartbeat_system.ports import free_port  # noqa: E402  (after the repository is on the path)

HEARTBEAT = [sys.executable, "-m", "heartbeat_core.cli"]


@dataclass
class ServerProcess:
    state: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    admin_email: str = "bench-admin@hospital.example"
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def __post_init__(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTBEAT_")}
        self.env.update({"HEARTBEAT_STATE_DIR": str(self.state), "HEARTBEAT_SECRET_KEY": secrets.token_hex(32),
                         "HEARTBEAT_MLFLOW_TRACKING_URI": f"sqlite:///{self.state / 'mlflow' / 'mlflow.db'}"})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*HEARTBEAT, *args], env=self.env, input=stdin, capture_output=True, text=True,
                              timeout=300, cwd=REPO)

    def start(self, timeout_s: float = 90.0) -> ServerProcess:
        log = (self.state / "server-stdout.log").open("ab")
        self.proc = subprocess.Popen([*HEARTBEAT, "server", "run", "--port", str(self.port)], env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        log.close()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=5).status_code in (200, 503):
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"error: the server exited ({self.proc.returncode}); see {log.name}")
            if time.monotonic() > deadline:
                raise SystemExit(f"error: the server did not answer within {timeout_s:.0f} s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def make_admin(self) -> str:
        """The administrator (create-admin), logged in: its access token."""
        done = self.cli("server", "create-admin", "--email", self.admin_email, "--password-stdin",
                        stdin=self.admin_password + "\n")
        if done.returncode != 0 and "already exists" not in done.stdout + done.stderr:
            raise SystemExit(f"error: create-admin failed: {done.stdout}{done.stderr}")
        r = httpx.post(self.url + "/api/v1/auth/token", data={"username": self.admin_email,
                                                              "password": self.admin_password}, timeout=60)
        r.raise_for_status()
        return str(r.json()["access_token"])

    def make_device(self, admin_token: str) -> tuple[str, str]:
        """A registered device and a token for it: (device_uid, token)."""
        uid = f"hb-bench-{uuid.uuid4().hex[:8]}"
        headers = {"Authorization": f"Bearer {admin_token}"}
        httpx.post(self.url + "/api/v1/devices", json={"device_uid": uid, "name": "benchmark"}, headers=headers,
                   timeout=60).raise_for_status()
        r = httpx.post(self.url + f"/api/v1/devices/{uid}/tokens", headers=headers, timeout=60)
        r.raise_for_status()
        return uid, str(r.json()["token"])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]
