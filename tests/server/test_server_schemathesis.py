"""Schemathesis over the live server's OpenAPI schema (bounded): `--checks all` (no 5xx, status codes, headers
and bodies as documented, schema-valid requests accepted and invalid ones refused, Allow on 405, auth as
documented, ...), positive and negative data, every operation and phase, on SQLite and PostgreSQL. It must report
nothing (issue 14 finding 15). The long run is benchmarks/schemathesis_long.py."""
from __future__ import annotations

import pytest
from schemathesis_contract import make_admin, run, summary

EXAMPLES = 3


@pytest.fixture(scope="module")
def champion(live_server):
    from mlhelpers import promote, register_current

    version = register_current(live_server.settings)
    promote(live_server.settings, version)
    return version


def test_schemathesis_checks_all_report_nothing(live_server, device, champion, tmp_path):
    done = run(live_server.base_url, make_admin(live_server.settings), (device.device_uid, device.token), tmp_path,
               EXAMPLES)
    (tmp_path / "output.txt").write_text(done.stdout + done.stderr)
    counts = summary(done.stdout + done.stderr)
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-150:])
    assert counts["cases"] > 500, tail
    assert done.returncode == 0, f"{counts}\n{tail}"
