"""The toolchain's one Settings object (environment prefix HEARTBEAT_).

Nothing else in the toolchain reads the environment.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ToolchainSettings(BaseSettings):
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

    @model_validator(mode="after")
    def _derive_paths(self) -> "ToolchainSettings":
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


@lru_cache(maxsize=1)
def get_settings() -> ToolchainSettings:
    return ToolchainSettings()
