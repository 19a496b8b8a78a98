"""PlatformIO pre-build step: generate firmware/lib/model_data from the shipped model.

Runs before every build of the `native`, `qemu` and `nrf52840` environments (``extra_scripts = pre:...`` in
platformio.ini). It calls ``toolchain.export.generate_firmware_lib`` on ``<models_dir>/current``, which first
verifies the version folder (the .tflite's sha256 against card.json and model_data.h, the C array's bytes
against the .tflite, the header's contract against the model's tensors, every file against the card's
sha256) and only then copies model_data.c/.h into firmware/lib/model_data. A model whose files disagree
stops the build with the toolchain's message; nothing is written then.

``models_dir`` is the toolchain's setting (``HEARTBEAT_MODELS_DIR``, default ``<repo>/models``), so a test
can point a build at another folder of model versions without touching the repository's.
"""

import os
import sys

Import("env")  # noqa: F821 (SCons injects Import)

PROJECT_DIR = env.subst("$PROJECT_DIR")  # noqa: F821
if PROJECT_DIR not in sys.path:
    sys.path.insert(0, PROJECT_DIR)


def _fail(message):
    sys.stderr.write("Error: [env:%s] model library not generated: %s\n" % (env["PIOENV"], message))  # noqa: F821
    env.Exit(1)  # noqa: F821


def _generate():
    try:
        from toolchain.errors import HeartbeatError
        from toolchain.export import CURRENT_LINK, generate_firmware_lib
        from toolchain.settings import get_settings
    except ImportError as exc:
        _fail(
            "cannot import the toolchain (%s); PlatformIO must run with the project's venv "
            "(.venv/bin/pio, after `bash scripts/setup.sh`)" % exc
        )
        return
    version_dir = get_settings().models_dir / CURRENT_LINK
    lib_dir = os.path.join(PROJECT_DIR, "firmware", "lib", "model_data")
    if not version_dir.exists():
        _fail(
            "%s does not exist; export a model version first (`heartbeat export`, which points "
            "models/current at it)" % version_dir
        )
        return
    try:
        card = generate_firmware_lib(version_dir, lib_dir)
    except HeartbeatError as exc:
        _fail("%s; the firmware is built only from a model whose files match its card" % exc.one_line())
        return
    print(
        "Model library: %s (sha256 %s...) -> firmware/lib/model_data"
        % (card.get("version"), str(card.get("sha256"))[:16])
    )


_generate()


def _model_golden_header():
    """Before the test_model_golden suite is built: its header of golden beats and TFLM's scores."""
    suite = os.path.basename(str(env.get("PIOTEST_RUNNING_NAME", "") or ""))  # noqa: F821
    if suite != "test_model_golden":
        return
    import importlib.util

    test_dir = env.subst("$PROJECT_TEST_DIR")  # noqa: F821
    spec = importlib.util.spec_from_file_location("hb_gen_model_golden", os.path.join(test_dir, "gen_model_golden.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.generate(out=os.path.join(test_dir, suite, "model_golden.h"))
    except SystemExit as exc:
        _fail("golden vectors: %s" % exc)


_model_golden_header()
