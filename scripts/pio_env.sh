# Heartbeat Edge: the PlatformIO environment of the shell scripts, defined once (sourced by scripts/setup.sh,
# scripts/test.sh and scripts/main.sh; the Python side is heartbeat_system/firmware_build.py's pio_environ).
#   PLATFORMIO_CORE_DIR                   PlatformIO's packages, default <repo>/.state/platformio (git-ignored)
#   PLATFORMIO_DISABLE_UPGRADE_CHECK      no network from PlatformIO (see docs/setup.md)
#   PLATFORMIO_SETTING_ENABLE_TELEMETRY
# shellcheck shell=bash
_heartbeat_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PLATFORMIO_CORE_DIR="${PLATFORMIO_CORE_DIR:-$_heartbeat_repo/.state/platformio}"
export PLATFORMIO_DISABLE_UPGRADE_CHECK=true
export PLATFORMIO_SETTING_ENABLE_TELEMETRY=no
unset _heartbeat_repo
