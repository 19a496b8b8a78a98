"""POST /api/v1/ingest over real HTTP on SQLite and PostgreSQL: the contract in docs/ingest.md."""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from telemetry_items import T0, Peek, alert, at, beat, feedback, gap, hello, new_boot, new_key, post, status

from server.models.identity import Device
from server.models.telemetry import Alert, Beat, DeviceStatus, Feedback, Gap, Hello, IngestBatch


@pytest.fixture()
def db(sessionmaker_) -> Peek:
    return Peek(sessionmaker_)


def _counts(db: Peek, device_id: int) -> dict[str, int]:
    return {name: db.count(table, device_id=device_id)
            for name, table in (("hello", Hello), ("beat", Beat), ("alert", Alert), ("status", DeviceStatus),
                                ("gap", Gap), ("batch", IngestBatch))}


def test_a_batch_of_every_type_is_stored_and_the_device_touched(live_server, db):
    dev = live_server.make_device()
    c = live_server.client(dev.token)
    boot = new_boot()
    items = [hello(boot, 1), beat(boot, 2), beat(boot, 3, "V", flags=1),
             alert(boot, 4, beat_seq=3, ecg={"start_sample": 700, "samples": list(range(500))}),
             status(boot, 5), gap(boot, 6, first=7, last=9), feedback(boot, 4, "relabel", label="S")]
    r = post(c, dev.device_uid, items)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stored"] == 7 and body["duplicates"] == 0 and body["replayed"] is False
    assert body["counts"] == {"hello": 1, "beat": 2, "alert": 1, "status": 1, "gap": 1, "feedback": 1}
    assert isinstance(body["batch_id"], int)

    assert _counts(db, dev.id) == {"hello": 1, "beat": 2, "alert": 1, "status": 1, "gap": 1, "batch": 1}
    a = db.one(select(Alert).where(Alert.device_id == dev.id))
    b = db.one(select(Beat).where(Beat.device_id == dev.id, Beat.seq == 3))
    assert a.beat_id == b.id and b.scores == [-128, -128, 120, -128, -128] and b.label == "V" and b.cost == 41_003
    assert a.ecg_start == 700 and a.ecg_samples == list(range(500))
    assert a.status.value == "relabelled" and a.true_label == "S"
    fb = db.one(select(Feedback).where(Feedback.alert_id == a.id))
    assert fb.source.value == "bedside" and fb.clinician_name == "Dr. Bedside" and fb.user_id is None
    g = db.one(select(Gap).where(Gap.device_id == dev.id))
    assert (g.first, g.last) == (7, 9)

    device = db.get(Device, dev.id)
    assert device.firmware_version == "1.2.3" and device.model_version == "v7" and device.boot_id == boot
    assert device.model_sha256 == "0f" * 32
    assert device.counters["samples"] == 360 * 5 and device.counters["boot_id"] == boot
    assert device.last_seen_at is not None and device.last_seen_at == T0 + timedelta(seconds=6)

    # the device list shows it
    engineer = live_server.make_user("engineer")
    listed = live_server.client(engineer.token).get(f"/api/v1/devices/{dev.device_uid}").json()
    assert listed["firmware_version"] == "1.2.3" and listed["counters"]["samples"] == 1800


def test_u32_extremes_are_stored_exactly(live_server, db):
    dev = live_server.make_device()
    top = 0xFFFF_FFFF
    r = post(live_server.client(dev.token), dev.device_uid,
             [beat(top, top, r_sample=top, cost=top, received_at=at(1)), status(top, 3, uptime_ms=top, lost=top)])
    assert r.status_code == 200, r.text
    b = db.one(select(Beat).where(Beat.device_id == dev.id))
    assert (b.boot_id, b.seq, b.r_sample, b.cost) == (top, top, top, top)


