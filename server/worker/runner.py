"""`heartbeat server worker`: polls the jobs table and runs retraining jobs, one at a time, each in a child process.

Per job: claim it (status running, see services/retrain.claim_next), gather the clinician-labelled beats it asked
for (services/labelled.py) into <jobs_dir>/<id>/labelled_beats.npz, write <jobs_dir>/<id>/run.json, and start
`python -m server.worker.child <folder>` at the lowest CPU priority (nice 19; TensorFlow also leaves one core
free), its output appended to
<jobs_dir>/<id>/job.log. While it runs, the worker sends heartbeats to the job row every poll interval and stops
the child when the job is cancelled. The child's result.json decides succeeded/failed; MLflow run id and
registered version go to the row. Running jobs whose worker died (no heartbeat for STALE_AFTER) end failed.

TensorFlow is only ever imported by the child: the worker loop itself stays small, and a crash or an
out-of-memory kill of a training run fails that job, not the worker.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.core.files import open_private, prepare_state, private_dir, write_private
from server.core.logging import LOGGER_NAME, SafeFormatter, get_logger, private_log_handler
from server.core.settings import Settings
from server.models.ml import Job, JobStatus
from server.services import retrain

log = get_logger("worker")

STALE_AFTER = timedelta(minutes=5)
CHILD_NICE = 19
STOP_GRACE_SECONDS = 10.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _job_log(path: Path, message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    with open_private(path, "a", encoding="utf-8") as f:
        f.write(f"{stamp} worker: {message}\n")


def _toolchain_spec(settings: Settings) -> dict[str, str]:
    from server.services.registry import toolchain_settings

    tc = toolchain_settings(settings)
    return {"data_dir": str(tc.data_dir), "state_dir": str(tc.state_dir), "models_dir": str(tc.models_dir),
            "cache_dir": str(tc.cache_dir), "mlflow_tracking_uri": tc.tracking_uri,
            "mlflow_experiment": tc.mlflow_experiment, "registered_model_name": tc.registered_model_name}


def _prepare(session: Session, settings: Settings, job: Job, folder: Path, log_path: Path) -> dict[str, Any]:
    from server.services.labelled import labelled_beats

    params = job.params
    extra_file = None
    counts: dict[str, int] = {}
    if params.get("include_confirmed", True):
        since = None
        limit = None
        if params.get("data") == "recent":
            days = params.get("recent_days") or settings.monitoring_window_days
            since = datetime.now(UTC) - timedelta(days=days)
            limit = params.get("sample_size")
        beats, counts = labelled_beats(session, since=since, limit=limit)
        _job_log(log_path, f"clinician-labelled beats: {len(beats)} usable ({json.dumps(counts, sort_keys=True)})")
        if len(beats):
            extra_file = folder / "labelled_beats.npz"
            beats.save(extra_file)
            os.chmod(extra_file, 0o600)  # patients' beats
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    spec: dict[str, Any] = {
        "job_id": job.id,
        "params": params,
        "toolchain": _toolchain_spec(settings),
        "version": f"cnn4-device-inter-{stamp}-job{job.id}",
        "extra_beats": str(extra_file) if extra_file else None,
        "mlflow_params": {
            "job_id": job.id, "requested_by": job.created_by if job.created_by is not None else "unknown",
            "data": params.get("data", "full"), "sample_size": params.get("sample_size") or "all",
            "recent_days": params.get("recent_days") or "n/a",
            "include_confirmed": bool(params.get("include_confirmed", True)),
            "clinician_beats": int(counts.get("usable", 0)), "note": params.get("note") or "",
            "params_file": job.params_path or "",
        },
    }
    write_private(folder / "run.json", json.dumps(spec, indent=2, sort_keys=True))
    return spec


def _background_priority() -> None:
    """In the child before exec: the lowest CPU priority, so training yields to the API on the same machine.
    (Not the idle scheduling class: a starved idle-class process holding a kernel lock, e.g. the file system
    journal's, makes the API wait for it - measured as 200+ ms health answers.)"""
    os.nice(CHILD_NICE)


def _start_child(folder: Path, log_path: Path) -> subprocess.Popen[bytes]:
    root = str(Path(__file__).resolve().parent.parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    out = open_private(log_path, "ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "server.worker.child", str(folder)], cwd=str(folder),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=_background_priority, start_new_session=True)
    finally:
        out.close()


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    try:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    except ProcessLookupError:
        pass


def run_job(sessionmaker: sessionmaker[Session], settings: Settings, job_id: int, stop: threading.Event,
            poll_interval: float) -> JobStatus:
    """Run one claimed job to its end; returns the status it ended with."""
    folder = private_dir(retrain.job_dir(settings, job_id))
    log_path = folder / retrain.LOG_FILE
    with sessionmaker() as session:
        job = retrain.get_job(session, job_id)
        _job_log(log_path, f"job {job_id} claimed by worker {job.worker}; parameters in {job.params_path}")
        log.info("job %s: started by worker %s", job_id, job.worker)
        try:
            _prepare(session, settings, job, folder, log_path)
        except Exception as exc:
            _job_log(log_path, f"failed while preparing the job: {type(exc).__name__}: {exc}")
            retrain.finish(session, job_id, JobStatus.failed, error=f"preparing the job failed: {exc}")
            log.exception("job %s: preparing failed", job_id)
            return JobStatus.failed
    (folder / retrain.RESULT_FILE).unlink(missing_ok=True)
    child = _start_child(folder, log_path)
    cancelled = stopped = False
    while child.poll() is None:
        if stop.wait(poll_interval):
            stopped = True
            _stop_child(child)
            break
        with sessionmaker() as session:
            if retrain.heartbeat(session, job_id):
                cancelled = True
                _stop_child(child)
                break
    code = child.wait()
    with sessionmaker() as session:
        if cancelled:
            _job_log(log_path, "cancelled on request; the training process was stopped")
            retrain.finish(session, job_id, JobStatus.cancelled, error="cancelled while running")
            log.info("job %s: cancelled", job_id)
            return JobStatus.cancelled
        if stopped:
            _job_log(log_path, "the worker was stopped while the job ran; the job failed")
            retrain.finish(session, job_id, JobStatus.failed, error="the worker was stopped while the job ran")
            return JobStatus.failed
        result_path = folder / retrain.RESULT_FILE
        result = json.loads(result_path.read_text()) if result_path.is_file() else None
        if code == 0 and result and result.get("status") == "succeeded":
            retrain.finish(session, job_id, JobStatus.succeeded, result=result)
            _job_log(log_path, f"succeeded: MLflow run {result.get('run_id')}, registered model version "
                               f"{result.get('model_version')}")
            log.info("job %s: succeeded (MLflow run %s, model version %s)", job_id, result.get("run_id"),
                     result.get("model_version"))
            return JobStatus.succeeded
        error = (result or {}).get("error") or f"the training process exited with code {code}; see the job log"
        retrain.finish(session, job_id, JobStatus.failed, result=None, error=error)
        _job_log(log_path, f"failed: {error}")
        log.warning("job %s: failed: %s", job_id, error)
        return JobStatus.failed


def run_worker(settings: Settings, *, once: bool = False, poll_interval: float = 1.0,
               stop: threading.Event | None = None, engine: Engine | None = None) -> int:
    """Poll for queued jobs and run them until `stop` is set (or, with once=True, until the queue is empty).

    Returns the number of jobs run. SIGTERM/SIGINT (when run in the main thread) stop it cleanly.
    """
    from server.core.db import make_engine, make_sessionmaker

    stop = stop or threading.Event()
    prepare_state(settings)
    handler = _worker_log(settings)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    own_engine = engine is None
    engine = engine or make_engine(settings.db_url, settings.db_busy_timeout_seconds)
    sessionmaker = make_sessionmaker(engine)
    name = worker_name()
    done = 0
    log.info("worker %s: polling for jobs every %.1f s", name, poll_interval)
    try:
        while not stop.is_set():
            with sessionmaker() as session:
                for stale_id in retrain.reap_stale(session, STALE_AFTER):
                    log.warning("job %s: its worker stopped sending heartbeats; marked failed", stale_id)
                job = retrain.claim_next(session, name)
                job_id = job.id if job else None
            if job_id is None:
                if once:
                    break
                stop.wait(poll_interval)
                continue
            run_job(sessionmaker, settings, job_id, stop, poll_interval)
            done += 1
    finally:
        if own_engine:
            engine.dispose()
        log.info("worker %s: stopped after %d job(s)", name, done)
        logging.getLogger(LOGGER_NAME).removeHandler(handler)
        handler.close()
    return done


def _worker_log(settings: Settings) -> logging.Handler:
    """<log_dir>/worker.log (rotating, like app.log; a file of its own, since two processes must not rotate one)."""
    handler = private_log_handler(settings.log_folder / "worker.log", settings.log_max_bytes,
                                  settings.log_backup_count)
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler


def main(argv: list[str] | None = None) -> int:
    """`python -m server.worker.runner [--once] [--poll-interval S]` (the same as `heartbeat server worker`)."""
    import argparse

    from heartbeat_core.errors import HeartbeatError
    from server.core.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m server.worker.runner", description=main.__doc__)
    parser.add_argument("--once", action="store_true", help="run the queued jobs, then stop")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="seconds between polls and heartbeats")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except HeartbeatError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 1
    ran = run_worker(settings, once=args.once, poll_interval=args.poll_interval)
    print(f"worker stopped after {ran} job(s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
