"""`heartbeat`: the project's one command line (Typer + Rich).

Every failure prints one line (what, where, what to do) and exits non-zero; every long step shows a progress bar.
Other parts of the project (edge bridge, server) add their command groups through the entry-point group
`heartbeat.commands`, so the toolchain never imports them.
"""
from __future__ import annotations

import json
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before any TensorFlow import: keep the terminal readable

import typer
from rich.table import Table

from toolchain import ui
from toolchain.errors import HeartbeatError
from toolchain.mitdb import AAMI_CLASSES, DS2
from toolchain.settings import get_settings

app = typer.Typer(name="heartbeat", help="Heartbeat Edge: on-device ECG beat classification and its MLOps loop.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
data_app = typer.Typer(help="MIT-BIH data: verify, build beats, download, Kaggle CSV.", no_args_is_help=True)
app.add_typer(data_app, name="data")
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
@app.command()
def train(
    protocol: Annotated[str, typer.Option(help="inter-patient (DS1/DS2) or intra-patient")] = "inter-patient",
    kind: Annotated[str, typer.Option(help="device (beat window + RR) or kaggle (187-sample beats)")] = "device",
    epochs: int = 30,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    class_weighting: Annotated[str, typer.Option(help="balanced, sqrt or none")] = "sqrt",
    seed: int = 0,
    version: Annotated[Optional[str], typer.Option(help="models/<version>/ (default: from the time)")] = None,
    train_records: Annotated[Optional[str], typer.Option(help="comma-separated records (default: protocol's)")] = None,
    test_records: Annotated[Optional[str], typer.Option(help="comma-separated records (default: protocol's)")] = None,
    baselines: Annotated[bool, typer.Option(help="also train Random Forest and XGBoost")] = True,
    current: Annotated[bool, typer.Option(help="point models/current at the new version")] = False,
    golden: Annotated[bool, typer.Option(help="rewrite tests/contract golden vectors for this model")] = False,
    kaggle_csv: Annotated[Optional[Path], typer.Option(help="train on a Kaggle-format CSV folder "
                                                            "(mitbih_train.csv, mitbih_test.csv) instead")] = None,
    branch_dropout: Annotated[Optional[float], typer.Option(help="share of training beats whose shape branch is "
                                                                 "dropped (default 0.8; 0 for intra-patient)")] = None,
    shape_l2: Annotated[Optional[float], typer.Option(help="L2 on the shape branch's dense layer (default 1e-3)")]
    = None,
) -> None:
    """Train CNN-4, quantize to int8, verify under TFLM, evaluate, export to models/ and log to MLflow."""
    from toolchain.job import run_training_job
    from toolchain.settings import PROJECT_ROOT
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
    _print_card(json.loads((result.version_dir / "card.json").read_text()))
    console.print(f"exported [bold]{result.version_dir}[/bold]; MLflow run {result.run_id}, "
                  f"registered version {result.model_version}")


def _fmt(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def _pair(stats: dict) -> str:
    return f"{_fmt(stats['se'])}/{_fmt(stats['ppv'])}"


def _print_card(card: dict) -> None:
    m = card["metrics"]
    runtimes = [("float", m.get("float")), ("int8 TF Lite", m.get("int8_tflite")), ("int8 TFLM", m.get("int8_tflm"))]
    runtimes += [(name.replace("random_forest", "Random Forest").replace("xgboost", "XGBoost"), rep)
                 for name, rep in (m.get("baselines") or {}).items()]
    table = Table(title=f"{card['name']} {card['version']}: {card['protocol']}, {card['data'].get('test_beats')} "
                        "test beats. Se/+P per class, %")
    table.add_column("model", no_wrap=True)
    table.add_column("acc", justify="right")
    table.add_column("macro-F1", justify="right")
    for c in AAMI_CLASSES:
        table.add_column(c, justify="right", no_wrap=True)
    for name, rep in runtimes:
        if rep:
            table.add_row(name, _fmt(rep["accuracy"]), _fmt(rep["macro_f1"]),
                          *[_pair(rep["per_class"][c]) for c in AAMI_CLASSES])
    console.print(table)
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


@app.command()
def evaluate(
    version: Annotated[str, typer.Option(help="models/<version> to evaluate")] = "current",
    pipeline: Annotated[bool, typer.Option(help="run the whole device path (detector, window, int8 model) on "
                                                "records and score it the AAMI EC57 way")] = False,
    records: Annotated[Optional[str], typer.Option(help="comma-separated records (default DS2)")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="also write the result as JSON")] = None,
) -> None:
    """Score an exported model: on its test split (float card figures, int8 TF Lite and TFLM), or the pipeline."""
    from toolchain.export import verify_export

    vdir = _version_dir(version)
    verify_export(vdir)
    card = json.loads((vdir / "card.json").read_text())
    flatbuffer = (vdir / "model_int8.tflite").read_bytes()
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
    table = Table(title=f"Device pipeline on {len(result['records'])} records, AAMI EC57 beat-by-beat (150 ms). "
                        "Se/+P, %")
    table.add_column("record", no_wrap=True)
    table.add_column("beats", justify="right")
    table.add_column("QRS", justify="right", no_wrap=True)
    for c in AAMI_CLASSES[:4]:
        table.add_column(c, justify="right", no_wrap=True)
    rows = list(result["per_record"].items()) + [("all", result["overall"])]
    for rid, summary in rows:
        gross = summary["gross"]["per_class"]
        table.add_row(rid, str(summary["n_ref"]), _pair(summary["qrs"]),
                      *[_pair(gross[c]) for c in AAMI_CLASSES[:4]])
    console.print(table)


# ----------------------------------------------------------------------------------------------- export
@app.command()
def export(version: Annotated[str, typer.Option(help="models/<version>")] = "current",
           make_current: Annotated[bool, typer.Option("--make-current", help="point models/current here")] = False) \
        -> None:
    """Verify an exported model and generate firmware/lib/model_data from it."""
    from toolchain.export import generate_firmware_lib, point_current

    vdir = _version_dir(version)
    if make_current:
        point_current(get_settings().models_dir, vdir.name)
    info = generate_firmware_lib(vdir)
    console.print(f"[green]verified[/green] {vdir.name}; firmware/lib/model_data generated "
                  f"({info.get('sha256', '')})")


# ----------------------------------------------------------------------------------------------- registry
@app.command()
def models() -> None:
    """Registered model versions in MLflow with their aliases and key metrics."""
    from toolchain import registry

    table = Table(title="Registered CNN-4 versions")
    for col in ("version", "aliases", "sha256", "protocol", "TFLM acc", "TFLM macro-F1", "run"):
        table.add_column(col)
    for v in registry.list_versions():
        table.add_row(str(v.version), ",".join(v.aliases), v.tags.get("model_sha256", "-")[:12], v.protocol or "-",
                      _fmt(v.metrics.get("tflm_accuracy")), _fmt(v.metrics.get("tflm_macro_f1")),
                      (v.run_id or "")[:12])
    console.print(table)


@app.command()
def promote(version: Annotated[str, typer.Argument(help="registered model version number")]) -> None:
    """Move the `champion` alias to a version if it passes the inter-patient gate (reasons are recorded)."""
    from toolchain import registry

    decision = registry.promote(version)
    for reason in decision.reasons:
        console.print(f"  {reason}")
    console.print(f"[green]version {version} is the champion[/green]")


@app.command()
def golden(version: Annotated[str, typer.Option(help="models/<version> whose outputs are recorded")] = "current") \
        -> None:
    """Rewrite tests/contract/{dsp,model}_golden.json from real records and the given model."""
    from toolchain import golden as g
    from toolchain.settings import PROJECT_ROOT

    vdir = _version_dir(version)
    card = json.loads((vdir / "card.json").read_text())
    out = PROJECT_ROOT / "tests" / "contract"
    dsp_golden = g.dsp_vectors(get_settings().data_dir)
    g.write_json(out / "dsp_golden.json", dsp_golden)
    g.write_json(out / "model_golden.json",
                 g.model_vectors((vdir / "model_int8.tflite").read_bytes(), card["sha256"], card["version"],
                                 dsp_golden))
    console.print(f"wrote {out}/dsp_golden.json and model_golden.json for {card['version']}")


# ----------------------------------------------------------------------------------------------- report
# DS2 records for the report's pipeline run: clean rhythm, noise, F and V beats, S beats with long pauses
REPORT_PIPELINE_RECORDS = ("100", "105", "213", "232")

@app.command("report")
def report(retrain: Annotated[bool, typer.Option(help="train a new model even if models/current exists")]
           = False) -> None:
    """The model's report: load (or train) the shipped model, verify and export it, evaluate it on DS2."""
    from toolchain.export import generate_firmware_lib
    from toolchain.job import run_training_job

    s = get_settings()
    current = s.models_dir / "current"
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


def _load_plugins() -> None:
    """Adds every `heartbeat.commands` entry point: a Typer app as a command group, a function as a command.

    A part whose dependencies are not installed (e.g. the server on a bridge-only PC) becomes a command that says so.
    """
    for ep in entry_points(group="heartbeat.commands"):
        try:
            sub = ep.load()
        except ImportError as exc:
            _missing_plugin(ep.name, exc)
            continue
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=ep.name)
        else:
            app.command(name=ep.name)(sub)


