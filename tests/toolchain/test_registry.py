"""toolchain.runs, toolchain.registry and toolchain.gate against a real MLflow SQLite store in a temporary folder.

One store per module (creating the SQLite schema takes seconds); tests that promote use their own
registered model name in it, so their aliases do not interfere.
"""
from __future__ import annotations

import hashlib
import json
import math
import uuid
from pathlib import Path

import pytest

from heartbeat_core.errors import DataError, GateError, ModelError
from heartbeat_core.settings import HeartbeatSettings
from toolchain import registry, runs
from toolchain.gate import DEFAULT_POLICY, GatePolicy, evaluate_gate

GOOD = {"tflm_macro_f1": 0.55, "tflm_accuracy": 0.91, "tflm_se_N": 0.90, "tflm_se_V": 0.88,
        "tflm_agreement": 1.0, "tflm_se_S": 0.41, "loss": 0.31}


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> HeartbeatSettings:
    state = tmp_path_factory.mktemp("state")
    return HeartbeatSettings(state_dir=state, data_dir=state / "data", models_dir=state / "models",
                             mlflow_tracking_uri=None, mlflow_experiment="test-exp",
                             registered_model_name="test-model")


@pytest.fixture(scope="module")
def client(settings):
    from mlflow import MlflowClient

    registry.list_versions(settings)  # creates the store
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


@pytest.fixture
def own_model(settings) -> HeartbeatSettings:
    """The shared store, with a registered model name of this test's own."""
    return settings.model_copy(update={"registered_model_name": f"m-{uuid.uuid4().hex[:8]}"})


def make_model_dir(parent: Path, payload: bytes) -> Path:
    folder = parent / f"model-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    (folder / "model_int8.tflite").write_bytes(payload)
    (folder / "model_data.h").write_text("// generated\n")
    return folder


def register(settings, tmp_path, metrics=GOOD, protocol="inter-patient") -> int:
    model = make_model_dir(tmp_path, uuid.uuid4().bytes)
    tags = {"protocol": protocol} if protocol else {}
    info = runs.log_training_run({"epochs": 1}, metrics, [], tags, model, settings=settings)
    return info.model_version


def runs_in(client, settings) -> int:
    exp = client.get_experiment_by_name(settings.mlflow_experiment)
    return len(client.search_runs([exp.experiment_id], max_results=1000)) if exp else 0


def promotion_entries(settings) -> list[dict]:
    log = registry.promotions_log(settings)
    if not log.exists():
        return []
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    return [e for e in entries if e["model"] == settings.registered_model_name]


# --------------------------------------------------------------------------- logging and registering


def test_store_lives_in_the_state_dir(settings, client):
    db = settings.state_dir / "mlflow" / "mlflow.db"
    assert db.is_file() and settings.tracking_uri == f"sqlite:///{db.resolve()}"
    runs.log_training_run({}, {"x": 1.0}, [], {}, make_model_dir(settings.state_dir, b"m"), settings=settings)
    exp = client.get_experiment_by_name("test-exp")
    assert exp.artifact_location == settings.artifact_root.as_uri()
    assert any(settings.artifact_root.iterdir())


