"""Replay speed (not part of the test suite): a whole 30-minute MIT-BIH record through the emulated device with
`heartbeat replay --emulator`'s code path, and its EC57 summary against `heartbeat evaluate --pipeline`'s.

    .venv/bin/python benchmarks/replay.py [--record 100] [--seconds N]

Measures the wall time of the replay itself (QEMU started, image already built; the build is timed apart),
checks it against the goal (30 minutes of signal in under 5 minutes), and checks that the device's beats and the
EC57 summary equal the toolchain's pipeline evaluation (toolchain.device_eval) of the same record. The result is
printed and written to <state>/benchmarks/replay.json; the exit status is 1 if the goal or the equality is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from edge_bridge.link import DeviceLink
from edge_bridge.queue import DurableQueue
from edge_bridge.replay import BeatCollector, read_recording, stream_recording
from heartbeat_core.settings import get_settings
from heartbeat_system.emulator import Emulator
from heartbeat_system.firmware_build import build_image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow is imported later, by the twin
REPO = Path(__file__).resolve().parents[1]

GOAL_S = 5 * 60


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", default="100")
    ap.add_argument("--seconds", type=float, default=None, help="only the first N seconds (default: all)")
    args = ap.parse_args()
    s = get_settings()
    rec = read_recording(args.record, s.data_dir, None, args.seconds)
    minutes = len(rec.codes) / 360 / 60
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        t0 = time.monotonic()
        elf = build_image(Path(tmp) / "ws")
        build_s = time.monotonic() - t0
        with Emulator(elf) as emu, DurableQueue(Path(tmp) / "queue.db") as q:
            emu.wait_listening()
            collector = BeatCollector(rec)
            link = DeviceLink(emu.url, q, on_message=collector).start()
            try:
                t0 = time.monotonic()
                result = stream_recording(link, collector, timeout_s=300)
                replay_s = time.monotonic() - t0
            finally:
                link.stop()

    from toolchain.device_eval import classify_stream
    from toolchain.ec57 import ec57_summary, match_beats

    flatbuffer = (REPO / "models" / "current" / "model_int8.tflite").read_bytes()
    beats, scores = classify_stream(flatbuffer, rec.codes)
    keep = beats.r >= 0
    pipeline = ec57_summary(match_beats(rec.ref_samples, rec.ref_labels, beats.r[keep],
                                        scores[keep].argmax(axis=1), fs=rec.fs))
    same_beats = [(b["sample"], b["scores"]) for b in result.beats] == \
        [(int(r), [int(v) for v in sc]) for r, sc in zip(beats.r[keep], scores[keep], strict=True)]
    replay = result.ec57()
    same_ec57 = replay == pipeline
    report = {
        "record": rec.name, "minutes": round(minutes, 2), "beats": len(result.beats), "build_s": round(build_s, 1),
        "replay_s": round(replay_s, 1), "goal_s_per_30_min": GOAL_S,
        "replay_s_per_30_min": round(replay_s * 30 / minutes, 1), "lost": result.status.lost,
        "overruns": result.status.overruns, "same_beats_as_pipeline": same_beats, "same_ec57_as_pipeline": same_ec57,
        "qrs": replay["qrs"] if replay else None,
        "per_class": replay["gross"]["per_class"] if replay else None,
    }
    print(json.dumps(report, indent=2))
    out = s.state_dir / "benchmarks" / "replay.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    ok = report["replay_s_per_30_min"] < GOAL_S and same_beats and same_ec57 and not result.status.lost
    print(f"{'OK' if ok else 'MISSED'}: {minutes:.1f} min of record {rec.name} replayed in {replay_s:.1f} s "
          f"(goal: 30 min in < {GOAL_S} s); EC57 {'equals' if same_ec57 else 'DIFFERS FROM'} the pipeline's")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
