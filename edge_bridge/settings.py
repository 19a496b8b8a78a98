"""The bridge's one Settings object: environment (prefix HEARTBEAT_BRIDGE_), an optional TOML file, CLI options.

Precedence, highest first: options given on the command line, the environment, the configuration file
(`--config FILE` or HEARTBEAT_BRIDGE_CONFIG), the defaults below. The device token is a secret and has no
default. A configuration file that cannot be read, is not valid TOML, names an unknown setting or gives a
value of the wrong kind is refused with one line naming the file and the problem (BridgeConfigError), before
the queue is opened, so a bad file never touches queued data.

    [bridge]                       # the table is optional: top-level keys work too
    device_url = "socket://127.0.0.1:4444"
    server_url = "http://127.0.0.1:8000"
    device_token = "hbd_..."
    disk_budget_bytes = 268435456
"""
from __future__ import annotations

import contextvars
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from heartbeat_core.errors import ConfigError
from heartbeat_core.settings import PROJECT_ROOT, describe_validation_error


class BridgeConfigError(ConfigError):
    """A configuration the bridge cannot run with (file, environment or option)."""


_FILE_VALUES: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "bridge_file_values", default=MappingProxyType({}))


class _FileSource(PydanticBaseSettingsSource):
    """Values read from the TOML file by load_settings() (lowest precedence above the defaults)."""

    def get_field_value(self, field: FieldInfo,
                        field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - __call__ is used instead
        return _FILE_VALUES.get().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_VALUES.get())


class BridgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEARTBEAT_BRIDGE_", extra="ignore", populate_by_name=True)

    state_dir: Path = Field(default=PROJECT_ROOT / ".state",
                            validation_alias=AliasChoices("HEARTBEAT_BRIDGE_STATE_DIR", "HEARTBEAT_STATE_DIR"),
                            description="Generated state; the queue lives in <state_dir>/bridge/.")
    device_url: str | None = Field(default=None, description="pyserial URL: /dev/ttyACM0, socket://host:port, "
                                                              "loop://")
    server_url: str | None = Field(default=None, description="The server's base URL, e.g. http://127.0.0.1:8000")
    device_token: SecretStr | None = Field(default=None, description="The device's ingest token (hbd_...); "
                                                                     "no default")
    queue_path: Path | None = Field(default=None, description="SQLite queue (default <state_dir>/bridge/queue.db)")
    disk_budget_bytes: int = Field(default=256 * 1024 * 1024, ge=64 * 1024,
                                   description="Largest size the queue may reach; new messages are refused "
                                               "beyond it (and the device is no longer acknowledged)")
    disk_warn_fraction: float = Field(default=0.8, gt=0.0, lt=1.0,
                                      description="Warn loudly once the queue uses this share of its budget")
    batch_size: int = Field(default=100, ge=1, le=1000, description="Items per upload (the server takes <= 1000)")
    backoff_initial_s: float = Field(default=0.5, gt=0.0, description="First retry delay (link and upload)")
    backoff_max_s: float = Field(default=30.0, gt=0.0, description="Longest retry delay")
    ack_every: int = Field(default=32, ge=1, description="HOST_ACK after this many new messages are durable ...")
    ack_interval_s: float = Field(default=1.0, gt=0.0, description="... or after this long, whichever first")
    replay_window_frames: int = Field(default=16, ge=1, le=64,
                                      description="Replay: SAMPLES frames sent ahead of the device's last STATUS "
                                                  "(QEMU: 16; a board without UART flow control: 1)")
    http_timeout_s: float = Field(default=30.0, gt=0.0, description="Timeout of one upload request")
    clinician: str | None = Field(default=None, min_length=1, max_length=128,
                                  description="Name recorded with bedside feedback when --clinician is not given")

    @field_validator("device_url", "server_url")
    @classmethod
    def _not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be empty")
        return v.strip() if v else v

    @model_validator(mode="after")
    def _derive(self) -> BridgeSettings:
        if self.queue_path is None:
            self.queue_path = self.state_dir / "bridge" / "queue.db"
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(f"backoff_max_s ({self.backoff_max_s}) is below backoff_initial_s "
                             f"({self.backoff_initial_s})")
        return self

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _FileSource(settings_cls), file_secret_settings

    @property
    def queue_file(self) -> Path:
        """queue_path, which the validator always fills (default <state_dir>/bridge/queue.db)."""
        assert self.queue_path is not None
        return self.queue_path

    def token(self) -> str:
        if self.device_token is None or not self.device_token.get_secret_value().strip():
            raise BridgeConfigError("no device token", "HEARTBEAT_BRIDGE_DEVICE_TOKEN, --token or the config file",
                                    "ask an engineer for the device's token on the server")
        return self.device_token.get_secret_value().strip()


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BridgeConfigError("configuration file not found", str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BridgeConfigError(f"configuration file cannot be read: {exc}", str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BridgeConfigError(f"configuration file is not valid TOML: {exc}", str(path),
                                "fix the file; nothing queued was touched") from None
    if "bridge" in data:
        extra = sorted(set(data) - {"bridge"})
        if extra or not isinstance(data["bridge"], dict):
            raise BridgeConfigError(f"configuration file has keys outside [bridge]: {extra}", str(path))
        data = data["bridge"]
    known = set(BridgeSettings.model_fields)
    unknown = sorted(set(data) - known)
    if unknown:
        raise BridgeConfigError(f"configuration file names unknown settings {unknown}", str(path),
                                f"known settings: {', '.join(sorted(known))}")
    return data


def load_settings(config_file: Path | None = None, **overrides: Any) -> BridgeSettings:
    """Settings from options (None values ignored) > environment > config file > defaults.

    The file comes from `config_file`, else from HEARTBEAT_BRIDGE_CONFIG (read through a small settings object).
    """
    if config_file is None:
        config_file = _ConfigPointer().config
    values = _read_file(Path(config_file)) if config_file is not None else {}
    token = _FILE_VALUES.set(values)
    try:
        return BridgeSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        where = str(config_file) if config_file is not None else "environment or options"
        raise BridgeConfigError(f"invalid bridge settings: {describe_validation_error(exc)}", where) from None
    finally:
        _FILE_VALUES.reset(token)


class _ConfigPointer(BaseSettings):
    """Only HEARTBEAT_BRIDGE_CONFIG: where the configuration file is."""

    model_config = SettingsConfigDict(env_prefix="HEARTBEAT_BRIDGE_", extra="ignore")
    config: Path | None = None
