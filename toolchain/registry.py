"""Everything the toolchain does with MLflow: training runs, the model registry, promotion.

Store: `settings.tracking_uri` (default a SQLite file under <state_dir>/mlflow/, artifacts under
<state_dir>/mlflow/artifacts; any MLflow URI through HEARTBEAT_MLFLOW_TRACKING_URI). The same URI serves as
tracking and registry store.

Runs. One way to log a run: `start_run()` is a context manager yielding a `TrainingRun`; the run exists
(and has its id) from the start, so the export can write the run id into the model card before the model
folder is logged. `finish(model_dir)` logs the folder under the run's `model/` artifact path, registers it
as a new version of `settings.registered_model_name` and ends the run. An exception inside the block
ends the run FAILED and registers nothing. `log_training_run(...)` is the same in one call.

Versions are plain artifact-backed registry entries (no MLflow flavor): source = <run artifacts>/model,
holding model_int8.tflite and its companions. The key metrics, the protocol and the sha256 of
model_int8.tflite are copied into version tags, so listing versions never needs the runs.

Promotion moves the `champion` alias (the old champion gets `previous-champion`) only when the gate in
`toolchain.gate` passes, and records why: tags on the version (promoted_at, promoted_reason,
previous_champion, promotion_forced) and one JSON line in <state_dir>/mlflow/promotions.jsonl. Order of
writes: the `champion` alias first (the commit point), then `previous-champion`, then the tags, then the
log line. Promotion is not guarded against two promoters racing on the same registry.

MLflow is imported on first use (it takes seconds), with its telemetry off and its INFO logging quieted.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import numbers
import os
import posixpath
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from toolchain.errors import DataError, GateError, ModelError
from toolchain.gate import DEFAULT_POLICY, GateDecision, GatePolicy, evaluate_gate
from toolchain.settings import ToolchainSettings, get_settings

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

__all__ = [
    "CHAMPION",
    "KEY_METRICS",
    "MODEL_ARTIFACT_PATH",
    "PREVIOUS_CHAMPION",
    "RunInfo",
    "TrainingRun",
    "VersionInfo",
    "champion",
    "list_versions",
    "log_training_run",
    "promote",
    "promotions_log",
    "start_run",
]

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous-champion"
MODEL_ARTIFACT_PATH = "model"
MODEL_FILE = "model_int8.tflite"
# Metrics copied into version tags (besides whatever the gate policy looks at).
KEY_METRICS = (
    "tflm_accuracy", "tflm_macro_f1", "tflm_se_N", "tflm_se_S", "tflm_se_V", "tflm_se_F",
    "tflm_ppv_S", "tflm_ppv_V", "tflm_agreement",
)
PROTOCOL_KEY = "protocol"
RUN_VERSION_TAG = "registered_model_version"

# MLflow's limits (mlflow.utils.validation), checked here so a bad call fails before anything is written.
_MAX_KEY = 250
_MAX_PARAM_VALUE = 6000
_MAX_TAG_VALUE = 8000
_PARAMS_PER_BATCH = 100
_METRICS_PER_BATCH = 1000
_KEY = re.compile(r"^[A-Za-z0-9_.\- /]+$")
_REMOTE_SCHEMES = ("http", "https", "databricks", "databricks-uc", "uc")

_quieted = False


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    model_version: int | None  # None when the run was finished without registering


@dataclass(frozen=True)
class VersionInfo:
    """A registered model version as the registry lists it (from version tags, without the run)."""

    name: str
    version: int
    run_id: str | None
    source: str
    aliases: tuple[str, ...]
    protocol: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created_at: str = ""  # ISO 8601, UTC


# --------------------------------------------------------------------------- MLflow access


def _quiet_mlflow() -> None:
    global _quieted
    if _quieted:
        return
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module=r"mlflow(\..*)?$")
    _quieted = True


def _is_remote(uri: str) -> bool:
    return uri.split(":", 1)[0].lower() in _REMOTE_SCHEMES


def _client(settings: ToolchainSettings) -> MlflowClient:
    """A client on settings.tracking_uri, with the local folders the store needs created."""
    # MLflow 3 sends usage telemetry unless told not to; a hospital toolchain does not phone home.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    _quiet_mlflow()
    uri = settings.tracking_uri
    if uri.startswith("sqlite:///"):
        db_path = uri[len("sqlite:///"):].split("?", 1)[0]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    if not _is_remote(uri):
        settings.artifact_root.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextlib.contextmanager
def _mlflow_errors(where: str) -> Iterator[None]:
    """MLflow's own exceptions become ModelError naming what was being done."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        raise ModelError(f"MLflow refused: {exc.message}", where,
                         "check the tracking store (HEARTBEAT_MLFLOW_TRACKING_URI) is reachable and writable"
                         ) from exc


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "error_code", ""))


