"""`heartbeat bridge ...`: the bedside bridge's command line (what a hospital PC runs).

Registered through the entry-point group `heartbeat.commands` (pyproject.toml) as a Typer group. `heartbeat
replay`, which can start the emulated device, is heartbeat_system's (heartbeat_system/cli.py). Every refusal is
a HeartbeatError, printed by the `heartbeat` CLI as one `error:` line.
"""
from __future__ import annotations

import json
import signal
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from edge_bridge.link import DeviceLink
from edge_bridge.queue import DurableQueue
from edge_bridge.settings import BridgeConfigError, BridgeSettings, load_settings
from heartbeat_core import ui
from heartbeat_core.errors import HeartbeatError

if TYPE_CHECKING:
    from edge_bridge.uploader import Uploader

app = typer.Typer(name="bridge", help="The edge bridge: device -> durable queue -> server, bedside feedback.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file (see docs/bridge.md)")]
QueueOpt = Annotated[Path | None, typer.Option("--queue", help="queue file (default <state>/bridge/queue.db)")]


def _existing_queue(s: BridgeSettings) -> DurableQueue:
    """The queue for a command run beside a running bridge: it must not reset the uploader's batch in flight."""
    if not s.queue_file.exists():
        raise HeartbeatError("no queue yet", str(s.queue_file), "run `heartbeat bridge run` first")
    return DurableQueue.for_settings(s, recover=False)


# ------------------------------------------------------------------------------------------------------ run
def _counters_table(link: DeviceLink, uploader: Uploader | None, queue: DurableQueue) -> Table:
    t = Table(title="heartbeat bridge (Ctrl-C stops)", show_header=False)
    t.add_column("what")
    t.add_column("value")
    lc = link.counters
    t.add_row("device", f"{link.url} {'connected' if link.connected else 'reconnecting'}"
                        + (f", {link.device_id} boot {link.boot_id}" if link.boot_id else ""))
    t.add_row("frames", f"{lc.frames} decoded, {lc.stored} queued, {lc.duplicates} duplicates, "
                        f"{lc.corrupt + lc.oversize + lc.unknown} corrupt/unknown, {lc.refused} refused")
    t.add_row("acknowledged", f"held through seq {link.held_through}, {lc.host_acks} HOST_ACK, {lc.resends} RESEND")
    c = queue.counts()
    t.add_row("queue", f"{c['ready']} ready, {c['in_flight']} in flight, {c['acked']} acked, {c['rejected']} rejected"
                       + ("  [bold red]FULL[/bold red]" if queue.full else ""))
    if uploader is not None:
        u = uploader.counters
        state = {None: "-", True: "up", False: "[red]unreachable[/red]"}[u.server_up]
        t.add_row("server", f"{state}; {u.batches} batches, {u.stored} stored, {u.duplicates} duplicates, "
                            f"{u.retries} retries")
    err = lc.last_error or (uploader.counters.last_error if uploader is not None else "")
    if err:
        t.add_row("last problem", f"[yellow]{err}[/yellow]")
    return t


