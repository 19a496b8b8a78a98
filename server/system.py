"""`heartbeat main`: the whole system on its embedded defaults, live in the terminal.

1. The shipped model (models/current; trained first if there is none) is verified against its card and the
   firmware's model library generated from it; a fresh MLflow store gets it registered and promoted to `champion`.
2. The server (`heartbeat server run`: SQLite and a local MLflow store under HEARTBEAT_STATE_DIR) and its worker
   (`heartbeat server worker`) start as processes of their own.
3. The main job's administrator is made on first use with a random password (kept in <state>/main/credentials.json,
   mode 0600: there is no default account); the emulated device is registered and gets a fresh token.
4. The emulated device (the real firmware image under QEMU) starts, and the bridge streams a MIT-BIH record into
   it: every message goes through the durable queue and the uploader to the server, as on a ward.
5. Beats and alerts appear live (Rich); Ctrl-C (or SIGTERM) stops the stream, lets the queue drain, and stops the
   device, the worker and the server in that order.

The secret key: HEARTBEAT_SECRET_KEY when set; otherwise one is made on first use and kept in
<state>/main/secret_key (0600), never in the repository.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from toolchain.errors import HeartbeatError

console = Console()
ADMIN_EMAIL = "main-job-admin@heartbeat.localhost"
CLASS_STYLE = {"N": "green", "S": "yellow", "V": "red", "F": "magenta", "Q": "cyan"}


class SystemError_(HeartbeatError):
    """The main job could not bring a part up."""


# ----------------------------------------------------------------------------------------------- set-up steps
def _private_file(path: Path, make) -> str:
    """The content of a 0600 file under the state folder, made by `make()` the first time."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def prepare_model(state_dir: Path) -> tuple[str, int]:
    """models/current verified, the firmware library generated, the model registered and champion."""
    from toolchain import registry
    from toolchain.export import generate_firmware_lib
    from toolchain.settings import get_settings

    s = get_settings()
    current = s.models_dir / "current"
    if not current.exists():
        from toolchain.job import run_training_job

        console.print("No shipped model (models/current): training CNN-4 on DS1 first (about 10 minutes)")
        current = run_training_job("inter-patient", "device", make_current=True).version_dir
    vdir = current.resolve()
    info = generate_firmware_lib(vdir)
    version, new = registry.register_exported(vdir, settings=s)
    champion = registry.champion(s)
    if champion is None:
        registry.promote(version, settings=s)
        promoted = " and promoted to champion"
    else:
        promoted = f"; champion is version {champion.version}"
    console.print(f"[green]model[/green] {vdir.name} verified (sha256 {info.get('sha256', '')[:12]}...), firmware "
                  f"library generated; MLflow version {version}{' registered' if new else ''}{promoted}")
    return vdir.name, version


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Proc:
    """A part of the system run as `heartbeat ...` in a subprocess, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict, log: Path):
        self.name, self.log = name, log
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "toolchain.cli", *args], env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def check(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-1500:]
            raise SystemError_(f"the {self.name} stopped (status {self.proc.returncode})", str(self.log), tail)

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ----------------------------------------------------------------------------------------------- live view
class LiveBeats:
    """The link's listener: what the display shows (new messages only; the queue has already stored them)."""

    def __init__(self, uploader_wake=None):
        self.classes: Counter = Counter()
        self.alerts: deque = deque(maxlen=8)
        self.alert_count = 0
        self.recent: deque = deque(maxlen=12)
        self.wake = uploader_wake
        self.lock = threading.Lock()

    def __call__(self, device_id: str, boot_id: int, row_id: int, seq: int, msg) -> None:
        from edge_bridge import wire

        with self.lock:
            if isinstance(msg, wire.Beat):
                label = wire.CLASS_NAMES[msg.beat_class]
                self.classes[label] += 1
                self.recent.append(label)
            elif isinstance(msg, wire.Alert):
                self.alert_count += 1
                self.alerts.appendleft((time.strftime("%H:%M:%S"), boot_id, seq, wire.CLASS_NAMES[msg.beat_class],
                                        msg.r_sample / 360.0, (msg.score + 128) / 256.0))
        if self.wake is not None:
            self.wake()


