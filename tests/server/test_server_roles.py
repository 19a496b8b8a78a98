"""The role matrix: every operation of the OpenAPI schema, called with each role's token, a device token and no
token. Only the public routes answer without credentials; each principal gets exactly the rights its route's
policy gives (read from server/api/permissions.py through the dependency each route declares); nothing answers
5xx; and no response or log line carries a password, a password hash, an access token or a device token."""
from __future__ import annotations

import hashlib
import re
import uuid

import pytest
from sqlalchemy import select

from server.api.permissions import DEVICE, POLICIES, PUBLIC_ROUTES, USER_ROLES, route_policies

PRINCIPALS = ("none", "admin", "engineer", "clinician", "device")
PLACEHOLDER_INT = 999_999


def test_every_route_has_a_policy_or_is_listed_public(live_server):
    table = route_policies(live_server.app)
    schema = live_server.client().get("/openapi.json").json()
    operations = {(m.upper(), p) for p, item in schema["paths"].items() for m in item}
    assert operations == set(table), "schema and routes disagree"
    unguarded = {op for op, policy in table.items() if policy is None}
    assert unguarded <= PUBLIC_ROUTES, f"routes without a role rule: {sorted(unguarded - PUBLIC_ROUTES)}"
    assert all(policy in POLICIES for policy in table.values() if policy)


# ------------------------------------------------------------------------------------------------ the walk
@pytest.fixture(scope="module")
def actors(live_server, admin, engineer, clinician, device):
    return {"admin": admin, "engineer": engineer, "clinician": clinician, "device": device}


@pytest.fixture(scope="module")
def targets(live_server):
    """Resources the walk may change freely: a user to read/update/disable, a device to manage."""
    return {"user": live_server.make_user("clinician"), "device": live_server.make_device()}


def _value_for(param: dict, targets) -> str:
    name, schema = param["name"], param.get("schema", {})
    if name == "user_id":
        return str(targets["user"].id)
    if name == "device_uid":
        return targets["device"].device_uid
    if "enum" in schema:
        return str(schema["enum"][0])
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "integer":
            return str(max(PLACEHOLDER_INT if param["in"] == "path" else 1, option.get("minimum", 0)))
    if param["in"] == "header":
        return f"matrix-{uuid.uuid4().hex}"
    return str(PLACEHOLDER_INT)


def _request_for(method: str, path: str, op: dict, targets) -> dict:
    url = path
    params, headers = {}, {}
    for param in op.get("parameters", []):
        if param["in"] == "path":
            url = url.replace("{" + param["name"] + "}", _value_for(param, targets))
        elif param.get("required") and param["in"] == "query":
            params[param["name"]] = _value_for(param, targets)
        elif param.get("required") and param["in"] == "header":
            headers[param["name"]] = _value_for(param, targets)
    request = {"method": method, "url": url, "params": params, "headers": headers}
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        request["json"] = {}
    elif content:
        request["data"] = {}
    return request


@pytest.fixture(scope="module")
def champion(live_server):
    """The repository's exported model registered and promoted in this module's MLflow store, so the model routes
    answer as in service (without one, /predict says 503 "no champion yet")."""
    from mlhelpers import promote, register_current

    version = register_current(live_server.settings)
    promote(live_server.settings, version)
    return version


@pytest.fixture(scope="module")
def walk(live_server, actors, targets, champion):
    """Every operation x every principal: [(method, path, principal, status, body text)]."""
    schema = live_server.client().get("/openapi.json").json()
    clients = {"none": live_server.client()}
    clients.update({name: live_server.client(actor.token) for name, actor in actors.items()})
    results = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            # the principal least likely to change anything goes first; the admin last
            for principal in ("none", "device", "clinician", "engineer", "admin"):
                request = _request_for(method.upper(), path, op, targets)
                if principal == "device" and path == "/api/v1/ingest":
                    request["json"] = {"device_id": actors["device"].device_uid, "items": []}
                r = clients[principal].request(**request)
                results.append((method.upper(), path, principal, r.status_code, r.text))
    return results


def _expected(policy: str | None, principal: str) -> str:
    if policy is None:
        return "allowed"
    if principal == "none":
        return "401"
    return "allowed" if principal in POLICIES[policy] else "403"


def test_each_principal_gets_exactly_its_rights(live_server, walk):
    table = route_policies(live_server.app)
    wrong = []
    for method, path, principal, status, text in walk:
        expected = _expected(table[(method, path)], principal)
        if expected == "allowed":
            ok = status not in (401, 403) and status < 500
        else:
            ok = status == int(expected)
        if not ok:
            wrong.append(f"{method} {path} as {principal}: {status} (expected {expected}) {text[:200]}")
    assert not wrong, "\n".join(wrong)
    seen = {p for *_, p, _s, _t in walk}
    assert seen == set(PRINCIPALS)


