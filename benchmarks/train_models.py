"""Full trainings (not part of the test suite): CNN-4 on the inter-patient and intra-patient protocols and on the
Kaggle construction, with the Random Forest and XGBoost baselines; reports wall time and the headline metrics.

    .venv/bin/python benchmarks/train_models.py [--epochs N] [--only inter|intra|kaggle]

Each training is a normal `run_training_job`, logged to MLflow, exported to <state>/benchmarks/models/ (not to the
repository's models/). The results are written to <state>/benchmarks/train_models.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from heartbeat_core import ui
from heartbeat_core.settings import get_settings
from toolchain.job import run_training_job
from toolchain.model_files import CARD_NAME
from toolchain.train import TrainParams

# (protocol, construction, model overrides). The shipped model's regularisation (shape-branch dropout and L2) is
# for generalising to unseen patients; the intra-patient comparison runs trains without it.
CONFIGS = {
    "inter": ("inter-patient", "device", {}),
    "intra": ("intra-patient", "device", {"branch_dropout": 0.0, "shape_l2": 0.0}),
    "kaggle": ("intra-patient", "kaggle", {"shape_l2": 0.0}),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=TrainParams().epochs)
    ap.add_argument("--only", choices=sorted(CONFIGS))
    args = ap.parse_args()
    ui.enable(True)
    base = get_settings()
    settings = base.model_copy(update={"models_dir": base.state_dir / "benchmarks" / "models"})
    out = {}
    for name, (protocol, kind, overrides) in CONFIGS.items():
        if args.only and name != args.only:
            continue
        t0 = time.time()
        res = run_training_job(protocol, kind, TrainParams(epochs=args.epochs), settings=settings,
                               model_overrides=overrides)
        card = json.loads((res.version_dir / CARD_NAME).read_text())  # the exported card (with sizes, sha256)
        m = card["metrics"]
        out[name] = {
            "version": res.version, "protocol": protocol, "kind": kind, "seconds": round(time.time() - t0, 1),
            "test_beats": card["data"]["test_beats"],
            **{f"{rt}_{k}": m[rt][k] for rt in ("float", "int8_tflite", "int8_tflm") for k in ("accuracy", "macro_f1")},
            "tflm_se": {c: v["se"] for c, v in m["int8_tflm"]["per_class"].items()},
            "tflm_ppv": {c: v["ppv"] for c, v in m["int8_tflm"]["per_class"].items()},
            "baselines": {b: {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"]} for b, r in m["baselines"].items()},
            "tflite_vs_tflm": m["tflite_vs_tflm"], "arena_bytes": card["tflm_arena_bytes"],
            "model_bytes": card["size_bytes"],
        }
        print(json.dumps(out[name], indent=2))
    path = base.state_dir / "benchmarks" / "train_models.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
