"""Shared fixtures: the MIT-BIH folder (HEARTBEAT_DATA_DIR, as CI sets it), the emulated device's image (built
once per session) and isolated toolchain settings."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mitdb_dir() -> Path:
    path = Path(os.environ.get("HEARTBEAT_DATA_DIR", REPO.parent / "shared" / "data" / "mitdb")).resolve()
    if not (path / "100.dat").exists():
        pytest.fail(f"MIT-BIH data not found in {path}: set HEARTBEAT_DATA_DIR (CI: ../shared/data/mitdb) "
                    "or run `heartbeat data download`")
    return path


@pytest.fixture(scope="session")
def qemu_image(tmp_path_factory) -> Path:
    """The emulated device's firmware image (`pio run -e qemu` in a temporary workspace, so firmware/lib/model_data
    is generated from models/current), built once for the whole session."""
    from heartbeat_core.errors import DeviceError
    from heartbeat_system.firmware_build import build_image

    try:
        return build_image(tmp_path_factory.mktemp("pio-qemu"))
    except DeviceError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """One beat cache for the whole test session (building beats is the slow part of data tests)."""
    return tmp_path_factory.mktemp("beat-cache")


@pytest.fixture()
def settings(tmp_path, mitdb_dir, session_cache):
    """Toolchain settings pointing every piece of state into a temporary folder."""
    from heartbeat_core.settings import HeartbeatSettings

    s = HeartbeatSettings(data_dir=mitdb_dir, state_dir=tmp_path / "state", models_dir=tmp_path / "models",
                          cache_dir=session_cache)
    return s
