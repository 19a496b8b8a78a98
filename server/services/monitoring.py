"""How the champion does on real patients, and every count the server keeps. No HTTP in here.

Field metrics (`champion_report`): the alerts raised by devices running the champion (their HELLO's model
sha256 equals the champion's) and received in the window, that a clinician judged. Each judged alert is one beat
with the model's class (the alert's label) and what the clinician said:
- confirm: the true class is the predicted one (a true positive of that class);
- relabel (or a reject that names the class): the true class is the one given;
- reject without a class: the prediction was wrong but the true class is unknown. It counts as an error in
  accuracy and as a false positive against the precision of the predicted class; it counts in no class's recall
  (support is only the beats whose class is known).
accuracy = correct / judged; precision(c) = tp(c) / predicted(c); recall(c) = tp(c) / support(c).
Caveat: only beats that raised an alert can be judged, so the sample leans towards the alerting (abnormal) classes
and recall cannot see abnormal beats the model called N. Test-set metrics come from the champion's model card
(int8 under TFLM on the whole test set); difference = field - test set.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from heartbeat_core.domain import AAMI_CLASSES
from server.core.settings import Settings
from server.models.base import Base
from server.models.identity import Device, DeviceToken, User
from server.models.ml import Job, JobStatus, PredictionLog, PredictionSource, Promotion
from server.models.telemetry import (
    Alert,
    AlertStatus,
    Beat,
    DeviceStatus,
    Feedback,
    FeedbackAction,
    FeedbackSource,
    Gap,
    Hello,
    IngestBatch,
)
from server.services.registry import NoChampion, champion_files, champion_info, list_versions

UNKNOWN = "?"
DEFINITIONS = (
    "Judged alerts of devices running the champion (HELLO model sha256), received in the window. confirm: true "
    "class = predicted; relabel, or reject naming a class: true class = the one given; reject without a class: "
    "wrong, true class unknown (an error in accuracy and a false positive of the predicted class; in no class's "
    "recall). precision = tp / predicted, recall = tp / support (beats of known class). Only alerted beats can be "
    "judged, so the sample leans to abnormal classes. Test set: the model card's int8 (TFLM) metrics. "
    "difference = field - test set."
)


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 6) if den else None


def score(pairs: list[tuple[str, str]], classes: Sequence[str] = AAMI_CLASSES) -> dict[str, Any]:
    """Metrics of (predicted, true) pairs; true may be UNKNOWN (known to be wrong, class unknown)."""
    n = len(pairs)
    correct = sum(1 for p, t in pairs if p == t)
    per_class: dict[str, dict[str, Any]] = {}
    for c in classes:
        tp = sum(1 for p, t in pairs if p == c and t == c)
        predicted = sum(1 for p, _ in pairs if p == c)
        support = sum(1 for _, t in pairs if t == c)
        per_class[c] = {"precision": _ratio(tp, predicted), "recall": _ratio(tp, support), "tp": tp,
                        "predicted": predicted, "support": support}
    return {"n": n, "accuracy": _ratio(correct, n), "per_class": per_class}


def card_test_metrics(card: dict[str, Any]) -> dict[str, Any]:
    report = (card.get("metrics") or {}).get("int8_tflm") or {}
    per_class: dict[str, dict[str, Any]] = {}
    for c in AAMI_CLASSES:
        m = (report.get("per_class") or {}).get(c) or {}
        per_class[c] = {"precision": m.get("precision"), "recall": m.get("recall"), "tp": int(m.get("tp", 0)),
                        "predicted": int(m.get("predicted", 0)), "support": int(m.get("support", 0))}
    return {"n": int(report.get("n", 0)), "accuracy": report.get("accuracy"), "per_class": per_class}


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 6)


def champion_report(session: Session, settings: Settings, window_days: int | None = None,
                    now: datetime | None = None) -> dict[str, Any]:
    files = champion_files(settings)  # NoChampion when none is promoted
    days = window_days or settings.monitoring_window_days
    until = now or datetime.now(UTC)
    since = until - timedelta(days=days)
    runs_champion = exists().where(and_(Hello.device_id == Alert.device_id, Hello.boot_id == Alert.boot_id,
                                        Hello.model_sha256 == files.sha256))
    judged = (Alert.status != AlertStatus.open, Alert.received_at >= since, Alert.received_at <= until)
    rows = session.execute(select(Alert.label, Alert.status, Alert.true_label).where(*judged, runs_champion)).all()
    other = session.scalar(select(func.count()).select_from(Alert).where(*judged, ~runs_champion)) or 0
    pairs: list[tuple[str, str]] = []
    kinds = {"confirmed": 0, "relabelled": 0, "rejected_with_label": 0, "rejected_without_label": 0}
    for label, status, true_label in rows:
        if status == AlertStatus.confirmed:
            pairs.append((label, label))
            kinds["confirmed"] += 1
        elif status == AlertStatus.relabelled:
            pairs.append((label, true_label or UNKNOWN))
            kinds["relabelled"] += 1
        elif true_label:
            pairs.append((label, true_label))
            kinds["rejected_with_label"] += 1
        else:
            pairs.append((label, UNKNOWN))
            kinds["rejected_without_label"] += 1
    field = {**score(pairs), **kinds}
    test = card_test_metrics(files.card)
    difference = {"accuracy": _diff(field["accuracy"], test["accuracy"]),
                  "per_class": {c: {"precision": _diff(field["per_class"][c]["precision"],
                                                       test["per_class"][c]["precision"]),
                                    "recall": _diff(field["per_class"][c]["recall"], test["per_class"][c]["recall"])}
                                for c in AAMI_CLASSES}}
    return {"model_version": files.version, "model_sha256": files.sha256, "window_days": days, "since": since,
            "until": until, "field": field, "test_set": test, "difference": difference,
            "other_models_labelled": int(other), "definitions": DEFINITIONS}


def _count(session: Session, model: type[Base], *where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _grouped(session: Session, column: InstrumentedAttribute[Any], names: Iterable[str]) -> dict[str, int]:
    found = {getattr(k, "value", k): int(v) for k, v in session.execute(select(column, func.count()).group_by(column))}
    return {name: found.get(name, 0) for name in names}


def everything(session: Session, settings: Settings) -> dict[str, Any]:
    now = datetime.now(UTC)
    users = _grouped(session, User.role, ("admin", "engineer", "clinician"))
    beats = _grouped(session, Beat.label, AAMI_CLASSES)
    alerts = _grouped(session, Alert.status, [s.value for s in AlertStatus])
    feedback = {**_grouped(session, Feedback.action, [a.value for a in FeedbackAction]),
                **_grouped(session, Feedback.source, [s.value for s in FeedbackSource])}
    jobs = _grouped(session, Job.status, [s.value for s in JobStatus])
    random_n = _count(session, PredictionLog, PredictionLog.source == PredictionSource.random)
    random_ok = _count(session, PredictionLog, PredictionLog.source == PredictionSource.random,
                       PredictionLog.correct.is_(True))
    predict_n = _count(session, PredictionLog, PredictionLog.source == PredictionSource.predict)
    passed = _count(session, Promotion, Promotion.passed.is_(True))
    forced = _count(session, Promotion, Promotion.forced.is_(True))
    promotions_total = _count(session, Promotion)
    try:
        versions = list_versions(settings)
        champion = champion_info(settings)
        models: dict[str, int | None] = {"registered_versions": len(versions),
                                         "champion": champion.version if champion else None}
    except Exception:  # the registry being unreachable must not hide the database's numbers
        models = {"registered_versions": None, "champion": None}
    try:
        report = champion_report(session, settings) if models.get("champion") else None
    except NoChampion:
        report = None
    return {
        "generated_at": now,
        "users": {"total": sum(users.values()), **users},
        "devices": {"total": _count(session, Device),
                    "seen_last_24h": _count(session, Device, Device.last_seen_at >= now - timedelta(days=1)),
                    "active_tokens": _count(session, DeviceToken, DeviceToken.revoked_at.is_(None))},
        "beats": {"total": sum(beats.values()), **beats},
        "alerts": {"total": sum(alerts.values()), **alerts},
        "feedback": {"total": _count(session, Feedback), **feedback},
        "predictions": {"total": random_n + predict_n, "predict": predict_n, "random": random_n,
                        "random_correct": random_ok, "random_accuracy": _ratio(random_ok, random_n)},
        "jobs": {"total": sum(jobs.values()), **jobs},
        "ingest": {"batches": _count(session, IngestBatch), "hellos": _count(session, Hello),
                   "statuses": _count(session, DeviceStatus), "gaps": _count(session, Gap)},
        "promotions": {"total": promotions_total, "passed": passed, "forced": forced,
                       "refused": promotions_total - passed - forced},
        "models": models,
        "champion": report,
    }
