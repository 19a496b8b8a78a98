"""The durable queue: dedupe by (device, boot, seq), held_through, batches and their keys, the disk budget, and a
real SIGKILL of a process in the middle of writing."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_bridge import wire
from edge_bridge.queue import DurableQueue, QueueError, QueueFullError

REPO = Path(__file__).resolve().parents[2]
DEV = "hb-test-1"


def beat(i: int) -> wire.Beat:
    return wire.Beat(r_sample=300 * i, beat_class=i % 5, scores=(1, 2, 3, 4, 5), cost=4000 + i, flags=0)


def hello(boot: int) -> wire.Hello:
    return wire.Hello(DEV, "0.1.0", "cnn4-test", bytes(range(32)), 1, boot, 360)


def alert(beat_seq: int) -> wire.Alert:
    return wire.Alert(beat_seq, 300 * beat_seq, 2, 100, 1, 204)


@pytest.fixture()
def q(tmp_path):
    with DurableQueue(tmp_path / "queue.db") as queue:
        yield queue


def test_messages_become_ingest_items_and_retransmissions_are_recognised(q):
    res = q.store(DEV, 7, [(1, hello(7)), (2, beat(2)), (3, alert(2))])
    assert (res.stored, res.duplicates, res.held_through) == (3, 0, 3)
    again = q.store(DEV, 7, [(2, beat(2)), (3, alert(2)), (4, beat(4))])  # a RESEND replay plus one new
    assert (again.stored, again.duplicates, again.held_through) == (1, 2, 4)
    items = {seq: item for seq, _, item in q.device_messages(DEV, 7)}
    assert sorted(items) == [1, 2, 3, 4]
    assert items[1]["type"] == "hello" and items[1]["model_sha256"] == bytes(range(32)).hex()
    assert "device_id" not in items[1] and items[1]["boot_id"] == 7
    assert items[2] == {"type": "beat", "boot_id": 7, "seq": 2, "received_at": items[2]["received_at"],
                        "r_sample": 600, "label": "V", "scores": [1, 2, 3, 4, 5], "cost": 4002, "flags": 0}
    assert items[3]["type"] == "alert" and items[3]["label"] == "V" and items[3]["beat_seq"] == 2
    assert items[2]["received_at"].endswith("+00:00")
    # the same seq in another boot or of another device is another message
    assert q.store(DEV, 8, [(2, beat(2))]).stored == 1
    assert q.store("hb-test-2", 7, [(2, beat(2))]).stored == 1
    assert q.counts()["ready"] == 6


def test_held_through_is_the_contiguous_prefix_and_a_replay_end_settles_it(q):
    assert q.store(DEV, 1, [(1, hello(1)), (2, beat(2)), (5, beat(5))]).held_through == 2
    # a STATUS ending a RESEND replay at seq 9: seqs 3, 4 were never-retained frames lost in transit
    res = q.store(DEV, 1, [(7, beat(7)), (9, wire.Status(*([0] * 11)))], settled_through=9)
    assert res.held_through == 9
    assert q.store(DEV, 1, [(10, beat(10))]).held_through == 10
    assert q.boot(DEV, 1)["held_through"] == 10


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.integers(1, 40), max_size=12), max_size=8))
def test_any_delivery_order_with_repeats_stores_each_seq_once(tmp_path_factory, deliveries):
    path = tmp_path_factory.mktemp("q") / "queue.db"
    with DurableQueue(path) as q:
        stored = dup = 0
        for chunk in deliveries:
            res = q.store(DEV, 3, [(s, beat(s)) for s in chunk])
            stored += res.stored
            dup += res.duplicates
        every = [s for chunk in deliveries for s in chunk]
        assert [s for s, _, _ in q.device_messages(DEV, 3)] == sorted(set(every))
        assert stored == len(set(every)) and stored + dup == len(every)
        held = 0
        while held + 1 in set(every):
            held += 1
        assert (q.boot(DEV, 3) or {"held_through": 0})["held_through"] == held


def test_batches_keep_their_key_and_body_until_settled(tmp_path):
    path = tmp_path / "queue.db"
    q = DurableQueue(path)
    q.store(DEV, 1, [(s, beat(s)) for s in range(1, 8)])
    b = q.next_batch(5)
    body = json.loads(b.body)
    assert body["device_id"] == DEV and [i["seq"] for i in body["items"]] == [1, 2, 3, 4, 5]
    assert q.counts()["in_flight"] == 5
    q.close()

    # a restart: in_flight rows are ready again, and the next batch is the same batch, same key, same body
    q = DurableQueue(path)
    assert q.counts()["in_flight"] == 0 and q.counts()["ready"] == 7
    again = q.next_batch(5)
    assert (again.id, again.idem_key, again.body, again.row_ids) == (b.id, b.idem_key, b.body, b.row_ids)
    # 422: items 1 and 3 rejected with the server's words, the rest go into a new batch with a new key
    q.batch_rejected(again, {1: "scores: expected 5 scores, got 4", 3: "seq: must be >= 1"}, {"status": 422})
    rejected = q.rejected()
    assert [(r["seq"], r["error"]) for r in rejected] == [(2, "scores: expected 5 scores, got 4"),
                                                        (4, "seq: must be >= 1")]
    nxt = q.next_batch(10)
    assert nxt.idem_key != b.idem_key
    assert [i["seq"] for i in json.loads(nxt.body)["items"]] == [1, 3, 5, 6, 7]
    q.batch_done(nxt, {"stored": 5})
    assert q.counts() == {"ready": 0, "in_flight": 0, "acked": 5, "rejected": 2, "local": 0}
    assert q.next_batch(10) is None
    # acked beats at or below held_through can go; rejected ones stay
    assert q.prune() == 5
    assert q.counts()["rejected"] == 2
    q.close()


def test_feedback_goes_through_the_queue_and_names_what_is_wrong(q):
    q.store(DEV, 4, [(1, hello(4)), (2, beat(2)), (3, alert(2))])
    local_id = q.alerts()[0]["id"]
    item = q.add_feedback(str(local_id), "relabel", "S", "Dr. Who")
    assert item["alert"] == {"boot_id": 4, "seq": 3} and item["action"] == "relabel" and item["label"] == "S"
    item2 = q.add_feedback("4:3", "confirm", None, "Dr. Who")
    assert item2["feedback_id"] != item["feedback_id"]
    assert q.alerts()[0]["feedback"] == "confirm"
    items = json.loads(q.next_batch(10).body)["items"]
    assert [i["type"] for i in items] == ["hello", "beat", "alert", "feedback", "feedback"]  # after its alert
    assert items[3]["clinician"] == "Dr. Who" and "boot_id" not in items[3] and "seq" not in items[3]
    with pytest.raises(QueueError, match="no alert 99"):
        q.add_feedback("99", "confirm", None, "Dr. Who")
    with pytest.raises(QueueError, match="unknown class 'X'"):
        q.add_feedback(str(local_id), "relabel", "X", "Dr. Who")
    with pytest.raises(QueueError, match="neither a local id nor BOOT:SEQ"):
        q.add_feedback("abc", "confirm", None, "Dr. Who")
    with pytest.raises(QueueError, match="clinician"):
        q.add_feedback(str(local_id), "confirm", None, " ")


def test_full_disk_budget_refuses_new_messages_and_keeps_every_queued_one(tmp_path, caplog):
    q = DurableQueue(tmp_path / "queue.db", budget_bytes=96 * 1024, warn_fraction=0.8)
    seq = 0
    warned_at = None
    with pytest.raises(QueueFullError, match="queue is full") as info:
        while True:
            chunk = [(s, beat(s)) for s in range(seq + 1, seq + 21)]
            q.store(DEV, 1, chunk)
            seq += 20
            if warned_at is None and any("DISK BUDGET:" in t for _, _, t in q.events()):
                warned_at = q.used_bytes()
    assert "HEARTBEAT_BRIDGE_DISK_BUDGET_BYTES" in info.value.one_line()
    assert warned_at is not None and 0.8 * 96 * 1024 <= warned_at < 96 * 1024  # loud warning before it was full
    assert q.full and any("DISK BUDGET FULL" in t for _, _, t in q.events())
    # nothing of the refused chunk was written, everything before it is intact
    assert [s for s, _, _ in q.device_messages(DEV, 1)] == list(range(1, seq + 1))
    assert q.boot(DEV, 1)["held_through"] == seq
    with pytest.raises(QueueFullError):
        q.store(DEV, 1, [(seq + 1, beat(seq + 1))])
    # uploads and pruning make room: new messages are taken again
    while (b := q.next_batch(100)) is not None:
        q.batch_done(b, {})
    assert q.prune() == seq
    assert q.store(DEV, 1, [(seq + 1, beat(seq + 1))]).stored == 1 and not q.full
    q.close()


def test_a_file_that_is_not_a_queue_is_refused_naming_it(tmp_path):
    bad = tmp_path / "queue.db"
    bad.write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(QueueError, match="queue database cannot be opened") as info:
        DurableQueue(bad)
    assert str(bad) in info.value.one_line()
    assert bad.read_bytes() == b"this is not an SQLite database" * 100


CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from edge_bridge import wire
    from edge_bridge.queue import DurableQueue

    q = DurableQueue(Path(sys.argv[1]))
    seq = 0
    while True:
        chunk = []
        for _ in range(5):
            seq += 1
            chunk.append((seq, wire.Beat(seq * 300, 0, (0, 0, 0, 0, 0), seq, 0)))
        q.store("hb-crash", 1, chunk)
        print("stored", seq, flush=True)
        if seq == 100:
            b = q.next_batch(30)
            print("batch", b.idem_key, b.id, flush=True)
""")