def test_a_repeated_key_answers_the_same_and_stores_nothing(live_server, db):
    dev = live_server.make_device()
    c = live_server.client(dev.token)
    boot = new_boot()
    items = [beat(boot, s) for s in range(1, 11)]
    key = new_key()
    first = post(c, dev.device_uid, items, key)
    assert first.status_code == 200 and first.json()["stored"] == 10
    before = _counts(db, dev.id)

    again = post(c, dev.device_uid, items, key)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "replayed": True}
    assert _counts(db, dev.id) == before

    # the same content with other spacing and key order is the same batch
    reordered = c.post("/api/v1/ingest", headers={"Idempotency-Key": key, "Content-Type": "application/json"},
                       content=__import__("json").dumps({"items": [dict(reversed(list(i.items()))) for i in items],
                                                         "device_id": dev.device_uid}, indent=2))
    assert reordered.status_code == 200 and reordered.json()["replayed"] is True


def test_the_same_key_with_another_body_is_409_and_stores_nothing(live_server, db):
    dev = live_server.make_device()
    c = live_server.client(dev.token)
    boot = new_boot()
    key = new_key()
    assert post(c, dev.device_uid, [beat(boot, 1)], key).status_code == 200
    r = post(c, dev.device_uid, [beat(boot, 1), beat(boot, 2)], key)
    assert r.status_code == 409
    assert key in r.json()["detail"] and "different batch" in r.json()["detail"]
    assert db.count(Beat, device_id=dev.id) == 1
    # another device may use the same key: keys are per device
    other = live_server.make_device()
    assert post(live_server.client(other.token), other.device_uid, [beat(boot, 1)], key).status_code == 200


def test_duplicates_are_skipped_and_counted(live_server, db):
    dev = live_server.make_device()
    c = live_server.client(dev.token)
    boot = new_boot()
    fid = "5a4e3b2c-1d0f-4e9a-8b7c-6d5e4f3a2b1c"
    first = post(c, dev.device_uid, [hello(boot), beat(boot, 2), beat(boot, 3, "V", 1), alert(boot, 4, 3),
                                      feedback(boot, 4, feedback_id=fid)])
    assert first.json()["stored"] == 5
    # a resend under a new key (the bridge lost the answer): old items are duplicates, new ones stored;
    # a message repeated inside the batch counts as a duplicate too
    again = post(c, dev.device_uid, [hello(boot), beat(boot, 2), beat(boot, 3, "V", 1), alert(boot, 4, 3),
                                      feedback(boot, 4, feedback_id=fid), beat(boot, 5), beat(boot, 5),
                                      status(boot, 6)])
    assert again.status_code == 200, again.text
    assert again.json()["stored"] == 2 and again.json()["duplicates"] == 6
    assert again.json()["counts"] == {"hello": 0, "beat": 1, "alert": 0, "status": 1, "gap": 0, "feedback": 0}
    assert db.count(Beat, device_id=dev.id) == 3
    # the same seq in another boot is another message
    assert post(c, dev.device_uid, [beat(new_boot(), 2)]).json()["stored"] == 1


