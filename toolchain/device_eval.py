"""`heartbeat evaluate --pipeline`: the whole device path on records, scored the AAMI EC57 way.

Samples -> QRS detector -> beat window + RR features -> int8 model under TFLite Micro, exactly as the firmware
runs it, then each reported beat is matched to the reference annotations within 150 ms.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from heartbeat_core import ui
from heartbeat_core.domain import FS, N_CLASSES, WINDOW_LEN
from toolchain import dsp, verify
from toolchain.ec57 import ec57_summary, match_beats
from toolchain.mitdb import DEFAULT_LEAD, load_record
from toolchain.tflite_inspect import io_details

RECORD_STRIDE = 10**8  # sample offset between records when the whole set is scored as one stretch


def classify_stream(flatbuffer: bytes, samples: np.ndarray) -> tuple[dsp.Beats, np.ndarray]:
    """Device beats of a stream and their int8 scores from TFLM."""
    beats = dsp.device_beats(samples)
    if len(beats.r) == 0:
        return beats, np.zeros((0, N_CLASSES), dtype=np.int8)
    details = io_details(flatbuffer)["inputs"]
    arrays = {"beat": beats.windows.reshape(-1, 1, WINDOW_LEN, 1), "rr": beats.rr}
    int8 = [arrays[d["name"]].astype(np.int8) for d in details]
    return beats, verify.run_tflm(flatbuffer, int8=int8)


def evaluate_pipeline(flatbuffer: bytes, records: tuple[str, ...], data_dir: Path,
                      lead: str | int = DEFAULT_LEAD) -> dict:
    per_record = {}
    all_ref, all_ref_lab, all_det, all_det_lab = [], [], [], []
    for k, rid in enumerate(ui.track(records, "Running the device pipeline")):
        rec = load_record(data_dir, rid, lead)
        beats, scores = classify_stream(flatbuffer, rec.signal)
        pred = scores.argmax(axis=1) if len(scores) else np.zeros(0, dtype=np.int64)
        ref, ref_lab = rec.beat_annotations()
        per_record[rid] = ec57_summary(match_beats(ref, ref_lab, beats.r, pred, fs=FS))
        offset = k * RECORD_STRIDE
        all_ref.append(ref + offset)
        all_ref_lab.append(ref_lab)
        all_det.append(beats.r + offset)
        all_det_lab.append(pred)
    overall = ec57_summary(match_beats(np.concatenate(all_ref), np.concatenate(all_ref_lab),
                                       np.concatenate(all_det), np.concatenate(all_det_lab), fs=FS))
    return {"records": list(records), "overall": overall, "per_record": per_record}
