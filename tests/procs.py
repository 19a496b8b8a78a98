"""Real processes for the tests that run the parts together: the server (`heartbeat server run`, uvicorn) in a
subprocess with its own state folder, and a TCP relay that stands between the bridge and the emulated device's
UART socket so a test can pull the "cable" (close both ends) and let the bridge reconnect.

Shared by tests/edge_bridge (uploader against the real server), tests/server (wait_until) and tests/e2e. Free
ports come from heartbeat_system.ports and the `heartbeat` command line from heartbeat_system.parts.
"""
from __future__ import annotations

import os
import secrets
import selectors
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx

from heartbeat_system.parts import heartbeat_command
from heartbeat_system.ports import free_port


def wait_until(predicate, timeout_s: float, what: str, poll_s: float = 0.25):
    """Polls `predicate` until it gives something true (returned) or `timeout_s` passes (AssertionError)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


class Server:
    """`heartbeat server run` on a free loopback port over a SQLite database in `state`."""

    def __init__(self, state: Path, port: int | None = None):
        self.state = Path(state)
        self.state.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HEARTBEAT_STATE_DIR": str(self.state),
                    "HEARTBEAT_SECRET_KEY": secrets.token_hex(32), "COLUMNS": "200"}
        for k in list(self.env):
            if k.startswith("HEARTBEAT_DATABASE") or k.startswith("HEARTBEAT_BRIDGE_"):
                self.env.pop(k)
        self.proc: subprocess.Popen | None = None
        self.admin: dict[str, str] = {}

    @property
    def log_path(self) -> Path:
        return self.state / "uvicorn.log"

    def log_tail(self, n: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(heartbeat_command("server", *args), input=stdin, text=True, capture_output=True,
                              env=self.env, timeout=300)

    def start(self, timeout_s: float = 120.0) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(heartbeat_command("server", "run", "--port", str(self.port)), env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError("the server exited: " + self.log_tail())
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("the server did not start: " + self.log_tail())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def bootstrap_admin(self, email: str = "admin@heartbeat.example") -> None:
        """An administrator made with `heartbeat server create-admin` (random password), and its bearer header."""
        password = secrets.token_urlsafe(18)
        proc = self.cli("create-admin", "--email", email, "--password-stdin", stdin=password + "\n")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        self._credentials = (email, password)

    def login_admin(self) -> dict[str, str]:
        email, password = self._credentials
        r = httpx.post(self.url + "/api/v1/auth/token", data={"username": email, "password": password})
        assert r.status_code == 200, r.text
        self.admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return self.admin

    def new_device(self, uid: str, name: str = "test device") -> tuple[str, int]:
        """Registers a device through the API and issues a token: (token, token id)."""
        r = httpx.post(self.url + "/api/v1/devices", json={"device_uid": uid, "name": name}, headers=self.admin)
        assert r.status_code == 201, r.text
        r = httpx.post(self.url + f"/api/v1/devices/{uid}/tokens", headers=self.admin)
        assert r.status_code == 201, r.text
        return r.json()["token"], r.json()["id"]

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.state / "server" / "server.db")

    def db_scalar(self, sql: str, *params):
        db = self.db()
        try:
            return db.execute(sql, params).fetchone()[0]
        finally:
            db.close()

    def db_count(self, table: str, device_uid: str, where: str = "", params: tuple = ()) -> int:
        db = self.db()
        try:
            return db.execute(f"SELECT COUNT(*) FROM {table} t JOIN devices d ON t.device_id = d.id "
                              f"WHERE d.device_uid = ? {where}", (device_uid, *params)).fetchone()[0]
        finally:
            db.close()


class TcpRelay:
    """Relays one TCP connection at a time from a loopback port to `target`; `cut()` closes both ends, like a
    pulled cable. The client may connect again; each connection opens a new one to the target."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"socket://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._pair: tuple[socket.socket, socket.socket] | None = None
        self._stop = threading.Event()
        self.connections = 0
        self.cuts = 0
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-relay", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pair = (client, upstream)
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, upstream)
        sel.register(upstream, selectors.EVENT_READ, client)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            sel.close()
            for s in (client, upstream):
                try:
                    s.close()
                except OSError:
                    pass

    def cut(self) -> None:
        """Closes the current connection on both sides."""
        with self._lock:
            pair, self._pair = self._pair, None
        if pair is None:
            raise AssertionError("no connection to cut")
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.cuts += 1

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            pair, self._pair = self._pair, None
        for s in pair or ():
            try:
                s.close()
            except OSError:
                pass