def _view(title: str, urls: list[str], beats: LiveBeats, link, uploader, queue, progress: tuple[int, int],
          done: bool) -> Group:
    head = Table.grid(padding=(0, 2))
    for u in urls:
        head.add_row(u)
    stats = Table(show_header=False, box=None)
    sent, total = progress
    stats.add_row("record", f"{sent / 360:.0f} of {total / 360:.0f} s streamed" + ("  [green]done[/green]"
                                                                                    if done else ""))
    with beats.lock:
        counts = "  ".join(f"[{CLASS_STYLE[c]}]{c} {beats.classes.get(c, 0)}[/{CLASS_STYLE[c]}]" for c in "NSVFQ")
        recent = " ".join(f"[{CLASS_STYLE[c]}]{c}[/{CLASS_STYLE[c]}]" for c in beats.recent)
        alerts = list(beats.alerts)
    stats.add_row("beats", counts + f"   alerts {beats.alert_count}")
    stats.add_row("latest", recent)
    c = queue.counts()
    u = uploader.counters
    state = {None: "-", True: "[green]up[/green]", False: "[red]unreachable[/red]"}[u.server_up]
    stats.add_row("device", f"{link.device_id or '-'} boot {link.boot_id or '-'}, "
                            f"{'connected' if link.connected else '[yellow]reconnecting[/yellow]'}")
    stats.add_row("bridge", f"queue {c['ready']} ready / {c['in_flight']} in flight / {c['acked']} acked; "
                            f"server {state}, {u.stored} stored, {u.duplicates} duplicates")
    table = Table(title="alerts (newest first)", expand=False)
    for col in ("time", "alert", "class", "at s", "score"):
        table.add_column(col)
    for t, boot, seq, label, at, score in alerts:
        table.add_row(t, f"{boot}:{seq}", f"[{CLASS_STYLE[label]}]{label}[/{CLASS_STYLE[label]}]", f"{at:.1f}",
                      f"{score:.2f}")
    return Group(Panel(head, title=title), stats, table)