@app.command()
def run(device: Annotated[str | None, typer.Option(help="device URL: /dev/ttyACM0, socket://host:port")] = None,
        server: Annotated[str | None, typer.Option(help="server base URL, e.g. http://127.0.0.1:8000")] = None,
        token: Annotated[str | None, typer.Option(help="device token (better: HEARTBEAT_BRIDGE_DEVICE_TOKEN)")]
        = None,
        config: ConfigOpt = None, queue: QueueOpt = None,
        seconds: Annotated[float | None, typer.Option(help="stop after this long (default: until Ctrl-C)")]
        = None,
        live: Annotated[bool, typer.Option(help="live counters (Rich)")] = True) -> None:
    """Stream device -> durable queue -> server until Ctrl-C (or SIGTERM)."""
    from edge_bridge.uploader import Uploader

    ui.configure_logging()
    s = load_settings(config, device_url=device, server_url=server, device_token=token, queue_path=queue)
    if not s.device_url:
        raise BridgeConfigError("no device URL", "--device or HEARTBEAT_BRIDGE_DEVICE_URL")
    tok = s.token() if s.server_url else None
    q = DurableQueue.for_settings(s)
    uploader: Uploader | None = None
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if s.server_url and tok is not None:
            uploader = Uploader(q, s.server_url, tok, batch_size=s.batch_size, backoff_initial_s=s.backoff_initial_s,
                                backoff_max_s=s.backoff_max_s, timeout_s=s.http_timeout_s)
        link = DeviceLink(s.device_url, q, ack_every=s.ack_every, ack_interval_s=s.ack_interval_s,
                          backoff_initial_s=s.backoff_initial_s, backoff_max_s=s.backoff_max_s,
                          on_message=(lambda *a: uploader.wake()) if uploader else None)
        if not s.server_url:
            console.print("[yellow]no server URL: messages are queued, not uploaded[/yellow]")
        link.start()
        if uploader is not None:
            uploader.start()
        deadline = None if seconds is None else time.monotonic() + seconds
        last_prune = time.monotonic()
        with ExitStack() as stack:
            view = stack.enter_context(Live(_counters_table(link, uploader, q), console=console,
                                            refresh_per_second=2, transient=False)) if live else None
            try:
                while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                    stop.wait(0.5)
                    if view is not None:
                        view.update(_counters_table(link, uploader, q))
                    if uploader is not None and uploader.fatal is not None:
                        break
                    if time.monotonic() - last_prune > 60:
                        q.prune()
                        last_prune = time.monotonic()
            except KeyboardInterrupt:
                pass
        link.stop()
        if uploader is not None:
            uploader.stop()
            if uploader.fatal is not None:
                raise uploader.fatal
        c = q.counts()
        console.print(f"stopped: {c['ready'] + c['in_flight']} messages still queued, {c['acked']} acked, "
                      f"{c['rejected']} rejected ({s.queue_path})")
    finally:
        signal.signal(signal.SIGTERM, previous)
        q.close()