def test_an_invalid_item_rejects_the_batch_and_every_bad_item_is_listed(live_server, db):
    dev = live_server.make_device()
    c = live_server.client(dev.token)
    boot = new_boot()
    post(c, dev.device_uid, [beat(boot, 1), alert(boot, 2, 1)])
    before = _counts(db, dev.id)

    items = [beat(boot, s) for s in range(10, 110)]  # 100 items
    items[7]["scores"] = [1, 2, 3, 4]
    items[12]["label"] = "X"
    items[20] = {**items[20], "seq": 0, "flags": 1.0}
    items[33] = {"type": "heartbeat", "seq": 33}
    del items[41]["received_at"]
    items[50]["received_at"] = "2026-11-24T20:00:00"  # no timezone
    items[60] = alert(boot, 1, beat_seq=1)  # (boot, 1) is already stored as a beat
    items[70] = feedback(boot, 999)  # no such alert
    items[80] = feedback(boot, 2, "relabel")  # relabel without a label
    items[90]["surprise"] = True
    r = post(c, dev.device_uid, items)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail["message"] == "batch rejected: 10 of 100 items are invalid; nothing was stored"
    by_index = {}
    for e in detail["errors"]:
        by_index.setdefault(e["index"], []).append((e["field"], e["message"]))
    assert sorted(by_index) == [7, 12, 20, 33, 41, 50, 60, 70, 80, 90]
    assert by_index[7] == [("scores", "expected 5 scores, got 4")]
    assert by_index[12][0][0] == "label" and "'X'" in by_index[12][0][1]
    assert {f for f, _ in by_index[20]} == {"seq", "flags"}
    assert by_index[33][0][0] == "type" and "heartbeat" in by_index[33][0][1]
    assert by_index[41] == [("received_at", "Field required")]
    assert by_index[50][0][0] == "received_at" and "timezone" in by_index[50][0][1]
    assert by_index[60][0][0] == "seq" and "already used by a beat" in by_index[60][0][1]
    assert by_index[70][0][0] == "alert" and "seq 999" in by_index[70][0][1]
    assert by_index[80] == [("label", "relabel needs a label (the true class: N, S, V, F or Q)")]
    assert by_index[90] == [("surprise", "Extra inputs are not permitted")]
    assert _counts(db, dev.id) == before  # nothing stored, not even the batch row

    # the bridge drops exactly those items and sends the rest under a new key: all stored
    bad = set(by_index)
    rest = [item for i, item in enumerate(items) if i not in bad]
    ok = post(c, dev.device_uid, rest)
    assert ok.status_code == 200 and ok.json()["stored"] == 90


def test_a_feedback_may_refer_to_an_alert_earlier_in_the_batch_but_not_later(live_server):
    dev = live_server.make_device()
    c = live_server.client(dev.token)
    boot = new_boot()
    late = post(c, dev.device_uid, [beat(boot, 1, "V", 1), feedback(boot, 2), alert(boot, 2, 1)])
    assert late.status_code == 422 and late.json()["detail"]["errors"][0]["index"] == 1
    ok = post(c, dev.device_uid, [beat(boot, 1, "V", 1), alert(boot, 2, 1), feedback(boot, 2)])
    assert ok.status_code == 200 and ok.json()["counts"]["feedback"] == 1


def test_an_alert_sent_before_its_beat_is_linked_when_the_beat_arrives(live_server, db):
    dev = live_server.make_device()
    c = live_server.client(dev.token)
    boot = new_boot()
    assert post(c, dev.device_uid, [alert(boot, 5, beat_seq=4)]).status_code == 200
    assert db.one(select(Alert).where(Alert.device_id == dev.id)).beat_id is None
    assert post(c, dev.device_uid, [beat(boot, 4, "V", flags=1)]).status_code == 200
    a = db.one(select(Alert).where(Alert.device_id == dev.id))
    assert a.beat_id == db.one(select(Beat.id).where(Beat.device_id == dev.id))


def test_oversize_batches_are_413_and_store_nothing(live_server, db):
    dev = live_server.make_device()
    boot = new_boot()
    limit = live_server.settings.ingest_max_items
    r = post(live_server.client(dev.token), dev.device_uid, [beat(boot, s) for s in range(1, limit + 2)])
    assert r.status_code == 413
    assert r.json()["detail"] == f"batch of {limit + 1} items; at most {limit} per request"
    assert db.count(Beat, device_id=dev.id) == 0
    # exactly the limit is fine
    r = post(live_server.client(dev.token), dev.device_uid, [beat(boot, s) for s in range(1, limit + 1)])
    assert r.status_code == 200 and r.json()["stored"] == limit


@pytest.mark.parametrize("case", ["no token", "unknown token", "revoked token", "user token"])
def test_only_a_live_device_token_may_ingest(live_server, case):
    dev = live_server.make_device()
    boot = new_boot()
    token = {"no token": None, "unknown token": "hbd_" + "x" * 43, "revoked token": dev.token,
             "user token": None}[case]
    if case == "revoked token":
        engineer = live_server.make_user("engineer")
        revoke = live_server.client(engineer.token).post(
            f"/api/v1/devices/{dev.device_uid}/tokens/{dev.token_id}/revoke")
        assert revoke.status_code in (200, 204), revoke.text
    if case == "user token":
        token = live_server.make_user("admin").token
    r = post(live_server.client(token), dev.device_uid, [beat(boot, 1)])
    if case == "user token":
        assert r.status_code == 403 and "device token" in r.json()["detail"]
    else:
        assert r.status_code == 401 and r.headers.get("www-authenticate") == "Bearer"


