"""Writes the C header of the DSP golden vectors for the firmware's tests.

    python firmware/test/gen_golden.py [--json tests/contract/dsp_golden.json]
                                       [--out firmware/test/test_dsp_golden/golden_vectors.h]
                                       [--target-budget BYTES]

tests/contract/dsp_golden.json (made by `heartbeat golden`, toolchain.golden.dsp_vectors) holds real MIT-BIH
segments: the samples in, the R peaks and the beats (int8 window and RR features) that toolchain/dsp.py gives out.
The C tests (firmware/test/test_dsp_golden/) cannot read JSON on the target, so this turns it into static const
data. The header is generated, git-ignored and rewritten only when its content changes. `pio test` runs this
before building a test_dsp_golden suite (the test builds' pre-build step firmware/test/prebuild_vectors.py);
tests/firmware/test_dsp_twin.py runs it too.

On-target memory: the data of a case (int16 samples, int64 R peaks, 144-byte beats) is counted against
--target-budget (default 1 MiB of the 4 MB code SSRAM of QEMU mps2-an386); cases past the budget are compiled
only into host builds (`#if !GOLDEN_TARGET`), and the header says how many cases each build has.

Standard library only. A file that lacks a field or holds a value the header cannot carry is refused with a
message naming the case and field (SystemExit), and nothing is written.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from itertools import pairwise
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_JSON = REPO / "tests" / "contract" / "dsp_golden.json"
DEFAULT_OUT = HERE / "test_dsp_golden" / "golden_vectors.h"
DEFAULT_TARGET_BUDGET = 1 << 20
BEAT_BYTES = 8 + 128 + 3 + 5  # sizeof(golden_beat_t) with its padding to 8
VALUES_PER_LINE = 20


class GoldenError(SystemExit):
    def __init__(self, where: str, what: str):
        super().__init__(f"gen_golden: {where}: {what}")


def _int(value: object, where: str, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise GoldenError(where, f"expected an integer, got {value!r}")
    if not lo <= value <= hi:
        raise GoldenError(where, f"{value} outside {lo}..{hi}")
    return value


def _ints(values: object, where: str, lo: int, hi: int, length: int | None = None) -> list[int]:
    if not isinstance(values, list):
        raise GoldenError(where, f"expected a list of integers, got {type(values).__name__}")
    if length is not None and len(values) != length:
        raise GoldenError(where, f"expected {length} values, got {len(values)}")
    return [_int(v, f"{where}[{i}]", lo, hi) for i, v in enumerate(values)]


def _require(entry: object, keys: tuple[str, ...], where: str) -> dict:
    if not isinstance(entry, dict):
        raise GoldenError(where, f"expected an object, got {type(entry).__name__}")
    for key in keys:
        if key not in entry:
            raise GoldenError(where, f"missing {key}")
    return entry


def _c_array(values: list[int], suffix: str = "") -> str:
    if not values:
        return "{0}"  # C has no empty initializer; the count says 0
    rows = [", ".join(f"{v}{suffix}" for v in values[i:i + VALUES_PER_LINE])
            for i in range(0, len(values), VALUES_PER_LINE)]
    return "{\n    " + ",\n    ".join(rows) + "\n}"


def _c_ident(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


def render(table: object, target_budget: int = DEFAULT_TARGET_BUDGET) -> tuple[str, dict]:
    """The header's text and a summary (cases, samples, beats, target cases)."""
    table = _require(table, ("dsp_version", "fs", "window_len", "rr_features", "cases"), "top level")
    version = table["dsp_version"]
    if not isinstance(version, str) or not version or any(not 0x21 <= ord(c) <= 0x7E or c in '"\\' for c in version):
        raise GoldenError("dsp_version", f"expected a short printable string, got {version!r}")
    fs = _int(table["fs"], "fs", 1, 100_000)
    window_len = _int(table["window_len"], "window_len", 1, 4096)
    rr_features = _int(table["rr_features"], "rr_features", 1, 64)
    cases = table["cases"]
    if not isinstance(cases, list) or not cases:
        raise GoldenError("cases", "expected a non-empty list")

    body: list[str] = []
    rows: list[tuple[str, bool]] = []
    used = 0
    n_target = 0
    total_samples = total_peaks = total_beats = 0
    for i, case in enumerate(cases):
        where = f"cases[{i}]"
        _require(case, ("record", "start_sample", "samples", "r_peaks", "beats"), where)
        record = case["record"]
        if not isinstance(record, str) or not record.isalnum():
            raise GoldenError(f"{where}.record", f"expected a record name, got {record!r}")
        start = _int(case["start_sample"], f"{where}.start_sample", 0, 2**32 - 1)
        name = f"{record}@{start}"
        where = f"cases[{i}] ({name})"
        samples = _ints(case["samples"], f"{where}.samples", -32768, 32767)
        if not samples:
            raise GoldenError(f"{where}.samples", "no samples")
        peaks = _ints(case["r_peaks"], f"{where}.r_peaks", -(2**62), 2**62)
        if any(b <= a for a, b in pairwise(peaks)):
            raise GoldenError(f"{where}.r_peaks", "not strictly increasing")
        beats = case["beats"]
        if not isinstance(beats, list):
            raise GoldenError(f"{where}.beats", "expected a list")
        beat_rows = []
        for j, beat in enumerate(beats):
            at = f"{where}.beats[{j}]"
            _require(beat, ("r", "window", "rr"), at)
            r = _int(beat["r"], f"{at}.r", -(2**62), 2**62)
            window = _ints(beat["window"], f"{at}.window", -128, 127, window_len)
            rr = _ints(beat["rr"], f"{at}.rr", -128, 127, rr_features)
            beat_rows.append(f"    {{{r}ll, {_c_array(window)}, {_c_array(rr)}}}")

        size = 2 * len(samples) + 8 * len(peaks) + BEAT_BYTES * len(beats)
        on_target = used + size <= target_budget and n_target == i  # a prefix of the cases
        if on_target:
            used += size
            n_target += 1
        ident = f"golden_{i}_{_c_ident(name)}"
        guard_open, guard_close = ([], []) if on_target else (["#if !GOLDEN_TARGET"], ["#endif"])
        body += guard_open
        body.append(f"static const int16_t {ident}_samples[{len(samples)}] = {_c_array(samples)};")
        body.append(f"static const int64_t {ident}_r_peaks[] = {_c_array(peaks, 'll')};")
        beats_init = "{\n" + ",\n".join(beat_rows) + "\n}" if beat_rows else "{{0, {0}, {0}}}"
        body.append(f"static const golden_beat_t {ident}_beats[] = {beats_init};")
        body += guard_close
        body.append("")
        rows.append((f'    {{"{name}", {start}u, {ident}_samples, {len(samples)}u, {ident}_r_peaks, {len(peaks)}u, '
                     f"{ident}_beats, {len(beats)}u}},", on_target))
        total_samples += len(samples)
        total_peaks += len(peaks)
        total_beats += len(beats)
    if n_target == 0:
        raise GoldenError("cases[0]", f"its data alone exceeds the on-target budget of {target_budget} bytes")

    table_rows: list[str] = []
    for row, on_target in rows:
        table_rows += [row] if on_target else ["#if !GOLDEN_TARGET", row, "#endif"]
    header = [
        "/* golden_vectors.h: GENERATED by firmware/test/gen_golden.py from tests/contract/dsp_golden.json",
        " * -- do not edit, not committed. Regenerate with `python firmware/test/gen_golden.py`. */",
        "#ifndef GOLDEN_VECTORS_H",
        "#define GOLDEN_VECTORS_H",
        "",
        "#include <stdint.h>",
        "",
        "/* the Cortex-M4F build carries the first GOLDEN_N_CASES_TARGET cases, host builds all of them */",
        "#if defined(__arm__)",
        "#define GOLDEN_TARGET 1",
        "#else",
        "#define GOLDEN_TARGET 0",
        "#endif",
        "",
        f'#define GOLDEN_DSP_VERSION "{version}"',
        f"#define GOLDEN_FS {fs}u",
        f"#define GOLDEN_WINDOW_LEN {window_len}u",
        f"#define GOLDEN_RR_FEATURES {rr_features}u",
        f"#define GOLDEN_N_CASES_ALL {len(cases)}u",
        f"#define GOLDEN_N_CASES_TARGET {n_target}u",
        f"#define GOLDEN_TARGET_BYTES {used}u",
        "#if GOLDEN_TARGET",
        "#define GOLDEN_N_CASES GOLDEN_N_CASES_TARGET",
        "#else",
        "#define GOLDEN_N_CASES GOLDEN_N_CASES_ALL",
        "#endif",
        "",
        "typedef struct {",
        "    int64_t r;",
        "    int8_t window[GOLDEN_WINDOW_LEN];",
        "    int8_t rr[GOLDEN_RR_FEATURES];",
        "} golden_beat_t;",
        "",
        "typedef struct {",
        "    const char *name; /* record@start_sample */",
        "    uint32_t start_sample;",
        "    const int16_t *samples;",
        "    uint32_t n_samples;",
        "    const int64_t *r_peaks;",
        "    uint32_t n_peaks;",
        "    const golden_beat_t *beats;",
        "    uint32_t n_beats;",
        "} golden_case_t;",
        "",
        *body,
        "static const golden_case_t GOLDEN_CASES[] = {",
        *table_rows,
        "};",
        "",
        "#endif /* GOLDEN_VECTORS_H */",
        "",
    ]
    summary = {"cases": len(cases), "target_cases": n_target, "samples": total_samples, "peaks": total_peaks,
               "beats": total_beats, "target_bytes": used}
    return "\n".join(header), summary


