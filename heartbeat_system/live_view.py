"""What the main job shows in the terminal (Rich): the record's progress, beats by class, the latest beats, the
device and bridge state, and the newest alerts.

LiveBeats is the link's listener (new messages only: the queue has already stored them); `render` draws one
frame of the view from it and from the link, uploader and queue counters.
"""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from edge_bridge import wire
from edge_bridge.link import DeviceLink
from edge_bridge.queue import DurableQueue
from edge_bridge.uploader import Uploader
from heartbeat_core.domain import AAMI_CLASSES, FS

# the colour of each class, in AAMI_CLASSES order
CLASS_STYLE: dict[str, str] = dict(zip(AAMI_CLASSES, ("green", "yellow", "red", "magenta", "cyan"), strict=True))


def styled(label: str, text: str | None = None) -> str:
    """`text` (default: the class's letter) in the colour of class `label`, as Rich markup."""
    style = CLASS_STYLE[label]
    return f"[{style}]{label if text is None else text}[/{style}]"


@dataclass(frozen=True)
class AlertRow:
    """One alert as the view lists it."""

    received: str  # wall-clock time it arrived, HH:MM:SS
    boot_id: int
    seq: int
    label: str
    at_s: float  # its beat's time in the record
    score: float  # the model's score for its class, 0..1


class LiveBeats:
    """Counts of the device's beats by class, the latest beats and the newest alerts, for the view."""

    def __init__(self, uploader_wake: Callable[[], None] | None = None):
        self.classes: Counter[str] = Counter()
        self.alerts: deque[AlertRow] = deque(maxlen=8)
        self.alert_count = 0
        self.recent: deque[str] = deque(maxlen=12)
        self.wake = uploader_wake
        self.lock = threading.Lock()

    def __call__(self, device_id: str, boot_id: int, row_id: int, seq: int, msg: wire.Message) -> None:
        with self.lock:
            if isinstance(msg, wire.Beat):
                label = AAMI_CLASSES[msg.beat_class]
                self.classes[label] += 1
                self.recent.append(label)
            elif isinstance(msg, wire.Alert):
                self.alert_count += 1
                self.alerts.appendleft(AlertRow(time.strftime("%H:%M:%S"), boot_id, seq, AAMI_CLASSES[msg.beat_class],
                                                msg.r_sample / FS, (msg.score + 128) / 256.0))
        if self.wake is not None:
            self.wake()

    def summary(self) -> tuple[str, int]:
        """`N 12 S 0 ...` and the number of alerts, for the closing line."""
        with self.lock:
            return " ".join(f"{k} {self.classes.get(k, 0)}" for k in AAMI_CLASSES), self.alert_count


def render(title: str, header: list[str], beats: LiveBeats, link: DeviceLink, uploader: Uploader,
           queue: DurableQueue, progress: tuple[int, int], done: bool) -> Group:
    """One frame of the live view."""
    head = Table.grid(padding=(0, 2))
    for line in header:
        head.add_row(line)
    stats = Table(show_header=False, box=None)
    sent, total = progress
    stats.add_row("record", f"{sent / FS:.0f} of {total / FS:.0f} s streamed" + ("  [green]done[/green]"
                                                                                  if done else ""))
    with beats.lock:
        counts = "  ".join(styled(c, f"{c} {beats.classes.get(c, 0)}") for c in AAMI_CLASSES)
        recent = " ".join(styled(c) for c in beats.recent)
        alerts = list(beats.alerts)
        alert_count = beats.alert_count
    stats.add_row("beats", counts + f"   alerts {alert_count}")
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
    for a in alerts:
        table.add_row(a.received, f"{a.boot_id}:{a.seq}", styled(a.label), f"{a.at_s:.1f}", f"{a.score:.2f}")
    return Group(Panel(head, title=title), stats, table)
