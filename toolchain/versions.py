"""Model version folders: ``models/<version>/`` written whole and immutable, the ``models/current`` link, the check
that a folder agrees with itself, and the firmware's model library generated from a checked folder.

``write_version`` makes a folder appear whole or not at all (built under a temporary name, then renamed); writing
a version that exists with the same content (the card compared without its ``created`` time) changes nothing,
with different content it is refused. ``point_current`` replaces the relative ``current`` link atomically.

``verify_export`` re-reads a folder and fails, naming the file, when the .tflite, the C array, the header and the
card disagree; ``generate_firmware_lib`` runs it before it copies model_data.c/.h into firmware/lib/model_data,
so the firmware build never compiles a model in that disagrees with its card.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heartbeat_core.errors import ModelError
from heartbeat_core.settings import PROJECT_ROOT
from toolchain.c_arrays import ARRAY_NAME, c_value, header_defines, parse_c_array, parse_header_defines
from toolchain.model_files import C_NAME, CARD_NAME, CURRENT_LINK, H_NAME, TFLITE_NAME, sha256_hex
from toolchain.tflite_inspect import TensorInfo, inspect_tflite, require_int8

DEFAULT_LIB_DIR = PROJECT_ROOT / "firmware" / "lib" / "model_data"

_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_version(version: Any) -> str:
    """``version`` if it is a safe folder name (and not the ``current`` link); ModelError otherwise."""
    if not isinstance(version, str) or not _VERSION_RE.fullmatch(version) or version == CURRENT_LINK:
        raise ModelError(
            f"model version {version!r} is not a safe folder name",
            "export_model(version=...)",
            "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, and not 'current'",
        )
    return version


# --------------------------------------------------------------------------------------------------
# Writing a version and the current link


def write_version(out_root: Path, version: str, files: dict[str, bytes]) -> Path:
    """Write ``files`` (name -> content) as ``out_root/<version>/``, whole or not at all; return the folder.

    An existing folder with the same content is left as it is; with different content ModelError names the files.
    """
    version = check_version(version)
    out_root = Path(out_root)
    dest = out_root / version
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the models folder: {exc.strerror or exc}", str(out_root)) from exc

    if not (dest.exists() or dest.is_symlink()):
        tmp_dir = Path(tempfile.mkdtemp(prefix=f".{version}.", suffix=".tmp", dir=out_root))
        try:
            _write_folder(tmp_dir, files)
            os.chmod(tmp_dir, 0o755)
            os.rename(tmp_dir, dest)  # fails if another exporter created dest meanwhile: compared below
        except OSError as exc:
            if not dest.exists():
                raise ModelError(f"cannot write the model version: {exc.strerror or exc}", str(dest)) from exc
        finally:
            if tmp_dir.exists():
                shutil.rmtree(tmp_dir, ignore_errors=True)
        _fsync_dir(out_root)

    if dest.is_symlink() or not dest.is_dir():
        raise ModelError("the version path exists but is not a folder", str(dest), "choose another version")
    diffs = _differences(dest, files)
    if diffs:
        raise ModelError(
            f"model version {version} already exists with different content ({', '.join(diffs)})", str(dest),
            "versions are immutable: export under a new version",
        )
    return dest


def _differences(existing: Path, files: dict[str, bytes]) -> list[str]:
    """Names of files whose content differs between a version folder on disk and ``files``."""
    on_disk = {p.name for p in existing.iterdir()}
    diffs = sorted(on_disk.symmetric_difference(files))
    for name in sorted(on_disk & set(files)):
        try:
            current = (existing / name).read_bytes()
        except OSError:
            diffs.append(name)
            continue
        if name == CARD_NAME:
            try:
                old = json.loads(current)
                new = json.loads(files[name])
            except ValueError:
                diffs.append(name)
                continue
            if not isinstance(old, dict):
                diffs.append(name)
                continue
            old.pop("created", None)
            new.pop("created", None)
            if old != new:
                diffs.append(name)
        elif current != files[name]:
            diffs.append(name)
    return sorted(set(diffs))


def _write_folder(tmp_dir: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        with open(tmp_dir / name, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def point_current(out_root: Path, version: str) -> Path:
    """Make ``out_root/current`` a relative link to ``version``, replacing any old link atomically."""
    out_root = Path(out_root)
    check_version(version)
    if not (out_root / version).is_dir():
        raise ModelError(f"no exported version {version}", str(out_root / version))
    link = out_root / CURRENT_LINK
    if link.exists() and not link.is_symlink():
        raise ModelError(
            f"'{CURRENT_LINK}' exists and is not a symbolic link", str(link),
            "move it away; models/current is managed by the exporter",
        )
    tmp = out_root / f".{CURRENT_LINK}.{uuid.uuid4().hex}.tmp"
    try:
        os.symlink(version, tmp)
        os.replace(tmp, link)
    except OSError as exc:
        raise ModelError(f"cannot point '{CURRENT_LINK}' at {version}: {exc.strerror or exc}", str(link)) from exc
    finally:
        if tmp.is_symlink():
            tmp.unlink()
    _fsync_dir(out_root)
    return link


# --------------------------------------------------------------------------------------------------
# Verifying a version folder


@dataclass(frozen=True)
class _VersionFiles:
    """The four files of a version folder as read: the .tflite's bytes, the C source and header text, the card."""

    folder: Path
    data: bytes
    source: str
    header: str
    card: dict[str, Any]

    def path(self, name: str) -> Path:
        return self.folder / name


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"missing {path.name}", str(path), "re-export the model version") from None
    except OSError as exc:
        raise ModelError(f"cannot read {path.name}: {exc.strerror or exc}", str(path)) from exc