def test_a_token_writes_only_its_own_device(live_server, db):
    dev, other = live_server.make_device(), live_server.make_device()
    c = live_server.client(dev.token)
    r = post(c, other.device_uid, [beat(new_boot(), 1)])
    assert r.status_code == 403
    assert dev.device_uid in r.json()["detail"] and other.device_uid in r.json()["detail"]
    r = post(c, "hb-nobody-0000", [beat(new_boot(), 1)])
    assert r.status_code == 404 and "'hb-nobody-0000' is not registered" in r.json()["detail"]
    r = post(c, dev.device_uid, [hello(new_boot(), device_id=other.device_uid)])
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "device_id"
    assert db.count(Beat, device_id=other.id) == 0


def test_bad_requests_get_a_422_in_the_contract_shape(live_server):
    dev = live_server.make_device()
    c = live_server.client(dev.token)
    url = "/api/v1/ingest"
    r = c.post(url, content=b'{"device_id": "x", "items": [', headers={"Idempotency-Key": new_key(),
                                                                      "Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"]["errors"][0]["field"] == "body"
    assert r.json()["detail"]["errors"][0]["message"].startswith("malformed JSON")

    r = c.post(url, json={"device_id": dev.device_uid, "items": [beat(new_boot(), 1)]})  # no Idempotency-Key
    assert r.status_code == 422
    assert r.json()["detail"]["errors"] == [{"index": None, "field": "Idempotency-Key", "message": "Field required"}]

    r = post(c, dev.device_uid, [beat(new_boot(), 1)], key="short")
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "Idempotency-Key"

    r = post(c, dev.device_uid, [])
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "items"

    r = c.post(url, json={"items": [beat(new_boot(), 1)], "extra": 1}, headers={"Idempotency-Key": new_key()})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["detail"]["errors"]} == {"device_id", "extra"}
    assert all(e["index"] is None for e in r.json()["detail"]["errors"])


