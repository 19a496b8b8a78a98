"""The link over pyserial's loop:// (what the test writes into the port is what the bridge reads): handshake,
durable-before-HOST_ACK, corrupt frames skipped, seq jumps answered by RESEND, retransmissions recognised,
a device restart, a restarted bridge, and a full queue that stops acknowledging.

(On loop:// the bridge's own host frames come back to it too; its decoder takes device -> host types only, so they
are counted as `unknown` and dropped, which these tests also show.)"""
from __future__ import annotations

import time

import pytest

from edge_bridge import wire
from edge_bridge.link import DeviceLink
from edge_bridge.queue import DurableQueue

DEV = "hb-loop-1"
BOOT = 0x1234


def until(cond, what: str, limit_s: float = 20.0):
    """Polls `cond` (a liveness limit, not a speed check)."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def hello(boot: int = BOOT) -> wire.Hello:
    return wire.Hello(DEV, "0.1.0", "cnn4-test", bytes(32), 1, boot, 360)


def status(last_seq: int, beats: int = 0, samples: int = 0) -> wire.Status:
    return wire.Status(1000, samples, beats, 0, 0, 0, 0, 0, 0, last_seq, 0)


def beat(seq: int) -> wire.Beat:
    return wire.Beat(100 * seq, 0, (100, -100, -120, -128, -128), 5000, 0)


def inject(link: DeviceLink, *frames: tuple[int, wire.Message], corrupt: bool = False) -> None:
    data = b"".join(wire.encode(m, s) for s, m in frames)
    if corrupt:
        data = bytearray(data)
        data[5] ^= 0x40 if data[5] not in (0x00, 0x40) else 0x01
        data = bytes(data)
    with link.port_lock:  # loop:// writes byte by byte: never interleave with the bridge's own frames
        link._port.write(data)


def sent(link: DeviceLink, cls) -> list:
    return [m for _, m in list(link.counters.sent) if isinstance(m, cls)]


@pytest.fixture()
def queue(tmp_path):
    with DurableQueue(tmp_path / "queue.db") as q:
        yield q


@pytest.fixture()
def link(queue):
    lk = DeviceLink("loop://", queue, ack_every=4, ack_interval_s=3600, backoff_initial_s=0.05)
    lk.start()
    until(lambda: sent(lk, wire.GetStatus), "handshake sent")
    yield lk
    lk.stop()


def test_handshake_store_then_acknowledge(link, queue):
    assert [type(m) for _, m in link.counters.sent[:2]] == [wire.HelloRequest, wire.GetStatus]
    inject(link, (1, hello()), (2, status(0)))
    until(lambda: link.held_through == 2, "hello and status held")
    assert not sent(link, wire.Resend)  # the device had nothing beyond what the bridge holds
    inject(link, *[(s, beat(s)) for s in range(3, 11)])
    until(lambda: link.held_through == 10, "beats held")
    acks = until(lambda: sent(link, wire.HostAck), "a HOST_ACK")
    # acknowledged only what the queue holds, and what it holds is there for good
    assert all(a.device_seq <= 10 for a in acks) and acks[-1].device_seq >= 4
    assert [s for s, _, _ in queue.device_messages(DEV, BOOT)] == list(range(1, 11))
    until(lambda: link.counters.unknown >= 2, "own host frames seen and dropped")
    assert link.counters.corrupt == 0


def test_update_answers_and_boot_reports_take_their_seq_and_stay_local(link, queue):
    """A device's UPDATE_STATE and BOOT_REPORT hold a place in its sequence space: stored (never uploaded), so the
    seqs after them are contiguous and acknowledged, and the link does not stop on them."""
    report = wire.BootReport(0, 1, 2, 3, 4, 1, int(wire.BootOutcome.NONE), int(wire.UpdateResult.OK), 1)
    answer = wire.UpdateState(7, int(wire.TransferState.IDLE), int(wire.UpdateResult.OK), 0)
    inject(link, (1, hello()), (2, report), (3, status(0)), (4, answer), (5, beat(5)))
    until(lambda: link.held_through == 5, "all five held")
    kinds = {s: k for s, k, _ in queue.device_messages(DEV, BOOT)}
    assert kinds == {1: "hello", 2: "boot_report", 3: "status", 4: "update_state", 5: "beat"}
    assert queue.counts()["ready"] == 3  # hello, status, beat are uploaded; the update messages stay local


def test_corrupt_frame_is_skipped_and_the_gap_is_asked_for_again(link, queue):
    inject(link, (1, hello()), (2, status(0)), (3, beat(3)))
    until(lambda: link.held_through == 3, "start held")
    inject(link, (4, beat(4)), corrupt=True)
    inject(link, (5, beat(5)))
    until(lambda: sent(link, wire.Resend), "RESEND after the jump")
    assert link.counters.corrupt == 1
    assert sent(link, wire.Resend)[-1].after_seq == 3
    assert link.held_through == 3  # 5 is stored, but 4 is missing: nothing beyond 3 is acknowledged
    assert all(a.device_seq <= 3 for a in sent(link, wire.HostAck))
    # the device's answer: the retained frames again (5 a duplicate), then STATUS
    inject(link, (4, beat(4)), (5, beat(5)), (6, status(5, beats=3)))
    until(lambda: link.held_through == 6, "replay settled")
    assert link.counters.duplicates == 1
    assert [s for s, _, _ in queue.device_messages(DEV, BOOT)] == [1, 2, 3, 4, 5, 6]
    link.flush_ack()
    until(lambda: sent(link, wire.HostAck) and sent(link, wire.HostAck)[-1].device_seq == 6, "ack 6")


def test_a_replay_end_settles_frames_that_are_never_resent(link, queue):
    inject(link, (1, hello()), (2, status(0)), (3, beat(3)))
    until(lambda: link.held_through == 3, "start held")
    inject(link, (6, beat(6)))  # 4 (a STATUS lost with an old connection) and 5 (a lost beat) are missing
    until(lambda: sent(link, wire.Resend), "RESEND")
    inject(link, (5, beat(5)), (7, status(6, beats=4)))  # the ring held 5; 4 was never retained
    until(lambda: link.held_through == 7, "settled through the replay's STATUS")
    assert [s for s, _, _ in queue.device_messages(DEV, BOOT)] == [1, 2, 3, 5, 6, 7]


def test_a_new_boot_is_a_new_sequence_space_and_is_recorded(link, queue):
    inject(link, (1, hello()), (2, status(0)), (3, beat(3)), (4, beat(4)))
    until(lambda: link.held_through == 4, "first boot held")
    inject(link, (1, hello(BOOT + 1)), (2, beat(2)))
    until(lambda: link.boot_id == BOOT + 1 and link.held_through == 2, "second boot held")
    assert link.counters.boots == 2
    assert [s for s, _, _ in queue.device_messages(DEV, BOOT + 1)] == [1, 2]
    assert len(queue.device_messages(DEV, BOOT)) == 4  # nothing of the old boot is touched
    assert any(f"boot {BOOT} -> {BOOT + 1}" in text for _, _, text in queue.events())


def test_a_restarted_bridge_resends_from_what_its_queue_holds(tmp_path):
    path = tmp_path / "queue.db"
    with DurableQueue(path) as q:
        q.store(DEV, BOOT, [(1, hello()), (2, status(0)), (3, beat(3)), (4, beat(4))])
    with DurableQueue(path) as q:
        lk = DeviceLink("loop://", q, ack_every=1, backoff_initial_s=0.05).start()
        try:
            until(lambda: sent(lk, wire.GetStatus), "handshake")
            inject(lk, (9, hello()), (10, status(8, beats=6)))
            resend = until(lambda: sent(lk, wire.Resend), "RESEND from the queue's held_through")
            assert resend[0].after_seq == 4
            inject(lk, (5, beat(5)), (6, beat(6)), (7, beat(7)), (8, beat(8)), (11, status(8, beats=6)))
            until(lambda: lk.held_through == 11, "all held")
            assert [s for s, _, _ in q.device_messages(DEV, BOOT)] == list(range(1, 12))
        finally:
            lk.stop()


def test_a_full_queue_refuses_and_stops_acknowledging_keeping_what_it_has(tmp_path):
    with DurableQueue(tmp_path / "queue.db", budget_bytes=192 * 1024) as q:
        lk = DeviceLink("loop://", q, ack_every=1, backoff_initial_s=0.05).start()
        try:
            until(lambda: sent(lk, wire.GetStatus), "handshake")
            inject(lk, (1, hello()), (2, status(0)))
            until(lambda: lk.held_through == 2, "hello held")
            seq = 2
            while not q.full:
                inject(lk, *[(s, beat(s)) for s in range(seq + 1, seq + 41)])
                seq += 40
                until(lambda seq=seq: lk.held_through == seq or q.full, "chunk stored or refused")
            held = lk.held_through
            until(lambda: lk.counters.refused > 0, "refusal counted")
            before = [s for s, _, _ in q.device_messages(DEV, BOOT)]
            acks_before = len(sent(lk, wire.HostAck))
            inject(lk, *[(s, beat(s)) for s in range(seq + 1, seq + 11)])
            until(lambda: lk.counters.frames >= seq + 10, "frames read")
            assert [s for s, _, _ in q.device_messages(DEV, BOOT)] == before == list(range(1, held + 1))
            assert len(sent(lk, wire.HostAck)) == acks_before  # nothing more acknowledged
            assert all(a.device_seq <= held for a in sent(lk, wire.HostAck))
            assert "queue is full" in lk.counters.last_error
            # uploads and pruning make room: the bridge asks the device again for what it refused
            resends = len(sent(lk, wire.Resend))
            while (b := q.next_batch(100)) is not None:
                q.batch_done(b, {})
            q.prune()
            after = until(lambda: len(sent(lk, wire.Resend)) > resends and sent(lk, wire.Resend), "RESEND")
            assert after[-1].after_seq == held
            inject(lk, *[(s, beat(s)) for s in range(held + 1, seq + 11)], (seq + 11, status(seq + 10)))
            until(lambda: lk.held_through == seq + 11, "the refused frames held after all")
        finally:
            lk.stop()


def test_the_link_reconnects_after_the_port_drops(link, queue):
    inject(link, (1, hello()), (2, status(0)))
    until(lambda: link.held_through == 2, "held")
    connects = link.counters.connects
    link.drop()
    until(lambda: link.counters.connects > connects and link.connected, "reconnected")
    until(lambda: len(sent(link, wire.HelloRequest)) >= 2, "handshake again")
