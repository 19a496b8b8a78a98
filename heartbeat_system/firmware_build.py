"""PlatformIO for the emulated device and the boards: the one definition of the environment `pio` runs in, where
`pio` is, and the builds.

    env = pio_environ(workspace)             PLATFORMIO_CORE_DIR from SystemSettings, no upgrade check, no
                                             telemetry, build output in `workspace` (never the developer's .pio/)
    rc, out = build("nrf52840", workspace)   `pio run -e nrf52840`
    elf = build_image(workspace)             the `qemu` image (incremental), or DeviceError with PlatformIO's words

`pio` is the one installed beside the running Python (the venv's) or else the one on PATH. The shell scripts get
the same PLATFORMIO_* variables from scripts/pio_env.sh. The firmware sources live in the repository, so builds
run from a checkout.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from heartbeat_core.errors import DeviceError
from heartbeat_core.settings import PROJECT_ROOT
from heartbeat_system.settings import SystemSettings

PIO_TIMEOUT_S = 900  # a hang guard only: a cold build of everything takes well under a minute
# what an emulator build needs on PATH besides pio (the native tests add the host's gcc)
FIRMWARE_TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-objcopy", "qemu-system-arm")
NEWLIB_NANO = Path("/usr/lib/arm-none-eabi/lib/nano.specs")
# PlatformIO variables that would send a build elsewhere than its workspace, or upload to a stray port
_STRAY = ("PLATFORMIO_BUILD_DIR", "PLATFORMIO_UPLOAD_PORT", "PLATFORMIO_TEST_DIR")


def pio_environ(workspace: Path | None = None, settings: SystemSettings | None = None) -> dict[str, str]:
    """The environment of a `pio` child: this process's, with PlatformIO's own variables set (and stray ones
    removed) so that the build is offline, quiet and kept in `workspace`."""
    s = settings or SystemSettings()
    env = dict(os.environ)
    env["PLATFORMIO_CORE_DIR"] = str(s.platformio_core_dir)
    env["PLATFORMIO_DISABLE_UPGRADE_CHECK"] = "true"
    env["PLATFORMIO_SETTING_ENABLE_TELEMETRY"] = "no"
    for name in _STRAY:
        env.pop(name, None)
    if workspace is not None:
        env["PLATFORMIO_WORKSPACE_DIR"] = str(workspace)
    return env


def find_pio() -> Path | None:
    """The `pio` installed beside the running Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "pio"
    if beside.exists():
        return beside
    found = shutil.which("pio")
    return Path(found) if found else None


def missing_tools(tools: Iterable[str] = FIRMWARE_TOOLS, settings: SystemSettings | None = None) -> list[str]:
    """What a firmware build lacks on this machine (empty when nothing): `pio`, the `tools` on PATH, newlib-nano
    and the offline tool-scons package scripts/setup.sh writes into PlatformIO's core dir."""
    core_dir = (settings or SystemSettings()).platformio_core_dir
    missing = [] if find_pio() is not None else [f"pio (PlatformIO, beside {sys.executable} or on PATH)"]
    missing += [f"{tool} on PATH" for tool in tools if shutil.which(tool) is None]
    if not NEWLIB_NANO.exists():
        missing.append(f"newlib-nano ({NEWLIB_NANO})")
    scons = core_dir / "packages" / "tool-scons"
    missing += [str(scons / name) for name in ("scons.py", "package.json", ".piopm") if not (scons / name).exists()]
    return missing


def pio_path(settings: SystemSettings | None = None) -> Path:
    """`pio`, once the whole firmware toolchain is known to be there; DeviceError naming what is missing."""
    missing = missing_tools(settings=settings)
    pio = find_pio()
    if missing or pio is None:
        raise DeviceError("firmware toolchain incomplete, missing: " + "; ".join(missing), None,
                          "run `bash scripts/setup.sh`")
    return pio


def run_pio(args: list[str], env: dict[str, str], pio: Path | None = None) -> tuple[int, str]:
    """`pio ARGS` from the repository root in `env` (see pio_environ); returns (exit status, output)."""
    proc = subprocess.run([str(pio or pio_path()), *args], cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=PIO_TIMEOUT_S,
                          check=False)
    return proc.returncode, proc.stdout


def build(environment: str, workspace: Path, extra_env: dict[str, str] | None = None) -> tuple[int, str]:
    """`pio run -e <environment>` in `workspace`; returns (exit status, output)."""
    env = pio_environ(workspace)
    env.update(extra_env or {})
    return run_pio(["run", "-e", environment], env)


def build_image(workspace: Path, environment: str = "qemu", extra_env: dict[str, str] | None = None) -> Path:
    """Builds an image (incrementally: an unchanged tree is not recompiled) and returns its ELF; `extra_env` is
    added to the build's environment (a release build's lib_dir, model version and flags)."""
    rc, out = build(environment, workspace, extra_env)
    elf = Path(workspace) / "build" / environment / "firmware.elf"
    if rc != 0 or not elf.exists():
        raise DeviceError(f"`pio run -e {environment}` failed (status {rc}):\n{out[-4000:]}")
    return elf
