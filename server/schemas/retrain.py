"""Schemas of /api/v1/retrain: the parameters of a retraining job and the job as the API shows it."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, model_validator

from server.schemas.common import JsonFloat, JsonInt, json_integer
from toolchain.mitdb import DS1, DS2

JobStatusName = Literal["queued", "running", "succeeded", "failed", "cancelled"]


def _retrain_schema(schema: dict[str, Any]) -> None:
    """The schema says what the validator does: sample_size (required) and recent_days only with data='recent',
    records from DS1 / DS2, each once."""
    schema["examples"] = [{
        "epochs": 10, "learning_rate": 0.001, "batch_size": 256, "class_weighting": "sqrt", "data": "full",
        "include_confirmed": True, "note": "monthly retrain with the ward's confirmed beats"}, {
        "epochs": 1, "data": "recent", "sample_size": 2000, "recent_days": 30, "include_confirmed": True,
        "train_records": ["101", "106"], "test_records": ["100"]}]
    for name, allowed in (("train_records", DS1), ("test_records", DS2)):
        for branch in schema["properties"][name].get("anyOf", []):
            if branch.get("type") == "array":
                branch["items"] = {"type": "string", "enum": list(allowed)}
                branch["uniqueItems"] = True
    schema["anyOf"] = [
        {"properties": {"data": {"const": "full"}, "sample_size": {"type": "null"}, "recent_days": {"type": "null"}}},
        {"properties": {"data": {"const": "recent"}, "sample_size": {"type": "integer"}},
         "required": ["data", "sample_size"]},
    ]


class RetrainParams(BaseModel):
    """What to train. Inter-patient protocol always (train on DS1 records, test on DS2 records), device beats.

    data: "full" trains on every beat of the training records (plus clinician-labelled beats when
    include_confirmed); "recent" trains on `sample_size` beats: the most recent clinician-labelled beats of the
    last `recent_days` days first (newest first), filled up with a stratified random sample of the training
    records' beats.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_retrain_schema)

    epochs: JsonInt = Field(10, ge=1, le=200, description="Training epochs (early stopping may end sooner).")
    learning_rate: JsonFloat = Field(1e-3, gt=0, lt=1, description="Adam learning rate.")
    batch_size: JsonInt = Field(256, ge=1, le=4096)
    class_weighting: Literal["balanced", "sqrt", "none"] = Field(
        "sqrt", description="Inverse class frequency, its square root, or none.")
    patience: JsonInt = Field(6, ge=1, le=100, description="Early-stopping patience in epochs.")
    seed: JsonInt = Field(0, ge=0, le=2**31 - 1)
    data: Literal["full", "recent"] = "full"
    sample_size: Annotated[int, Field(ge=10, le=1_000_000), BeforeValidator(json_integer)] | None = Field(None,
                                    description="Training beats for data='recent' (required there, refused with "
                                                "'full').")
    recent_days: Annotated[int, Field(ge=1, le=3650), BeforeValidator(json_integer)] | None = Field(None,
                                    description="data='recent': clinician-labelled beats of the last N days "
                                                "(default: the monitoring window).")
    include_confirmed: StrictBool = Field(True, description="Add clinician-confirmed or relabelled beats (alerts with "
                                                      "an ECG window) to the training beats.")
    train_records: list[str] | None = Field(None, min_length=1, max_length=len(DS1),
                                            description="Subset of the DS1 records (default: all of DS1).")
    test_records: list[str] | None = Field(None, min_length=1, max_length=len(DS2),
                                           description="Subset of the DS2 records (default: all of DS2).")
    baselines: StrictBool = Field(False, description="Also train the Random Forest and XGBoost baselines.")
    note: str | None = Field(None, max_length=500, description="Why this job was started.")

    @model_validator(mode="after")
    def _consistent(self) -> RetrainParams:
        if self.data == "recent" and self.sample_size is None:
            raise ValueError("data='recent' needs sample_size (how many beats to train on)")
        if self.data == "full" and (self.sample_size is not None or self.recent_days is not None):
            raise ValueError("sample_size and recent_days apply only to data='recent'")
        for name, allowed, which in (("train_records", DS1, "DS1"), ("test_records", DS2, "DS2")):
            values = getattr(self, name)
            if values is None:
                continue
            unknown = [r for r in values if r not in allowed]
            if unknown:
                raise ValueError(f"{name}: {', '.join(unknown)} not in {which} ({', '.join(allowed)})")
            if len(set(values)) != len(values):
                raise ValueError(f"{name}: records are listed twice")
        return self


class JobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 3, "kind": "retrain", "status": "succeeded", "params": {"epochs": 10, "data": "full"},
        "created_by": 2, "created_at": "2026-11-24T21:00:00Z", "started_at": "2026-11-24T21:00:01Z",
        "finished_at": "2026-11-24T21:20:00Z", "mlflow_run_id": "9f1c0a...", "model_version": 4,
        "result": {"version": "cnn4-device-inter-20261124-210001", "metrics": {"tflm_macro_f1": 0.61}},
        "error": None, "cancel_requested": False, "log_url": "/api/v1/retrain/3/log"}]})

    id: int
    kind: str
    status: JobStatusName
    params: dict[str, Any]
    created_by: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker: str | None = None
    cancel_requested: bool
    mlflow_run_id: str | None
    model_version: int | None
    result: dict[str, Any] | None
    error: str | None
    log_url: str


class JobList(BaseModel):
    items: list[JobPublic]
    total: int


class JobLog(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "job_id": 3, "status": "running", "offset": 0, "next_offset": 812, "size": 812,
        "text": "2026-11-24 21:00:01 claimed by worker host:1234\n..."}]})

    job_id: int
    status: JobStatusName
    offset: int
    next_offset: int
    size: int
    text: str
