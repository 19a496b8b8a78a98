"""/api/v1/monitoring over HTTP: the champion's accuracy, precision and recall per class on clinician-judged beats
(confirm, relabel, reject with and without a class; API and bedside feedback) over a rolling window, beside its
test set and the difference; /monitoring/all counts everything the server keeps."""
from __future__ import annotations

import pytest
from mlhelpers import CARD, promote, register_current
from telemetry_items import alert, at, beat, feedback, hello, new_boot, post

TEST = CARD["metrics"]["int8_tflm"]


def test_without_a_champion(live_server, engineer):
    c = live_server.client(engineer.token)
    r = c.get("/api/v1/monitoring")
    assert r.status_code == 503 and "no model is promoted to champion" in r.json()["detail"]
    everything = c.get("/api/v1/monitoring/all").json()
    assert everything["models"] == {"registered_versions": 0, "champion": None} and everything["champion"] is None


@pytest.fixture(scope="module")
def ward(live_server, clinician):
    """A device running the champion with 6 alerts (4 judged in the window, 1 judged long ago, 1 open) and a
    device running another model with 1 judged alert."""
    version = register_current(live_server.settings)
    promote(live_server.settings, version)
    dev = live_server.make_device()
    boot = new_boot()
    items = [hello(boot, 1, model_sha256=CARD["sha256"])]
    labels = {2: "V", 3: "V", 4: "V", 5: "S", 6: "V", 7: "V"}
    for seq, label in labels.items():
        items.append(beat(boot, 10 * seq, label))
        extra = {"received_at": at(-200 * 86400)} if seq == 7 else {}  # long ago: outside the 30-day window
        items.append(alert(boot, 10 * seq + 1, 10 * seq, label, **extra))
    c = live_server.client(dev.token)
    assert post(c, dev.device_uid, items).status_code == 200
    # bedside verdicts through ingest
    r = post(c, dev.device_uid, [feedback(boot, 31, "confirm"), feedback(boot, 41, "relabel", "S"),
                                 feedback(boot, 71, "confirm")])
    assert r.status_code == 200, r.text
    # clinician verdicts through the API
    api = live_server.client(clinician.token)
    listed = api.get("/api/v1/alerts", params={"device_id": dev.device_uid}).json()["items"]
    by_seq = {a["seq"]: a["id"] for a in listed}
    assert api.post(f"/api/v1/alerts/{by_seq[21]}/feedback", json={"action": "confirm"}).status_code == 201
    assert api.post(f"/api/v1/alerts/{by_seq[51]}/feedback", json={"action": "reject"}).status_code == 201
    # another model's device
    other = live_server.make_device()
    boot2 = new_boot()
    oc = live_server.client(other.token)
    assert post(oc, other.device_uid, [hello(boot2, 1, model_sha256="ab" * 32), beat(boot2, 2, "V"),
                                       alert(boot2, 3, 2, "V"), feedback(boot2, 3, "confirm")]).status_code == 200
    return version


def test_field_metrics_follow_the_documented_definitions(live_server, clinician, ward):
    r = live_server.client(clinician.token).get("/api/v1/monitoring")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == ward and body["model_sha256"] == CARD["sha256"] and body["window_days"] == 30
    field = body["field"]
    # judged in the window: V confirm (API), V confirm (bedside), V relabelled S, S rejected without a class
    assert (field["n"], field["confirmed"], field["relabelled"], field["rejected_with_label"],
            field["rejected_without_label"]) == (4, 2, 1, 0, 1)
    assert field["accuracy"] == 0.5
    assert field["per_class"]["V"] == {"precision": pytest.approx(2 / 3, abs=1e-6), "recall": 1.0, "tp": 2,
                                       "predicted": 3, "support": 2}
    # the reject counts against S's precision; the relabelled beat is S's support, missed
    assert field["per_class"]["S"] == {"precision": 0.0, "recall": 0.0, "tp": 0, "predicted": 1, "support": 1}
    assert field["per_class"]["N"]["precision"] is None and field["per_class"]["N"]["recall"] is None
    assert body["other_models_labelled"] == 1
    test = body["test_set"]
    assert test["n"] == TEST["n"] and test["accuracy"] == pytest.approx(TEST["accuracy"])
    assert test["per_class"]["V"]["precision"] == pytest.approx(TEST["per_class"]["V"]["precision"])
    assert body["difference"]["accuracy"] == pytest.approx(0.5 - TEST["accuracy"], abs=1e-6)
    assert body["difference"]["per_class"]["V"]["recall"] == \
        pytest.approx(1.0 - TEST["per_class"]["V"]["recall"], abs=1e-6)
    assert body["difference"]["per_class"]["N"]["precision"] is None
    assert "reject without a class" in body["definitions"]


def test_the_window_can_be_widened_and_is_checked(live_server, engineer, ward):
    c = live_server.client(engineer.token)
    wide = c.get("/api/v1/monitoring", params={"window_days": 3650}).json()
    assert wide["field"]["n"] == 5 and wide["field"]["confirmed"] == 3  # the January alert is in
    for bad in (0, -1, "week", 100000):
        r = c.get("/api/v1/monitoring", params={"window_days": bad})
        assert r.status_code == 422 and "window_days" in r.json()["detail"]["message"]


def test_everything_the_server_counts(live_server, engineer, clinician, ward):
    c = live_server.client(engineer.token)
    live_server.client(clinician.token).get("/api/v1/predict/random", params={"record": "100"})
    body = c.get("/api/v1/monitoring/all").json()
    assert body["models"] == {"registered_versions": 1, "champion": ward}
    assert body["devices"]["total"] >= 2 and body["devices"]["active_tokens"] >= 2
    assert body["alerts"]["total"] == 7 and body["alerts"]["open"] == 1 and body["alerts"]["confirmed"] == 4
    assert body["alerts"]["relabelled"] == 1 and body["alerts"]["rejected"] == 1
    assert body["feedback"] == {"total": 6, "confirm": 4, "reject": 1, "relabel": 1, "api": 2, "bedside": 4}
    assert body["beats"]["total"] == 7 and body["beats"]["V"] == 6 and body["beats"]["S"] == 1
    assert body["ingest"]["hellos"] == 2 and body["ingest"]["batches"] >= 3
    assert body["predictions"]["random"] >= 1 and body["predictions"]["random_accuracy"] is not None
    assert set(body["jobs"]) == {"total", "queued", "running", "succeeded", "failed", "cancelled"}
    assert body["users"]["total"] >= 2 and body["champion"]["field"]["n"] == 4
    text = c.get("/api/v1/monitoring/all").text
    assert "password" not in text and "hbd_" not in text and "token_hash" not in text


def test_who_may_see_it(live_server, clinician, ward):
    assert live_server.client(clinician.token).get("/api/v1/monitoring").status_code == 200
    assert live_server.client(clinician.token).get("/api/v1/monitoring/all").status_code == 403
    assert live_server.client().get("/api/v1/monitoring").status_code == 401
