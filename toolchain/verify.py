"""Running the int8 model: under TF Lite and under TFLite Micro's own interpreter (the device's reference), the
arena TFLM needs, how far the two runtimes agree and whether the model uses only the device runtime's operators.

Inputs are matched to the model by rank (toolchain.tflite_inspect.io_details): the beat window is the 4-D input
([1, 1, L, 1]), the RR features the 2-D one ([1, RR_FEATURES]); the converter's input order is not relied on.
"""
from __future__ import annotations

import re

import numpy as np

from heartbeat_core import ui
from heartbeat_core.errors import ModelError
from toolchain.tflite_inspect import io_details, operators

OPS_SUPPORTED_BY_DEVICE = ("CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "ADD", "SOFTMAX")


def quantize_input(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)


def int8_inputs(flatbuffer: bytes, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The float model inputs quantized per the model's own input parameters, in model input order."""
    details = io_details(flatbuffer)["inputs"]
    missing = [d["name"] for d in details if d["name"] not in inputs]
    if missing:
        raise ModelError(f"model needs inputs {missing}, data has {sorted(inputs)}")
    return [quantize_input(inputs[d["name"]], d["scale"], d["zero_point"]) for d in details]


def run_tflite(flatbuffer: bytes, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """int8 scores [n, classes] under the TF Lite interpreter (reference kernels, no delegate)."""
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_content=flatbuffer,
                                 experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    in_details = interp.get_input_details()
    by_rank = {len(d["shape"]): d["index"] for d in in_details}
    q = int8_inputs(flatbuffer, inputs)
    model_order = io_details(flatbuffer)["inputs"]
    out_index = interp.get_output_details()[0]["index"]
    n = q[0].shape[0]
    result = np.zeros((n, interp.get_output_details()[0]["shape"][-1]), dtype=np.int8)
    for i in ui.track(range(n), "int8 model under TF Lite"):
        for d, arr in zip(model_order, q, strict=True):
            interp.set_tensor(by_rank[len(d["shape"])], arr[i:i + 1])
        interp.invoke()
        result[i] = interp.get_tensor(out_index)[0]
    return result


def run_tflm(flatbuffer: bytes, inputs: dict[str, np.ndarray] | None = None,
             int8: list[np.ndarray] | None = None) -> np.ndarray:
    """int8 scores [n, classes] under TFLite Micro's interpreter (the `tflite-micro` package)."""
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(flatbuffer)
    q = int8 if int8 is not None else int8_inputs(flatbuffer, inputs)
    n = q[0].shape[0]
    n_out = int(it.get_output_details(0)["shape"][-1])
    result = np.zeros((n, n_out), dtype=np.int8)
    for i in ui.track(range(n), "int8 model under TFLite Micro"):
        for j, arr in enumerate(q):
            it.set_input(arr[i:i + 1], j)
        it.invoke()
        result[i] = it.get_output(0)[0]
    return result


def arena_bytes(flatbuffer: bytes) -> int:
    """Tensor arena bytes TFLM actually allocates for the model (from its recording allocator)."""
    from tflite_micro.python.tflite_micro import runtime

    from heartbeat_core.ui import captured_native_output

    it = runtime.Interpreter.from_bytes(flatbuffer)
    with captured_native_output() as out:
        it.print_allocations()
    text = "".join(out)
    m = re.search(r"Arena allocation total (\d+) bytes", text)
    if not m:
        raise ModelError("TFLM did not report its arena size", hint=text[:200])
    return int(m.group(1))


def compare_runtimes(tflite_scores: np.ndarray, tflm_scores: np.ndarray) -> dict:
    """How far TF Lite and TFLM are apart: argmax agreement and the largest score difference in LSB."""
    diff = np.abs(tflite_scores.astype(np.int16) - tflm_scores.astype(np.int16))
    agree = tflite_scores.argmax(axis=1) == tflm_scores.argmax(axis=1)
    return {
        "argmax_agreement": float(agree.mean()) if agree.size else 1.0,
        "max_lsb_difference": int(diff.max()) if diff.size else 0,
        "beats_with_difference": int((diff.max(axis=1) > 0).sum()) if diff.size else 0,
    }


def check_device_ops(flatbuffer: bytes) -> list[str]:
    ops = operators(flatbuffer)
    unsupported = [op for op in ops if op not in OPS_SUPPORTED_BY_DEVICE]
    if unsupported:
        raise ModelError(f"model uses operators the device runtime does not implement: {unsupported}",
                         hint=f"the firmware implements {', '.join(OPS_SUPPORTED_BY_DEVICE)}")
    return ops
