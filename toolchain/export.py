"""Export a verified int8 model to ``models/<version>/`` and generate the firmware's model library.

A version folder holds:

- ``model_int8.tflite``: the exact bytes that were verified;
- ``model_data.c`` / ``model_data.h``: the same bytes as a 16-byte aligned C array plus the model's contract
  (version, sha256, input/output shapes, int8 quantization, class names, arena size) as ``HB_MODEL_*`` macros;
- ``card.json``: the caller's card plus computed fields (sha256, sizes, tensors, class names, version, the
  sha256 of every other file in the folder, creation time);
- any confusion-matrix PNGs handed in.

Versions are immutable: exporting a version again with the same content changes nothing, with different
content is refused. ``models/current`` is a relative symbolic link to the chosen version, replaced atomically.

``verify_export`` re-reads a folder and fails, naming the file, when the .tflite, the C array, the header and the
card disagree; the firmware build runs it (through ``generate_firmware_lib``) before it compiles a model in.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from toolchain.errors import ModelError
from toolchain.settings import PROJECT_ROOT

TFLITE_NAME = "model_int8.tflite"
C_NAME = "model_data.c"
H_NAME = "model_data.h"
CARD_NAME = "card.json"
CURRENT_LINK = "current"
DATA_ALIGN = 16
BYTES_PER_LINE = 12
ARRAY_NAME = "g_model_data"
LEN_NAME = "g_model_data_len"
TFLITE_TYPE_INT8 = 9  # TensorType.INT8 in the TFLite flatbuffer schema
DEFAULT_LIB_DIR = PROJECT_ROOT / "firmware" / "lib" / "model_data"

# Fields export_model computes; a card handed in cannot override them.
COMPUTED_CARD_KEYS = (
    "sha256", "size_bytes", "inputs", "outputs", "class_names", "version", "created", "files",
)

_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------------
# Reading the model


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output as the firmware must see it."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float  # the float32 value, widened exactly to a Python float
    zero_point: int
    role: str  # "beat_window", "rr_features", "probabilities" or "other"

    def card_entry(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "scale": self.scale,
            "zero_point": self.zero_point,
            "role": self.role,
        }


def _tflite_where(where: str | None) -> str:
    return where or "the .tflite bytes"


def inspect_tflite(tflite_bytes: bytes, where: str | None = None) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """Read the inputs and outputs of a .tflite model with the TFLite Micro interpreter.

    Raises ModelError if the bytes are not a TFLite flatbuffer TFLite Micro can load. Types are reported as
    found; the int8 policy is checked by ``_require_int8``.
    """
    here = _tflite_where(where)
    if not isinstance(tflite_bytes, (bytes, bytearray)):
        raise ModelError(f"the model must be bytes, not {type(tflite_bytes).__name__}", here)
    data = bytes(tflite_bytes)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(
            "not a TFLite flatbuffer (file identifier 'TFL3' missing at byte 4)", here,
            "pass the bytes written by tf.lite.TFLiteConverter",
        )
    from tflite_micro.python.tflite_micro import runtime  # lazy: keeps `import toolchain.export` light

    try:
        # Unpacking the whole object tree touches every table, so a damaged flatbuffer fails here, in
        # Python, before the C++ interpreter sees it.
        model = runtime.convert_bytearray_to_object(bytearray(data))
    except Exception as exc:  # flatbuffers raises struct.error, TypeError, IndexError ...
        raise ModelError(f"damaged TFLite flatbuffer: {exc}", here) from exc
    if not model.subgraphs:
        raise ModelError("the model has no subgraph", here)
    graph = model.subgraphs[0]
    in_ids = list(graph.inputs if graph.inputs is not None else [])
    out_ids = list(graph.outputs if graph.outputs is not None else [])
    if not in_ids or not out_ids:
        raise ModelError(f"the model has {len(in_ids)} inputs and {len(out_ids)} outputs; need at least one each", here)

    try:
        interpreter = runtime.Interpreter.from_bytes(data, arena_size=max(len(data) * 10, 4 << 20))
    except Exception as exc:
        raise ModelError(f"TFLite Micro cannot load the model: {exc}", here) from exc

    def read(kind: str, position: int, tensor_id: int) -> TensorInfo:
        try:
            if kind == "input":
                details = interpreter.get_input_details(position)
            else:
                details = interpreter.get_output_details(position)
        except Exception as exc:
            raise ModelError(f"TFLite Micro cannot describe {kind} {position}: {exc}", here) from exc
        raw_name = graph.tensors[tensor_id].name
        name = raw_name.decode("utf-8", "replace") if isinstance(raw_name, bytes) else str(raw_name or "")
        quant = details.get("quantization_parameters") or {}
        scales = np.asarray(quant.get("scales", []), dtype=np.float32).reshape(-1)
        zero_points = np.asarray(quant.get("zero_points", []), dtype=np.int64).reshape(-1)
        shape = tuple(int(d) for d in np.asarray(details["shape"]).reshape(-1))
        dtype = np.dtype(details["dtype"]).name
        if dtype == "int8" and (len(scales) != 1 or len(zero_points) != 1):
            raise ModelError(
                f"{kind} {position} ({name}) has {len(scales)} scales and {len(zero_points)} zero points; "
                "an int8 model input/output needs exactly one of each (per-tensor quantization)", here,
            )
        scale = float(scales[0]) if len(scales) else 0.0
        zero_point = int(zero_points[0]) if len(zero_points) else 0
        return TensorInfo(position, name, shape, dtype, scale, zero_point, "other")

    inputs = [read("input", i, t) for i, t in enumerate(in_ids)]
    outputs = [read("output", i, t) for i, t in enumerate(out_ids)]
    return _assign_roles(inputs, outputs)


def _assign_roles(inputs: list[TensorInfo], outputs: list[TensorInfo]) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """Name what each tensor is for, by shape: the converter does not keep the Keras input order."""
    rank4 = [t for t in inputs if len(t.shape) == 4]
    rank2 = [t for t in inputs if len(t.shape) == 2]

    def with_role(t: TensorInfo, role: str) -> TensorInfo:
        return TensorInfo(t.index, t.name, t.shape, t.dtype, t.scale, t.zero_point, role)

    named_inputs = []
    for t in inputs:
        if len(rank4) == 1 and t is rank4[0]:
            named_inputs.append(with_role(t, "beat_window"))
        elif len(rank2) == 1 and t is rank2[0]:
            named_inputs.append(with_role(t, "rr_features"))
        else:
            named_inputs.append(t)
    named_outputs = [with_role(outputs[0], "probabilities")] + list(outputs[1:])
    return named_inputs, named_outputs


def _require_int8(inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo], where: str) -> None:
    for kind, tensors in (("input", inputs), ("output", outputs)):
        for t in tensors:
            if t.dtype != "int8":
                raise ModelError(
                    f"{kind} {t.index} ({t.name}) is {t.dtype}, not int8", where,
                    "convert with inference_input_type=tf.int8 and inference_output_type=tf.int8",
                )
            if not (math.isfinite(t.scale) and t.scale > 0.0):
                raise ModelError(f"{kind} {t.index} ({t.name}) has scale {t.scale}; an int8 tensor needs a positive scale", where)
            if not -128 <= t.zero_point <= 127:
                raise ModelError(f"{kind} {t.index} ({t.name}) has zero point {t.zero_point}, outside int8", where)
            if not t.shape or any(d <= 0 for d in t.shape):
                raise ModelError(f"{kind} {t.index} ({t.name}) has shape {list(t.shape)}; need fixed positive dims", where)


# --------------------------------------------------------------------------------------------------
# Generating C


def c_float_literal(value: float) -> str:
    """The shortest decimal that reads back as the same float32, with an ``f`` suffix."""
    f32 = np.float32(value)
    text = str(f32)  # numpy prints the shortest round-tripping digits of a float32
    if not any(c in text for c in ".eE"):
        text += ".0"
    if np.float32(text) != f32:  # pragma: no cover - numpy guarantees this; keep the promise explicit
        text = f"{float(f32):.9e}"
    return text + "f"


def c_string_literal(text: str) -> str:
    """A C string literal of the UTF-8 bytes of ``text``, escaping anything not plain printable ASCII."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\?':  # '?' too: "??x" would be a trigraph under -std=c11
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _c_int(value: int) -> str:
    return f"({value})" if value < 0 else str(value)


