"""Pre-build step of the ecg_dsp library: before a `test_dsp_golden` suite is built, write the C header of the
DSP golden vectors (tests/contract/dsp_golden.json -> <test_dir>/test_dsp_golden/golden_vectors.h, git-ignored)
with firmware/test/gen_golden.py. Other builds are left alone.

HEARTBEAT_DSP_GOLDEN names another JSON file (tests use it to prove that the C tests read the vectors).
A file the generator refuses stops the build with its message.
"""

import importlib.util
import os
import sys

Import("env")  # noqa: F821 (SCons injects Import)

SUITE = "test_dsp_golden"

suite = os.path.basename(str(env.get("PIOTEST_RUNNING_NAME", "") or ""))  # noqa: F821
if suite == SUITE:
    project_dir = env.subst("$PROJECT_DIR")  # noqa: F821
    test_dir = env.subst("$PROJECT_TEST_DIR")  # noqa: F821
    generator = os.path.join(test_dir, "gen_golden.py")
    if not os.path.isfile(generator):
        generator = os.path.join(project_dir, "firmware", "test", "gen_golden.py")
    table = os.environ.get("HEARTBEAT_DSP_GOLDEN") or os.path.join(project_dir, "tests", "contract",
                                                                    "dsp_golden.json")
    spec = importlib.util.spec_from_file_location("hb_gen_golden", generator)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.generate(table, os.path.join(test_dir, SUITE, "golden_vectors.h"))
    except SystemExit as exc:
        sys.stderr.write("Error: [env:%s] %s\n" % (env["PIOENV"], exc))  # noqa: F821
        env.Exit(1)  # noqa: F821
