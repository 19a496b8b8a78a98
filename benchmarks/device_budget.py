"""Device budgets (not part of the test suite): memory of the `qemu` and `nrf52840` builds, instructions per
inference, and a 30-minute record streamed through the emulated device without dropping a sample.

    .venv/bin/python benchmarks/device_budget.py [--record 100] [--minutes 30]

* Flash and static RAM: arm-none-eabi-size of each image (flash = text + data, static RAM = data + bss; the
  tensor arena is a static array, so it is part of bss, shown on its own line too).
* Stack: the firmware paints its unused stack at boot (firmware/src/board.c); after the run the benchmark
  reads the stack region through the QEMU monitor and reports the deepest word that was written.
* Instructions per inference: every BEAT carries its inference cost in SysTick ticks of the 25 MHz
  mps2-an386 core clock; under `-icount shift=0` one instruction is 1 ns, so instructions = cost x 40. The
  equivalent at 64 MHz (the nRF52840) assumes one cycle per instruction (QEMU models no cycle timing).
* The record: every sample of it as SAMPLES frames with HOST_ACKs, as fast as the device takes them (the
  device applies back-pressure); then STATUS `samples` must equal the samples sent and `overruns` be 0, and
  the device's beats are compared with the toolchain's twin on the same samples.

Budgets (issue 3): flash <= 192 KB; static RAM + stack <= 64 KB; inference <= 3 M instructions. The table
is printed and written to <state>/benchmarks/device_budget.json; the exit status is 1 if a budget is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from edge_bridge import wire
from heartbeat_core.domain import FS
from heartbeat_core.settings import get_settings
from heartbeat_system.device_harness import QemuDevice
from heartbeat_system.elf import elf_sizes, elf_symbol_sizes, elf_symbols
from heartbeat_system.firmware_build import build_image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow is imported later, by the twin

KB = 1024
BUDGET_FLASH = 192 * KB
BUDGET_RAM = 64 * KB
BUDGET_INSTRUCTIONS = 3_000_000
INSTRUCTIONS_PER_TICK = 40  # 25 MHz SysTick, 1 instruction per ns under -icount shift=0
STACK_PAINT = 0x5AC5AC5A  # BOARD_STACK_PAINT in firmware/src/board.h
ACK_EVERY_FRAMES = 8


def image_sizes(elf: Path) -> dict:
    sizes = elf_sizes(elf)
    nm = elf_symbols(elf, ("s_arena", "s_app", "__stack_limit__", "__stack_top__"))
    sym_sizes = elf_symbol_sizes(elf, ("s_arena", "s_app"))
    return {
        "flash": sizes["text"] + sizes["data"],
        "static_ram": sizes["data"] + sizes["bss"],
        "arena": sym_sizes.get("s_arena", 0),
        "app_state": sym_sizes.get("s_app", 0),
        "stack_limit": nm.get("__stack_limit__"),
        "stack_top": nm.get("__stack_top__"),
        **sizes,
    }


def contiguous_seq(dev: QemuDevice) -> int:
    held = 0
    for s in sorted({f.seq for f in dev.frames}):
        if s != held + 1:
            break
        held = s
    return held


def stream_record(dev: QemuDevice, x: np.ndarray) -> int:
    n = 0
    for k, i in enumerate(range(0, len(x), wire.SAMPLES_MAX)):
        chunk = x[i:i + wire.SAMPLES_MAX]
        dev.send(wire.Samples(n, tuple(int(v) for v in chunk)))
        n += len(chunk)
        if k % ACK_EVERY_FRAMES == ACK_EVERY_FRAMES - 1:
            dev.send(wire.HostAck(contiguous_seq(dev)))
    return n


def stack_used(dev: QemuDevice, limit: int, top: int) -> int:
    words = dev.read_words(limit, (top - limit) // 4)
    for i, w in enumerate(words):
        if w != STACK_PAINT:
            return top - (limit + 4 * i)
    return 0


def row(name: str, value: str, budget: str = "", ok: bool | None = None) -> str:
    verdict = "" if ok is None else ("ok" if ok else "OVER")
    return f"| {name:<44} | {value:>16} | {budget:>10} | {verdict:<4} |"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--record", default="100", help="MIT-BIH record streamed through the device (MLII)")
    ap.add_argument("--minutes", type=float, default=30.0, help="minutes of the record (default 30; all: 31)")
    args = ap.parse_args()
    settings = get_settings()

    from toolchain.device_eval import classify_stream
    from toolchain.mitdb import DEFAULT_LEAD, load_record

    with tempfile.TemporaryDirectory(prefix="pio-budget-") as ws:
        qemu_elf = build_image(Path(ws), "qemu")
        nrf_elf = build_image(Path(ws), "nrf52840")
        qemu_size = image_sizes(qemu_elf)
        nrf_size = image_sizes(nrf_elf)

        rec = load_record(settings.data_dir, args.record, DEFAULT_LEAD)
        x = rec.signal[: int(args.minutes * 60 * FS)]
        with QemuDevice(qemu_elf, monitor=True) as dev:
            dev.wait_for(lambda f: isinstance(f.message, wire.Hello), 30)
            t0 = time.monotonic()
            sent = stream_record(dev, x)
            status = dev.status(timeout_s=300)  # answered once every sample sent has been processed
            wall_s = time.monotonic() - t0
            stack = stack_used(dev, qemu_size["stack_limit"], qemu_size["stack_top"])
            beats = [f.message for f in dev.of_type(wire.Beat)]
            errors = dev.of_type(wire.Error)

    flatbuffer = (settings.models_dir / "current" / "model_int8.tflite").read_bytes()
    tb, ts = classify_stream(flatbuffer, np.asarray(x, dtype=np.int64))
    twin = [(int(r), tuple(int(v) for v in s)) for r, s in zip(tb.r, ts, strict=True) if r >= 0]
    got = [(b.r_sample, tuple(b.scores)) for b in beats]
    instr = np.array([b.cost * INSTRUCTIONS_PER_TICK for b in beats], dtype=np.int64)

    ram_total = qemu_size["static_ram"] + stack
    results = {
        "record": args.record, "minutes": round(len(x) / FS / 60, 2),
        "qemu": {**qemu_size, "stack_used": stack, "ram_total": ram_total},
        "nrf52840": nrf_size,
        "instructions_per_inference": {"median": int(np.median(instr)), "max": int(instr.max()),
                                       "min": int(instr.min())},
        "samples_sent": sent, "samples_counted": status.samples, "overruns": status.overruns,
        "beats": len(beats), "beats_equal_twin": got == twin, "errors": len(errors),
        "stream_wall_s": round(wall_s, 1), "device_uptime_ms": status.uptime_ms,
    }
    checks = [
        qemu_size["flash"] <= BUDGET_FLASH,
        ram_total <= BUDGET_RAM,
        int(instr.max()) <= BUDGET_INSTRUCTIONS,
        status.samples == sent and status.overruns == 0,
    ]

    load_64 = float(instr.sum()) / (len(x) / FS) / 64e6
    lines = [
        row("what (qemu build, mps2-an386)", "measured", "budget", None),
        "|" + "-" * 46 + "|" + "-" * 18 + "|" + "-" * 12 + "|" + "-" * 6 + "|",
        row("flash (text + data)", f"{qemu_size['flash']:,} B", "196,608 B", checks[0]),
        row("static RAM (data + bss)", f"{qemu_size['static_ram']:,} B"),
        row("  of which tensor arena", f"{qemu_size['arena']:,} B"),
        row("  of which application state (app_t)", f"{qemu_size['app_state']:,} B"),
        row("stack, measured high-water mark", f"{stack:,} B"),
        row("static RAM + stack", f"{ram_total:,} B", "65,536 B", checks[1]),
        row("instructions per inference (median)", f"{int(np.median(instr)):,}"),
        row("instructions per inference (max)", f"{int(instr.max()):,}", "3,000,000", checks[2]),
        row("  = ms at 64 MHz, 1 instruction/cycle (max)", f"{instr.max() / 64e3:.1f} ms"),
        row("  inference CPU load at 64 MHz (mean)", f"{100 * load_64:.2f} %"),
        row(f"record {args.record}: samples sent", f"{sent:,}"),
        row("  samples counted by the device (STATUS)", f"{status.samples:,}", "= sent", checks[3]),
        row("  overruns", f"{status.overruns}", "0", status.overruns == 0),
        row("  beats (all equal to the twin's)", f"{len(beats):,} ({'yes' if got == twin else 'NO'})"),
        row("  wall time until the device processed it", f"{wall_s:.1f} s"),
        row("nrf52840 build: flash (text + data)", f"{nrf_size['flash']:,} B", "196,608 B",
            nrf_size["flash"] <= BUDGET_FLASH),
        row("nrf52840 build: static RAM (data + bss)", f"{nrf_size['static_ram']:,} B"),
    ]
    print("\n".join(lines))
    out_dir = settings.state_dir / "benchmarks"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "device_budget.json").write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out_dir / 'device_budget.json'}")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
