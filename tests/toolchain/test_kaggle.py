"""The Kaggle-style beats built from real MIT-BIH records, and the Kaggle CSV format."""
from __future__ import annotations

import itertools
import tempfile
from fractions import Fraction
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import toolchain.kaggle as kaggle
from heartbeat_core.domain import CLASS_INDEX
from heartbeat_core.errors import DataError
from toolchain.kaggle import (
    BEAT_LEN,
    N_COLUMNS,
    KaggleBeats,
    beat_length,
    build_kaggle_beats,
    read_kaggle_csv,
    to_125hz_index,
    write_kaggle_csv,
)
from toolchain.mitdb import SYMBOL_TO_CLASS, load_record

RECORDS = ("100", "208")  # 208 holds all five AAMI classes


@pytest.fixture(scope="module")
def built(mitdb_dir) -> KaggleBeats:
    return build_kaggle_beats(mitdb_dir, RECORDS)


@pytest.fixture(scope="module")
def built_truncate(mitdb_dir) -> KaggleBeats:
    return build_kaggle_beats(mitdb_dir, RECORDS, edge="truncate")


def _reference(mitdb_dir: Path, record_id: str) -> dict:
    """The construction written out plainly, beat by beat, from the raw annotations (an independent twin)."""
    from scipy.signal import resample_poly

    rec = load_record(mitdb_dir, record_id, "MLII")
    sig = resample_poly(rec.signal.astype(np.float64), 25, 72)
    n_windows = len(sig) // 1250
    beats = [(int(s), sym) for s, sym in zip(rec.ann_samples, rec.ann_symbols, strict=True) if sym in SYMBOL_TO_CLASS]
    by_window: dict[int, list[tuple[int, int, str]]] = {}
    out = {"kept": {}, "truncated": {}, "skipped": {"past_window": 0, "partial_window": 0, "lone_beat": 0,
                                                     "flat_window": 0}, "n_beats": len(beats)}
    for s, sym in beats:
        r = int(Fraction(s * 125, 360) + Fraction(1, 2))  # round half up
        if r // 1250 >= n_windows:
            out["skipped"]["partial_window"] += 1
        else:
            by_window.setdefault(r // 1250, []).append((r, s, sym))
    for w, items in by_window.items():
        window = sig[w * 1250:(w + 1) * 1250]
        lo, hi = window.min(), window.max()
        if len(items) < 2:
            out["skipped"]["lone_beat"] += len(items)
            continue
        rr = [b[0] - a[0] for a, b in itertools.pairwise(items)]
        length = int(np.floor(1.2 * float(np.median(rr)) + 0.5))
        used = min(length, 187)
        norm = (window - lo) / (hi - lo)
        for r, s, sym in items:
            off = r - w * 1250
            seg = norm[off: off + used]
            beat = np.zeros(187)
            beat[: len(seg)] = seg
            entry = (beat, length, CLASS_INDEX[SYMBOL_TO_CLASS[sym]], off)
            if off + used > 1250:
                out["skipped"]["past_window"] += 1
                out["truncated"][s] = entry
            else:
                out["kept"][s] = entry
    return out


@pytest.fixture(scope="module")
def reference(mitdb_dir) -> dict[str, dict]:
    return {rid: _reference(mitdb_dir, rid) for rid in RECORDS}


# ------------------------------------------------------------------------------------------ construction


def test_beat_count_is_annotations_minus_documented_skips(built, reference):
    for rid in RECORDS:
        mine = built.record == rid
        ref = reference[rid]
        assert int(mine.sum()) == len(ref["kept"])
        assert int(mine.sum()) + sum(ref["skipped"].values()) == ref["n_beats"]
    expected_skips = {k: sum(reference[r]["skipped"][k] for r in RECORDS) for k in kaggle.SKIP_REASONS}
    assert built.skipped == expected_skips
    assert expected_skips["past_window"] > 0  # the rule is exercised on real data
    assert len(built) == built.x.shape[0] == built.y.shape[0] == built.record.shape[0] == built.sample.shape[0]


def test_shape_dtype_range_and_provenance(built, mitdb_dir):
    assert built.x.shape[1] == BEAT_LEN
    assert built.x.dtype == np.float32 and built.y.dtype == np.int64 and built.sample.dtype == np.int64
    assert built.x.min() >= 0.0 and built.x.max() <= 1.0
    assert built.leads == {"100": "MLII", "208": "MLII"}
    assert list(dict.fromkeys(built.record.tolist())) == list(RECORDS)  # records in the order given
    for rid in RECORDS:
        rec = load_record(mitdb_dir, rid)
        symbols = dict(zip(rec.ann_samples.tolist(), rec.ann_symbols.tolist(), strict=True))
        samples = built.sample[built.record == rid]
        assert np.all(np.diff(samples) > 0)
        # every beat sits on a beat annotation; non-beat annotations ('+', '~', '|') give no beat
        assert all(symbols[s] in SYMBOL_TO_CLASS for s in samples.tolist())
        non_beat = {s for s, sym in symbols.items() if sym not in SYMBOL_TO_CLASS}
        assert non_beat and not non_beat & set(samples.tolist())


def test_labels_match_annotation_symbols(built, mitdb_dir):
    for rid in RECORDS:
        rec = load_record(mitdb_dir, rid)
        symbols = dict(zip(rec.ann_samples.tolist(), rec.ann_symbols.tolist(), strict=True))
        mine = built.record == rid
        expected = [CLASS_INDEX[SYMBOL_TO_CLASS[symbols[s]]] for s in built.sample[mine].tolist()]
        assert built.y[mine].tolist() == expected
    assert set(built.y[built.record == "208"].tolist()) == {0, 1, 2, 3, 4}


def test_values_match_the_plain_construction(built, reference):
    for rid in RECORDS:
        mine = np.flatnonzero(built.record == rid)
        kept = reference[rid]["kept"]
        for i in mine:
            beat, _, label, _ = kept[int(built.sample[i])]
            np.testing.assert_allclose(built.x[i], beat, rtol=0, atol=1e-6)
            assert built.y[i] == label


def test_zero_padding_after_1_2_rr(built, reference):
    padded = 0
    for rid in RECORDS:
        kept = reference[rid]["kept"]
        for i in np.flatnonzero(built.record == rid):
            _, length, _, _ = kept[int(built.sample[i])]
            used = min(length, BEAT_LEN)
            assert built.x[i, :used].max() > 0  # real signal up to 1.2 x RR
            assert not built.x[i, used:].any()  # zeros after it
            padded += used < BEAT_LEN
    assert padded > 0.5 * len(built)


def test_truncate_keeps_edge_beats_cut_at_the_window_end(built, built_truncate, reference):
    assert built_truncate.skipped["past_window"] == 0
    assert len(built_truncate) == len(built) + built.skipped["past_window"]
    for rid in RECORDS:
        truncated = reference[rid]["truncated"]
        assert truncated
        for i in np.flatnonzero(built_truncate.record == rid):
            s = int(built_truncate.sample[i])
            if s not in truncated:
                continue
            beat, _, label, off = truncated[s]
            np.testing.assert_allclose(built_truncate.x[i], beat, rtol=0, atol=1e-6)
            assert not built_truncate.x[i, 1250 - off:].any()
            assert built_truncate.y[i] == label


def test_build_is_deterministic(built, mitdb_dir):
    again = build_kaggle_beats(str(mitdb_dir), list(RECORDS))
    assert np.array_equal(again.x, built.x)
    assert np.array_equal(again.y, built.y)
    assert np.array_equal(again.record, built.record)
    assert np.array_equal(again.sample, built.sample)
    assert again.skipped == built.skipped


def test_build_refuses_bad_requests(mitdb_dir, tmp_path):
    with pytest.raises(DataError, match="listed twice"):
        build_kaggle_beats(mitdb_dir, ["100", "100"])
    with pytest.raises(DataError, match="999"):
        build_kaggle_beats(mitdb_dir, ["999"])
    with pytest.raises(DataError, match="not found"):
        build_kaggle_beats(tmp_path / "nowhere", ["100"])
    with pytest.raises(ValueError, match="edge"):
        build_kaggle_beats(mitdb_dir, ["100"], edge="pad")
    empty = build_kaggle_beats(mitdb_dir, [])
    assert empty.x.shape == (0, BEAT_LEN) and len(empty) == 0


def test_flat_and_lone_beat_windows_are_skipped():
    signal = np.zeros(360 * 30, dtype=np.int32)  # 30 s: three windows
    # windows 1 and 2 carry signal; it starts 800 samples (> the resampling filter's reach) after window 0
    signal[4400:] = np.tile(np.array([0, 50, 0, -20], np.int32), (len(signal) - 4400) // 4)
    samples = np.array([100, 400, 4500, 4800, 5100, 7300], dtype=np.int64)  # 2 in a flat window, 3, 1 lone
    classes = np.array([0, 1, 2, 3, 4, 0], dtype=np.int64)
    skipped = {reason: 0 for reason in kaggle.SKIP_REASONS}
    x, y, s = kaggle._record_beats(signal, samples, classes, "skip", skipped)
    assert skipped == {"past_window": 0, "partial_window": 0, "lone_beat": 1, "flat_window": 2}
    assert s.tolist() == [4500, 4800, 5100] and y.tolist() == [2, 3, 4]
    assert x.shape == (3, BEAT_LEN) and x.max() <= 1.0


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_to_125hz_index_rounds_half_up(sample):
    assert int(to_125hz_index(np.array([sample]))[0]) == int(Fraction(sample * 125, 360) + Fraction(1, 2))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=30))
