"""Clinician feedback on alerts, from the API and from the bedside (ingest): one table, one rule for status.

An alert's `status` and `true_label` follow its latest feedback (by the time the clinician gave it, then by
arrival): confirm -> confirmed (true class: the alert's own), reject -> rejected (true class: the one named,
if any), relabel -> relabelled (true class: the one given). Nothing here commits except give_feedback, the
API's whole transaction; ingest commits its batch itself.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from server.core.errors import ConflictError, NotFoundError
from server.models.base import utcnow
from server.models.identity import User
from server.models.telemetry import STATUS_AFTER, Alert, Feedback, FeedbackAction, FeedbackSource
from server.schemas.feedback import FeedbackCreate
from server.schemas.ingest import contradicts


def true_label_of(action: str, label: str | None, alert_label: str) -> str | None:
    """The class the clinician says the beat is."""
    if action == FeedbackAction.confirm.value:
        return alert_label
    return label  # relabel: required; reject: optional


def add_feedback_rows(session: Session, rows: list[dict[str, Any]], now: datetime | None = None) -> None:
    """Insert feedback rows (keys: feedback_uid, alert_id, action, label, user_id, clinician_name, source,
    created_at) and bring their alerts' status up to date. The alerts must exist."""
    if not rows:
        return
    now = now or utcnow()
    # Lock the alerts (PostgreSQL; SQLite's writer is alone anyway) so that two verdicts on one alert given at
    # the same moment are applied one after the other and the later transaction sees the earlier's feedback.
    labels = dict(session.execute(select(Alert.id, Alert.label).where(
        Alert.id.in_({row["alert_id"] for row in rows})).order_by(Alert.id).with_for_update()).all())
    session.execute(insert(Feedback), [
        {"feedback_uid": row["feedback_uid"], "alert_id": row["alert_id"],
         "action": FeedbackAction(row["action"]), "true_label": true_label_of(row["action"], row["label"],
                                                                           labels[row["alert_id"]]),
         "user_id": row["user_id"], "clinician_name": row["clinician_name"], "source": FeedbackSource(row["source"]),
         # a verdict dated in the future (a bedside PC whose clock runs fast) counts from when it was stored:
         # otherwise it would stay "the latest" and no later verdict could change the alert
         "created_at": min(row["created_at"], now), "stored_at": now}
        for row in rows])
    refresh_alert_status(session, {row["alert_id"] for row in rows})


def refresh_alert_status(session: Session, alert_ids: set[int]) -> None:
    for alert_id in sorted(alert_ids):
        latest = session.scalars(select(Feedback).where(Feedback.alert_id == alert_id)
                                 .order_by(Feedback.created_at.desc(), Feedback.id.desc()).limit(1)).first()
        if latest is None:
            continue
        session.execute(update(Alert).where(Alert.id == alert_id).values(
            status=STATUS_AFTER[FeedbackAction(latest.action)], true_label=latest.true_label))


def give_feedback(session: Session, alert_id: int, user: User, data: FeedbackCreate) -> tuple[Feedback, Alert]:
    """A signed-in clinician's (or admin's) feedback on alert `alert_id`, recorded with who and when."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"alert {alert_id} not found")
    problem = contradicts(data.action, data.label, alert.label)
    if problem:  # the request is well formed; it conflicts with the alert's class
        raise ConflictError(problem)
    feedback_uid = str(uuid.uuid4())
    add_feedback_rows(session, [{
        "feedback_uid": feedback_uid, "alert_id": alert.id, "action": data.action, "label": data.label,
        "user_id": user.id, "clinician_name": user.full_name or user.email, "source": FeedbackSource.api,
        "created_at": utcnow()}])
    session.commit()
    feedback = session.scalars(select(Feedback).where(Feedback.feedback_uid == feedback_uid)).one()
    session.refresh(alert)
    return feedback, alert


def feedback_of(session: Session, alert_id: int) -> list[Feedback]:
    return list(session.scalars(select(Feedback).where(Feedback.alert_id == alert_id)
                                .order_by(Feedback.created_at, Feedback.id)))


def public(feedback: Feedback, alert_status: str | None = None) -> dict[str, Any]:
    return {"id": feedback.id, "feedback_id": feedback.feedback_uid, "alert_id": feedback.alert_id,
            "action": FeedbackAction(feedback.action).value, "true_label": feedback.true_label,
            "source": FeedbackSource(feedback.source).value, "user_id": feedback.user_id,
            "clinician": feedback.clinician_name, "created_at": feedback.created_at, "alert_status": alert_status}
