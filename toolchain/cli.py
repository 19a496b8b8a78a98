"""The toolchain's commands of `heartbeat` (a plugin, like the bridge and the server: pyproject.toml's
`heartbeat.commands` entry points name `data`, `train`, `evaluate`, `export`, `models`, `promote`, `golden` and
`report` here; the root command is heartbeat_core.cli).

Every failure raises a HeartbeatError (printed as one line by the root); every long step shows a progress bar.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before any TensorFlow import: keep the terminal readable

import typer
from rich.table import Table

from heartbeat_core import ui
from heartbeat_core.domain import AAMI_CLASSES
from heartbeat_core.errors import HeartbeatError
from heartbeat_core.settings import PROJECT_ROOT, get_settings
from toolchain.mitdb import DS2
from toolchain.model_files import CARD_NAME, CURRENT_LINK, TFLITE_NAME
from toolchain.tables import card_table, ec57_table, percent

data_app = typer.Typer(help="MIT-BIH data: verify, build beats, download, Kaggle CSV.", no_args_is_help=True)
console = ui.console


def _records(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    return tuple(r.strip() for r in text.split(",") if r.strip())


# ----------------------------------------------------------------------------------------------- data
@data_app.command("verify")
def data_verify() -> None:
    """Check every record's files (and SHA256SUMS when present)."""
    from toolchain.mitdb import ALL_RECORDS, read_checksums, verify_record_files

    s = get_settings()
    checksums = read_checksums(s.data_dir)
    for rid in ui.track(ALL_RECORDS, "Verifying records"):
        verify_record_files(s.data_dir, rid, checksums)
    console.print(f"[green]OK[/green]: {len(ALL_RECORDS)} records in {s.data_dir}"
                  + (" match SHA256SUMS" if checksums else " (no SHA256SUMS to check against)"))


@data_app.command("download")
def data_download(force: Annotated[bool, typer.Option(help="Download even if the folder has data.")] = False) \
        -> None:
    """Download the MIT-BIH Arrhythmia Database from PhysioNet (wfdb) into HEARTBEAT_DATA_DIR."""
    from toolchain.mitdb import download

    s = get_settings()
    if (s.data_dir / "100.dat").exists() and not force:
        console.print(f"{s.data_dir} already holds MIT-BIH data; use --force to download again")
        return
    console.print(f"Downloading mitdb from PhysioNet into {s.data_dir} (network access, about 100 MB)")
    download(s.data_dir)
    console.print("[green]done[/green]")


@data_app.command("build")
def data_build(
    protocol: Annotated[str, typer.Option(help="inter-patient or intra-patient")] = "inter-patient",
    kind: Annotated[str, typer.Option(help="device or kaggle beat construction")] = "device",
    seed: int = 0,
) -> None:
    """Build (or load from the cache) a protocol's beats and print the class counts."""
    from toolchain.data import make_splits

    s = get_settings()
    splits = make_splits(protocol, kind, s.data_dir, s.cache_dir, seed=seed)
    table = Table(title=f"{protocol} / {kind}")
    table.add_column("split")
    for c in AAMI_CLASSES:
        table.add_column(c, justify="right")
    table.add_column("total", justify="right")
    for name, part in (("train", splits.train), ("validation", splits.val), ("test", splits.test)):
        counts = part.class_counts()
        table.add_row(name, *[str(counts[c]) for c in AAMI_CLASSES], str(len(part)))
    console.print(table)


@data_app.command("kaggle-csv")
def data_kaggle_csv(out_dir: Path, seed: int = 0) -> None:
    """Write the Kaggle-construction beats as mitbih_train.csv / mitbih_test.csv (intra-patient split)."""
    from toolchain.data import make_splits
    from toolchain.kaggle import write_kaggle_csv

    s = get_settings()
    splits = make_splits("intra-patient", "kaggle", s.data_dir, s.cache_dir, seed=seed, val_fraction=0.0)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_kaggle_csv(out_dir / "mitbih_train.csv", splits.train.x, splits.train.y)
    write_kaggle_csv(out_dir / "mitbih_test.csv", splits.test.x, splits.test.y)
    console.print(f"wrote {len(splits.train)} + {len(splits.test)} rows to {out_dir}")


