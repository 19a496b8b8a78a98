"""The README's main job, `heartbeat main`, on its embedded defaults in a fresh state folder: it registers and
promotes the shipped model, starts server and worker, makes its administrator (random password, 0600 file), starts
the emulated device and streams a record through the bridge to the server; Ctrl-C stops every part cleanly.
Without a shipped model it refuses in one line and trains nothing (only the server's worker trains)."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from heartbeat_system.parts import heartbeat_command
from heartbeat_system.ports import free_port


def run_env(state: Path) -> dict:
    env = {**os.environ, "HEARTBEAT_STATE_DIR": str(state), "COLUMNS": "200"}
    for k in list(env):
        if k.startswith(("HEARTBEAT_SECRET_KEY", "HEARTBEAT_DATABASE", "HEARTBEAT_BRIDGE_", "HEARTBEAT_MLFLOW")):
            env.pop(k)
    return env


def stored(state: Path, table: str) -> int:
    db = sqlite3.connect(state / "server" / "server.db")
    try:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        db.close()


@pytest.mark.slow
def test_main_job_streams_a_record_to_the_server_and_runs_again(tmp_path, mitdb_dir):
    state = tmp_path / "state"
    port = free_port()
    cmd = heartbeat_command("main", "--seconds", "40", "--exit-when-done", "--no-live", "--port", str(port))
    first = subprocess.run(cmd, env=run_env(state), capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert f"http://127.0.0.1:{port}/docs" in first.stdout
    assert "registered and promoted to champion" in first.stdout

    # secrets made on first use, private to the user, never printed
    creds = state / "main" / "credentials.json"
    for f in (creds, state / "main" / "secret_key"):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    password = json.loads(creds.read_text())["password"]
    assert password not in first.stdout + first.stderr
    assert (state / "main" / "secret_key").read_text().strip() not in first.stdout + first.stderr

    beats, alerts = stored(state, "beats"), stored(state, "alerts")
    assert beats >= 40, beats  # record 208 has well over one beat per second
    assert alerts > 0  # and V beats that raise alerts

    # a second run reuses the administrator, the registered model and the queue, and adds the new boot's beats
    second = subprocess.run(cmd, env=run_env(state), capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "registered and promoted" not in second.stdout and "champion is version 1" in second.stdout
    assert stored(state, "beats") >= 2 * beats - 2
    db = sqlite3.connect(state / "server" / "server.db")
    boots = db.execute("SELECT COUNT(DISTINCT boot_id) FROM beats").fetchone()[0]
    tokens = db.execute("SELECT COUNT(*), COUNT(revoked_at) FROM device_tokens").fetchone()
    db.close()
    assert boots == 2
    assert tokens[0] == 2 and tokens[1] == 2  # each run's device token is revoked when it stops


@pytest.mark.slow
def test_ctrl_c_stops_every_part(tmp_path, mitdb_dir):
    state = tmp_path / "state"
    port = free_port()
    proc = subprocess.Popen(heartbeat_command("main", "--no-live", "--port", str(port)), env=run_env(state),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        end = time.monotonic() + 600
        while time.monotonic() < end:
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            if (state / "server" / "server.db").exists():
                try:
                    if stored(state, "beats") > 20:
                        break
                except sqlite3.OperationalError:
                    pass
            time.sleep(1)
        else:
            raise AssertionError("no beats reached the server")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-3000:]
    assert "stopping" in out
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
    # no QEMU, server or worker left behind for this state folder
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(state) not in ps
    assert f"--port {port}" not in ps


def test_without_a_shipped_model_it_refuses_in_one_line_and_trains_nothing(tmp_path, mitdb_dir):
    state, models = tmp_path / "state", tmp_path / "models"
    models.mkdir()
    env = {**run_env(state), "HEARTBEAT_MODELS_DIR": str(models), "HEARTBEAT_DATA_DIR": str(mitdb_dir)}
    proc = subprocess.run(heartbeat_command("main", "--no-live", "--port", str(free_port())), env=env,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert proc.returncode == 1 and len(errors) == 1, out
    assert "no shipped model" in errors[0] and "heartbeat train --current" in errors[0], errors[0]
    assert "Traceback" not in out
    assert list(models.iterdir()) == []  # nothing was trained or exported
    assert not (state / "server").exists() and not (state / "mlflow").exists()  # and no part was started
