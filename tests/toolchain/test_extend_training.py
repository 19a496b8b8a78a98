"""toolchain.data.extend_training: extra labelled beats (clinician-confirmed) and sampled training sets."""
from __future__ import annotations

import numpy as np
import pytest

from heartbeat_core.errors import DataError
from toolchain.data import BeatSet, Splits, extend_training


def _beats(labels, record="100", start=0) -> BeatSet:
    y = np.asarray(labels, dtype=np.int64)
    n = len(y)
    x = np.tile((np.arange(n, dtype=np.int64) % 100)[:, None], (1, 128)).astype(np.int8)
    rr = np.zeros((n, 3), dtype=np.int8)
    return BeatSet("device", x, rr, y, np.full(n, record), np.arange(start, start + n, dtype=np.int64),
                   np.full(n, 300, dtype=np.int64), np.full(n, 300, dtype=np.int64))


def _splits() -> Splits:
    train = _beats([0] * 80 + [1] * 10 + [2] * 10)
    return Splits("inter-patient", "device", train, _beats([0, 2]), _beats([0, 1, 2]), ("101",), ("100",), 0)


def test_extra_beats_are_added_to_training_only():
    extra = _beats([2, 2, 1], record="dev:hb-1")
    out = extend_training(_splits(), extra)
    assert len(out.train) == 103
    assert list(out.train.record[-3:]) == ["dev:hb-1"] * 3
    assert len(out.val) == 2 and len(out.test) == 3


def test_sample_keeps_extra_first_and_fills_up_stratified():
    extra = _beats([2, 1, 1, 0], record="dev:hb-1")
    out = extend_training(_splits(), extra, sample=24, seed=3)
    assert len(out.train) == 24
    assert (out.train.record == "dev:hb-1").sum() == 4
    counts = np.bincount(out.train.y[out.train.record == "100"], minlength=5)
    assert counts[0] > 0 and counts[1] > 0 and counts[2] > 0  # every class of the records is still there


def test_sample_smaller_than_extra_takes_the_first_extra_beats():
    extra = _beats([2, 1, 1, 0], record="dev:hb-1")
    out = extend_training(_splits(), extra, sample=2)
    assert list(out.train.y) == [2, 1]


def test_bad_extra_beats_and_sizes_are_refused():
    with pytest.raises(DataError, match="labels outside"):
        extend_training(_splits(), _beats([7]))
    with pytest.raises(DataError, match="at least 1"):
        extend_training(_splits(), None, sample=0)
    wrong = _beats([0])
    wrong.x = wrong.x[:, :64]
    with pytest.raises(DataError, match="inputs"):
        extend_training(_splits(), wrong)
