"""firmware/lib/micro_runtime against TFLite Micro itself, on real int8 models, and on broken models.

The runtime is compiled with the host gcc three ways (plain -O2; -fsanitize=address,undefined; and with
MR_EMULATE_DSP, which runs the Cortex-M4 SIMD dot-product code with C stand-ins for SXTB16/SMLAD) together
with a small driver (tests/firmware/c/mr_host_driver.c). Real Keras models (toolchain.model.build_cnn4 in
several sizes, plus models built here for the op variants CNN-4 does not use) are quantized with
toolchain.quantize.quantize_int8, given random weights, and run on hundreds of random int8 inputs by both
the runtime and the `tflite-micro` interpreter (toolchain.verify.run_tflm): every output byte must match.
"""
from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
LIB = REPO / "firmware" / "lib" / "micro_runtime"
TEXTFMT = REPO / "firmware" / "lib" / "textfmt"  # the runtime's error text is written with it
INCLUDES = ["-I", str(LIB), "-I", str(TEXTFMT)]
DRIVER = Path(__file__).resolve().parent / "c" / "mr_host_driver.c"

pytestmark = pytest.mark.slow  # converts a dozen Keras models

STD_FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror"]
STRICT_FLAGS = STD_FLAGS + ["-Wpedantic", "-Wshadow", "-Wconversion", "-Wsign-conversion", "-Wcast-qual"]
SANITIZE_FLAGS = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
                  "-fno-sanitize-recover=all"]
N_RECORDS = 300
STATUSES = ("OK", "BAD_ARGUMENT", "BAD_MODEL", "UNSUPPORTED_VERSION", "UNSUPPORTED_OP", "BAD_TENSOR",
            "ARENA_TOO_SMALL", "NOT_READY")

# BuiltinOperator codes (TFLite schema)
AVERAGE_POOL_2D = 1
TANH = 28


# ----------------------------------------------------------------------------------------------------------
# building the runtime


def _gcc() -> str:
    gcc = shutil.which("gcc")
    assert gcc, "the host gcc is needed to build the runtime for these tests"
    return gcc


def _library_sources() -> list[Path]:
    return sorted(LIB.glob("*.c")) + sorted(TEXTFMT.glob("*.c"))