# ------------------------------------------------------------------------------------------------------ status
@app.command()
def status(config: ConfigOpt = None, queue: QueueOpt = None,
           json_out: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Queue counts by state and kind, rejected items with the server's messages, recent events."""
    s = load_settings(config, queue_path=queue)
    with _existing_queue(s) as q:
        counts, by_kind, rejected, events = q.counts(), q.counts_by_kind(), q.rejected(), q.events(10)
        used = q.used_bytes()
    if json_out:
        console.print_json(json.dumps({"counts": counts, "by_kind": by_kind, "rejected": rejected,
                                       "used_bytes": used, "budget_bytes": s.disk_budget_bytes}))
        return
    t = Table(title=f"queue {s.queue_path} ({used} of {s.disk_budget_bytes} bytes)")
    t.add_column("kind")
    for st in ("ready", "in_flight", "acked", "rejected", "local"):
        t.add_column(st, justify="right")
    for kind, row in sorted(by_kind.items()):
        t.add_row(kind, *[str(row.get(st, 0)) for st in ("ready", "in_flight", "acked", "rejected", "local")])
    t.add_row("all", *[str(counts[st]) for st in ("ready", "in_flight", "acked", "rejected", "local")])
    console.print(t)
    if rejected:
        r = Table(title="rejected by the server (kept)")
        for col in ("id", "device", "boot:seq", "kind", "server's message"):
            r.add_column(col)
        for item in rejected:
            r.add_row(str(item["id"]), item["device_id"], f"{item['boot_id']}:{item['seq']}", item["kind"],
                      item["error"] or "")
        console.print(r)
    for at, level, text in events:
        console.print(f"{at} {level}: {text}", highlight=False)


# ------------------------------------------------------------------------------------------------------ alerts
@app.command()
def alerts(config: ConfigOpt = None, queue: QueueOpt = None,
           limit: Annotated[int, typer.Option(help="newest N alerts")] = 50) -> None:
    """Alerts in the queue, newest first, with their local ids (for `heartbeat bridge feedback`)."""
    s = load_settings(config, queue_path=queue)
    with _existing_queue(s) as q:
        rows = q.alerts(limit)
    t = Table(title="alerts")
    for col in ("id", "device", "boot:seq", "class", "r_sample", "rule", "received", "upload", "feedback"):
        t.add_column(col)
    for a in rows:
        t.add_row(str(a["id"]), a["device_id"], f"{a['boot_id']}:{a['seq']}", a["label"], str(a["r_sample"]),
                  {1: "threshold", 2: "run"}.get(a["rule"], str(a["rule"])), a["received_at"], a["state"],
                  a["feedback"] or "")
    console.print(t if rows else "no alerts in the queue")


# ------------------------------------------------------------------------------------------------------ feedback
@app.command()
def feedback(alert: Annotated[str, typer.Argument(help="the alert's local id (see `alerts`) or BOOT:SEQ")],
             action: Annotated[str, typer.Argument(help="confirm or reject")],
             label: Annotated[str | None, typer.Option(help="with reject: the right class (N, S, V, F, Q)")]
             = None,
             clinician: Annotated[str | None, typer.Option(help="who decides (default "
                                                                   "HEARTBEAT_BRIDGE_CLINICIAN)")] = None,
             config: ConfigOpt = None, queue: QueueOpt = None) -> None:
    """Clinician feedback on an alert, queued like any device message and uploaded to the server."""
    if action not in ("confirm", "reject"):
        raise HeartbeatError(f"unknown feedback {action!r}", hint="confirm or reject (reject --label CLASS relabels)")
    if label is not None:
        label = label.strip().upper()
        if action == "confirm":
            raise HeartbeatError("confirm takes no --label", hint="use `reject --label CLASS` to relabel the beat")
    s = load_settings(config, queue_path=queue, clinician=clinician)
    if not s.clinician:
        raise HeartbeatError("who gives this feedback?", hint="--clinician NAME or HEARTBEAT_BRIDGE_CLINICIAN")
    with _existing_queue(s) as q:
        item = q.add_feedback(alert, "relabel" if label else action, label, s.clinician)
    console.print(f"queued {item['action']}{' ' + item['label'] if 'label' in item else ''} for alert "
                  f"{item['alert']['boot_id']}:{item['alert']['seq']} ({item['feedback_id']})")


# ------------------------------------------------------------------------------------------------------ flash
def flash(image: Annotated[Path, typer.Argument(help="the signed image (firmware.signed.bin of a release)")],
          device: Annotated[str | None, typer.Option(help="device URL: /dev/ttyACM0, socket://host:port")] = None,
          target: Annotated[str | None, typer.Option(help="the device's target (qemu, nrf52840), checked against the "
                                                          "image before sending; HELLO does not name it")] = None,
          config: ConfigOpt = None, queue: QueueOpt = None) -> None:
    """Flash a signed image into a device at the bench: drain its beats into the queue, transfer, install, and
    report installed and confirmed / refused and why / reverted and why (docs/bridge.md, "Flashing")."""
    from edge_bridge.flasher import FlashError, check_image, flash_release

    ui.configure_logging()
    try:
        data = image.read_bytes()
    except OSError as exc:
        raise FlashError(f"cannot read the image {image}: {exc.strerror or exc}") from None
    check_image(data)  # before the device is even opened
    s = load_settings(config, device_url=device, queue_path=queue)
    if not s.device_url:
        raise BridgeConfigError("no device URL", "--device or HEARTBEAT_BRIDGE_DEVICE_URL")
    with DurableQueue.for_settings(s) as q:
        link = DeviceLink(s.device_url, q, ack_every=s.ack_every, ack_interval_s=s.ack_interval_s,
                          backoff_initial_s=s.backoff_initial_s, backoff_max_s=s.backoff_max_s)
        with link:
            outcome = flash_release(link, data, target=target)
    st = outcome.stats
    console.print(f"sent {st['chunks']} chunks ({st['bytes']} bytes), {st['repeats']} repeated, {st['resumes']} "
                  f"resumes, {st['reconnects']} reconnections", highlight=False)
    if not outcome.ok:
        raise HeartbeatError(f"flash {outcome.one_line()}")
    console.print(f"[green]{outcome.one_line()}[/green]", highlight=False)
