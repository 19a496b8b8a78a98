#!/usr/bin/env bash
# Heartbeat Edge: set up everything the project needs on this machine.
#
# Idempotent and quiet: it prints one line per thing it installs or creates,
# nothing when all is in place, and the captured log of a step that fails.
#
#   1. Debian packages for the firmware (only those missing):
#        gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
#      and, with --tests (scripts/test.sh), PostgreSQL for the server's
#      database tests: postgresql (the suite starts its own cluster on loopback).
#   2. The Python venv at .venv (python3.11) with the project installed
#      editable with all extras; skipped while pyproject.toml is unchanged.
#   3. The offline PlatformIO core dir ($PLATFORMIO_CORE_DIR, default
#      .state/platformio): a tool-scons package that runs the pip `scons`.
#   4. The firmware's signature-check crypto: mbedtls 2.28.3 from Debian's
#      source package, sha256-pinned, into .state/third_party (scripts/fetch_crypto.sh).
#
# See docs/setup.md for the reasons behind each step.
set -euo pipefail

WITH_TESTS=0
for arg in "$@"; do
    case "$arg" in
        --tests) WITH_TESTS=1 ;;
        *) printf 'setup: ERROR: unknown argument %s (known: --tests)\n' "$arg" >&2; exit 2 ;;
    esac
done

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
# shellcheck source=scripts/pio_env.sh
source "$REPO_ROOT/scripts/pio_env.sh"

LOG_DIR="$REPO_ROOT/.state/setup-logs"
mkdir -p "$LOG_DIR"

say() { printf 'setup: %s\n' "$*"; }

fail() {
    printf 'setup: ERROR: %s\n' "$*" >&2
    exit 1
}

# run_logged NAME CMD...: run quietly; on failure print the log and stop.
run_logged() {
    local name="$1"
    shift
    local log="$LOG_DIR/$name.log"
    if ! "$@" >"$log" 2>&1; then
        printf 'setup: ERROR: step "%s" failed: %s\n' "$name" "$*" >&2
        printf -- '----- %s -----\n' "$log" >&2
        tail -n 60 "$log" >&2
        exit 1
    fi
}

# --------------------------------------------------------------------------
# 1. Debian packages
# --------------------------------------------------------------------------
NEWLIB_MARKERS=(
    /usr/lib/arm-none-eabi/include/stdio.h
    /usr/lib/arm-none-eabi/lib/nano.specs
)

missing_debs=()
command -v arm-none-eabi-gcc >/dev/null 2>&1 || missing_debs+=(gcc-arm-none-eabi)
for marker in "${NEWLIB_MARKERS[@]}"; do
    if [[ ! -e "$marker" ]]; then
        missing_debs+=(libnewlib-arm-none-eabi)
        break
    fi
done
command -v qemu-system-arm >/dev/null 2>&1 || missing_debs+=(qemu-system-arm)
have_postgresql() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
if ((WITH_TESTS)) && ! have_postgresql; then
    missing_debs+=(postgresql)
fi

