"""The settings base every part extends (environment prefix HEARTBEAT_), and its one error formatter.

`HeartbeatSettings` holds the folders and the MLflow store that the toolchain, the server and its worker share:
the tracking URI is derived here once. Each part's own Settings extends it or, for the bridge, uses its own
prefix; nothing outside a settings module reads the environment.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class HeartbeatSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEARTBEAT_", extra="ignore")

    data_dir: Path = Field(
        default=PROJECT_ROOT / ".state" / "data" / "mitdb",
        description="Folder holding the MIT-BIH Arrhythmia Database (WFDB files).",
    )
    state_dir: Path = Field(
        default=PROJECT_ROOT / ".state",
        description="Generated state: caches, MLflow store, logs.",
    )
    models_dir: Path = Field(default=PROJECT_ROOT / "models", description="Exported model versions.")
    mlflow_tracking_uri: str | None = Field(
        default=None, description="Any MLflow tracking URI; default: SQLite store in the state dir."
    )
    mlflow_experiment: str = "heartbeat-cnn4"
    registered_model_name: str = "heartbeat-cnn4"

    cache_dir: Path | None = Field(default=None, description="Built data sets (default: <state_dir>/cache).")
    debug: bool = Field(default=False, description="HEARTBEAT_DEBUG=1: show the traceback of an unexpected error.")

    @model_validator(mode="after")
    def _derive_paths(self) -> HeartbeatSettings:
        if self.cache_dir is None:
            self.cache_dir = self.state_dir / "cache"
        return self

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.state_dir / 'mlflow' / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> Path:
        return (self.state_dir / "mlflow" / "artifacts").resolve()

    def base_settings(self) -> HeartbeatSettings:
        """The same folders and MLflow store as a plain HeartbeatSettings (for toolchain functions)."""
        fields = set(HeartbeatSettings.model_fields)
        return HeartbeatSettings(**{k: v for k, v in self.__dict__.items() if k in fields})


@lru_cache(maxsize=1)
def get_settings() -> HeartbeatSettings:
    return HeartbeatSettings()


def describe_validation_error(exc: ValidationError, prefix: str = "", upper: bool = False) -> str:
    """One line naming every field a pydantic ValidationError refused: `FIELD: message; ...`.

    `prefix` and `upper` turn a field name into the environment variable that sets it
    (e.g. prefix "HEARTBEAT_", upper=True: `HEARTBEAT_SECRET_KEY is not set`).
    """
    problems: list[str] = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "settings"
        name = prefix + (field.upper() if upper else field)
        if err.get("type") == "missing":
            problems.append(f"{name} is not set")
        else:
            problems.append(f"{name}: {err.get('msg')}")
    return "; ".join(problems)
