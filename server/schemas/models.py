"""Schemas of /api/v1/models: registered versions, promotion requests and records."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class ModelVersionPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "heartbeat-cnn4", "version": 3, "aliases": ["champion"], "run_id": "0b6c2e...",
        "protocol": "inter-patient", "created_at": "2026-11-24T17:00:00+00:00",
        "metrics": {"tflm_accuracy": 0.944, "tflm_macro_f1": 0.458, "tflm_se_V": 0.892},
        "model_sha256": "1a14386f7bbf612a2c16993532cc2aa28f4842b12a4adbddc0a2da26fdc6e99c",
        "production_path": "/srv/heartbeat/.state/mlflow/artifacts/0b6c2e/artifacts/model/model_int8.tflite",
        "promoted_at": "2026-11-24T21:10:00+00:00", "promoted_reason": "gate 'inter-patient-v1' passed: ..."}]})

    name: str
    version: int
    aliases: list[str] = Field(description="MLflow aliases: `champion`, `previous-champion`.")
    run_id: str | None
    protocol: str | None
    created_at: str
    metrics: dict[str, float] = Field(description="Key test-set metrics (TFLM int8) recorded on the version.")
    model_sha256: str | None
    production_path: str = Field(description="Where the version's model_int8.tflite lives.")
    promoted_at: str | None = None
    promoted_reason: str | None = None


class ModelList(BaseModel):
    items: list[ModelVersionPublic]
    champion: int | None = Field(description="The version holding the `champion` alias, if any.")


def _promote_schema(schema: dict[str, Any]) -> None:
    """The schema says what the toolchain refuses: a forced promotion needs a note (not blank)."""
    schema["examples"] = [{"note": "retrained with October's confirmed beats"},
                          {"force": True, "note": "rollback: v7 misses V beats on ward 3"}]
    schema["anyOf"] = [
        {"properties": {"force": {"const": False}}},
        {"properties": {"force": {"const": True}, "note": {"type": "string", "pattern": r"\S"}},
         "required": ["force", "note"]},
    ]


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_promote_schema)

    note: str | None = Field(None, max_length=1000, description="Why (kept with the promotion).")
    force: StrictBool = Field(False, description="Promote despite a failed gate (administrators only; needs a note), "
                                           "e.g. a rollback to an older champion.")


class PromotionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 5, "model_version": 3, "user_id": 2, "passed": True, "forced": False, "changed": True,
        "note": None, "reasons": ["protocol is 'inter-patient'", "tflm_macro_f1 0.458 >= 0.4"],
        "previous_champion": 2, "production_path": "/srv/.../model/model_int8.tflite",
        "created_at": "2026-11-24T21:10:00Z"}]})

    id: int
    model_version: int
    user_id: int | None
    passed: bool
    forced: bool
    changed: bool = Field(description="False when the version already was the champion.")
    note: str | None
    reasons: list[str]
    previous_champion: int | None
    production_path: str | None
    created_at: datetime


class PromotionList(BaseModel):
    items: list[PromotionPublic]
