"""Helpers of the model-side server tests: a real MLflow registry in the test's state folder.

`register_current(settings, **metric_overrides)` registers the repository's exported model (models/current: the
int8 model the firmware runs) as a new version in the test's MLflow store, with the metrics of its model card
(overrides make a weaker candidate for gate tests). Nothing is trained.
"""
from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CURRENT = REPO / "models" / "current"
CARD = json.loads((CURRENT / "card.json").read_text())


def register_current(settings, **metric_overrides) -> int:
    from toolchain import runs

    metrics = {k: float(v) for k, v in CARD["summary"].items()}
    metrics.update(metric_overrides)
    info = runs.log_training_run(params={"version": CARD["version"], "protocol": CARD["protocol"]},
                                 metrics=metrics, artifacts=[], tags={"protocol": CARD["protocol"]},
                                 model_dir=CURRENT, settings=settings.base_settings())
    return int(info.model_version)


def promote(settings, version: int) -> None:
    from toolchain import registry

    registry.promote(version, settings=settings.base_settings())


def golden_beats() -> tuple[list[dict], list[list[int]]]:
    """The DSP golden beats (window, rr) and the current model's TFLM scores for them (tests/contract)."""
    dsp = json.loads((REPO / "tests" / "contract" / "dsp_golden.json").read_text())
    model = json.loads((REPO / "tests" / "contract" / "model_golden.json").read_text())
    assert model["model_sha256"] == CARD["sha256"], "tests/contract/model_golden.json is not models/current's"
    beats = [b for case in dsp["cases"] for b in case["beats"]]
    return beats, model["scores"]


def record_stream(settings, record: str = "119", seconds: int = 60):
    """The first `seconds` of a MIT-BIH record (ADC codes) and the beats the device reports for them."""
    from toolchain import dsp
    from toolchain.mitdb import load_record

    samples = load_record(settings.data_dir, record, "MLII").signal[: seconds * 360]
    return samples, dsp.device_beats(samples)


def stream_items(boot: int, samples, beats, alerts: dict[int, str], ecg_before: int = 1000, ecg_len: int = 2048,
                 model_sha256: str | None = None):
    """Ingest items of one boot: HELLO (the champion's sha256), every beat, an ALERT (with its ECG) for the beat
    indices in `alerts` (index -> label). Returns (items, {beat index: alert seq})."""
    from telemetry_items import alert, beat, hello

    items = [hello(boot, 1, model_sha256=model_sha256 or CARD["sha256"])]
    seq = 2
    alert_seqs: dict[int, int] = {}
    for k, r in enumerate(beats.r):
        r = int(r)
        label = alerts.get(k, "N")
        items.append(beat(boot, seq, label, r_sample=r))
        beat_seq = seq
        seq += 1
        if k in alerts:
            start = max(0, r - ecg_before)
            ecg = {"start_sample": start, "samples": [int(v) for v in samples[start:start + ecg_len]]}
            items.append(alert(boot, seq, beat_seq, label, ecg=ecg, r_sample=r))
            alert_seqs[k] = seq
            seq += 1
    return items, alert_seqs
