"""The training job end to end on a small subset: train, int8, TFLM verification, evaluation, export, MLflow."""
from __future__ import annotations

import json

import numpy as np
import pytest

from toolchain import registry, verify
from toolchain.job import run_training_job
from toolchain.tflite_inspect import io_details, operators
from toolchain.train import TrainParams, class_weights
from toolchain.versions import verify_export

TRAIN = ("101", "106", "119", "208")
TEST = ("100", "105")


@pytest.fixture(scope="module")
def job(tmp_path_factory, mitdb_dir):
    from heartbeat_core.settings import HeartbeatSettings

    root = tmp_path_factory.mktemp("job")
    settings = HeartbeatSettings(data_dir=mitdb_dir, state_dir=root / "state", models_dir=root / "models")
    result = run_training_job("inter-patient", "device", TrainParams(epochs=3, seed=1), version="t-small",
                              settings=settings, train_records=TRAIN, test_records=TEST, baselines=True,
                              make_current=True, golden_dir=root / "contract")
    return result, settings, root


@pytest.mark.slow
def test_export_is_complete_and_verifies(job):
    result, settings, _ = job
    vdir = result.version_dir
    assert vdir == settings.models_dir / "t-small"
    assert (settings.models_dir / "current").resolve() == vdir.resolve()
    card = verify_export(vdir)
    assert card["protocol"] == "inter-patient"
    assert card["data"]["train_records"] == list(TRAIN) and card["data"]["test_records"] == list(TEST)
    assert "Moody" in card["data"]["citation"]
    assert card["size_bytes"] <= 100 * 1024
    assert card["tflm_arena_bytes"] > 1000
    assert {p.name for p in vdir.glob("*.png")} == {"confusion_float.png", "confusion_tflite.png",
                                                   "confusion_tflm.png"}


@pytest.mark.slow
def test_int8_model_is_what_the_device_runs(job):
    result, _, _ = job
    fb = (result.version_dir / "model_int8.tflite").read_bytes()
    details = io_details(fb)
    assert sorted(d["name"] for d in details["inputs"]) == ["beat", "rr"]
    for d in details["inputs"]:
        assert d["dtype"] == "int8" and d["scale"] == 1 / 128 and d["zero_point"] == 0
    assert details["outputs"][0]["dtype"] == "int8" and details["outputs"][0]["shape"] == [1, 5]
    assert set(operators(fb)) <= set(verify.OPS_SUPPORTED_BY_DEVICE)


@pytest.mark.slow
def test_metrics_for_every_runtime_and_runtimes_agree(job):
    result, _, _ = job
    m = result.card["metrics"]
    for key in ("float", "int8_tflite", "int8_tflm"):
        assert m[key]["n"] == result.card["data"]["test_beats"]
        assert 0.0 <= m[key]["accuracy"] <= 1.0
    assert m["tflite_vs_tflm"]["argmax_agreement"] >= 0.999
    assert set(m["baselines"]) == {"random_forest", "xgboost"}
    # the int8 model stays close to the float model
    assert abs(m["float"]["accuracy"] - m["int8_tflm"]["accuracy"]) < 0.05


@pytest.mark.slow
def test_mlflow_run_and_registered_version(job):
    result, settings, _ = job
    versions = registry.list_versions(settings)
    assert [v.version for v in versions] == [int(result.model_version)]
    v = versions[0]
    assert v.run_id == result.run_id == result.card["mlflow_run_id"]
    assert v.protocol == "inter-patient"
    assert v.metrics["tflm_accuracy"] == pytest.approx(result.card["metrics"]["int8_tflm"]["accuracy"])
    from mlflow.tracking import MlflowClient

    run = MlflowClient(settings.tracking_uri).get_run(result.run_id)
    assert run.data.params["epochs"] == "3" and run.data.params["train_records"] == ",".join(TRAIN)
    assert "tflm_macro_f1" in run.data.metrics and "xgboost_accuracy" in run.data.metrics
    client = MlflowClient(settings.tracking_uri)
    assert [a.path for a in client.list_artifacts(result.run_id, "float")] == ["float/model_float.keras"]
    model_files = {a.path for a in client.list_artifacts(result.run_id, "model")}
    assert {"model/model_int8.tflite", "model/card.json", "model/model_data.c"} <= model_files


@pytest.mark.slow
def test_golden_model_vectors_are_the_tflm_outputs(job):
    result, _, root = job
    dsp_golden = json.loads((root / "contract" / "dsp_golden.json").read_text())
    model_golden = json.loads((root / "contract" / "model_golden.json").read_text())
    assert model_golden["model_sha256"] == result.card["sha256"]
    beats = [b for c in dsp_golden["cases"] for b in c["beats"]]
    assert model_golden["beats"] == len(beats) == len(model_golden["scores"])
    fb = (result.version_dir / "model_int8.tflite").read_bytes()
    b = beats[7]
    order = io_details(fb)["inputs"]
    arrays = {"beat": np.array(b["window"], np.int8).reshape(1, 1, -1, 1), "rr": np.array([b["rr"]], np.int8)}
    again = verify.run_tflm(fb, int8=[arrays[d["name"]] for d in order])
    assert again[0].tolist() == model_golden["scores"][7]


