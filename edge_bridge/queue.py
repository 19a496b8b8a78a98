"""The bridge's durable queue: every message the device sends is written here before anything else happens to it.

One SQLite file (default <state>/bridge/queue.db) in WAL mode. Tables:

* `messages`: one row per device message (and per bedside feedback), its ingest item as JSON, and its state

      ready ──▶ in_flight ──▶ acked         (the server stored it, or already had it)
        ▲           │
        └───────────┴──────▶ rejected      (the server refused it: kept with the server's message, never deleted)
                                  local    (ERROR/ACK frames: kept for the record, not part of the ingest contract)

  `UNIQUE(device_id, boot_id, seq)` recognises the device's retransmissions (RESEND replays frames with their
  original seq): a second copy is counted as a duplicate and dropped.
* `batches`: an upload batch, its idempotency key and the exact request body, so a retry (also after a crash and
  restart) sends the same key with the same body.
* `boots`: per (device, boot) the HELLO, the newest STATUS and `held_through`, the highest seq up to which the
  queue holds every frame that will ever arrive: HOST_ACK(held_through) is what the bridge may tell the device.

Durability: `journal_mode=WAL` with `synchronous=FULL`. In WAL mode NORMAL is crash-safe for the database (no
corruption) but a power cut may lose the last transactions; the bridge acknowledges messages to the device right
after committing them, and the device then forgets them, so a commit must be on disk before HOST_ACK: FULL
syncs the WAL at every commit. The reader commits once per chunk read from the link (dozens of frames), so the
cost is one fsync per chunk, not per beat.

Crash recovery: on open, rows left `in_flight` go back to `ready` and keep their batch, so the uploader resends
that batch with its stored key and body.

Disk budget: the bytes in use (database pages not on the free list) are checked before every write. Above
`warn_fraction` of the budget the queue warns (loudly, once per crossing); at the budget it refuses new device
messages with QueueFullError and the reader stops acknowledging the device, which keeps them in its retransmit
ring; nothing already queued is touched. It takes new messages again once uploads and pruning (acked beats,
statuses, errors) have brought it back below the warning level.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from edge_bridge import wire
from heartbeat_core.domain import AAMI_CLASSES
from heartbeat_core.errors import HeartbeatError

if TYPE_CHECKING:
    from edge_bridge.settings import BridgeSettings

log = logging.getLogger("edge_bridge.queue")

STATES = ("ready", "in_flight", "acked", "rejected", "local")
SCHEMA_VERSION = 1
PRUNABLE_KINDS = ("beat", "status", "error", "ack", "gap", "update_state")  # alerts, hellos, boot reports
# and feedback stay (ids are shown)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    idem_key TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done', 'split', 'abandoned')),
    attempts INTEGER NOT NULL DEFAULT 0,
    response TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    boot_id INTEGER,
    seq INTEGER,
    kind TEXT NOT NULL,
    item TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('ready', 'in_flight', 'acked', 'rejected', 'local')),
    batch_id INTEGER REFERENCES batches(id),
    error TEXT,
    received_at TEXT NOT NULL,
    UNIQUE (device_id, boot_id, seq)
);
CREATE INDEX IF NOT EXISTS messages_state ON messages (state, device_id, id);
CREATE INDEX IF NOT EXISTS messages_batch ON messages (batch_id);
CREATE TABLE IF NOT EXISTS boots (
    device_id TEXT NOT NULL,
    boot_id INTEGER NOT NULL,
    hello TEXT,
    status TEXT,
    held_through INTEGER NOT NULL DEFAULT 0,
    lost_on_device INTEGER NOT NULL DEFAULT 0,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (device_id, boot_id)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    level TEXT NOT NULL,
    text TEXT NOT NULL
);
"""


class QueueError(HeartbeatError):
    """The queue file cannot be used."""


