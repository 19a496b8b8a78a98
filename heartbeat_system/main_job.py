"""`heartbeat main`: the whole system on its embedded defaults, live in the terminal.

1. The shipped model (models/current) is verified against its card and the firmware's model library generated
   from it; a fresh MLflow store gets it registered and promoted to `champion`. Without models/current the job
   refuses (`heartbeat train --current` makes one): nothing trains here, only the server's worker child does.
2. The server (`heartbeat server run`: SQLite and a local MLflow store under HEARTBEAT_STATE_DIR) and its worker
   (`heartbeat server worker`) start as processes of their own (heartbeat_system.parts).
3. The main job's administrator is made on first use with a random password (kept in <state>/main/credentials.json,
   mode 0600: there is no default account); the emulated device is registered and gets a fresh token.
4. The emulated device (the real firmware image under QEMU) starts, and the bridge streams a MIT-BIH record into
   it: every message goes through the durable queue and the uploader to the server, as on a ward.
5. Beats and alerts appear live (heartbeat_system.live_view); Ctrl-C (or SIGTERM) stops the stream, lets the queue
   drain, and stops the device, the worker and the server in that order; the EC57 summary closes the run.

The secret key: HEARTBEAT_SECRET_KEY when set; otherwise one is made on first use and kept in
<state>/main/secret_key (0600), never in the repository.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live

from edge_bridge import wire
from edge_bridge.link import DeviceLink
from edge_bridge.queue import DurableQueue
from edge_bridge.replay import BeatCollector, ReplayResult, read_recording, stream_recording
from edge_bridge.uploader import Uploader
from heartbeat_core.errors import ConfigError, DeviceError, ModelError
from heartbeat_core.settings import describe_validation_error
from heartbeat_system.emulator import Emulator
from heartbeat_system.firmware_build import build_image
from heartbeat_system.live_view import LiveBeats, render
from heartbeat_system.parts import Part, PartError, heartbeat_command
from heartbeat_system.ports import LOOPBACK, port_free
from heartbeat_system.settings import SystemSettings
from toolchain.tables import ec57_table

console = Console()
ADMIN_EMAIL = "main-job-admin@heartbeat.localhost"
SERVER_START_S = 120.0
DRAIN_S = 15.0  # how long the queue may drain after the stream stops


# ----------------------------------------------------------------------------------------------- set-up steps
def private_file(path: Path, make: Callable[[], str]) -> str:
    """The content of a 0600 file under the state folder, made by `make()` the first time."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)  # whatever the umask
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def prepare_model(settings: SystemSettings) -> tuple[str, int]:
    """models/current verified, the firmware library generated, the model registered and champion.

    ModelError when there is no models/current: the main job never trains (only the server's worker does)."""
    current = settings.models_dir / "current"
    if not current.exists():
        raise ModelError("no shipped model (models/current)", str(current),
                         "run `heartbeat train --current` first (about 10 minutes), then `heartbeat main` again")
    from toolchain import registry, runs
    from toolchain.versions import generate_firmware_lib

    vdir = current.resolve()
    info = generate_firmware_lib(vdir)
    version, new = runs.register_exported(vdir, settings=settings)
    champion = registry.champion(settings)
    if champion is None:
        registry.promote(version, settings=settings)
        promoted = " and promoted to champion"
    else:
        promoted = f"; champion is version {champion.version}"
    console.print(f"[green]model[/green] {vdir.name} verified (sha256 {str(info.get('sha256', ''))[:12]}...), "
                  f"firmware library generated; MLflow version {version}{' registered' if new else ''}{promoted}")
    return vdir.name, version


def server_environment(settings: SystemSettings, main_dir: Path) -> tuple[dict[str, str], str]:
    """The server's and worker's environment (this one, the state folder, a secret key) and where the key is."""
    env = {**os.environ, "HEARTBEAT_STATE_DIR": str(settings.state_dir.resolve())}
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return env, "secret key: HEARTBEAT_SECRET_KEY"
    env["HEARTBEAT_SECRET_KEY"] = private_file(main_dir / "secret_key", lambda: secrets.token_hex(32))
    return env, f"secret key: {main_dir / 'secret_key'}"


def administrator(env: dict[str, str], creds_path: Path) -> dict[str, str]:
    """The main job's administrator ({email, password}), made with `heartbeat server create-admin` on first use."""
    if not creds_path.exists():
        password = secrets.token_urlsafe(18)
        done = subprocess.run(heartbeat_command("server", "create-admin", "--email", ADMIN_EMAIL, "--password-stdin"),
                              input=password + "\n", text=True, capture_output=True, env=env, check=False)
        if done.returncode != 0:
            raise PartError("could not make the main job's administrator: "
                            + (done.stdout + done.stderr).strip().splitlines()[-1], str(creds_path),
                            "delete the server database under the state folder, or restore credentials.json")
        private_file(creds_path, lambda: json.dumps({"email": ADMIN_EMAIL, "password": password}))
    creds: dict[str, str] = json.loads(creds_path.read_text())
    return creds


