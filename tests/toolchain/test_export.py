"""toolchain.export, toolchain.versions and toolchain.c_arrays: a real tiny int8 model exported, read back,
compiled with the host gcc and run."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import warnings
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heartbeat_core.domain import AAMI_CLASSES
from heartbeat_core.errors import ModelError
from toolchain.c_arrays import c_float_literal
from toolchain.export import export_model
from toolchain.versions import generate_firmware_lib, verify_export

CLASSES = AAMI_CLASSES
CARD = {"tflm_arena_bytes": 6144, "mlflow_run_id": "0123abcd", "metrics": {"macro_f1": 0.5}}


# --------------------------------------------------------------------------------------------------
# Fixtures: a tiny real model, converted by TensorFlow Lite


def _convert(seed: int, int8_io: bool = True) -> bytes:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    beat = tf.keras.Input((1, 16, 1), name="beat")
    x = tf.keras.layers.Conv2D(4, (1, 3), activation="relu")(beat)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(8)(x)
    rr = tf.keras.Input((4,), name="rr")
    y = tf.keras.layers.Dense(8)(rr)
    z = tf.keras.layers.Add()([x, y])
    z = tf.keras.layers.Dense(5)(z)
    z = tf.keras.layers.Softmax()(z)
    model = tf.keras.Model([beat, rr], z)

    def representative():
        rng = np.random.default_rng(seed)
        for _ in range(16):
            yield {
                "beat": rng.standard_normal((1, 1, 16, 1)).astype(np.float32),
                "rr": rng.standard_normal((1, 4)).astype(np.float32),
            }

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    return {"a": _convert(0), "b": _convert(1), "float_io": _convert(0, int8_io=False)}


def _png(path: Path, seed: int) -> Path:
    """A real 4x4 greyscale PNG (signature, IHDR, IDAT, IEND with CRCs)."""
    rng = np.random.default_rng(seed)
    raw = b"".join(b"\x00" + rng.integers(0, 256, 4, dtype=np.uint8).tobytes() for _ in range(4))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    pngs = [_png(root.parent / "confusion_ds2.png", 1), _png(root.parent / "confusion_ds1.png", 2)]
    return export_model(models["a"], root, "cnn4-1", CARD, CLASSES, pngs=pngs)


def _interpreter_details(tflite: bytes):
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interp = tf.lite.Interpreter(model_content=tflite)
    return interp.get_input_details(), interp.get_output_details()


def _defines(header: str) -> dict[str, str]:
    return dict(re.findall(r"^#define\s+(\w+)\s+(.+?)\s*$", header, re.M))


def _array_bytes(source: str) -> bytes:
    body = source.split("g_model_data[] = {", 1)[1].split("};", 1)[0]
    return bytes(int(tok, 16) for tok in re.findall(r"0x([0-9a-f]{2}),", body))


def hashlib_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _copy(version_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(version_dir, tmp_path / version_dir.name))


# --------------------------------------------------------------------------------------------------
# What export writes


def test_export_writes_every_file_with_the_exact_model_bytes(exported, models):
    names = sorted(p.name for p in exported.iterdir())
    assert names == sorted(["model_int8.tflite", "model_data.c", "model_data.h", "card.json",
                            "confusion_ds1.png", "confusion_ds2.png"])
    assert (exported / "model_int8.tflite").read_bytes() == models["a"]
    assert (exported / "confusion_ds2.png").read_bytes() == (exported.parent.parent / "confusion_ds2.png").read_bytes()
    for generated in ("model_data.c", "model_data.h"):
        text = (exported / generated).read_text()
        assert "GENERATED" in text and "do not edit" in text
        assert "cnn4-1" in text
        assert hashlib_sha256(models["a"]) in text


def test_card_keeps_the_given_fields_and_adds_the_computed_ones(exported, models):
    text = (exported / "card.json").read_text()
    card = json.loads(text)
    assert text == json.dumps(card, indent=2, sort_keys=True) + "\n"  # pretty, sorted keys
    assert card["mlflow_run_id"] == CARD["mlflow_run_id"] and card["metrics"] == CARD["metrics"]
    assert card["tflm_arena_bytes"] == CARD["tflm_arena_bytes"]
    assert card["sha256"] == hashlib_sha256(models["a"])
    assert card["size_bytes"] == len(models["a"])
    assert card["version"] == "cnn4-1"
    assert card["class_names"] == list(CLASSES)
    created = datetime.fromisoformat(card["created"])
    assert created.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - created) < timedelta(hours=1)
    ins, outs = _interpreter_details(models["a"])
    for listed, details in ((card["inputs"], ins), (card["outputs"], outs)):
        assert len(listed) == len(details)
        for entry, d in zip(listed, details, strict=True):
            assert entry["shape"] == d["shape"].tolist()
            assert entry["dtype"] == "int8"
            assert np.float32(entry["scale"]) == np.float32(d["quantization"][0])
            assert entry["zero_point"] == d["quantization"][1]
    roles = {e["role"]: e["shape"] for e in card["inputs"]}
    assert roles == {"beat_window": [1, 1, 16, 1], "rr_features": [1, 4]}
    for name, entry in card["files"].items():
        assert hashlib_sha256((exported / name).read_bytes()) == entry["sha256"]


def test_header_constants_match_the_interpreter(exported, models):
    d = _defines((exported / "model_data.h").read_text())
    ins, outs = _interpreter_details(models["a"])
    assert d["HB_MODEL_VERSION"] == '"cnn4-1"'
    assert d["HB_MODEL_SHA256"] == f'"{hashlib_sha256(models["a"])}"'
    assert d["HB_MODEL_NUM_INPUTS"] == str(len(ins)) == "2"
    assert d["HB_MODEL_NUM_OUTPUTS"] == str(len(outs)) == "1"
    assert d["HB_MODEL_ARENA_BYTES"].rstrip("u") == str(CARD["tflm_arena_bytes"])
    assert d["HB_MODEL_DATA_LEN"].rstrip("u") == str(len(models["a"]))
    assert d["HB_MODEL_NUM_CLASSES"] == "5"
    assert d["HB_MODEL_CLASS_NAMES"].replace(" ", "") == '{"N","S","V","F","Q"}'
    for kind, details in (("INPUT", ins), ("OUTPUT", outs)):
        for i, det in enumerate(details):
            p = f"HB_MODEL_{kind}{i}_"
            shape = det["shape"].tolist()
            assert det["dtype"] == np.int8
            assert int(d[p + "DIMS_COUNT"]) == len(shape)
            assert [int(v) for v in d[p + "DIMS"].strip("{}").split(",")] == shape
            assert [int(d[p + f"DIM{k}"]) for k in range(len(shape))] == shape
            assert d[p + "TYPE"] == "HB_MODEL_TYPE_INT8"
            scale_text = d[p + "SCALE"]
            assert scale_text.endswith("f")
            assert np.float32(scale_text[:-1]) == np.float32(det["quantization"][0])
            assert int(d[p + "ZERO_POINT"].strip("()")) == det["quantization"][1]
    assert d["HB_MODEL_TYPE_INT8"] == "9"  # TensorType.INT8 in the TFLite schema
    beat = int(d["HB_MODEL_BEAT_INPUT_INDEX"])
    rr = int(d["HB_MODEL_RR_INPUT_INDEX"])
    assert ins[beat]["shape"].tolist() == [1, 1, 16, 1]
    assert ins[rr]["shape"].tolist() == [1, 4]


def test_c_array_parses_back_to_the_model_bytes(exported, models):
    source = (exported / "model_data.c").read_text()
    assert "alignas(16) const unsigned char g_model_data[]" in source
    assert _array_bytes(source) == models["a"]
    rows = source.split("g_model_data[] = {", 1)[1].split("};", 1)[0].strip().splitlines()
    counts = [row.count("0x") for row in rows]
    assert all(c == 12 for c in counts[:-1]) and 1 <= counts[-1] <= 12
    m = re.search(r"const unsigned int g_model_data_len = (\d+)u?;", source)
    assert m and int(m.group(1)) == len(models["a"])


MAIN_C = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model_data.h"

static const char *const k_names[] = HB_MODEL_CLASS_NAMES;
static const int k_in0[] = HB_MODEL_INPUT0_DIMS;
static const int k_out0[] = HB_MODEL_OUTPUT0_DIMS;
_Static_assert(sizeof(k_names) / sizeof(k_names[0]) == HB_MODEL_NUM_CLASSES, "class table");
_Static_assert(sizeof(k_in0) / sizeof(k_in0[0]) == HB_MODEL_INPUT0_DIMS_COUNT, "input dims");
_Static_assert(sizeof(k_out0) / sizeof(k_out0[0]) == HB_MODEL_OUTPUT0_DIMS_COUNT, "output dims");

static uint32_t bits(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    FILE *fp = fopen(argv[1], "rb");
    if (!fp) return 3;
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    if (g_model_data_len != n) { printf("len %u != file %zu\n", g_model_data_len, n); return 4; }
    if (g_model_data_len != HB_MODEL_DATA_LEN) return 5;
    if (memcmp(buf, g_model_data, n) != 0) { printf("bytes differ\n"); return 6; }
    if (((uintptr_t)g_model_data) % 16u != 0) { printf("misaligned\n"); return 7; }
    printf("in0_scale %u\nout0_scale %u\n", (unsigned)bits(HB_MODEL_INPUT0_SCALE),
           (unsigned)bits(HB_MODEL_OUTPUT0_SCALE));
    printf("in0_zero %d\nout0_zero %d\n", HB_MODEL_INPUT0_ZERO_POINT, HB_MODEL_OUTPUT0_ZERO_POINT);
    for (int i = 0; i < HB_MODEL_NUM_CLASSES; i++) {
        printf("class ");
        for (const unsigned char *c = (const unsigned char *)k_names[i]; *c; c++) printf("%02x", *c);
        printf("\n");
    }
    printf("version %s\nsha %s\n", HB_MODEL_VERSION, HB_MODEL_SHA256);
    return 0;
}
"""

