"""The bridge against the real firmware image in QEMU (socket://): replay through the link with a dropped
connection in the middle, a device restart, and `heartbeat replay --emulator` end to end.

* 5 minutes of DS2 record 100 streamed by edge_bridge.replay through DeviceLink, the socket closed halfway: the
  queue then holds every BEAT and ALERT the device's STATUS counts for that boot, each once; the beats equal the
  toolchain's twin (toolchain.device_eval.classify_stream) on the same samples, and the EC57 summary equals the one
  `heartbeat evaluate --pipeline` computes (toolchain.ec57 on the twin's beats, same annotations);
* QEMU restarted on the same port: the link reconnects, sees a new boot_id, records the old boot's end;
* the CLI: JSON lines with the documented fields and the EC57 table.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from edge_bridge.link import DeviceLink
from edge_bridge.queue import DurableQueue
from edge_bridge.replay import BeatCollector, read_recording, stream_recording
from heartbeat_core.domain import AAMI_CLASSES, FS
from heartbeat_system.emulator import Emulator
from heartbeat_system.parts import heartbeat_command

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def emu(qemu_image, tmp_path):
    with Emulator(qemu_image, log_path=tmp_path / "qemu.log") as e:
        e.wait_listening()
        yield e


def until(cond, what: str, limit_s: float = 60.0):
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def test_replay_with_a_dropped_link_holds_every_beat_once_and_equals_the_pipeline(emu, tmp_path, mitdb_dir):
    from toolchain.device_eval import classify_stream
    from toolchain.ec57 import ec57_summary, match_beats

    rec = read_recording("100", mitdb_dir, None, 300)
    assert rec.lead == "MLII" and len(rec.codes) == 300 * FS
    with DurableQueue(tmp_path / "queue.db") as q:
        collector = BeatCollector(rec)
        link = DeviceLink(emu.url, q, ack_every=32, ack_interval_s=1.0, backoff_initial_s=0.1,
                          on_message=collector).start()
        dropped = []

        def progress(done, n):
            if not dropped and done >= n // 2:
                dropped.append(done)
                link.drop()  # the cable is pulled: the reader reconnects, the replay continues from STATUS

        try:
            result = stream_recording(link, collector, progress=progress)
        finally:
            link.stop()
        assert dropped and link.counters.connects == 2 and result.reconnects >= 1
        st = result.status
        assert st.samples == len(rec.codes) and st.lost == 0 and st.overruns == 0
        boot = result.hello.boot_id
        rows = q.device_messages(result.hello.device_id, boot)
        seqs = [s for s, _, _ in rows]
        assert len(seqs) == len(set(seqs))
        reports = [(s, k) for s, k, _ in rows if k in ("beat", "alert")]
        assert len([1 for _, k in reports if k == "beat"]) == st.beats
        assert len([1 for _, k in reports if k == "alert"]) == st.alerts
        assert q.boot(result.hello.device_id, boot)["held_through"] >= st.last_seq

    # every beat exactly once, equal to the twin on the same samples
    flatbuffer = (REPO / "models" / "current" / "model_int8.tflite").read_bytes()
    beats, scores = classify_stream(flatbuffer, rec.codes)
    keep = beats.r >= 0
    twin = [(int(r), AAMI_CLASSES[int(np.argmax(s))], [int(v) for v in s])
            for r, s in zip(beats.r[keep], scores[keep], strict=True)]
    got = [(b["sample"], b["label"], b["scores"]) for b in result.beats]
    assert got == twin

    # the EC57 summary equals the pipeline evaluation's scoring of the same stretch
    pred = scores[keep].argmax(axis=1)
    want = ec57_summary(match_beats(rec.ref_samples, rec.ref_labels, beats.r[keep], pred, fs=FS))
    assert result.ec57() == want
    assert want["qrs"]["se"] > 0.99 and want["n_ref"] > 300


def test_a_restarted_device_is_a_new_boot(qemu_image, tmp_path):
    e1 = Emulator(qemu_image, log_path=tmp_path / "q1.log").start()
    e1.wait_listening()
    with DurableQueue(tmp_path / "queue.db") as q:
        link = DeviceLink(e1.url, q, backoff_initial_s=0.1, backoff_max_s=0.5).start()
        try:
            first, _ = link.wait_ready(60)
            e1.stop()  # power cycle: the same port, a new boot
            e2 = Emulator(qemu_image, log_path=tmp_path / "q2.log", port=e1.port).start()
            try:
                until(lambda: link.boot_id not in (None, first.boot_id), "the new boot seen")
                second, _ = link.wait_ready(60)
            finally:
                link.stop()
                e2.stop()
        finally:
            e1.stop()
        assert second.boot_id != first.boot_id and link.counters.boots == 2
        assert any(f"boot {first.boot_id} -> {second.boot_id}" in t for _, _, t in q.events())
        assert q.boot(first.device_id, first.boot_id)["hello"]["boot_id"] == first.boot_id


def test_replay_command_with_the_emulator(tmp_path, mitdb_dir):
    out = tmp_path / "beats.jsonl"
    env = {**os.environ, "COLUMNS": "200", "HEARTBEAT_DATA_DIR": str(mitdb_dir),
           "HEARTBEAT_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.run(heartbeat_command("replay", "208", "--emulator", "--seconds", "60", "--lead", "0", "--out",
                                            str(out)), capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) > 60
    first = lines[0]
    assert set(first) >= {"record", "sample", "label", "scores", "model_version"}
    assert first["record"] == "208" and first["label"] in AAMI_CLASSES and len(first["scores"]) == 5
    card = json.loads((REPO / "models" / "current" / "card.json").read_text())
    assert first["model_version"] == card["version"]
    assert [x["sample"] for x in lines] == sorted(x["sample"] for x in lines)
    assert "AAMI EC57" in proc.stdout and "QRS" in proc.stdout
    assert {x["label"] for x in lines} & {"V", "F"}  # record 208 is full of ventricular beats


def test_a_sigkilled_replay_resumes_where_the_device_is_and_loses_nothing(emu, tmp_path, mitdb_dir):
    import signal
    import sqlite3

    from toolchain.device_eval import classify_stream

    env = {**os.environ, "COLUMNS": "200", "HEARTBEAT_DATA_DIR": str(mitdb_dir),
           "HEARTBEAT_STATE_DIR": str(tmp_path / "state")}
    cmd = heartbeat_command("replay", "100", "--device", emu.url, "--seconds", "120", "--resume")
    first = subprocess.Popen(cmd + ["--out", str(tmp_path / "a.jsonl")], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    db = tmp_path / "state" / "bridge" / "queue.db"

    def beats_queued() -> int:
        if not db.exists():
            return 0
        con = sqlite3.connect(db, timeout=30)
        try:
            return con.execute("SELECT COUNT(*) FROM messages WHERE kind='beat'").fetchone()[0]
        except sqlite3.OperationalError:
            return 0
        finally:
            con.close()

    try:
        until(lambda: beats_queued() >= 40 or first.poll() is not None, "beats queued by the first run", 120)
        assert first.poll() is None, "the first run ended before it could be killed"
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL and not (tmp_path / "a.jsonl").exists()

    out = tmp_path / "b.jsonl"
    proc = subprocess.run(cmd + ["--out", str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = [json.loads(x) for x in out.read_text().splitlines()]
    rec = read_recording("100", mitdb_dir, None, 120)
    flatbuffer = (REPO / "models" / "current" / "model_int8.tflite").read_bytes()
    beats, scores = classify_stream(flatbuffer, rec.codes)
    keep = beats.r >= 0
    assert [(b["sample"], b["scores"]) for b in got] == \
        [(int(r), [int(v) for v in s]) for r, s in zip(beats.r[keep], scores[keep], strict=True)]
    seqs = [b["seq"] for b in got]
    assert len(seqs) == len(set(seqs)) and len({b["boot_id"] for b in got}) == 1
