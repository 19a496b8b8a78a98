"""Issue 14 finding 8: what the server, the bridge's queue and the main job write holds password and token hashes
and patients' ECG: folders they make are 0700 and files 0600, whatever the umask."""
from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import pytest
from telemetry_items import alert, beat, new_boot, post

from server.core.settings import Settings


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.fixture()
def loose_umask():
    old = os.umask(0o002)  # group- and world-readable by default
    yield
    os.umask(old)


def test_the_servers_state_is_private_whatever_the_umask(tmp_path, loose_umask, session_cache):
    from live_server import start_live_server, stop_live_server

    from server.core.db import upgrade

    state = tmp_path / "state"  # made by the server
    settings = Settings(secret_key=secrets.token_hex(32), state_dir=state,
                        mlflow_tracking_uri=f"sqlite:///{state / 'mlflow' / 'mlflow.db'}",
                        models_dir=tmp_path / "models", data_dir=tmp_path / "data", cache_dir=session_cache,
                        password_hash_time_cost=1, password_hash_memory_kib=1024, password_hash_parallelism=1)
    upgrade(settings.db_url)  # as `heartbeat server run` does first
    live = start_live_server(settings)
    try:
        engineer = live.make_user("engineer")
        device = live.make_device()
        boot = new_boot()
        assert post(live.client(device.token), device.device_uid, [beat(boot, 1, flags=1), alert(boot, 2, 1)]) \
            .status_code == 200
        job = live.client(engineer.token).post("/api/v1/retrain", json={"epochs": 1})
        assert job.status_code == 202, job.text
        assert live.client(engineer.token).get("/api/v1/models").status_code == 200  # opens the MLflow store
        server_dir = state / "server"
        job_dir = server_dir / "jobs" / str(job.json()["id"])
        folders = [state, server_dir, server_dir / "logs", server_dir / "jobs", job_dir, state / "mlflow"]
        files = [server_dir / "server.db", server_dir / "server.db-wal", server_dir / "server.db-shm",
                 server_dir / "logs" / "app.log", job_dir / "params.json", state / "mlflow" / "mlflow.db"]
        assert {str(p.relative_to(state)): mode(p) for p in folders} == {
            str(p.relative_to(state)): "0o700" for p in folders}
        assert {str(p.relative_to(state)): mode(p) for p in files} == {
            str(p.relative_to(state)): "0o600" for p in files}
    finally:
        stop_live_server(live)


def test_an_existing_database_and_log_are_made_private(tmp_path, loose_umask):
    from server.core.db import make_engine
    from server.core.logging import add_file_handler, remove_handler

    db = tmp_path / "old.db"
    db.write_bytes(b"")
    db.chmod(0o644)
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect():
        pass
    engine.dispose()
    assert mode(db) == "0o600"
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text("old line\n")
    log.chmod(0o644)
    handler = add_file_handler(log.parent, 4096, 1)
    remove_handler(handler)
    assert mode(log) == "0o600"


def test_the_bridges_queue_and_the_main_jobs_files_are_private(tmp_path, loose_umask):
    from edge_bridge.queue import DurableQueue
    from heartbeat_system.main_job import private_file

    queue_db = tmp_path / "bridge" / "queue.db"
    with DurableQueue(queue_db):
        files = [queue_db, queue_db.with_name("queue.db-wal"), queue_db.with_name("queue.db-shm")]
        assert [mode(p) for p in files if p.exists()] == ["0o600"] * len([p for p in files if p.exists()])
    assert mode(queue_db.parent) == "0o700" and mode(queue_db) == "0o600"
    secret = tmp_path / "main" / "secret_key"
    private_file(secret, lambda: "x" * 64)
    assert mode(secret.parent) == "0o700" and mode(secret) == "0o600"
