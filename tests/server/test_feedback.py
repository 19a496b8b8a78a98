"""Clinician feedback over real HTTP on SQLite and PostgreSQL: from the API (a signed-in clinician) and from the
bedside (ingest), into one table; the alert's status follows the latest feedback."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from telemetry_items import T0, Peek, alert, at, beat, feedback, new_boot, post

from server.models.telemetry import Alert, Feedback


@pytest.fixture()
def db(sessionmaker_) -> Peek:
    return Peek(sessionmaker_)


def _alert_id(live_server, dev, db: Peek, label: str = "V") -> tuple[int, int]:
    """A new alert (on a new boot) of the device, through ingest; its id and boot."""
    boot = new_boot()
    r = post(live_server.client(dev.token), dev.device_uid, [beat(boot, 1, label, 1), alert(boot, 2, 1, label)])
    assert r.status_code == 200, r.text
    return db.one(select(Alert.id).where(Alert.device_id == dev.id, Alert.boot_id == boot)), boot


def test_clinician_feedback_is_recorded_with_who_and_when_and_moves_the_status(live_server, device, clinician, db):
    alert_id, _ = _alert_id(live_server, device, db)
    c = live_server.client(clinician.token)
    before = datetime.now(UTC)

    r = c.post(f"/api/v1/alerts/{alert_id}/feedback", json={"action": "confirm"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["alert_id"] == alert_id and body["action"] == "confirm" and body["true_label"] == "V"
    assert body["source"] == "api" and body["user_id"] == clinician.id and body["clinician"] == "Test clinician"
    assert body["alert_status"] == "confirmed"
    given = datetime.fromisoformat(body["created_at"])
    assert before - timedelta(seconds=1) <= given <= datetime.now(UTC) + timedelta(seconds=1)

    r = c.post(f"/api/v1/alerts/{alert_id}/feedback", json={"action": "relabel", "label": "S"})
    assert r.status_code == 201 and r.json()["alert_status"] == "relabelled" and r.json()["true_label"] == "S"
    stored = db.one(select(Alert).where(Alert.id == alert_id))
    assert stored.status.value == "relabelled" and stored.true_label == "S"

    r = c.post(f"/api/v1/alerts/{alert_id}/feedback", json={"action": "reject"})
    assert r.status_code == 201 and r.json()["alert_status"] == "rejected" and r.json()["true_label"] is None
    rows = db.all(select(Feedback).where(Feedback.alert_id == alert_id).order_by(Feedback.id))
    assert [(f.action.value, f.user_id, f.source.value) for f in rows] == [
        ("confirm", clinician.id, "api"), ("relabel", clinician.id, "api"), ("reject", clinician.id, "api")]

    detail = c.get(f"/api/v1/alerts/{alert_id}").json()
    assert detail["status"] == "rejected"
    assert [f["action"] for f in detail["feedback"]] == ["confirm", "relabel", "reject"]


def test_a_reject_may_name_the_true_class(live_server, device, admin, db):
    alert_id, _ = _alert_id(live_server, device, db)
    r = live_server.client(admin.token).post(f"/api/v1/alerts/{alert_id}/feedback",
                                             json={"action": "reject", "label": "N"})
    assert r.status_code == 201 and r.json()["true_label"] == "N" and r.json()["alert_status"] == "rejected"


def test_who_may_give_feedback(live_server, device, admin, engineer, clinician, db):
    alert_id, _ = _alert_id(live_server, device, db)
    url = f"/api/v1/alerts/{alert_id}/feedback"
    assert live_server.client(admin.token).post(url, json={"action": "confirm"}).status_code == 201
    assert live_server.client(clinician.token).post(url, json={"action": "confirm"}).status_code == 201
    r = live_server.client(engineer.token).post(url, json={"action": "confirm"})
    assert r.status_code == 403 and "engineer" in r.json()["detail"]
    assert live_server.client(device.token).post(url, json={"action": "confirm"}).status_code == 403
    r = live_server.client().post(url, json={"action": "confirm"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_bad_feedback_is_refused_with_a_reason(live_server, device, clinician, db):
    alert_id, _ = _alert_id(live_server, device, db)
    c = live_server.client(clinician.token)
    url = f"/api/v1/alerts/{alert_id}/feedback"
    r = c.post(url, json={"action": "relabel"})
    assert r.status_code == 422 and "relabel needs a label" in r.json()["detail"]["message"]
    r = c.post(url, json={"action": "confirm", "label": "N"})  # well formed, but it conflicts with the alert's class
    assert r.status_code == 409 and "use relabel" in r.json()["detail"]
    r = c.post(url, json={"action": "approve"})
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "action"
    r = c.post(url, json={"action": "relabel", "label": "Z"})
    assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "label"
    r = c.post("/api/v1/alerts/999999/feedback", json={"action": "confirm"})
    assert r.status_code == 404 and r.json()["detail"] == "alert 999999 not found"
    assert db.count(Feedback, alert_id=alert_id) == 0
    # confirming with the alert's own class is fine
    assert c.post(url, json={"action": "confirm", "label": "V"}).status_code == 201


def test_bedside_feedback_arrives_through_ingest_into_the_same_table(live_server, device, clinician, db):
    alert_id, boot = _alert_id(live_server, device, db)
    fid = "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"
    items = [feedback(boot, 2, "relabel", label="F", created=500, feedback_id=fid, clinician="Nurse Bedside")]
    r = post(live_server.client(device.token), device.device_uid, items)
    assert r.status_code == 200 and r.json()["counts"]["feedback"] == 1
    again = post(live_server.client(device.token), device.device_uid, items)
    assert again.json()["stored"] == 0 and again.json()["duplicates"] == 1

    row = db.one(select(Feedback).where(Feedback.feedback_uid == fid))
    assert row.alert_id == alert_id and row.source.value == "bedside" and row.user_id is None
    assert row.clinician_name == "Nurse Bedside" and row.true_label == "F"
    assert row.created_at == T0 + timedelta(seconds=500)

    detail = live_server.client(clinician.token).get(f"/api/v1/alerts/{alert_id}").json()
    assert detail["status"] == "relabelled" and detail["true_label"] == "F"
    assert detail["feedback"] == [{
        "id": row.id, "feedback_id": fid, "alert_id": alert_id, "action": "relabel", "true_label": "F",
        "source": "bedside", "user_id": None, "clinician": "Nurse Bedside", "created_at": at(500),
        "alert_status": None}]


def test_the_latest_feedback_decides_whatever_the_order_it_arrives_in(live_server, device, clinician, db):
    alert_id, boot = _alert_id(live_server, device, db)
    c = live_server.client(clinician.token)
    # an API verdict now, then a bedside verdict given earlier (a bridge that was offline) arrives later
    assert c.post(f"/api/v1/alerts/{alert_id}/feedback", json={"action": "confirm"}).status_code == 201
    late = post(live_server.client(device.token), device.device_uid, [feedback(boot, 2, "reject", created=-86400)])
    assert late.status_code == 200
    detail = c.get(f"/api/v1/alerts/{alert_id}").json()
    assert detail["status"] == "confirmed"
    assert [f["action"] for f in detail["feedback"]] == ["reject", "confirm"]  # oldest first


def test_bedside_confirm_with_another_class_is_an_invalid_item(live_server, device, db):
    _, boot = _alert_id(live_server, device, db)
    r = post(live_server.client(device.token), device.device_uid,
             [feedback(boot, 2, "confirm", label="V"), feedback(boot, 2, "confirm", label="N")])
    assert r.status_code == 422
    assert [(e["index"], e["field"]) for e in r.json()["detail"]["errors"]] == [(1, "label")]


def test_simultaneous_verdicts_leave_the_status_of_the_latest(live_server, device, clinician, admin, db):
    """Two clinicians answer the same alert at the same moment: the status is always the latest feedback's."""
    import threading

    def give(client, alert_id, body, barrier, codes):
        barrier.wait()
        codes.append(client.post(f"/api/v1/alerts/{alert_id}/feedback", json=body).status_code)

    for _ in range(4):
        alert_id, _ = _alert_id(live_server, device, db)
        bodies = [{"action": "confirm"}, {"action": "relabel", "label": "F"}]
        clients = [live_server.client(clinician.token), live_server.client(admin.token)]
        barrier = threading.Barrier(2)
        codes = []
        threads = [threading.Thread(target=give, args=(clients[i], alert_id, bodies[i], barrier, codes))
                   for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert codes == [201, 201]
        latest = db.all(select(Feedback).where(Feedback.alert_id == alert_id)
                        .order_by(Feedback.created_at.desc(), Feedback.id.desc()))[0]
        stored = db.one(select(Alert).where(Alert.id == alert_id))
        assert stored.status.value == {"confirm": "confirmed", "relabel": "relabelled"}[latest.action.value]
        assert stored.true_label == latest.true_label


def test_a_bedside_verdict_from_a_fast_clock_does_not_outlive_later_ones(live_server, device, clinician, db):
    """A bedside PC whose clock runs ahead (within HEARTBEAT_CLOCK_SKEW_SECONDS; further ahead is refused): its
    verdict counts from when the server stored it, so a clinician's later verdict through the API still
    decides the alert."""
    alert_id, boot = _alert_id(live_server, device, db)
    ahead_s = live_server.settings.clock_skew_seconds / 2
    ahead = post(live_server.client(device.token), device.device_uid,
                 [feedback(boot, 2, "reject", created=ahead_s + (datetime.now(UTC) - T0).total_seconds())])
    assert ahead.status_code == 200, ahead.text
    c = live_server.client(clinician.token)
    assert c.get(f"/api/v1/alerts/{alert_id}").json()["status"] == "rejected"
    assert c.post(f"/api/v1/alerts/{alert_id}/feedback", json={"action": "confirm"}).status_code == 201
    detail = c.get(f"/api/v1/alerts/{alert_id}").json()
    assert detail["status"] == "confirmed"
    assert [f["action"] for f in detail["feedback"]] == ["reject", "confirm"]
    stored = db.one(select(Feedback.created_at).where(Feedback.alert_id == alert_id, Feedback.action == "reject"))
    stored = stored if stored.tzinfo else stored.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    assert stored <= datetime.now(UTC)


def test_a_control_character_in_the_bedside_name_is_an_invalid_item(live_server, device, db):
    """Named as that item's problem (so the bridge keeps just that item as rejected), on both databases; before,
    PostgreSQL refused the NUL only when storing, in a 422 that named no item."""
    alert_id, boot = _alert_id(live_server, device, db)
    r = post(live_server.client(device.token), device.device_uid,
             [feedback(boot, 2, "confirm"), feedback(boot, 2, "reject", clinician="Dr. \x00Null")])
    assert r.status_code == 422, r.text
    assert [(e["index"], e["field"]) for e in r.json()["detail"]["errors"]] == [(1, "clinician")]
    assert db.count(Feedback, alert_id=alert_id) == 0  # nothing of the batch stored
