"""`heartbeat evaluate`: the same metrics for the float model, the int8 model under TF Lite and under TFLM."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from heartbeat_core import ui
from heartbeat_core.domain import AAMI_CLASSES, N_CLASSES
from toolchain import verify
from toolchain.data import BeatSet
from toolchain.metrics import classification_report, flatten_metrics
from toolchain.plots import save_confusion_png

RUNTIMES = ("float", "tflite", "tflm")


def evaluate_models(test: BeatSet, flatbuffer: bytes, float_model=None, png_dir: Path | None = None,
                    label: str = "") -> dict:
    """Reports per runtime ({"float"?, "tflite", "tflm"}), their comparison and the confusion PNGs written."""
    from toolchain.train import predict_float

    inputs = test.model_inputs()
    scores: dict[str, np.ndarray] = {}
    if float_model is not None:
        ui.info("Scoring the float model")
        scores["float"] = predict_float(float_model, inputs)
    ui.info("Scoring the int8 model under TF Lite")
    scores["tflite"] = verify.run_tflite(flatbuffer, inputs)
    ui.info("Scoring the int8 model under TFLite Micro")
    scores["tflm"] = verify.run_tflm(flatbuffer, inputs)
    reports = {name: classification_report(test.y, s.argmax(axis=1), n_classes=N_CLASSES)
               for name, s in scores.items()}
    result = {"reports": reports, "tflite_vs_tflm": verify.compare_runtimes(scores["tflite"], scores["tflm"]),
              "pngs": [], "beats": len(test)}
    if "float" in scores:
        result["float_vs_tflm_agreement"] = float((scores["float"].argmax(1) == scores["tflm"].argmax(1)).mean())
    if png_dir is not None:
        png_dir.mkdir(parents=True, exist_ok=True)
        for name, rep in reports.items():
            path = png_dir / f"confusion_{name}.png"
            save_confusion_png(rep["confusion"], AAMI_CLASSES, path,
                               title=f"CNN-4 {name} {label}".strip())
            result["pngs"].append(str(path))
    return result


def flat_metrics(evaluation: dict) -> dict[str, float]:
    """MLflow metrics: <runtime>_<metric>, plus tflm_agreement (argmax agreement of TFLM with TF Lite)."""
    out: dict[str, float] = {}
    for name, rep in evaluation["reports"].items():
        out.update(flatten_metrics(rep, prefix=f"{name}_"))
    cmp = evaluation["tflite_vs_tflm"]
    out["tflm_agreement"] = cmp["argmax_agreement"]
    out["tflm_max_lsb_difference"] = float(cmp["max_lsb_difference"])
    return out