def test_a_sigkilled_writer_loses_nothing_it_committed_and_its_batch_keeps_its_key(tmp_path):
    path = tmp_path / "queue.db"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    committed, key = 0, None
    try:
        for line in proc.stdout:
            parts = line.split()
            if parts[0] == "stored":
                committed = int(parts[1])
            else:
                key = parts[1]
            if committed >= 400:
                break
        os.kill(proc.pid, signal.SIGKILL)  # in the middle of writing
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()
    with DurableQueue(path) as q:
        seqs = [s for s, _, _ in q.device_messages("hb-crash", 1)]
        assert seqs[:committed] == list(range(1, committed + 1))  # every committed chunk is there
        assert seqs == list(range(1, len(seqs) + 1))  # and nothing half-written
        assert q.counts()["in_flight"] == 0  # the batch in flight at the kill is ready again ...
        b = q.next_batch(30)
        assert b.idem_key == key and [json.loads(b.body)["items"][0]["seq"]] == [1]  # ... under the same key
        assert q.boot("hb-crash", 1)["held_through"] == len(seqs)


def test_a_reader_beside_the_uploader_leaves_its_batch_alone(q):
    """`heartbeat bridge status|alerts|feedback` open the queue while `bridge run` uploads: the batch in flight
    stays in flight, and its outcome still lands on its rows."""
    q.store(DEV, 7, [(1, hello(7)), (2, beat(2)), (3, beat(3))])
    batch = q.next_batch(10)
    assert q.counts()["in_flight"] == 3
    with DurableQueue(q.path, recover=False) as reader:
        assert reader.counts()["in_flight"] == 3
    q.batch_done(batch, {"stored": 3})
    assert q.counts()["acked"] == 3


@pytest.mark.parametrize("outcome", ["done", "rejected"])
def test_a_batch_outcome_reaches_rows_that_a_recovery_made_ready(q, outcome):
    """Even when another opener put the batch's rows back to ready (a recovery while this uploader still ran),
    a 200 acknowledges them and a 422 rejects the named item and sends the others again: nothing is stranded."""
    q.store(DEV, 7, [(1, hello(7)), (2, beat(2)), (3, beat(3))])
    batch = q.next_batch(10)
    with DurableQueue(q.path):  # recover=True
        pass
    assert q.counts()["ready"] == 3
    if outcome == "done":
        q.batch_done(batch, {"stored": 3})
        assert q.counts()["acked"] == 3 and q.next_batch(10) is None
    else:
        q.batch_rejected(batch, {1: "beat: scores: bad"}, {"detail": "x"})
        assert q.counts()["rejected"] == 1
        again = q.next_batch(10)
        assert again is not None and len(again.row_ids) == 2 and again.idem_key != batch.idem_key
