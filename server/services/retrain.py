"""Retraining jobs: queue, inspect, cancel (request side) and claim, heartbeat, finish (worker side). No HTTP.

A request never trains: `create_job` inserts a `queued` Job and writes its parameters to
<jobs_dir>/<id>/params.json in the same transaction (the file is written before the commit, so a job the
worker can see always has its file). The worker (server/worker/runner.py) claims jobs with `claim_next`:
PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED`, SQLite a conditional `UPDATE ... WHERE status = 'queued'`
(SQLite serialises writers), so two workers never run the same job.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Result, func, select, update
from sqlalchemy.orm import Session

from server.core.errors import ConflictError, NotFoundError
from server.core.files import private_dir, write_private
from server.core.settings import Settings
from server.models.ml import FINISHED_STATUSES, Job, JobKind, JobStatus

LOG_FILE = "job.log"
PARAMS_FILE = "params.json"
RESULT_FILE = "result.json"
MAX_LOG_CHUNK = 256 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


def _rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE matched (its result is a CursorResult; Session.execute is typed for any statement)."""
    assert isinstance(result, CursorResult)
    return result.rowcount


def job_dir(settings: Settings, job_id: int) -> Path:
    return settings.jobs_folder / str(job_id)


def create_job(session: Session, settings: Settings, params: dict[str, Any], user_id: int | None) -> Job:
    job = Job(kind=JobKind.retrain, status=JobStatus.queued, params=params, created_by=user_id)
    session.add(job)
    session.flush()
    folder = job_dir(settings, job.id)
    try:
        private_dir(folder)
        params_path = folder / PARAMS_FILE
        write_private(params_path, json.dumps({"job_id": job.id, "kind": job.kind.value, "created_by": user_id,
                                               "params": params}, indent=2, sort_keys=True))
        job.params_path = str(params_path)
        job.log_path = str(folder / LOG_FILE)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    session.refresh(job)
    return job


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id, populate_existing=True)  # the worker changes rows behind this session
    if job is None:
        raise NotFoundError(f"job {job_id} does not exist")
    return job


def list_jobs(session: Session, status: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Job], int]:
    query = select(Job)
    count = select(func.count()).select_from(Job)
    if status is not None:
        query = query.where(Job.status == JobStatus(status))
        count = count.where(Job.status == JobStatus(status))
    items = list(session.scalars(query.order_by(Job.id.desc()).limit(limit).offset(offset)))
    return items, int(session.scalar(count) or 0)


def read_log(settings: Settings, job: Job, offset: int = 0, limit: int = 65536) -> tuple[str, int, int]:
    """(text from `offset`, next offset, file size); a job that has not started yet has an empty log."""
    path = Path(job.log_path) if job.log_path else job_dir(settings, job.id) / LOG_FILE
    if not path.is_file():
        return "", offset, 0
    size = path.stat().st_size
    if offset > size:
        return "", offset, size
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read(min(limit, MAX_LOG_CHUNK))
    return data.decode("utf-8", errors="replace"), offset + len(data), size


def cancel_job(session: Session, job_id: int) -> Job:
    """A queued job is cancelled at once; a running one is asked to stop (the worker ends it `cancelled`)."""
    job = get_job(session, job_id)
    if job.status in FINISHED_STATUSES:
        raise ConflictError(f"job {job_id} has already finished ({job.status.value}); nothing to cancel")
    if job.status == JobStatus.queued:
        result = session.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.queued)
                                 .values(status=JobStatus.cancelled, finished_at=_now(), cancel_requested=True,
                                         error="cancelled before it started"))
        if _rowcount(result) == 0:  # the worker claimed it in the meantime
            session.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
    else:
        session.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
    session.commit()
    session.refresh(job)
    return job


# ----------------------------------------------------------------------------------- worker side


def claim_next(session: Session, worker: str) -> Job | None:
    """Take the oldest queued job for `worker` (status running), or None when the queue is empty."""
    while True:
        query = select(Job.id).where(Job.status == JobStatus.queued).order_by(Job.id).limit(1)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        job_id = session.scalar(query)
        if job_id is None:
            session.rollback()
            return None
        now = _now()
        result = session.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.queued)
                                 .values(status=JobStatus.running, worker=worker, started_at=now, heartbeat_at=now))
        if _rowcount(result) == 1:
            job = session.get(Job, job_id, populate_existing=True)
            session.commit()
            return job
        session.commit()  # another worker won this one; try the next


def heartbeat(session: Session, job_id: int) -> bool:
    """Mark the job alive; True when someone asked to cancel it."""
    session.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.running)
                    .values(heartbeat_at=_now()))
    cancel = bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))
    session.commit()
    return cancel


def finish(session: Session, job_id: int, status: JobStatus, result: dict[str, Any] | None = None,
           error: str | None = None) -> None:
    values: dict[str, Any] = {"status": status, "finished_at": _now(), "error": error}
    if result is not None:
        values.update(result=result, mlflow_run_id=result.get("run_id"),
                      model_version=int(result["model_version"]) if result.get("model_version") else None)
    session.execute(update(Job).where(Job.id == job_id).values(**values))
    session.commit()


def reap_stale(session: Session, older_than: timedelta) -> list[int]:
    """Running jobs whose worker stopped sending heartbeats end `failed` (their worker is gone)."""
    limit = _now() - older_than
    ids = list(session.scalars(select(Job.id).where(Job.status == JobStatus.running, Job.heartbeat_at < limit)))
    if ids:
        session.execute(update(Job).where(Job.id.in_(ids), Job.status == JobStatus.running)
                        .values(status=JobStatus.failed, finished_at=_now(),
                                error="the worker running this job stopped sending heartbeats (it was killed or "
                                      "the machine restarted); start the job again"))
        session.commit()
    return ids
