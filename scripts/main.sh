#!/usr/bin/env bash
# Heartbeat Edge: the main job (README: `bash scripts/main.sh`).
# Brings the machine up to date with scripts/setup.sh, then runs `heartbeat main`: the whole system on its
# embedded defaults (server with SQLite and a local MLflow store, its worker, the emulated device, and the
# bridge streaming a MIT-BIH record), live in the terminal until Ctrl-C. See heartbeat_system/main_job.py.
# Arguments go to `heartbeat main` (e.g. --record 119, --port 8001, --seconds 120 --exit-when-done).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/pio_env.sh
source "$REPO_ROOT/scripts/pio_env.sh"
if [[ -z "${HEARTBEAT_DATA_DIR:-}" && -d "$REPO_ROOT/../shared/data/mitdb" ]]; then
    export HEARTBEAT_DATA_DIR="$(cd "$REPO_ROOT/../shared/data/mitdb" && pwd)"
fi

bash "$REPO_ROOT/scripts/setup.sh"

cd "$REPO_ROOT"
exec "$REPO_ROOT/.venv/bin/heartbeat" main "$@"
