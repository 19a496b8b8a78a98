"""Registered versions of the model in MLflow: registering a run's model folder, listing versions and the
champion, and promotion through the gate.

Versions are plain artifact-backed registry entries (no MLflow flavor) of `settings.registered_model_name`:
source = <run artifacts>/model, holding model_int8.tflite and its companions (toolchain.model_files). The key
metrics, the protocol and the sha256 of model_int8.tflite are copied into version tags when a version is
registered (`register_run_model`, called by a training run's `finish`, toolchain.runs), so listing versions
never needs the runs.

Promotion moves the `champion` alias (the old champion gets `previous-champion`) only when the gate in
`toolchain.gate` passes, and records why: tags on the version (promoted_at, promoted_reason,
previous_champion, promotion_forced) and one JSON line in <state_dir>/mlflow/promotions.jsonl. Order of
writes: the `champion` alias first (the commit point), then `previous-champion`, then the tags, then the
log line. Promotion is not guarded against two promoters racing on the same registry.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heartbeat_core.errors import DataError, GateError, ModelError
from heartbeat_core.settings import HeartbeatSettings, get_settings
from toolchain.gate import DEFAULT_POLICY, GateDecision, GatePolicy, evaluate_gate
from toolchain.mlflow_store import MAX_TAG_VALUE, error_code, mlflow_errors, open_client
from toolchain.model_files import TFLITE_NAME, sha256_hex

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

__all__ = [
    "CHAMPION",
    "KEY_METRICS",
    "MODEL_SHA256_TAG",
    "MODEL_ARTIFACT_PATH",
    "PREVIOUS_CHAMPION",
    "RUN_VERSION_TAG",
    "VersionInfo",
    "champion",
    "list_versions",
    "promote",
    "promotions_log",
    "register_run_model",
]

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous-champion"
MODEL_ARTIFACT_PATH = "model"  # where a run keeps its model folder: a version's source
# Metrics copied into version tags (besides whatever the gate policy looks at).
KEY_METRICS = (
    "tflm_accuracy", "tflm_macro_f1", "tflm_se_N", "tflm_se_S", "tflm_se_V", "tflm_se_F",
    "tflm_ppv_S", "tflm_ppv_V", "tflm_agreement",
)
PROTOCOL_KEY = "protocol"
MODEL_SHA256_TAG = "model_sha256"  # version tag: the sha256 of the model file
RUN_VERSION_TAG = "registered_model_version"  # run tag: the version the run registered


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

    @property
    def model_sha256(self) -> str | None:
        """The sha256 of the version's model_int8.tflite, as recorded when it was registered."""
        return self.tags.get(MODEL_SHA256_TAG)


# --------------------------------------------------------------------------- versions


def _tagged_metrics(policy: GatePolicy) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*KEY_METRICS, *policy.metric_names]))


def _ensure_registered_model(client: MlflowClient, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
            raise
        try:
            client.create_registered_model(name, description=f"Heartbeat Edge int8 CNN-4 ({TFLITE_NAME})")
        except MlflowException as exc2:
            if error_code(exc2) != "RESOURCE_ALREADY_EXISTS":
                raise


def register_run_model(client: MlflowClient, settings: HeartbeatSettings, run_id: str, artifact_uri: str,
                       model_path: Path) -> int:
    """Register the model folder a run logged under `model/` as a new version; return its number.

    The version's tags get the run's key metrics, its protocol and the sha256 of the model file; the run gets
    the version number as its `registered_model_version` tag. MLflow errors propagate (the caller maps them).
    """
    run = client.get_run(run_id)
    tags = {k: repr(run.data.metrics[k]) for k in _tagged_metrics(DEFAULT_POLICY) if k in run.data.metrics}
    protocol = run.data.tags.get(PROTOCOL_KEY) or run.data.params.get(PROTOCOL_KEY)
    if protocol:
        tags[PROTOCOL_KEY] = protocol
    tags[MODEL_SHA256_TAG] = sha256_hex((model_path / TFLITE_NAME).read_bytes())
    _ensure_registered_model(client, settings.registered_model_name)
    mv = client.create_model_version(
        settings.registered_model_name, source=f"{artifact_uri}/{MODEL_ARTIFACT_PATH}", run_id=run_id, tags=tags,
    )
    client.set_tag(run_id, RUN_VERSION_TAG, str(mv.version))
    return int(mv.version)


def _aliases(client: MlflowClient, name: str) -> dict[str, int] | None:
    """alias -> version of the registered model; None when the model is not registered."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    return {alias: int(version) for alias, version in (model.aliases or {}).items()}


def _get_version(client: MlflowClient, name: str, version: int) -> ModelVersion:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
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
    created = datetime.fromtimestamp((mv.creation_timestamp or 0) / 1000, UTC)
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
            if error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
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


def list_versions(settings: HeartbeatSettings | None = None) -> list[VersionInfo]:
    """Every version of settings.registered_model_name, oldest first (empty when none is registered)."""
    settings = settings or get_settings()
    name = settings.registered_model_name
    with mlflow_errors(f"registered model {name!r} at {settings.tracking_uri}"):
        client = open_client(settings)
        aliases = _aliases(client, name)
        if aliases is None:
            return []
        versions = _search_versions(client, name)
    return sorted((_version_info(mv, aliases) for mv in versions), key=lambda v: v.version)


def champion(settings: HeartbeatSettings | None = None) -> VersionInfo | None:
    """The version holding the `champion` alias, or None."""
    settings = settings or get_settings()
    name = settings.registered_model_name
    with mlflow_errors(f"registered model {name!r} at {settings.tracking_uri}"):
        client = open_client(settings)
        aliases = _aliases(client, name)
        if not aliases or CHAMPION not in aliases:
            return None
        return _version_info(_get_version(client, name, aliases[CHAMPION]), aliases)


def promotions_log(settings: HeartbeatSettings | None = None) -> Path:
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


def promote(version: int | str, *, settings: HeartbeatSettings | None = None,
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
    with mlflow_errors(where):
        client = open_client(settings)
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
        now = datetime.now(UTC).isoformat(timespec="seconds")
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
            "promoted_reason": reason[:MAX_TAG_VALUE],
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
