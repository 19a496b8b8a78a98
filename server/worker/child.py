"""One retraining job in its own process: `python -m server.worker.child <job folder>`.

The worker (runner.py) writes <job folder>/run.json (the job's parameters, the toolchain's folders and MLflow
store, the clinician-labelled beats file) and starts this module with stdout and stderr appended to job.log.
TensorFlow is imported here only, never by the API process. The outcome goes to <job folder>/result.json:
{"status": "succeeded", "version", "run_id", "model_version", "metrics"} or {"status": "failed", "error"}.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _write_result(folder: Path, result: dict[str, Any]) -> None:
    from server.core.files import write_private

    write_private(folder / "result.json", json.dumps(result, indent=2, sort_keys=True))


def _leave_a_core_free() -> None:
    """TensorFlow uses every core by default; the API shares the machine, so training leaves one free."""
    import tensorflow as tf

    threads = max(1, (os.cpu_count() or 2) - 1)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def run(folder: Path) -> int:
    from rich.console import Console

    from heartbeat_core import ui
    from heartbeat_core.errors import HeartbeatError

    spec = json.loads((folder / "run.json").read_text())
    log = logging.getLogger("server.worker.job")
    ui.enable(True)
    ui.console = Console(file=sys.stdout, force_terminal=False, width=120)
    params = spec["params"]
    try:
        from heartbeat_core.settings import HeartbeatSettings
        from toolchain.data import BeatSet
        from toolchain.job import run_training_job
        from toolchain.train import TrainParams

        _leave_a_core_free()
        tc = HeartbeatSettings(**spec["toolchain"])
        train = TrainParams(epochs=params["epochs"], batch_size=params["batch_size"],
                            learning_rate=params["learning_rate"], class_weighting=params["class_weighting"],
                            patience=params["patience"], seed=params["seed"])
        extra = None
        if spec.get("extra_beats"):
            extra = BeatSet.load(spec["extra_beats"], "device")
            log.info("clinician-labelled beats added to training: %d", len(extra))
        sample = params.get("sample_size") if params.get("data") == "recent" else None
        records = params.get("train_records")
        test_records = params.get("test_records")
        log.info("training: %s", json.dumps(params, sort_keys=True))
        result = run_training_job(
            "inter-patient", "device", train, version=spec.get("version"), settings=tc,
            train_records=tuple(records) if records else None,
            test_records=tuple(test_records) if test_records else None,
            baselines=bool(params.get("baselines")), register=True, extra_params=spec.get("mlflow_params"),
            extra_train=extra if extra is not None and len(extra) else None, train_sample=sample)
        summary = result.card.get("summary", {})
        _write_result(folder, {"status": "succeeded", "version": result.version, "run_id": result.run_id,
                               "model_version": result.model_version, "version_dir": str(result.version_dir),
                               "metrics": summary, "train_beats": result.card["data"].get("train_beats"),
                               "test_beats": result.card["data"].get("test_beats")})
        log.info("succeeded: version %s, MLflow run %s, registered model version %s", result.version,
                 result.run_id, result.model_version)
        return 0
    except HeartbeatError as exc:
        log.error("failed: %s", exc.one_line())
        _write_result(folder, {"status": "failed", "error": exc.one_line()})
        return 1
    except Exception as exc:  # the job's log keeps the traceback; the API shows the one-line reason
        traceback.print_exc()
        _write_result(folder, {"status": "failed", "error": f"{type(exc).__name__}: {exc}"})
        return 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not (Path(args[0]) / "run.json").is_file():
        print("usage: python -m server.worker.child <job folder with run.json>", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
