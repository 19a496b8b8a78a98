"""Full-integer quantization: int8 weights, activations, input and output; calibration on training beats only."""
from __future__ import annotations

import numpy as np

from heartbeat_core.domain import INPUT_SCALE
from heartbeat_core.errors import ModelError

CALIBRATION_BEATS = 1000


def representative_inputs(train_inputs: dict[str, np.ndarray], kind: str, n: int = CALIBRATION_BEATS,
                          seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Calibration samples drawn from the training split (one beat per sample, batch 1).

    For the device construction both inputs are int8 values q meaning q/128; one calibration beat is widened to
    the full int8 range (-128/128 .. 127/128) so the converter picks exactly scale 1/128, zero point 0 and the
    device's integers go into the model unchanged.
    """
    total = next(iter(train_inputs.values())).shape[0]
    if total == 0:
        raise ModelError("no training beats to calibrate the quantization with")
    rng = np.random.default_rng(seed)
    idx = rng.choice(total, size=min(n, total), replace=False)
    samples = [{k: v[i:i + 1].astype(np.float32) for k, v in train_inputs.items()} for i in idx]
    if kind == "device":
        lo, hi = -128 * INPUT_SCALE, 127 * INPUT_SCALE
        first = {k: v.copy() for k, v in samples[0].items()}
        for v in first.values():
            flat = v.reshape(-1)
            flat[int(np.argmin(flat))] = lo
            flat[int(np.argmax(flat))] = hi
        samples.insert(0, first)
    return samples


def quantize_int8(fixed_batch_model, calibration: list[dict[str, np.ndarray]], kind: str) -> bytes:
    """Convert a batch-1 Keras model to a full-int8 .tflite flatbuffer."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(fixed_batch_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    from heartbeat_core.ui import captured_native_output

    try:
        with captured_native_output() as converter_output:
            flatbuffer = converter.convert()
    except Exception as exc:  # the converter raises several types
        detail = "".join(converter_output).strip().splitlines()[-3:]
        raise ModelError(f"int8 conversion failed: {exc}", hint="converter said: " + " | ".join(detail)) from exc
    if kind == "device":
        from toolchain.tflite_inspect import io_details

        for d in io_details(flatbuffer)["inputs"]:
            if d["scale"] != INPUT_SCALE or d["zero_point"] != 0:
                raise ModelError(
                    f"input {d['name']} quantized with scale {d['scale']} / zero point {d['zero_point']}, "
                    f"the device needs {INPUT_SCALE} / 0", hint="check the calibration data")
    return bytes(flatbuffer)
