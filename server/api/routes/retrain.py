"""/retrain: start a retraining job, follow it, read its log, cancel it.

Who: engineers and administrators (`EngineerUser`). The request only queues the job (202) and saves its
parameters to <jobs_dir>/<id>/params.json; the worker process (`heartbeat server worker`) trains, logs the
parameters and metrics to MLflow and registers the new version. Nothing is trained inside a request.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from server.api.deps import EngineerUser, SessionDep, SettingsDep
from server.core.logging import get_logger
from server.models.ml import Job
from server.schemas.common import AUTH_ERRORS, error_responses
from server.schemas.retrain import JobList, JobLog, JobPublic, JobStatusName, RetrainParams
from server.services import retrain as retrain_service

router = APIRouter(prefix="/retrain", tags=["retrain"])
log = get_logger("retrain")

JobPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="Job id.")]


def _public(job: Job) -> JobPublic:
    return JobPublic(id=job.id, kind=job.kind.value, status=job.status.value, params=job.params,
                     created_by=job.created_by, created_at=job.created_at, started_at=job.started_at,
                     finished_at=job.finished_at, worker=job.worker, cancel_requested=bool(job.cancel_requested),
                     mlflow_run_id=job.mlflow_run_id, model_version=job.model_version, result=job.result,
                     error=job.error, log_url=f"/api/v1/retrain/{job.id}/log")


@router.post("", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED,
             summary="Queue a retraining job (engineer)", responses={**AUTH_ERRORS, **error_responses(422)})
def start(session: SessionDep, settings: SettingsDep, user: EngineerUser, body: RetrainParams) -> JobPublic:
    """The job trains CNN-4 on the inter-patient protocol with these parameters (plus clinician-labelled beats
    when include_confirmed), quantizes, verifies under TFLM, evaluates on the test records and registers a new
    model version in MLflow. It is not promoted: promote it with POST /api/v1/models/{version}/promote."""
    job = retrain_service.create_job(session, settings, body.model_dump(mode="json"), user.id)
    log.info("job %s queued by user_id=%s: %s", job.id, user.id, body.model_dump_json())
    return _public(job)


@router.get("", response_model=JobList, summary="Retraining jobs, newest first (engineer)",
            responses={**AUTH_ERRORS, **error_responses(422)})
def list_jobs(session: SessionDep, _user: EngineerUser, status_: Annotated[JobStatusName | None,
              Query(alias="status")] = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
              offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> JobList:
    items, total = retrain_service.list_jobs(session, status_, limit, offset)
    return JobList(items=[_public(j) for j in items], total=total)


@router.get("/{job_id}", response_model=JobPublic, summary="A job's status and result (engineer)",
            responses={**AUTH_ERRORS, **error_responses(404, 422)})
def read_job(session: SessionDep, _user: EngineerUser, job_id: JobPath) -> JobPublic:
    return _public(retrain_service.get_job(session, job_id))


@router.get("/{job_id}/log", response_model=JobLog, summary="A job's log, from a byte offset (engineer)",
            responses={**AUTH_ERRORS, **error_responses(404, 422)})
def read_log(session: SessionDep, settings: SettingsDep, _user: EngineerUser, job_id: JobPath,
             offset: Annotated[int, Query(ge=0, le=2**40, description="Byte offset (next_offset of the last "
                                                                       "call to follow the log).")] = 0,
             limit: Annotated[int, Query(ge=1, le=retrain_service.MAX_LOG_CHUNK)] = 65536) -> JobLog:
    job = retrain_service.get_job(session, job_id)
    text, next_offset, size = retrain_service.read_log(settings, job, offset, limit)
    return JobLog(job_id=job.id, status=job.status.value, offset=offset, next_offset=next_offset, size=size,
                  text=text)


@router.post("/{job_id}/cancel", response_model=JobPublic, summary="Cancel a queued or running job (engineer)",
             responses={**AUTH_ERRORS, **error_responses(404, 409, 422)})
def cancel(session: SessionDep, user: EngineerUser, job_id: JobPath) -> JobPublic:
    """A queued job is cancelled at once; a running one is stopped by its worker within a few seconds (its
    status turns `cancelled`). A finished job is 409."""
    job = retrain_service.cancel_job(session, job_id)
    log.info("job %s: cancel requested by user_id=%s (status %s)", job.id, user.id, job.status.value)
    return _public(job)