# ----------------------------------------------------------------------------------------------- train
def train(
    protocol: Annotated[str, typer.Option(help="inter-patient (DS1/DS2) or intra-patient")] = "inter-patient",
    kind: Annotated[str, typer.Option(help="device (beat window + RR) or kaggle (187-sample beats)")] = "device",
    epochs: int = 30,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    class_weighting: Annotated[str, typer.Option(help="balanced, sqrt or none")] = "sqrt",
    seed: int = 0,
    version: Annotated[str | None, typer.Option(help="models/<version>/ (default: from the time)")] = None,
    train_records: Annotated[str | None, typer.Option(help="comma-separated records (default: protocol's)")] = None,
    test_records: Annotated[str | None, typer.Option(help="comma-separated records (default: protocol's)")] = None,
    baselines: Annotated[bool, typer.Option(help="also train Random Forest and XGBoost")] = True,
    current: Annotated[bool, typer.Option(help="point models/current at the new version")] = False,
    golden: Annotated[bool, typer.Option(help="rewrite tests/contract golden vectors for this model")] = False,
    kaggle_csv: Annotated[Path | None, typer.Option(help="train on a Kaggle-format CSV folder "
                                                            "(mitbih_train.csv, mitbih_test.csv) instead")] = None,
    branch_dropout: Annotated[float | None, typer.Option(help="share of training beats whose shape branch is "
                                                                 "dropped (default 0.8; 0 for intra-patient)")] = None,
    shape_l2: Annotated[float | None, typer.Option(help="L2 on the shape branch's dense layer (default 1e-3)")]
    = None,
) -> None:
    """Train CNN-4, quantize to int8, verify under TFLM, evaluate, export to models/ and log to MLflow."""
    from toolchain.job import run_training_job
    from toolchain.train import TrainParams

    params = TrainParams(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                         class_weighting=class_weighting, seed=seed)
    result = run_training_job(protocol, kind, params, version, train_records=_records(train_records),
                              test_records=_records(test_records), baselines=baselines, make_current=current,
                              golden_dir=PROJECT_ROOT / "tests" / "contract" if golden else None,
                              kaggle_csv=(kaggle_csv / "mitbih_train.csv", kaggle_csv / "mitbih_test.csv")
                              if kaggle_csv else None,
                              model_overrides={k: v for k, v in (("branch_dropout", branch_dropout),
                                                                 ("shape_l2", shape_l2)) if v is not None})
    _print_card(json.loads((result.version_dir / CARD_NAME).read_text()))
    console.print(f"exported [bold]{result.version_dir}[/bold]; MLflow run {result.run_id}, "
                  f"registered version {result.model_version}")


def _print_card(card: dict) -> None:
    console.print(card_table(card))
    m = card["metrics"]
    cmp = m.get("tflite_vs_tflm") or {}
    agreement = cmp.get("argmax_agreement")
    console.print(f"TF Lite vs TFLM: argmax agreement {'-' if agreement is None else f'{100 * agreement:.3f}'}%, "
                  f"largest score difference {cmp.get('max_lsb_difference')} LSB; TFLM arena "
                  f"{card.get('tflm_arena_bytes')} bytes; model {card.get('size_bytes')} bytes; "
                  f"sha256 {card.get('sha256')}")


# ----------------------------------------------------------------------------------------------- evaluate
def _version_dir(version: str) -> Path:
    path = get_settings().models_dir / version
    if not path.exists():
        raise HeartbeatError(f"no exported model {version!r}", str(path), "run `heartbeat train` or pick a version")
    return path.resolve()


def evaluate(
    version: Annotated[str, typer.Option(help="models/<version> to evaluate")] = CURRENT_LINK,
    pipeline: Annotated[bool, typer.Option(help="run the whole device path (detector, window, int8 model) on "
                                                "records and score it the AAMI EC57 way")] = False,
    records: Annotated[str | None, typer.Option(help="comma-separated records (default DS2)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the result as JSON")] = None,
) -> None:
    """Score an exported model: on its test split (float card figures, int8 TF Lite and TFLM), or the pipeline."""
    from toolchain.versions import verify_export

    vdir = _version_dir(version)
    verify_export(vdir)
    card = json.loads((vdir / CARD_NAME).read_text())
    flatbuffer = (vdir / TFLITE_NAME).read_bytes()
    s = get_settings()
    if pipeline:
        from toolchain.device_eval import evaluate_pipeline

        recs = _records(records) or DS2
        result = evaluate_pipeline(flatbuffer, recs, s.data_dir)
        _print_ec57(result)
    else:
        from toolchain.data import make_splits
        from toolchain.evaluate import evaluate_models

        d = card["data"]
        splits = make_splits(card["protocol"], d["construction"], s.data_dir, s.cache_dir, seed=d["seed"],
                             train_records=tuple(d["train_records"]), test_records=tuple(d["test_records"]))
        result = evaluate_models(splits.test, flatbuffer, png_dir=None)
        result["reports"]["float"] = card["metrics"]["float"]
        _print_card({**card, "metrics": {"float": card["metrics"]["float"], "int8_tflite": result["reports"]["tflite"],
                                         "int8_tflm": result["reports"]["tflm"],
                                         "tflite_vs_tflm": result["tflite_vs_tflm"]}})
    if json_out:
        json_out.write_text(json.dumps(result, indent=2, default=str))