def test_beat_length_is_rounded_1_2_times_median(rr):
    s = sorted(rr)
    n = len(s)
    median = Fraction(s[n // 2]) if n % 2 else Fraction(s[n // 2 - 1] + s[n // 2], 2)
    exact = median * Fraction(6, 5)
    length = beat_length(np.array(rr))
    assert abs(Fraction(length) - exact) <= Fraction(1, 2) + Fraction(1, 10**9)
    assert beat_length(np.array([], dtype=np.int64)) == 0


# ------------------------------------------------------------------------------------------ CSV format


def test_csv_round_trip_of_real_beats_is_exact(built, tmp_path):
    path = write_kaggle_csv(tmp_path / "beats.csv", built.x, built.y)
    x, y = read_kaggle_csv(path)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert np.array_equal(x, built.x) and np.array_equal(y, built.y)
    lines = path.read_text().splitlines()
    assert len(lines) == len(built)
    first = lines[0].split(",")
    assert len(first) == N_COLUMNS  # no header: the first line is a beat
    assert [float(v) for v in first[:BEAT_LEN]] == built.x[0].astype(np.float64).tolist()
    assert float(first[-1]) == float(built.y[0]) and "e" in first[-1]  # label written as a float
    assert not [p for p in tmp_path.iterdir() if p.name != "beats.csv"]  # no temp file left


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=1, max_value=6).flatmap(lambda n: st.tuples(
    hnp.arrays(np.float32, (n, BEAT_LEN), elements=st.floats(0.0, 1.0, width=32)),
    hnp.arrays(np.int64, (n,), elements=st.integers(0, 4)))))
