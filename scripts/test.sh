#!/usr/bin/env bash
# Heartbeat Edge: the project's test command (README: `bash scripts/test.sh`).
# Brings the machine up to date with scripts/setup.sh, checks the house rules
# with scripts/lint.sh (ruff, mypy, clang-format), then runs pytest from the
# venv; arguments go to pytest (e.g. `bash scripts/test.sh tests/firmware -x`).
# The fast lane for a developer's inner loop: `bash scripts/test.sh -m "not slow"`
# (lint, types and the tests that neither train nor build firmware).
# Fails if the lint or any test fails; both always run.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# PLATFORMIO_*: no network from PlatformIO during tests (see docs/setup.md)
# shellcheck source=scripts/pio_env.sh
source "$REPO_ROOT/scripts/pio_env.sh"

bash "$REPO_ROOT/scripts/setup.sh" --tests

cd "$REPO_ROOT"
lint_status=0
bash "$REPO_ROOT/scripts/lint.sh" || lint_status=$?
test_status=0
"$REPO_ROOT/.venv/bin/python" -m pytest "$@" || test_status=$?
if ((lint_status)); then
    printf 'test: the lint (scripts/lint.sh) found problems, see its output above\n' >&2
fi
if ((test_status)); then
    exit "$test_status"
fi
exit "$lint_status"
