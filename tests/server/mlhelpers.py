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
    from toolchain import registry

    metrics = {k: float(v) for k, v in CARD["summary"].items()}
    metrics.update(metric_overrides)
    info = registry.log_training_run(params={"version": CARD["version"], "protocol": CARD["protocol"]},
                                     metrics=metrics, artifacts=[], tags={"protocol": CARD["protocol"]},
                                     model_dir=CURRENT, settings=settings.toolchain_settings())
    return int(info.model_version)


def promote(settings, version: int) -> None:
    from toolchain import registry

    registry.promote(version, settings=settings.toolchain_settings())


def golden_beats() -> tuple[list[dict], list[list[int]]]:
    """The DSP golden beats (window, rr) and the current model's TFLM scores for them (tests/contract)."""
    dsp = json.loads((REPO / "tests" / "contract" / "dsp_golden.json").read_text())
    model = json.loads((REPO / "tests" / "contract" / "model_golden.json").read_text())
    assert model["model_sha256"] == CARD["sha256"], "tests/contract/model_golden.json is not models/current's"
    beats = [b for case in dsp["cases"] for b in case["beats"]]
    return beats, model["scores"]
