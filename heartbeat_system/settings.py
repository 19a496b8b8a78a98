"""The system's settings: the shared folders (HeartbeatSettings), the server's secret key when the environment
gives one, and where PlatformIO keeps its packages.

PLATFORMIO_CORE_DIR is PlatformIO's own variable (scripts/pio_env.sh exports the same default for the shell
scripts); HEARTBEAT_SECRET_KEY is the server's, read here only so the main job can tell whether to make one.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr

from heartbeat_core.settings import PROJECT_ROOT, HeartbeatSettings


class SystemSettings(HeartbeatSettings):
    platformio_core_dir: Path = Field(default=PROJECT_ROOT / ".state" / "platformio",
                                      validation_alias=AliasChoices("PLATFORMIO_CORE_DIR", "platformio_core_dir"),
                                      description="Where PlatformIO keeps its packages (PLATFORMIO_CORE_DIR).")
    secret_key: SecretStr | None = Field(default=None, description="The server's signing key "
                                                                   "(HEARTBEAT_SECRET_KEY); the main job makes one "
                                                                   "when it is not set.")