def test_csv_round_trip_any_values(xy):
    x, y = xy
    with tempfile.TemporaryDirectory() as tmp:
        path = write_kaggle_csv(Path(tmp) / "b.csv", x, y)
        x2, y2 = read_kaggle_csv(path)
    assert np.array_equal(x2, x) and np.array_equal(y2, y)


def _good_rows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, BEAT_LEN), dtype=np.float32), rng.integers(0, 5, n)


def _set_field(j: int, text: str):
    def change(line: str) -> str:
        fields = line.split(",")
        fields[j] = text
        return ",".join(fields)
    return change


BAD_ROWS = {
    "too_few": (lambda line: line.rsplit(",", 1)[0], "found 187"),
    "too_many": (lambda line: line + ",0.5", "found 189"),
    "not_a_number": (_set_field(9, "abc"), "value 10 'abc' is not a number"),
    "empty_field": (_set_field(0, ""), "value 1 '' is not a number"),
    "non_ascii": (_set_field(3, "0.5\u00e9"), "value 4"),
    "nan": (_set_field(4, "nan"), "value 5 is nan, not a finite number"),
    "inf": (_set_field(186, "inf"), "value 187 is inf"),
    "label_nan": (_set_field(187, "NaN"), "label is nan"),
    "label_minus_inf": (_set_field(187, "-inf"), "label is -inf"),
    "above_one": (_set_field(20, "1.5"), "value 21 is 1.5, outside [0, 1]"),
    "below_zero": (_set_field(0, "-0.25"), "value 1 is -0.25, outside [0, 1]"),
    "label_too_big": (_set_field(187, "5.0"), "label is 5.0, not a class index"),
    "label_negative": (_set_field(187, "-1.0"), "label is -1.0"),
    "label_fraction": (_set_field(187, "2.5"), "label is 2.5"),
    "blank": (lambda line: "", "blank line"),
    "header": (lambda line: ",".join(f"c{i}" for i in range(N_COLUMNS)), "'c0' is not a number"),
}