class QueueFullError(QueueError):
    """The queue reached its disk budget: new messages are refused (the device keeps them) until there is room."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# ---------------------------------------------------------------------------------------------------------------
# wire message -> ingest item (docs/ingest.md)
# ---------------------------------------------------------------------------------------------------------------
KIND_OF = {wire.Hello: "hello", wire.Beat: "beat", wire.Alert: "alert", wire.Status: "status", wire.Gap: "gap",
           wire.Error: "error", wire.Ack: "ack", wire.UpdateState: "update_state", wire.BootReport: "boot_report"}
UPLOADED_KINDS = ("hello", "beat", "alert", "status", "gap", "feedback")


def to_item(msg: wire.Message, boot_id: int, seq: int, received_at: str) -> dict[str, Any]:
    """The ingest item of a device message (field names of wire.py, classes as names, hashes as hex)."""
    kind = KIND_OF[type(msg)]
    fields = msg.to_fields()
    if kind == "hello":
        fields.pop("device_id")
    if isinstance(msg, wire.Beat | wire.Alert):
        del fields["beat_class"]
        fields["label"] = AAMI_CLASSES[msg.beat_class]
    return {"type": kind, "boot_id": boot_id, "seq": seq, "received_at": received_at, **fields}


@dataclass
class StoreResult:
    stored: int = 0
    duplicates: int = 0
    held_through: int = 0
    new: list[tuple[int, int, wire.Message]] = field(default_factory=list)  # (row id, seq, message)


@dataclass
class Batch:
    id: int
    device_id: str
    idem_key: str
    body: str  # the exact JSON request body
    row_ids: list[int]  # in the order of body["items"]
    attempts: int


class DurableQueue:
    """SQLite-backed queue shared by the link's reader thread, the uploader thread and the CLI (one connection,
    serialised by a lock; SQLite's own locking keeps separate processes consistent)."""

    @classmethod
    def for_settings(cls, s: BridgeSettings, path: Path | None = None, recover: bool = True) -> DurableQueue:
        """The queue at `path` (default the settings' queue file) with the settings' disk budget."""
        return cls(path or s.queue_file, s.disk_budget_bytes, s.disk_warn_fraction, recover=recover)

    def __init__(self, path: Path, budget_bytes: int = 256 * 1024 * 1024, warn_fraction: float = 0.8,
                 recover: bool = True):
        """`recover`: the opener is the process that uploads (bridge run, replay, main job), so rows left in
        flight by a previous (crashed) uploader go back to ready. Readers beside a running bridge (status,
        alerts, feedback) pass False: they must not touch the running uploader's batch."""
        self.path = Path(path)
        self.budget_bytes = int(budget_bytes)
        self.warn_fraction = float(warn_fraction)
        self._lock = threading.RLock()
        self._warned = False
        self.full = False
        self.refused = 0  # device messages refused for the disk budget since open
        try:
            if not self.path.parent.exists():  # the queue holds patients' beats: folder 0700, files 0600
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(self.path.parent, 0o700)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite's -wal/-shm take its mode
            os.chmod(self.path, 0o600)
            self._db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA journal_size_limit=4194304")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise QueueError(f"queue schema {row[0]}, this bridge reads {SCHEMA_VERSION}", str(self.path))
            # crash recovery: what was in flight goes back to ready, keeping its batch (same key on retry)
            n = self._db.execute("UPDATE messages SET state='ready' WHERE state='in_flight'").rowcount \
                if recover else 0
        except sqlite3.DatabaseError as exc:
            raise QueueError(f"queue database cannot be opened: {exc}", str(self.path),
                             "move the file aside to start a new queue (its messages are then not uploaded)") \
                from None
        if n:
            self.event("info", f"{n} messages in flight at the last stop are ready again")

    # -- plumbing ---------------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> DurableQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> _Tx:
        return _Tx(self._db)

    def event(self, level: str, text: str) -> None:
        getattr(log, "warning" if level in ("warning", "error") else "info")(text)
        with self._lock:
            self._db.execute("INSERT INTO events (at, level, text) VALUES (?, ?, ?)", (utc_now(), level, text))

    def used_bytes(self) -> int:
        """Bytes of data in the queue: database pages not on the free list (the WAL's newest pages included).

        The WAL file itself adds at most `journal_size_limit` (4 MiB) on disk once checkpointed."""
        with self._lock:
            page_size: int = self._db.execute("PRAGMA page_size").fetchone()[0]
            pages: int = self._db.execute("PRAGMA page_count").fetchone()[0]
            free: int = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        return (pages - free) * page_size

    def _check_budget(self, incoming: int) -> None:
        used = self.used_bytes()
        # once full, stay full until uploads and pruning bring the queue back below the warning level (no flapping)
        limit = self.warn_fraction * self.budget_bytes if self.full else self.budget_bytes
        if used + incoming >= limit:
            if not self.full:
                self.full = True
                self.event("error", f"DISK BUDGET FULL: the queue uses {used} of {self.budget_bytes} bytes; "
                                    "new device messages are refused and not acknowledged (the device keeps them)"
                                    " until uploads make room")
            raise QueueFullError(f"queue is full: {used} of {self.budget_bytes} bytes in use", str(self.path),
                                 "let the uploader reach the server, prune acked rows or raise "
                                 "HEARTBEAT_BRIDGE_DISK_BUDGET_BYTES")
        if self.full:
            self.full = False
            self.event("info", f"queue has room again ({used} of {self.budget_bytes} bytes)")
        if used >= self.warn_fraction * self.budget_bytes:
            if not self._warned:
                self._warned = True
                self.event("warning", f"DISK BUDGET: the queue uses {used} of {self.budget_bytes} bytes "
                                      f"({100 * used / self.budget_bytes:.0f} %); at 100 % new messages are refused")
        else:
            self._warned = False

    # -- the reader's side --------------------------------------------------------------------------------
    def boot(self, device_id: str, boot_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT hello, status, held_through, lost_on_device FROM boots "
                                   "WHERE device_id=? AND boot_id=?", (device_id, boot_id)).fetchone()
        if row is None:
            return None
        return {"hello": json.loads(row[0]) if row[0] else None, "status": json.loads(row[1]) if row[1] else None,
                "held_through": row[2], "lost_on_device": row[3]}

    def latest_boot(self, device_id: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT boot_id FROM boots WHERE device_id=? ORDER BY last_seen DESC LIMIT 1",
                                   (device_id,)).fetchone()
        return row[0] if row else None

    def store(self, device_id: str, boot_id: int, frames: Iterable[tuple[int, wire.Message]],
              settled_through: int = 0,
              enrich: Callable[[wire.Message, dict[str, Any]], None] | None = None) -> StoreResult:
        """Writes device frames of one boot in one transaction; duplicates (same device, boot, seq) are skipped.

        `settled_through`: a seq up to which the link knows every frame that will ever come has come (the STATUS
        that ends a RESEND replay): held_through moves at least there. Raises QueueFullError (nothing written)
        when the disk budget is reached. `enrich(message, item)` may add optional fields to an item (an alert's
        `ecg` when the bridge streams a recording).
        """
        frames = list(frames)
        now = utc_now()
        rows = []
        for seq, msg in frames:
            item = to_item(msg, boot_id, seq, now)
            if enrich is not None:
                enrich(msg, item)
            rows.append((seq, msg, item["type"], json.dumps(item, separators=(",", ":"))))
        result = StoreResult()
        with self._lock:
            if rows:
                self._check_budget(sum(len(r[3]) + 64 for r in rows))
            with self._tx():
                self._db.execute("INSERT OR IGNORE INTO boots (device_id, boot_id, first_seen, last_seen) "
                                 "VALUES (?, ?, ?, ?)", (device_id, boot_id, now, now))
                held = self._db.execute("SELECT held_through FROM boots WHERE device_id=? AND boot_id=?",
                                        (device_id, boot_id)).fetchone()[0]
                for seq, msg, kind, item_json in rows:
                    if seq <= held:  # already held (and possibly pruned): a retransmission
                        result.duplicates += 1
                        continue
                    state = "ready" if kind in UPLOADED_KINDS else "local"
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO messages (device_id, boot_id, seq, kind, item, state, received_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", (device_id, boot_id, seq, kind, item_json, state, now))
                    if cur.rowcount == 0:
                        result.duplicates += 1
                        continue
                    assert cur.lastrowid is not None  # an INSERT that added a row sets lastrowid
                    result.stored += 1
                    result.new.append((cur.lastrowid, seq, msg))
                    if kind == "hello":
                        self._db.execute("UPDATE boots SET hello=? WHERE device_id=? AND boot_id=?",
                                         (item_json, device_id, boot_id))
                    elif kind == "status":
                        self._db.execute("UPDATE boots SET status=? WHERE device_id=? AND boot_id=?",
                                         (item_json, device_id, boot_id))
                held = max(held, settled_through)
                while self._db.execute("SELECT 1 FROM messages WHERE device_id=? AND boot_id=? AND seq=?",
                                       (device_id, boot_id, held + 1)).fetchone():
                    held += 1
                self._db.execute("UPDATE boots SET held_through=?, last_seen=? WHERE device_id=? AND boot_id=?",
                                 (held, now, device_id, boot_id))
        result.held_through = held
        return result

    def record_boot_loss(self, device_id: str, old_boot: int, text: str, lost: int) -> None:
        with self._lock:
            self._db.execute("UPDATE boots SET lost_on_device=? WHERE device_id=? AND boot_id=?",
                             (lost, device_id, old_boot))
        self.event("warning", text)

    # -- bedside feedback -----------------------------------------------------------------------------------
    def alert(self, ref: str) -> dict[str, Any]:
        """An alert by its local id ("17") or its device key ("BOOT:SEQ", optionally "DEVICE:BOOT:SEQ")."""
        parts = ref.split(":")
        with self._lock:
            if len(parts) == 1 and parts[0].isdigit():
                row = self._db.execute("SELECT id, device_id, boot_id, seq, item FROM messages "
                                       "WHERE id=? AND kind='alert'", (int(parts[0]),)).fetchone()
            elif len(parts) in (2, 3) and all(p.isdigit() for p in parts[-2:]):
                q = "SELECT id, device_id, boot_id, seq, item FROM messages WHERE kind='alert' AND boot_id=? AND seq=?"
                args: tuple[int | str, ...] = (int(parts[-2]), int(parts[-1]))
                if len(parts) == 3:
                    q += " AND device_id=?"
                    args += (parts[0],)
                rows = self._db.execute(q, args).fetchall()
                if len(rows) > 1:
                    raise QueueError(f"alert {ref} is ambiguous: {len(rows)} devices have it",
                                     hint="give DEVICE:BOOT:SEQ")
                row = rows[0] if rows else None
            else:
                raise QueueError(f"alert {ref!r} is neither a local id nor BOOT:SEQ",
                                 hint="see `heartbeat bridge alerts`")
        if row is None:
            raise QueueError(f"no alert {ref} in the queue", str(self.path), "see `heartbeat bridge alerts`")
        return {"id": row[0], "device_id": row[1], "boot_id": row[2], "seq": row[3], "item": json.loads(row[4])}

    def add_feedback(self, alert_ref: str, action: str, label: str | None, clinician: str) -> dict[str, Any]:
        """Queues a feedback item for an alert; returns it. Goes to the server like any device message."""
        if action not in ("confirm", "reject", "relabel"):
            raise QueueError(f"unknown feedback action {action!r}", hint="confirm, reject or relabel")
        if label is not None and label not in AAMI_CLASSES:
            raise QueueError(f"unknown class {label!r}", hint="one of " + ", ".join(AAMI_CLASSES))
        if action == "relabel" and label is None:
            raise QueueError("relabel needs a class", hint="--label N|S|V|F|Q")
        if not clinician or not clinician.strip() or len(clinician) > 128 \
                or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in clinician):
            raise QueueError("a clinician name of 1..128 characters, without control characters, is needed",
                             hint="--clinician NAME")
        alert = self.alert(alert_ref)
        now = utc_now()
        item = {"type": "feedback", "feedback_id": str(uuid.uuid4()),
                "alert": {"boot_id": alert["boot_id"], "seq": alert["seq"]}, "action": action,
                "clinician": clinician.strip(), "created_at": now}
        if label is not None:
            item["label"] = label
        with self._lock:
            self._check_budget(512)
            self._db.execute("INSERT INTO messages (device_id, boot_id, seq, kind, item, state, received_at) "
                             "VALUES (?, NULL, NULL, 'feedback', ?, 'ready', ?)",
                             (alert["device_id"], json.dumps(item, separators=(",", ":")), now))
        return item

    # -- the uploader's side ---------------------------------------------------------------------------------
    def next_batch(self, size: int) -> Batch | None:
        """The batch to upload next: an open batch left from before (same key and body), else a new one."""
        with self._lock, self._tx():
            row = self._db.execute("SELECT id, device_id, idem_key, body, attempts FROM batches WHERE state='open' "
                                   "ORDER BY id LIMIT 1").fetchone()
            if row is not None:
                ids = [r[0] for r in self._db.execute(
                    "SELECT id FROM messages WHERE batch_id=? AND state IN ('ready', 'in_flight') ORDER BY id",
                    (row[0],))]
                if ids:
                    self._db.execute("UPDATE messages SET state='in_flight' WHERE batch_id=? AND state='ready'",
                                     (row[0],))
                    return Batch(row[0], row[1], row[2], row[3], ids, row[4])
                self._db.execute("UPDATE batches SET state='abandoned' WHERE id=?", (row[0],))
            first = self._db.execute("SELECT device_id FROM messages WHERE state='ready' AND batch_id IS NULL "
                                     "ORDER BY id LIMIT 1").fetchone()
            if first is None:
                return None
            device_id = first[0]
            rows = self._db.execute("SELECT id, item FROM messages WHERE state='ready' AND batch_id IS NULL "
                                    "AND device_id=? ORDER BY id LIMIT ?", (device_id, size)).fetchall()
            items = ",".join(r[1] for r in rows)
            body = f'{{"device_id":{json.dumps(device_id)},"items":[{items}]}}'
            key = "hb-" + uuid.uuid4().hex
            cur = self._db.execute("INSERT INTO batches (device_id, idem_key, body, created_at) VALUES (?, ?, ?, ?)",
                                   (device_id, key, body, utc_now()))
            batch_id = cur.lastrowid
            assert batch_id is not None  # an INSERT that added a row sets lastrowid
            ids = [r[0] for r in rows]
            self._db.executemany("UPDATE messages SET state='in_flight', batch_id=? WHERE id=?",
                                 [(batch_id, i) for i in ids])
            return Batch(batch_id, device_id, key, body, ids, 0)

    def batch_attempted(self, batch: Batch) -> None:
        with self._lock:
            self._db.execute("UPDATE batches SET attempts=attempts+1 WHERE id=?", (batch.id,))

    def batch_done(self, batch: Batch, response: dict[str, Any]) -> None:
        with self._lock, self._tx():
            # 'ready' too: a batch's rows are its rows, even if a restart put them back to ready meanwhile
            self._db.execute("UPDATE messages SET state='acked' WHERE batch_id=? AND state IN ('ready', 'in_flight')",
                             (batch.id,))
            self._db.execute("UPDATE batches SET state='done', response=? WHERE id=?",
                             (json.dumps(response), batch.id))

    def batch_rejected(self, batch: Batch, errors: dict[int, str], response: dict[str, Any]) -> None:
        """422: the items at `errors`' indices are rejected with their messages; the rest go back to ready
        without a batch, so they are sent again under a new key."""
        with self._lock, self._tx():
            for index, message in errors.items():
                self._db.execute("UPDATE messages SET state='rejected', error=? WHERE id=?",
                                 (message, batch.row_ids[index]))
            self._db.execute("UPDATE messages SET state='ready', batch_id=NULL WHERE batch_id=? "
                             "AND state IN ('ready', 'in_flight')", (batch.id,))
            self._db.execute("UPDATE batches SET state='split', response=? WHERE id=?",
                             (json.dumps(response), batch.id))

    def batch_new_key(self, batch: Batch) -> None:
        """409 (the key was used with another body): the rows go back to ready for a new batch and key."""
        with self._lock, self._tx():
            self._db.execute("UPDATE messages SET state='ready', batch_id=NULL WHERE batch_id=?", (batch.id,))
            self._db.execute("UPDATE batches SET state='abandoned' WHERE id=?", (batch.id,))

    def batch_release(self, batch: Batch) -> None:
        """The uploader stops: the rows go back to ready and keep the batch (its key and body are kept)."""
        with self._lock:
            self._db.execute("UPDATE messages SET state='ready' WHERE batch_id=? AND state='in_flight'", (batch.id,))

    # -- housekeeping and reports ------------------------------------------------------------------------------
    def prune(self) -> int:
        """Deletes acked rows of prunable kinds whose seq the device will never send again; returns how many."""
        marks = ",".join("?" * len(PRUNABLE_KINDS))
        with self._lock, self._tx():
            n = self._db.execute(
                f"DELETE FROM messages WHERE state='acked' AND kind IN ({marks}) AND seq <= "
                "(SELECT held_through FROM boots b "
                "WHERE b.device_id=messages.device_id AND b.boot_id=messages.boot_id)",
                PRUNABLE_KINDS).rowcount
            self._db.execute("DELETE FROM batches WHERE state!='open' AND id NOT IN "
                             "(SELECT DISTINCT batch_id FROM messages WHERE batch_id IS NOT NULL)")
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return n

    def counts(self) -> dict[str, int]:
        with self._lock:
            out = {s: 0 for s in STATES}
            for state, n in self._db.execute("SELECT state, COUNT(*) FROM messages GROUP BY state"):
                out[state] = n
        return out

    def counts_by_kind(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for kind, state, n in self._db.execute("SELECT kind, state, COUNT(*) FROM messages GROUP BY kind, state"):
                out.setdefault(kind, {})[state] = n
        return out

    def rejected(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT id, device_id, boot_id, seq, kind, error FROM messages "
                                    "WHERE state='rejected' ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [dict(zip(("id", "device_id", "boot_id", "seq", "kind", "error"), r, strict=True)) for r in rows]

    def alerts(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT id, device_id, boot_id, seq, item, state FROM messages WHERE kind='alert' "
                                    "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
            fb: dict[tuple[int, int], str] = {}
            for (item,) in self._db.execute("SELECT item FROM messages WHERE kind='feedback' ORDER BY id"):
                f = json.loads(item)
                fb[(f["alert"]["boot_id"], f["alert"]["seq"])] = f["action"] + (f" {f['label']}" if "label" in f
                                                                                  else "")
        out = []
        for rid, dev, boot, seq, item, state in rows:
            a = json.loads(item)
            out.append({"id": rid, "device_id": dev, "boot_id": boot, "seq": seq, "label": a["label"],
                        "r_sample": a["r_sample"], "rule": a["rule"], "received_at": a["received_at"],
                        "state": state, "feedback": fb.get((boot, seq))})
        return out

    def events(self, limit: int = 20) -> list[tuple[str, str, str]]:
        with self._lock:
            rows = self._db.execute("SELECT at, level, text FROM events ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return list(reversed(rows))

    def device_messages(self, device_id: str, boot_id: int) -> list[tuple[int, str, dict[str, Any]]]:
        """(seq, kind, item) of a boot, in seq order (tests and tools)."""
        with self._lock:
            rows = self._db.execute("SELECT seq, kind, item FROM messages WHERE device_id=? AND boot_id=? "
                                    "ORDER BY seq", (device_id, boot_id)).fetchall()
        return [(s, k, json.loads(i)) for s, k, i in rows]


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an exception) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> _Tx:
        for attempt in range(50):
            try:
                self.db.execute("BEGIN IMMEDIATE")
                return self
            except sqlite3.OperationalError as exc:  # another process holds the write lock beyond the timeout
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.1)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
        return False