def generate(json_path: os.PathLike | str, out_path: os.PathLike | str,
             target_budget: int = DEFAULT_TARGET_BUDGET) -> bool:
    """Writes the header if its content changed; returns True if it wrote."""
    json_path, out_path = Path(json_path), Path(out_path)
    try:
        table = json.loads(json_path.read_text())
    except OSError as exc:
        raise GoldenError(str(json_path), f"cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise GoldenError(str(json_path), f"not JSON: {exc}") from None
    text, summary = render(table, target_budget)
    if out_path.exists() and out_path.read_text() == text:
        print(f"gen_golden: {out_path} up to date ({summary['cases']} cases)")
        return False
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".golden_vectors.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fp:
            fp.write(text)
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print(f"gen_golden: wrote {out_path}: {summary['cases']} cases ({summary['target_cases']} on target, "
          f"{summary['target_bytes']} bytes), {summary['samples']} samples, {summary['peaks']} R peaks, "
          f"{summary['beats']} beats")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=str(DEFAULT_JSON), help="golden vectors (default: %(default)s)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="header to write (default: %(default)s)")
    parser.add_argument("--target-budget", type=int, default=DEFAULT_TARGET_BUDGET,
                        help="bytes of golden data on the Cortex-M4F build (default: %(default)s)")
    args = parser.parse_args(argv)
    generate(args.json, args.out, args.target_budget)
    return 0


if __name__ == "__main__":
    sys.exit(main())
