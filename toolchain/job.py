"""The training job: data -> CNN-4 -> int8 -> TFLM verification -> evaluation -> export -> MLflow.

One function used by the CLI (`heartbeat train`, `heartbeat report`) and the server's worker child.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from heartbeat_core import ui
from heartbeat_core.domain import AAMI_CLASSES, RR_FEATURES, WINDOW_LEN
from heartbeat_core.errors import ModelError
from heartbeat_core.settings import HeartbeatSettings, get_settings
from toolchain import dsp
from toolchain.data import make_splits
from toolchain.mitdb import CITATION, DEFAULT_LEAD
from toolchain.model_files import sha256_hex
from toolchain.train import TrainParams


@dataclass
class JobResult:
    version: str
    version_dir: Path
    run_id: str
    model_version: str | None
    card: dict


def default_config(splits, overrides: dict | None = None):
    """CNN-4's configuration for the splits' inputs, with any overrides (unknown keys are refused)."""
    from dataclasses import fields, replace

    from toolchain.model import Cnn4Config

    base = Cnn4Config(window_len=splits.train.x.shape[1],
                      rr_features=0 if splits.train.rr is None else splits.train.rr.shape[1])
    overrides = dict(overrides or {})
    unknown = set(overrides) - {f.name for f in fields(Cnn4Config)}
    if unknown:
        raise ModelError(f"unknown model settings {sorted(unknown)}",
                         hint=f"use {', '.join(f.name for f in fields(Cnn4Config))}")
    return replace(base, **overrides)


def default_version(protocol: str, kind: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    short = "inter" if protocol == "inter-patient" else "intra"
    return f"cnn4-{kind}-{short}-{stamp}"


def run_training_job(protocol: str = "inter-patient", kind: str = "device", params: TrainParams | None = None,
                     version: str | None = None, settings: HeartbeatSettings | None = None,
                     train_records: tuple[str, ...] | None = None, test_records: tuple[str, ...] | None = None,
                     baselines: bool = True, make_current: bool = False, register: bool = True,
                     golden_dir: Path | None = None, lead: str | int = DEFAULT_LEAD,
                     extra_params: dict | None = None, kaggle_csv: tuple[Path, Path] | None = None,
                     model_overrides: dict | None = None, extra_train=None,
                     train_sample: int | None = None) -> JobResult:
    """Train, quantize, verify, evaluate, export and register one model (see the module docstring).

    `extra_train` (a device `BeatSet`, e.g. clinician-confirmed beats) is added to the training beats and
    `train_sample` samples the training beats down (extra beats first); see `toolchain.data.extend_training`.
    Both are recorded in the run's parameters.
    """
    from toolchain import runs, verify
    from toolchain.baselines import run_baselines
    from toolchain.evaluate import evaluate_models, flat_metrics
    from toolchain.export import export_model
    from toolchain.metrics import flatten_metrics
    from toolchain.model import fixed_batch_twin
    from toolchain.quantize import quantize_int8, representative_inputs
    from toolchain.tflite_inspect import operators
    from toolchain.train import train_cnn4

    settings = settings or get_settings()
    params = params or TrainParams()
    params.validate()
    version = version or default_version(protocol, kind)
    if kaggle_csv is not None:
        from toolchain.data import splits_from_kaggle_csv

        splits = splits_from_kaggle_csv(kaggle_csv[0], kaggle_csv[1], seed=params.seed)
        protocol, kind = splits.protocol, splits.kind
    else:
        splits = make_splits(protocol, kind, settings.data_dir, settings.cache_dir, seed=params.seed,
                             train_records=train_records, test_records=test_records, lead=lead)
    if extra_train is not None or train_sample is not None:
        from toolchain.data import extend_training

        splits = extend_training(splits, extra_train, train_sample, seed=params.seed)
        extra_params = {**(extra_params or {}), "extra_train_beats": 0 if extra_train is None else len(extra_train),
                        "train_sample": "all" if train_sample is None else train_sample}
    data_desc = splits.describe()
    run_params = {**params.as_params(), "protocol": protocol, "kind": kind, "version": version,
                  "dsp_version": dsp.DSP_VERSION, "lead": str(lead),
                  "train_records": ",".join(splits.train_records), "test_records": ",".join(splits.test_records),
                  **(extra_params or {})}
    with runs.start_run(run_name=version, tags={"protocol": protocol, "kind": kind, "version": version},
                            settings=settings) as run:
        run.log_params(run_params)
        ui.info(f"MLflow run {run.run_id}: training CNN-4 on {len(splits.train)} beats "
                f"({protocol}, {kind} construction)")
        epochs = iter(ui.track(range(params.epochs), "Training CNN-4"))

        def on_epoch(epoch, logs):
            next(epochs, None)
            run.log_metrics({f"train_{k}": float(v) for k, v in (logs or {}).items()}, step=epoch)

        cfg = default_config(splits, model_overrides)
        run.log_params({f"model.{k}": v for k, v in cfg.as_params().items()})
        result = train_cnn4(splits, params, cfg=cfg, on_epoch=on_epoch)
        for _ in epochs:  # early stopping: finish the bar
            pass
        ui.info("Quantizing to full int8 (calibration on the training split)")
        twin = fixed_batch_twin(result.model, result.cfg)
        flatbuffer = quantize_int8(twin, representative_inputs(splits.train.model_inputs(), kind, seed=params.seed),
                                   kind)
        ops = operators(flatbuffer)
        if kind == "device":
            verify.check_device_ops(flatbuffer)
        arena = verify.arena_bytes(flatbuffer)
        with tempfile.TemporaryDirectory() as tmp:
            evaluation = evaluate_models(splits.test, flatbuffer, result.model, png_dir=Path(tmp),
                                         label=f"({protocol}, {len(splits.test)} test beats)")
            metrics = flat_metrics(evaluation)
            baseline_reports = {}
            if baselines:
                ui.info("Training the Random Forest and XGBoost baselines")
                baseline_reports = run_baselines(splits, params.class_weighting, params.seed)
                for name, rep in baseline_reports.items():
                    metrics.update(flatten_metrics(rep, prefix=f"{name}_"))
            metrics["tflm_arena_bytes"] = float(arena)
            metrics["model_bytes"] = float(len(flatbuffer))
            sha = sha256_hex(flatbuffer)
            card = {
                "name": "CNN-4",
                "version": version,
                "description": "Four Conv blocks + dense head; int8 beat window"
                               + (" + int8 RR features" if kind == "device" else "") + "; five AAMI classes.",
                "data": {
                    "source": "MIT-BIH Arrhythmia Database v1.0.0 (PhysioNet mitdb)",
                    "citation": CITATION,
                    "license": "Open Data Commons Attribution License v1.0",
                    **data_desc,
                    "lead": str(lead),
                    "dsp_version": dsp.DSP_VERSION,
                    "construction": kind,
                },
                "protocol": protocol,
                "model_config": result.cfg.as_params(),
                "training": {**params.as_params(), "epochs_run": result.epochs_run,
                             "final": {k: v[-1] for k, v in result.history.items() if v}},
                "metrics": {
                    "float": evaluation["reports"]["float"],
                    "int8_tflite": evaluation["reports"]["tflite"],
                    "int8_tflm": evaluation["reports"]["tflm"],
                    "tflite_vs_tflm": evaluation["tflite_vs_tflm"],
                    "float_vs_tflm_agreement": evaluation.get("float_vs_tflm_agreement"),
                    "baselines": baseline_reports,
                },
                "summary": {k: metrics[k] for k in sorted(metrics) if k.startswith(("tflm_", "float_accuracy",
                                                                                     "float_macro_f1"))},
                "operators": ops,
                "tflm_arena_bytes": arena,
                "mlflow_run_id": run.run_id,
                "input_semantics": {
                    "beat": f"int8 beat window, {WINDOW_LEN} values, q/128 (toolchain.dsp)",
                    "rr": f"int8 RR ratios, {RR_FEATURES} values [pre/mean, post/mean, pre/post], "
                          "q = round(256 (r - 1)) (toolchain.dsp)",
                } if kind == "device" else {"beat": "Kaggle beat, 187 values in [0,1]"},
                "sha256": sha,
            }
            version_dir = export_model(flatbuffer, settings.models_dir, version, card, AAMI_CLASSES,
                                       pngs=[Path(p) for p in evaluation["pngs"]], make_current=make_current)
        if golden_dir is not None:
            from toolchain import golden

            dsp_file = golden_dir / "dsp_golden.json"
            dsp_golden = golden.dsp_vectors(settings.data_dir)
            golden.write_json(dsp_file, dsp_golden)
            golden.write_json(golden_dir / "model_golden.json",
                              golden.model_vectors(flatbuffer, sha, version, dsp_golden))
        run.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            float_path = Path(tmp) / "model_float.keras"  # the float model stays reproducible from the run
            result.model.save(float_path)
            run.log_artifacts([float_path], artifact_path="float")
        info = run.finish(register=register, model_dir=version_dir)
    if info.run_id != card["mlflow_run_id"]:
        raise ModelError("MLflow run changed during the job", where=version)
    return JobResult(version=version, version_dir=version_dir, run_id=info.run_id,
                     model_version=getattr(info, "model_version", None), card=card)