def _read_version(version_dir: Path) -> _VersionFiles:
    """Step 1: read the .tflite, model_data.c/.h (ASCII) and card.json (a JSON object)."""
    if not version_dir.is_dir():
        raise ModelError("not a model version folder", str(version_dir))
    tflite_path, c_path, h_path, card_path = (version_dir / n for n in (TFLITE_NAME, C_NAME, H_NAME, CARD_NAME))
    data = _read(tflite_path)
    source_bytes = _read(c_path)
    header_bytes = _read(h_path)
    try:
        card = json.loads(_read(card_path))
    except ValueError as exc:
        raise ModelError(f"card.json is not valid JSON: {exc}", str(card_path)) from exc
    if not isinstance(card, dict):
        raise ModelError("card.json does not hold an object", str(card_path))
    try:
        source = source_bytes.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ModelError(f"{C_NAME} is not ASCII text: {exc}", str(c_path)) from exc
    try:
        header = header_bytes.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ModelError(f"{H_NAME} is not ASCII text: {exc}", str(h_path)) from exc
    return _VersionFiles(version_dir, data, source, header, card)


def _check_sha256(files: _VersionFiles, defines: dict[str, str]) -> str:
    """Step 2: the .tflite's sha256, the card's and the header's agree; the odd one out is named. Returns it."""
    sha_file = sha256_hex(files.data)
    sha_card = files.card.get("sha256")
    sha_header_text = defines.get("HB_MODEL_SHA256", "")
    sha_header = sha_header_text.strip('"') if sha_header_text else None
    if sha_file == sha_card == sha_header:
        return sha_file
    # Name the file that is the odd one out; if no two agree, name them all.
    if sha_card == sha_header:
        raise ModelError(
            f"{TFLITE_NAME} has sha256 {sha_file}, but card.json and {H_NAME} say {sha_card}",
            str(files.path(TFLITE_NAME)), "the model file was changed after export",
        )
    if sha_file == sha_header:
        raise ModelError(f"card.json says sha256 {sha_card}, but {TFLITE_NAME} has {sha_file}",
                         str(files.path(CARD_NAME)))
    if sha_file == sha_card:
        raise ModelError(f"{H_NAME} says sha256 {sha_header}, but {TFLITE_NAME} has {sha_file}",
                         str(files.path(H_NAME)))
    raise ModelError(
        f"{TFLITE_NAME} ({sha_file}), card.json ({sha_card}) and {H_NAME} ({sha_header}) all disagree on sha256",
        str(files.folder),
    )


def _check_c_array(files: _VersionFiles) -> None:
    """Step 3: the bytes of the C array are the .tflite's."""
    c_path = files.path(C_NAME)
    array = parse_c_array(files.source, str(c_path))
    data = files.data
    if array != data:
        first = next((i for i, (a, b) in enumerate(zip(array, data, strict=False)) if a != b),
                     min(len(array), len(data)))
        raise ModelError(
            f"the bytes of {ARRAY_NAME} in {C_NAME} differ from {TFLITE_NAME} at offset {first} "
            f"({len(array)} vs {len(data)} bytes)", str(c_path), "the C array was edited; re-export instead",
        )


def _check_card_tensors(card_path: Path, kind: str, listed: Any, actual: Sequence[TensorInfo]) -> None:
    expected = [t.card_entry() for t in actual]
    if not isinstance(listed, list) or len(listed) != len(expected):
        raise ModelError(f"card.json lists {kind} that do not match the .tflite's {len(expected)} {kind}",
                         str(card_path))
    for got, want in zip(listed, expected, strict=True):
        if not isinstance(got, dict):
            raise ModelError(f"card.json {kind} entry {got!r} is not an object", str(card_path))
        for key in ("shape", "dtype", "zero_point"):
            if got.get(key) != want[key]:
                raise ModelError(
                    f"card.json {kind[:-1]} {want['index']} {key} is {got.get(key)!r}, the .tflite says {want[key]!r}",
                    str(card_path),
                )
        scale = got.get("scale")
        if not isinstance(scale, (int, float)) or np.float32(scale) != np.float32(want["scale"]):
            raise ModelError(
                f"card.json {kind[:-1]} {want['index']} scale is {scale!r}, the .tflite says {want['scale']!r}",
                str(card_path),
            )


