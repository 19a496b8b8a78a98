"""Schemas of /api/v1/monitoring: the champion on the ward (clinician verdicts) beside its test set."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ClassMetrics(BaseModel):
    precision: float | None = Field(description="tp / predicted (null when the class was never predicted).")
    recall: float | None = Field(description="tp / support (null when no beat of the class is known).")
    tp: int
    predicted: int = Field(description="Beats the model gave this class.")
    support: int = Field(description="Beats known to be of this class.")


class Metrics(BaseModel):
    n: int = Field(description="Beats scored.")
    accuracy: float | None
    per_class: dict[str, ClassMetrics]


class FieldMetrics(Metrics):
    confirmed: int
    relabelled: int
    rejected_with_label: int
    rejected_without_label: int


class ClassDifference(BaseModel):
    precision: float | None
    recall: float | None


class Difference(BaseModel):
    accuracy: float | None = Field(description="field minus test set (null when either is undefined).")
    per_class: dict[str, ClassDifference]


class MonitoringReport(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "model_version": 3, "model_sha256": "1a14386f...", "window_days": 30,
        "since": "2026-10-25T21:00:00Z", "until": "2026-11-24T21:00:00Z",
        "field": {"n": 3, "accuracy": 0.667, "confirmed": 2, "relabelled": 0, "rejected_with_label": 0,
                  "rejected_without_label": 1, "per_class": {"V": {"precision": 0.667, "recall": 1.0, "tp": 2,
                                                                   "predicted": 3, "support": 2}}},
        "test_set": {"n": 49611, "accuracy": 0.944, "per_class": {"V": {"precision": 0.894, "recall": 0.892,
                                                                        "tp": 2836, "predicted": 3174,
                                                                        "support": 3179}}},
        "difference": {"accuracy": -0.277, "per_class": {"V": {"precision": -0.227, "recall": 0.108}}},
        "other_models_labelled": 0, "definitions": "..."}]})

    model_version: int
    model_sha256: str
    window_days: int
    since: datetime
    until: datetime
    field: FieldMetrics = Field(description="Alerts of devices running the champion (matched by the model sha256 "
                                            "of their HELLO) with a clinician verdict, received in the window.")
    test_set: Metrics = Field(description="The champion's int8 (TFLM) metrics on its test set (model card).")
    difference: Difference
    other_models_labelled: int = Field(description="Judged alerts in the window from boots running another "
                                                   "model, or whose HELLO never arrived (not counted above).")
    definitions: str


class MonitoringAll(BaseModel):
    """Every count the server keeps, by kind; numbers only, nothing personal."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "generated_at": "2026-11-24T21:00:00Z", "users": {"total": 4, "admin": 1, "engineer": 1, "clinician": 2},
        "devices": {"total": 2, "seen_last_24h": 1, "active_tokens": 2},
        "beats": {"total": 1200, "N": 1100, "S": 20, "V": 80, "F": 0, "Q": 0},
        "alerts": {"total": 12, "open": 9, "confirmed": 2, "rejected": 1, "relabelled": 0},
        "feedback": {"total": 3, "confirm": 2, "reject": 1, "relabel": 0, "api": 2, "bedside": 1},
        "predictions": {"total": 40, "predict": 10, "random": 30, "random_correct": 28, "random_accuracy": 0.933},
        "jobs": {"total": 2, "queued": 0, "running": 0, "succeeded": 1, "failed": 1, "cancelled": 0},
        "ingest": {"batches": 15, "hellos": 2, "statuses": 5, "gaps": 0},
        "promotions": {"total": 2, "passed": 1, "refused": 1},
        "models": {"registered_versions": 2, "champion": 1}}]})

    generated_at: datetime
    users: dict[str, int]
    devices: dict[str, int]
    beats: dict[str, int]
    alerts: dict[str, int]
    feedback: dict[str, int]
    predictions: dict[str, float | int | None]
    jobs: dict[str, int]
    ingest: dict[str, int]
    promotions: dict[str, int]
    models: dict[str, int | None]
    champion: MonitoringReport | None = Field(None, description="/monitoring for the champion, if one is promoted.")
