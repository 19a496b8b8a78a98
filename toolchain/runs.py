"""MLflow training runs: one run per training, with its parameters, metrics, tags and artifacts, and the model
folder it registers.

One way to log a run: `start_run()` is a context manager yielding a `TrainingRun` in `settings.mlflow_experiment`
(created if missing); the run exists (and has its id) from the start, so the export can write the run id into the
model card before the model folder is logged. `finish(model_dir)` logs the folder under the run's `model/`
artifact path, registers it as a new version of `settings.registered_model_name` (toolchain.registry) and ends
the run. An exception inside the block ends the run FAILED and registers nothing. `log_training_run(...)` is the
same in one call; `register_exported(...)` logs an exported models/<version>/ folder as such a run, which is how
a fresh store learns about a model trained elsewhere. Every input is checked against MLflow's limits before
anything is written. The store itself (client, limits, errors) is toolchain.mlflow_store.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import numbers
import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heartbeat_core.errors import DataError, ModelError
from heartbeat_core.settings import HeartbeatSettings, get_settings
from toolchain.mlflow_store import (
    MAX_KEY,
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    METRICS_PER_BATCH,
    PARAMS_PER_BATCH,
    error_code,
    is_remote,
    mlflow_errors,
    open_client,
)
from toolchain.model_files import C_NAME, CARD_NAME, H_NAME, TFLITE_NAME, sha256_hex
from toolchain.registry import MODEL_ARTIFACT_PATH, list_versions, register_run_model

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "RunInfo",
    "TrainingRun",
    "log_training_run",
    "register_exported",
    "start_run",
]

_KEY = re.compile(r"^[A-Za-z0-9_.\- /]+$")


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    model_version: int | None  # None when the run was finished without registering


# --------------------------------------------------------------------------- the experiment


def _experiment_id(client: MlflowClient, settings: HeartbeatSettings) -> str:
    from mlflow.exceptions import MlflowException

    name = settings.mlflow_experiment
    exp = client.get_experiment_by_name(name)
    if exp is None:
        location = None if is_remote(settings.tracking_uri) else settings.artifact_root.as_uri()
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException as exc:  # created by someone else in the meantime
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage != "active":
        raise ModelError(f"MLflow experiment {name!r} is deleted", settings.tracking_uri,
                         "restore it (mlflow experiments restore) or choose another with "
                         "HEARTBEAT_MLFLOW_EXPERIMENT")
    return exp.experiment_id


# --------------------------------------------------------------------------- input checks


def _check_key(key: Any, where: str) -> str:
    if not isinstance(key, str) or not key:
        raise DataError(f"names must be non-empty strings, got {key!r}", where)
    bad_path = posixpath.normpath(key) != key or key.startswith(("/", ".."))
    if len(key) > MAX_KEY or not _KEY.match(key) or bad_path:
        raise DataError(f"name {key!r} is not accepted by MLflow", where,
                        f"use at most {MAX_KEY} letters, digits, '_', '-', '.', ' ' and single '/' between parts")
    return key


def _param_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def _flat_params(params: Any, where: str = "params", prefix: str = "") -> dict[str, str]:
    """{"a": 1, "data": {"seed": 0}} -> {"a": "1", "data.seed": "0"}."""
    if not isinstance(params, Mapping):
        raise DataError(f"params must be a dict, got {type(params).__name__}", where)
    out: dict[str, str] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise DataError(f"param names must be strings, got {key!r}", where)
        name = prefix + key
        if isinstance(value, Mapping):
            out.update(_flat_params(value, where, name + "."))
            continue
        _check_key(name, f"{where}[{name!r}]")
        text = _param_text(value)
        if len(text) > MAX_PARAM_VALUE:
            raise DataError(f"param {name!r} is {len(text)} characters long; MLflow keeps at most "
                            f"{MAX_PARAM_VALUE}", f"{where}[{name!r}]", "log long values as an artifact")
        out[name] = text
    return out


def _check_metrics(metrics: Any, where: str = "metrics") -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise DataError(f"metrics must be a dict of name -> number, got {type(metrics).__name__}", where)
    out: dict[str, float] = {}
    for key, value in metrics.items():
        _check_key(key, f"{where}[{key!r}]")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise DataError(f"metric {key!r} must be a number, got {value!r}", f"{where}[{key!r}]",
                            "metrics are a flat dict of floats (see toolchain.metrics.flatten_metrics)")
        number = float(value)
        if not math.isfinite(number):
            raise DataError(f"metric {key!r} is {number}", f"{where}[{key!r}]",
                            "leave undefined metrics out instead of logging NaN or infinity")
        out[key] = number
    return out


def _check_tags(tags: Any, where: str = "tags") -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise DataError(f"tags must be a dict, got {type(tags).__name__}", where)
    out: dict[str, str] = {}
    for key, value in tags.items():
        _check_key(key, f"{where}[{key!r}]")
        text = _param_text(value)
        if len(text) > MAX_TAG_VALUE:
            raise DataError(f"tag {key!r} is {len(text)} characters long; MLflow keeps at most {MAX_TAG_VALUE}",
                            f"{where}[{key!r}]")
        out[key] = text
    return out


def _check_artifacts(paths: Any, artifact_path: str | None) -> list[tuple[Path, str | None]]:
    """(local path, destination folder in the run) pairs; every path must exist."""
    if isinstance(paths, (str, Path)) or not isinstance(paths, Sequence):
        raise DataError(f"artifacts must be a list of paths, got {type(paths).__name__}", "artifacts")
    if artifact_path is not None:
        _check_key(artifact_path, "artifact_path")
    out: list[tuple[Path, str | None]] = []
    for i, item in enumerate(paths):
        path = Path(item)
        if not path.exists():
            raise DataError(f"artifact {str(path)!r} does not exist", f"artifacts[{i}]")
        if not (path.is_file() or path.is_dir()):
            raise DataError(f"artifact {str(path)!r} is neither a file nor a folder", f"artifacts[{i}]")
        top = artifact_path.split("/", 1)[0] if artifact_path else path.name
        if top == MODEL_ARTIFACT_PATH:
            raise DataError(f"artifact {str(path)!r} would land in the run's {MODEL_ARTIFACT_PATH!r} folder, "
                            "which holds the registered model", f"artifacts[{i}]",
                            "pass the model folder to finish(model_dir) instead, or rename")
        out.append((path, artifact_path))
    return out


def _check_model_dir(model_dir: Any) -> Path:
    if model_dir is None:
        raise ModelError("no model folder to register", "model_dir",
                         f"pass the exported folder holding {TFLITE_NAME}, or register=False")
    path = Path(model_dir)
    if not path.is_dir():
        raise ModelError(f"model folder {str(path)!r} does not exist or is not a folder", "model_dir")
    if not (path / TFLITE_NAME).is_file():
        raise ModelError(f"model folder {str(path)!r} has no {TFLITE_NAME}", "model_dir",
                         f"register the exported model folder ({TFLITE_NAME}, {C_NAME}, {H_NAME}, {CARD_NAME})")
    return path


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --------------------------------------------------------------------------- runs


class TrainingRun:
    """An MLflow run in progress; made by `start_run`, ended by `finish` or by leaving the block."""

    def __init__(self, client: MlflowClient, run_id: str, artifact_uri: str, settings: HeartbeatSettings):
        self._client = client
        self._settings = settings
        self.run_id = run_id
        self.artifact_uri = artifact_uri
        self._params: dict[str, str] = {}
        self._status: str | None = None  # set when the run has ended

    @property
    def active(self) -> bool:
        return self._status is None

    def _where(self) -> str:
        return f"MLflow run {self.run_id}"

    def _ensure_active(self) -> None:
        if not self.active:
            raise ModelError(f"the run has already ended ({self._status})", self._where(),
                             "log everything before finish()")

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters; nested dicts become dotted names. A name keeps its first value."""
        self._ensure_active()
        flat = _flat_params(params)
        for key, value in flat.items():
            if key in self._params and self._params[key] != value:
                raise DataError(f"param {key!r} was already logged as {self._params[key]!r}, now {value!r}",
                                f"params[{key!r}]", "MLflow params are write-once; log changing values as metrics")
        new = [(k, v) for k, v in flat.items() if k not in self._params]
        from mlflow.entities import Param

        with mlflow_errors(self._where()):
            for chunk in _chunks(new, PARAMS_PER_BATCH):
                self._client.log_batch(self.run_id, params=[Param(k, v) for k, v in chunk])
        self._params.update(new)

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Log a flat dict of finite numbers at `step` (e.g. the epoch for training curves)."""
        self._ensure_active()
        checked = _check_metrics(metrics)
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise DataError(f"step must be a non-negative integer, got {step!r}", "step")
        from mlflow.entities import Metric

        stamp = int(datetime.now(UTC).timestamp() * 1000)
        with mlflow_errors(self._where()):
            for chunk in _chunks(list(checked.items()), METRICS_PER_BATCH):
                self._client.log_batch(self.run_id, metrics=[Metric(k, v, stamp, int(step)) for k, v in chunk])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._ensure_active()
        checked = _check_tags(tags)
        from mlflow.entities import RunTag

        with mlflow_errors(self._where()):
            for chunk in _chunks(list(checked.items()), PARAMS_PER_BATCH):
                self._client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in chunk])

    def log_artifacts(self, paths: Sequence[Path | str], artifact_path: str | None = None) -> None:
        """Copy files and folders into the run (a folder keeps its name: <artifact_path>/<folder>/...)."""
        self._ensure_active()
        checked = _check_artifacts(paths, artifact_path)
        with mlflow_errors(self._where()):
            for path, dest in checked:
                if path.is_dir():
                    sub = f"{dest}/{path.name}" if dest else path.name
                    self._client.log_artifacts(self.run_id, str(path), sub)
                else:
                    self._client.log_artifact(self.run_id, str(path), dest)

    def finish(self, model_dir: Path | str | None = None, *, register: bool = True) -> RunInfo:
        """Log the model folder (if given) under `model/`, register it (if `register`), end the run."""
        self._ensure_active()
        if register or model_dir is not None:
            model_path = _check_model_dir(model_dir)
        else:
            model_path = None
        version = None
        with mlflow_errors(self._where()):
            if model_path is not None:
                self._client.log_artifacts(self.run_id, str(model_path), MODEL_ARTIFACT_PATH)
            if register:
                version = register_run_model(self._client, self._settings, self.run_id, self.artifact_uri,
                                             model_path)
            self._end("FINISHED")
        return RunInfo(self.run_id, version)

    def _end(self, status: str) -> None:
        if self.active:
            self._client.set_terminated(self.run_id, status)
            self._status = status


@contextlib.contextmanager
def start_run(tags: Mapping[str, Any] | None = None, run_name: str | None = None,
              settings: HeartbeatSettings | None = None) -> Iterator[TrainingRun]:
    """Open a run in settings.mlflow_experiment (created if missing) and yield it.

    Leaving the block after `finish()` changes nothing; without `finish()` the run ends FINISHED and
    unregistered; through an exception it ends FAILED (KILLED on Ctrl-C) and the exception propagates.
    """
    settings = settings or get_settings()
    checked = _check_tags(tags)
    with mlflow_errors(f"MLflow experiment {settings.mlflow_experiment!r} at {settings.tracking_uri}"):
        client = open_client(settings)
        experiment_id = _experiment_id(client, settings)
        run = client.create_run(experiment_id, tags=checked, run_name=run_name)
    training = TrainingRun(client, run.info.run_id, run.info.artifact_uri, settings)
    try:
        yield training
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        try:
            training._end(status)
        except Exception:  # the original error matters more than the bookkeeping
            logging.getLogger(__name__).warning("could not mark run %s as %s", training.run_id, status)
        raise
    else:
        with mlflow_errors(training._where()):
            training._end("FINISHED")


def log_training_run(params: Mapping[str, Any], metrics: Mapping[str, float], artifacts: Sequence[Path | str],
                     tags: Mapping[str, Any] | None, model_dir: Path | str,
                     settings: HeartbeatSettings | None = None) -> RunInfo:
    """One run with params, metrics, artifacts and tags; the model folder registered as a new version.

    Every input is checked before the run is created, so a bad call leaves nothing behind.
    """
    _flat_params(params)
    _check_metrics(metrics)
    _check_artifacts(artifacts, None)
    _check_tags(tags)
    _check_model_dir(model_dir)
    with start_run(tags=tags, settings=settings) as run:
        run.log_params(params)
        run.log_metrics(metrics)
        run.log_artifacts(artifacts)
        return run.finish(model_dir)


def register_exported(version_dir: Path | str, settings: HeartbeatSettings | None = None) -> tuple[int, bool]:
    """Registers an exported model folder (models/<version>/, e.g. the shipped models/current) as a version, with
    the metrics of its card: how a fresh MLflow store learns about a model trained elsewhere. Idempotent: a
    version whose model sha256 equals the card's is returned as it is. Returns (version, newly registered)."""
    settings = settings or get_settings()
    vdir = _check_model_dir(version_dir)
    card_path = vdir / CARD_NAME
    try:
        card = json.loads(card_path.read_text())
        sha, summary, name = card["sha256"], card["summary"], card["version"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"unreadable model card: {exc}", str(card_path)) from None
    if sha256_hex((vdir / TFLITE_NAME).read_bytes()) != sha:
        raise ModelError("the model file disagrees with its card's sha256", str(vdir / TFLITE_NAME),
                         "re-export the model")
    for v in list_versions(settings):
        if v.model_sha256 == sha:
            return v.version, False
    protocol = card.get("protocol")
    info = log_training_run(params={"version": name, "protocol": protocol, "registered_from": "export"},
                            metrics={k: float(x) for k, x in summary.items()}, artifacts=[card_path],
                            tags={"protocol": protocol, "model_card_version": name}, model_dir=vdir,
                            settings=settings)
    return int(info.model_version), True