if ((${#missing_debs[@]})); then
    if [[ "$(id -u)" -eq 0 ]]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        fail "missing Debian packages (${missing_debs[*]}) and not root without sudo; install them by hand: apt-get install -y --no-install-recommends ${missing_debs[*]}"
    fi
    say "installing Debian packages: ${missing_debs[*]}"
    run_logged apt-update "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    run_logged apt-install "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing_debs[@]}"
fi

command -v arm-none-eabi-gcc >/dev/null 2>&1 || fail "arm-none-eabi-gcc still missing after install"
command -v qemu-system-arm >/dev/null 2>&1 || fail "qemu-system-arm still missing after install"
for marker in "${NEWLIB_MARKERS[@]}"; do
    [[ -e "$marker" ]] || fail "newlib file $marker still missing after install"
done
if ((WITH_TESTS)); then
    have_postgresql || fail "PostgreSQL's initdb still missing after install (looked in /usr/lib/postgresql/*/bin)"
fi

# --------------------------------------------------------------------------
# 2. Python venv
# --------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    command -v python3.11 >/dev/null 2>&1 || fail "python3.11 not found on PATH (the project requires Python 3.11)"
    say "creating venv $VENV (python3.11)"
    run_logged venv python3.11 -m venv "$VENV"
fi
venv_version="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[[ "$venv_version" == "3.11" ]] || fail "$VENV uses Python $venv_version, the project requires 3.11 (remove .venv and rerun)"

STAMP="$VENV/.heartbeat-pyproject.sha256"
want_stamp="$(sha256sum "$REPO_ROOT/pyproject.toml" | cut -d' ' -f1)"
have_stamp="$(cat "$STAMP" 2>/dev/null || true)"
if [[ "$want_stamp" != "$have_stamp" ]]; then
    say "installing Python packages: pip install -e .[toolchain,bridge,server,dev]"
    # the signing tools first, hash-checked (scripts/signing-requirements.txt: the exact files pinned there)
    run_logged pip-install-signing "$VENV/bin/python" -m pip install --disable-pip-version-check \
        --require-hashes --no-deps -r "$REPO_ROOT/scripts/signing-requirements.txt"
    run_logged pip-install "$VENV/bin/python" -m pip install --disable-pip-version-check \
        -e "$REPO_ROOT[toolchain,bridge,server,dev]"
    printf '%s\n' "$want_stamp" >"$STAMP"
fi

# --------------------------------------------------------------------------
# 3. Offline PlatformIO: tool-scons backed by the pip `scons` package
# --------------------------------------------------------------------------
# PlatformIO runs `<python> <core_dir>/packages/tool-scons/scons.py` and would
# download that package from its registry; we provide it instead. Its version
# follows PlatformIO's scheme MAJOR.4MMPP.0 (SCons 4.11.1 -> 4.41101.0).
scons_info="$("$VENV/bin/python" - <<'PY'
import os
import SCons
major, minor, patch = (int(p) for p in SCons.__version__.split(".")[:3])
print("%d.4%02d%02d.0" % (major, minor, patch))
print(os.path.dirname(os.path.dirname(os.path.abspath(SCons.__file__))))
PY
)" || fail "the venv has no importable SCons (pip package scons); rerun after fixing pyproject.toml"
SCONS_PKG_VERSION="$(sed -n 1p <<<"$scons_info")"
SCONS_SITE_DIR="$(sed -n 2p <<<"$scons_info")"

TOOL_SCONS_DIR="$PLATFORMIO_CORE_DIR/packages/tool-scons"
mkdir -p "$TOOL_SCONS_DIR"

# write_if_changed PATH CONTENT: keeps mtimes stable when nothing changed.
write_if_changed() {
    local path="$1" content="$2"
    if [[ ! -f "$path" ]] || [[ "$(cat "$path")" != "$content" ]]; then
        printf '%s\n' "$content" >"$path.tmp"
        mv "$path.tmp" "$path"
        say "wrote ${path#"$REPO_ROOT"/}"
    fi
}

write_if_changed "$TOOL_SCONS_DIR/scons.py" "# Generated by scripts/setup.sh: PlatformIO's tool-scons entry point.
# Runs the SCons that pip installed into the project's venv.
import sys

try:
    import SCons.Script
except ImportError:
    # started by a Python other than the venv's: use the venv's site-packages
    sys.path.insert(0, \"$SCONS_SITE_DIR\")
    import SCons.Script

if __name__ == \"__main__\":
    SCons.Script.main()"

write_if_changed "$TOOL_SCONS_DIR/package.json" "{
  \"name\": \"tool-scons\",
  \"version\": \"$SCONS_PKG_VERSION\",
  \"description\": \"SCons from the project's venv (pip package scons), for offline PlatformIO\",
  \"keywords\": [\"build tool\"],
  \"license\": \"MIT\",
  \"system\": \"*\"
}"

write_if_changed "$TOOL_SCONS_DIR/.piopm" "{\"type\": \"tool\", \"name\": \"tool-scons\", \"version\": \"$SCONS_PKG_VERSION\", \"spec\": {\"owner\": \"platformio\", \"id\": null, \"name\": \"tool-scons\", \"requirements\": null, \"uri\": null}}"

# PlatformIO settings kept in the core dir: no telemetry, no upgrade checks
# (both would reach for the network on every command).
APPSTATE="$PLATFORMIO_CORE_DIR/appstate.json"
if ! "$VENV/bin/python" - "$APPSTATE" <<'PY'
import json, sys
try:
    with open(sys.argv[1], encoding="utf8") as fp:
        settings = json.load(fp).get("settings", {})
except (OSError, ValueError):
    sys.exit(1)
ok = settings.get("enable_telemetry") is False and int(settings.get("check_platformio_interval", 0)) >= 3650
sys.exit(0 if ok else 1)
PY
then
    say "configuring PlatformIO in ${PLATFORMIO_CORE_DIR} (telemetry and upgrade checks off)"
    run_logged pio-settings-telemetry "$VENV/bin/pio" settings set enable_telemetry no
    run_logged pio-settings-interval "$VENV/bin/pio" settings set check_platformio_interval 36500
fi

# --------------------------------------------------------------------------
# 4. Firmware crypto: mbedtls 2.28.3 (Debian source package, pinned sha256)
# --------------------------------------------------------------------------
bash "$REPO_ROOT/scripts/fetch_crypto.sh"
