"""PlatformIO pre-build step: generate firmware/lib/model_data from the shipped model.

Runs before every build of the `native`, `qemu` and `nrf52840` environments (``extra_scripts = pre:...`` in
platformio.ini). It calls ``toolchain.versions.generate_firmware_lib`` on ``<models_dir>/current``, which first
verifies the version folder (the .tflite's sha256 against card.json and model_data.h, the C array's bytes
against the .tflite, the header's contract against the model's tensors, every file against the card's
sha256) and only then copies model_data.c/.h into firmware/lib/model_data. A model whose files disagree
stops the build with the toolchain's message; nothing is written then.

``models_dir`` is the toolchain's setting (``HEARTBEAT_MODELS_DIR``, default ``<repo>/models``), so a test
can point a build at another folder of model versions without touching the repository's.

``HEARTBEAT_MODEL_VERSION`` (default ``current``) names the version folder, and the library is generated into the
project's lib_dir (``PLATFORMIO_LIB_DIR``, default firmware/lib): `heartbeat firmware build` passes both, with a
lib_dir of its own in its workspace, so two builds of different models never write the same folder.
"""

import os
import sys

from SCons.Script import DefaultEnvironment

env = DefaultEnvironment()
PROJECT_DIR = env.subst("$PROJECT_DIR")
if PROJECT_DIR not in sys.path:
    sys.path.insert(0, PROJECT_DIR)


def _fail(message):
    sys.stderr.write(f"Error: [env:{env['PIOENV']}] model library not generated: {message}\n")
    env.Exit(1)


def _generate():
    try:
        from heartbeat_core.errors import HeartbeatError
        from heartbeat_core.settings import get_settings
        from toolchain.model_files import CURRENT_LINK
        from toolchain.versions import generate_firmware_lib
    except ImportError as exc:
        _fail(
            f"cannot import the toolchain ({exc}); PlatformIO must run with the project's venv "
            "(.venv/bin/pio, after `bash scripts/setup.sh`)"
        )
        return
    version_dir = get_settings().models_dir / (os.environ.get("HEARTBEAT_MODEL_VERSION") or CURRENT_LINK)
    lib_dir = os.path.join(env.GetProjectConfig().get("platformio", "lib_dir"), "model_data")
    if not version_dir.exists():
        _fail(
            f"{version_dir} does not exist; export a model version first (`heartbeat export`, which points "
            "models/current at it)"
        )
        return
    try:
        card = generate_firmware_lib(version_dir, lib_dir)
    except HeartbeatError as exc:
        _fail(f"{exc.one_line()}; the firmware is built only from a model whose files match its card")
        return
    print(f"Model library: {card.get('version')} (sha256 {str(card.get('sha256'))[:16]}...) -> {lib_dir}")


_generate()

