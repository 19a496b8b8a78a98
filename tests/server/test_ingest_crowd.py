"""More concurrent ingest requests than the server has worker threads (anyio's default pool: 40) are all served:
on SQLite they take turns on a lock awaited on the event loop, so the waiting ones hold no thread and the one
holding the turn can always finish (with a thread lock there, the server deadlocked for good)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from telemetry_items import Peek, beat, hello, new_boot, post

from server.models.telemetry import Beat

CLIENTS = 64  # > 40 worker threads


def test_a_crowd_of_uploads_is_served_and_stored_once(live_server, sessionmaker_):
    dev = live_server.make_device()
    boot = new_boot()
    batches = [[hello(boot)]] + [[beat(boot, 2 + 5 * k + i) for i in range(5)] for k in range(CLIENTS - 1)]

    def upload(items):
        c = live_server.client(dev.token, timeout=90.0)
        try:
            return post(c, dev.device_uid, items).status_code
        finally:
            c.close()

    with ThreadPoolExecutor(CLIENTS) as pool:
        codes = list(pool.map(upload, batches))
    assert codes == [200] * CLIENTS
    assert Peek(sessionmaker_).count(Beat, device_id=dev.id) == 5 * (CLIENTS - 1)
    # and the server still answers
    assert live_server.client().get("/api/v1/health").status_code == 200
