"""Pre-build step of the wire library: before a `test_wire*` suite is built, write the C header of the
wire protocol's vector table (tests/contract/wire_vectors.json -> <test_dir>/test_wire/wire_vectors.h,
git-ignored) with firmware/test/gen_wire_vectors.py. Other builds are left alone.

HEARTBEAT_WIRE_VECTORS names another table (tests use it to prove that the C tests read the table).
"""

import importlib.util
import os

Import("env")  # noqa: F821 (SCons injects Import)

suite = env.get("PIOTEST_RUNNING_NAME", "") or ""  # noqa: F821
if os.path.basename(str(suite)).startswith("test_wire"):
    project_dir = env.subst("$PROJECT_DIR")  # noqa: F821
    test_dir = env.subst("$PROJECT_TEST_DIR")  # noqa: F821
    generator = os.path.join(test_dir, "gen_wire_vectors.py")
    if not os.path.isfile(generator):
        generator = os.path.join(project_dir, "firmware", "test", "gen_wire_vectors.py")
    table = os.environ.get("HEARTBEAT_WIRE_VECTORS") or os.path.join(
        project_dir, "tests", "contract", "wire_vectors.json"
    )
    spec = importlib.util.spec_from_file_location("hb_gen_wire_vectors", generator)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(table, os.path.join(test_dir, "test_wire", "wire_vectors.h"))