def _banner(file_name: str, version: str, sha256: str) -> str:
    return (
        f"/* {file_name}: GENERATED by toolchain/export.py -- do not edit.\n"
        f" * Model version: {version}\n"
        f" * Model sha256:  {sha256}\n"
        f" * Source: models/{version}/{TFLITE_NAME}; regenerate by exporting a new model version.\n"
        " */\n"
    )


def header_defines(
    version: str, sha256: str, size: int, arena_bytes: int, class_names: Sequence[str],
    inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo],
) -> list[tuple[str, str]]:
    """Every ``#define`` of model_data.h, in order, as (name, C text). verify_export checks against this."""
    d: list[tuple[str, str]] = [
        ("HB_MODEL_VERSION", c_string_literal(version)),
        ("HB_MODEL_SHA256", c_string_literal(sha256)),
        ("HB_MODEL_DATA_LEN", f"{size}u"),
        ("HB_MODEL_DATA_ALIGN", str(DATA_ALIGN)),
        ("HB_MODEL_ARENA_BYTES", f"{arena_bytes}u"),
        ("HB_MODEL_TYPE_INT8", str(TFLITE_TYPE_INT8)),
        ("HB_MODEL_NUM_INPUTS", str(len(inputs))),
        ("HB_MODEL_NUM_OUTPUTS", str(len(outputs))),
    ]
    beat = [t.index for t in inputs if t.role == "beat_window"]
    rr = [t.index for t in inputs if t.role == "rr_features"]
    d.append(("HB_MODEL_BEAT_INPUT_INDEX", _c_int(beat[0] if beat else -1)))
    d.append(("HB_MODEL_RR_INPUT_INDEX", _c_int(rr[0] if rr else -1)))
    for kind, tensors in (("INPUT", inputs), ("OUTPUT", outputs)):
        for t in tensors:
            p = f"HB_MODEL_{kind}{t.index}_"
            d.append((p + "NAME", c_string_literal(t.name)))
            d.append((p + "DIMS_COUNT", str(len(t.shape))))
            d.append((p + "DIMS", "{" + ", ".join(str(x) for x in t.shape) + "}"))
            for axis, dim in enumerate(t.shape):
                d.append((p + f"DIM{axis}", str(dim)))
            d.append((p + "ELEMENTS", str(int(np.prod(t.shape)))))
            d.append((p + "TYPE", "HB_MODEL_TYPE_INT8"))
            d.append((p + "SCALE", c_float_literal(t.scale)))
            d.append((p + "ZERO_POINT", _c_int(t.zero_point)))
    d.append(("HB_MODEL_NUM_CLASSES", str(len(class_names))))
    d.append(("HB_MODEL_CLASS_NAMES", "{" + ", ".join(c_string_literal(c) for c in class_names) + "}"))
    return d