def _print_ec57(result: dict) -> None:
    rows = list(result["per_record"].items()) + [("all", result["overall"])]
    console.print(ec57_table(rows, f"Device pipeline on {len(result['records'])} records"))


# ----------------------------------------------------------------------------------------------- export
def export(version: Annotated[str, typer.Option(help="models/<version>")] = CURRENT_LINK,
           make_current: Annotated[bool, typer.Option("--make-current", help="point models/current here")] = False) \
        -> None:
    """Verify an exported model and generate firmware/lib/model_data from it."""
    from toolchain.versions import generate_firmware_lib, point_current

    vdir = _version_dir(version)
    if make_current:
        point_current(get_settings().models_dir, vdir.name)
    info = generate_firmware_lib(vdir)
    console.print(f"[green]verified[/green] {vdir.name}; firmware/lib/model_data generated "
                  f"({info.get('sha256', '')})")


# ----------------------------------------------------------------------------------------------- registry
def models() -> None:
    """Registered model versions in MLflow with their aliases and key metrics."""
    from toolchain import registry

    table = Table(title="Registered CNN-4 versions")
    for col in ("version", "aliases", "sha256", "protocol", "TFLM acc", "TFLM macro-F1", "run"):
        table.add_column(col)
    for v in registry.list_versions():
        table.add_row(str(v.version), ",".join(v.aliases), (v.model_sha256 or "-")[:12], v.protocol or "-",
                      percent(v.metrics.get("tflm_accuracy")), percent(v.metrics.get("tflm_macro_f1")),
                      (v.run_id or "")[:12])
    console.print(table)


def promote(version: Annotated[str, typer.Argument(help="registered model version number")]) -> None:
    """Move the `champion` alias to a version if it passes the inter-patient gate (reasons are recorded)."""
    from toolchain import registry

    decision = registry.promote(version)
    for reason in decision.reasons:
        console.print(f"  {reason}")
    console.print(f"[green]version {version} is the champion[/green]")


def golden(version: Annotated[str, typer.Option(help="models/<version> whose outputs are recorded")] = CURRENT_LINK) \
        -> None:
    """Rewrite tests/contract/{dsp,model}_golden.json from real records and the given model."""
    from toolchain import golden as g

    vdir = _version_dir(version)
    card = json.loads((vdir / CARD_NAME).read_text())
    out = PROJECT_ROOT / "tests" / "contract"
    dsp_golden = g.dsp_vectors(get_settings().data_dir)
    g.write_json(out / "dsp_golden.json", dsp_golden)
    g.write_json(out / "model_golden.json",
                 g.model_vectors((vdir / TFLITE_NAME).read_bytes(), card["sha256"], card["version"],
                                 dsp_golden))
    console.print(f"wrote {out}/dsp_golden.json and model_golden.json for {card['version']}")


# ----------------------------------------------------------------------------------------------- report
# DS2 records for the report's pipeline run: clean rhythm, noise, F and V beats, S beats with long pauses
REPORT_PIPELINE_RECORDS = ("100", "105", "213", "232")

def report(retrain: Annotated[bool, typer.Option(help="train a new model even if models/current exists")]
           = False) -> None:
    """The model's report: load (or train) the shipped model, verify and export it, evaluate it on DS2."""
    from toolchain.job import run_training_job
    from toolchain.versions import generate_firmware_lib

    s = get_settings()
    current = s.models_dir / CURRENT_LINK
    if retrain or not current.exists():
        console.print("No shipped model (models/current): training CNN-4 on DS1, testing on DS2")
        result = run_training_job("inter-patient", "device", make_current=True)
        current = result.version_dir
    vdir = current.resolve()
    info = generate_firmware_lib(vdir)
    console.print(f"[green]verified[/green] models/{vdir.name} (sha256 {info.get('sha256', '')[:16]}...), "
                  "generated firmware/lib/model_data")
    evaluate(version=vdir.name, pipeline=False, records=None, json_out=None)
    evaluate(version=vdir.name, pipeline=True, records=",".join(REPORT_PIPELINE_RECORDS), json_out=None)