# ----------------------------------------------------------------------------------------------- the job
def main(record: Annotated[str, typer.Option(help="MIT-BIH record to stream through the device")] = "208",
         seconds: Annotated[Optional[float], typer.Option(help="stream only the first N seconds")] = None,
         port: Annotated[int, typer.Option(help="the server's port on 127.0.0.1")] = 8000,
         exit_when_done: Annotated[bool, typer.Option("--exit-when-done",
                                                      help="stop once the record is streamed and uploaded "
                                                           "(default: keep serving until Ctrl-C)")] = False,
         live: Annotated[bool, typer.Option(help="live view (Rich)")] = True) -> None:
    """The whole system end to end: server, worker, emulated device and bridge streaming a MIT-BIH record."""
    import httpx

    from edge_bridge.emulator import Emulator, build_image
    from edge_bridge.link import DeviceLink
    from edge_bridge.queue import DurableQueue
    from edge_bridge.replay import BeatCollector, read_recording, stream_recording
    from edge_bridge.uploader import Uploader
    from toolchain.settings import get_settings

    tc = get_settings()
    state = Path(tc.state_dir).resolve()
    main_dir = state / "main"
    if not _port_free(port):
        raise SystemError_(f"port {port} on 127.0.0.1 is in use", None, "pick another with --port")
    rec = read_recording(record, tc.data_dir, None, seconds)
    prepare_model(state)

    env = {**os.environ, "HEARTBEAT_STATE_DIR": str(state)}
    if not env.get("HEARTBEAT_SECRET_KEY"):
        env["HEARTBEAT_SECRET_KEY"] = _private_file(main_dir / "secret_key", lambda: secrets.token_hex(32))
        key_note = f"secret key: {main_dir / 'secret_key'}"
    else:
        key_note = "secret key: HEARTBEAT_SECRET_KEY"
    creds_path = main_dir / "credentials.json"
    if not creds_path.exists():
        password = secrets.token_urlsafe(18)
        done = subprocess.run([sys.executable, "-m", "toolchain.cli", "server", "create-admin", "--email",
                               ADMIN_EMAIL, "--password-stdin"], input=password + "\n", text=True,
                              capture_output=True, env=env)
        if done.returncode != 0:
            raise SystemError_("could not make the main job's administrator: "
                               + (done.stdout + done.stderr).strip().splitlines()[-1], str(creds_path),
                               "delete the server database under the state folder, or restore credentials.json")
        _private_file(creds_path, lambda: json.dumps({"email": ADMIN_EMAIL, "password": password}))
    creds = json.loads(creds_path.read_text())

    url = f"http://127.0.0.1:{port}"
    logs = main_dir / "logs"
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ExitStack() as stack:
        stack.callback(signal.signal, signal.SIGTERM, previous)
        server = Proc("server", ["server", "run", "--port", str(port)], env, logs / "server.log")
        stack.callback(server.stop)
        worker = Proc("worker", ["server", "worker"], env, logs / "worker.log")
        stack.callback(worker.stop)
        end = time.monotonic() + 120
        while True:
            server.check()
            try:
                if httpx.get(url + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > end:
                raise SystemError_("the server did not answer within 120 s", str(server.log))
            time.sleep(0.3)
        r = httpx.post(url + "/api/v1/auth/token", data={"username": creds["email"], "password": creds["password"]})
        if r.status_code != 200:
            raise SystemError_(f"the main job's administrator cannot log in ({r.status_code})", str(creds_path),
                               "if the server's database was reset, delete this file: the next run makes a new "
                               "administrator")
        admin = {"Authorization": f"Bearer {r.json()['access_token']}"}

        workspace = state / "bridge" / "emulator-build"
        console.print(f"building the emulated device's firmware (incremental, in {workspace})")
        elf = build_image(workspace)
        emu = stack.enter_context(Emulator(elf, log_path=logs / "qemu.log"))
        emu.wait_listening()
        queue = stack.enter_context(DurableQueue(state / "bridge" / "queue.db"))
        view_beats = LiveBeats()
        collector = BeatCollector(rec)

        def on_message(*args) -> None:
            collector(*args)
            view_beats(*args)

        # the link stores whatever the device says in the queue from the first byte on; the uploader starts
        # once the device (named by its HELLO) is registered and has a token
        link = DeviceLink(emu.url, queue, on_message=on_message).start()
        stack.callback(link.stop)
        try:
            hello, _ = link.wait_ready(60)
        except TimeoutError as exc:
            raise SystemError_(f"the emulated device did not answer: {exc}", str(logs / "qemu.log")) from None
        device_uid = hello.device_id
        if httpx.get(url + f"/api/v1/devices/{device_uid}", headers=admin).status_code == 404:
            r = httpx.post(url + "/api/v1/devices", json={"device_uid": device_uid, "name": "emulated device"},
                           headers=admin)
            if r.status_code != 201:
                raise SystemError_(f"could not register {device_uid}: {r.text}")
        r = httpx.post(url + f"/api/v1/devices/{device_uid}/tokens", headers=admin)
        if r.status_code != 201:
            raise SystemError_(f"could not issue a token for {device_uid}: {r.text}")
        token, token_id = r.json()["token"], r.json()["id"]
        stack.callback(lambda: httpx.post(url + f"/api/v1/devices/{device_uid}/tokens/{token_id}/revoke",
                                          headers=admin, timeout=5) if server.proc.poll() is None else None)
        uploader = Uploader(queue, url, token).start()
        stack.callback(uploader.stop)
        view_beats.wake = uploader.wake
        progress = [0, len(rec.codes)]
        result: dict = {}

        def stream() -> None:
            try:
                result["replay"] = stream_recording(link, collector, progress=lambda d, n: progress.__setitem__(0, d))
            except BaseException as exc:  # reported by the main thread
                result["error"] = exc

        streamer = threading.Thread(target=stream, name="main-job-stream", daemon=True)
        streamer.start()
        urls = [f"API docs: [link]{url}/docs[/link]   health: {url}/api/v1/health",
                f"administrator: {creds['email']} (password in {creds_path})   {key_note}",
                f"logs: {logs}   server log: {state / 'server' / 'logs' / 'app.log'}",
                "Ctrl-C stops everything"]
        title = f"Heartbeat Edge: record {rec.name} through {device_uid}"
        console.print(f"[bold]API docs:[/bold] {url}/docs")
        with ExitStack() as view_stack:
            view = view_stack.enter_context(Live(console=console, refresh_per_second=4)) if live else None
            try:
                while not stop.is_set():
                    server.check()
                    worker.check()
                    if "error" in result:
                        raise result["error"]
                    if uploader.fatal is not None:
                        raise uploader.fatal
                    finished = "replay" in result
                    if view is not None:
                        view.update(_view(title, urls, view_beats, link, uploader, queue, tuple(progress), finished))
                    c = queue.counts()
                    if finished and exit_when_done and c["ready"] + c["in_flight"] == 0:
                        break
                    stop.wait(0.25)
            except KeyboardInterrupt:
                pass
        console.print("stopping: the stream, then the queue drains, then device, worker and server")
        link.stop()
        end = time.monotonic() + 15
        while time.monotonic() < end and server.proc.poll() is None:
            c = queue.counts()
            if c["ready"] + c["in_flight"] == 0:
                break
            time.sleep(0.2)
        c = queue.counts()
        with view_beats.lock:
            counts = " ".join(f"{k} {view_beats.classes.get(k, 0)}" for k in "NSVFQ")
            n_alerts = view_beats.alert_count
        console.print(f"device beats by class: {counts}; alerts: {n_alerts}; queue "
                      f"{c['acked']} acked, {c['ready'] + c['in_flight']} still queued (delivered on the next run)")
        replay = result.get("replay")
        summary = replay.ec57() if replay is not None else None
        if summary is not None:
            from edge_bridge.cli import _print_ec57

            _print_ec57(rec.name, summary)
