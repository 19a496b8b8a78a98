#!/usr/bin/env bash
# Heartbeat Edge: the firmware's signature-check crypto, mbedtls 2.28.3, from Debian's source package.
#
#   bash scripts/fetch_crypto.sh               fetch, verify and extract (run by scripts/setup.sh)
#   bash scripts/fetch_crypto.sh --print-dir   print the extracted tree's path and do nothing else
#                                              (firmware/lib/imgcrypto/mbedtls_sources.py asks it)
#
# Idempotent and quiet: nothing to do (and nothing printed) while the tree is in place and matches the verified
# tarball. Otherwise:
#   1. a deb-src entry for Debian bookworm main, written as /etc/apt/sources.list.d/heartbeat-src.list only when
#      apt has no deb-src entry at all, then `apt-get update` (also run once when apt's index lacks the version);
#   2. `apt-get source --download-only mbedtls=2.28.3-1` into .state/third_party/downloads/ (apt checks the files
#      against the signed index; no build, no unpacking by dpkg-source);
#   3. the sha256 of the .dsc and of the .orig tarball against the pins below: a mismatch stops with an error
#      naming the file, and the .dsc must list the pinned tarball;
#   4. only the files the firmware compiles (MEMBERS: SHA-256, bignum, ECP, ECDSA, ASN.1, their headers, the
#      licence) extracted into .state/third_party/mbedtls-2.28.3/ and compared with the tarball (tar --compare).
# Debian's 3.0 (quilt) package of 2.28.3-1 carries no patches: the .orig tarball is upstream's release as is.
# Never committed (.state/ is git-ignored); never copied into the repository. See docs/setup.md and docs/ota.md.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

MBEDTLS_VERSION="2.28.3"
DEBIAN_VERSION="2.28.3-1"
DSC_FILE="mbedtls_${DEBIAN_VERSION}.dsc"
DSC_SHA256="a8bf91b5ffb40654efb0ebe0c962ac1e87b8eed5e104880982eaa70dd4bb33e3"
ORIG_FILE="mbedtls_${MBEDTLS_VERSION}.orig.tar.gz"
ORIG_SHA256="3b4953aa55a681e084d31892d9904cc5328d6b4958ea57b90ae4b4f94ae69a8d"
# the tarball's top folder (upstream's tag, as GitHub names release archives)
ORIG_TOP="Mbed-TLS-mbedtls-8f97ca5"

THIRD_PARTY="$REPO_ROOT/.state/third_party"
DOWNLOADS="$THIRD_PARTY/downloads"
TREE="$THIRD_PARTY/mbedtls-$MBEDTLS_VERSION"

# what the firmware compiles (firmware/lib/imgcrypto/upstream/) and the headers those files include under
# imgcrypto_mbedtls_config.h; the licence travels with them
MEMBERS=(
    LICENSE
    library/asn1parse.c library/asn1write.c library/bignum.c library/constant_time.c library/ecdsa.c
    library/ecp.c library/ecp_curves.c library/platform_util.c library/sha256.c
    library/common.h library/constant_time_internal.h library/ecp_invasive.h
    include/mbedtls/asn1.h include/mbedtls/asn1write.h include/mbedtls/bignum.h include/mbedtls/bn_mul.h
    include/mbedtls/check_config.h include/mbedtls/constant_time.h include/mbedtls/ecdsa.h include/mbedtls/ecp.h
    include/mbedtls/ecp_internal.h include/mbedtls/error.h include/mbedtls/md.h include/mbedtls/oid.h
    include/mbedtls/pk.h include/mbedtls/platform.h include/mbedtls/platform_util.h include/mbedtls/sha256.h
    include/mbedtls/threading.h include/mbedtls/version.h
)

# the deb-src line added when apt has none (the archive's keyring, as the system's own bookworm entry uses it)
SRC_LIST="/etc/apt/sources.list.d/heartbeat-src.list"
SRC_MIRROR="http://deb.debian.org/debian"
SRC_KEYRING="/usr/share/keyrings/debian-archive-keyring.gpg"

if [[ "${1:-}" == "--print-dir" ]]; then
    printf '%s\n' "$TREE"
    exit 0
