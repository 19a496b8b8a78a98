"""Issue 14 finding 2: logins are throttled per account, per client address and per (account, address), with
growing delays answered 429 + Retry-After before any password is checked; every checked attempt is recorded;
and an attacker cannot lock a real user out for long (the account-wide delay is capped, and an address the user
logged in from before is not held by it)."""
from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select

TOKEN_URL = "/api/v1/auth/token"


class FakeClock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock(live_server, monkeypatch):
    from server.api.routes import auth

    monkeypatch.setattr(auth, "HELD_ANSWER_PAUSE_S", 0.0)  # the answer's pause is real time; the holds use the clock
    throttle = live_server.app.state.login_throttle
    real = throttle.clock
    fake = throttle.clock = FakeClock()
    throttle.reset()
    yield fake
    throttle.clock = real
    throttle.reset()


def _client(live_server, address: str) -> httpx.Client:
    c = httpx.Client(base_url=live_server.base_url, transport=httpx.HTTPTransport(local_address=address),
                     timeout=60)
    live_server.clients.append(c)
    return c


def _login(c: httpx.Client, email: str, password: str) -> httpx.Response:
    return c.post(TOKEN_URL, data={"username": email, "password": password})


def _attempts(db_session, email: str, outcome: str) -> int:
    from server.models.identity import LoginAttempt

    db_session.rollback()
    return db_session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.email == email, LoginAttempt.outcome == outcome))


def test_wrong_passwords_meet_growing_delays_and_are_recorded(live_server, clock, db_session):
    user = live_server.make_user("clinician")
    c = _client(live_server, "127.0.0.11")
    statuses = [_login(c, user.email, f"wrong guess number {i}").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 401]
    waits = []
    for _ in range(4):
        r = _login(c, user.email, user.password)  # even the right password is not checked while held
        assert r.status_code == 429, r.text
        assert "retry" in r.json()["detail"]
        waits.append(int(r.headers["retry-after"]))
        clock.now += waits[-1]
        assert _login(c, user.email, "still a wrong guess").status_code == 401
    assert waits == sorted(waits) and waits[-1] > waits[0], waits  # the delays grow
    clock.now += 10_000
    assert _login(c, user.email, user.password).status_code == 200
    assert _attempts(db_session, user.email, "failure") == 8
    assert _attempts(db_session, user.email, "success") >= 2  # make_user's login, and this one


def test_one_address_trying_many_accounts_is_held(live_server, clock):
    c = _client(live_server, "127.0.0.12")
    answers = [_login(c, f"guess-{uuid.uuid4().hex[:8]}@test.example", "a wrong password").status_code
               for _ in range(14)]
    assert answers[:10] == [401] * 10 and 429 in answers[10:], answers
    other = _client(live_server, "127.0.0.13")  # another address is not held
    assert _login(other, f"guess-{uuid.uuid4().hex[:8]}@test.example", "a wrong password").status_code == 401


def test_an_attacker_cannot_lock_a_real_user_out_for_long(live_server, clock):
    user = live_server.make_user("engineer")
    home = _client(live_server, "127.0.0.14")
    assert _login(home, user.email, user.password).status_code == 200  # the user's usual address
    attacker_addresses = [f"127.0.1.{i}" for i in range(1, 16)]
    for round_ in range(6):  # many addresses, each staying under its own limits, hammer the account
        for address in attacker_addresses:
            _login(_client(live_server, address), user.email, f"guess {round_} {address}")
        clock.now += 5
    # the account-wide delay is short for a new address ...
    r = _login(_client(live_server, "127.0.0.15"), user.email, user.password)
    if r.status_code == 429:
        assert int(r.headers["retry-after"]) <= 60, r.headers
    # ... and the user's usual address is not held by it at all
    assert _login(home, user.email, user.password).status_code == 200
