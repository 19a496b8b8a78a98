"""The uploader: queued messages to the server's ingest route (docs/ingest.md), in its own thread.

    batch = queue.next_batch(size)        an open batch left from before (same key, same body) or a new one
    POST /api/v1/ingest                    Authorization: Bearer <device token>, Idempotency-Key: <batch key>
      200            -> the batch's rows are acked
      422            -> the listed items are rejected (kept with the server's message); the rest go back to ready
                        and are sent again in a new batch, under a new key
      409            -> the key was used with another body: the rows go back to ready for a new key
      401, 403, 404  -> stop with a clear message (unknown device, wrong or revoked token); the queue is kept
      413, other 4xx -> stop with the server's message; the queue is kept
      5xx, no answer -> the same batch again, same key, after an exponential backoff with jitter

At-least-once from here plus the server's idempotency (the key, and (device, boot_id, seq) per item) gives
exactly-once in the server's database. The serial reader never waits for this thread.
"""
from __future__ import annotations

import json
import logging
import random
import threading
from dataclasses import dataclass, field

import httpx

from edge_bridge.queue import Batch, DurableQueue
from heartbeat_core.errors import HeartbeatError

log = logging.getLogger("edge_bridge.uploader")

INGEST_PATH = "/api/v1/ingest"
FATAL_HINTS = {
    401: "the device token is unknown or revoked: issue a new token on the server and set "
         "HEARTBEAT_BRIDGE_DEVICE_TOKEN",
    403: "the token belongs to another device: use this device's token",
    404: "the device is not registered on the server: register it (its HELLO device_id) first",
    413: "the batch is too large for the server: lower HEARTBEAT_BRIDGE_BATCH_SIZE",
}


class UploadStopped(HeartbeatError):
    """The server refused the bridge in a way retrying cannot fix; everything queued is kept."""


@dataclass
class UploadCounters:
    batches: int = 0
    items_acked: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    retries: int = 0
    replayed: int = 0
    last_error: str = ""
    server_up: bool | None = None
    by_type: dict[str, int] = field(default_factory=dict)


def _detail(resp: httpx.Response) -> object:
    try:
        return resp.json().get("detail", resp.text)
    except (ValueError, AttributeError):
        return resp.text[:300]


class Uploader:
    """Uploads batches from the queue until stopped; `fatal` holds the reason when the server refused the bridge."""

    def __init__(self, queue: DurableQueue, server_url: str, token: str, *, batch_size: int = 100,
                 backoff_initial_s: float = 0.5, backoff_max_s: float = 30.0, timeout_s: float = 30.0,
                 idle_s: float = 0.25, transport: httpx.BaseTransport | None = None):
        self.queue = queue
        self.url = server_url.rstrip("/") + INGEST_PATH
        self.batch_size = batch_size
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.idle_s = idle_s
        self.counters = UploadCounters()
        self.fatal: UploadStopped | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=timeout_s, transport=transport,
                                    headers={"Authorization": f"Bearer {token}",
                                             "Content-Type": "application/json"})

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> Uploader:
        self._thread = threading.Thread(target=self._run, name="bridge-uploader", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self._client.close()

    def wake(self) -> None:
        """New messages are queued (called by the link after a store); saves the idle wait."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self.step():
                    self._wake.wait(self.idle_s)
                    self._wake.clear()
        except UploadStopped as exc:
            self.fatal = exc
            log.error("upload stopped: %s", exc.one_line())
        except Exception as exc:  # reported, never silently swallowed
            self.fatal = UploadStopped(f"uploader failed: {type(exc).__name__}: {exc}")
            log.exception("uploader failed")

    # -- one batch ----------------------------------------------------------------------------------------
    def step(self) -> bool:
        """Uploads one batch (retrying it until it is settled or the uploader stops); False when none was ready."""
        batch = self.queue.next_batch(self.batch_size)
        if batch is None:
            return False
        attempt = 0
        while not self._stop.is_set():
            outcome = self._post(batch)
            if outcome == "done":
                return True
            attempt += 1
            self.counters.retries += 1
            delay = min(self.backoff_max_s, self.backoff_initial_s * 2 ** min(attempt - 1, 30))
            self._stop.wait(delay * random.uniform(0.5, 1.0))  # "equal jitter": at least half the backoff
        self.queue.batch_release(batch)
        return True

    def _post(self, batch: Batch) -> str:
        """'done' when the batch is settled (acked, split or re-keyed), 'retry' when it must be sent again."""
        self.queue.batch_attempted(batch)
        try:
            resp = self._client.post(self.url, content=batch.body.encode(),
                                     headers={"Idempotency-Key": batch.idem_key})
        except httpx.HTTPError as exc:
            self.counters.server_up = False
            self.counters.last_error = f"server {self.url} unreachable: {type(exc).__name__}: {exc}"
            log.warning(self.counters.last_error)
            return "retry"
        self.counters.server_up = resp.status_code < 500
        if resp.status_code == 200:
            try:
                body = resp.json()
            except ValueError:
                body = {}
            self.queue.batch_done(batch, body)
            self.counters.batches += 1
            self.counters.items_acked += len(batch.row_ids)
            self.counters.stored += int(body.get("stored", 0) or 0)
            self.counters.duplicates += int(body.get("duplicates", 0) or 0)
            self.counters.replayed += bool(body.get("replayed"))
            for k, v in (body.get("counts") or {}).items():
                self.counters.by_type[k] = self.counters.by_type.get(k, 0) + int(v)
            self.counters.last_error = ""
            return "done"
        if resp.status_code == 422:
            detail = _detail(resp)
            errors = self._item_errors(detail, len(batch.row_ids))
            if not errors:
                self.queue.batch_release(batch)
                raise UploadStopped(f"server refused batch {batch.idem_key} (422) without naming items: "
                                    f"{json.dumps(detail)[:300]}", self.url, "everything stays queued")
            self.queue.batch_rejected(batch, errors, {"status": 422, "detail": detail})
            self.counters.rejected += len(errors)
            self.counters.last_error = f"{len(errors)} items rejected by the server: " + \
                "; ".join(list(errors.values())[:3])
            log.warning(self.counters.last_error)
            return "done"
        if resp.status_code == 409:
            self.queue.batch_new_key(batch)
            self.counters.last_error = f"idempotency key {batch.idem_key} refused (409): {_detail(resp)}; new key"
            log.warning(self.counters.last_error)
            return "done"
        if 400 <= resp.status_code < 500:
            self.queue.batch_release(batch)
            hint = FATAL_HINTS.get(resp.status_code, "everything stays queued")
            raise UploadStopped(f"server refused the upload ({resp.status_code}): {_detail(resp)}", self.url,
                                hint + "; every queued message is kept")
        self.counters.last_error = f"server error {resp.status_code}: {str(_detail(resp))[:200]}"
        log.warning(self.counters.last_error)
        return "retry"

    @staticmethod
    def _item_errors(detail: object, n: int) -> dict[int, str]:
        out: dict[int, str] = {}
        if not isinstance(detail, dict):
            return out
        for err in detail.get("errors") or []:
            if not isinstance(err, dict):
                continue
            index = err.get("index")
            if isinstance(index, int) and 0 <= index < n:
                text = str(err.get("message", "invalid"))
                if err.get("field"):
                    text = f"{err['field']}: {text}"
                out[index] = f"{out[index]}; {text}" if index in out else text
        return out
