"""Tests for toolchain.plots: the confusion-matrix figure is a real PNG, written whole, and bad input is refused."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from heartbeat_core.domain import AAMI_CLASSES
from heartbeat_core.errors import DataError
from toolchain.plots import save_confusion_png

# A DS2-like confusion matrix (rows: reference N, S, V, F, Q; columns: predicted).
CONFUSION = [[40, 3, 1, 1, 0], [2, 6, 1, 0, 0], [1, 0, 9, 1, 0], [1, 0, 1, 2, 0], [0, 0, 0, 0, 1]]


# --------------------------------------------------------------------------- save_confusion_png


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return len(data), width, height


def test_confusion_png_is_a_real_figure(tmp_path):
    import matplotlib.image as mpimg

    out = save_confusion_png(CONFUSION, AAMI_CLASSES, tmp_path / "fig" / "cm.png", "DS2 test")
    assert out == tmp_path / "fig" / "cm.png"
    nbytes, width, height = png_size(out)
    assert nbytes > 10_000 and width > 300 and height > 300
    pixels = mpimg.imread(out)
    assert pixels.shape[0] == height and pixels.shape[1] == width
    assert float(pixels[..., :3].std()) > 0.05  # not a blank image
    assert list(tmp_path.joinpath("fig").iterdir()) == [out]  # no temporary file left behind


def test_confusion_png_overwrites_and_handles_empty_rows(tmp_path):
    path = tmp_path / "cm.png"
    path.write_bytes(b"old")
    cm = np.zeros((5, 5), dtype=int)
    cm[0, 0] = 10
    save_confusion_png(cm, AAMI_CLASSES, path, "only N")
    assert png_size(path)[0] > 5_000


@pytest.mark.parametrize("matrix, names, where", [
    ([[1, 2, 3]], ["a"], "matrix"),
    ([[1, -1], [0, 1]], ["a", "b"], "matrix"),
    ([[1.5, 0], [0, 1]], ["a", "b"], "matrix"),
    ([[1, 0], [0, 1]], ["a"], "class_names"),
    ([], [], "matrix"),
])
def test_confusion_png_refuses_bad_input(tmp_path, matrix, names, where):
    path = tmp_path / "cm.png"
    with pytest.raises(DataError) as info:
        save_confusion_png(matrix, names, path, "bad")
    assert info.value.where == where
    assert not path.exists()
