"""Schemathesis over the live server's OpenAPI schema (bounded): valid and invalid requests for every operation,
as an administrator (a device token for the device routes), on SQLite and PostgreSQL. No answer may be a 5xx."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from server.api.permissions import route_policies

EXAMPLES_PER_MODE = 4


def _checker(operation, mode, base_url: str, headers: dict[str, str], failures: list[str]):
    """A Hypothesis test calling one operation with cases of one generation mode; 5xx answers go to `failures`."""

    @settings(max_examples=EXAMPLES_PER_MODE, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        if response.status_code >= 500:
            failures.append(f"{operation.label} ({mode.value}): {response.status_code} "
                            f"{response.text[:300]}\n    {case.as_curl_command()}")

    return run


@pytest.fixture(scope="module")
def champion(live_server):
    from mlhelpers import promote, register_current

    version = register_current(live_server.settings)
    promote(live_server.settings, version)
    return version


def test_no_server_errors(live_server, admin, device, champion):
    schema = schemathesis.openapi.from_url(f"{live_server.base_url}/openapi.json")
    policies = route_policies(live_server.app)
    failures: list[str] = []
    operations = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        policy = policies[(operation.method.upper(), operation.path)]
        token = device.token if policy == "device" else admin.token
        headers = {"Authorization": f"Bearer {token}"}

        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = _checker(operation, mode, live_server.base_url, headers, failures)
            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (e.g. no parameters): the positive mode covers it
                assert mode is GenerationMode.NEGATIVE, operation.label

    assert operations >= 20, f"only {operations} operations in the schema"
    assert not failures, "\n".join(failures)
