"""`heartbeat replay`'s reading of WFDB records: MIT-BIH records stream as their own integers; any other rate or
gain is converted to the device's 360 Hz, 200 codes/mV scale, and R peaks map back to the record's rate."""
from __future__ import annotations

import numpy as np
import pytest
import wfdb

from edge_bridge.replay import ReplayError, read_recording


def write_record(tmp_path, name, fs, signal, units="mV", gain=200.0, baseline=0, sig_names=("ECG",), ann=None):
    sig = np.atleast_2d(np.asarray(signal, dtype=np.float64)).T if np.ndim(signal) == 1 else signal
    wfdb.wrsamp(name, fs=fs, units=[units] * sig.shape[1], sig_name=list(sig_names), p_signal=sig, fmt=["16"] *
                sig.shape[1], adc_gain=[gain] * sig.shape[1], baseline=[baseline] * sig.shape[1],
                write_dir=str(tmp_path))
    if ann is not None:
        samples, symbols = ann
        wfdb.wrann(name, "atr", np.asarray(samples), symbol=list(symbols), write_dir=str(tmp_path))
    return str(tmp_path / name)


def test_mitdb_records_stream_their_own_adc_codes(mitdb_dir):
    rec = read_recording("100", mitdb_dir, None, 10)
    raw = wfdb.rdrecord(str(mitdb_dir / "100"), sampto=3600, physical=False)
    assert rec.fs == 360 and (rec.up, rec.down) == (1, 1)
    assert np.array_equal(rec.codes, raw.d_signal[:, 0])
    v5 = read_recording("100", mitdb_dir, "V5", 10)
    assert v5.lead == "V5" and np.array_equal(v5.codes, raw.d_signal[:, 1])
    assert np.array_equal(read_recording("100", mitdb_dir, "1", 10).codes, v5.codes)  # by index
    assert rec.ref_samples.max() < 3600 and len(rec.ref_samples) == len(rec.ref_labels) > 5


def test_another_rate_and_gain_are_resampled_and_rescaled(tmp_path):
    fs, n = 250, 2500  # 10 s
    t = np.arange(n) / fs
    mv = 1.5 * np.sin(2 * np.pi * 1.0 * t)  # 1.5 mV, 1 Hz
    base = write_record(tmp_path, "sine250", fs, mv, gain=1000.0, baseline=10,
                        ann=([250, 500, 750], ["N", "V", "A"]))
    rec = read_recording(base, None, None, None)
    assert (rec.up, rec.down) == (36, 25) and rec.fs == 250
    assert len(rec.codes) == n * 36 // 25
    t360 = np.arange(len(rec.codes)) / 360
    want = np.rint(1.5 * np.sin(2 * np.pi * t360) * 200) + 1024
    inner = slice(360, len(rec.codes) - 360)  # away from the resampler's edges
    assert np.max(np.abs(rec.codes[inner] - want[inner])) <= 2
    assert rec.to_source(360) == 250 and rec.to_source(36 * 7) == 25 * 7
    assert list(rec.ref_samples) == [250, 500, 750] and list(rec.ref_labels) == [0, 2, 1]  # N, V, S


def test_microvolts_are_converted_and_the_range_is_clamped(tmp_path):
    uv = np.concatenate([np.full(100, 500.0), np.full(100, 9000.0), np.full(100, -9000.0)])  # 0.5 mV, +-9 mV
    base = write_record(tmp_path, "uv360", 360, uv, units="uV", gain=1.0)
    rec = read_recording(base, None, None, None)
    assert (rec.up, rec.down) == (1, 1) and rec.ref_samples is None
    assert set(rec.codes[:100]) == {1124} and set(rec.codes[100:200]) == {2047} and set(rec.codes[200:]) == {0}


def test_a_lead_that_is_not_a_voltage_is_refused(tmp_path):
    base = write_record(tmp_path, "resp", 360, np.zeros(100), units="Ohm", gain=1.0, sig_names=("RESP",))
    with pytest.raises(ReplayError, match="in 'Ohm', not a voltage"):
        read_recording(base, None, None, None)
