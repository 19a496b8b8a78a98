#!/usr/bin/env bash
# Heartbeat Edge: the project's test command (README: `bash scripts/test.sh`).
# Brings the machine up to date with scripts/setup.sh, then runs pytest from
# the venv; arguments go to pytest (e.g. `bash scripts/test.sh tests/firmware -x`).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PLATFORMIO_CORE_DIR="${PLATFORMIO_CORE_DIR:-$REPO_ROOT/.state/platformio}"
# no network from PlatformIO during tests (see docs/setup.md)
export PLATFORMIO_DISABLE_UPGRADE_CHECK=true
export PLATFORMIO_SETTING_ENABLE_TELEMETRY=no

bash "$REPO_ROOT/scripts/setup.sh" --tests

cd "$REPO_ROOT"
exec "$REPO_ROOT/.venv/bin/python" -m pytest "$@"
