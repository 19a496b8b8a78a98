"""The link to the device: pyserial by URL, a reader thread, the wire decoder, the queue, the gap logic.

Transport and protocol are apart (as in pyserial's serial.threaded): `DeviceLink` owns a reader thread that opens
the port (`serial.serial_for_url`: /dev/ttyACM0, socket://host:port, loop://), reads whatever arrives and hands it
to the protocol side, which decodes it with wire.Decoder(Accepts.DEVICE_TO_HOST). A corrupt frame is counted and
skipped. When the port fails (cable pulled, socket closed) the thread reopens it with exponential backoff.

On every (re)connection (docs/protocol.md 3.4) the bridge sends 0x00, HELLO_REQUEST and GET_STATUS:

* the HELLO names the boot; a boot_id other than the last one seen means the device restarted: a new sequence
  space, and what the old boot had not had acknowledged is gone (recorded as an event in the queue);
* if STATUS.last_seq is beyond `held_through` (the newest seq up to which the queue holds everything), RESEND
  (held_through). The STATUS that ends the replay settles the range: every BEAT/ALERT below it has come again
  or was declared lost by a GAP, so held_through moves up to it;
* whenever a frame arrives with a seq beyond held_through + 1 (a frame went missing: corrupt, or refused by a
  full queue), RESEND(held_through) once; duplicates are recognised by the queue.

Frames are written to the durable queue (one transaction per chunk read) before anything else; HOST_ACK
(held_through) follows only after the commit (every `ack_every` new messages or `ack_interval_s`). When the queue
is full, nothing is stored and nothing more is acknowledged: the device keeps its frames in its ring.

Frames that arrive before the connection's HELLO (the boot is not known yet) wait in memory, unacknowledged,
until it comes.
"""
from __future__ import annotations

import logging
import queue as queue_mod
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, SupportsInt, TypedDict

import serial  # pyserial

from edge_bridge import wire
from edge_bridge.queue import DurableQueue, QueueFullError

log = logging.getLogger("edge_bridge.link")

HANDSHAKE_RETRY_S = 5.0  # ask HELLO_REQUEST/GET_STATUS again when no answer came


class LinkDown(ConnectionError):
    """The port is not open (the reader is reconnecting)."""


class _Resend(TypedDict):
    """A RESEND in progress: after which seq, how many STATUS frames before its own, whether a frame was lost."""

    after: int
    skip: int
    tainted: bool


@dataclass
class LinkCounters:
    connects: int = 0
    bytes: int = 0
    frames: int = 0
    corrupt: int = 0
    oversize: int = 0
    unknown: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: int = 0  # frames not stored because the queue was full
    resends: int = 0
    host_acks: int = 0
    boots: int = 0
    last_error: str = ""
    sent: list[tuple[int, wire.Message]] = field(default_factory=list)  # (host seq, message), last 200 sent