def render_header(version: str, sha256: str, defines: Sequence[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in defines)
    lines = [
        _banner(H_NAME, version, sha256),
        "#ifndef HB_MODEL_DATA_H",
        "#define HB_MODEL_DATA_H",
        "",
        "#include <stdalign.h>",
        "#include <stdint.h>",
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        "/* The model's contract: the firmware checks the flatbuffer's tensors against these at start-up. */",
    ]
    lines += [f"#define {name.ljust(width)} {value}" for name, value in defines]
    lines += [
        "",
        f"/* The .tflite flatbuffer, aligned to HB_MODEL_DATA_ALIGN bytes (defined in {C_NAME}). */",
        f"extern const unsigned char {ARRAY_NAME}[];",
        f"extern const unsigned int {LEN_NAME};",
        "",
        "#ifdef __cplusplus",
        "}",
        "#endif",
        "",
        "#endif /* HB_MODEL_DATA_H */",
        "",
    ]
    return "\n".join(lines)


def render_source(version: str, sha256: str, data: bytes) -> str:
    rows = []
    for start in range(0, len(data), BYTES_PER_LINE):
        chunk = data[start:start + BYTES_PER_LINE]
        rows.append("  " + " ".join(f"0x{b:02x}," for b in chunk))
    lines = [
        _banner(C_NAME, version, sha256),
        f'#include "{H_NAME}"',
        "",
        f"alignas({DATA_ALIGN}) const unsigned char {ARRAY_NAME}[] = {{",
        *rows,
        "};",
        f"const unsigned int {LEN_NAME} = {len(data)}u;",
        "",
        f"_Static_assert(sizeof({ARRAY_NAME}) == HB_MODEL_DATA_LEN, \"{C_NAME} and {H_NAME} disagree on the length\");",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Reading generated C back


_ARRAY_RE = re.compile(
    r"alignas\(\s*(\d+)\s*\)\s*const\s+unsigned\s+char\s+" + ARRAY_NAME + r"\s*\[\s*\]\s*=\s*\{(.*?)\}\s*;",
    re.S,
)
_LEN_RE = re.compile(r"const\s+unsigned\s+int\s+" + LEN_NAME + r"\s*=\s*(\d+)u?\s*;")
_DEFINE_RE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(HB_MODEL_\w+)[ \t]+(.*?)[ \t]*$", re.M)
_HEX_BYTE_RE = re.compile(r"0[xX]([0-9a-fA-F]{1,2})\b")


def parse_c_array(source: str, where: str) -> bytes:
    """The bytes of ``g_model_data`` in a generated model_data.c; ModelError if it is not well formed."""
    match = _ARRAY_RE.search(source)
    if not match:
        raise ModelError(f"no 'alignas(16) const unsigned char {ARRAY_NAME}[] = {{...}};' definition", where)
    if int(match.group(1)) != DATA_ALIGN:
        raise ModelError(f"{ARRAY_NAME} is aligned to {match.group(1)} bytes, not {DATA_ALIGN}", where)
    body = match.group(2)
    leftover = _HEX_BYTE_RE.sub("", body).replace(",", "").split()
    if leftover:
        raise ModelError(f"{ARRAY_NAME} holds something that is not a hex byte: {leftover[0][:20]!r}", where)
    data = bytes(int(h, 16) for h in _HEX_BYTE_RE.findall(body))
    length = _LEN_RE.search(source)
    if not length:
        raise ModelError(f"no 'const unsigned int {LEN_NAME} = N;' definition", where)
    if int(length.group(1)) != len(data):
        raise ModelError(f"{LEN_NAME} is {length.group(1)} but {ARRAY_NAME} holds {len(data)} bytes", where)
    return data


def parse_header_defines(header: str) -> dict[str, str]:
    """``HB_MODEL_*`` macro name -> its C text, from a generated model_data.h."""
    return {m.group(1): m.group(2) for m in _DEFINE_RE.finditer(header)}


def _c_value(text: str) -> Any:
    """A macro's C text as a comparable Python value (strings, ints, float32s, brace lists)."""
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        inner = text[1:-1].strip()
        items = re.findall(r'"(?:[^"\\]|\\.)*"|[^,]+', inner) if inner else []
        return tuple(_c_value(item) for item in items if item.strip())
    if text.startswith('"') and text.endswith('"'):
        return text  # generated literals are compared as written: the escaping is deterministic
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if re.fullmatch(r"[-+]?\d+[uU]?", text):
        return int(text.rstrip("uU"))
    if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?[fF]", text):
        return ("float32", float(np.float32(text[:-1])))
    return text


# --------------------------------------------------------------------------------------------------
# Export


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_version(version: Any) -> str:
    if not isinstance(version, str) or not _VERSION_RE.fullmatch(version) or version == CURRENT_LINK:
        raise ModelError(
            f"model version {version!r} is not a safe folder name",
            "export_model(version=...)",
            "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, and not 'current'",
        )
    return version


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
    """Every file of the version folder, by name, without writing anything."""
    where = f"model version {version}"
    inputs, outputs = inspect_tflite(data, where)
    _require_int8(inputs, outputs, where)
    names = _check_class_names(class_names, outputs)
    sha = _sha256(data)
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
        "files": {name: {"sha256": _sha256(b), "size_bytes": len(b)} for name, b in sorted(files.items())},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    })
    files[CARD_NAME] = _card_json(full_card).encode("utf-8")
    return files


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
    _check_version(version)
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

    The folder appears whole or not at all (built under a temporary name, then renamed). Exporting a version
    that exists with the same content (card compared without its ``created`` time) writes nothing; with
    different content it raises ModelError. ``make_current`` then points ``out_root/current`` at the version.
    """
    version = _check_version(version)
    out_root = Path(out_root)
    files = _build_files(tflite_bytes, version, card, class_names, pngs)
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
    if make_current:
        point_current(out_root, version)
    return dest


# --------------------------------------------------------------------------------------------------
# Verification and the firmware library


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"missing {path.name}", str(path), "re-export the model version") from None
    except OSError as exc:
        raise ModelError(f"cannot read {path.name}: {exc.strerror or exc}", str(path)) from exc


def _check_card_tensors(card_path: Path, kind: str, listed: Any, actual: Sequence[TensorInfo]) -> None:
    expected = [t.card_entry() for t in actual]
    if not isinstance(listed, list) or len(listed) != len(expected):
        raise ModelError(f"card.json lists {kind} that do not match the .tflite's {len(expected)} {kind}", str(card_path))
    for got, want in zip(listed, expected):
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


def verify_export(version_dir: Path) -> dict:
    """Check that a version folder agrees with itself; return its card.

    The .tflite's sha256 must equal the card's and the header's; the bytes of the C array must equal the
    .tflite; the header's constants must match the .tflite's tensors and the card; every file the card lists
    must have the sha256 the card records. Raises ModelError naming the file that disagrees.
    """
    version_dir = Path(version_dir)
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
        header = header_bytes.decode("ascii")
    except UnicodeDecodeError as exc:
        bad = c_path if not _is_ascii(source_bytes) else h_path
        raise ModelError(f"{bad.name} is not ASCII text: {exc}", str(bad)) from exc

    sha_file = _sha256(data)
    sha_card = card.get("sha256")
    defines = parse_header_defines(header)
    sha_header_text = defines.get("HB_MODEL_SHA256", "")
    sha_header = sha_header_text.strip('"') if sha_header_text else None
    if not (sha_file == sha_card == sha_header):
        # Name the file that is the odd one out; if no two agree, name them all.
        if sha_card == sha_header:
            raise ModelError(
                f"{TFLITE_NAME} has sha256 {sha_file}, but card.json and {H_NAME} say {sha_card}", str(tflite_path),
                "the model file was changed after export",
            )
        if sha_file == sha_header:
            raise ModelError(f"card.json says sha256 {sha_card}, but {TFLITE_NAME} has {sha_file}", str(card_path))
        if sha_file == sha_card:
            raise ModelError(f"{H_NAME} says sha256 {sha_header}, but {TFLITE_NAME} has {sha_file}", str(h_path))
        raise ModelError(
            f"{TFLITE_NAME} ({sha_file}), card.json ({sha_card}) and {H_NAME} ({sha_header}) all disagree on sha256",
            str(version_dir),
        )

    array = parse_c_array(source, str(c_path))
    if array != data:
        first = next((i for i, (a, b) in enumerate(zip(array, data)) if a != b), min(len(array), len(data)))
        raise ModelError(
            f"the bytes of {ARRAY_NAME} in {C_NAME} differ from {TFLITE_NAME} at offset {first} "
            f"({len(array)} vs {len(data)} bytes)", str(c_path), "the C array was edited; re-export instead",
        )
    if card.get("size_bytes") != len(data):
        raise ModelError(f"card.json says size_bytes {card.get('size_bytes')!r}, the .tflite has {len(data)}", str(card_path))

    version = card.get("version")
    try:
        _check_version(version)
    except ModelError:
        raise ModelError(f"card.json has no usable version ({version!r})", str(card_path)) from None
    where = str(tflite_path)
    inputs, outputs = inspect_tflite(data, where)
    _require_int8(inputs, outputs, where)
    _check_card_tensors(card_path, "inputs", card.get("inputs"), inputs)
    _check_card_tensors(card_path, "outputs", card.get("outputs"), outputs)
    class_names = card.get("class_names")
    if not isinstance(class_names, list) or not all(isinstance(c, str) for c in class_names):
        raise ModelError(f"card.json class_names is {class_names!r}, not a list of strings", str(card_path))
    arena = card.get("tflm_arena_bytes")
    if not isinstance(arena, int) or isinstance(arena, bool) or arena <= 0:
        raise ModelError(f"card.json tflm_arena_bytes is {arena!r}, not a positive int", str(card_path))

    expected = header_defines(version, sha_file, len(data), arena, class_names, inputs, outputs)
    for name, text in expected:
        if name not in defines:
            raise ModelError(f"{H_NAME} does not define {name}", str(h_path), "re-export the model version")
        if _c_value(defines[name]) != _c_value(text):
            raise ModelError(
                f"{H_NAME} defines {name} as {defines[name]}, but the .tflite and card.json give {text}", str(h_path),
            )

    listed = card.get("files")
    if not isinstance(listed, dict) or not all(n in listed for n in (TFLITE_NAME, C_NAME, H_NAME)):
        raise ModelError(
            f"card.json has no 'files' table with the sha256 of {TFLITE_NAME}, {C_NAME} and {H_NAME}", str(card_path),
        )
    for name, entry in sorted(listed.items()):
        path = version_dir / name
        if name in (CARD_NAME,) or "/" in name or name in ("", ".", ".."):
            raise ModelError(f"card.json lists an invalid file name {name!r}", str(card_path))
        content = _read(path)
        want = entry.get("sha256") if isinstance(entry, dict) else None
        if _sha256(content) != want:
            raise ModelError(
                f"{name} has sha256 {_sha256(content)}, card.json records {want}", str(path),
                "the file was changed after export",
            )
    return card


def _is_ascii(data: bytes) -> bool:
    try:
        data.decode("ascii")
    except UnicodeDecodeError:
        return False
    return True


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
        if _sha256((lib_dir / name).read_bytes()) != card["files"][name]["sha256"]:
            raise ModelError(f"{name} changed while it was copied", str(version_dir / name), "run the build again")
    return card
