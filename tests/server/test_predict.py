"""/api/v1/predict over HTTP: the champion under TFLM gives the device's own scores; bad input is a clear 422;
/predict/random draws from the champion's test set, tells the truth, and every outcome is logged."""
from __future__ import annotations

import pytest
from mlhelpers import CARD, golden_beats, promote, register_current

from heartbeat_core.domain import AAMI_CLASSES


def test_without_a_champion_predict_answers_503_saying_so(live_server, engineer):
    beats, _ = golden_beats()
    c = live_server.client(engineer.token)
    r = c.post("/api/v1/predict", json={"beat": beats[0]["window"], "rr": beats[0]["rr"]})
    assert r.status_code == 503
    assert "no model is promoted to champion" in r.json()["detail"]
    assert c.get("/api/v1/predict/random").status_code == 503


@pytest.fixture(scope="module")
def champion(live_server):
    version = register_current(live_server.settings)
    promote(live_server.settings, version)
    return version


def test_scores_are_the_devices_tflm_scores_bit_for_bit(live_server, clinician, champion):
    beats, scores = golden_beats()
    c = live_server.client(clinician.token)
    picked = list(range(0, len(beats), 7))
    for i in picked:
        r = c.post("/api/v1/predict", json={"beat": beats[i]["window"], "rr": beats[i]["rr"]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["scores"] == scores[i], f"golden beat {i}"
        assert body["label"] == CARD["class_names"][max(range(5), key=lambda k: scores[i][k])]
        assert body["model_version"] == champion
        assert body["probabilities"][0] == pytest.approx((scores[i][0] + 128) / 256, abs=1e-6)


def test_every_prediction_is_logged(live_server, engineer, champion, db_session):
    from server.models.ml import PredictionLog

    beats, scores = golden_beats()
    r = live_server.client(engineer.token).post("/api/v1/predict",
                                                json={"beat": beats[3]["window"], "rr": beats[3]["rr"]})
    row = db_session.get(PredictionLog, r.json()["prediction_id"])
    assert row.source.value == "predict" and row.user_id == engineer.id and row.scores == scores[3]
    assert row.true_label is None and row.correct is None
    db_session.rollback()  # end the read transaction (SQLite: it holds the write lock)
    assert f"prediction {row.id}: source=predict" in live_server.log_path.read_text()


@pytest.mark.parametrize("body, where", [
    ({"beat": [0] * 127, "rr": [0, 0, 0]}, "beat"),
    ({"beat": [0] * 128, "rr": [0, 0]}, "rr"),
    ({"beat": [0] * 127 + [128], "rr": [0, 0, 0]}, "beat.127"),
    ({"beat": [0] * 128, "rr": [0, -129, 0]}, "rr.1"),
    ({"beat": [0] * 128, "rr": [0, "1", 0]}, "rr.1"),
    ({"beat": [0.5] * 128, "rr": [0, 0, 0]}, "beat.0"),
    ({"beat": [0] * 128}, "rr"),
    ({"beat": [0] * 128, "rr": [0, 0, 0], "extra": 1}, "extra"),
])
def test_bad_input_is_a_422_naming_the_field(live_server, engineer, champion, body, where):
    r = live_server.client(engineer.token).post("/api/v1/predict", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert where in [e["field"] for e in detail["errors"]], detail
    assert where in detail["message"]


def test_malformed_json_and_no_token(live_server, engineer, champion):
    r = live_server.client(engineer.token).post("/api/v1/predict", content=b"{not json",
                                                headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    r = live_server.client().post("/api/v1/predict", json={"beat": [0] * 128, "rr": [0, 0, 0]})
    assert r.status_code == 401


def test_random_test_beat_with_its_true_label_is_logged(live_server, clinician, champion, db_session):
    from server.models.ml import PredictionLog

    c = live_server.client(clinician.token)
    seen = []
    for _ in range(5):
        r = c.get("/api/v1/predict/random", params={"record": "100"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["record"] == "100" and body["record"] in CARD["data"]["test_records"]
        assert body["true_label"] in AAMI_CLASSES and body["correct"] == (body["label"] == body["true_label"])
        assert len(body["beat"]) == 128 and len(body["rr"]) == 3
        # the answer is the model's answer on the beat it returns
        again = c.post("/api/v1/predict", json={"beat": body["beat"], "rr": body["rr"]}).json()
        assert again["scores"] == body["scores"]
        row = db_session.get(PredictionLog, body["prediction_id"])
        assert (row.source.value, row.record, row.sample, row.true_label, row.correct) == \
            ("random", "100", body["sample"], body["true_label"], body["correct"])
        db_session.rollback()
        seen.append(body["sample"])
    assert len(set(seen)) > 1  # 5 draws from ~2,270 beats
    log = live_server.log_path.read_text()
    assert f"prediction {body['prediction_id']}: source=random" in log and f"correct={body['correct']}" in log


def test_random_from_a_record_outside_the_test_set_is_refused(live_server, engineer, champion):
    c = live_server.client(engineer.token)
    r = c.get("/api/v1/predict/random", params={"record": "101"})  # a DS1 (training) record
    assert r.status_code == 404 and "not in the champion's test set" in r.json()["detail"]
    assert c.get("/api/v1/predict/random", params={"record": "abc"}).status_code == 422
