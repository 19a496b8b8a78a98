"""/api/v1/models over HTTP with a real MLflow registry: versions with metrics and aliases, promotion through the
toolchain's gate (who, why, the production path in app.log and in the registry), refusals with reasons."""
from __future__ import annotations

import pytest
from mlhelpers import CARD, register_current


@pytest.fixture(scope="module")
def versions(live_server):
    good = register_current(live_server.settings)
    weak = register_current(live_server.settings, tflm_se_V=0.5, tflm_macro_f1=0.30)
    return good, weak


def test_an_empty_registry_lists_nothing(live_server, clinician):
    r = live_server.client(clinician.token).get("/api/v1/models")
    assert r.status_code == 200 and r.json() == {"items": [], "champion": None}


def test_versions_are_listed_with_metrics_and_no_alias_yet(live_server, clinician, versions):
    good, weak = versions
    body = live_server.client(clinician.token).get("/api/v1/models").json()
    assert [v["version"] for v in body["items"]] == [good, weak] and body["champion"] is None
    first = body["items"][0]
    assert first["aliases"] == [] and first["protocol"] == "inter-patient"
    assert first["metrics"]["tflm_macro_f1"] == pytest.approx(CARD["summary"]["tflm_macro_f1"])
    assert first["model_sha256"] == CARD["sha256"]
    assert first["production_path"].endswith("/model/model_int8.tflite")
    one = live_server.client(clinician.token).get(f"/api/v1/models/{weak}").json()
    assert one["metrics"]["tflm_se_V"] == 0.5


def test_unknown_and_malformed_versions(live_server, engineer, versions):
    c = live_server.client(engineer.token)
    r = c.get("/api/v1/models/999")
    assert r.status_code == 404 and "999" in r.json()["detail"]
    assert c.get("/api/v1/models/0").status_code == 422
    assert c.get("/api/v1/models/latest").status_code == 422
    assert c.post("/api/v1/models/999/promote").status_code == 404


def test_clinicians_and_anonymous_callers_cannot_promote(live_server, clinician, versions):
    good, _ = versions
    assert live_server.client(clinician.token).post(f"/api/v1/models/{good}/promote").status_code == 403
    assert live_server.client().post(f"/api/v1/models/{good}/promote").status_code == 401
    assert live_server.client().get("/api/v1/models").status_code == 401


def test_promotion_through_the_gate_is_recorded_everywhere(live_server, engineer, versions, db_session):
    from server.models.ml import Promotion
    from toolchain import registry

    good, _ = versions
    r = live_server.client(engineer.token).post(f"/api/v1/models/{good}/promote",
                                                json={"note": "first champion"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["passed"] and body["changed"] and not body["forced"] and body["user_id"] == engineer.id
    assert body["previous_champion"] is None and any("tflm_se_V" in reason for reason in body["reasons"])
    path = body["production_path"]
    assert path.endswith("model_int8.tflite")
    # the registry: alias, reason and the production path
    info = registry.champion(live_server.settings.base_settings())
    assert info.version == good and info.tags["production_path"] == path
    assert "first champion" in info.tags["promoted_reason"]
    # app.log
    assert f"model version {good} is champion" in live_server.log_path.read_text()
    assert f"production model path: {path}" in live_server.log_path.read_text()
    # the database
    row = db_session.get(Promotion, body["id"])
    assert row.passed and row.user_id == engineer.id and row.note == "first champion"
    db_session.rollback()
    listed = live_server.client(engineer.token).get("/api/v1/models").json()
    assert listed["champion"] == good and listed["items"][0]["aliases"] == ["champion"]
    # promoting the champion again changes nothing and says so
    again = live_server.client(engineer.token).post(f"/api/v1/models/{good}/promote").json()
    assert again["passed"] and not again["changed"]


def test_a_failing_gate_is_409_with_its_reasons_and_changes_nothing(live_server, engineer, versions, db_session):
    from sqlalchemy import select

    from server.models.ml import Promotion

    good, weak = versions
    r = live_server.client(engineer.token).post(f"/api/v1/models/{weak}/promote")
    assert r.status_code == 409
    detail = r.json()["detail"]
    assert "did not pass the gate" in detail and "tflm_se_V 0.5 < 0.8" in detail
    assert live_server.client(engineer.token).get("/api/v1/models").json()["champion"] == good
    refused = db_session.scalars(select(Promotion).where(Promotion.model_version == weak)).all()
    assert len(refused) == 1 and not refused[0].passed and refused[0].production_path is None
    assert any("tflm_se_V" in reason for reason in refused[0].reasons)
    db_session.rollback()


def test_forcing_past_the_gate_is_for_admins_with_a_note(live_server, engineer, admin, versions):
    good, weak = versions
    r = live_server.client(engineer.token).post(f"/api/v1/models/{weak}/promote", json={"force": True,
                                                                                       "note": "test"})
    assert r.status_code == 403 and "administrator" in r.json()["detail"]
    r = live_server.client(admin.token).post(f"/api/v1/models/{weak}/promote", json={"force": True})
    assert r.status_code == 422 and "note" in r.json()["detail"]["message"]
    r = live_server.client(admin.token).post(f"/api/v1/models/{weak}/promote",
                                             json={"force": True, "note": "rollback drill"})
    assert r.status_code == 200 and r.json()["forced"] and r.json()["previous_champion"] == good
    # and back: the good version passes the gate against the weak champion
    r = live_server.client(engineer.token).post(f"/api/v1/models/{good}/promote")
    assert r.status_code == 200 and r.json()["passed"]
    history = live_server.client(engineer.token).get("/api/v1/models/promotions").json()["items"]
    assert [(h["model_version"], h["passed"], h["forced"]) for h in history[:3]] == \
        [(good, True, False), (weak, False, True), (weak, False, False)]
    assert live_server.client(engineer.token).post(f"/api/v1/models/{good}/promote",
                                                   json={"force": "yes please"}).status_code == 422
