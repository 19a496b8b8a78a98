"""Figures of the toolchain's reports: the confusion-matrix heat map (matplotlib, Agg) written as PNG.

The exporter attaches these PNGs to a model version (models/<version>/confusion_<runtime>.png).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from heartbeat_core.errors import DataError


def save_confusion_png(matrix: Any, class_names: Sequence[str], path: str | os.PathLike[str],
                       title: str = "Confusion matrix") -> Path:
    """Write a confusion-matrix heat map (counts and row-normalised percentages) as PNG; return the path.

    Rows are reference classes (with their support), columns predicted classes. The colour of a cell is
    its share of the row, so rare classes are as readable as common ones. The file is written to a
    temporary name and renamed, so an existing figure is never left half-written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    try:
        cm = np.asarray(matrix)
    except Exception as exc:
        raise DataError(f"confusion matrix is not an array: {exc}", "matrix") from exc
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise DataError(f"confusion matrix must be square and non-empty, got shape {cm.shape}", "matrix")
    if cm.dtype.kind not in "iuf" or not np.all(np.isfinite(cm)) or (cm < 0).any() \
            or (cm != np.round(cm)).any():
        raise DataError("confusion matrix must hold non-negative whole counts", "matrix")
    cm = cm.astype(np.int64)
    names = [str(n) for n in class_names]
    if len(names) != cm.shape[0]:
        raise DataError(f"{len(names)} class names for a {cm.shape[0]}x{cm.shape[0]} matrix", "class_names",
                        "give one name per row")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)

    n = cm.shape[0]
    row_sums = cm.sum(axis=1)
    frac = np.divide(cm, row_sums[:, None], out=np.zeros(cm.shape, dtype=np.float64),
                     where=row_sums[:, None] > 0)
    side = max(4.5, 1.1 * n + 2.2)
    fig = Figure(figsize=(side + 1.0, side), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.set_label("share of reference row")
    for i in range(n):
        for j in range(n):
            if row_sums[i] > 0:
                text = f"{cm[i, j]:,}\n{100.0 * frac[i, j]:.1f}%"
            else:
                text = f"{cm[i, j]:,}\n-"
            colour = "white" if frac[i, j] > 0.55 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color=colour)
    ax.set_xticks(range(n), labels=names)
    ax.set_yticks(range(n), labels=[f"{nm}\n(n={int(s):,})" for nm, s in zip(names, row_sums, strict=True)])
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("Reference class")
    ax.set_title(f"{title}\n{int(cm.sum()):,} beats, accuracy "
                 + (f"{100.0 * np.trace(cm) / cm.sum():.1f}%" if cm.sum() else "n/a"), fontsize=10)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        fig.savefig(tmp, format="png", bbox_inches="tight", pad_inches=0.15)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out
