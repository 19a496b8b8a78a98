"""The C twin of the device signal path (firmware/lib/ecg_dsp + firmware/lib/beat_window) against toolchain/dsp.py.

1. The golden vectors: firmware/test/gen_golden.py turns tests/contract/dsp_golden.json into a C header, and
   `pio test` runs firmware/test/test_dsp_golden (every R peak, window value and RR feature) and
   firmware/test/test_dsp_edge on the host (ASan/UBSan) and on the emulated Cortex-M4F (QEMU mps2-an386, -O2 hard
   float). A tampered copy of the vectors must make the C suite fail, naming the value.
2. Beyond the vectors: the two C modules are compiled on the host with a small driver (stdin samples -> R peaks
   and beats on stdout) and run on five-minute stretches of MIT-BIH records, a stream that begins inside a QRS
   complex (an R peak before the stream start), a stream shorter than the learning period and full-scale int16
   noise; every output equals toolchain.dsp's on the same samples.
3. Every APP_DSP_* constant of firmware/include/app_config.h equals its dsp.py namesake, and DSP_VERSION too:
   when dsp.py changes, this fails until the C twin follows.

Build output goes to temporary PlatformIO workspaces. A missing toolchain fails (never skips) with a message
saying to run scripts/setup.sh.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pio_helpers import pio_env, pio_test, registered_cases, require_pio

from heartbeat_core.domain import FS, INPUT_SCALE, RR_FEATURES, WINDOW_LEN
from toolchain import dsp
from toolchain.mitdb import load_record

REPO = Path(__file__).resolve().parents[2]
TEST_DIR = REPO / "firmware" / "test"
GOLDEN = REPO / "tests" / "contract" / "dsp_golden.json"
GENERATOR = TEST_DIR / "gen_golden.py"
APP_CONFIG = REPO / "firmware" / "include" / "app_config.h"
LIB_DIRS = (REPO / "firmware" / "lib" / "ecg_dsp", REPO / "firmware" / "lib" / "beat_window")
SUITES = ("test_dsp_golden", "test_dsp_edge")

pytestmark = pytest.mark.slow


# ---------------------------------------------------------------------------------------------------------------
# prerequisites and helpers
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pio() -> Path:
    return require_pio()


def _golden() -> dict:
    return json.loads(GOLDEN.read_text())


def _run_generator(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GENERATOR), *args], capture_output=True, text=True, check=False)


# ---------------------------------------------------------------------------------------------------------------
# the constants and the version: one definition
# ---------------------------------------------------------------------------------------------------------------
def test_app_config_constants_are_dsp_py_constants():
    text = APP_CONFIG.read_text()
    c_values = {m.group(1): int(m.group(2)) for m in re.finditer(r"^#define APP_DSP_([A-Z0-9_]+) (\d+)u\b", text, re.M)}
    version = re.search(r'^#define APP_DSP_VERSION "([^"]*)"', text, re.M)
    assert version and version.group(1) == dsp.DSP_VERSION, (
        f"app_config.h implements DSP version {version and version.group(1)!r}, toolchain/dsp.py is "
        f"{dsp.DSP_VERSION!r}: port the change to firmware/lib/ecg_dsp, beat_window and app_config.h")
    # every integer constant of dsp.py has its twin, with the same value
    py_values = {name: value for name, value in vars(dsp).items()
                 if name.isupper() and isinstance(value, int) and name not in ("FS",)}
    missing = sorted(set(py_values) - set(c_values))
    assert not missing, f"dsp.py constants without an APP_DSP_ twin in app_config.h: {missing}"
    differ = {n: (c_values[n], py_values[n]) for n in py_values if c_values[n] != py_values[n]}
    assert not differ, f"app_config.h (C, dsp.py) values differ: {differ}"
    rate = re.search(r"^#define APP_SAMPLE_RATE_HZ (\d+)u", text, re.M)
    assert rate and int(rate.group(1)) == FS
    scale = re.search(r"^#define BW_INPUT_SCALE ([0-9.]+)f", (LIB_DIRS[1] / "beat_window.h").read_text(), re.M)
    assert scale and float(scale.group(1)) == INPUT_SCALE


# ---------------------------------------------------------------------------------------------------------------
# the header generator
# ---------------------------------------------------------------------------------------------------------------
def test_generator_writes_every_case_and_only_rewrites_on_change(tmp_path):
    out = tmp_path / "golden_vectors.h"
    first = _run_generator("--out", str(out))
    assert first.returncode == 0, first.stderr
    header = out.read_text()
    golden = _golden()
    assert f'#define GOLDEN_DSP_VERSION "{golden["dsp_version"]}"' in header
    assert f"#define GOLDEN_N_CASES_ALL {len(golden['cases'])}u" in header
    assert f"#define GOLDEN_N_CASES_TARGET {len(golden['cases'])}u" in header  # all fit the default budget
    for case in golden["cases"]:
        name = f"{case['record']}@{case['start_sample']}"
        assert (f'{{"{name}", {case["start_sample"]}u, ' in header and f"{len(case['samples'])}u" in header
                and f", {len(case['r_peaks'])}u, " in header and f", {len(case['beats'])}u}}," in header), name
    mtime = out.stat().st_mtime_ns
    second = _run_generator("--out", str(out))
    assert second.returncode == 0 and "up to date" in second.stdout
    assert out.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("breakage, named", [
    (lambda g: g["cases"][1].pop("samples"), "cases[1]: missing samples"),
    (lambda g: g["cases"][1]["samples"].__setitem__(10, 40000), "cases[1] (208@21600).samples[10]: 40000 outside"),
    (lambda g: g["cases"][2]["beats"][3]["window"].pop(), "cases[2] (232@43200).beats[3].window: expected 128"),
    (lambda g: g["cases"][0]["beats"][0]["rr"].__setitem__(1, 200), "cases[0] (100@0).beats[0].rr[1]: 200 outside"),
    (lambda g: g["cases"][3]["r_peaks"].reverse(), "cases[3] (105@108000).r_peaks: not strictly increasing"),
    (lambda g: g.update(dsp_version=3), "dsp_version: expected a short printable string"),
])
def test_generator_refuses_a_broken_file_naming_the_case(tmp_path, breakage, named):
    golden = _golden()
    breakage(golden)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(golden))
    out = tmp_path / "golden_vectors.h"
    proc = _run_generator("--json", str(bad), "--out", str(out))
    assert proc.returncode != 0
    assert named in proc.stderr, proc.stderr
    assert not out.exists()  # nothing half-written


def test_cases_past_the_target_budget_are_compiled_into_host_builds_only(tmp_path):
    """With a budget for two cases, the Cortex-M4F compiler sees two cases and the host compiler all of them."""
    golden = _golden()
    sizes = [2 * len(c["samples"]) + 8 * len(c["r_peaks"]) + 144 * len(c["beats"]) for c in golden["cases"]]
    out = tmp_path / "golden_vectors.h"
    proc = _run_generator("--out", str(out), "--target-budget", str(sizes[0] + sizes[1]))
    assert proc.returncode == 0, proc.stderr
    probe = tmp_path / "probe.c"
    probe.write_text('#include "golden_vectors.h"\n'
                     "_Static_assert(sizeof GOLDEN_CASES / sizeof GOLDEN_CASES[0] == GOLDEN_N_CASES, \"count\");\n"
                     "_Static_assert(GOLDEN_N_CASES == EXPECTED, \"cases in this build\");\n")
    for compiler, flags, expected in (("gcc", [], len(sizes)),
                                      ("arm-none-eabi-gcc", ["-mcpu=cortex-m4", "-mthumb"], 2)):
        run = subprocess.run([compiler, *flags, "-std=c11", "-Wall", "-Werror", "-fsyntax-only", f"-I{tmp_path}",
                              f"-DEXPECTED={expected}", str(probe)], capture_output=True, text=True, check=False)
        assert run.returncode == 0, f"{compiler}: {run.stderr}"
    too_small = _run_generator("--out", str(tmp_path / "none.h"), "--target-budget", str(sizes[0] - 1))
    assert too_small.returncode != 0 and "exceeds the on-target budget" in too_small.stderr


# ---------------------------------------------------------------------------------------------------------------
# the C suites, native and in QEMU
# ---------------------------------------------------------------------------------------------------------------
def _summary(golden: dict, n_cases: int) -> str:
    cases = golden["cases"][:n_cases]
    return (f"dsp golden: cases={n_cases}/{len(golden['cases'])} samples={sum(len(c['samples']) for c in cases)} "
            f"r_peaks={sum(len(c['r_peaks']) for c in cases)} beats={sum(len(c['beats']) for c in cases)} "
            f"matched_beats={sum(len(c['beats']) for c in cases)}")


def _assert_passed(rc: int, out: str, suites: dict) -> None:
    assert rc == 0, out
    for name in SUITES:
        expected = registered_cases(name)
        assert len(expected) >= 3, f"could not read the case names of {name}"
        assert sorted(c["name"] for c in suites[name]["test_cases"]) == sorted(expected), out
        assert {c["status"] for c in suites[name]["test_cases"]} == {"PASSED"}, out
        assert suites[name]["status"] == "PASSED", out


def test_native_suites_pass_on_every_golden_value(pio, tmp_path):
    # the header is regenerated first (the pre-build step would do it too)
    assert _run_generator().returncode == 0
    rc, out, suites = pio_test(pio, pio_env(tmp_path / "ws"), "native", tmp_path / "native.json", *SUITES)
    _assert_passed(rc, out, suites)
    golden = _golden()
    assert _summary(golden, len(golden["cases"])) in out


def test_qemu_suites_pass_on_the_cortex_m4f(pio, tmp_path):
    assert _run_generator().returncode == 0
    rc, out, suites = pio_test(pio, pio_env(tmp_path / "ws"), "qemu", tmp_path / "qemu.json", *SUITES)
    _assert_passed(rc, out, suites)
    header = (TEST_DIR / "test_dsp_golden" / "golden_vectors.h").read_text()
    on_target = int(re.search(r"#define GOLDEN_N_CASES_TARGET (\d+)u", header).group(1))
    assert on_target >= 1
    assert _summary(_golden(), on_target) in out


def test_the_c_suite_reads_the_vectors_a_changed_value_fails_it(pio, tmp_path):
    """A copy of the vectors with one R peak and one window value changed: the C suite fails on exactly those."""
    test_dir = tmp_path / "test"
    shutil.copytree(TEST_DIR, test_dir, ignore=shutil.ignore_patterns("__pycache__", "golden_vectors.h"))
    golden = _golden()
    case1, case2 = golden["cases"][1], golden["cases"][2]
    name1, name2 = f"{case1['record']}@{case1['start_sample']}", f"{case2['record']}@{case2['start_sample']}"
    case1["r_peaks"][5] += 1
    beat = case2["beats"][4]
    old = beat["window"][40]
    beat["window"][40] = old + 1 if old < 127 else old - 1
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(golden))

    rc, out, suites = pio_test(pio, pio_env(tmp_path / "ws", test_dir=test_dir, HEARTBEAT_DSP_GOLDEN=bad), "native",
                                tmp_path / "r.json", "test_dsp_golden")
    assert rc != 0, out
    status = {c["name"]: c["status"] for c in suites["test_dsp_golden"]["test_cases"]}
    assert status["vectors_are_for_this_dsp_version"] == "PASSED"
    assert status["r_peaks_equal_golden"] == "FAILED" and status["beats_equal_golden"] == "FAILED", out
    assert f"golden {name1}: r_peaks[5]: got {case1['r_peaks'][5] - 1}, golden {case1['r_peaks'][5]}" in out
    assert (f"golden {name2}: beat 4 (r={beat['r']}) window[40]: got {old}, golden {beat['window'][40]}") in out
    # case 1's beats are right (only its R peak list was changed) and no other case is named
    assert f"golden {name1}: beat" not in out
    for other in golden["cases"][3:] + golden["cases"][:1]:
        assert f"golden {other['record']}@{other['start_sample']}:" not in out
    # the pre-build step wrote the tampered header into the copy, not into the repository
    assert f"{case1['r_peaks'][5]}ll" in (test_dir / "test_dsp_golden" / "golden_vectors.h").read_text()


# ---------------------------------------------------------------------------------------------------------------
# the host twin on whole stretches of records and on hostile streams
# ---------------------------------------------------------------------------------------------------------------
DRIVER_SOURCE = r"""
/* dsp_twin_driver: decimal int16 samples on stdin -> firmware/lib/ecg_dsp + beat_window -> stdout:
 *   P <r> <how>                                    every accepted R peak (how: 0 threshold, 1 search-back)
 *   B <r> <pre_rr> <post_rr> <rr x3> <window x128> every ready beat, taken after each sample
 *   S <counter>=<value> ...                        the counters at the end
 * Exit 2 on input that is not an int16 sample. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "beat_window.h"
#include "ecg_dsp.h"

static ecg_dsp_t dsp;
static beat_window_t bw;

static void take_peaks(const ecg_peak_t *peaks, size_t k)
{
    for (size_t j = 0; j < k; j++) {
        printf("P %" PRId64 " %u\n", peaks[j].r, (unsigned)peaks[j].how);
        if (beat_window_push_peak(&bw, peaks[j].r) != BW_OK) {
            fprintf(stderr, "beat_window_push_peak refused r=%" PRId64 "\n", peaks[j].r);
            exit(3);
        }
    }
}

static void take_beats(void)
{
    bw_beat_t b;
    while (beat_window_pop(&bw, &b)) {
        printf("B %" PRId64 " %" PRId64 " %" PRId64, b.r, b.pre_rr, b.post_rr);
        for (unsigned i = 0; i < BW_RR_FEATURES; i++) {
            printf(" %d", b.rr[i]);
        }
        for (unsigned i = 0; i < BW_WINDOW_LEN; i++) {
            printf(" %d", b.window[i]);
        }
        printf("\n");
    }
}

int main(void)
{
    ecg_peak_t peaks[ECG_DSP_MAX_PEAKS_PER_PUSH];
    long v;
    uint64_t index = 0;
    ecg_dsp_init(&dsp);
    if (beat_window_init(&bw, BW_INPUT_SCALE, BW_INPUT_ZERO_POINT, BW_INPUT_SCALE, BW_INPUT_ZERO_POINT) != BW_OK) {
        return 4;
    }
    while (scanf("%ld", &v) == 1) {
        if (v < INT16_MIN || v > INT16_MAX) {
            fprintf(stderr, "sample %" PRIu64 ": %ld is not an int16\n", index, v);
            return 2;
        }
        beat_window_push_sample(&bw, (int16_t)v);
        take_peaks(peaks, ecg_dsp_push(&dsp, (int16_t)v, peaks, ECG_DSP_MAX_PEAKS_PER_PUSH));
        take_beats();
        index++;
    }
    if (!feof(stdin)) {
        fprintf(stderr, "sample %" PRIu64 ": not a decimal integer\n", index);
        return 2;
    }
    take_peaks(peaks, ecg_dsp_finish(&dsp, peaks, ECG_DSP_MAX_PEAKS_PER_PUSH));
    take_beats();
    printf("S samples=%" PRIu64 " candidates=%u peaks=%u searchback=%u twave=%u refractory=%u noise=%u lost=%u"
           " learn_overflow=%u beats=%u dropped=%u stale=%u rejected=%u\n",
           dsp.counters.samples, dsp.counters.candidates, dsp.counters.peaks, dsp.counters.searchback,
           dsp.counters.twave, dsp.counters.refractory, dsp.counters.noise, dsp.counters.lost,
           dsp.counters.learn_overflow, bw.counters.beats, bw.counters.dropped, bw.counters.stale,
           bw.counters.rejected);
    return 0;
}
"""


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Path:
    if shutil.which("gcc") is None:
        pytest.fail("gcc not on PATH. Run `bash scripts/setup.sh`.", pytrace=False)
    work = tmp_path_factory.mktemp("dsp-twin")
    src = work / "dsp_twin_driver.c"
    src.write_text(DRIVER_SOURCE)
    exe = work / "dsp_twin_driver"
    sources = [str(src)] + [str(p) for d in LIB_DIRS for p in sorted(d.glob("*.c"))]
    includes = [f"-I{REPO / 'firmware' / 'include'}"] + [f"-I{d}" for d in LIB_DIRS]
    proc = subprocess.run(["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
                           "-fno-sanitize-recover=all", *includes, *sources, "-o", str(exe)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return exe


@dataclass
class CRun:
    peaks: np.ndarray
    beats: np.ndarray  # [n, 3 + 3 + 128]: r, pre, post, rr, window
    counters: dict


def _run_c(driver: Path, samples: np.ndarray) -> CRun:
    text = " ".join(str(int(v)) for v in samples)
    proc = subprocess.run([str(driver)], input=text, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    peaks, beats, counters = [], [], None
    for line in proc.stdout.splitlines():
        kind, *fields = line.split()
        if kind == "P":
            peaks.append(int(fields[0]))
        elif kind == "B":
            beats.append([int(f) for f in fields])
        elif kind == "S":
            counters = {k: int(v) for k, v in (f.split("=") for f in fields)}
    assert counters is not None, "the driver printed no counters:\n" + proc.stdout[-2000:]
    width = 3 + RR_FEATURES + WINDOW_LEN
    return CRun(np.asarray(peaks, dtype=np.int64), np.asarray(beats, dtype=np.int64).reshape(-1, width), counters)


def _assert_twins_agree(label: str, samples: np.ndarray, c: CRun) -> dsp.Beats:
    peaks = dsp.detect_r_peaks(samples)
    beats = dsp.beats_from_peaks(samples, peaks)
    for k in range(min(len(peaks), len(c.peaks))):
        assert c.peaks[k] == peaks[k], f"{label}: R peak #{k}: C {c.peaks[k]}, dsp.py {peaks[k]}"
    assert len(c.peaks) == len(peaks), f"{label}: C found {len(c.peaks)} R peaks, dsp.py {len(peaks)}"
    py_rows = np.concatenate([beats.r[:, None], beats.pre_rr[:, None], beats.post_rr[:, None],
                              beats.rr.astype(np.int64), beats.windows.astype(np.int64)], axis=1)
    columns = ["r", "pre_rr", "post_rr"] + [f"rr[{i}]" for i in range(RR_FEATURES)] + \
              [f"window[{i}]" for i in range(WINDOW_LEN)]
    for k in range(min(len(py_rows), len(c.beats))):
        diff = np.nonzero(c.beats[k] != py_rows[k])[0]
        assert diff.size == 0, (f"{label}: beat #{k} (r={py_rows[k][0]}) {columns[diff[0]]}: C {c.beats[k][diff[0]]}, "
                                f"dsp.py {py_rows[k][diff[0]]}")
    assert len(c.beats) == len(py_rows), f"{label}: C made {len(c.beats)} beats, dsp.py {len(py_rows)}"
    assert c.counters["samples"] == len(samples) and c.counters["lost"] == 0
    assert c.counters["dropped"] == 0 and c.counters["stale"] == 0 and c.counters["rejected"] == 0
    return beats


# (record, start second, seconds): a regular rhythm (DS2); frequent V/F beats and search-back (DS1); a stretch
# of 200 (DS2) where a search-back and a candidate fall on the same sample, so their order matters; T-wave
# rejections (228, DS2).
RECORD_SEGMENTS = (("100", 0, 300), ("208", 0, 300), ("200", 300, 300), ("228", 0, 300))


@pytest.fixture(scope="module")
def record_runs(driver, mitdb_dir) -> dict:
    runs = {}
    for rid, start, seconds in RECORD_SEGMENTS:
        samples = load_record(mitdb_dir, rid).signal[start * FS:(start + seconds) * FS].astype(np.int64)
        assert len(samples) == seconds * FS
        runs[(rid, start, seconds)] = (samples, _run_c(driver, samples))
    return runs


@pytest.mark.parametrize("segment", RECORD_SEGMENTS, ids=[f"{r}@{s}s+{n}s" for r, s, n in RECORD_SEGMENTS])
def test_c_twin_equals_dsp_py_on_five_minutes_of_a_record(record_runs, segment):
    samples, c = record_runs[segment]
    beats = _assert_twins_agree(f"record {segment[0]} [{segment[1]} s, {segment[1] + segment[2]} s)", samples, c)
    assert len(beats.r) >= 300  # five minutes of beats, all compared


def test_the_record_runs_exercise_search_back_and_t_wave_rejection(record_runs):
    totals = {k: sum(c.counters[k] for _, c in record_runs.values()) for k in ("searchback", "twave", "refractory")}
    assert totals["searchback"] > 0 and totals["twave"] > 0 and totals["refractory"] > 0, totals
    assert record_runs[("208", 0, 300)][1].counters["searchback"] > 0


def test_c_twin_equals_dsp_py_when_the_stream_starts_inside_a_qrs(driver, mitdb_dir):
    """Record 100's first R peak is at sample 76: a stream from sample 78 has its first R peak before its start."""
    samples = load_record(mitdb_dir, "100").signal[78:78 + 20 * FS].astype(np.int64)
    c = _run_c(driver, samples)
    beats = _assert_twins_agree("record 100 from sample 78", samples, c)
    assert c.peaks[0] < 0 and beats.r[0] < 0  # the case the test is about did happen


@pytest.mark.parametrize("length", [1, 300, 600, dsp.LEARN_SAMPLES - 1, dsp.LEARN_SAMPLES, dsp.LEARN_SAMPLES + 1])
def test_c_twin_equals_dsp_py_on_streams_around_the_learning_period(driver, mitdb_dir, length):
    samples = load_record(mitdb_dir, "100").signal[:length].astype(np.int64)
    c = _run_c(driver, samples)
    _assert_twins_agree(f"record 100, first {length} samples", samples, c)
    if length >= 600:
        assert len(c.peaks) >= 2 and len(c.beats) >= 1  # decided at the end (or at the end of learning)


def test_c_twin_equals_dsp_py_on_full_scale_int16_streams(driver):
    rng = np.random.default_rng(20240607)
    n = 30 * FS
    noise = rng.integers(-32768, 32768, n)
    rails = np.where((np.arange(n) // 9) % 2 == 0, 32767, -32768)
    bursts = np.full(n, 1024)
    for start in range(100, n - 40, int(rng.integers(150, 400))):
        bursts[start:start + 12] = 32767
        bursts[start + 12:start + 24] = -32768
    mixed = np.concatenate([bursts[: n // 3], noise[: n // 3], rails[: n // 3]])
    total_peaks = 0
    for label, samples in (("uniform int16 noise", noise), ("rail-to-rail square wave", rails),
                           ("full-scale bursts", bursts), ("bursts, noise, rails", mixed)):
        c = _run_c(driver, samples.astype(np.int64))
        _assert_twins_agree(label, samples.astype(np.int64), c)
        total_peaks += len(c.peaks)
    assert total_peaks > 0


def test_driver_refuses_a_sample_outside_int16(driver):
    proc = subprocess.run([str(driver)], input="1 2 40000 3", capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "sample 2: 40000 is not an int16" in proc.stderr
