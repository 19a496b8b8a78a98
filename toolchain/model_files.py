"""The files of an exported model version, named once: ``models/<version>/`` and the ``models/current`` link.

A version folder holds the int8 flatbuffer, the same bytes as a C array and its header, the model card and any
confusion-matrix PNGs; a model is identified everywhere by the sha256 of its flatbuffer (``sha256_hex``).
The exporter writes these names, the version checks and the firmware's pre-build script read them, the MLflow
registry logs and registers the folder under them.
"""
from __future__ import annotations

import hashlib

TFLITE_NAME = "model_int8.tflite"
C_NAME = "model_data.c"
H_NAME = "model_data.h"
CARD_NAME = "card.json"
CURRENT_LINK = "current"


def sha256_hex(data: bytes) -> str:
    """The sha256 of some bytes as 64 lowercase hex digits (how cards, headers and the registry name a model)."""
    return hashlib.sha256(data).hexdigest()
