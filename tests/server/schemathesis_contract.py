"""Schemathesis's whole contract check (`--checks all`, positive and negative data, every phase) against a running
server: the suite's bounded run (test_server_schemathesis.py) and the long benchmark
(benchmarks/schemathesis_long.py) share it.

Every operation is called as an administrator whose id no generated request may name in its path
(schemathesis_hooks.py), so no generated PATCH or disable can take the run's own credentials away; ingest is
called with the token of its own device (schema-valid batches are sent for that device). One expectation is
widened, where a schema-valid request may still be refused with a documented 422 for what no JSON Schema can
state: the operations that set a password (too easy to guess, by zxcvbn), and ingest (items whose times fall
outside the server's clock window, feedback on an alert that is not stored, a device key used by another
message type: each named in the 422).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
PASSWORD_OPERATIONS = r"^(POST /api/v1/users|PATCH /api/v1/users/\{user_id\}|POST /api/v1/users/me/password)$"


def make_admin(settings) -> tuple[int, str]:
    """An administrator made in the database: its id and an access token for it."""
    import secrets
    from datetime import UTC, datetime

    from server.core import security
    from server.core.db import make_engine, make_sessionmaker
    from server.models.identity import Role, User

    engine = make_engine(settings.db_url)
    try:
        with make_sessionmaker(engine)() as session:
            user = User(email=f"contract-admin-{secrets.token_hex(4)}@test.example", full_name="Contract Admin",
                        role=Role.admin, is_active=True, created_at=datetime.now(UTC),
                        password_hash=security.hash_password(secrets.token_urlsafe(24)))
            session.add(user)
            session.commit()
            token, _ = security.create_access_token(user.id, user.role.value, settings.secret_key.get_secret_value(),
                                                    settings.access_token_minutes, version=user.token_version)
            return user.id, token
    finally:
        engine.dispose()


def write_config(path: Path, admin_token: str, device_token: str) -> Path:
    accepted = '["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]'
    path.write_text(f"""
headers = {{ Authorization = "Bearer {admin_token}" }}

[[operations]]
include-path = "/api/v1/ingest"
headers = {{ Authorization = "Bearer {device_token}" }}
checks.positive_data_acceptance.expected-statuses = {accepted}

[[operations]]
include-name-regex = '{PASSWORD_OPERATIONS}'
checks.positive_data_acceptance.expected-statuses = {accepted}
""")
    return path


def run(base_url: str, admin: tuple[int, str], device: tuple[str, str], workdir: Path, examples: int,
        seed: int | None = None, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """One `schemathesis run --checks all --mode all` over every operation; stdout+stderr in .stdout, and the
    NDJSON event log in <workdir>/events.ndjson."""
    admin_id, admin_token = admin
    device_uid, device_token = device
    config = write_config(workdir / "schemathesis.toml", admin_token, device_token)
    args = [str(SCHEMATHESIS), "--config-file", str(config), "run", f"{base_url}/openapi.json",
            "--checks", "all", "--mode", "all", "--max-examples", str(examples), "--workers", "1",
            "--continue-on-failure", "--max-failures", "10000", "--no-color",
            "--report", "ndjson", "--report-ndjson-path", str(workdir / "events.ndjson")]
    args += ["--seed", str(seed)] if seed is not None else ["--generation-deterministic"]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": str(HOOKS),
                               "HB_CONTRACT_ADMIN_ID": str(admin_id), "HB_CONTRACT_DEVICE_ID": device_uid})


def summary(output: str) -> dict[str, int]:
    """The run's counts from its closing summary: test cases generated, unique failures per check code."""
    found = {"cases": 0}
    cases = re.search(r"(\d+) generated", output)
    if cases:
        found["cases"] = int(cases.group(1))
    for code, name, count in re.findall(r"(ST\d+) ([A-Za-z -]+?): (\d+)", output):
        found[f"{code} {name.strip()}"] = int(count)
    return found
