"""Reading alerts over real HTTP on SQLite and PostgreSQL: filters, pages, the detail with its ECG window."""
from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from sqlalchemy import select
from telemetry_items import T0, Peek, alert, at, beat, hello, new_boot, post

from server.models.telemetry import Alert


@pytest.fixture(scope="module")
def two_devices(live_server):
    """Two devices with alerts of several classes at known times; one alert per device confirmed.

    device A, boot a: alerts V (t=2), S (t=4), V (t=6, with ECG), F (t=8)
    device B, boot b: alerts V (t=3), Q (t=5)
    """
    a, b = live_server.make_device(), live_server.make_device()
    boot_a, boot_b = new_boot(), new_boot()
    ecg = {"start_sample": 300 * 5 - 180, "samples": [1000 + (i % 50) for i in range(360)]}
    items_a = [hello(boot_a, 1, sample_rate_hz=250),
               beat(boot_a, 11, "V", 1), alert(boot_a, 12, 11, "V", received_at=at(2)),
               beat(boot_a, 13, "S", 1), alert(boot_a, 14, 13, "S", received_at=at(4)),
               beat(boot_a, 5, "V", 1), alert(boot_a, 16, 5, "V", ecg=ecg, received_at=at(6)),
               alert(boot_a, 18, 17, "F", received_at=at(8))]  # its beat never arrived
    items_b = [beat(boot_b, 1, "V", 1), alert(boot_b, 2, 1, "V", received_at=at(3)),
               beat(boot_b, 3, "Q", 1), alert(boot_b, 4, 3, "Q", received_at=at(5))]
    assert post(live_server.client(a.token), a.device_uid, items_a).status_code == 200
    assert post(live_server.client(b.token), b.device_uid, items_b).status_code == 200
    return a, b, boot_a, boot_b


@pytest.fixture()
def db(sessionmaker_) -> Peek:
    return Peek(sessionmaker_)


def _ids(page: dict) -> list[tuple[str, str]]:
    return [(x["label"], x["received_at"]) for x in page["items"]]


def test_filters_by_device_class_and_time_newest_first(live_server, two_devices, engineer):
    a, b, boot_a, _ = two_devices
    c = live_server.client(engineer.token)

    page = c.get("/api/v1/alerts", params={"device_id": a.device_uid}).json()
    assert page["total"] == 4 and page["limit"] == 50 and page["offset"] == 0
    assert [x["label"] for x in page["items"]] == ["F", "V", "S", "V"]
    assert {x["device_id"] for x in page["items"]} == {a.device_uid}
    assert all(x["status"] == "open" and x["true_label"] is None for x in page["items"])
    assert [x["has_ecg"] for x in page["items"]] == [False, True, False, False]

    page = c.get("/api/v1/alerts", params={"device_id": a.device_uid, "label": "V"}).json()
    assert page["total"] == 2 and [x["seq"] for x in page["items"]] == [16, 12]

    # time range on when the bridge received the alert: since inclusive, until exclusive
    page = c.get("/api/v1/alerts", params={"since": at(3), "until": at(6)}).json()
    mine = [x for x in page["items"] if x["device_id"] in (a.device_uid, b.device_uid)]
    assert [(x["device_id"], x["label"]) for x in mine] == [(b.device_uid, "Q"), (a.device_uid, "S"),
                                                           (b.device_uid, "V")]
    # the same instant written in another zone
    elsewhere = (T0 + timedelta(seconds=4)).astimezone(timezone(timedelta(hours=1))).isoformat()
    page = c.get("/api/v1/alerts", params={"device_id": b.device_uid, "since": elsewhere}).json()
    assert [x["label"] for x in page["items"]] == ["Q"]


def test_pages(live_server, two_devices, clinician):
    a, *_ = two_devices
    c = live_server.client(clinician.token)
    seen = []
    for offset in range(0, 4, 3):
        page = c.get("/api/v1/alerts", params={"device_id": a.device_uid, "limit": 3, "offset": offset}).json()
        assert page["total"] == 4 and page["limit"] == 3 and page["offset"] == offset
        seen += [x["seq"] for x in page["items"]]
    assert seen == [18, 16, 14, 12]
    assert c.get("/api/v1/alerts", params={"device_id": a.device_uid, "offset": 10}).json()["items"] == []


