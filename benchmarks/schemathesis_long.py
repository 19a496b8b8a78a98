"""A long schemathesis run over the whole API (issue 14 finding 15): `--checks all`, positive and negative
data, every operation and phase, with many more examples than the suite's bounded run
(tests/server/test_server_schemathesis.py), and the count of 5xx answers.

    .venv/bin/python benchmarks/schemathesis_long.py [--examples 100] [--seed N] [--database-url URL]
                                                     [--min-cases 5000] [--out FILE]

The server (server.main.create_app under uvicorn, as the suite's live server) runs in this process on a free
loopback port with a temporary state folder, a SQLite database (or --database-url, e.g. an empty PostgreSQL
database: it is migrated first) and a champion model registered from models/current; schemathesis runs as its
own process (tests/server/schemathesis_contract.py: an administrator's token, a device token for ingest).
Reports the test cases, every failure by check, and the answers by status read from schemathesis's event
log (5xx target: 0). Exit status 1 when a check failed, a 5xx was seen or fewer than --min-cases cases ran.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "server")]

from live_server import start_live_server, stop_live_server  # noqa: E402  (tests/server on the path first)
from mlhelpers import promote, register_current  # noqa: E402
from schemathesis_contract import make_admin, run, summary  # noqa: E402


def statuses(events: Path) -> collections.Counter[int]:
    """Every answer's status code in schemathesis's NDJSON event log."""
    found: collections.Counter[int] = collections.Counter()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            response = node.get("response")
            if isinstance(response, dict) and isinstance(response.get("status_code"), int):
                found[response["status_code"]] += 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    with events.open() as f:
        for line in f:
            walk(json.loads(line))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="schemathesis --max-examples per operation")
    parser.add_argument("--seed", type=int, default=None, help="(default: deterministic generation)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--min-cases", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from server.core.db import upgrade
    from server.core.settings import Settings
    from server.schemas.device import DeviceCreate
    from server.services.devices import issue_token, register_device

    with tempfile.TemporaryDirectory(prefix="hb-schemathesis-") as tmp:
        state = Path(tmp) / "state"
        settings = Settings(secret_key=secrets.token_hex(32), state_dir=state, database_url=args.database_url,
                            mlflow_tracking_uri=f"sqlite:///{state / 'mlflow' / 'mlflow.db'}",
                            models_dir=state / "models", cache_dir=state / "cache",
                            data_dir=Path(os.environ.get("HEARTBEAT_DATA_DIR", REPO.parent / "shared/data/mitdb")))
        (state / "mlflow").mkdir(parents=True)
        upgrade(settings.db_url)
        promote(settings, register_current(settings))
        live = start_live_server(settings)
        try:
            from server.core.db import make_engine, make_sessionmaker

            engine = make_engine(settings.db_url)
            with make_sessionmaker(engine)() as session:
                device = register_device(session, DeviceCreate(device_uid="hb-qemu-0001", name="contract run"))
                _row, device_token = issue_token(session, device)
            engine.dispose()
            started = time.monotonic()
            done = run(live.base_url, make_admin(settings), ("hb-qemu-0001", device_token), Path(tmp),
                       args.examples, seed=args.seed, timeout=3 * 3600)
            elapsed = time.monotonic() - started
            answers = statuses(Path(tmp) / "events.ndjson")
            if args.out:  # the event log and schemathesis's report beside the figures, to look into any answer
                args.out.with_suffix(".events.ndjson").write_bytes((Path(tmp) / "events.ndjson").read_bytes())
                args.out.with_suffix(".txt").write_text(done.stdout + done.stderr)
        finally:
            stop_live_server(live)

    output = done.stdout + done.stderr
    counts = summary(output)
    failures = {k: v for k, v in counts.items() if k.startswith("ST")}
    five_xx = sum(n for code, n in answers.items() if code >= 500)
    report = {"examples": args.examples, "seed": args.seed, "database": "postgresql" if args.database_url else
              "sqlite", "cases": counts["cases"], "failures": failures, "answers": dict(sorted(answers.items())),
              "five_xx": five_xx, "seconds": round(elapsed, 1), "exit_status": done.returncode}
    print("\n".join(output.splitlines()[-25:]))
    print(f"schemathesis --checks all --mode all: {counts['cases']} cases in {elapsed:.0f} s; failures: "
          f"{failures or 'none'}; answers by status: {report['answers']}; 5xx: {five_xx} (target 0)")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    ok = done.returncode == 0 and not failures and five_xx == 0 and counts["cases"] >= args.min_cases
    print("schemathesis long run: " + ("OK" if ok else "TARGET MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
