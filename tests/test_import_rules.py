"""The layout's import rules (docs/architecture.md, "Parts and import rules"), read from the code.

- heartbeat_core (the shared kernel) imports no part;
- toolchain imports neither edge_bridge nor server nor heartbeat_system;
- edge_bridge imports neither server nor heartbeat_system nor TensorFlow/Keras/tflite_micro (a bridge on a hospital
  PC must not pull them), checked in the code and at run time;
- server imports neither edge_bridge nor heartbeat_system;
- only the server's worker child trains: no other module of the server, and nothing of the system, imports the
  toolchain's training modules.
Every import counts, lazy ones inside functions included.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PARTS = ("heartbeat_core", "toolchain", "edge_bridge", "server", "heartbeat_system")
ML_RUNTIMES = {"tensorflow", "keras", "tflite_micro"}
FORBIDDEN: dict[str, set[str]] = {
    "heartbeat_core": {"toolchain", "edge_bridge", "server", "heartbeat_system"},
    "toolchain": {"edge_bridge", "server", "heartbeat_system"},
    "edge_bridge": {"server", "heartbeat_system"} | ML_RUNTIMES,
    "server": {"edge_bridge", "heartbeat_system"},
    "heartbeat_system": set(),
}
TRAINING_MODULES = {"toolchain.job", "toolchain.train", "toolchain.model", "toolchain.quantize"}
ALLOWED_TO_TRAIN = {Path("server/worker/child.py")}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports (`import a.b` -> a.b; `from a.b import c` -> a.b and a.b.c)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def offenders(root: Path, package: str) -> list[str]:
    found = []
    for path in sorted((root / package).rglob("*.py")):
        modules = imported_modules(path)
        bad = {m.split(".")[0] for m in modules} & FORBIDDEN[package]
        rel = path.relative_to(root)
        if package in ("server", "heartbeat_system") and rel not in ALLOWED_TO_TRAIN:
            bad |= modules & TRAINING_MODULES
        if bad:
            found.append(f"{rel} imports {sorted(bad)}")
    return found


@pytest.mark.parametrize("package", PARTS)
def test_package_respects_import_rules(package):
    assert (REPO / package).is_dir(), f"{package}/ is one of the project's parts"
    bad = offenders(REPO, package)
    assert not bad, "; ".join(bad)


def test_the_checker_sees_every_kind_of_import(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import server.api\nfrom edge_bridge import wire\nfrom . import local\n"
                 "def later():\n    import tensorflow as tf\n")
    assert {"server.api", "edge_bridge", "edge_bridge.wire", "tensorflow"} <= imported_modules(f)
    assert not any(m.startswith("local") for m in imported_modules(f))


@pytest.mark.parametrize(("package", "line", "expected"), [
    ("edge_bridge", "from server.core.settings import get_settings", "server"),
    ("edge_bridge", "import tflite_micro", "tflite_micro"),
    ("heartbeat_core", "from toolchain import dsp", "toolchain"),
    ("toolchain", "from heartbeat_system import ports", "heartbeat_system"),
    ("server", "from edge_bridge import wire", "edge_bridge"),
    ("server", "from toolchain.job import run_training_job", "toolchain.job"),
])
def test_a_forbidden_import_added_to_a_copy_of_the_tree_is_caught(tmp_path, package, line, expected):
    """The rule test fails when someone adds a forbidden import (shown on a copy, the tree itself untouched)."""
    shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    assert offenders(tmp_path, package) == []
    (tmp_path / package / "newcomer.py").write_text(f'"""A module added by mistake."""\n{line}\n')
    assert offenders(tmp_path, package) == [f"{package}/newcomer.py imports ['{expected}']"]


def test_the_bridge_command_loads_no_ml_runtime_at_run_time():
    """Importing the bridge's command line (and everything it imports) loads neither TensorFlow nor TFLM."""
    code = ("import sys, edge_bridge.cli, edge_bridge.link, edge_bridge.queue, edge_bridge.uploader, "
            "edge_bridge.replay\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(ML_RUNTIMES | {'server'})!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]", out.stdout
