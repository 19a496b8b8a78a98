"""Export a verified int8 model as ``models/<version>/``: build every file of the version, then write it.

A version folder holds:

- ``model_int8.tflite``: the exact bytes that were verified;
- ``model_data.c`` / ``model_data.h``: the same bytes as a 16-byte aligned C array plus the model's contract
  as ``HB_MODEL_*`` macros (toolchain.c_arrays);
- ``card.json``: the caller's card plus computed fields (sha256, sizes, tensors, class names, version, the
  sha256 of every other file in the folder, creation time);
- any confusion-matrix PNGs handed in.

The inputs are checked first (a safe version name, an int8 model per toolchain.tflite_inspect, class names
matching the output, a card with the measured TFLM arena and no other model's sha256, real PNGs); the folder is
then written whole and immutable, and optionally made ``models/current`` (toolchain.versions).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from heartbeat_core.errors import ModelError
from toolchain.c_arrays import header_defines, render_header, render_source
from toolchain.model_files import C_NAME, CARD_NAME, H_NAME, TFLITE_NAME, sha256_hex
from toolchain.tflite_inspect import TensorInfo, inspect_tflite, require_int8
from toolchain.versions import check_version, point_current, write_version

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_class_names(class_names: Any, outputs: Sequence[TensorInfo]) -> tuple[str, ...]:
    where = "export_model(class_names=...)"
    if isinstance(class_names, str) or not isinstance(class_names, Iterable):
        raise ModelError(f"class names must be a sequence of strings, not {type(class_names).__name__}", where)
    names = tuple(class_names)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ModelError(f"class names must be non-empty strings, got {names!r}", where)
    if len(set(names)) != len(names):
        raise ModelError(f"class names repeat: {names!r}", where)
    n_out = outputs[0].shape[-1]
    if n_out != len(names):
        raise ModelError(
            f"{len(names)} class names but output 0 has {n_out} values (shape {list(outputs[0].shape)})", where,
        )
    return names


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _card_json(card: dict[str, Any]) -> str:
    try:
        return json.dumps(card, indent=2, sort_keys=True, allow_nan=False, default=_json_default) + "\n"
    except (TypeError, ValueError) as exc:
        raise ModelError(f"the model card cannot be written as JSON: {exc}", "export_model(card=...)") from exc


def _check_card(card: Any, sha256: str) -> int:
    where = "export_model(card=...)"
    if not isinstance(card, dict):
        raise ModelError(f"the model card must be a dict, not {type(card).__name__}", where)
    arena = card.get("tflm_arena_bytes")
    if isinstance(arena, np.integer):
        arena = int(arena)
    if not isinstance(arena, int) or isinstance(arena, bool) or arena <= 0:
        raise ModelError(
            f"card key 'tflm_arena_bytes' must be a positive int (the measured TFLM arena), got {arena!r}", where,
        )
    given = card.get("sha256")
    if given is not None and given != sha256:
        raise ModelError(
            f"the card's sha256 {given} is not the sha256 of the model bytes ({sha256})", where,
            "the card describes another model",
        )
    return arena


def _read_pngs(pngs: Iterable[Path]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    reserved = {TFLITE_NAME, C_NAME, H_NAME, CARD_NAME}
    for p in pngs or ():
        path = Path(p)
        where = str(path)
        if path.suffix.lower() != ".png" or path.name in reserved:
            raise ModelError("only .png files can be attached to a model version", where)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read the PNG: {exc.strerror or exc}", where) from exc
        if not data.startswith(_PNG_SIGNATURE):
            raise ModelError("not a PNG file (signature missing)", where)
        if path.name in found and found[path.name] != data:
            raise ModelError(f"two different PNGs are both named {path.name}", where, "rename one of them")
        found[path.name] = data
    return found


def _build_files(
    data: bytes, version: str, card: dict[str, Any], class_names: Sequence[str], pngs: Iterable[Path],
) -> dict[str, bytes]:
    """Every file of the version folder, by name, without writing anything. The computed card fields replace
    any the caller's card holds."""
    where = f"model version {version}"
    inputs, outputs = inspect_tflite(data, where)
    require_int8(inputs, outputs, where)
    names = _check_class_names(class_names, outputs)
    sha = sha256_hex(data)
    arena = _check_card(card, sha)
    png_files = _read_pngs(pngs)

    defines = header_defines(version, sha, len(data), arena, names, inputs, outputs)
    files: dict[str, bytes] = {
        TFLITE_NAME: data,
        H_NAME: render_header(version, sha, defines).encode("ascii"),
        C_NAME: render_source(version, sha, data).encode("ascii"),
        **png_files,
    }
    full_card = dict(card)
    full_card.update({
        "version": version,
        "sha256": sha,
        "size_bytes": len(data),
        "inputs": [t.card_entry() for t in inputs],
        "outputs": [t.card_entry() for t in outputs],
        "class_names": list(names),
        "files": {name: {"sha256": sha256_hex(b), "size_bytes": len(b)} for name, b in sorted(files.items())},
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    })
    files[CARD_NAME] = _card_json(full_card).encode("utf-8")
    return files


def export_model(
    tflite_bytes: bytes,
    out_root: Path,
    version: str,
    card: dict,
    class_names: tuple[str, ...],
    pngs: Sequence[Path] = (),
    make_current: bool = True,
) -> Path:
    """Write ``out_root/<version>/`` (see the module docstring) and return that folder.

    The folder appears whole or not at all. Exporting a version that exists with the same content (card compared
    without its ``created`` time) writes nothing; with different content it raises ModelError. ``make_current``
    then points ``out_root/current`` at the version.
    """
    version = check_version(version)
    out_root = Path(out_root)
    files = _build_files(tflite_bytes, version, card, class_names, pngs)
    dest = write_version(out_root, version, files)
    if make_current:
        point_current(out_root, version)
    return dest