def test_refusals_say_why(walk):
    for method, path, principal, status, text in walk:
        if status in (401, 403):
            assert '"detail"' in text and len(text) > 20, (method, path, principal, text)


def test_only_public_routes_and_the_docs_answer_without_credentials(live_server, walk):
    answered = {(m, p) for m, p, principal, status, _ in walk if principal == "none" and status != 401}
    assert answered <= PUBLIC_ROUTES, sorted(answered - PUBLIC_ROUTES)
    c = live_server.client()
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        assert c.get(path).status_code == 200, path


def test_policies_match_the_documented_decisions():
    # the written-down decisions of server/api/permissions.py, as a check that nobody loosens them by accident
    assert POLICIES["admin"] == {"admin"}
    assert POLICIES["engineer"] == {"admin", "engineer"}
    assert POLICIES["clinician"] == {"admin", "clinician"}
    assert POLICIES["user"] == USER_ROLES
    assert POLICIES["device"] == {DEVICE}


# ------------------------------------------------------------------------------------------------ secrets
def _secrets(live_server, actors, targets, db_session) -> dict[str, str]:
    from server.models.identity import DeviceToken, User

    found = {}
    for name, actor in {**actors, "target-user": targets["user"], "target-device": targets["device"]}.items():
        found[f"{name} token"] = actor.token
        if actor.password:
            found[f"{name} password"] = actor.password
            user = db_session.scalar(select(User).where(User.id == actor.id))
            found[f"{name} password hash"] = user.password_hash
            found[f"{name} password hash body"] = user.password_hash.rsplit("$", 1)[-1]
        else:
            found[f"{name} token hash"] = hashlib.sha256(actor.token.encode()).hexdigest()
    for row in db_session.scalars(select(DeviceToken)):
        found[f"device token hash {row.id}"] = row.token_hash
    return found


def test_no_secret_in_any_response_or_log_line(live_server, walk, actors, targets, db_session):
    secrets_ = _secrets(live_server, actors, targets, db_session)
    for method, path, principal, _status, text in walk:
        for name, value in secrets_.items():
            assert value not in text, f"{name} appears in the answer to {method} {path} as {principal}"
        assert "$argon2" not in text
    log = live_server.log_path.read_text()
    assert len(log.splitlines()) >= len(walk)  # every call of the walk was logged
    for name, value in secrets_.items():
        assert value not in log, f"{name} appears in app.log"
    assert "$argon2" not in log
    assert not re.search(r"hbd_[A-Za-z0-9_-]{20,}", log), "a device token appears in app.log"
    assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ", log), "an access token appears in app.log"


def test_secret_handling_flows_leave_no_secret_behind(live_server, admin, engineer):
    """The requests that do carry secrets (log in, create a user, change a password, issue a device token, use
    it) leave none of them in the log, and the only answer with a device token is the one that issues it."""
    c = live_server.client(admin.token)
    email = f"flow-{uuid.uuid4().hex[:8]}@test.example"
    password, new_password = "flow password " + uuid.uuid4().hex, "new flow password " + uuid.uuid4().hex
    assert c.post("/api/v1/users", json={"email": email, "role": "clinician", "password": password}) \
        .status_code == 201
    token = live_server.login(email, password)
    bad_login = live_server.client().post("/api/v1/auth/token", data={"username": email, "password": password + "x"})
    assert bad_login.status_code == 401
    r = live_server.client(token).post("/api/v1/users/me/password", json={"current_password": password,
                                                                         "new_password": new_password})
    assert r.status_code == 200
    uid = f"hb-flow-{uuid.uuid4().hex[:6]}"
    e = live_server.client(engineer.token)
    e.post("/api/v1/devices", json={"device_uid": uid})
    issued = e.post(f"/api/v1/devices/{uid}/tokens").json()
    device_token = issued["token"]
    ingest = live_server.client(device_token).post("/api/v1/ingest", json={"device_id": uid, "items": []},
                                                   headers={"Idempotency-Key": f"flow-{uuid.uuid4().hex}"})
    assert ingest.status_code not in (401, 403, 500)
    for answer in (e.get(f"/api/v1/devices/{uid}/tokens"), e.get(f"/api/v1/devices/{uid}"),
                   e.get("/api/v1/devices", params={"limit": 500}), c.get("/api/v1/users", params={"limit": 500})):
        assert device_token not in answer.text and password not in answer.text and "$argon2" not in answer.text
    log = live_server.log_path.read_text()
    for secret in (password, new_password, password + "x", token, device_token,
                   hashlib.sha256(device_token.encode()).hexdigest()):
        assert secret not in log
    assert issued["prefix"] in log  # what is logged instead: the token's display prefix