elif (($#)); then
    printf 'setup: ERROR: fetch_crypto.sh: unknown argument %s (known: --print-dir)\n' "$1" >&2
    exit 2
fi

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
        tail -n 40 "$log" >&2
        exit 1
    fi
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# check_pin FILE WANT: the file's sha256 must be the pinned one
check_pin() {
    local file="$1" want="$2" have
    have="$(sha256_of "$file")"
    [[ "$have" == "$want" ]] || fail "$(basename "$file"): sha256 $have, pinned $want (scripts/fetch_crypto.sh). The \
file is not the mbedtls $DEBIAN_VERSION source this project was checked with: refusing to use it (remove \
$DOWNLOADS and rerun to fetch it again)"
}

downloads_ok() {
    [[ -f "$DOWNLOADS/$DSC_FILE" && -f "$DOWNLOADS/$ORIG_FILE" ]] &&
        [[ "$(sha256_of "$DOWNLOADS/$DSC_FILE")" == "$DSC_SHA256" ]] &&
        [[ "$(sha256_of "$DOWNLOADS/$ORIG_FILE")" == "$ORIG_SHA256" ]]
}

# tree_ok: every member present and byte-identical to the (verified) tarball's
tree_ok() {
    [[ -d "$TREE" ]] || return 1
    tar --compare --gzip --file "$DOWNLOADS/$ORIG_FILE" --directory "$TREE" --strip-components=1 \
        "${MEMBERS[@]/#/$ORIG_TOP/}" >/dev/null 2>&1
}

if downloads_ok && tree_ok; then
    exit 0
fi

# ------------------------------------------------------------------------------------------------------------
# 1-2. apt-get source --download-only (only when the pinned files are not already here)
# ------------------------------------------------------------------------------------------------------------
if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    SUDO=(__no_sudo__)
fi

has_deb_src() {
    grep -Eqs '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list ||
        grep -Eqs '^[[:space:]]*Types:.*deb-src' /etc/apt/sources.list.d/*.sources
}

apt_knows_version() {
    apt-cache showsrc --only-source mbedtls 2>/dev/null | grep -qx "Version: $DEBIAN_VERSION"
}

need_root() {
    [[ "${SUDO[0]:-}" != "__no_sudo__" ]] || fail "$1 needs root (or sudo), and this is user $(id -un) without \
sudo; do it by hand, or run scripts/setup.sh as root"
}

if ! downloads_ok; then
    command -v apt-get >/dev/null 2>&1 || fail "apt-get not found: the mbedtls source comes from Debian's package \
mbedtls $DEBIAN_VERSION (apt-get source), which needs a Debian-based machine"
    if ! has_deb_src; then
        need_root "adding a deb-src entry ($SRC_LIST)"
        options=""
        [[ -f "$SRC_KEYRING" ]] && options="[signed-by=$SRC_KEYRING] "
        say "adding Debian source index: $SRC_LIST (deb-src ${options}$SRC_MIRROR bookworm main)"
        printf '# Added by Heartbeat Edge scripts/fetch_crypto.sh: apt-get source mbedtls (firmware crypto)\n%s\n' \
            "deb-src ${options}$SRC_MIRROR bookworm main" | "${SUDO[@]}" tee "$SRC_LIST" >/dev/null
    fi
    if ! apt_knows_version; then
        need_root "apt-get update"
        say "updating apt's package index (for the mbedtls $DEBIAN_VERSION source)"
        run_logged apt-update-src "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
        apt_knows_version || fail "apt has no source package mbedtls $DEBIAN_VERSION after apt-get update; check \
the deb-src entries (apt-cache showsrc mbedtls lists the versions it knows)"
    fi
    say "fetching Debian source package mbedtls $DEBIAN_VERSION (apt-get source --download-only)"
    mkdir -p "$DOWNLOADS"
    rm -f "$DOWNLOADS/$DSC_FILE" "$DOWNLOADS/$ORIG_FILE"
    # as root, apt fetches without its _apt sandbox user (who cannot write into our folder); as a user, it is ours
    (cd "$DOWNLOADS" && run_logged apt-source-mbedtls apt-get -o APT::Sandbox::User=root source --download-only \
        "mbedtls=$DEBIAN_VERSION")
fi

# ------------------------------------------------------------------------------------------------------------
# 3. the pins
# ------------------------------------------------------------------------------------------------------------
for file in "$DSC_FILE" "$ORIG_FILE"; do
    [[ -f "$DOWNLOADS/$file" ]] || fail "apt-get source did not leave $file in $DOWNLOADS (log: $LOG_DIR/apt-source-mbedtls.log)"
done
check_pin "$DOWNLOADS/$DSC_FILE" "$DSC_SHA256"
check_pin "$DOWNLOADS/$ORIG_FILE" "$ORIG_SHA256"
grep -Eq "^ $ORIG_SHA256 [0-9]+ $ORIG_FILE\$" "$DOWNLOADS/$DSC_FILE" ||
    fail "$DSC_FILE does not list $ORIG_FILE with the pinned sha256 $ORIG_SHA256"

# ------------------------------------------------------------------------------------------------------------
# 4. extract only the members, into a fresh folder moved in place whole
# ------------------------------------------------------------------------------------------------------------
if ! tree_ok; then
    say "extracting ${#MEMBERS[@]} files of mbedtls $MBEDTLS_VERSION into ${TREE#"$REPO_ROOT"/}"
    staging="$TREE.tmp"
    rm -rf "$staging"
    mkdir -p "$staging"
    run_logged extract-mbedtls tar --extract --gzip --file "$DOWNLOADS/$ORIG_FILE" --directory "$staging" \
        --strip-components=1 --no-same-owner "${MEMBERS[@]/#/$ORIG_TOP/}"
    rm -rf "$TREE"
    mv "$staging" "$TREE"
    tree_ok || fail "the extracted files in $TREE differ from $ORIG_FILE"
fi