MAIN_CPP = r"""
#include "model_data.h"
static_assert(HB_MODEL_NUM_INPUTS >= 1, "inputs");
int main() { return g_model_data_len == HB_MODEL_DATA_LEN ? 0 : 1; }
"""


def _compile_and_run(version_dir: Path, work: Path) -> dict[str, list[str]]:
    gcc = shutil.which("gcc")
    assert gcc, "the host gcc is needed to check the generated C"
    flags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", str(version_dir)]
    subprocess.run([gcc, *flags, "-fdata-sections", "-c", str(version_dir / "model_data.c"),
                    "-o", str(work / "model_data.o")], check=True, capture_output=True, text=True)
    # The array's own section (-fdata-sections) records the alignment the compiler gave it.
    sections = subprocess.run(["readelf", "-SW", str(work / "model_data.o")], check=True, capture_output=True,
                              text=True).stdout
    row = next(line for line in sections.splitlines() if ".rodata.g_model_data " in line + " ")
    assert int(row.split()[-1]) == 16, row
    (work / "main.c").write_text(MAIN_C)
    exe = work / "check_model"
    subprocess.run([gcc, *flags, str(work / "main.c"), str(work / "model_data.o"), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    run = subprocess.run([str(exe), str(version_dir / "model_int8.tflite")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    out: dict[str, list[str]] = {}
    for line in run.stdout.splitlines():
        key, _, value = line.partition(" ")
        out.setdefault(key, []).append(value)
    return out


def test_generated_c_compiles_and_runs_on_the_host(exported, models, tmp_path):
    try:
        out = _compile_and_run(exported, tmp_path)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"gcc rejected the generated C:\n{exc.stderr}")
    ins, outs = _interpreter_details(models["a"])
    assert int(out["in0_scale"][0]) == int(np.float32(ins[0]["quantization"][0]).view(np.uint32))
    assert int(out["out0_scale"][0]) == int(np.float32(outs[0]["quantization"][0]).view(np.uint32))
    assert int(out["in0_zero"][0]) == ins[0]["quantization"][1]
    assert int(out["out0_zero"][0]) == outs[0]["quantization"][1]
    assert [bytes.fromhex(h).decode() for h in out["class"]] == list(CLASSES)
    assert out["version"] == ["cnn4-1"] and out["sha"] == [hashlib_sha256(models["a"])]


def test_header_is_valid_cpp(exported, tmp_path):
    gxx = shutil.which("g++")
    assert gxx, "the host g++ is needed to check the header from C++"
    (tmp_path / "main.cpp").write_text(MAIN_CPP)
    result = subprocess.run([gxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I", str(exported),
                             str(tmp_path / "main.cpp")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_awkward_class_names_survive_the_trip_through_c(models, tmp_path):
    names = ("N", 'S"q', "V\\", "F??=", "Q\u00e9")
    version_dir = export_model(models["a"], tmp_path / "models", "odd-names", CARD, names)
    out = _compile_and_run(version_dir, tmp_path)
    assert [bytes.fromhex(h).decode("utf-8") for h in out["class"]] == list(names)
    assert verify_export(version_dir)["class_names"] == list(names)


@settings(max_examples=300, deadline=None)
@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float_literal_round_trips_float32(value):
    text = c_float_literal(value)
    assert text.endswith("f") and re.fullmatch(r"[0-9.eE+-]+f", text)
    assert np.float32(text[:-1]) == np.float32(value)


# --------------------------------------------------------------------------------------------------
# current, immutability, refusals


def test_current_is_a_relative_link_to_the_version(exported, models, tmp_path):
    current = exported.parent / "current"
    assert current.is_symlink() and os.readlink(current) == "cnn4-1"
    assert (current / "model_int8.tflite").read_bytes() == models["a"]

    root = tmp_path / "models"
    export_model(models["a"], root, "v1", CARD, CLASSES)
    export_model(models["b"], root, "v2", CARD, CLASSES)
    assert os.readlink(root / "current") == "v2"
    export_model(models["a"], root, "v1", CARD, CLASSES, make_current=False)
    assert os.readlink(root / "current") == "v2"
    export_model(models["a"], root, "v1", CARD, CLASSES)  # same content: no-op, but current moves back
    assert os.readlink(root / "current") == "v1"
    # the link survives the folder being moved: it is relative
    moved = Path(shutil.move(str(root), str(tmp_path / "elsewhere")))
    assert (moved / "current" / "model_int8.tflite").read_bytes() == models["a"]
    assert not [p for p in moved.iterdir() if p.name.startswith(".")]  # no temporary links or folders left


def test_reexport_of_the_same_content_is_a_no_op(models, tmp_path):
    root = tmp_path / "models"
    first = export_model(models["a"], root, "v1", CARD, CLASSES, pngs=[_png(tmp_path / "cm.png", 3)])
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in first.iterdir()}
    again = export_model(models["a"], root, "v1", dict(CARD), list(CLASSES), pngs=[tmp_path / "cm.png"])
    assert again == first
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in first.iterdir()}
    assert after == before


@pytest.mark.parametrize(
    "change, file_named",
    [
        (lambda m: dict(bytes=m["b"]), "model_int8.tflite"),
        (lambda m: dict(card={**CARD, "mlflow_run_id": "other"}), "card.json"),
        (lambda m: dict(card={**CARD, "tflm_arena_bytes": 8192}), "model_data.h"),
        (lambda m: dict(pngs="extra"), "extra.png"),
    ],
)
def test_reexport_with_different_content_is_refused(models, tmp_path, change, file_named):
    root = tmp_path / "models"
    original = export_model(models["a"], root, "v1", CARD, CLASSES)
    before = {p.name: p.read_bytes() for p in original.iterdir()}
    args = dict(bytes=models["a"], card=CARD, pngs=[])
    args.update(change(models))
    if args["pngs"] == "extra":
        args["pngs"] = [_png(tmp_path / "extra.png", 4)]
    with pytest.raises(ModelError, match="already exists with different content") as err:
        export_model(args["bytes"], root, "v1", args["card"], CLASSES, pngs=args["pngs"])
    assert file_named in str(err.value)
    assert {p.name: p.read_bytes() for p in original.iterdir()} == before


@pytest.mark.parametrize("version", ["", "../evil", "a/b", ".hidden", "current", "v 1", "x" * 65, "v1\n", None])
def test_unsafe_version_names_are_refused(models, tmp_path, version):
    root = tmp_path / "models"
    with pytest.raises(ModelError, match="not a safe folder name"):
        export_model(models["a"], root, version, CARD, CLASSES)
    assert not root.exists() or not any(root.iterdir())
    assert not (tmp_path / "evil").exists()


def test_a_model_with_float_input_or_output_is_refused(models, tmp_path):
    root = tmp_path / "models"
    with pytest.raises(ModelError, match="not int8"):
        export_model(models["float_io"], root, "v1", CARD, CLASSES)
    assert not (root / "v1").exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(tflite=b"not a model at all"), "not a TFLite flatbuffer"),
        (dict(truncate=True), "damaged TFLite flatbuffer"),
        (dict(class_names=("N", "S", "V")), "3 class names but output 0 has 5"),
        (dict(class_names=("N", "N", "V", "F", "Q")), "repeat"),
        (dict(card={"mlflow_run_id": "x"}), "tflm_arena_bytes"),
        (dict(card={**CARD, "sha256": "0" * 64}), "not the sha256 of the model bytes"),
        (dict(card={**CARD, "bad": object()}), "cannot be written as JSON"),
        (dict(png_text=True), "not a PNG"),
    ],
)
def test_bad_inputs_are_refused_with_a_clear_message(models, tmp_path, kwargs, message):
    data = kwargs.get("tflite", models["a"])
    if kwargs.get("truncate"):
        data = data[: len(data) // 2]
    pngs = []
    if kwargs.get("png_text"):
        fake = tmp_path / "cm.png"
        fake.write_text("hello")
        pngs = [fake]
    root = tmp_path / "models"
    with pytest.raises(ModelError, match=re.escape(message)):
        export_model(data, root, "v1", kwargs.get("card", CARD), kwargs.get("class_names", CLASSES), pngs=pngs)
    assert not (root / "v1").exists()


# --------------------------------------------------------------------------------------------------
# verify_export and the firmware library


def test_verify_accepts_a_fresh_export(exported, models):
    card = verify_export(exported)
    assert card["sha256"] == hashlib_sha256(models["a"])
    assert verify_export(exported.parent / "current")["version"] == "cnn4-1"


def _flip_array_digit(source: str) -> str:
    start = source.index("g_model_data[] = {")
    i = source.index("0x", start + 500) + 3  # the low hex digit of some byte inside the array
    digit = source[i]
    return source[:i] + ("0" if digit != "0" else "1") + source[i + 1:]


@pytest.mark.parametrize(
    "file_name, tamper",
    [
        ("model_data.c", lambda p: p.write_text(_flip_array_digit(p.read_text()))),
        ("model_data.c", lambda p: p.write_text(p.read_text().replace("do not edit", "do not edjt"))),
        ("model_data.c", lambda p: p.write_text(p.read_text().replace("g_model_data_len = ", "g_model_data_len = 1"))),
        ("model_int8.tflite", lambda p: p.write_bytes(_flip_byte(p.read_bytes(), 100))),
        ("model_int8.tflite", lambda p: p.write_bytes(p.read_bytes() + b"\x00")),
        ("model_data.h", lambda p: p.write_text(re.sub(r"(INPUT0_ZERO_POINT\s+)\(?(-?\d+)\)?",
                                                       lambda m: m.group(1) + str(int(m.group(2)) + 1),
                                                       p.read_text()))),
        ("model_data.h", lambda p: p.write_text(p.read_text().replace('{"N", "S"', '{"S", "N"'))),
        ("card.json", lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "size_bytes": 1}))),
    ],
)
def test_verify_names_the_tampered_file(exported, tmp_path, file_name, tamper):
    copy = _copy(exported, tmp_path)
    verify_export(copy)
    tamper(copy / file_name)
    with pytest.raises(ModelError) as err:
        verify_export(copy)
    assert file_name in str(err.value)


