"""The model registry as the server sees it: versions, the champion's files, promotion. No HTTP in here.

Everything goes through `toolchain.registry` (the one place that talks to MLflow about models) with
toolchain settings derived from the server's Settings, so the CLI (`heartbeat promote`) and the server see
the same registry and apply the same gate (`toolchain.gate`).

The champion's files (model_int8.tflite, card.json) are fetched once per version from the version's artifact
source into <state_dir>/server/model-cache/<version>-<sha256 prefix>/ and checked against the sha256 the registry
recorded; versions are immutable, so the cache never goes stale. The `champion` alias is read from the registry and
remembered for CHAMPION_TTL_SECONDS (another process, e.g. `heartbeat promote`, may move it).
"""
from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import unquote, urlparse

from sqlalchemy.orm import Session

from heartbeat_core.domain import AAMI_CLASSES
from heartbeat_core.settings import HeartbeatSettings
from server.core.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from server.core.logging import get_logger
from server.core.settings import Settings
from server.models.identity import Role, User
from server.models.ml import Promotion
from toolchain.model_files import CARD_NAME, TFLITE_NAME, sha256_hex

if TYPE_CHECKING:
    from toolchain.registry import VersionInfo

log = get_logger("models")



class NoChampion(Exception):
    """No version holds the `champion` alias (nothing to predict with)."""

    def __init__(self) -> None:
        super().__init__("no model is promoted to champion yet; an engineer promotes one with "
                         "POST /api/v1/models/{version}/promote (or `heartbeat promote N`)")


_P = ParamSpec("_P")
_R = TypeVar("_R")


def toolchain_settings(settings: Settings) -> HeartbeatSettings:
    """HeartbeatSettings for the same data, state, models and MLflow store as the server's Settings."""
    return settings.base_settings()


def _registry_call(fn: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """toolchain.registry errors (MLflow unreachable, bad input) become domain errors."""
    from heartbeat_core.errors import DataError, HeartbeatError

    try:
        return fn(*args, **kwargs)
    except DataError as exc:
        raise InvalidError(exc.one_line()) from exc
    except HeartbeatError as exc:
        if "is not registered" in exc.what:
            raise NotFoundError(exc.what) from exc
        raise


def list_versions(settings: Settings) -> list[VersionInfo]:
    from toolchain import registry

    return _registry_call(registry.list_versions, toolchain_settings(settings))


def get_version(settings: Settings, version: int) -> VersionInfo:
    for info in list_versions(settings):
        if info.version == version:
            return info
    raise NotFoundError(f"model version {version} is not registered")


CHAMPION_TTL_SECONDS = 5.0
_champion_cache: dict[tuple[str, str], tuple[float, VersionInfo]] = {}


def champion_info(settings: Settings, fresh: bool = False) -> VersionInfo | None:
    """The champion's VersionInfo, or None. A found champion is remembered for CHAMPION_TTL_SECONDS (a registry
    query costs ~50 ms, most of a prediction): a promotion through this process is seen at once, one made
    elsewhere (`heartbeat promote`, another API process) within that time. "No champion" is never remembered."""
    from toolchain import registry

    tc = toolchain_settings(settings)
    key = (tc.tracking_uri, tc.registered_model_name)
    hit = _champion_cache.get(key)
    if not fresh and hit is not None and time.monotonic() - hit[0] < CHAMPION_TTL_SECONDS:
        return hit[1]
    info = _registry_call(registry.champion, tc)
    if info is None:
        _champion_cache.pop(key, None)
    else:
        _champion_cache[key] = (time.monotonic(), info)
    return info


def source_path(source: str) -> Path | None:
    """The local folder of an artifact source URI (file:// or a plain path); None for remote stores."""
    parsed = urlparse(source)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path)) if parsed.scheme else Path(source)
    return None


def production_path(info: VersionInfo) -> str:
    """Where the version's int8 model lives (what a firmware build or a bridge fetches)."""
    local = source_path(info.source)
    return str(local / TFLITE_NAME) if local is not None else f"{info.source.rstrip('/')}/{TFLITE_NAME}"


# ----------------------------------------------------------------------------------- the champion's files


@dataclass
class ModelFiles:
    version: int
    flatbuffer: bytes
    card: dict[str, Any]
    sha256: str
    folder: Path
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # one invoke at a time
    # made by services/predict.py on first use: (the tflite_micro interpreter, an untyped library; the model's
    # inputs in order, "beat" or "rr"; the output's scale and zero point)
    interpreter: tuple[Any, list[str], float, int] | None = field(default=None, repr=False)

    @property
    def class_names(self) -> list[str]:
        return list(self.card.get("class_names") or AAMI_CLASSES)

    @property
    def test_records(self) -> list[str]:
        return [str(r) for r in (self.card.get("data") or {}).get("test_records") or []]


_files: dict[tuple[str, int], ModelFiles] = {}
_files_lock = threading.Lock()