def admin_headers(url: str, creds: dict[str, str], creds_path: Path) -> dict[str, str]:
    r = httpx.post(url + "/api/v1/auth/token", data={"username": creds["email"], "password": creds["password"]})
    if r.status_code != 200:
        raise PartError(f"the main job's administrator cannot log in ({r.status_code})", str(creds_path),
                        "if the server's database was reset, delete this file: the next run makes a new "
                        "administrator")
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def device_token(url: str, admin: dict[str, str], device_uid: str) -> tuple[str, int]:
    """Registers the device if the server does not know it, and issues it a fresh token: (token, token id)."""
    if httpx.get(url + f"/api/v1/devices/{device_uid}", headers=admin).status_code == 404:
        r = httpx.post(url + "/api/v1/devices", json={"device_uid": device_uid, "name": "emulated device"},
                       headers=admin)
        if r.status_code != 201:
            raise PartError(f"could not register {device_uid}: {r.text}")
    r = httpx.post(url + f"/api/v1/devices/{device_uid}/tokens", headers=admin)
    if r.status_code != 201:
        raise PartError(f"could not issue a token for {device_uid}: {r.text}")
    body = r.json()
    return str(body["token"]), int(body["id"])


# ----------------------------------------------------------------------------------------------- the job
def main(record: Annotated[str, typer.Option(help="MIT-BIH record to stream through the device")] = "208",
         seconds: Annotated[float | None, typer.Option(help="stream only the first N seconds")] = None,
         port: Annotated[int, typer.Option(help="the server's port on 127.0.0.1")] = 8000,
         exit_when_done: Annotated[bool, typer.Option("--exit-when-done",
                                                      help="stop once the record is streamed and uploaded "
                                                           "(default: keep serving until Ctrl-C)")] = False,
         live: Annotated[bool, typer.Option(help="live view (Rich)")] = True) -> None:
    """The whole system end to end: server, worker, emulated device and bridge streaming a MIT-BIH record."""
    try:
        settings = SystemSettings()
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {describe_validation_error(exc)}") from None
    state = settings.state_dir.resolve()
    main_dir = state / "main"
    if not port_free(port):
        raise ConfigError(f"port {port} on {LOOPBACK} is in use", None, "pick another with --port")
    rec = read_recording(record, settings.data_dir, None, seconds)
    prepare_model(settings)
    env, key_note = server_environment(settings, main_dir)
    creds_path = main_dir / "credentials.json"
    creds = administrator(env, creds_path)

    url = f"http://{LOOPBACK}:{port}"
    logs = main_dir / "logs"
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ExitStack() as stack:
        stack.callback(signal.signal, signal.SIGTERM, previous)
        server = Part("server", ["server", "run", "--port", str(port)], env, logs / "server.log")
        stack.callback(server.stop)
        worker = Part("worker", ["server", "worker"], env, logs / "worker.log")
        stack.callback(worker.stop)
        server.wait_http_ok(url + "/api/v1/health", SERVER_START_S)
        admin = admin_headers(url, creds, creds_path)

        workspace = state / "bridge" / "emulator-build"
        console.print(f"building the emulated device's firmware (incremental, in {workspace})")
        elf = build_image(workspace)
        emu = stack.enter_context(Emulator(elf, log_path=logs / "qemu.log"))
        emu.wait_listening()
        queue = stack.enter_context(DurableQueue(state / "bridge" / "queue.db"))
        view_beats = LiveBeats()
        collector = BeatCollector(rec)

        def on_message(device_id: str, boot_id: int, row_id: int, seq: int, msg: wire.Message) -> None:
            collector(device_id, boot_id, row_id, seq, msg)
            view_beats(device_id, boot_id, row_id, seq, msg)

        # the link stores whatever the device says in the queue from the first byte on; the uploader starts
        # once the device (named by its HELLO) is registered and has a token
        link = DeviceLink(emu.url, queue, on_message=on_message).start()
        stack.callback(link.stop)
        try:
            hello, _ = link.wait_ready(60)
        except TimeoutError as exc:
            raise DeviceError(f"the emulated device did not answer: {exc}", str(logs / "qemu.log")) from None
        device_uid = hello.device_id
        token, token_id = device_token(url, admin, device_uid)

        def revoke() -> None:
            if server.running():
                httpx.post(url + f"/api/v1/devices/{device_uid}/tokens/{token_id}/revoke", headers=admin, timeout=5)

        stack.callback(revoke)
        uploader = Uploader(queue, url, token).start()
        stack.callback(uploader.stop)
        view_beats.wake = uploader.wake
        progress = [0, len(rec.codes)]
        result: dict[str, Any] = {}

        def stream() -> None:
            try:
                result["replay"] = stream_recording(link, collector, progress=lambda d, n: progress.__setitem__(0, d))
            except BaseException as exc:  # reported by the main thread
                result["error"] = exc

        streamer = threading.Thread(target=stream, name="main-job-stream", daemon=True)
        streamer.start()
        header = [f"API docs: [link]{url}/docs[/link]   health: {url}/api/v1/health",
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
                        view.update(render(title, header, view_beats, link, uploader, queue,
                                           (progress[0], progress[1]), finished))
                    c = queue.counts()
                    if finished and exit_when_done and c["ready"] + c["in_flight"] == 0:
                        break
                    stop.wait(0.25)
            except KeyboardInterrupt:
                pass
        console.print("stopping: the stream, then the queue drains, then device, worker and server")
        link.stop()
        end = time.monotonic() + DRAIN_S
        while time.monotonic() < end and server.running():
            c = queue.counts()
            if c["ready"] + c["in_flight"] == 0:
                break
            time.sleep(0.2)
        c = queue.counts()
        counts, n_alerts = view_beats.summary()
        console.print(f"device beats by class: {counts}; alerts: {n_alerts}; queue "
                      f"{c['acked']} acked, {c['ready'] + c['in_flight']} still queued (delivered on the next run)")
        replay: ReplayResult | None = result.get("replay")
        summary = replay.ec57() if replay is not None else None
        if summary is not None:
            console.print(ec57_table([(rec.name, summary)], rec.name))
