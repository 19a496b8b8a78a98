"""Signing keys and release folders, made with MCUboot's imgtool (docs/ota.md, "Image format and keys").

    paths = keygen(out_dir)                          an ECDSA P-256 key pair: private key 0600, public key as PEM,
                                                     as DER (what the device embeds) and as imgtool's C array
    manifest = build_release(ReleaseSpec(...))       PlatformIO build in a workspace of its own, ELF -> binary,
                                                     imgtool sign, verified, written as a release folder

A release folder holds `firmware.signed.bin` (the MCUboot image), `firmware.elf` (the same build, for symbols) and
`manifest.json` (the image's facts as `firmware_image.image_facts` reads them back from the signed file, the model
version, and the build's inputs). It appears whole or not at all and is never overwritten.

Reproducible: the build runs in a fresh workspace with its own lib_dir (the repository's libraries linked in, the
model library generated there from the named version) and `-ffile-prefix-map` for the workspace and the
repository, so the same sources, model and toolchain give the same ELF and payload bytes in any folder. imgtool's
ECDSA signatures are randomised, so two builds' images are identical up to the end of the protected TLVs (the
signed bytes, and so the SHA256 TLV) and differ only in the signature TLV (whose DER length may differ by a byte
or two, and with it the TLV area's size), each signature valid.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from heartbeat_core.errors import ConfigError, DeviceError
from heartbeat_core.settings import PROJECT_ROOT
from heartbeat_system.firmware_build import build_image
from heartbeat_system.firmware_image import (
    HEADER_SIZE,
    SLOT_SIZE,
    TARGETS,
    TLV_MODEL_SHA256,
    TLV_TARGET,
    WRITE_ALIGN,
    ImageError,
    check_target,
    image_facts,
    verify_image,
)
from heartbeat_system.settings import SystemSettings

IMGTOOL_TIMEOUT_S = 120  # a hang guard only: signing takes well under a second
KEY_TYPE = "ecdsa-p256"
PRIVATE_KEY = "signing-key.pem"
PUBLIC_PEM = "signing-key.pub.pem"
PUBLIC_DER = "signing-key.pub.der"  # DER SubjectPublicKeyInfo: the bytes the bootloader embeds (imgtool getpub -e raw)
PUBLIC_C = "signing-key.pub.c"  # the same as a C array (imgtool getpub -e lang-c)
IMAGE_NAME = "firmware.signed.bin"
ELF_NAME = "firmware.elf"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
FW_VERSION_HEADER = PROJECT_ROOT / "firmware" / "include" / "app_config.h"  # APP_FW_VERSION, what HELLO reports
MODEL_LIB = "model_data"  # the generated library (firmware/scripts/gen_model_data.py)
MODEL_FILES = ("model_data.c", "model_data.h")
# imgtool's version syntax, with the header's field widths: major.minor.revision+build
_VERSION_RE = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:\+(0|[1-9]\d*))?")
_VERSION_LIMITS = (0xFF, 0xFF, 0xFFFF, 0xFFFFFFFF)


# --------------------------------------------------------------------------------------------------
# imgtool


def imgtool(args: list[str], umask: int | None = None) -> str:
    """`imgtool ARGS` (the installed package, run by this Python); its output, or ImageError with its words."""
    cmd = [sys.executable, "-m", "imgtool.main", *args]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
                              timeout=IMGTOOL_TIMEOUT_S, umask=-1 if umask is None else umask)
    except subprocess.TimeoutExpired as exc:
        raise ImageError(f"imgtool {args[0]} did not finish in {IMGTOOL_TIMEOUT_S} s") from exc
    if proc.returncode != 0:
        words = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise ImageError(f"imgtool {args[0]} failed (status {proc.returncode}): {words[-1] if words else ''}",
                         hint="is imgtool installed? (bash scripts/setup.sh)")
    return proc.stdout


# --------------------------------------------------------------------------------------------------
# Keys


@dataclass(frozen=True)
class KeyPaths:
    private: Path
    public_pem: Path
    public_der: Path
    public_c: Path


def key_paths(out_dir: Path) -> KeyPaths:
    out_dir = Path(out_dir)
    return KeyPaths(out_dir / PRIVATE_KEY, out_dir / PUBLIC_PEM, out_dir / PUBLIC_DER, out_dir / PUBLIC_C)


def _inside_repository(path: Path) -> bool:
    resolved, repo = path.resolve(), PROJECT_ROOT.resolve()
    return resolved == repo or repo in resolved.parents


def keygen(out_dir: Path) -> KeyPaths:
    """An ECDSA P-256 key pair in `out_dir` (made 0700 if new): the private key (mode 0600 whatever the umask), its
    public key as PEM, DER and C. Refuses a folder inside the repository and any existing key file."""
    out_dir = Path(out_dir)
    if _inside_repository(out_dir):
        raise ConfigError(f"{out_dir} is inside the repository; signing keys never are",
                          hint="choose a folder outside it, e.g. ~/.heartbeat/keys")
    paths = key_paths(out_dir)
    existing = [str(p) for p in (paths.private, paths.public_pem, paths.public_der, paths.public_c) if p.exists()]
    if existing:
        raise ConfigError(f"refusing to overwrite an existing key: {', '.join(existing)}",
                          hint="move it away first, or choose another --out")
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = out_dir / f".{PRIVATE_KEY}.{os.getpid()}.tmp"
    try:
        imgtool(["keygen", "-k", str(tmp), "-t", KEY_TYPE], umask=0o077)
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, paths.private)  # fails if a key appeared meanwhile: never overwritten
        except FileExistsError:
            raise ConfigError(f"refusing to overwrite an existing key: {paths.private}") from None
    finally:
        tmp.unlink(missing_ok=True)
    imgtool(["getpub", "-k", str(paths.private), "-e", "pem", "-o", str(paths.public_pem)])
    imgtool(["getpub", "-k", str(paths.private), "-e", "raw", "-o", str(paths.public_der)])
    imgtool(["getpub", "-k", str(paths.private), "-e", "lang-c", "-o", str(paths.public_c)])
    return paths


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The signing key (unencrypted PEM, ECDSA P-256), or ImageError; its content never appears in a message."""
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read the signing key {path}: {exc.strerror or exc}") from exc
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ImageError(f"{path} is not an unencrypted PEM private key",
                         hint="make one with `heartbeat firmware keygen --out DIR`") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ImageError(f"{path} is not an ECDSA P-256 private key")
    return key


