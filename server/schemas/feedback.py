"""A clinician's verdict on an alert: POST /api/v1/alerts/{id}/feedback, and how feedback is shown.

Feedback from the bedside arrives through ingest (server/schemas/ingest.py FeedbackItem) and is shown the same
way, with `source` "bedside" and the name typed at the bedside.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from heartbeat_core.domain import AAMI_CLASSES, ClassName
from server.schemas.ingest import check_relabel


def _feedback_schema(schema: dict[str, Any]) -> None:
    """The schema says what the validator does: relabel needs a class (not null)."""
    schema["examples"] = [{"action": "confirm"}, {"action": "reject"}, {"action": "relabel", "label": "S"}]
    schema["anyOf"] = [
        {"properties": {"action": {"enum": ["confirm", "reject"]}}},
        {"properties": {"action": {"const": "relabel"}, "label": {"type": "string", "enum": list(AAMI_CLASSES)}},
         "required": ["action", "label"]},
    ]


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra=_feedback_schema)

    action: Literal["confirm", "reject", "relabel"] = Field(
        description="confirm: the alert is right; reject: it is wrong (optionally naming the true class in `label`); "
                    "relabel: the beat is of class `label`")
    label: ClassName | None = Field(default=None, validate_default=True,
                                    description="the true class: required for relabel, optional for reject; "
                                                "with confirm only the alert's own class")

    @field_validator("label")
    @classmethod
    def _label_for_relabel(cls, label: str | None, info: ValidationInfo) -> str | None:
        return check_relabel(info.data.get("action"), label)


class FeedbackPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 12, "feedback_id": "0b7f6c1e-2d7a-4f0e-9a55-3f1f3c2b9e10", "alert_id": 4, "action": "relabel",
        "true_label": "S", "source": "api", "user_id": 3, "clinician": "Dr. Ada Example",
        "created_at": "2026-11-24T20:16:00Z", "alert_status": "relabelled"}]})

    id: int
    feedback_id: str = Field(description="the feedback's UUID (made by the bridge, or by the server for the API)")
    alert_id: int
    action: Literal["confirm", "reject", "relabel"]
    true_label: ClassName | None = Field(
        description="the class the clinician says the beat is (confirm: the alert's class; relabel or a reject "
                    "naming one: the class given); null for a plain reject")
    source: Literal["api", "bedside"]
    user_id: int | None = Field(description="the user who gave it through the API; null from the bedside")
    clinician: str | None = Field(description="the clinician's name (the user's name, or typed at the bedside)")
    created_at: datetime = Field(description="when the clinician gave it")
    alert_status: Literal["open", "confirmed", "rejected", "relabelled"] | None = Field(
        default=None, description="the alert's status after this feedback (in the POST answer)")
