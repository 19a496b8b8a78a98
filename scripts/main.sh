#!/usr/bin/env bash
# Heartbeat Edge: the main job (README: `bash scripts/main.sh`).
# Brings the machine up to date with scripts/setup.sh, then runs `heartbeat main`: load the shipped model
# (models/current; trains one first if there is none), verify it, generate the firmware's model library,
# evaluate it on DS2 (float figures from its card, int8 under TF Lite and TFLite Micro) and run the whole
# device pipeline on DS2 records. Arguments go to `heartbeat main` (e.g. --retrain).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PLATFORMIO_CORE_DIR="${PLATFORMIO_CORE_DIR:-$REPO_ROOT/.state/platformio}"
export PLATFORMIO_DISABLE_UPGRADE_CHECK=true
export PLATFORMIO_SETTING_ENABLE_TELEMETRY=no
if [[ -z "${HEARTBEAT_DATA_DIR:-}" && -d "$REPO_ROOT/../shared/data/mitdb" ]]; then
    export HEARTBEAT_DATA_DIR="$(cd "$REPO_ROOT/../shared/data/mitdb" && pwd)"
fi

bash "$REPO_ROOT/scripts/setup.sh"

cd "$REPO_ROOT"
exec "$REPO_ROOT/.venv/bin/heartbeat" main "$@"
