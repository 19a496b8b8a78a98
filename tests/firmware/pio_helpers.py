"""Running PlatformIO from the firmware tests: the toolchain check, an isolated environment, `pio test` with its
JSON report, and the case names a suite registers. One copy for every tests/firmware module, on top of
heartbeat_system.firmware_build (where `pio` is, the PlatformIO environment, running it)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from heartbeat_system.firmware_build import FIRMWARE_TOOLS, find_pio, missing_tools, pio_environ, run_pio

REPO = Path(__file__).resolve().parents[2]
TEST_DIR = REPO / "firmware" / "test"
# vector-table overrides a test may set; cleared otherwise so a stray one never leaks into a build
OVERRIDES = ("HEARTBEAT_DSP_GOLDEN", "HEARTBEAT_WIRE_VECTORS")


def require_pio() -> Path:
    """`pio`, once the firmware toolchain (the host's gcc for `native` included) is all there; fails, never
    skips, naming what is missing."""
    missing = missing_tools(("gcc", *FIRMWARE_TOOLS))
    pio = find_pio()
    if missing or pio is None:
        pytest.fail(f"firmware toolchain incomplete, missing: {'; '.join(missing)}. Run `bash scripts/setup.sh` (it "
                    "installs gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm, the venv and the offline "
                    "PlatformIO core dir).", pytrace=False)
    return pio


def pio_env(workspace: Path, test_dir: Path | None = None, **overrides: Path) -> dict[str, str]:
    """Environment for a pio run in its own workspace; `overrides` maps names of OVERRIDES to files."""
    env = pio_environ(workspace)
    for name in OVERRIDES:
        env.pop(name, None)
    if test_dir is not None:
        env["PLATFORMIO_TEST_DIR"] = str(test_dir)
    for name, path in overrides.items():
        assert name in OVERRIDES, name
        env[name] = str(path)
    return env


def pio_test(pio: Path, env: dict[str, str], environment: str, report: Path,
             *suites: str) -> tuple[int, str, dict[str, Any]]:
    """`pio test -e ENVIRONMENT [-f SUITE ...]`: (exit status, output, the JSON report's suites by name)."""
    args = ["test", "-e", environment, "--json-output-path", str(report)]
    for suite in suites:
        args += ["-f", suite]
    rc, out = run_pio(args, env, pio)
    assert report.exists(), "pio test wrote no JSON report:\n" + out
    data = json.loads(report.read_text())
    return rc, out, {s["test_name"]: s for s in data["test_suites"] if s["env_name"] == environment}


def registered_cases(suite: str, test_dir: Path = TEST_DIR) -> list[str]:
    """The case names a suite registers with hbtest_run(), read from its sources."""
    names = []
    for src in sorted((test_dir / suite).glob("*.c")):
        names += re.findall(r'hbtest_run\(\s*&t,\s*"([^"]+)"', src.read_text())
    return names