# --------------------------------------------------------------------------------------------------
# Versions and inputs


def default_version() -> str:
    """The firmware's own version (APP_FW_VERSION in firmware/include/app_config.h, what HELLO reports), build 0."""
    match = re.search(r'#define\s+APP_FW_VERSION\s+"([^"]+)"', FW_VERSION_HEADER.read_text())
    if not match:
        raise ConfigError(f"no APP_FW_VERSION in {FW_VERSION_HEADER}")
    return f"{match.group(1)}+0"


def check_version(text: str) -> str:
    """`text` as X.Y.Z+B (build 0 when left out), within the header's field widths; ConfigError otherwise."""
    match = _VERSION_RE.fullmatch(text)
    if not match:
        raise ConfigError(f"version {text!r} is not X.Y.Z or X.Y.Z+B (decimal numbers)")
    fields = [int(match.group(i) or 0) for i in range(1, 5)]
    for value, limit, name in zip(fields, _VERSION_LIMITS, ("major", "minor", "revision", "build"), strict=True):
        if value > limit:
            raise ConfigError(f"version {text!r}: {name} {value} is above {limit}")
    return "{}.{}.{}+{}".format(*fields)


def resolve_model(model_version: str, settings: SystemSettings | None = None) -> tuple[str, str, Path]:
    """(version folder name, model sha256, folder) of a model version (`current` resolved to its folder)."""
    models_dir = (settings or SystemSettings()).models_dir
    folder = models_dir / model_version
    if not (folder / "card.json").is_file():
        raise ConfigError(f"model version {model_version!r} not found (no {folder / 'card.json'})",
                          hint=f"the versions are the folders of {models_dir}")
    folder = folder.resolve()
    try:
        card = json.loads((folder / "card.json").read_text())
        sha256 = str(card["sha256"])
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot read the model's sha256 from {folder / 'card.json'}: {exc}") from exc
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ConfigError(f"{folder / 'card.json'}: sha256 {sha256!r} is not 64 hex digits")
    return folder.name, sha256, folder


