"""Schemas of /api/v1/predict: the model's input (as the device computes it) and the answer."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.config import JsonValue

from heartbeat_core.domain import AAMI_CLASSES, ClassName
from server.schemas.common import json_integer

Int8 = Annotated[int, Field(ge=-128, le=127), BeforeValidator(json_integer)]
_EXAMPLE_BEAT: list[JsonValue] = [*[0] * 30, 12, 40, 90, 127, 60, -20, -45, -30, *[-5] * 90]


class PredictRequest(BaseModel):
    """One beat: the int8 beat window and the int8 RR features, exactly the integers the device feeds its model
    (toolchain.dsp: window R-92..R+164 decimated to 128 values, q/128; RR ratios pre/mean, post/mean, pre/post
    coded q = round(256 (r - 1)) clamped to int8)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"beat": _EXAMPLE_BEAT, "rr": [-60, 40, -90]}]})

    beat: list[Int8] = Field(min_length=128, max_length=128,
                            description="128 int8 values (-128..127): the beat window, q/128.")
    rr: list[Int8] = Field(min_length=3, max_length=3,
                          description="3 int8 values (-128..127): the RR features, q/128.")


class PredictionPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "prediction_id": 12, "model_version": 3, "label": "V", "class_names": list(AAMI_CLASSES),
        "scores": [-128, -126, 126, -128, -128], "probabilities": [0.0, 0.007812, 0.992188, 0.0, 0.0]}]})

    prediction_id: int = Field(description="Id of the logged prediction.")
    model_version: int = Field(description="The registered version (the champion) that answered.")
    label: ClassName
    class_names: list[ClassName]
    scores: list[int] = Field(description="The model's int8 softmax output, as the device reports it.")
    probabilities: list[float] = Field(description="The scores dequantized ((q - zero point) x scale).")


class RandomPredictionPublic(PredictionPublic):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "prediction_id": 13, "model_version": 3, "label": "N", "class_names": list(AAMI_CLASSES),
        "scores": [127, -128, -128, -128, -128], "probabilities": [0.996094, 0.0, 0.0, 0.0, 0.0],
        "true_label": "N", "correct": True, "record": "100", "sample": 1907,
        "beat": _EXAMPLE_BEAT, "rr": [-3, 5, -8]}]})

    true_label: ClassName = Field(description="The beat's reference class (MIT-BIH annotation, AAMI class).")
    correct: bool
    record: str = Field(description="The MIT-BIH test record the beat comes from.")
    sample: int = Field(description="R peak of the beat (sample index at 360 Hz in the record).")
    beat: list[int]
    rr: list[int]