def test_log_training_run_records_everything(settings, client, tmp_path):
    png = tmp_path / "confusion.png"
    png.write_bytes(b"\x89PNG fake")
    extra = tmp_path / "plots"
    extra.mkdir()
    (extra / "curve.png").write_bytes(b"curve")
    model = make_model_dir(tmp_path, b"int8 weights")
    metrics = {**GOOD, "val/loss": 0.4}
    params = {"epochs": 3, "learning_rate": 1e-3, "data": {"protocol": "inter-patient", "records": [101, 106]}}

    info = runs.log_training_run(params, metrics, [png, extra], {"protocol": "inter-patient", "who": "test"},
                                 model, settings=settings)

    run = client.get_run(info.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["epochs"] == "3"
    assert run.data.params["data.protocol"] == "inter-patient"
    assert json.loads(run.data.params["data.records"]) == [101, 106]
    assert run.data.metrics == pytest.approx(metrics)
    assert run.data.tags["who"] == "test"
    assert run.data.tags[registry.RUN_VERSION_TAG] == str(info.model_version)

    top = {a.path for a in client.list_artifacts(info.run_id)}
    assert {"confusion.png", "plots", "model"} <= top
    assert {a.path for a in client.list_artifacts(info.run_id, "model")} == {"model/model_int8.tflite",
                                                                            "model/model_data.h"}
    assert [a.path for a in client.list_artifacts(info.run_id, "plots")] == ["plots/curve.png"]
    got = Path(client.download_artifacts(info.run_id, "model/model_int8.tflite", str(tmp_path / "dl")))
    assert got.read_bytes() == b"int8 weights"

    mv = client.get_model_version("test-model", str(info.model_version))
    assert mv.run_id == info.run_id
    assert mv.source == f"{run.info.artifact_uri}/model"
    assert mv.tags["protocol"] == "inter-patient"
    assert mv.tags["model_sha256"] == hashlib.sha256(b"int8 weights").hexdigest()
    assert float(mv.tags["tflm_macro_f1"]) == GOOD["tflm_macro_f1"]
    assert float(mv.tags["tflm_se_S"]) == GOOD["tflm_se_S"]
    assert "loss" not in mv.tags  # only key metrics are copied


def test_versions_count_up(settings, tmp_path):
    first = register(settings, tmp_path)
    second = register(settings, tmp_path)
    assert second == first + 1


def test_start_run_gives_the_run_id_before_the_model_exists(settings, client, tmp_path):
    with runs.start_run(tags={"protocol": "inter-patient"}, run_name="two-step", settings=settings) as run:
        assert client.get_run(run.run_id).info.status == "RUNNING"
        run.log_params({"epochs": 2})
        run.log_metrics({"loss": 0.9}, step=0)
        run.log_metrics({"loss": 0.5}, step=1)
        run.log_metrics(GOOD)
        model = make_model_dir(tmp_path, b"weights")
        (model / "card.json").write_text(json.dumps({"mlflow_run": run.run_id}))
        info = run.finish(model)
    assert info.run_id == run.run_id and info.model_version is not None
    stored = client.get_run(run.run_id)
    assert stored.info.status == "FINISHED" and stored.info.run_name == "two-step"
    assert [m.value for m in client.get_metric_history(run.run_id, "loss")] == [0.9, 0.5, GOOD["loss"]]
    card = client.download_artifacts(run.run_id, "model/card.json", str(tmp_path / "dl"))
    assert json.loads(Path(card).read_text()) == {"mlflow_run": run.run_id}
    with pytest.raises(ModelError, match="already ended"):
        run.log_metrics({"late": 1.0})


def test_failure_inside_the_block_fails_the_run_and_registers_nothing(own_model, client, tmp_path):
    with pytest.raises(RuntimeError, match="export broke"):
        with runs.start_run(settings=own_model) as run:
            run.log_metrics({"loss": 1.0})
            raise RuntimeError("export broke")
    assert client.get_run(run.run_id).info.status == "FAILED"
    assert registry.list_versions(own_model) == []


def test_finish_without_register_ends_the_run_unregistered(own_model, client, tmp_path):
    with runs.start_run(settings=own_model) as run:
        info = run.finish(register=False)
    assert info.model_version is None
    assert client.get_run(run.run_id).info.status == "FINISHED"
    assert registry.list_versions(own_model) == []


@pytest.mark.parametrize("bad", [
    {"metrics": {"acc": "high"}},
    {"metrics": {"acc": math.nan}},
    {"metrics": {"bad:key?": 1.0}},
    {"params": {"p": "x" * 7000}},
    {"artifacts": ["does/not/exist.png"]},
    {"model_dir": "no-such-folder"},
    {"model_dir": "EMPTY"},
])
def test_bad_input_is_refused_before_a_run_exists(settings, client, tmp_path, bad):
    args = {"params": {"epochs": 1}, "metrics": {"acc": 0.9}, "artifacts": [], "tags": {},
            "model_dir": make_model_dir(tmp_path, b"m"), **bad}
    if args["model_dir"] == "EMPTY":
        args["model_dir"] = tmp_path / "empty"
        args["model_dir"].mkdir()
    before = runs_in(client, settings)
    with pytest.raises((DataError, ModelError)) as err:
        runs.log_training_run(**args, settings=settings)
    assert err.value.where  # names the offending input
    assert runs_in(client, settings) == before


def test_a_param_keeps_its_first_value(settings, client):
    with pytest.raises(DataError, match="already logged"):
        with runs.start_run(settings=settings) as run:
            run.log_params({"seed": 1})
            run.log_params({"seed": 1, "batch": 8})  # same value again is fine
            run.log_params({"seed": 2})
    stored = client.get_run(run.run_id)
    assert stored.data.params == {"seed": "1", "batch": "8"}
    assert stored.info.status == "FAILED"


def test_artifacts_may_not_shadow_the_model_folder(settings, tmp_path):
    decoy = tmp_path / "model"
    decoy.mkdir()
    with runs.start_run(settings=settings) as run:
        with pytest.raises(DataError, match="registered model"):
            run.log_artifacts([decoy])
        run.finish(register=False)


def test_any_tracking_uri_from_settings(tmp_path):
    db = tmp_path / "nested" / "other.db"
    other = HeartbeatSettings(state_dir=tmp_path / "state", mlflow_tracking_uri=f"sqlite:///{db}",
                              registered_model_name="elsewhere")
    assert registry.list_versions(other) == []
    assert db.is_file()


# --------------------------------------------------------------------------- the gate (pure)


def candidate(**overrides):
    return {"protocol": "inter-patient", **GOOD, **overrides}


def test_gate_passes_a_good_first_model_and_says_why():
    decision = evaluate_gate(candidate(), None)
    assert decision.passed and not decision.changed
    assert any("tflm_se_V 0.88 >= 0.8" in r for r in decision.reasons)
    assert any("no champion" in r for r in decision.reasons)


@pytest.mark.parametrize("overrides, expected", [
    ({"protocol": "intra-patient"}, "protocol is 'intra-patient'"),
    ({"protocol": None}, "protocol not recorded"),
    ({"tflm_se_V": 0.79}, "tflm_se_V 0.79 < 0.8"),
    ({"tflm_se_N": 0.5}, "tflm_se_N 0.5 < 0.8"),
    ({"tflm_macro_f1": 0.19}, "tflm_macro_f1 0.19 < 0.4"),
    ({"tflm_agreement": 0.998}, "tflm_agreement 0.998 < 0.999"),
    ({"tflm_agreement": None}, "tflm_agreement missing"),
    ({"tflm_se_V": math.nan}, "tflm_se_V missing or not a finite number"),
])
def test_gate_fails_each_floor(overrides, expected):
    decision = evaluate_gate(candidate(**overrides), None)
    assert not decision.passed
    assert len(decision.reasons) == 1 and expected in decision.reasons[0]


def test_gate_floors_are_inclusive():
    at_floor = candidate(**{k: v for k, v in DEFAULT_POLICY.minimums.items()})
    assert evaluate_gate(at_floor, None).passed


def test_gate_compares_with_the_champion():
    champ = {"tflm_macro_f1": 0.55}
    assert evaluate_gate(candidate(tflm_macro_f1=0.54), champ).passed  # exactly the allowed drop
    worse = evaluate_gate(candidate(tflm_macro_f1=0.535), champ)
    assert not worse.passed and "below the champion's 0.55" in worse.reasons[0]
    assert evaluate_gate(candidate(tflm_macro_f1=0.60), champ).passed
    blind = evaluate_gate(candidate(), {"tflm_accuracy": 0.9})
    assert not blind.passed and "champion has no tflm_macro_f1" in blind.reasons[0]


def test_policy_is_plain_data_and_checked():
    strict = GatePolicy(minimums={"tflm_se_S": 0.5}, max_drop_vs_champion={})
    assert not evaluate_gate(candidate(), None, strict).passed  # tflm_se_S is 0.41
    assert strict.as_dict()["minimums"] == {"tflm_se_S": 0.5}
    with pytest.raises(TypeError):
        DEFAULT_POLICY.minimums["tflm_se_V"] = 0.0  # read-only
    with pytest.raises(DataError):
        GatePolicy(minimums={"tflm_se_V": "high"})
    with pytest.raises(DataError):
        GatePolicy(max_drop_vs_champion={"tflm_macro_f1": -0.1})


# --------------------------------------------------------------------------- promotion


def aliases_of(client, settings) -> dict:
    return dict(client.get_registered_model(settings.registered_model_name).aliases)


def test_promotion_moves_aliases_only_on_pass_and_records_why(own_model, client, tmp_path):
    assert registry.champion(own_model) is None
    v1 = register(own_model, tmp_path, GOOD)
    first = registry.promote(v1, settings=own_model)
    assert first.passed and first.changed and not first.forced
    assert aliases_of(client, own_model) == {"champion": v1}
    tags = client.get_model_version(own_model.registered_model_name, str(v1)).tags
    assert tags["previous_champion"] == "none" and tags["promotion_forced"] == "false"
    assert "tflm_se_V" in tags["promoted_reason"] and tags["promoted_at"]

    # a regression beyond 0.01 macro-F1 is refused and changes nothing
    v2 = register(own_model, tmp_path, {**GOOD, "tflm_macro_f1": 0.50})
    with pytest.raises(GateError) as err:
        registry.promote(v2, settings=own_model)
    assert any("below the champion's 0.55" in r for r in err.value.reasons)
    assert aliases_of(client, own_model) == {"champion": v1}
    assert "promoted_at" not in client.get_model_version(own_model.registered_model_name, str(v2)).tags
    assert len(promotion_entries(own_model)) == 1

    # a better one takes over; the old champion becomes previous-champion
    v3 = register(own_model, tmp_path, {**GOOD, "tflm_macro_f1": 0.60})
    assert registry.promote(str(v3), settings=own_model).changed
    assert aliases_of(client, own_model) == {"champion": v3, "previous-champion": v1}
    assert client.get_model_version(own_model.registered_model_name, str(v3)).tags["previous_champion"] == str(v1)
    assert registry.champion(own_model).version == v3

    entries = promotion_entries(own_model)
    assert [(e["version"], e["previous_champion"], e["forced"]) for e in entries] == [(v1, None, False),
                                                                                      (v3, v1, False)]
    assert entries[1]["metrics"]["tflm_macro_f1"] == 0.60
    assert entries[1]["champion_metrics"]["tflm_macro_f1"] == 0.55
    assert entries[1]["run_id"] == client.get_model_version(own_model.registered_model_name, str(v3)).run_id
    assert any("within 0.01 of the champion's 0.55" in r or "0.6 within" in r for r in entries[1]["reasons"])


def test_promoting_the_champion_again_is_a_no_op(own_model, client, tmp_path):
    v = register(own_model, tmp_path)
    registry.promote(v, settings=own_model)
    stamp = client.get_model_version(own_model.registered_model_name, str(v)).tags["promoted_at"]
    again = registry.promote(v, settings=own_model)
    assert again.passed and not again.changed and "already the champion" in again.reasons[0]
    assert aliases_of(client, own_model) == {"champion": v}
    assert client.get_model_version(own_model.registered_model_name, str(v)).tags["promoted_at"] == stamp
    assert len(promotion_entries(own_model)) == 1


def test_failed_first_promotion_leaves_no_alias(own_model, client, tmp_path):
    intra = register(own_model, tmp_path, protocol="intra-patient")
    weak_v = register(own_model, tmp_path, {**GOOD, "tflm_se_V": 0.6})
    for version in (intra, weak_v):
        with pytest.raises(GateError) as err:
            registry.promote(version, settings=own_model)
        assert err.value.where == f"models:/{own_model.registered_model_name}/{version}"
    assert aliases_of(client, own_model) == {}
    assert registry.champion(own_model) is None
    assert promotion_entries(own_model) == []


def test_forced_rollback_needs_a_note_and_is_recorded(own_model, client, tmp_path):
    old = register(own_model, tmp_path, {**GOOD, "tflm_macro_f1": 0.45})
    registry.promote(old, settings=own_model)
    new = register(own_model, tmp_path, {**GOOD, "tflm_macro_f1": 0.60})
    registry.promote(new, settings=own_model)
    with pytest.raises(DataError, match="note"):
        registry.promote(old, settings=own_model, force=True)
    assert aliases_of(client, own_model) == {"champion": new, "previous-champion": old}

    decision = registry.promote(old, settings=own_model, force=True, note="rollback: field complaints")
    assert decision.forced and decision.changed and not decision.passed
    assert aliases_of(client, own_model) == {"champion": old, "previous-champion": new}
    tags = client.get_model_version(own_model.registered_model_name, str(old)).tags
    assert tags["promotion_forced"] == "true" and "rollback: field complaints" in tags["promoted_reason"]
    last = promotion_entries(own_model)[-1]
    assert last["forced"] and last["note"] == "rollback: field complaints" and last["previous_champion"] == new


def test_gate_falls_back_to_the_run_when_a_version_tag_is_missing(own_model, client, tmp_path):
    v = register(own_model, tmp_path)
    client.delete_model_version_tag(own_model.registered_model_name, str(v), "tflm_se_V")
    assert registry.promote(v, settings=own_model).passed  # read tflm_se_V from the run


def test_list_versions_reads_tags_and_aliases(own_model, tmp_path):
    a = register(own_model, tmp_path, {**GOOD, "tflm_macro_f1": 0.5})
    b = register(own_model, tmp_path, {**GOOD, "tflm_macro_f1": 0.52})
    registry.promote(a, settings=own_model)
    registry.promote(b, settings=own_model)
    listed = registry.list_versions(own_model)
    assert [v.version for v in listed] == [a, b]
    assert listed[0].aliases == ("previous-champion",) and listed[1].aliases == ("champion",)
    assert listed[0].metrics["tflm_macro_f1"] == 0.5 and listed[1].metrics["tflm_macro_f1"] == 0.52
    assert all(v.protocol == "inter-patient" and v.run_id and v.created_at for v in listed)


def test_unknown_or_malformed_versions(own_model, tmp_path):
    with pytest.raises(ModelError, match="not registered"):
        registry.promote(1, settings=own_model)  # nothing registered under this name yet
    register(own_model, tmp_path)
    with pytest.raises(ModelError, match="not registered"):
        registry.promote(999, settings=own_model)
    for bad in (0, "latest", True):
        with pytest.raises(DataError):
            registry.promote(bad, settings=own_model)


def test_register_exported_is_idempotent_and_checks_the_card(own_model, tmp_path):
    import shutil

    from heartbeat_core.settings import PROJECT_ROOT

    shipped = PROJECT_ROOT / "models" / "current"
    version, new = runs.register_exported(shipped, settings=own_model)
    assert new
    info = {v.version: v for v in registry.list_versions(own_model)}[version]
    card = json.loads((shipped / "card.json").read_text())
    assert info.tags["model_sha256"] == card["sha256"]
    assert info.metrics["tflm_macro_f1"] == pytest.approx(card["summary"]["tflm_macro_f1"])
    assert runs.register_exported(shipped, settings=own_model) == (version, False)
    assert len(registry.list_versions(own_model)) == 1

    tampered = tmp_path / "tampered"
    shutil.copytree(shipped.resolve(), tampered)
    data = bytearray((tampered / "model_int8.tflite").read_bytes())
    data[-1] ^= 1
    (tampered / "model_int8.tflite").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        runs.register_exported(tampered, settings=own_model)
    assert len(registry.list_versions(own_model)) == 1
