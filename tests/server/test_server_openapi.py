"""The API documents itself: every operation has a summary, a typed success answer, its error answers (401/403
when it needs credentials, 422 when it takes input), who may call it, and request bodies with examples."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def openapi(tmp_path_factory):
    import secrets

    from server.core.settings import Settings
    from server.main import create_app

    settings = Settings(secret_key=secrets.token_hex(32), state_dir=tmp_path_factory.mktemp("openapi-state"))
    return create_app(settings).openapi()  # the schema needs no database


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, op in item.items():
            yield method.upper(), path, op


def _resolve(schema, ref_or_schema):
    options = [o for o in ref_or_schema.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:  # an optional body: Model | None
        ref_or_schema = options[0]
    if "$ref" in ref_or_schema:
        return schema["components"]["schemas"][ref_or_schema["$ref"].rsplit("/", 1)[-1]]
    return ref_or_schema


def test_every_operation_is_documented(openapi):
    from server.api.permissions import PUBLIC_ROUTES

    problems = []
    for method, path, op in _operations(openapi):
        label = f"{method} {path}"
        if not op.get("summary"):
            problems.append(f"{label}: no summary")
        ok = [code for code in op["responses"] if code.startswith("2")]
        if not ok:
            problems.append(f"{label}: no success response")
        for code in ok:
            content = op["responses"][code].get("content", {})
            if code != "204" and not any(c.get("schema") for c in content.values()):
                problems.append(f"{label}: {code} answer has no schema")
        if (method, path) not in PUBLIC_ROUTES:
            for code in ("401", "403"):
                if code not in op["responses"]:
                    problems.append(f"{label}: {code} not documented")
        if (op.get("parameters") or op.get("requestBody")) and "422" not in op["responses"]:
            problems.append(f"{label}: 422 not documented")
        if not op.get("x-roles"):
            problems.append(f"{label}: no x-roles")
    assert not problems, "\n".join(problems)


def test_request_bodies_have_examples(openapi):
    missing = []
    for method, path, op in _operations(openapi):
        content = op.get("requestBody", {}).get("content", {})
        body = content.get("application/json")
        if body is None:
            continue
        schema = _resolve(openapi, body["schema"])
        if not (schema.get("examples") or schema.get("example") or body.get("examples") or body.get("example")):
            missing.append(f"{method} {path}")
    assert not missing, f"request bodies without examples: {missing}"


def test_validation_errors_are_documented_as_answered(openapi):
    body = openapi["components"]["schemas"]["HTTPValidationError"]
    report = _resolve(openapi, body["properties"]["detail"])
    assert set(report["properties"]) == {"message", "errors"}


def test_docs_authorize_uses_the_password_flow(openapi):
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["UserToken"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert schemes["DeviceToken"]["scheme"] == "bearer"
