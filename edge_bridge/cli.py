"""`heartbeat bridge ...` and `heartbeat replay ...`: the bedside bridge's command line.

Registered through the entry-point group `heartbeat.commands` (pyproject.toml): `bridge` is a Typer group,
`replay` a plain command. Every refusal is a HeartbeatError, printed by the `heartbeat` CLI as one `error:` line.
"""
from __future__ import annotations

import json
import logging
import signal
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from edge_bridge.link import DeviceLink
from edge_bridge.queue import DurableQueue
from edge_bridge.settings import BridgeConfigError, BridgeSettings, load_settings
from toolchain.errors import HeartbeatError

app = typer.Typer(name="bridge", help="The edge bridge: device -> durable queue -> server, bedside feedback.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="TOML settings file (see docs/bridge.md)")]
QueueOpt = Annotated[Optional[Path], typer.Option("--queue", help="queue file (default <state>/bridge/queue.db)")]


def _open_queue(s: BridgeSettings) -> DurableQueue:
    return DurableQueue(s.queue_path, s.disk_budget_bytes, s.disk_warn_fraction)


def _existing_queue(s: BridgeSettings) -> DurableQueue:
    """The queue for a command run beside a running bridge: it must not reset the uploader's batch in flight."""
    if not Path(s.queue_path).exists():
        raise HeartbeatError("no queue yet", str(s.queue_path), "run `heartbeat bridge run` first")
    return DurableQueue(s.queue_path, s.disk_budget_bytes, s.disk_warn_fraction, recover=False)


def _logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# ------------------------------------------------------------------------------------------------------ run
def _counters_table(link: DeviceLink, uploader, queue: DurableQueue) -> Table:
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
def run(device: Annotated[Optional[str], typer.Option(help="device URL: /dev/ttyACM0, socket://host:port")] = None,
        server: Annotated[Optional[str], typer.Option(help="server base URL, e.g. http://127.0.0.1:8000")] = None,
        token: Annotated[Optional[str], typer.Option(help="device token (better: HEARTBEAT_BRIDGE_DEVICE_TOKEN)")]
        = None,
        config: ConfigOpt = None, queue: QueueOpt = None,
        seconds: Annotated[Optional[float], typer.Option(help="stop after this long (default: until Ctrl-C)")]
        = None,
        live: Annotated[bool, typer.Option(help="live counters (Rich)")] = True) -> None:
    """Stream device -> durable queue -> server until Ctrl-C (or SIGTERM)."""
    from edge_bridge.uploader import Uploader

    _logging()
    s = load_settings(config, device_url=device, server_url=server, device_token=token, queue_path=queue)
    if not s.device_url:
        raise BridgeConfigError("no device URL", "--device or HEARTBEAT_BRIDGE_DEVICE_URL")
    tok = s.token() if s.server_url else None
    q = _open_queue(s)
    uploader = None
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if s.server_url:
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
             label: Annotated[Optional[str], typer.Option(help="with reject: the right class (N, S, V, F, Q)")]
             = None,
             clinician: Annotated[Optional[str], typer.Option(help="who decides (default "
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


# ------------------------------------------------------------------------------------------------------ replay
def replay(record: Annotated[str, typer.Argument(help="WFDB record: a path without extension, or a name in "
                                                      "HEARTBEAT_DATA_DIR")],
           out: Annotated[Path, typer.Option("--out", help="BEATS.jsonl: one JSON line per device beat")],
           emulator: Annotated[bool, typer.Option("--emulator", help="build (if needed) and start the emulated "
                                                                     "device, stop it afterwards")] = False,
           device: Annotated[Optional[str], typer.Option(help="device URL instead of --emulator")] = None,
           lead: Annotated[Optional[str], typer.Option(help="lead name or index (default: the first)")] = None,
           seconds: Annotated[Optional[float], typer.Option(help="only the first N seconds")] = None,
           server: Annotated[Optional[str], typer.Option(help="also queue and upload to this server")] = None,
           token: Annotated[Optional[str], typer.Option(help="device token for --server")] = None,
           resume: Annotated[bool, typer.Option("--resume", help="the device was started for this record and an "
                                                "earlier replay was interrupted: continue where the device is "
                                                "(the bridge's queue holds the earlier beats)")] = False,
           config: ConfigOpt = None) -> None:
    """Stream a WFDB record through the device; write its beats as JSON lines; EC57 summary if annotated."""
    from edge_bridge.replay import BeatCollector, ReplayError, read_recording, stream_recording, write_jsonl
    from toolchain.settings import get_settings

    _logging()
    if emulator == bool(device):
        raise HeartbeatError("give exactly one of --emulator and --device URL")
    if resume and emulator:
        raise HeartbeatError("--resume continues on a running device", hint="use it with --device URL")
    s = load_settings(config, server_url=server, device_token=token)
    rec = read_recording(record, get_settings().data_dir, lead, seconds)
    console.print(f"{rec.name}: lead {rec.lead}, {rec.source_len} samples at {rec.fs:g} Hz "
                  f"({rec.source_len / rec.fs:.0f} s)" + (f", resampled {rec.up}/{rec.down} to 360 Hz"
                                                          if (rec.up, rec.down) != (1, 1) else ""))
    with ExitStack() as stack:
        if server or resume:  # the bridge's own queue: uploads, and what an interrupted run already received
            q = stack.enter_context(_open_queue(s))
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="heartbeat-replay-")))
            q = stack.enter_context(DurableQueue(tmp / "queue.db", s.disk_budget_bytes, s.disk_warn_fraction))
        url = device
        if emulator:
            from edge_bridge.emulator import Emulator, build_image

            workspace = s.state_dir / "bridge" / "emulator-build"
            console.print(f"building the emulated device's image in {workspace} (incremental)")
            elf = build_image(workspace)
            emu = stack.enter_context(Emulator(elf, log_path=workspace / "qemu.log"))
            emu.wait_listening()
            url = emu.url
        collector = BeatCollector(rec)
        uploader = None
        if server:
            from edge_bridge.uploader import Uploader

            uploader = Uploader(q, s.server_url, s.token(), batch_size=s.batch_size,
                                backoff_initial_s=s.backoff_initial_s, backoff_max_s=s.backoff_max_s,
                                timeout_s=s.http_timeout_s).start()
            stack.callback(uploader.stop)
        link = DeviceLink(url, q, ack_every=s.ack_every, ack_interval_s=s.ack_interval_s,
                          backoff_initial_s=s.backoff_initial_s, backoff_max_s=s.backoff_max_s, on_message=collector,
                          enrich=collector.enrich)
        link.start()
        stack.callback(link.stop)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress("[bold]streaming", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("samples", total=len(rec.codes))
            result = stream_recording(link, collector, window_samples=s.replay_window_frames * 240, resume=resume,
                                      progress=lambda done, n: bar.update(task, completed=done))
        write_jsonl(out, result.beats)
        console.print(f"{len(result.beats)} beats from {result.hello.device_id} (model {result.hello.model_version}, "
                      f"boot {result.hello.boot_id}) -> {out}; {result.wall_s:.1f} s")
        if uploader is not None:
            deadline = time.monotonic() + 60
            while q.counts()["ready"] + q.counts()["in_flight"] and uploader.fatal is None \
                    and time.monotonic() < deadline:
                time.sleep(0.2)
            if uploader.fatal is not None:
                raise uploader.fatal
            c = q.counts()
            console.print(f"uploaded: {c['acked']} acked, {c['ready'] + c['in_flight']} still queued")
    summary = result.ec57()
    if summary is not None:
        _print_ec57(rec.name, summary)
    elif rec.ref_samples is None:
        console.print("no annotations (.atr): no EC57 summary")
    if result.status.lost:
        raise ReplayError(f"the device lost {result.status.lost} beats/alerts from its ring")


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def _print_ec57(name: str, summary: dict) -> None:
    t = Table(title=f"{name}: AAMI EC57 beat-by-beat (150 ms), Se / +P %")
    t.add_column("beats", justify="right")
    t.add_column("QRS", justify="right")
    for c in ("N", "S", "V", "F", "Q"):
        t.add_column(c, justify="right")
    g = summary["gross"]["per_class"]
    t.add_row(str(summary["n_ref"]), f"{_pct(summary['qrs']['se'])} / {_pct(summary['qrs']['ppv'])}",
              *[f"{_pct(g[c]['se'])} / {_pct(g[c]['ppv'])}" for c in ("N", "S", "V", "F", "Q")])
    console.print(t)
