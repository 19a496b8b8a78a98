"""Running PlatformIO from the firmware tests: the toolchain check, an isolated environment, `pio test` with its
JSON report, and the case names a suite registers. One copy for every tests/firmware module."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEST_DIR = REPO / "firmware" / "test"
PIO_TIMEOUT_S = 900  # a hang guard only
# vector-table overrides a test may set; cleared otherwise so a stray one never leaks into a build
OVERRIDES = ("HEARTBEAT_DSP_GOLDEN", "HEARTBEAT_WIRE_VECTORS")


def core_dir() -> Path:
    return Path(os.environ.get("PLATFORMIO_CORE_DIR") or REPO / ".state" / "platformio")


def require_pio() -> Path:
    pio_path = REPO / ".venv" / "bin" / "pio"
    missing = [str(pio_path)] if not pio_path.exists() else []
    missing += [f"{tool} on PATH" for tool in ("gcc", "arm-none-eabi-gcc", "qemu-system-arm") if not shutil.which(tool)]
    if not (core_dir() / "packages" / "tool-scons" / "scons.py").exists():
        missing.append(str(core_dir() / "packages" / "tool-scons" / "scons.py"))
    if missing:
        pytest.fail("firmware toolchain incomplete, missing: %s. Run `bash scripts/setup.sh`." % "; ".join(missing),
                    pytrace=False)
    return pio_path


def pio_env(workspace: Path, test_dir: Path | None = None, **overrides: Path) -> dict:
    """Environment for a pio run in its own workspace; `overrides` maps names of OVERRIDES to files."""
    env = dict(os.environ)
    env.update(PLATFORMIO_CORE_DIR=str(core_dir()), PLATFORMIO_WORKSPACE_DIR=str(workspace),
               PLATFORMIO_DISABLE_UPGRADE_CHECK="true", PLATFORMIO_SETTING_ENABLE_TELEMETRY="no")
    for name in ("PLATFORMIO_BUILD_DIR", "PLATFORMIO_UPLOAD_PORT", "PLATFORMIO_TEST_DIR", *OVERRIDES):
        env.pop(name, None)
    if test_dir is not None:
        env["PLATFORMIO_TEST_DIR"] = str(test_dir)
    for name, path in overrides.items():
        assert name in OVERRIDES, name
        env[name] = str(path)
    return env


def pio_test(pio: Path, env: dict, environment: str, report: Path, *suites: str):
    args = [str(pio), "test", "-e", environment, "--json-output-path", str(report)]
    for suite in suites:
        args += ["-f", suite]
    proc = subprocess.run(args, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=PIO_TIMEOUT_S, check=False)
    assert report.exists(), "pio test wrote no JSON report:\n" + proc.stdout
    data = json.loads(report.read_text())
    return proc.returncode, proc.stdout, {s["test_name"]: s for s in data["test_suites"]
                                          if s["env_name"] == environment}


def registered_cases(suite: str) -> list[str]:
    names = []
    for src in sorted((TEST_DIR / suite).glob("*.c")):
        names += re.findall(r'hbtest_run\(\s*&t,\s*"([^"]+)"', src.read_text())
    return names
