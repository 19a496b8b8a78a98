"""Bridge settings (options > environment > TOML file > defaults) and the `heartbeat bridge` commands' answers to
bad input, and those of `heartbeat replay` (heartbeat_system/cli.py, on the bridge's settings and replay code): one
`error:` line naming what was wrong, and nothing queued touched."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from edge_bridge import wire
from edge_bridge.queue import DurableQueue
from edge_bridge.settings import BridgeConfigError, load_settings
from heartbeat_system.parts import heartbeat_command

DEV = "hb-cli-1"


def heartbeat(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTBEAT_BRIDGE_")}
    full_env.update({"COLUMNS": "200", **(env or {})})
    return subprocess.run(heartbeat_command(*args), capture_output=True, text=True, env=full_env, timeout=300)


def one_error_line(proc) -> str:
    lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout
    return errors[0]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def queue_with_alert(tmp_path) -> Path:
    path = tmp_path / "state" / "bridge" / "queue.db"
    with DurableQueue(path) as q:
        q.store(DEV, 5, [(1, wire.Hello(DEV, "0.1.0", "m1", bytes(32), 1, 5, 360)),
                         (2, wire.Beat(100, 2, (-128, -128, 100, -128, -128), 1, 1)),
                         (3, wire.Alert(2, 100, 2, 100, 1, 204))])
        b = q.next_batch(2)
        q.batch_rejected(b, {0: "model_version: unknown model 'm1'"}, {"status": 422})
    return path


# -------------------------------------------------------------------------------------------------- settings
def test_precedence_options_over_environment_over_file(tmp_path, monkeypatch):
    cfg = tmp_path / "bridge.toml"
    cfg.write_text('[bridge]\nbatch_size = 7\nserver_url = "http://file:1"\ndevice_token = "hbd_file"\n')
    monkeypatch.setenv("HEARTBEAT_BRIDGE_SERVER_URL", "http://env:2")
    monkeypatch.setenv("HEARTBEAT_STATE_DIR", str(tmp_path / "st"))
    s = load_settings(cfg)
    assert (s.batch_size, s.server_url, s.token()) == (7, "http://env:2", "hbd_file")
    assert s.queue_path == tmp_path / "st" / "bridge" / "queue.db"
    assert "hbd_file" not in repr(s)  # the token is a secret
    assert load_settings(cfg, batch_size=9, server_url=None).batch_size == 9


def test_no_token_no_default(monkeypatch, tmp_path):
    monkeypatch.delenv("HEARTBEAT_BRIDGE_DEVICE_TOKEN", raising=False)
    with pytest.raises(BridgeConfigError, match="no device token"):
        load_settings(None).token()


@pytest.mark.parametrize("text, message", [
    ("batch_size = [\n", "not valid TOML"),
    ("batch_sise = 10\n", "unknown settings ['batch_sise']"),
    ("batch_size = 5000\n", "batch_size: Input should be less than or equal to 1000"),
    ("disk_budget_bytes = \"lots\"\n", "disk_budget_bytes: Input should be a valid integer"),
    (b"\xff\xfe batch_size = 1", "cannot be read"),
])
def test_a_bad_configuration_file_is_named_with_its_problem(tmp_path, text, message):
    cfg = tmp_path / "bridge.toml"
    cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(BridgeConfigError) as info:
        load_settings(cfg)
    assert message in info.value.one_line() and str(cfg) in info.value.one_line()


def test_garbled_config_on_the_command_line_touches_no_queued_data(tmp_path, queue_with_alert):
    before = sha(queue_with_alert)
    cfg = tmp_path / "bridge.toml"
    cfg.write_text("[bridge\nqueue_path = '/nowhere'\n")
    for cmd in (["bridge", "feedback", "1", "confirm"], ["bridge", "run", "--device", "loop://"]):
        proc = heartbeat(*cmd, "--config", str(cfg), env={"HEARTBEAT_STATE_DIR": str(tmp_path / "state")})
        assert proc.returncode == 1
        line = one_error_line(proc)
        assert "not valid TOML" in line and str(cfg) in line
    assert sha(queue_with_alert) == before
    with DurableQueue(queue_with_alert) as q:
        assert q.counts() == {"ready": 2, "in_flight": 0, "acked": 0, "rejected": 1, "local": 0}


# -------------------------------------------------------------------------------------------------- commands
def test_status_alerts_and_feedback(tmp_path, queue_with_alert):
    env = {"HEARTBEAT_STATE_DIR": str(tmp_path / "state")}
    proc = heartbeat("bridge", "status", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "model_version: unknown model 'm1'" in proc.stdout  # the rejected item with the server's message
    proc = heartbeat("bridge", "alerts", env=env)
    assert proc.returncode == 0 and "5:3" in proc.stdout
    with DurableQueue(queue_with_alert) as q:
        alert_id = q.alerts()[0]["id"]

    proc = heartbeat("bridge", "feedback", str(alert_id), "reject", "--label", "s", "--clinician", "Dr. Grey", env=env)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "relabel S" in proc.stdout
    proc = heartbeat("bridge", "feedback", "5:3", "confirm", env={**env, "HEARTBEAT_BRIDGE_CLINICIAN": "Dr. Ross"})
    assert proc.returncode == 0, proc.stderr + proc.stdout
    with DurableQueue(queue_with_alert) as q:
        rows = q._db.execute("SELECT item FROM messages WHERE kind='feedback' ORDER BY id").fetchall()
    items = [json.loads(r[0]) for r in rows]
    assert [(i["action"], i.get("label"), i["clinician"]) for i in items] == [("relabel", "S", "Dr. Grey"),
                                                                           ("confirm", None, "Dr. Ross")]
    assert all(i["alert"] == {"boot_id": 5, "seq": 3} for i in items)

    for args, words in ((["99", "confirm", "--clinician", "X"], "no alert 99"),
                        ([str(alert_id), "confirm", "--label", "V", "--clinician", "X"], "confirm takes no --label"),
                        ([str(alert_id), "maybe", "--clinician", "X"], "unknown feedback 'maybe'"),
                        ([str(alert_id), "reject", "--label", "Z", "--clinician", "X"], "unknown class 'Z'"),
                        ([str(alert_id), "confirm"], "who gives this feedback")):
        proc = heartbeat("bridge", "feedback", *args, env=env)
        assert proc.returncode == 1 and words in one_error_line(proc), (args, proc.stdout + proc.stderr)


def test_status_without_a_queue_says_so(tmp_path):
    proc = heartbeat("bridge", "status", env={"HEARTBEAT_STATE_DIR": str(tmp_path / "empty")})
    assert proc.returncode == 1 and "no queue yet" in one_error_line(proc)


def test_replay_refuses_bad_input_with_one_line(tmp_path, mitdb_dir):
    env = {"HEARTBEAT_DATA_DIR": str(mitdb_dir), "HEARTBEAT_STATE_DIR": str(tmp_path / "state")}
    out = tmp_path / "beats.jsonl"
    proc = heartbeat("replay", "100", "--emulator", "--lead", "V9", "--out", str(out), env=env)
    line = one_error_line(proc)
    assert proc.returncode == 1 and "record has no lead 'V9'" in line and "leads: MLII, V5" in line, line
    proc = heartbeat("replay", "100", "--out", str(out), env=env)
    assert proc.returncode == 1 and "exactly one of --emulator and --device" in one_error_line(proc)
    assert not out.exists()


@pytest.mark.parametrize("record, lead, seconds, words", [
    ("100", "3", None, "record has no lead index 3"),
    ("nope", None, None, "no WFDB record 'nope'"),
    ("100", None, -1.0, "--seconds must be positive"),
])
def test_read_recording_names_what_is_wrong(mitdb_dir, record, lead, seconds, words):
    from edge_bridge.replay import ReplayError, read_recording

    with pytest.raises(ReplayError) as info:
        read_recording(record, mitdb_dir, lead, seconds)
    assert words in info.value.one_line()