def _missing_plugin(name: str, exc: ImportError) -> None:
    def unavailable(args: Annotated[Optional[list[str]], typer.Argument(hidden=True)] = None) -> None:
        raise HeartbeatError(f"`heartbeat {name}` is not available here: {exc}",
                             hint="install the extra it needs (pip install -e '.[...]')")

    app.command(name=name, help=f"(not available: {exc})",
                context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(unavailable)


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning)  # TF/TFLite deprecation chatter, not for users
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    ui.enable(True)
    debug = os.environ.get("HEARTBEAT_DEBUG") == "1"
    try:
        _load_plugins()
        command = typer.main.get_command(app)
        command.main(args=argv, prog_name="heartbeat", standalone_mode=False)
        return 0
    except HeartbeatError as exc:
        console.print(f"[red]error:[/red] {exc.one_line()}", highlight=False, soft_wrap=True)
        return 1
    except typer.Abort:
        console.print("[red]aborted[/red]")
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.TyperException as exc:  # usage errors: bad option values, unknown commands
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
        return int(getattr(exc, "exit_code", 2))
    except Exception as exc:  # noqa: BLE001 - the one-line promise holds for bugs too
        if debug:
            raise
        console.print(f"[red]error:[/red] unexpected {type(exc).__name__}: {exc} "
                      "(run again with HEARTBEAT_DEBUG=1 for the traceback)", highlight=False, soft_wrap=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