def _first_line(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.strip().splitlines()
    return lines[0].strip() if lines else None


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def build_inputs() -> dict[str, Any]:
    """What the build was made from besides the model: the commit (and whether firmware/ or platformio.ini had
    uncommitted changes), the ARM toolchain and C library, and the Python packages that build and sign."""
    commit = _first_line(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"])
    dirty = None
    if commit is not None:
        status = subprocess.run(["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--", "firmware",
                                 "platformio.ini"], capture_output=True, text=True, check=False).stdout
        dirty = bool(status.strip())
    return {
        "git_commit": commit,
        "git_uncommitted_firmware_changes": dirty,
        "arm_none_eabi_gcc": _first_line(["arm-none-eabi-gcc", "--version"]),
        "arm_none_eabi_objcopy": _first_line(["arm-none-eabi-objcopy", "--version"]),
        "newlib": _first_line(["dpkg-query", "-W", "-f", "${Version}", "libnewlib-arm-none-eabi"]),
        "platformio": _package_version("platformio"),
        "scons": _package_version("scons"),
        "imgtool": _package_version("imgtool"),
        "cryptography": _package_version("cryptography"),
    }


# --------------------------------------------------------------------------------------------------
# The build


@dataclass(frozen=True)
class ReleaseSpec:
    target: str
    out_dir: Path
    key: Path
    model_version: str = "current"
    version: str | None = None  # X.Y.Z+B; default_version() when None
    security_counter: int | None = None  # None: imgtool's `auto`, (major << 24) + (minor << 16) + revision


def _lib_dir(workspace: Path) -> Path:
    """A lib_dir of the build's own: the repository's libraries linked in, the model library left to be generated."""
    lib = workspace / "lib"
    lib.mkdir()
    for entry in sorted((PROJECT_ROOT / "firmware" / "lib").iterdir()):
        if entry.is_dir() and entry.name != MODEL_LIB:
            (lib / entry.name).symlink_to(entry)
    return lib


def build_environment(workspace: Path, lib: Path, model_folder: str, pubkey: Path) -> dict[str, str]:
    """The variables a release build adds to PlatformIO's environment; `pubkey` is the DER public key of the signing
    key, built into the firmware as the key its updates must be signed with (firmware/lib/update/update_build.py)."""
    maps = [f"-ffile-prefix-map={workspace.resolve()}=.", f"-ffile-prefix-map={PROJECT_ROOT.resolve()}=."]
    if workspace != workspace.resolve():
        maps.append(f"-ffile-prefix-map={workspace}=.")
    return {
        "PLATFORMIO_LIB_DIR": str(lib),
        "HEARTBEAT_MODEL_VERSION": model_folder,  # firmware/scripts/gen_model_data.py
        "PLATFORMIO_BUILD_FLAGS": " ".join(maps),  # appended to the environment's build_flags
        "HEARTBEAT_FIRMWARE_PUBKEY": str(pubkey),  # firmware/lib/update/update_build.py
    }


def _link_start(elf: Path) -> int | None:
    """The lowest physical address of the ELF's loadable segments with content (where objcopy's binary starts)."""
    try:
        out = subprocess.run(["arm-none-eabi-readelf", "-l", "-W", str(elf)], capture_output=True, text=True,
                             check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    # LOAD  Offset  VirtAddr  PhysAddr  FileSiz  MemSiz  Flg  Align
    starts = [int(parts[3], 16) for parts in (line.split() for line in out.splitlines())
              if len(parts) > 5 and parts[0] == "LOAD" and int(parts[4], 16) > 0]
    return min(starts) if starts else None


def sign_image(binary: Path, out: Path, key: Path, target: str, version_text: str, model_sha256: str,
               security_counter: int | None = None) -> None:
    """`imgtool sign`: `binary` (the application, linked to run after the header) as an MCUboot image for `target`,
    with our layout (firmware_image.py), the security counter (None: imgtool's `auto`) and our protected TLVs."""
    layout = TARGETS[target]
    counter = "auto" if security_counter is None else str(security_counter)
    args = ["sign", "--key", str(key), "--header-size", hex(HEADER_SIZE), "--pad-header",
            "--align", str(WRITE_ALIGN), "--slot-size", hex(SLOT_SIZE), "--version", version_text,
            "--security-counter", counter,
            "--custom-tlv", hex(TLV_TARGET), layout.name,
            "--custom-tlv", hex(TLV_MODEL_SHA256), "0x" + model_sha256]
    if layout.load_address is not None:
        args += ["--load-addr", hex(layout.load_address)]
    imgtool([*args, str(binary), str(out)])


def build_release(spec: ReleaseSpec, workspace: Path | None = None,
                  log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Build, sign and verify a release; write it to `spec.out_dir` (which must not exist or be empty) and return
    its manifest. `workspace` (an empty folder) keeps the PlatformIO build for inspection; else a temporary one."""
    def say(message: str) -> None:
        if log is not None:
            log(message)

    layout = TARGETS.get(spec.target)
    if layout is None:
        raise ConfigError(f"unknown target {spec.target!r}", hint=f"one of {', '.join(TARGETS)}")
    version_text = check_version(spec.version or default_version())
    if spec.security_counter is not None and not 0 <= spec.security_counter <= 0xFFFFFFFF:
        raise ConfigError(f"security counter {spec.security_counter} is outside 0..4294967295")
    private_key = load_private_key(spec.key)
    out_dir = Path(spec.out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigError(f"{out_dir} exists and is not an empty folder; a release is never overwritten")
    model_folder, model_sha256, model_path = resolve_model(spec.model_version)
    fw_version = default_version().split("+")[0]
    if version_text.split("+")[0] != fw_version:
        say(f"note: the image says {version_text}, the firmware reports APP_FW_VERSION {fw_version} in HELLO")

    with tempfile.TemporaryDirectory(prefix="heartbeat-release-") as tmp:
        ws = (Path(workspace) if workspace is not None else Path(tmp) / "workspace").absolute()
        ws.mkdir(parents=True, exist_ok=True)
        if any(ws.iterdir()):
            raise ConfigError(f"workspace {ws} is not empty; a release is built from scratch")
        lib = _lib_dir(ws)
        pubkey = ws / PUBLIC_DER  # the firmware accepts updates signed with this release's key only
        pubkey.write_bytes(private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                                 serialization.PublicFormat.SubjectPublicKeyInfo))
        say(f"building {layout.pio_environment} with model {model_folder} in {ws}")
        elf = build_image(ws, layout.pio_environment, build_environment(ws, lib, model_folder, pubkey))
        for name in MODEL_FILES:  # what was compiled in is the version we name
            if (lib / MODEL_LIB / name).read_bytes() != (model_path / name).read_bytes():
                raise DeviceError(f"the build's {name} is not model version {model_folder}'s", str(lib / MODEL_LIB))
        binary = ws / "firmware.bin"
        proc = subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(binary)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise DeviceError(f"arm-none-eabi-objcopy failed: {proc.stderr.strip()}")
        link_start = _link_start(elf)
        if layout.run_address is not None and link_start != layout.run_address:
            linked = "at an unknown address" if link_start is None else f"at {link_start:#010x}"
            say(f"note: the application is linked {linked}, not at {layout.run_address:#010x} where the bootloader "
                "runs it (docs/ota.md)")

        staging = Path(tmp) / "release"
        staging.mkdir()
        signed = staging / IMAGE_NAME
        say(f"signing with {spec.key} (imgtool {_package_version('imgtool')})")
        sign_image(binary, signed, spec.key, layout.name, version_text, model_sha256, spec.security_counter)
        image = verify_image(signed.read_bytes(), private_key.public_key())
        check_target(image, layout.name)
        asked_counter = image.security_counter if spec.security_counter is None else spec.security_counter
        if image.model_sha256 != model_sha256 or image.security_counter != asked_counter:
            raise ImageError("the signed image's TLVs are not the ones asked for", str(signed))
        shutil.copyfile(elf, staging / ELF_NAME)
        manifest = {
            "format": MANIFEST_FORMAT,
            **image_facts(image),
            "model_version": model_folder,
            "files": {"image": IMAGE_NAME, "elf": ELF_NAME},
            "elf_sha256": hashlib.sha256((staging / ELF_NAME).read_bytes()).hexdigest(),
            "payload_link_address": None if link_start is None else f"0x{link_start:08x}",
            "build": build_inputs(),
        }
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _publish(staging, out_dir)
    return manifest


def _publish(staging: Path, out_dir: Path) -> None:
    """The staged release as `out_dir`, whole: copied beside it under a temporary name, then renamed."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for item in staging.iterdir():
            shutil.copyfile(item, tmp / item.name)
        tmp.chmod(0o755)
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked before the build); fails if something appeared meanwhile
        tmp.rename(out_dir)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ConfigError(f"cannot write the release to {out_dir}: {exc.strerror or exc}") from exc