def _post_together(clients, device_uid, batches, keys):
    barrier = threading.Barrier(len(clients))
    results = [None] * len(clients)

    def run(i):
        barrier.wait()
        results[i] = post(clients[i], device_uid, batches[i], keys[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_two_concurrent_posts_of_the_same_batch_store_it_once(live_server, db):
    dev = live_server.make_device()
    clients = [live_server.client(dev.token), live_server.client(dev.token)]
    for _ in range(3):
        boot = new_boot()
        items = [beat(boot, s) for s in range(1, 1001)]
        key = new_key()
        a, b = _post_together(clients, dev.device_uid, [items, items], [key, key])
        assert a.status_code == 200 and b.status_code == 200, (a.text, b.text)
        answers = sorted([a.json(), b.json()], key=lambda x: x["replayed"])
        assert [x["replayed"] for x in answers] == [False, True]
        assert answers[1] == {**answers[0], "replayed": True}
        assert answers[0]["stored"] == 1000
        assert db.count(Beat, device_id=dev.id, boot_id=boot) == 1000
        assert db.count(IngestBatch, device_id=dev.id, idempotency_key=key) == 1

def test_two_concurrent_batches_with_the_same_messages_store_each_once(live_server, db):
    """Different keys, same messages (a bridge restarted mid-upload): one stores, the other sees duplicates."""
    dev = live_server.make_device()
    clients = [live_server.client(dev.token), live_server.client(dev.token)]
    boot = new_boot()
    items = [beat(boot, s) for s in range(1, 501)]
    a, b = _post_together(clients, dev.device_uid, [items, items], [new_key(), new_key()])
    assert a.status_code == 200 and b.status_code == 200, (a.text, b.text)
    assert a.json()["stored"] + b.json()["stored"] == 500
    assert a.json()["duplicates"] + b.json()["duplicates"] == 500
    assert db.count(Beat, device_id=dev.id) == 500


def test_the_openapi_schema_documents_the_items(live_server):
    schema = live_server.client().get("/openapi.json").json()
    op = schema["paths"]["/api/v1/ingest"]["post"]
    assert {"401", "403", "404", "409", "413", "422"} <= set(op["responses"])
    request = schema["components"]["schemas"]["IngestRequest"]
    kinds = {branch["properties"]["type"].get("const") for branch in request["properties"]["items"]["items"]["oneOf"]}
    assert kinds == {"hello", "beat", "alert", "status", "gap", "feedback"}
    assert request["examples"][0]["items"][1]["type"] == "beat"


def test_the_bridge_uploader_and_this_server_agree(live_server, db, tmp_path):
    """The real edge bridge (durable queue + uploader) uploads device messages and a bedside feedback here."""
    from edge_bridge import wire
    from edge_bridge.queue import DurableQueue
    from edge_bridge.uploader import Uploader

    dev = live_server.make_device()
    boot = new_boot()
    frames = [(1, wire.Hello(dev.device_uid, "1.0.0", "v9", bytes(range(32)), 1, boot, 360)),
              (2, wire.Beat(720, 0, (127, -128, -128, -128, -128), 41_000, 2)),
              (3, wire.Beat(1010, 2, (-120, -128, 119, -128, -128), 41_100, 1)),
              (4, wire.Alert(3, 1010, 2, 119, 1, 200)),
              (5, wire.Gap(6, 7)),
              (8, wire.Status(9000, 3240, 2, 1, 0, 0, 0, 0, 2, 5, 2))]
    queue = DurableQueue(tmp_path / "bridge.db")
    queue.store(dev.device_uid, boot, frames, settled_through=8)
    queue.add_feedback(f"{boot}:4", "relabel", "S", "Dr. Bridge")
    uploader = Uploader(queue, live_server.base_url, dev.token, batch_size=4)
    try:
        while uploader.step():
            pass
    finally:
        uploader.stop()
    assert uploader.fatal is None and uploader.counters.rejected == 0, uploader.counters.last_error
    assert uploader.counters.stored == 7

    counts = _counts(db, dev.id)
    assert counts.pop("batch") >= 2  # 7 items in batches of at most 4
    assert counts == {"hello": 1, "beat": 2, "alert": 1, "status": 1, "gap": 1}
    b = db.one(select(Beat).where(Beat.device_id == dev.id, Beat.seq == 3))
    assert (b.r_sample, b.label, b.scores, b.cost, b.flags) == (1010, "V", [-120, -128, 119, -128, -128], 41_100, 1)
    a = db.one(select(Alert).where(Alert.device_id == dev.id))
    assert (a.beat_id, a.status.value, a.true_label) == (b.id, "relabelled", "S")
    h = db.one(select(Hello).where(Hello.device_id == dev.id))
    assert h.model_sha256 == bytes(range(32)).hex() and h.boot_id == boot


@pytest.mark.slow
def test_the_throughput_benchmark_runs(tmp_path):
    """benchmarks/ingest_throughput.py end to end (its own server and SQLite database) on a few small batches;
    no speed is asserted here."""
    import subprocess
    import sys

    out = tmp_path / "result.json"
    bench = Path(__file__).resolve().parents[2] / "benchmarks" / "ingest_throughput.py"
    proc = subprocess.run([sys.executable, str(bench), "--batches", "6", "--batch-size", "20", "--clients", "2",
                           "--warmup", "1", "--target", "0", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ratio ingest / bare parse" in proc.stdout and "database holds all 140 beats sent" in proc.stdout
    result = json.loads(out.read_text())
    assert [r["beats"] for r in result["results"]] == [120, 120] and result["ratio"] > 0
