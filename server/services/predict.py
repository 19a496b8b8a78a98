"""Predictions with the champion model, with the device's int8 semantics. No HTTP in here.

The model runs under the `tflite-micro` interpreter (the TFLM reference the firmware is verified against,
`toolchain.verify.run_tflm`), on exactly the integers the device computes: the int8 beat window (128 values,
q/128) and the three int8 RR features (q/128), both with zero point 0. Inputs are matched to the model by
rank, as in `toolchain.verify` (4-D: the beat window, 2-D: the RR features). One interpreter per model version,
created on first use and kept; a lock serialises invokes on it.

/predict/random draws from the champion's test set (the DS2 records named in its model card): a test record
at random, then one of its beats at random (every test patient is equally likely). Beats are built with
`toolchain.data.build_beats` (the same construction and disk cache as training) and kept in memory per process.
"""
from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy.orm import Session

from heartbeat_core.domain import RR_FEATURES, WINDOW_LEN
from server.core.errors import ConflictError, InvalidError, NotFoundError
from server.core.logging import get_logger
from server.core.settings import Settings
from server.models.ml import PredictionLog, PredictionSource
from server.services.registry import ModelFiles, champion_files, toolchain_settings

if TYPE_CHECKING:
    from toolchain.data import BeatSet

log = get_logger("predict")


@dataclass
class Prediction:
    model_version: int
    label: str
    scores: list[int]  # int8 softmax output, class order of the model card
    probabilities: list[float]
    class_names: list[str]
    log_id: int | None = None
    true_label: str | None = None
    correct: bool | None = None
    record: str | None = None
    sample: int | None = None
    beat: list[int] | None = None
    rr: list[int] | None = None


def _interpreter(files: ModelFiles) -> tuple[Any, list[str], float, int]:
    """(the TFLM interpreter, the model's inputs in order, the output's scale and zero point) of a model."""
    if files.interpreter is None:
        from tflite_micro.python.tflite_micro import runtime

        it = runtime.Interpreter.from_bytes(files.flatbuffer)
        order = [("beat" if len(d["shape"]) == 4 else "rr") for d in sorted(files.card.get("inputs") or [],
                                                                          key=lambda d: d["index"])]
        if not order:  # a card without its inputs: ask the interpreter (it prints when asked one too many)
            from heartbeat_core.ui import captured_native_output

            with captured_native_output():
                for i in range(8):
                    try:
                        shape = it.get_input_details(i)["shape"]
                    except IndexError:
                        break
                    order.append("beat" if len(shape) == 4 else "rr")
        out = it.get_output_details(0)["quantization_parameters"]
        files.interpreter = (it, order, float(out["scales"][0]), int(out["zero_points"][0]))
    return files.interpreter


def check_inputs(beat: Sequence[int], rr: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The two inputs as int8 arrays; Invalid naming the field when a length or a value is wrong."""
    for name, values, n in (("beat", beat, WINDOW_LEN), ("rr", rr, RR_FEATURES)):
        if len(values) != n:
            raise InvalidError(f"{name} must hold {n} int8 values, got {len(values)}")
        bad = [i for i, v in enumerate(values) if not -128 <= int(v) <= 127]
        if bad:
            raise InvalidError(f"{name}[{bad[0]}] = {values[bad[0]]} is outside the int8 range -128..127")
    return np.asarray(beat, dtype=np.int8), np.asarray(rr, dtype=np.int8)


def run_model(files: ModelFiles, beat: np.ndarray, rr: np.ndarray) -> np.ndarray:
    """int8 scores of one beat under TFLM."""
    if files.card.get("data", {}).get("construction", "device") != "device":
        raise ConflictError(f"model version {files.version} was not trained on device beats; it cannot run on the "
                       "device's inputs")
    with files.lock:
        it, order, _, _ = _interpreter(files)
        arrays = {"beat": beat.reshape(1, 1, WINDOW_LEN, 1), "rr": rr.reshape(1, RR_FEATURES)}
        for j, name in enumerate(order):
            it.set_input(arrays[name], j)
        it.invoke()
        return np.asarray(it.get_output(0)[0], dtype=np.int8).copy()


def _prediction(files: ModelFiles, scores: np.ndarray) -> Prediction:
    _, _, scale, zero = _interpreter(files)
    names = files.class_names
    label = names[int(np.argmax(scores))]
    probs = [round(float((int(q) - zero) * scale), 6) for q in scores]
    return Prediction(files.version, label, [int(q) for q in scores], probs, names)


def _log(session: Session, p: Prediction, user_id: int | None, source: PredictionSource) -> None:
    row = PredictionLog(user_id=user_id, source=source, model_version=p.model_version, label=p.label,
                        scores=p.scores, true_label=p.true_label, correct=p.correct, record=p.record,
                        sample=p.sample)
    session.add(row)
    session.commit()
    p.log_id = row.id
    log.info("prediction %s: source=%s model_version=%s label=%s true_label=%s correct=%s record=%s sample=%s "
             "user=%s", row.id, source.value, p.model_version, p.label, p.true_label, p.correct, p.record,
             p.sample, user_id)


def predict(session: Session, settings: Settings, user_id: int | None, beat: Sequence[int],
            rr: Sequence[int]) -> Prediction:
    b, r = check_inputs(beat, rr)
    files = champion_files(settings)
    p = _prediction(files, run_model(files, b, r))
    _log(session, p, user_id, PredictionSource.predict)
    return p


# ----------------------------------------------------------------------------------- the test set

_beats: dict[tuple[str, str, str], BeatSet] = {}
_beats_lock = threading.Lock()


def champion_test_beats(settings: Settings, files: ModelFiles, record: str) -> BeatSet:
    """The device beats of one test record (BeatSet), built once per process (and cached on disk)."""
    from toolchain.data import build_beats

    lead = (files.card.get("data") or {}).get("lead", "MLII")
    tc = toolchain_settings(settings)
    key = (str(tc.data_dir), str(record), str(lead))
    with _beats_lock:
        if key not in _beats:
            _beats[key] = build_beats("device", (record,), tc.data_dir, lead, tc.cache_dir)
        return _beats[key]


def predict_random(session: Session, settings: Settings, user_id: int | None, record: str | None = None,
                   rng: random.Random | None = None) -> Prediction:
    from heartbeat_core.errors import DataError

    files = champion_files(settings)
    records = files.test_records
    if not records:
        raise ConflictError(f"the model card of version {files.version} names no test records")
    if record is not None and record not in records:
        raise NotFoundError(f"record {record!r} is not in the champion's test set ({', '.join(records)})")
    rng = rng or random.SystemRandom()
    chosen = record or rng.choice(records)
    try:
        beats = champion_test_beats(settings, files, chosen)
    except DataError as exc:
        raise ConflictError(f"the test record {chosen} cannot be read: {exc.one_line()}") from exc
    if len(beats) == 0:
        raise ConflictError(f"test record {chosen} has no labelled beats")
    assert beats.rr is not None  # device beats carry their RR features
    i = rng.randrange(len(beats))
    beat, rr = beats.x[i].astype(np.int8), beats.rr[i].astype(np.int8)
    p = _prediction(files, run_model(files, beat, rr))
    p.true_label = files.class_names[int(beats.y[i])]
    p.correct = p.label == p.true_label
    p.record, p.sample = str(chosen), int(beats.sample[i])
    p.beat, p.rr = [int(v) for v in beat], [int(v) for v in rr]
    _log(session, p, user_id, PredictionSource.random)
    return p
