"""The `heartbeat` command line: every failure is one clear line and a non-zero exit."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


def heartbeat(*args, env=None, cwd=None):
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "heartbeat_core.cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=300)


def one_error_line(proc) -> str:
    lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    return errors[0]


def test_help_lists_the_commands():
    proc = heartbeat("--help")
    assert proc.returncode == 0
    for cmd in ("data", "train", "evaluate", "export", "promote", "models", "golden", "report"):
        assert cmd in proc.stdout


def test_missing_data_folder(tmp_path):
    proc = heartbeat("data", "verify", env={"HEARTBEAT_DATA_DIR": str(tmp_path / "none")})
    assert proc.returncode == 1
    line = one_error_line(proc)
    assert "data folder not found" in line and str(tmp_path / "none") in line and "HEARTBEAT_DATA_DIR" in line


def test_data_verify_passes_on_the_real_database(mitdb_dir):
    proc = heartbeat("data", "verify", env={"HEARTBEAT_DATA_DIR": str(mitdb_dir)})
    assert proc.returncode == 0, proc.stderr
    assert "48 records" in proc.stderr + proc.stdout and "SHA256SUMS" in proc.stderr + proc.stdout


def test_bad_training_parameter(tmp_path, mitdb_dir):
    proc = heartbeat("train", "--epochs", "0", env={"HEARTBEAT_DATA_DIR": str(mitdb_dir),
                                                    "HEARTBEAT_STATE_DIR": str(tmp_path)})
    assert proc.returncode == 1
    assert "epochs must be at least 1" in one_error_line(proc)


def test_unknown_model_version(tmp_path):
    proc = heartbeat("evaluate", "--version", "nope", env={"HEARTBEAT_MODELS_DIR": str(tmp_path)})
    assert proc.returncode == 1
    line = one_error_line(proc)
    assert "no exported model 'nope'" in line and "heartbeat train" in line


def test_usage_error_is_one_line():
    proc = heartbeat("train", "--epochs", "many")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "--epochs" in line and "integer" in line


@pytest.mark.parametrize("version", ["current"])
def test_export_of_shipped_model_regenerates_firmware_library(version, tmp_path):
    """The committed model verifies and generates the firmware library (into a temporary copy of the repo)."""
    from heartbeat_core.settings import PROJECT_ROOT

    models = PROJECT_ROOT / "models"
    if not (models / version).exists():
        pytest.fail("models/current is missing: the shipped model must be committed")
    proc = heartbeat("export", "--version", version)
    assert proc.returncode == 0, proc.stderr
    lib = PROJECT_ROOT / "firmware" / "lib" / "model_data"
    header = (lib / "model_data.h").read_text()
    card_sha = __import__("json").loads((models / version / "card.json").read_text())["sha256"]
    assert card_sha in header