def _fetch(settings: Settings, info: VersionInfo) -> Path:
    # keyed by version and the registry's sha256: a new MLflow store's version 1 is not the old store's
    sha = (info.model_sha256 or "unknown")[:16]
    folder = Path(settings.state_dir) / "server" / "model-cache" / f"{info.version}-{sha}"
    if (folder / TFLITE_NAME).is_file() and (folder / CARD_NAME).is_file():
        return folder
    local = source_path(info.source)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{info.version}-", dir=folder.parent))  # private to this fetch
    try:
        if local is not None and local.is_dir():
            for name in (TFLITE_NAME, CARD_NAME):
                if not (local / name).is_file():
                    raise ConflictError(f"model version {info.version} has no {name} in its artifacts ({local})")
                (tmp / name).write_bytes((local / name).read_bytes())
        else:
            import mlflow.artifacts

            for name in (TFLITE_NAME, CARD_NAME):
                mlflow.artifacts.download_artifacts(artifact_uri=f"{info.source.rstrip('/')}/{name}",
                                                    dst_path=str(tmp),
                                                    tracking_uri=toolchain_settings(settings).tracking_uri)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        tmp.replace(folder)
    except OSError:  # another process finished the same fetch first: keep its copy
        shutil.rmtree(tmp, ignore_errors=True)
        if not (folder / TFLITE_NAME).is_file() or not (folder / CARD_NAME).is_file():
            raise
    return folder


def model_files(settings: Settings, info: VersionInfo) -> ModelFiles:
    """The version's model and card, fetched once and checked against the registry's sha256."""
    key = (str(settings.state_dir), int(info.version))
    with _files_lock:
        cached = _files.get(key)
        if cached is not None:
            return cached
        folder = _fetch(settings, info)
        flatbuffer = (folder / TFLITE_NAME).read_bytes()
        sha = sha256_hex(flatbuffer)
        expected = info.model_sha256
        if expected and expected != sha:
            raise ConflictError(f"model version {info.version}: {TFLITE_NAME} has sha256 {sha[:12]}..., the registry "
                           f"recorded {expected[:12]}...; the artifact was changed after registration")
        card = json.loads((folder / CARD_NAME).read_text())
        if card.get("sha256") and card["sha256"] != sha:
            raise ConflictError(f"model version {info.version}: {CARD_NAME} disagrees with {TFLITE_NAME} (sha256)")
        files = ModelFiles(int(info.version), flatbuffer, card, sha, folder)
        _files[key] = files
        return files


def champion_files(settings: Settings) -> ModelFiles:
    info = champion_info(settings)
    if info is None:
        raise NoChampion()
    return model_files(settings, info)


# ----------------------------------------------------------------------------------- promotion


def promote(session: Session, settings: Settings, version: int, user: User, note: str | None = None,
            force: bool = False) -> Promotion:
    """Move `champion` to `version` through the gate; record the attempt (passed or not) as a Promotion row.

    Passing: the new production model path goes to app.log and to the registry (version tag
    `production_path`). Failing: Conflict with the gate's reasons; the registry is unchanged.
    Forcing past a failed gate (a rollback) is for administrators and needs a note.
    """
    from heartbeat_core.errors import GateError
    from toolchain import registry

    if force and user.role != Role.admin:
        raise ForbiddenError("only an administrator may force a promotion past the gate")
    info = get_version(settings, version)
    previous = champion_info(settings, fresh=True)
    tc = toolchain_settings(settings)
    try:
        decision = _registry_call(registry.promote, version, settings=tc, force=force, note=note)
    except GateError as exc:
        reasons = list(getattr(exc, "reasons", [exc.what]))
        session.add(Promotion(model_version=version, user_id=user.id, passed=False, forced=False, changed=False,
                              note=note, reasons=reasons,
                              previous_champion=previous.version if previous else None))
        session.commit()
        log.warning("promotion refused: version %s did not pass the gate (user %s): %s", version, user.id,
                    "; ".join(reasons))
        raise ConflictError(f"version {version} did not pass the gate; nothing was changed: " + "; ".join(reasons)) \
            from exc
    path = production_path(info)
    champion_info(settings, fresh=True)  # this process sees the new champion at once
    if decision.changed:
        _tag_production_path(tc, version, path)
    row = Promotion(model_version=version, user_id=user.id, passed=decision.passed, forced=decision.forced,
                    changed=decision.changed, note=note, reasons=list(decision.reasons),
                    previous_champion=previous.version if previous else None,
                    production_path=path)
    session.add(row)
    session.commit()
    session.refresh(row)
    if decision.changed:
        log.info("promotion: model version %s is champion (previous %s, user %s%s); production model path: %s",
                 version, previous.version if previous else "none", user.id, ", forced" if decision.forced else "",
                 path)
    else:
        log.info("promotion: model version %s was already champion (user %s); production model path: %s",
                 version, user.id, path)
    return row


def _tag_production_path(tc: HeartbeatSettings, version: int, path: str) -> None:
    from toolchain.mlflow_store import open_client

    client = open_client(tc)
    client.set_model_version_tag(tc.registered_model_name, str(version), "production_path", path)


def promotions(session: Session, version: int | None = None, limit: int = 100) -> list[Promotion]:
    from sqlalchemy import select

    query = select(Promotion).order_by(Promotion.id.desc()).limit(limit)
    if version is not None:
        query = query.where(Promotion.model_version == version)
    return list(session.scalars(query))
