"""PlatformIO pre-build step of the test builds: the generated C header a test suite needs, written before the
suite is built (``extra_scripts`` in platformio.ini). Other builds, `pio run` included, are left alone.

    test_dsp_golden      golden_vectors.h from tests/contract/dsp_golden.json     (gen_golden.py)
    test_wire*           test_wire/wire_vectors.h from tests/contract/wire_vectors.json (gen_wire_vectors.py)
    test_model_golden    model_golden.h from tests/contract/{dsp,model}_golden.json (gen_model_golden.py)
    test_imgcrypto, test_qemu_imgcrypto   imgcrypto_vectors.h from tests/contract/imgcrypto_vectors.json
                                          (gen_imgcrypto_vectors.py)
    test_update_rx       update_vectors.h: images signed by imgtool with a key made and dropped at generation
                         (gen_update_vectors.py)

The headers go into the suite folders of the test directory being built (PLATFORMIO_TEST_DIR may name a copy),
with the generators found there (else in firmware/test). HEARTBEAT_DSP_GOLDEN, HEARTBEAT_WIRE_VECTORS and
HEARTBEAT_IMGCRYPTO_VECTORS name other JSON tables (tests use them to prove that the C suites read the vectors).
A table the generator refuses stops the build with its message.
"""

import importlib.util
import os
import sys

from SCons.Script import DefaultEnvironment

env = DefaultEnvironment()
PROJECT_DIR = env.subst("$PROJECT_DIR")
TEST_DIR = env.subst("$PROJECT_TEST_DIR")
CONTRACT_DIR = os.path.join(PROJECT_DIR, "tests", "contract")


def _generator(file_name):
    path = os.path.join(TEST_DIR, file_name)
    if not os.path.isfile(path):
        path = os.path.join(PROJECT_DIR, "firmware", "test", file_name)
    spec = importlib.util.spec_from_file_location("hb_" + file_name[: -len(".py")], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dsp_golden():
    table = os.environ.get("HEARTBEAT_DSP_GOLDEN") or os.path.join(CONTRACT_DIR, "dsp_golden.json")
    _generator("gen_golden.py").generate(table, os.path.join(TEST_DIR, "test_dsp_golden", "golden_vectors.h"))


def _wire_vectors():
    table = os.environ.get("HEARTBEAT_WIRE_VECTORS") or os.path.join(CONTRACT_DIR, "wire_vectors.json")
    _generator("gen_wire_vectors.py").generate(table, os.path.join(TEST_DIR, "test_wire", "wire_vectors.h"))


def _model_golden():
    _generator("gen_model_golden.py").generate(out=os.path.join(TEST_DIR, "test_model_golden", "model_golden.h"))


def _imgcrypto_vectors(suite):
    table = os.environ.get("HEARTBEAT_IMGCRYPTO_VECTORS") or os.path.join(CONTRACT_DIR, "imgcrypto_vectors.json")
    _generator("gen_imgcrypto_vectors.py").generate(table, os.path.join(TEST_DIR, suite, "imgcrypto_vectors.h"))


def _update_vectors():
    _generator("gen_update_vectors.py").generate(os.path.join(TEST_DIR, "test_update_rx", "update_vectors.h"))


def _header_for(suite):
    if suite == "test_dsp_golden":
        return _dsp_golden
    if suite.startswith("test_wire"):
        return _wire_vectors
    if suite == "test_model_golden":
        return _model_golden
    if suite in ("test_imgcrypto", "test_qemu_imgcrypto"):
        return lambda: _imgcrypto_vectors(suite)
    if suite == "test_update_rx":
        return _update_vectors
    return None


suite = os.path.basename(str(env.get("PIOTEST_RUNNING_NAME", "") or ""))
write_header = _header_for(suite)
if write_header is not None:
    try:
        write_header()
    except SystemExit as exc:
        sys.stderr.write(f"Error: [env:{env['PIOENV']}] {suite}: test vectors not generated: {exc}\n")
        env.Exit(1)