def test_filter_by_status_follows_feedback(live_server, two_devices, clinician, db):
    a, b, boot_a, boot_b = two_devices
    c = live_server.client(clinician.token)
    s_alert = db.one(select(Alert.id).where(Alert.device_id == a.id, Alert.seq == 14))
    q_alert = db.one(select(Alert.id).where(Alert.device_id == b.id, Alert.seq == 4))
    assert c.post(f"/api/v1/alerts/{s_alert}/feedback", json={"action": "confirm"}).status_code == 201
    assert c.post(f"/api/v1/alerts/{q_alert}/feedback", json={"action": "relabel", "label": "N"}).status_code == 201

    mine = {a.device_uid, b.device_uid}
    confirmed = [x for x in c.get("/api/v1/alerts", params={"status": "confirmed"}).json()["items"]
                 if x["device_id"] in mine]
    assert [(x["id"], x["true_label"]) for x in confirmed] == [(s_alert, "S")]
    relabelled = c.get("/api/v1/alerts", params={"status": "relabelled", "device_id": b.device_uid}).json()
    assert [(x["id"], x["label"], x["true_label"]) for x in relabelled["items"]] == [(q_alert, "Q", "N")]
    still_open = c.get("/api/v1/alerts", params={"status": "open", "device_id": a.device_uid}).json()
    assert still_open["total"] == 3


def test_detail_has_the_beat_and_the_ecg_window(live_server, two_devices, engineer, db):
    a, _, boot_a, _ = two_devices
    c = live_server.client(engineer.token)
    with_ecg = db.one(select(Alert.id).where(Alert.device_id == a.id, Alert.seq == 16))
    d = c.get(f"/api/v1/alerts/{with_ecg}").json()
    assert d["id"] == with_ecg and d["device_id"] == a.device_uid and d["boot_id"] == boot_a
    assert d["beat_seq"] == 5 and d["r_sample"] == 1500 and d["label"] == "V" and d["rule"] == 1
    assert d["beat"]["seq"] == 5 and d["beat"]["scores"] == [-128, -128, 120, -128, -128]
    assert d["beat"]["probabilities"] == [0.0, 0.0, 248 / 256, 0.0, 0.0] and d["beat"]["flags"] == 1
    assert d["ecg"] == {"start_sample": 1320, "sample_rate_hz": 250, "r_sample": 1500,
                        "samples": [1000 + (i % 50) for i in range(360)]}
    assert d["feedback"] == []

    no_beat = db.one(select(Alert.id).where(Alert.device_id == a.id, Alert.seq == 18))
    d = c.get(f"/api/v1/alerts/{no_beat}").json()
    assert d["beat"] is None and d["ecg"] is None and d["has_ecg"] is False


def test_bad_queries_are_named(live_server, two_devices, engineer):
    c = live_server.client(engineer.token)
    r = c.get("/api/v1/alerts", params={"device_id": "hb-nobody-0000"})
    assert r.status_code == 404 and "'hb-nobody-0000' is not registered" in r.json()["detail"]
    r = c.get("/api/v1/alerts", params={"since": at(5), "until": at(1)})  # until before since: nothing matches
    assert r.status_code == 200 and r.json()["total"] == 0 and r.json()["items"] == []
    for value in ("1700000000", "1700000000.5"):  # unix times are not ISO 8601
        r = c.get("/api/v1/alerts", params={"since": value})
        assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == "since", r.text
    for params, field in (({"status": "closed"}, "status"), ({"label": "X"}, "label"), ({"limit": 0}, "limit"),
                          ({"limit": 501}, "limit"), ({"since": "yesterday"}, "since")):
        r = c.get("/api/v1/alerts", params=params)
        assert r.status_code == 422 and r.json()["detail"]["errors"][0]["field"] == field, (params, r.text)
    r = c.get("/api/v1/alerts/999999")
    assert r.status_code == 404 and r.json()["detail"] == "alert 999999 not found"
    assert c.get("/api/v1/alerts/0").status_code == 422


def test_who_may_read_alerts(live_server, two_devices, admin, engineer, clinician, db):
    a, *_ = two_devices
    alert_id = db.one(select(Alert.id).where(Alert.device_id == a.id, Alert.seq == 12))
    for actor in (admin, engineer, clinician):
        c = live_server.client(actor.token)
        assert c.get("/api/v1/alerts").status_code == 200
        assert c.get(f"/api/v1/alerts/{alert_id}").status_code == 200
    r = live_server.client(a.token).get("/api/v1/alerts")
    assert r.status_code == 403  # a device token reads nothing
    r = live_server.client().get(f"/api/v1/alerts/{alert_id}")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