def _flip_byte(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1:]


def test_verify_names_the_card_when_its_sha256_alone_disagrees(exported, tmp_path):
    copy = _copy(exported, tmp_path)
    card = json.loads((copy / "card.json").read_text())
    card["sha256"] = "0" * 64
    (copy / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="card.json says sha256"):
        verify_export(copy)


def test_verify_names_a_missing_file(exported, tmp_path):
    copy = _copy(exported, tmp_path)
    (copy / "model_data.h").unlink()
    with pytest.raises(ModelError, match="missing model_data.h"):
        verify_export(copy)


def test_firmware_lib_gets_the_verified_files(exported, tmp_path):
    lib = tmp_path / "firmware" / "lib" / "model_data"
    card = generate_firmware_lib(exported.parent / "current", lib)
    assert card["version"] == "cnn4-1"
    assert sorted(p.name for p in lib.iterdir()) == ["model_data.c", "model_data.h"]
    for name in ("model_data.c", "model_data.h"):
        assert (lib / name).read_bytes() == (exported / name).read_bytes()


def test_firmware_lib_is_not_touched_when_verification_fails(exported, models, tmp_path):
    lib = tmp_path / "lib"
    generate_firmware_lib(exported, lib)
    before = {p.name: p.read_bytes() for p in lib.iterdir()}
    copy = _copy(exported, tmp_path)
    (copy / "model_int8.tflite").write_bytes(models["b"])
    with pytest.raises(ModelError, match="model_int8.tflite"):
        generate_firmware_lib(copy, lib)
    assert {p.name: p.read_bytes() for p in lib.iterdir()} == before
