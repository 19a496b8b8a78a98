"""/api/v1/retrain over HTTP, request side: a request only queues a job (params saved to a file), never trains;
status, list, log and cancel; bad parameters are a 422 naming the problem; only engineers and admins."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

TINY = {"epochs": 1, "train_records": ["101", "106"], "test_records": ["100"], "include_confirmed": False}


def test_a_request_queues_a_job_and_saves_its_parameters(live_server, engineer):
    c = live_server.client(engineer.token)
    r = c.post("/api/v1/retrain", json={**TINY, "note": "tiny"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued" and job["created_by"] == engineer.id and job["kind"] == "retrain"
    assert job["params"]["epochs"] == 1 and job["params"]["learning_rate"] == 0.001  # defaults filled in
    saved = json.loads((Path(live_server.settings.jobs_dir) / str(job["id"]) / "params.json").read_text())
    assert saved["params"] == job["params"] and saved["job_id"] == job["id"]
    # no worker runs in this module: the job stays queued, nothing was trained
    again = c.get(f"/api/v1/retrain/{job['id']}").json()
    assert again["status"] == "queued" and again["started_at"] is None and again["mlflow_run_id"] is None
    log = c.get(f"/api/v1/retrain/{job['id']}/log").json()
    assert log["text"] == "" and log["status"] == "queued"


def test_list_filters_by_status(live_server, admin):
    c = live_server.client(admin.token)
    ids = [c.post("/api/v1/retrain", json=TINY).json()["id"] for _ in range(2)]
    c.post(f"/api/v1/retrain/{ids[0]}/cancel")
    queued = c.get("/api/v1/retrain", params={"status": "queued"}).json()
    assert ids[1] in [j["id"] for j in queued["items"]] and ids[0] not in [j["id"] for j in queued["items"]]
    everything = c.get("/api/v1/retrain").json()
    assert everything["total"] >= 2 and [j["id"] for j in everything["items"]][:2] == [ids[1], ids[0]]
    assert c.get("/api/v1/retrain", params={"status": "sleeping"}).status_code == 422


def test_cancel_a_queued_job_then_again(live_server, engineer, db_session):
    c = live_server.client(engineer.token)
    job = c.post("/api/v1/retrain", json=TINY).json()
    r = c.post(f"/api/v1/retrain/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["finished_at"]
    r = c.post(f"/api/v1/retrain/{job['id']}/cancel")
    assert r.status_code == 409 and "already finished (cancelled)" in r.json()["detail"]


def test_unknown_jobs(live_server, engineer):
    c = live_server.client(engineer.token)
    for path in ("/api/v1/retrain/424242", "/api/v1/retrain/424242/log"):
        r = c.get(path)
        assert r.status_code == 404 and "424242" in r.json()["detail"]
    assert c.post("/api/v1/retrain/424242/cancel").status_code == 404
    assert c.get("/api/v1/retrain/0").status_code == 422


@pytest.mark.parametrize("body, message", [
    ({"epochs": 0}, "epochs"),
    ({"learning_rate": 1.5}, "learning_rate"),
    ({"class_weighting": "cubic"}, "class_weighting"),
    ({"data": "recent"}, "needs sample_size"),
    ({"data": "full", "sample_size": 500}, "only to data='recent'"),
    ({"train_records": ["100"]}, "100 not in DS1"),
    ({"test_records": ["101"]}, "101 not in DS2"),
    ({"train_records": ["101", "101"]}, "listed twice"),
    ({"epochs": 1, "optimizer": "sgd"}, "optimizer"),
    ({"batch_size": "big"}, "batch_size"),
])
def test_bad_parameters_are_refused_naming_the_problem(live_server, engineer, body, message):
    r = live_server.client(engineer.token).post("/api/v1/retrain", json=body)
    assert r.status_code == 422
    assert message in r.json()["detail"]["message"], r.json()


def test_only_engineers_and_admins(live_server, clinician):
    c = live_server.client(clinician.token)
    assert c.post("/api/v1/retrain", json=TINY).status_code == 403
    assert c.get("/api/v1/retrain").status_code == 403
    assert live_server.client().get("/api/v1/retrain").status_code == 401


def test_the_log_is_read_from_an_offset(live_server, engineer):
    c = live_server.client(engineer.token)
    job = c.post("/api/v1/retrain", json=TINY).json()
    path = Path(live_server.settings.jobs_dir) / str(job["id"]) / "job.log"
    path.write_text("line one\nline two\n")
    first = c.get(f"/api/v1/retrain/{job['id']}/log", params={"limit": 9}).json()
    assert first["text"] == "line one\n" and first["next_offset"] == 9 and first["size"] == 18
    rest = c.get(f"/api/v1/retrain/{job['id']}/log", params={"offset": first["next_offset"]}).json()
    assert rest["text"] == "line two\n" and rest["next_offset"] == 18
    c.post(f"/api/v1/retrain/{job['id']}/cancel")