def _experiment_id(client: MlflowClient, settings: ToolchainSettings) -> str:
    from mlflow.exceptions import MlflowException

    name = settings.mlflow_experiment
    exp = client.get_experiment_by_name(name)
    if exp is None:
        location = None if _is_remote(settings.tracking_uri) else settings.artifact_root.as_uri()
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException as exc:  # created by someone else in the meantime
            if _error_code(exc) != "RESOURCE_ALREADY_EXISTS":
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
    if len(key) > _MAX_KEY or not _KEY.match(key) or bad_path:
        raise DataError(f"name {key!r} is not accepted by MLflow", where,
                        f"use at most {_MAX_KEY} letters, digits, '_', '-', '.', ' ' and single '/' between parts")
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
        if len(text) > _MAX_PARAM_VALUE:
            raise DataError(f"param {name!r} is {len(text)} characters long; MLflow keeps at most "
                            f"{_MAX_PARAM_VALUE}", f"{where}[{name!r}]", "log long values as an artifact")
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
        if len(text) > _MAX_TAG_VALUE:
            raise DataError(f"tag {key!r} is {len(text)} characters long; MLflow keeps at most {_MAX_TAG_VALUE}",
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
                         "pass the exported folder holding model_int8.tflite, or register=False")
    path = Path(model_dir)
    if not path.is_dir():
        raise ModelError(f"model folder {str(path)!r} does not exist or is not a folder", "model_dir")
    if not (path / MODEL_FILE).is_file():
        raise ModelError(f"model folder {str(path)!r} has no {MODEL_FILE}", "model_dir",
                         "register the exported model folder (model_int8.tflite, model_data.{c,h}, card.json)")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --------------------------------------------------------------------------- runs


