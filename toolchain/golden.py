"""Golden vectors for the firmware: real MIT-BIH samples in, R peaks, int8 model inputs and scores out.

tests/contract/dsp_golden.json is model-independent (detector and window); tests/contract/model_golden.json holds
the TFLM outputs of the current model on those beats, stamped with the model's sha256. The C and the Python tests
read the same files.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from heartbeat_core.domain import FS, RR_FEATURES, WINDOW_LEN
from toolchain import dsp
from toolchain.mitdb import DEFAULT_LEAD, load_record

# (record, start second, seconds): normal rhythm, frequent V and F beats, long pauses, noise, S beats.
SEGMENTS: tuple[tuple[str, int, int], ...] = (
    ("100", 0, 30), ("208", 60, 30), ("232", 120, 30), ("105", 300, 30), ("209", 0, 30),
    ("200", 480, 30),  # a search-back that must run before that sample's own candidate
)


def dsp_vectors(data_dir: Path, segments=SEGMENTS) -> dict:
    cases = []
    for rid, start_s, length_s in segments:
        rec = load_record(data_dir, rid, DEFAULT_LEAD)
        samples = rec.signal[start_s * FS:(start_s + length_s) * FS]
        beats = dsp.device_beats(samples)
        cases.append({
            "record": rid, "lead": rec.lead, "start_sample": start_s * FS,
            "samples": samples.astype(int).tolist(),
            "r_peaks": dsp.detect_r_peaks(samples).astype(int).tolist(),
            "beats": [{"r": int(r), "window": w.astype(int).tolist(), "rr": f.astype(int).tolist()}
                      for r, w, f in zip(beats.r, beats.windows, beats.rr, strict=True)],
        })
    return {"dsp_version": dsp.DSP_VERSION, "fs": FS, "window_len": WINDOW_LEN,
            "rr_features": RR_FEATURES, "cases": cases}


def model_vectors(flatbuffer: bytes, sha256: str, version: str, dsp_golden: dict) -> dict:
    from toolchain import verify
    from toolchain.tflite_inspect import io_details

    details = io_details(flatbuffer)["inputs"]
    windows = np.array([b["window"] for c in dsp_golden["cases"] for b in c["beats"]], dtype=np.int8)
    rr = np.array([b["rr"] for c in dsp_golden["cases"] for b in c["beats"]], dtype=np.int8)
    arrays = {"beat": windows.reshape(-1, 1, WINDOW_LEN, 1), "rr": rr}
    scores = verify.run_tflm(flatbuffer, int8=[arrays[d["name"]] for d in details])
    return {"model_version": version, "model_sha256": sha256, "beats": len(windows),
            "scores": scores.astype(int).tolist()}


def write_json(path: Path, payload: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    return path
