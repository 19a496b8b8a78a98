"""The design's import rules: toolchain imports neither edge_bridge nor server; edge_bridge imports neither server
nor TensorFlow (a bridge install on a hospital PC must not pull TensorFlow)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "toolchain": {"edge_bridge", "server"},
    "edge_bridge": {"server", "tensorflow", "keras", "tflite_micro"},
}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_import_rules(package):
    offenders = []
    for path in sorted((REPO / package).rglob("*.py")):
        bad = imported_top_levels(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert not offenders, "; ".join(offenders)


def test_the_checker_sees_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import server.api\nfrom edge_bridge import wire\nfrom . import local\n")
    assert imported_top_levels(f) == {"server", "edge_bridge"}