class TrainingRun:
    """An MLflow run in progress; made by `start_run`, ended by `finish` or by leaving the block."""

    def __init__(self, client: MlflowClient, run_id: str, artifact_uri: str, settings: ToolchainSettings):
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

        with _mlflow_errors(self._where()):
            for chunk in _chunks(new, _PARAMS_PER_BATCH):
                self._client.log_batch(self.run_id, params=[Param(k, v) for k, v in chunk])
        self._params.update(new)

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Log a flat dict of finite numbers at `step` (e.g. the epoch for training curves)."""
        self._ensure_active()
        checked = _check_metrics(metrics)
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise DataError(f"step must be a non-negative integer, got {step!r}", "step")
        from mlflow.entities import Metric

        stamp = int(datetime.now(timezone.utc).timestamp() * 1000)
        with _mlflow_errors(self._where()):
            for chunk in _chunks(list(checked.items()), _METRICS_PER_BATCH):
                self._client.log_batch(self.run_id, metrics=[Metric(k, v, stamp, int(step)) for k, v in chunk])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._ensure_active()
        checked = _check_tags(tags)
        from mlflow.entities import RunTag

        with _mlflow_errors(self._where()):
            for chunk in _chunks(list(checked.items()), _PARAMS_PER_BATCH):
                self._client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in chunk])

    def log_artifacts(self, paths: Sequence[Path | str], artifact_path: str | None = None) -> None:
        """Copy files and folders into the run (a folder keeps its name: <artifact_path>/<folder>/...)."""
        self._ensure_active()
        checked = _check_artifacts(paths, artifact_path)
        with _mlflow_errors(self._where()):
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
        with _mlflow_errors(self._where()):
            if model_path is not None:
                self._client.log_artifacts(self.run_id, str(model_path), MODEL_ARTIFACT_PATH)
            if register:
                version = self._register(model_path)
            self._end("FINISHED")
        return RunInfo(self.run_id, version)

    def _register(self, model_path: Path) -> int:
        settings, client = self._settings, self._client
        run = client.get_run(self.run_id)
        tags = {k: repr(run.data.metrics[k]) for k in _tagged_metrics(DEFAULT_POLICY) if k in run.data.metrics}
        protocol = run.data.tags.get(PROTOCOL_KEY) or run.data.params.get(PROTOCOL_KEY)
        if protocol:
            tags[PROTOCOL_KEY] = protocol
        tags["model_sha256"] = _sha256(model_path / MODEL_FILE)
        _ensure_registered_model(client, settings.registered_model_name)
        mv = client.create_model_version(
            settings.registered_model_name, source=f"{self.artifact_uri}/{MODEL_ARTIFACT_PATH}",
            run_id=self.run_id, tags=tags,
        )
        client.set_tag(self.run_id, RUN_VERSION_TAG, str(mv.version))
        return int(mv.version)

    def _end(self, status: str) -> None:
        if self.active:
            self._client.set_terminated(self.run_id, status)
            self._status = status


@contextlib.contextmanager
def start_run(tags: Mapping[str, Any] | None = None, run_name: str | None = None,
              settings: ToolchainSettings | None = None) -> Iterator[TrainingRun]:
    """Open a run in settings.mlflow_experiment (created if missing) and yield it.

    Leaving the block after `finish()` changes nothing; without `finish()` the run ends FINISHED and
    unregistered; through an exception it ends FAILED (KILLED on Ctrl-C) and the exception propagates.
    """
    settings = settings or get_settings()
    checked = _check_tags(tags)
    with _mlflow_errors(f"MLflow experiment {settings.mlflow_experiment!r} at {settings.tracking_uri}"):
        client = _client(settings)
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
        with _mlflow_errors(training._where()):
            training._end("FINISHED")


def log_training_run(params: Mapping[str, Any], metrics: Mapping[str, float], artifacts: Sequence[Path | str],
                     tags: Mapping[str, Any] | None, model_dir: Path | str,
                     settings: ToolchainSettings | None = None) -> RunInfo:
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


# --------------------------------------------------------------------------- registry


def _tagged_metrics(policy: GatePolicy) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*KEY_METRICS, *policy.metric_names]))


def _ensure_registered_model(client: MlflowClient, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if _error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
            raise
        try:
            client.create_registered_model(name, description="Heartbeat Edge int8 CNN-4 (model_int8.tflite)")
        except MlflowException as exc2:
            if _error_code(exc2) != "RESOURCE_ALREADY_EXISTS":
                raise


def _aliases(client: MlflowClient, name: str) -> dict[str, int] | None:
    """alias -> version of the registered model; None when the model is not registered."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if _error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    return {alias: int(version) for alias, version in (model.aliases or {}).items()}


def _get_version(client: MlflowClient, name: str, version: int) -> ModelVersion:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        if _error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            raise ModelError(f"version {version} of {name!r} is not registered", f"models:/{name}/{version}",
                             "see toolchain.registry.list_versions() for the registered versions") from exc
        raise