def _expected_defines(files: _VersionFiles, sha256: str) -> list[tuple[str, str]]:
    """Step 4: the card agrees with the .tflite (size, version, int8 tensors, class names, arena); returns the
    header's defines that the two call for."""
    card, data = files.card, files.data
    card_path = files.path(CARD_NAME)
    if card.get("size_bytes") != len(data):
        raise ModelError(f"card.json says size_bytes {card.get('size_bytes')!r}, the .tflite has {len(data)}",
                         str(card_path))
    version = card.get("version")
    try:
        check_version(version)
    except ModelError:
        raise ModelError(f"card.json has no usable version ({version!r})", str(card_path)) from None
    where = str(files.path(TFLITE_NAME))
    inputs, outputs = inspect_tflite(data, where)
    require_int8(inputs, outputs, where)
    _check_card_tensors(card_path, "inputs", card.get("inputs"), inputs)
    _check_card_tensors(card_path, "outputs", card.get("outputs"), outputs)
    class_names = card.get("class_names")
    if not isinstance(class_names, list) or not all(isinstance(c, str) for c in class_names):
        raise ModelError(f"card.json class_names is {class_names!r}, not a list of strings", str(card_path))
    arena = card.get("tflm_arena_bytes")
    if not isinstance(arena, int) or isinstance(arena, bool) or arena <= 0:
        raise ModelError(f"card.json tflm_arena_bytes is {arena!r}, not a positive int", str(card_path))
    return header_defines(version, sha256, len(data), arena, class_names, inputs, outputs)


def _check_header(files: _VersionFiles, defines: dict[str, str], expected: list[tuple[str, str]]) -> None:
    """Step 5: the header defines every expected macro with the expected value."""
    h_path = files.path(H_NAME)
    for name, text in expected:
        if name not in defines:
            raise ModelError(f"{H_NAME} does not define {name}", str(h_path), "re-export the model version")
        if c_value(defines[name]) != c_value(text):
            raise ModelError(
                f"{H_NAME} defines {name} as {defines[name]}, but the .tflite and card.json give {text}", str(h_path),
            )


def _check_listed_files(files: _VersionFiles) -> None:
    """Step 6: every file the card lists (at least the .tflite and the C files) has the sha256 it records."""
    card_path = files.path(CARD_NAME)
    listed = files.card.get("files")
    if not isinstance(listed, dict) or not all(n in listed for n in (TFLITE_NAME, C_NAME, H_NAME)):
        raise ModelError(
            f"card.json has no 'files' table with the sha256 of {TFLITE_NAME}, {C_NAME} and {H_NAME}", str(card_path),
        )
    for name, entry in sorted(listed.items()):
        if name == CARD_NAME or "/" in name or name in ("", ".", ".."):
            raise ModelError(f"card.json lists an invalid file name {name!r}", str(card_path))
        path = files.path(name)
        content = _read(path)
        want = entry.get("sha256") if isinstance(entry, dict) else None
        if sha256_hex(content) != want:
            raise ModelError(
                f"{name} has sha256 {sha256_hex(content)}, card.json records {want}", str(path),
                "the file was changed after export",
            )


def verify_export(version_dir: Path) -> dict:
    """Check that a version folder agrees with itself; return its card.

    The .tflite's sha256 must equal the card's and the header's; the bytes of the C array must equal the
    .tflite; the header's constants must match the .tflite's tensors and the card; every file the card lists
    must have the sha256 the card records. Raises ModelError naming the file that disagrees.
    """
    files = _read_version(Path(version_dir))
    defines = parse_header_defines(files.header)
    sha256 = _check_sha256(files, defines)
    _check_c_array(files)
    _check_header(files, defines, _expected_defines(files, sha256))
    _check_listed_files(files)
    return files.card


# --------------------------------------------------------------------------------------------------
# The firmware's model library


def generate_firmware_lib(version_dir: Path, lib_dir: Path = DEFAULT_LIB_DIR) -> dict:
    """Verify a version folder, then copy its model_data.c/.h into the firmware's generated library folder.

    Each file is replaced atomically; returns the verified card. ``lib_dir`` defaults to
    ``<project>/firmware/lib/model_data`` (git-ignored: it is only ever generated).
    """
    version_dir = Path(version_dir)
    card = verify_export(version_dir)
    lib_dir = Path(lib_dir)
    try:
        lib_dir.mkdir(parents=True, exist_ok=True)
        for name in (H_NAME, C_NAME):
            content = (version_dir / name).read_bytes()
            tmp = lib_dir / f".{name}.{uuid.uuid4().hex}.tmp"
            try:
                with open(tmp, "wb") as fh:
                    fh.write(content)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, lib_dir / name)
            finally:
                if tmp.exists():
                    tmp.unlink()
    except OSError as exc:
        raise ModelError(f"cannot write the firmware model library: {exc.strerror or exc}", str(lib_dir)) from exc
    # The copies must be the verified files: a concurrent edit between verify and copy is caught here.
    for name in (H_NAME, C_NAME):
        if sha256_hex((lib_dir / name).read_bytes()) != card["files"][name]["sha256"]:
            raise ModelError(f"{name} changed while it was copied", str(version_dir / name), "run the build again")
    return card