def _compile(out: Path, flags: list[str]) -> Path:
    sources = [str(p) for p in _library_sources()] + [str(DRIVER)]
    proc = subprocess.run([_gcc(), *flags, *INCLUDES, *sources, "-o", str(out)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"gcc {' '.join(flags)} rejected the runtime:\n{proc.stderr}")
    return out


@pytest.fixture(scope="module")
def drivers(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("mr-build")
    return {
        "plain": _compile(work / "mr_plain", STD_FLAGS + ["-O2"]),
        "emulated_dsp": _compile(work / "mr_emu", STD_FLAGS + ["-O2", "-DMR_EMULATE_DSP"]),
        "sanitized": _compile(work / "mr_asan", STD_FLAGS + SANITIZE_FLAGS),
    }


def _driver(exe: Path, *args, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        pytest.fail(f"{exe.name} {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                    f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc


def _key_values(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def info(exe: Path, model: Path, arena: int | None = None) -> dict[str, str]:
    args = ["info", model] + ([arena] if arena is not None else [])
    return _key_values(_driver(exe, *args).stdout)


def run_records(exe: Path, model: Path, arena: int, records: np.ndarray, work: Path) -> np.ndarray:
    """Each row of `records` (all inputs' int8 bytes in model order) run once; the outputs' bytes per row."""
    inp, out = work / f"in-{exe.name}.bin", work / f"out-{exe.name}.bin"
    records.astype(np.int8).tofile(inp)
    _driver(exe, "run", model, arena, inp, out)
    return np.fromfile(out, dtype=np.int8).reshape(len(records), -1)


# ----------------------------------------------------------------------------------------------------------
# real models


def _randomize(model, rng: np.random.Generator) -> None:
    """Random weights everywhere (non-zero biases, non-trivial batch norms), so every kernel path matters."""
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = weights
            new = [rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0.0, 0.3, beta.shape),
                   rng.normal(0.0, 0.3, mean.shape), rng.uniform(0.3, 2.0, var.shape)]
        else:
            new = []
            for w in weights:
                fan_in = int(np.prod(w.shape[:-1])) if w.ndim > 1 else 1
                new.append(rng.normal(0.0, 1.5 / np.sqrt(fan_in) if w.ndim > 1 else 0.3, w.shape))
        layer.set_weights([n.astype(np.float32) for n in new])


def _cnn4(cfg, seed: int) -> bytes:
    from toolchain.model import build_cnn4
    from toolchain.quantize import quantize_int8, representative_inputs

    rng = np.random.default_rng(seed)
    model = build_cnn4(cfg, batch_size=1)
    _randomize(model, rng)
    n = 64
    data = {"beat": (rng.integers(-128, 128, (n, 1, cfg.window_len, 1)) / 128).astype(np.float32)}
    if cfg.rr_features:
        data["rr"] = (rng.integers(-128, 128, (n, cfg.rr_features)) / 128).astype(np.float32)
    return quantize_int8(model, representative_inputs(data, "device", n=n, seed=seed), kind="device")


def _generic_int8(model, seed: int) -> bytes:
    from toolchain.quantize import quantize_int8

    rng = np.random.default_rng(seed)
    _randomize(model, rng)
    calibration = [{t.name: rng.uniform(-1, 1, (1, *t.shape[1:])).astype(np.float32) for t in model.inputs}
                   for _ in range(48)]
    return quantize_int8(model, calibration, kind="generic")


def _variants_model():
    """The op variants CNN-4 leaves out: 2-D kernels, stride 2, RELU6, VALID, dilation, strided SAME pooling,
    FULLY_CONNECTED on a 4-D input (keep_num_dims), a broadcast ADD with fused RELU."""
    import keras
    from keras import layers

    img = keras.Input((6, 20, 2), batch_size=1, name="img")
    x = layers.Conv2D(5, (3, 3), strides=(2, 2), padding="same", activation="relu6")(img)
    x = layers.Conv2D(4, (2, 3), padding="valid", dilation_rate=(1, 2))(x)
    x = layers.MaxPooling2D((2, 2), strides=(1, 2), padding="same")(x)
    x = layers.Dense(6, activation="relu")(x)
    x = layers.Flatten()(x)
    vec = keras.Input((3,), batch_size=1, name="vec")
    x = layers.Add()([x, layers.Dense(x.shape[-1])(vec)])
    x = layers.ReLU()(x)
    x = layers.Dense(7)(x)
    return keras.Model([img, vec], layers.Softmax()(x))


def _with_layer(kind: str):
    import keras
    from keras import layers

    inp = keras.Input((1, 16, 2), batch_size=1, name="x")
    x = layers.Conv2D(4, (1, 3), padding="same", activation="relu")(inp)
    if kind == "average_pool":
        x = layers.AveragePooling2D((1, 2))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(6, activation="tanh" if kind == "tanh" else None)(x)
    x = layers.Dense(3)(x)
    return keras.Model(inp, layers.Softmax()(x))


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> dict[str, Path]:
    """Every model of these tests as a .tflite file."""
    import tensorflow as tf

    from toolchain.model import Cnn4Config

    work = tmp_path_factory.mktemp("mr-models")
    built = {
        # the device model's shape (as trained and exported), random weights
        "cnn4_full": _cnn4(Cnn4Config(), seed=1),
        # no RR input (the Kaggle construction), small
        "cnn4_rr0_k3": _cnn4(Cnn4Config(window_len=64, rr_features=0, filters=(4, 8, 8, 12), kernel=3,
                                        dense=8), seed=2),
        # odd channel counts (the unpaired-channel paths), a wide kernel
        "cnn4_odd_k7": _cnn4(Cnn4Config(window_len=96, rr_features=4, filters=(3, 5, 7, 9), kernel=7,
                                        dense=11), seed=3),
        # 1-wide kernels, no padding at all
        "cnn4_k1": _cnn4(Cnn4Config(window_len=32, rr_features=4, filters=(8, 6, 16, 10), kernel=1,
                                    dense=16), seed=4),
        "variants": _generic_int8(_variants_model(), seed=5),
        "average_pool": _generic_int8(_with_layer("average_pool"), seed=6),
        "tanh": _generic_int8(_with_layer("tanh"), seed=7),
        "float": tf.lite.TFLiteConverter.from_keras_model(_with_layer("plain")).convert(),
    }
    # two more CNN-4 sizes drawn at random (fixed seed: reproducible)
    rng = np.random.default_rng(2024)
    for i in range(2):
        cfg = Cnn4Config(window_len=int(rng.choice([48, 64, 80, 128])), rr_features=int(rng.choice([0, 4])),
                         filters=tuple(int(f) for f in rng.integers(2, 20, 4)), kernel=int(rng.choice([2, 3, 5, 9])),
                         dense=int(rng.integers(4, 24)))
        built[f"cnn4_random{i}"] = _cnn4(cfg, seed=10 + i)
    paths = {}
    for name, data in built.items():
        paths[name] = work / f"{name}.tflite"
        paths[name].write_bytes(bytes(data))
    return paths


INT8_MODELS = ["cnn4_full", "cnn4_rr0_k3", "cnn4_odd_k7", "cnn4_k1", "cnn4_random0", "cnn4_random1", "variants"]


def _random_records(model: Path, n: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """n random int8 input sets (first three: all -128, all 127, all 0), per input and as driver records."""
    from toolchain.tflite_inspect import io_details

    details = io_details(model.read_bytes())["inputs"]
    rng = np.random.default_rng(seed)
    per_input = []
    for d in details:
        a = rng.integers(-128, 128, (n, *d["shape"][1:])).astype(np.int8)
        a[0], a[1], a[2] = -128, 127, 0
        per_input.append(a)
    records = np.concatenate([a.reshape(n, -1) for a in per_input], axis=1)
    return per_input, records


# ----------------------------------------------------------------------------------------------------------
# the runtime computes what TFLite Micro computes


def test_library_builds_without_warnings_under_strict_flags(tmp_path):
    for src in _library_sources():
        for extra in ([], ["-DMR_EMULATE_DSP"]):
            proc = subprocess.run([_gcc(), *STRICT_FLAGS, *extra, *INCLUDES, "-O2", "-c", str(src), "-o",
                                   str(tmp_path / (src.stem + ".o"))], capture_output=True, text=True)
            assert proc.returncode == 0, f"{src.name} {extra}: {proc.stderr}"


def test_library_builds_for_the_cortex_m4f_with_its_dsp_path(tmp_path):
    arm_gcc = shutil.which("arm-none-eabi-gcc")
    assert arm_gcc, "arm-none-eabi-gcc not on PATH: run scripts/setup.sh"
    flags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2", *STRICT_FLAGS]
    for src in _library_sources():
        obj = tmp_path / (src.stem + ".o")
        proc = subprocess.run([arm_gcc, *flags, *INCLUDES, "-c", str(src), "-o", str(obj)], capture_output=True,
                              text=True)
        assert proc.returncode == 0, f"{src.name}: {proc.stderr}"
    kernels = subprocess.run([arm_gcc.replace("gcc", "objdump"), "-d", str(tmp_path / "mr_kernels.o")],
                             capture_output=True, text=True, check=True).stdout
    assert "smlad" in kernels and "sxtb16" in kernels, "the M4 build lost its SIMD dot product"


@pytest.mark.parametrize("name", INT8_MODELS)
def test_outputs_equal_tflite_micro_bit_for_bit(name, zoo, drivers, tmp_path):
    from toolchain.verify import run_tflm

    model = zoo[name]
    used = int(info(drivers["plain"], model)["arena_used"])
    per_input, records = _random_records(model, N_RECORDS, seed=zlib.crc32(name.encode()))
    expected = run_tflm(model.read_bytes(), int8=per_input)

    for build in ("plain", "emulated_dsp"):
        got = run_records(drivers[build], model, used, records, tmp_path)
        assert got.shape == expected.shape
        bad = np.flatnonzero((got != expected).any(axis=1))
        assert bad.size == 0, (f"{build}: {bad.size}/{N_RECORDS} records differ from TFLM; record {bad[0]}: "
                               f"runtime {got[bad[0]].tolist()} TFLM {expected[bad[0]].tolist()}")
    # a share under the sanitizers, in an arena of exactly the size the runtime asked for
    got = run_records(drivers["sanitized"], model, used, records[:40], tmp_path)
    assert np.array_equal(got, expected[:40])


@pytest.mark.parametrize("name", INT8_MODELS)
def test_inputs_and_outputs_are_described_as_tflite_micro_does(name, zoo, drivers):
    from toolchain.tflite_inspect import io_details

    kv = info(drivers["plain"], zoo[name])
    assert kv["status"] == "OK"
    details = io_details(zoo[name].read_bytes())
    for kind in ("inputs", "outputs"):
        assert int(kv[kind]) == len(details[kind])
        for i, d in enumerate(details[kind]):
            p = f"{kind[:-1]}{i}_"
            assert [int(v) for v in kv[p + "dims"].split(",")] == d["shape"]
            assert int(kv[p + "bytes"]) == int(np.prod(d["shape"]))
            assert np.float32(kv[p + "scale"]) == np.float32(d["scale"])
            assert int(kv[p + "zero_point"]) == d["zero_point"]


# ----------------------------------------------------------------------------------------------------------
# the arena


def test_arena_plan_fits_in_what_tflite_micro_needs(zoo, drivers, capsys):
    """Our planner's bytes vs TFLM's recording allocator, model by model (printed with -s)."""
    from toolchain.verify import arena_bytes

    rows = []
    for name in INT8_MODELS:
        kv = info(drivers["plain"], zoo[name])
        ours, tflm = int(kv["arena_used"]), arena_bytes(zoo[name].read_bytes())
        rows.append((name, ours, int(kv["arena_persistent"]), int(kv["arena_activations"]), tflm))
    with capsys.disabled():
        print("\nmodel            ours  (persistent + activations)   TFLM")
        for name, ours, persistent, activations, tflm in rows:
            print(f"{name:14s} {ours:6d}  ({persistent:6d} + {activations:6d})       {tflm:6d}")
    for name, ours, persistent, activations, tflm in rows:
        # so the firmware can always allocate HB_MODEL_ARENA_BYTES (TFLM's figure) for the runtime
        assert ours <= tflm, f"{name}: runtime needs {ours} bytes, TFLM {tflm}"
        assert persistent + activations <= ours


def test_arena_too_small_says_how_much_is_needed(zoo, drivers):
    model = zoo["cnn4_full"]
    used = int(info(drivers["plain"], model)["arena_used"])
    short = info(drivers["plain"], model, used - 1)
    assert short["status"] == "ARENA_TOO_SMALL"
    assert used <= int(short["arena_needed"]) <= used + 7  # + worst-case alignment of another buffer
    assert f"need {short['arena_needed']} bytes" in short["error"]

    # from nothing, the reported sizes lead to a working arena in at most three calls
    size, statuses = 0, []
    for _ in range(3):
        kv = info(drivers["sanitized"], model, size)
        statuses.append(kv["status"])
        if kv["status"] == "OK":
            break
        assert kv["status"] == "ARENA_TOO_SMALL"
        assert int(kv["arena_needed"]) > size
        size = int(kv["arena_needed"])
    assert statuses[-1] == "OK", statuses


# ----------------------------------------------------------------------------------------------------------
# models that must be refused


def test_unsupported_operators_are_refused_by_code_and_position(zoo, drivers):
    from tflite_micro.python.tflite_micro import runtime

    for name, code in (("average_pool", AVERAGE_POOL_2D), ("tanh", TANH)):
        data = zoo[name].read_bytes()
        graph = runtime.convert_bytearray_to_object(bytearray(data))
        codes = [graph.operatorCodes[op.opcodeIndex].builtinCode for op in graph.subgraphs[0].operators]
        assert code in codes, f"{name}: the converter did not emit the operator this test needs: {codes}"
        for build in ("plain", "sanitized"):
            kv = info(drivers[build], zoo[name])
            assert kv["status"] == "UNSUPPORTED_OP", kv
            assert int(kv["op_code"]) == code
            assert int(kv["op_index"]) == codes.index(code)
            assert kv["error"].startswith(f"UNSUPPORTED_OP: op {codes.index(code)} code {code}")


def test_float_model_is_refused(zoo, drivers):
    kv = info(drivers["sanitized"], zoo["float"])
    assert kv["status"] == "BAD_TENSOR"
    assert "not int8" in kv["error"]


def _root_field(data: bytes, field: int) -> int:
    """Byte position of a root-table scalar field of a flatbuffer."""
    root = struct.unpack_from("<I", data, 0)[0]
    vtable = root - struct.unpack_from("<i", data, root)[0]
    return root + struct.unpack_from("<H", data, vtable + 4 + 2 * field)[0]


def test_schema_version_and_identifier_are_checked(zoo, drivers, tmp_path):
    data = bytearray(zoo["cnn4_full"].read_bytes())
    at = _root_field(bytes(data), 0)  # Model.version
    assert struct.unpack_from("<I", data, at)[0] == 3
    struct.pack_into("<I", data, at, 4)
    (tmp_path / "v4.tflite").write_bytes(bytes(data))
    kv = info(drivers["sanitized"], tmp_path / "v4.tflite")
    assert kv["status"] == "UNSUPPORTED_VERSION" and "version 4" in kv["error"]

    data = bytearray(zoo["cnn4_full"].read_bytes())
    data[4:8] = b"TFL2"
    (tmp_path / "id.tflite").write_bytes(bytes(data))
    assert info(drivers["sanitized"], tmp_path / "id.tflite")["status"] == "BAD_MODEL"

    (tmp_path / "empty.tflite").write_bytes(b"")
    assert info(drivers["sanitized"], tmp_path / "empty.tflite")["status"] == "BAD_MODEL"


@pytest.mark.parametrize("name, step", [("cnn4_full", 5), ("variants", 1)])
def test_truncated_models_are_refused_without_reading_past_the_end(name, step, zoo, drivers):
    """Every cut (every `step` bytes, and every byte near either end) in a heap block of exactly that
    length, under AddressSanitizer: only the whole model is accepted."""
    proc = _driver(drivers["sanitized"], "prefixes", zoo[name], step)
    counts = {k: int(v) for k, v in _key_values(proc.stdout).items()}
    size = zoo[name].stat().st_size
    tried = len([n for n in range(size + 1) if n % step == 0 or n < 64 or n + 64 > size])
    assert sum(counts.values()) == tried
    assert counts["OK"] == 1
    assert counts["BAD_MODEL"] == tried - 1


def _structure_mask(model: Path, out: Path) -> Path:
    """1 for every byte of the flatbuffer except the constant tensor data."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    data = model.read_bytes()
    root = schema.Model.GetRootAsModel(data, 0)
    mask = bytearray(b"\x01") * len(data)
    for i in range(root.BuffersLength()):
        buf = root.Buffers(i)
        if buf.DataLength():
            start = buf._tab.Vector(buf._tab.Offset(4))
            mask[start:start + buf.DataLength()] = bytes(buf.DataLength())
    assert 0 < sum(mask) < len(data)
    out.write_bytes(bytes(mask))
    return out


@pytest.mark.parametrize("name", ["cnn4_full", "variants"])
def test_random_byte_changes_are_refused_or_run_safely(name, zoo, drivers, tmp_path):
    """Thousands of copies with 1-4 bytes changed, under AddressSanitizer and UBSan: init returns a status
    (the driver aborts on anything else); an accepted copy runs in an arena of exactly arena_used bytes, is
    refused one byte less, and invokes with random inputs."""
    mask = _structure_mask(zoo[name], tmp_path / "mask.bin")
    totals = dict.fromkeys(STATUSES, 0)
    for args in ((1500, 11), (2500, 12, mask)):  # anywhere; then only the flatbuffer's structure
        proc = _driver(drivers["sanitized"], "mutate", zoo[name], *args)
        for k, v in _key_values(proc.stdout).items():
            totals[k] += int(v)
    assert sum(totals.values()) == 4000
    # the changes reached the checks, not only the weights
    for status in ("OK", "BAD_MODEL", "BAD_TENSOR"):
        assert totals[status] > 0, totals