def _tag_metrics(tags: Mapping[str, str], names: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in names:
        try:
            value = float(tags[name])
        except (KeyError, TypeError, ValueError):  # absent, or edited by hand into something else
            continue
        if math.isfinite(value):
            out[name] = value
    return out


def _version_info(mv: ModelVersion, aliases: Mapping[str, int]) -> VersionInfo:
    version = int(mv.version)
    tags = dict(mv.tags or {})
    created = datetime.fromtimestamp((mv.creation_timestamp or 0) / 1000, timezone.utc)
    return VersionInfo(
        name=mv.name, version=version, run_id=mv.run_id or None, source=mv.source,
        aliases=tuple(sorted(a for a, v in aliases.items() if v == version)),
        protocol=tags.get(PROTOCOL_KEY), metrics=_tag_metrics(tags, _tagged_metrics(DEFAULT_POLICY)),
        tags=tags, created_at=created.isoformat(timespec="seconds"),
    )


def _gate_inputs(client: MlflowClient, mv: ModelVersion, policy: GatePolicy) -> dict[str, Any]:
    """The numbers the gate needs: from the version tags, falling back to the run for any missing."""
    from mlflow.exceptions import MlflowException

    tags = dict(mv.tags or {})
    inputs: dict[str, Any] = dict(_tag_metrics(tags, _tagged_metrics(policy)))
    if tags.get(PROTOCOL_KEY):
        inputs[PROTOCOL_KEY] = tags[PROTOCOL_KEY]
    missing = [k for k in policy.metric_names if k not in inputs]
    if (missing or PROTOCOL_KEY not in inputs) and mv.run_id:
        try:
            run = client.get_run(mv.run_id)
        except MlflowException as exc:
            if _error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
                raise
        else:
            for key in missing:
                if key in run.data.metrics:
                    inputs[key] = run.data.metrics[key]
            protocol = run.data.tags.get(PROTOCOL_KEY) or run.data.params.get(PROTOCOL_KEY)
            if PROTOCOL_KEY not in inputs and protocol:
                inputs[PROTOCOL_KEY] = protocol
    return inputs


def _search_versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    quoted = f'"{name}"' if "'" in name else f"'{name}'"
    found: list[ModelVersion] = []
    token = None
    while True:
        page = client.search_model_versions(f"name={quoted}", page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def list_versions(settings: ToolchainSettings | None = None) -> list[VersionInfo]:
    """Every version of settings.registered_model_name, oldest first (empty when none is registered)."""
    settings = settings or get_settings()
    name = settings.registered_model_name
    with _mlflow_errors(f"registered model {name!r} at {settings.tracking_uri}"):
        client = _client(settings)
        aliases = _aliases(client, name)
        if aliases is None:
            return []
        versions = _search_versions(client, name)
    return sorted((_version_info(mv, aliases) for mv in versions), key=lambda v: v.version)


def champion(settings: ToolchainSettings | None = None) -> VersionInfo | None:
    """The version holding the `champion` alias, or None."""
    settings = settings or get_settings()
    name = settings.registered_model_name
    with _mlflow_errors(f"registered model {name!r} at {settings.tracking_uri}"):
        client = _client(settings)
        aliases = _aliases(client, name)
        if not aliases or CHAMPION not in aliases:
            return None
        return _version_info(_get_version(client, name, aliases[CHAMPION]), aliases)


def promotions_log(settings: ToolchainSettings | None = None) -> Path:
    """The append-only record of promotions: one JSON object per line."""
    settings = settings or get_settings()
    return settings.state_dir.resolve() / "mlflow" / "promotions.jsonl"


def _version_number(version: Any) -> int:
    if isinstance(version, bool):
        raise DataError(f"model version must be a positive integer, got {version!r}", "version")
    try:
        number = int(str(version).strip().removeprefix("v"))
    except ValueError:
        number = 0
    if number < 1:
        raise DataError(f"model version must be a positive integer, got {version!r}", "version")
    return number


def promote(version: int | str, *, settings: ToolchainSettings | None = None,
            policy: GatePolicy = DEFAULT_POLICY, force: bool = False, note: str | None = None) -> GateDecision:
    """Make `version` the champion if it passes `policy` against the current champion.

    Passing: `champion` moves to the version, the old champion becomes `previous-champion`, the version
    gets promoted_at / promoted_reason / previous_champion / promotion_forced tags and a line is appended
    to promotions_log(). Failing: GateError (with .decision and .reasons); nothing changes.
    `force=True` promotes despite a failing gate (e.g. a rollback to an older, weaker champion) and needs a
    `note` saying why. Promoting the current champion again changes nothing and says so (changed=False).
    """
    settings = settings or get_settings()
    number = _version_number(version)
    if note is not None and not isinstance(note, str):
        raise DataError(f"note must be text, got {type(note).__name__}", "note")
    note = (note or "").strip() or None
    if force and note is None:
        raise DataError("a forced promotion needs a note saying why", "note",
                        "e.g. note='rollback: v7 misses V beats on the ward monitor'")
    name = settings.registered_model_name
    where = f"models:/{name}/{number}"
    with _mlflow_errors(where):
        client = _client(settings)
        mv = _get_version(client, name, number)
        aliases = _aliases(client, name) or {}
        current = aliases.get(CHAMPION)
        if current == number:
            return GateDecision(True, [f"version {number} is already the champion; nothing changed"])
        candidate = _gate_inputs(client, mv, policy)
        incumbent = _gate_inputs(client, _get_version(client, name, current), policy) if current is not None else None
        decision = evaluate_gate(candidate, incumbent, policy)
        if not decision.passed and not force:
            error = GateError(f"version {number} of {name!r} did not pass the gate {policy.name!r}: "
                              + "; ".join(decision.reasons), where,
                              "nothing was changed; improve the model, or force with a note (e.g. a rollback)")
            error.decision = decision
            error.reasons = list(decision.reasons)
            raise error
        forced = not decision.passed
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if forced:
            reason = f"forced: {note}; gate failed: " + "; ".join(decision.reasons)
        else:
            reason = f"gate {policy.name!r} passed: " + "; ".join(decision.reasons)
            if note:
                reason += f"; note: {note}"
        client.set_registered_model_alias(name, CHAMPION, str(number))
        if current is not None:
            client.set_registered_model_alias(name, PREVIOUS_CHAMPION, str(current))
        version_tags = {
            "promoted_at": now,
            "promoted_reason": reason[:_MAX_TAG_VALUE],
            "previous_champion": str(current) if current is not None else "none",
            "promotion_forced": "true" if forced else "false",
        }
        for key, value in version_tags.items():
            client.set_model_version_tag(name, str(number), key, value)
    entry = {
        "at": now, "model": name, "version": number, "run_id": mv.run_id or None,
        "previous_champion": current, "passed": decision.passed, "forced": forced, "note": note,
        "reasons": list(decision.reasons), "policy": policy.as_dict(),
        "metrics": candidate, "champion_metrics": incumbent, "tracking_uri": settings.tracking_uri,
    }
    log = promotions_log(settings)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return GateDecision(decision.passed, list(decision.reasons), forced=forced, changed=True)


def register_exported(version_dir: Path | str, settings: ToolchainSettings | None = None) -> tuple[int, bool]:
    """Registers an exported model folder (models/<version>/, e.g. the shipped models/current) as a version, with
    the metrics of its card: how a fresh MLflow store learns about a model trained elsewhere. Idempotent: a
    version whose model sha256 equals the card's is returned as it is. Returns (version, newly registered)."""
    settings = settings or get_settings()
    vdir = _check_model_dir(version_dir)
    card_path = vdir / "card.json"
    try:
        card = json.loads(card_path.read_text())
        sha, summary, name = card["sha256"], card["summary"], card["version"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"unreadable model card: {exc}", str(card_path)) from None
    if _sha256(vdir / MODEL_FILE) != sha:
        raise ModelError("the model file disagrees with its card's sha256", str(vdir / MODEL_FILE),
                         "re-export the model")
    for v in list_versions(settings):
        if v.tags.get("model_sha256") == sha:
            return v.version, False
    protocol = card.get("protocol")
    info = log_training_run(params={"version": name, "protocol": protocol, "registered_from": "export"},
                            metrics={k: float(x) for k, x in summary.items()}, artifacts=[card_path],
                            tags={"protocol": protocol, "model_card_version": name}, model_dir=vdir,
                            settings=settings)
    return int(info.model_version), True