def _write_with_bad_line(tmp: Path, n: int, line_no: int, kind: str, crlf: bool = False) -> Path:
    x, y = _good_rows(n)
    path = write_kaggle_csv(tmp / "bad.csv", x, y)
    lines = path.read_text().splitlines()
    lines[line_no - 1] = BAD_ROWS[kind][0](lines[line_no - 1])
    newline = "\r\n" if crlf else "\n"
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path


@pytest.mark.parametrize("kind", sorted(BAD_ROWS))
def test_each_bad_row_kind_names_the_file_and_line(kind, tmp_path):
    path = _write_with_bad_line(tmp_path, 5, 3, kind)
    with pytest.raises(DataError) as err:
        read_kaggle_csv(path)
    assert err.value.where == f"{path}:3"
    assert BAD_ROWS[kind][1] in err.value.what
    assert f"{path}:3" in str(err.value)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), data=st.data(), kind=st.sampled_from(sorted(BAD_ROWS)),
       chunk=st.sampled_from([1, 2, 3, 4096]), crlf=st.booleans())
def test_bad_row_anywhere_any_chunking(n, data, kind, chunk, crlf):
    line_no = data.draw(st.integers(1, n))
    with tempfile.TemporaryDirectory() as tmp:
        path = _write_with_bad_line(Path(tmp), n, line_no, kind, crlf)
        with mock.patch.object(kaggle, "_CHUNK_LINES", chunk), pytest.raises(DataError) as err:
            read_kaggle_csv(path)
    assert err.value.where == f"{path}:{line_no}"
    assert BAD_ROWS[kind][1] in err.value.what


@pytest.mark.parametrize("first,second", [("nan", "too_few"), ("too_few", "nan"), ("label_too_big", "blank")])
def test_the_first_bad_line_is_named(first, second, tmp_path):
    x, y = _good_rows(40)
    path = write_kaggle_csv(tmp_path / "two.csv", x, y)
    lines = path.read_text().splitlines()
    lines[6] = BAD_ROWS[first][0](lines[6])
    lines[30] = BAD_ROWS[second][0](lines[30])
    path.write_text("\n".join(lines) + "\n")
    with mock.patch.object(kaggle, "_CHUNK_LINES", 4), pytest.raises(DataError) as err:
        read_kaggle_csv(path)
    assert err.value.where == f"{path}:7"
    assert BAD_ROWS[first][1] in err.value.what


def test_crlf_and_missing_final_newline_read_fine(tmp_path):
    x, y = _good_rows(7, seed=3)
    path = write_kaggle_csv(tmp_path / "ok.csv", x, y)
    text = path.read_text()
    path.write_bytes(text.replace("\n", "\r\n").encode())
    x2, y2 = read_kaggle_csv(path)
    assert np.array_equal(x2, x) and np.array_equal(y2, y)
    path.write_text(text.rstrip("\n"))
    x3, _ = read_kaggle_csv(path)
    assert np.array_equal(x3, x)


def test_value_range_check_can_be_turned_off_but_not_finiteness(tmp_path):
    path = _write_with_bad_line(tmp_path, 4, 2, "above_one")
    x, _ = read_kaggle_csv(path, value_range=None)
    assert x[1, 20] == np.float32(1.5)
    path = _write_with_bad_line(tmp_path, 4, 2, "nan")
    with pytest.raises(DataError, match="not a finite number"):
        read_kaggle_csv(path, value_range=None)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="not found") as err:
        read_kaggle_csv(tmp_path / "absent.csv")
    assert str(tmp_path / "absent.csv") in str(err.value)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="no rows"):
        read_kaggle_csv(tmp_path / "empty.csv")


@pytest.mark.parametrize("change,match", [
    (lambda x, y: (x[:, :186], y), r"shape \[n, 187\]"),
    (lambda x, y: (x, y[:-1]), "labels must have shape"),
    (lambda x, y: (x[:0], y[:0]), "no beats"),
    (lambda x, y: (np.where(np.arange(BEAT_LEN) == 5, np.nan, x), y), "value 6 is nan"),
    (lambda x, y: (x * 2 + 0.01, y), "outside"),
    (lambda x, y: (x, np.full_like(y, 7)), "not a class index"),
    (lambda x, y: (x, y + 0.5), "not a class index"),
])
def test_write_refuses_bad_arrays_and_keeps_the_old_file(change, match, tmp_path):
    x, y = _good_rows(3)
    path = write_kaggle_csv(tmp_path / "keep.csv", x, y)
    before = path.read_bytes()
    bad_x, bad_y = change(x, y)
    with pytest.raises(DataError, match=match):
        write_kaggle_csv(path, bad_x, bad_y)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.csv"]
