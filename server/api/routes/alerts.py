"""Alerts: list and filter, one alert with its ECG window and feedback, and clinician feedback.

Rules (server/api/permissions.py): every signed-in user (admin, engineer, clinician) reads alerts; clinicians
and admins give feedback (ClinicianUser). Bedside feedback arrives through /ingest and lands in the same table.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from heartbeat_core.domain import ClassName
from server.api.deps import ClinicianUser, CurrentUser, SessionDep
from server.core.logging import get_logger
from server.schemas.alert import AlertDetail, AlertPage, AlertStatusName
from server.schemas.common import AUTH_ERRORS, UtcDateTime, error_responses
from server.schemas.feedback import FeedbackCreate, FeedbackPublic
from server.services import alerts as alert_service
from server.services import feedback as feedback_service

router = APIRouter(prefix="/alerts", tags=["alerts"])
log = get_logger("alerts")
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The alert's id.", examples=[4])]


@router.get("", response_model=AlertPage, summary="List alerts, newest first, with filters",
            responses={**AUTH_ERRORS, **error_responses(404, 422)})
def list_alerts(
    session: SessionDep, _user: CurrentUser,
    device_id: Annotated[str | None, Query(min_length=1, max_length=64, description="the device's own id",
                                           examples=["hb-qemu-0001"])] = None,
    alert_status: Annotated[AlertStatusName | None, Query(alias="status", description="open, confirmed, "
                                                          "rejected or relabelled")] = None,
    label: Annotated[ClassName | None, Query(description="the class the device gave (N, S, V, F, Q)")] = None,
    since: Annotated[UtcDateTime | None, Query(description="received at or after (ISO 8601; no zone: UTC)")] = None,
    until: Annotated[UtcDateTime | None, Query(description="received before (ISO 8601; no zone: UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> AlertPage:
    flt = alert_service.AlertFilter(device_uid=device_id, status=alert_status, label=label, since=since,
                                    until=until)
    items, total = alert_service.list_alerts(session, flt, limit, offset)
    return AlertPage.model_validate({"items": items, "total": total, "limit": limit, "offset": offset})


@router.get("/{alert_id}", response_model=AlertDetail,
            summary="Read an alert with its beat, ECG window and feedback",
            responses={**AUTH_ERRORS, **error_responses(404, 422)})
def read_alert(session: SessionDep, _user: CurrentUser, alert_id: AlertId) -> AlertDetail:
    return AlertDetail.model_validate(alert_service.alert_detail(session, alert_id))


@router.post("/{alert_id}/feedback", response_model=FeedbackPublic, status_code=status.HTTP_201_CREATED,
             summary="Give feedback on an alert: confirm, reject or relabel (clinician or admin)",
             responses={**AUTH_ERRORS, **error_responses(404, 409, 422)})
def give_feedback(session: SessionDep, user: ClinicianUser, alert_id: AlertId, body: FeedbackCreate) \
        -> FeedbackPublic:
    """Recorded with the user and the time; the alert's status follows its latest feedback. A confirm naming
    another class than the alert's is 409 (use relabel)."""
    feedback, alert = feedback_service.give_feedback(session, alert_id, user, body)
    log.info("user_id=%s feedback %s on alert %s (%s%s): status %s", user.id, feedback.id, alert.id, body.action,
             f" {body.label}" if body.label else "", alert.status.value if hasattr(alert.status, "value")
             else alert.status)
    return FeedbackPublic.model_validate(feedback_service.public(
        feedback, alert.status.value if hasattr(alert.status, "value") else str(alert.status)))