def test_bad_parameters_are_refused_before_any_work(settings):
    from heartbeat_core.errors import ModelError

    with pytest.raises(ModelError, match="epochs"):
        run_training_job(params=TrainParams(epochs=0), settings=settings)
    with pytest.raises(ModelError, match="class weighting"):
        run_training_job(params=TrainParams(class_weighting="inverse-cube"), settings=settings)


def test_class_weights_balance_the_loss():
    y = np.array([0] * 90 + [1] * 10)
    for scheme in ("balanced", "sqrt"):
        w = class_weights(y, 5, scheme)
        assert set(w) == {0, 1} and w[1] > w[0]
        assert (90 * w[0] + 10 * w[1]) / 100 == pytest.approx(1.0)
    assert class_weights(y, 5, "balanced")[1] / class_weights(y, 5, "balanced")[0] == pytest.approx(9.0)
    assert class_weights(y, 5, "sqrt")[1] / class_weights(y, 5, "sqrt")[0] == pytest.approx(3.0)


@pytest.mark.slow
def test_kaggle_csv_training_and_bad_rows(tmp_path, mitdb_dir, settings):
    """CNN-4 trains from the Kaggle CSV format; a bad row stops the job naming its line before any training."""
    from heartbeat_core.errors import DataError
    from toolchain.kaggle import build_kaggle_beats, write_kaggle_csv

    train = build_kaggle_beats(mitdb_dir, ["101", "208"], edge="truncate")
    test = build_kaggle_beats(mitdb_dir, ["100"], edge="truncate")
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    write_kaggle_csv(csv_dir / "mitbih_train.csv", train.x, train.y)
    write_kaggle_csv(csv_dir / "mitbih_test.csv", test.x, test.y)
    result = run_training_job(params=TrainParams(epochs=1), version="k-csv", settings=settings, baselines=False,
                              kaggle_csv=(csv_dir / "mitbih_train.csv", csv_dir / "mitbih_test.csv"))
    assert result.card["data"]["construction"] == "kaggle"
    assert result.card["metrics"]["int8_tflm"]["n"] == len(test.y)
    inputs = io_details((result.version_dir / "model_int8.tflite").read_bytes())["inputs"]
    assert [d["shape"] for d in inputs] == [[1, 1, 187, 1]]

    lines = (csv_dir / "mitbih_test.csv").read_text().splitlines()
    lines[41] = ",".join(lines[41].split(",")[:-1] + ["7.0"])
    (csv_dir / "mitbih_test.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"mitbih_test\.csv:42"):
        run_training_job(params=TrainParams(epochs=1), version="k-bad", settings=settings, baselines=False,
                         kaggle_csv=(csv_dir / "mitbih_train.csv", csv_dir / "mitbih_test.csv"))
    assert not (settings.models_dir / "k-bad").exists()


def test_class_weights_are_capped_for_nearly_absent_classes():
    from toolchain.train import MAX_WEIGHT_RATIO

    y = np.array([0] * 40000 + [1] * 800 + [4] * 4)
    w = class_weights(y, 5, "balanced")
    assert w[4] / w[0] == pytest.approx(MAX_WEIGHT_RATIO)
    assert w[1] / w[0] == pytest.approx(50.0)  # 40000/800 sits exactly at the cap
    assert (40000 * w[0] + 800 * w[1] + 4 * w[4]) / 40804 == pytest.approx(1.0)


@pytest.mark.slow
def test_training_beats_chance_on_a_tiny_set(mitdb_dir, session_cache):
    """Intra-patient on two records, a few epochs: well above the majority class and above chance per class."""
    from toolchain.data import make_splits
    from toolchain.metrics import classification_report
    from toolchain.train import predict_float, train_cnn4

    splits = make_splits("intra-patient", "device", mitdb_dir, session_cache, seed=2,
                         train_records=("119", "208"))
    result = train_cnn4(splits, TrainParams(epochs=4, seed=2))
    pred = predict_float(result.model, splits.test.model_inputs()).argmax(axis=1)
    report = classification_report(splits.test.y, pred)
    majority = max(splits.test.class_counts().values()) / len(splits.test)
    assert report["accuracy"] > majority + 0.5 * (1 - majority)
    assert report["per_class"]["V"]["se"] > 0.8 and report["per_class"]["N"]["se"] > 0.8


def test_unknown_model_setting_is_refused(settings):
    from heartbeat_core.errors import ModelError

    with pytest.raises(ModelError, match="unknown model settings.*'dropuot'"):
        run_training_job(params=TrainParams(epochs=1), settings=settings, train_records=("100",),
                         test_records=("103",), baselines=False, model_overrides={"dropuot": 0.1})
