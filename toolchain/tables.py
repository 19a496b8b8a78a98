"""Rich tables of the toolchain's reports, one definition each: a model card's figures and an AAMI EC57 summary.

`heartbeat train|evaluate`, `heartbeat replay` and the main job print through these.
"""
from __future__ import annotations

from typing import Any

from rich.table import Table

from heartbeat_core.domain import AAMI_CLASSES


def percent(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{100 * v:.{digits}f}"


def se_ppv(stats: dict[str, Any]) -> str:
    return f"{percent(stats['se'])}/{percent(stats['ppv'])}"


def ec57_table(rows: list[tuple[str, dict[str, Any]]], title: str) -> Table:
    """One row per (name, EC57 summary from toolchain.ec57.ec57_summary): beats, QRS and per-class Se/+P."""
    table = Table(title=f"{title}: AAMI EC57 beat-by-beat (150 ms), Se/+P %")
    table.add_column("record", no_wrap=True)
    table.add_column("beats", justify="right")
    table.add_column("QRS", justify="right", no_wrap=True)
    for c in AAMI_CLASSES:
        table.add_column(c, justify="right", no_wrap=True)
    for name, summary in rows:
        gross = summary["gross"]["per_class"]
        table.add_row(name, str(summary["n_ref"]), se_ppv(summary["qrs"]), *[se_ppv(gross[c]) for c in AAMI_CLASSES])
    return table


def card_table(card: dict[str, Any]) -> Table:
    """Accuracy, macro-F1 and per-class Se/+P of every runtime (and baseline) in a model card's metrics."""
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
            table.add_row(name, percent(rep["accuracy"]), percent(rep["macro_f1"]),
                          *[se_ppv(rep["per_class"][c]) for c in AAMI_CLASSES])
    return table