class DeviceLink:
    """One device on one port URL; `start()` runs the reader thread until `stop()`."""

    def __init__(self, url: str, queue: DurableQueue, *, ack_every: int = 32, ack_interval_s: float = 1.0,
                 backoff_initial_s: float = 0.5, backoff_max_s: float = 30.0, read_timeout_s: float = 0.05,
                 on_message: Callable[[str, int, int, int, wire.Message], None] | None = None,
                 enrich: Callable[[wire.Message, dict[str, Any]], None] | None = None):
        self.url = url
        self.queue = queue
        self.ack_every = ack_every
        self.ack_interval_s = ack_interval_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.read_timeout_s = read_timeout_s
        self.on_message = on_message  # (device_id, boot_id, row id, seq, message), for new messages only
        self.enrich = enrich  # (message, ingest item): optional fields added before the item is queued
        self.counters = LinkCounters()
        self._port: serial.SerialBase | None = None
        self._seq_lock = threading.Lock()
        self.port_lock = threading.Lock()  # held by the writer around each write (loop:// writes byte by byte)
        self._ctl: queue_mod.Queue[tuple[int, bytes]] = queue_mod.Queue()  # (connection, frame)
        self._data: queue_mod.Queue[tuple[int, bytes]] = queue_mod.Queue(maxsize=4)
        self._writer_thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # state of the current connection (reset on every connect)
        self.connection = 0
        self.device_id: str | None = None
        self.boot_id: int | None = None
        self.hello: wire.Hello | None = None
        self.status: wire.Status | None = None  # the newest STATUS
        self.status_count = 0  # STATUS frames received since start (waiters compare against it)
        self.held_through = 0
        self.max_seq = 0
        self.errors: list[wire.Error] = []
        # the update path (docs/protocol.md 3.6; edge_bridge/flasher.py): answers by host seq, the boot's report
        self.answers: dict[int, wire.UpdateState | wire.Error] = {}  # host seq -> its answer, this connection
        self.boot_report: tuple[int, wire.BootReport] | None = None  # (boot_id, the newest BOOT_REPORT of that boot)
        self.hello_count = 0  # HELLO frames received since start (waiters compare against it)
        self._host_seq = 0
        self._decoder = wire.Decoder(wire.Accepts.DEVICE_TO_HOST)
        self._pending: list[tuple[int, wire.Message]] = []
        self._statuses_expected = 0
        self._resend: _Resend | None = None
        self._handshake_done = False
        self._handshake_sent_at = 0.0
        self._resend_sent_at = 0.0
        self._acked = 0
        self._since_ack = 0
        self._last_ack_at = 0.0
        self._session_boot_known = False
        self._refused_pending = False
        self._last_room_check = 0.0

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> DeviceLink:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bridge-link-reader", daemon=True)
        self._writer_thread = threading.Thread(target=self._writer, name="bridge-link-writer", daemon=True)
        self._thread.start()
        self._writer_thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._close_port()
        for t in (self._thread, self._writer_thread):
            if t is not None:
                t.join(timeout=10)

    def drop(self) -> None:
        """Closes the port as if the cable were pulled; the reader reconnects (tests, tools)."""
        self._close_port()

    def __enter__(self) -> DeviceLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self._port is not None

    def _close_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except Exception:  # closing a broken port may fail in many ways
                pass

    # -- the reader thread ------------------------------------------------------------------------------------
    def _run(self) -> None:
        delay = self.backoff_initial_s
        while not self._stop.is_set():
            try:
                port = serial.serial_for_url(self.url, timeout=self.read_timeout_s, do_not_open=False)
            except (serial.SerialException, OSError, ValueError) as exc:
                self.counters.last_error = f"cannot open {self.url}: {exc}"
                log.warning("%s; retrying in %.1f s", self.counters.last_error, delay)
                self._stop.wait(delay * random.uniform(0.8, 1.0))
                delay = min(self.backoff_max_s, delay * 2)
                continue
            delay = self.backoff_initial_s
            self._on_connect(port)
            try:
                while not self._stop.is_set() and self._port is port:
                    data = port.read(4096)
                    if data:
                        self._on_data(data)
                    self._tick()
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                if not self._stop.is_set():
                    self.counters.last_error = f"link {self.url} lost: {exc}"
                    log.warning("%s; reconnecting", self.counters.last_error)
            finally:
                if self._port is port:
                    self._close_port()
                with self._cond:
                    self._cond.notify_all()
            if not self._stop.is_set():
                self._stop.wait(self.backoff_initial_s * random.uniform(0.5, 1.0))

    def _on_connect(self, port: serial.SerialBase) -> None:
        with self._cond:
            self._port = port
            self.connection += 1
            self.counters.connects += 1
            self._decoder = wire.Decoder(wire.Accepts.DEVICE_TO_HOST)  # a new byte stream
            self._host_seq = 0
            self._pending = []
            self._statuses_expected = 0
            self._resend = None
            self._handshake_done = False
            self.hello = None
            self.status = None
            self.answers = {}
            self._session_boot_known = False
            for q in (self._ctl, self._data):
                while not q.empty():
                    try:
                        q.get_nowait()
                    except queue_mod.Empty:
                        break
        self._handshake()

    def _handshake(self) -> None:
        try:
            self._write(b"\x00")
            self.send(wire.HelloRequest())
            self.send(wire.GetStatus(), expect_status=True)
        except LinkDown:
            return
        self._handshake_sent_at = time.monotonic()

    def _tick(self) -> None:
        now = time.monotonic()
        if not self._handshake_done and now - self._handshake_sent_at > HANDSHAKE_RETRY_S:
            with self._cond:
                self._statuses_expected = 0
            self._handshake()
        if self._resend is not None and now - self._resend_sent_at > HANDSHAKE_RETRY_S:
            with self._cond:  # the STATUS that ends the replay was lost: ask again
                self._statuses_expected = 0
            self._send_resend()
        if self.held_through > self._acked and now - self._last_ack_at >= self.ack_interval_s:
            self._send_ack()
        if self._refused_pending and self._resend is None and self._handshake_done \
                and now - self._last_room_check >= self.ack_interval_s:
            self._last_room_check = now
            if self.queue.used_bytes() < self.queue.warn_fraction * self.queue.budget_bytes:
                self._refused_pending = False  # room again: the device still holds what was refused
                self._send_resend()

    def _on_data(self, data: bytes) -> None:
        self.counters.bytes += len(data)
        batch: list[tuple[int, wire.Message]] = []
        settled = 0
        for ev in self._decoder.feed_events(data):
            if isinstance(ev, wire.Reject):
                c = ev.counter
                setattr(self.counters, c, getattr(self.counters, c) + 1)
                if self._resend is not None and c != "unknown":  # a damaged frame may have been a BEAT/ALERT
                    self._resend["tainted"] = True
                continue
            self.counters.frames += 1
            msg = ev.message
            self._note_update(ev.seq, msg)
            if isinstance(msg, wire.Hello):
                if batch:  # frames before this HELLO belong to the boot known so far
                    settled = self._store(batch, settled)
                    batch = []
                self._on_hello(msg)
            if not self._session_boot_known:
                self._pending.append((ev.seq, msg))
                continue
            if isinstance(msg, wire.Status):
                if self._resend is not None and self._resend["skip"] == 0:
                    if not self._resend["tainted"]:
                        settled = max(settled, ev.seq)
                    self._resend = None
                elif self._resend is not None:
                    self._resend["skip"] -= 1
                    self._statuses_expected = max(0, self._statuses_expected - 1)
                else:
                    self._statuses_expected = max(0, self._statuses_expected - 1)
            elif isinstance(msg, wire.Error):
                self.errors.append(msg)
                log.warning("device error 0x%04x (host seq %d): %s", msg.code, msg.host_seq, msg.text)
            batch.append((ev.seq, msg))
        if batch or settled:
            self._store(batch, settled)

    def _note_update(self, seq: int, msg: wire.Message) -> None:
        """Keeps what the flasher waits for: UPDATE_STATE and ERROR by the host seq they answer, the BOOT_REPORT
        of the current boot (they are also stored in the queue, as every frame)."""
        with self._cond:
            if isinstance(msg, wire.UpdateState) and msg.host_seq:
                self.answers[msg.host_seq] = msg
            elif isinstance(msg, wire.Error) and msg.host_seq:
                self.answers.setdefault(msg.host_seq, msg)
            elif isinstance(msg, wire.BootReport) and self.hello is not None:
                self.boot_report = (self.hello.boot_id, msg)
            else:
                return
            self._cond.notify_all()

    def _on_hello(self, hello: wire.Hello) -> None:
        with self._cond:
            old_device, old_boot = self.device_id, self.boot_id
            if old_boot is None or old_device != hello.device_id:
                old_boot = self.queue.latest_boot(hello.device_id)
            self.hello = hello
            self.hello_count += 1
            self.device_id, self.boot_id = hello.device_id, hello.boot_id
            new_boot = old_boot != hello.boot_id
            known = self.queue.boot(hello.device_id, hello.boot_id)
            if new_boot or not self._session_boot_known:
                self.held_through = known["held_through"] if known else 0
                self._acked = 0
                self.max_seq = self.held_through
            self._session_boot_known = True
            pending, self._pending = self._pending, []
        if new_boot:
            self.counters.boots += 1
            if old_boot is not None:
                old = self.queue.boot(hello.device_id, old_boot) or {}
                st = old.get("status") or {}
                held = old.get("held_through", 0)
                last = st.get("last_seq", 0)
                self.queue.record_boot_loss(
                    hello.device_id, old_boot,
                    f"device {hello.device_id} restarted: boot {old_boot} -> {hello.boot_id}; of boot {old_boot} the "
                    f"queue holds everything up to seq {held} (its last STATUS: last_seq {last}, beats "
                    f"{st.get('beats', '?')}, alerts {st.get('alerts', '?')}); anything unacknowledged beyond that "
                    "is gone with the reboot", max(0, last - held))
        if pending:
            # frames that came before this HELLO on this connection: only those of this boot's sequence space
            self._store([(s, m) for s, m in pending if not isinstance(m, wire.Hello)], 0)

    def _store(self, batch: list[tuple[int, wire.Message]], settled: int) -> int:
        if self.device_id is None or self.boot_id is None:
            return settled
        try:
            res = self.queue.store(self.device_id, self.boot_id, batch, settled_through=settled, enrich=self.enrich)
        except QueueFullError as exc:
            self.counters.refused += len(batch)
            self.counters.last_error = exc.one_line()
            self._refused_pending = True  # ask for them again once there is room (see _tick)
            if self._resend is not None:  # a refused frame of a RESEND replay: its end settles nothing
                self._resend["tainted"] = True
            return 0
        self.counters.stored += res.stored
        self.counters.duplicates += res.duplicates
        for seq, msg in batch:
            if isinstance(msg, wire.Status):
                with self._cond:
                    self.status = msg
                    self.status_count += 1
            self.max_seq = max(self.max_seq, seq)
        with self._cond:
            self.held_through = res.held_through
            self._since_ack += res.stored
            self._cond.notify_all()
        if self.on_message is not None:
            for row_id, seq, msg in res.new:
                try:
                    self.on_message(self.device_id, self.boot_id, row_id, seq, msg)
                except Exception:  # a listener's bug must not stop the reader
                    log.exception("on_message listener failed")
        self._after_store()
        return 0

    def _after_store(self) -> None:
        if not self._handshake_done and self.hello is not None and self.status is not None \
                and self._statuses_expected == 0:
            self._handshake_done = True
            if self.status.last_seq > self.held_through:
                self._send_resend()
        elif self._handshake_done and self._resend is None and self.max_seq > self.held_through + 1:
            self._send_resend()  # a seq jump: something went missing
        if self.held_through > self._acked and (self._since_ack >= self.ack_every
                                                or time.monotonic() - self._last_ack_at >= self.ack_interval_s):
            self._send_ack()
        with self._cond:
            self._cond.notify_all()

    def _send_resend(self) -> None:
        with self._cond:
            self._resend = {"after": self.held_through, "skip": self._statuses_expected, "tainted": False}
            self._resend_sent_at = time.monotonic()
        try:
            self.send(wire.Resend(self.held_through))
            self.counters.resends += 1
        except LinkDown:
            self._resend = None

    def _send_ack(self) -> None:
        if self.queue.full:
            return  # stop acknowledging: the device keeps what it has in its ring
        try:
            self.send(wire.HostAck(self.held_through))
        except LinkDown:
            return
        self._acked = self.held_through
        self._since_ack = 0
        self._last_ack_at = time.monotonic()
        self.counters.host_acks += 1

    # -- writing: one writer thread, so the reader never blocks on a write (docs/protocol.md 3.5) -----------
    def _writer(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._ctl.get_nowait()
            except queue_mod.Empty:
                try:
                    item = self._data.get(timeout=0.02)
                except queue_mod.Empty:
                    continue
            conn, data = item
            port = self._port
            if port is None or conn != self.connection:
                continue  # queued for a connection that is gone: the sender learns it from `connection`
            try:
                with self.port_lock:
                    port.write(data)
            except (serial.SerialException, OSError, TypeError, AttributeError, ValueError) as exc:
                self.counters.last_error = f"write to {self.url} failed: {exc}"
                self._close_port()

    def _enqueue(self, data: bytes, control: bool, conn: int | None = None) -> None:
        if self._port is None or (conn is not None and conn != self.connection):
            raise LinkDown(f"{self.url} is not connected")
        item = (self.connection if conn is None else conn, data)
        if control:
            self._ctl.put(item)
            return
        while True:  # bounded: a sender of SAMPLES waits here while the device applies back-pressure
            try:
                self._data.put(item, timeout=0.2)
                return
            except queue_mod.Full:
                if self._port is None or item[0] != self.connection or self._stop.is_set():
                    raise LinkDown(f"{self.url} was disconnected") from None

    def _write(self, data: bytes) -> None:
        self._enqueue(data, control=True)

    def send(self, msg: wire.Message, expect_status: bool = False, control: bool = True,
             conn: int | None = None) -> int:
        """Queues a host message with the next host seq for the writer; returns the seq. LinkDown when the port
        is not open (or `conn` is no longer the current connection). Control frames go ahead of SAMPLES."""
        with self._seq_lock:
            if self._port is None or (conn is not None and conn != self.connection):
                raise LinkDown(f"{self.url} is not connected")
            self._host_seq += 1
            seq = self._host_seq
            if expect_status:
                self._statuses_expected += 1
            data = wire.encode(msg, seq)
            self.counters.sent.append((seq, msg))
            del self.counters.sent[:-200]
        self._enqueue(data, control, conn)
        return seq

    # -- waiting (replay, tests) -------------------------------------------------------------------------------
    def wait_ready(self, timeout_s: float = 60.0) -> tuple[wire.Hello, wire.Status]:
        """Waits until the current connection's handshake is done and no RESEND is pending."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not (self.connected and self._handshake_done and self._resend is None and self.hello is not None
                       and self.status is not None):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the device on {self.url} did not answer HELLO_REQUEST/GET_STATUS within "
                                       f"{timeout_s:.0f} s ({self.counters.last_error or 'no error seen'})")
                self._cond.wait(min(left, 0.2))
            return self.hello, self.status

    def request_status(self, timeout_s: float = 60.0, conn: int | None = None) -> wire.Status:
        """GET_STATUS after everything queued so far, and the STATUS that answers it (waits for it)."""
        with self._cond:
            before = self.status_count
        self.send(wire.GetStatus(), expect_status=True, control=False, conn=conn)
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self.status_count <= before or self.status is None:
                left = deadline - time.monotonic()
                if left <= 0 or not self.connected:
                    raise TimeoutError(f"no STATUS from the device on {self.url} within {timeout_s:.0f} s")
                self._cond.wait(min(left, 0.2))
            return self.status

    def wait_held(self, seq: int, timeout_s: float = 60.0) -> bool:
        """Waits until the queue holds everything up to `seq` of the current boot."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self.held_through < seq:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
        return True

    def wait_samples(self, samples: int, timeout_s: float = 60.0, conn: int | None = None) -> bool:
        """Waits until a STATUS of this connection reports at least `samples` processed (False on timeout);
        LinkDown when connection `conn` is gone."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self.status is None or self.status.samples < samples:
                if conn is not None and (conn != self.connection or not self.connected):
                    raise LinkDown(f"{self.url} was disconnected")
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
        return True

    @property
    def acked(self) -> int:
        """The seq of the newest HOST_ACK sent on this boot (0: none yet)."""
        return self._acked

    def request(self, msg: wire.Message, timeout_s: float) -> wire.UpdateState | wire.Error | None:
        """Sends an update request and waits for the UPDATE_STATE (or ERROR) naming its seq: None when none came
        within `timeout_s` (a lost frame: repeat it); LinkDown when the connection went away meanwhile."""
        conn = self.connection
        seq = self.send(msg, conn=conn)
        return self.wait_answer(seq, timeout_s, conn)

    def wait_answer(self, seq: int, timeout_s: float, conn: int) -> wire.UpdateState | wire.Error | None:
        """The answer to host seq `seq` of connection `conn` (None on timeout; LinkDown when `conn` is gone)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while seq not in self.answers:
                if conn != self.connection or not self.connected:
                    raise LinkDown(f"{self.url} was disconnected")
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.05))
            return self.answers.pop(seq)

    def wait_boot_report(self, timeout_s: float, *, accept: Callable[[wire.Hello, wire.BootReport], bool] | None
                         = None, after_hello: int | None = None) -> tuple[wire.Hello, wire.BootReport] | None:
        """The current boot's HELLO and BOOT_REPORT once both are in and `accept` takes them (None on timeout);
        with `after_hello` (a `hello_count`), only from a HELLO received after it."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                h, rep = self.hello, self.boot_report
                if h is not None and rep is not None and rep[0] == h.boot_id \
                        and (after_hello is None or self.hello_count > after_hello) \
                        and (accept is None or accept(h, rep[1])):
                    return h, rep[1]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.05))

    def flush_ack(self) -> None:
        if self.held_through > self._acked:
            self._send_ack()

    def send_samples(self, first: int, samples: Iterable[SupportsInt], conn: int | None = None) -> int:
        """Queues one SAMPLES frame behind the others (blocks while the device applies back-pressure); LinkDown
        when connection `conn` is gone. Returns the next sample index."""
        values = tuple(int(v) for v in samples)
        self.send(wire.Samples(first, values), control=False, conn=conn)
        return first + len(values)
