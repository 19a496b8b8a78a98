#!/usr/bin/env bash
# Heartbeat Edge: the house rules, checked by tools (run by scripts/test.sh before the tests, and by pre-commit).
#
#   ruff check      Python style and bug patterns (rule sets E, W, F, I, B, UP; one line length: pyproject.toml)
#   mypy            types, strict, on heartbeat_core, heartbeat_system, edge_bridge and server (pyproject.toml)
#   clang-format    C style of firmware/ and tests/firmware/c/ against .clang-format (generated files excepted)
#
# Every tool runs even when an earlier one found something; the script exits non-zero if any did.
# Assumes the venv made by scripts/setup.sh.
set -uo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
BIN="$REPO_ROOT/.venv/bin"
status=0

step() { printf 'lint: %s\n' "$*"; }

step "ruff check"
"$BIN/ruff" check --no-cache . || status=1

step "mypy"
"$BIN/mypy" || status=1

step "clang-format --dry-run --Werror"
mapfile -t c_files < <(git ls-files --cached --others --exclude-standard -- \
    'firmware/*.c' 'firmware/*.h' 'tests/firmware/c/*.c' 'tests/firmware/c/*.h' | grep -v '^firmware/lib/model_data/')
if ((${#c_files[@]})); then
    if "$BIN/clang-format" --dry-run --Werror "${c_files[@]}"; then
        printf 'clang-format: %d files formatted as .clang-format says\n' "${#c_files[@]}"
    else
        status=1
    fi
fi

if ((status)); then
    step "FAILED (see the findings above)"
else
    step "clean"
fi
exit "$status"
