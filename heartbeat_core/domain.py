"""The domain's shared facts, defined once: the AAMI classes, the sampling rate, the model's inputs.

The firmware's twins of these numbers are in firmware/include/app_config.h (checked against this module by
tests/firmware/test_dsp_twin.py) and the model's own contract is generated into model_data.h from its card.
"""
from __future__ import annotations

from typing import Literal, get_args

# AAMI EC57 heartbeat classes, in the model's output order (docs/protocol.md section 2)
ClassName = Literal["N", "S", "V", "F", "Q"]
AAMI_CLASSES: tuple[ClassName, ...] = get_args(ClassName)
CLASS_INDEX: dict[str, int] = {c: i for i, c in enumerate(AAMI_CLASSES)}
N_CLASSES = len(AAMI_CLASSES)

FS = 360  # Hz: the device's sampling rate (every MIT-BIH record's rate)

# The model's beat window: raw samples R-92 .. R+164, decimated by 2 (docs/architecture.md)
WINDOW_PRE = 92
WINDOW_POST = 164
DECIMATION = 2
WINDOW_LEN = (WINDOW_PRE + WINDOW_POST) // DECIMATION  # 128 int8 values
RR_FEATURES = 3  # pre/mean, post/mean, pre/post RR ratios, int8
INPUT_SCALE = 1.0 / 128.0  # the model's input quantization for both inputs (zero point 0)
