"""Data: record integrity errors, AAMI labels, the device construction, protocols and the cache."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from heartbeat_core.domain import AAMI_CLASSES
from heartbeat_core.errors import DataError
from toolchain import data
from toolchain.mitdb import DS1, DS2, PACED, SYMBOL_TO_CLASS, load_record, verify_record_files


def _copy_record(src, dst, rid="100", sums=True):
    dst.mkdir(parents=True, exist_ok=True)
    for ext in ("hea", "dat", "atr"):
        shutil.copy(src / f"{rid}.{ext}", dst / f"{rid}.{ext}")
    if sums:
        lines = [ln for ln in (src / "SHA256SUMS").read_text().splitlines() if ln.split()[-1].startswith(rid + ".")]
        (dst / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return dst


def test_aami_mapping_is_the_standard_one():
    expected = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
    for cls, symbols in expected.items():
        for s in symbols:
            assert SYMBOL_TO_CLASS[s] == cls
    assert len(SYMBOL_TO_CLASS) == sum(len(v) for v in expected.values())
    for non_beat in ("+", "~", "|", "x", "!", "[", "]", '"'):
        assert non_beat not in SYMBOL_TO_CLASS


def test_splits_are_de_chazal():
    assert len(DS1) == len(DS2) == 22
    assert not set(DS1) & set(DS2)
    assert not (set(DS1) | set(DS2)) & set(PACED)


def test_record_100_labels(mitdb_dir):
    rec = load_record(mitdb_dir, "100")
    samples, classes = rec.beat_annotations()
    assert rec.lead == "MLII" and rec.fs == 360
    assert len(samples) == 2273  # the database's documented beat count for record 100
    counts = np.bincount(classes, minlength=5)
    assert counts[AAMI_CLASSES.index("S")] == 33 and counts[AAMI_CLASSES.index("V")] == 1


def test_lead_by_name_and_by_index(mitdb_dir):
    assert load_record(mitdb_dir, "114").lead == "MLII"  # MLII is the second signal of 114
    assert load_record(mitdb_dir, "114", lead=0).lead == "V5"
    with pytest.raises(DataError, match="no lead index 5"):
        load_record(mitdb_dir, "114", lead=5)


def test_missing_file_is_named(tmp_path, mitdb_dir):
    d = _copy_record(mitdb_dir, tmp_path / "db")
    (d / "100.atr").unlink()
    with pytest.raises(DataError, match=r"100\.atr"):
        load_record(d, "100")


def test_truncated_record_fails_the_checksum_naming_the_file(tmp_path, mitdb_dir):
    d = _copy_record(mitdb_dir, tmp_path / "db")
    raw = (d / "100.dat").read_bytes()
    (d / "100.dat").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"sha256 mismatch.*100\.dat"):
        verify_record_files(d, "100")


def test_truncated_record_without_checksums_is_still_refused(tmp_path, mitdb_dir):
    d = _copy_record(mitdb_dir, tmp_path / "db", sums=False)
    raw = (d / "100.dat").read_bytes()
    (d / "100.dat").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(DataError, match="100"):
        load_record(d, "100")


def test_missing_data_folder_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match="HEARTBEAT_DATA_DIR"):
        verify_record_files(tmp_path / "nowhere", "100")


def test_device_beats_are_labelled_from_matching_annotations(mitdb_dir, session_cache):
    beats = data.build_beats("device", ("100", "208"), mitdb_dir, cache_dir=session_cache)
    assert beats.x.dtype == np.int8 and beats.x.shape[1] == 128
    assert beats.rr.dtype == np.int8 and beats.rr.shape[1] == 3
    for rid in ("100", "208"):
        rec = load_record(mitdb_dir, rid)
        ref, lab = rec.beat_annotations()
        sel = beats.record == rid
        # every labelled beat carries the class of an annotation within 150 ms
        for r, y in zip(beats.sample[sel][::25], beats.y[sel][::25], strict=True):
            near = np.abs(ref - r) <= 54
            assert near.any() and y in lab[near]
        assert sel.sum() >= 0.99 * len(ref) - 2
    assert beats.class_counts()["V"] > 900  # record 208 is rich in V beats


def test_cache_gives_identical_arrays_and_is_keyed_by_parameters(mitdb_dir, tmp_path):
    a = data.build_beats("device", ("100",), mitdb_dir, cache_dir=tmp_path)
    files = list(tmp_path.glob("beats-device-*.npz"))
    assert len(files) == 1
    b = data.build_beats("device", ("100",), mitdb_dir, cache_dir=tmp_path)
    fresh = data.build_beats("device", ("100",), mitdb_dir, cache_dir=None)
    for x, y in ((a, b), (a, fresh)):
        assert np.array_equal(x.x, y.x) and np.array_equal(x.rr, y.rr) and np.array_equal(x.y, y.y)
        assert np.array_equal(x.sample, y.sample) and np.array_equal(x.record, y.record)
    data.build_beats("device", ("100",), mitdb_dir, lead=0, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("beats-device-*.npz"))) == 2


def test_a_beat_set_saved_is_loaded_back_whole(tmp_path):
    rng = np.random.default_rng(0)
    device = data.BeatSet("device", rng.integers(-127, 128, (3, 128)).astype(np.int8),
                          rng.integers(-128, 128, (3, 3)).astype(np.int8), np.array([0, 2, 1]),
                          np.array(["device:a:1", "device:a:1", "208"]), np.array([400, 700, 1000]),
                          np.array([300, 300, 290]), np.array([300, 290, 310]), {"source": "clinician feedback"})
    kaggle = data.BeatSet("kaggle", rng.random((2, 187)).astype(np.float32), None, np.array([4, 0]),
                          np.array(["100", "100"]), np.array([10, 20]), np.array([0, 10]), np.array([10, 0]))
    for beats in (device, kaggle):
        path = beats.save(tmp_path / "sets" / f"{beats.kind}.npz")
        back = data.BeatSet.load(path, beats.kind)
        assert back.kind == beats.kind and back.stats == beats.stats and len(back) == len(beats)
        for name in ("x", "y", "record", "sample", "pre_rr", "post_rr"):
            got, want = getattr(back, name), getattr(beats, name)
            assert got.dtype == want.dtype and np.array_equal(got, want), name
        assert (back.rr is None) == (beats.rr is None)
        if beats.rr is not None:
            assert back.rr.dtype == np.int8 and np.array_equal(back.rr, beats.rr)
    assert sorted(p.name for p in (tmp_path / "sets").iterdir()) == ["device.npz", "kaggle.npz"]  # no temp files


def test_inter_patient_split_keeps_patients_apart(mitdb_dir, session_cache):
    sp = data.make_splits("inter-patient", "device", mitdb_dir, session_cache,
                          train_records=("101", "208"), test_records=("100",))
    assert set(np.unique(sp.test.record)) == {"100"}
    assert set(np.unique(np.concatenate([sp.train.record, sp.val.record]))) == {"101", "208"}
    assert len(sp.val) > 0 and len(sp.train) > 8 * len(sp.val)
    with pytest.raises(DataError, match="both train and test"):
        data.make_splits("inter-patient", "device", mitdb_dir, session_cache,
                         train_records=("100",), test_records=("100",))


def test_intra_patient_split_is_stratified_and_reproducible(mitdb_dir, session_cache):
    a = data.make_splits("intra-patient", "device", mitdb_dir, session_cache, seed=4,
                         train_records=("100", "208"))
    b = data.make_splits("intra-patient", "device", mitdb_dir, session_cache, seed=4,
                         train_records=("100", "208"))
    assert np.array_equal(a.test.sample, b.test.sample)
    total = len(a.train) + len(a.val) + len(a.test)
    for c in ("N", "V"):
        n_all = a.train.class_counts()[c] + a.val.class_counts()[c] + a.test.class_counts()[c]
        assert abs(a.test.class_counts()[c] / n_all - 0.2) < 0.01
    assert abs(len(a.test) / total - 0.2) < 0.01


def test_unknown_protocol_and_kind_are_refused(mitdb_dir):
    with pytest.raises(DataError, match="unknown protocol"):
        data.make_splits("leave-one-out", "device", mitdb_dir, None)
    with pytest.raises(DataError, match="unknown beat construction"):
        data.build_beats("wavelet", ("100",), mitdb_dir)


def test_beats_keep_their_rr_intervals(mitdb_dir, session_cache):
    dev = data.build_beats("device", ("100",), mitdb_dir, cache_dir=session_cache)
    assert (dev.pre_rr > 0).all() and (dev.post_rr > 0).all()
    follows = dev.sample[:-1] + dev.post_rr[:-1] == dev.sample[1:]
    assert follows.mean() > 0.99  # consecutive labelled beats: post-RR reaches the next beat
    assert np.array_equal(dev.pre_rr[1:][follows], dev.post_rr[:-1][follows])
    kag = data.build_beats("kaggle", ("100",), mitdb_dir, cache_dir=session_cache)
    ref, _ = load_record(mitdb_dir, "100").beat_annotations()
    k = 10
    i = int(np.searchsorted(ref, kag.sample[k]))
    assert kag.pre_rr[k] == ref[i] - ref[i - 1] and kag.post_rr[k] == ref[i + 1] - ref[i]


def test_corrupt_record_byte_is_caught_by_the_checksum(tmp_path, mitdb_dir):
    d = _copy_record(mitdb_dir, tmp_path / "db", rid="208")
    raw = bytearray((d / "208.atr").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (d / "208.atr").write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"corrupt.*208\.atr"):
        load_record(d, "208")
