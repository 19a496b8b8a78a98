"""`heartbeat replay`: a WFDB record streamed through a device, the bridge's way, with the emulated device
started here when asked (`--emulator`).

Registered through the entry-point group `heartbeat.commands` (pyproject.toml). The replay machinery (reading a
record, pacing SAMPLES by the device's STATUS, collecting beats) is the bridge's (edge_bridge.replay); this
command adds what a hospital PC never runs: building the firmware and starting QEMU. Every refusal is a
HeartbeatError, printed by the `heartbeat` CLI as one `error:` line.
"""
from __future__ import annotations

import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from edge_bridge import wire
from edge_bridge.cli import ConfigOpt
from edge_bridge.link import DeviceLink
from edge_bridge.queue import DurableQueue
from edge_bridge.replay import BeatCollector, ReplayError, read_recording, stream_recording, write_jsonl
from edge_bridge.settings import load_settings
from edge_bridge.uploader import Uploader
from heartbeat_core import ui
from heartbeat_core.errors import HeartbeatError
from heartbeat_system.emulator import Emulator
from heartbeat_system.firmware_build import build_image
from heartbeat_system.settings import SystemSettings
from toolchain.tables import ec57_table

console = Console()
UPLOAD_DRAIN_S = 60.0  # how long the queue may take to reach the server after the stream


def replay(record: Annotated[str, typer.Argument(help="WFDB record: a path without extension, or a name in "
                                                      "HEARTBEAT_DATA_DIR")],
           out: Annotated[Path, typer.Option("--out", help="BEATS.jsonl: one JSON line per device beat")],
           emulator: Annotated[bool, typer.Option("--emulator", help="build (if needed) and start the emulated "
                                                                     "device, stop it afterwards")] = False,
           device: Annotated[str | None, typer.Option(help="device URL instead of --emulator")] = None,
           lead: Annotated[str | None, typer.Option(help="lead name or index (default: the first)")] = None,
           seconds: Annotated[float | None, typer.Option(help="only the first N seconds")] = None,
           server: Annotated[str | None, typer.Option(help="also queue and upload to this server")] = None,
           token: Annotated[str | None, typer.Option(help="device token for --server")] = None,
           resume: Annotated[bool, typer.Option("--resume", help="the device was started for this record and an "
                                                "earlier replay was interrupted: continue where the device is "
                                                "(the bridge's queue holds the earlier beats)")] = False,
           config: ConfigOpt = None) -> None:
    """Stream a WFDB record through the device; write its beats as JSON lines; EC57 summary if annotated."""
    ui.configure_logging()
    if emulator == bool(device):
        raise HeartbeatError("give exactly one of --emulator and --device URL")
    if resume and emulator:
        raise HeartbeatError("--resume continues on a running device", hint="use it with --device URL")
    s = load_settings(config, server_url=server, device_token=token)
    rec = read_recording(record, SystemSettings().data_dir, lead, seconds)
    console.print(f"{rec.name}: lead {rec.lead}, {rec.source_len} samples at {rec.fs:g} Hz "
                  f"({rec.source_len / rec.fs:.0f} s)" + (f", resampled {rec.up}/{rec.down} to 360 Hz"
                                                          if (rec.up, rec.down) != (1, 1) else ""))
    with ExitStack() as stack:
        if server or resume:  # the bridge's own queue: uploads, and what an interrupted run already received
            q = stack.enter_context(DurableQueue.for_settings(s))
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="heartbeat-replay-")))
            q = stack.enter_context(DurableQueue.for_settings(s, tmp / "queue.db"))
        url = device
        if emulator:
            workspace = s.state_dir / "bridge" / "emulator-build"
            console.print(f"building the emulated device's image in {workspace} (incremental)")
            elf = build_image(workspace)
            emu = stack.enter_context(Emulator(elf, log_path=workspace / "qemu.log"))
            emu.wait_listening()
            url = emu.url
        assert url is not None  # one of --emulator and --device, checked above
        collector = BeatCollector(rec)
        uploader = None
        if server:
            uploader = Uploader(q, server, s.token(), batch_size=s.batch_size,
                                backoff_initial_s=s.backoff_initial_s, backoff_max_s=s.backoff_max_s,
                                timeout_s=s.http_timeout_s).start()
            stack.callback(uploader.stop)
        link = DeviceLink(url, q, ack_every=s.ack_every, ack_interval_s=s.ack_interval_s,
                          backoff_initial_s=s.backoff_initial_s, backoff_max_s=s.backoff_max_s, on_message=collector,
                          enrich=collector.enrich)
        link.start()
        stack.callback(link.stop)
        with Progress("[bold]streaming", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("samples", total=len(rec.codes))
            result = stream_recording(link, collector, window_samples=s.replay_window_frames * wire.SAMPLES_MAX,
                                      resume=resume, progress=lambda done, n: bar.update(task, completed=done))
        write_jsonl(out, result.beats)
        console.print(f"{len(result.beats)} beats from {result.hello.device_id} (model {result.hello.model_version}, "
                      f"boot {result.hello.boot_id}) -> {out}; {result.wall_s:.1f} s")
        if uploader is not None:
            deadline = time.monotonic() + UPLOAD_DRAIN_S
            while q.counts()["ready"] + q.counts()["in_flight"] and uploader.fatal is None \
                    and time.monotonic() < deadline:
                time.sleep(0.2)
            if uploader.fatal is not None:
                raise uploader.fatal
            c = q.counts()
            console.print(f"uploaded: {c['acked']} acked, {c['ready'] + c['in_flight']} still queued")
    summary = result.ec57()
    if summary is not None:
        console.print(ec57_table([(rec.name, summary)], rec.name))
    elif rec.ref_samples is None:
        console.print("no annotations (.atr): no EC57 summary")
    if result.status.lost:
        raise ReplayError(f"the device lost {result.status.lost} beats/alerts from its ring")
