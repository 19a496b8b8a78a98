"""Reading a .tflite model: its input and output tensors (shape, type, int8 quantization, role) and its operators.

``inspect_tflite`` reads the inputs and outputs with the TFLite Micro interpreter, the device's reference, and
names what each tensor is for by its shape (the converter does not keep the Keras input order): the beat window is
the one 4-D input ([1, 1, L, 1]), the RR features the one 2-D input ([1, RR_FEATURES]), the first output the class
probabilities. ``require_int8`` is the policy every exported model meets. ``io_details`` is the same reading as
plain dicts keyed by the Keras input names the data sets use ("beat", "rr"); ``operators`` lists the builtin ops.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from heartbeat_core.errors import ModelError


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


def inspect_tflite(tflite_bytes: bytes, where: str | None = None) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """Read the inputs and outputs of a .tflite model with the TFLite Micro interpreter.

    Raises ModelError if the bytes are not a TFLite flatbuffer TFLite Micro can load. Types are reported as
    found; the int8 policy is checked by ``require_int8``.
    """
    here = where or "the .tflite bytes"
    if not isinstance(tflite_bytes, (bytes, bytearray)):
        raise ModelError(f"the model must be bytes, not {type(tflite_bytes).__name__}", here)
    data = bytes(tflite_bytes)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(
            "not a TFLite flatbuffer (file identifier 'TFL3' missing at byte 4)", here,
            "pass the bytes written by tf.lite.TFLiteConverter",
        )
    from tflite_micro.python.tflite_micro import runtime  # lazy: keeps importing this module light

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


def require_int8(inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo], where: str) -> None:
    """The int8 policy of an exported model: int8 inputs and outputs, a positive scale, an int8 zero point and
    fixed positive dimensions; ModelError naming the first tensor that breaks it."""
    for kind, tensors in (("input", inputs), ("output", outputs)):
        for t in tensors:
            if t.dtype != "int8":
                raise ModelError(
                    f"{kind} {t.index} ({t.name}) is {t.dtype}, not int8", where,
                    "convert with inference_input_type=tf.int8 and inference_output_type=tf.int8",
                )
            if not (math.isfinite(t.scale) and t.scale > 0.0):
                raise ModelError(
                    f"{kind} {t.index} ({t.name}) has scale {t.scale}; an int8 tensor needs a positive scale", where,
                )
            if not -128 <= t.zero_point <= 127:
                raise ModelError(f"{kind} {t.index} ({t.name}) has zero point {t.zero_point}, outside int8", where)
            if not t.shape or any(d <= 0 for d in t.shape):
                raise ModelError(
                    f"{kind} {t.index} ({t.name}) has shape {list(t.shape)}; need fixed positive dims", where,
                )


def _input_key(shape: tuple[int, ...]) -> str:
    """The Keras input (and `BeatSet.model_inputs()` key) a model input is fed from, by rank."""
    return "beat" if len(shape) == 4 else "rr"


def io_details(flatbuffer: bytes) -> dict[str, list[dict[str, Any]]]:
    """Inputs and outputs of a .tflite in model order, as dicts: name ("beat"/"rr" for inputs by rank,
    "scores" for outputs), shape, dtype, scale, zero point."""
    inputs, outputs = inspect_tflite(flatbuffer)

    def entry(t: TensorInfo, name: str) -> dict[str, Any]:
        return {"name": name, "shape": list(t.shape), "dtype": t.dtype, "scale": t.scale, "zero_point": t.zero_point}

    return {"inputs": [entry(t, _input_key(t.shape)) for t in inputs],
            "outputs": [entry(t, "scores") for t in outputs]}


def operators(flatbuffer: bytes) -> list[str]:
    """Builtin operator names used by the model's graph."""
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_content=flatbuffer)
    return sorted({d["op_name"] for d in interp._get_ops_details() if d["op_name"] != "DELEGATE"})
