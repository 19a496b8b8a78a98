"""The MLflow store the runs and the registry share: a client on it, its limits and its errors.

Store: `settings.tracking_uri` (default a SQLite file under <state_dir>/mlflow/, artifacts under
<state_dir>/mlflow/artifacts; any MLflow URI through HEARTBEAT_MLFLOW_TRACKING_URI). The same URI serves as
tracking and registry store. MLflow is imported on first use (it takes seconds), with its telemetry off and its
INFO logging quieted (`open_client`); its exceptions become ModelError naming what was being done (`mlflow_errors`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from heartbeat_core.errors import ModelError
from heartbeat_core.settings import HeartbeatSettings

if TYPE_CHECKING:
    from mlflow import MlflowClient

# MLflow's limits (mlflow.utils.validation), checked before anything is written so a bad call fails whole.
MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000

_REMOTE_SCHEMES = ("http", "https", "databricks", "databricks-uc", "uc")

_quieted = False


def _quiet_mlflow() -> None:
    global _quieted
    if _quieted:
        return
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module=r"mlflow(\..*)?$")
    _quieted = True


def is_remote(uri: str) -> bool:
    """Whether the store is a server (artifacts are not a local folder then)."""
    return uri.split(":", 1)[0].lower() in _REMOTE_SCHEMES


def open_client(settings: HeartbeatSettings) -> MlflowClient:
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
    if not is_remote(uri):
        settings.artifact_root.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextlib.contextmanager
def mlflow_errors(where: str) -> Iterator[None]:
    """MLflow's own exceptions become ModelError naming what was being done."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        raise ModelError(f"MLflow refused: {exc.message}", where,
                         "check the tracking store (HEARTBEAT_MLFLOW_TRACKING_URI) is reachable and writable"
                         ) from exc


def error_code(exc: Exception) -> str:
    """The MLflow error code of an exception (e.g. RESOURCE_DOES_NOT_EXIST), "" when it has none."""
    return str(getattr(exc, "error_code", ""))
