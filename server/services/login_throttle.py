"""Login throttling: growing delays per account, per client address and per (account, address). No HTTP.

Each key counts its failed logins. The first FREE failures cost nothing; every failure after them holds the key
for a delay that doubles (1 s, 2 s, 4 s, ...) up to the key's cap; a login on a held key is refused (429 with
Retry-After) before any password is checked, so a flood costs no argon2 and holds no database lock. Failures
are forgotten FORGET_AFTER_S after the last one; a successful login clears its account and pair.

| key | free failures | cap | why |
|---|---|---|---|
| (account, address) | 3 | 15 min | one client guessing one password |
| address | 10 | 15 min | one client trying many accounts |
| account | 10 | 60 s | many clients on one account: capped short, so an attacker cannot lock a real user out for long |

An address the account logged in from before (remembered for KNOWN_ADDRESS_S) is not held by the account-wide
delay at all: the user's own workstation keeps working while someone elsewhere guesses. The state lives in the
API process (one process serves the API); it is lost on restart, which only shortens delays. Every attempt whose
password was checked is recorded in `login_attempts` (services/users.record_login); refusals are in app.log.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

FORGET_AFTER_S = 3600.0
KNOWN_ADDRESS_S = 30 * 24 * 3600.0
MAX_KEYS = 100_000  # memory bound: the oldest keys are dropped beyond this


@dataclass(frozen=True)
class Rule:
    free: int
    cap_s: float


PAIR = Rule(free=3, cap_s=900.0)
ADDRESS = Rule(free=10, cap_s=900.0)
ACCOUNT = Rule(free=10, cap_s=60.0)


@dataclass
class _Count:
    failures: int = 0
    last: float = 0.0
    held_until: float = 0.0
    reported: bool = False  # the current hold's first refusal was logged


class LoginThrottle:
    """Call `wait(account, address)` before checking a password (seconds to wait, 0 when allowed), then
    `failed(...)` or `succeeded(...)`. Not thread-safe: the API calls it on its event loop only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        self._counts: dict[tuple[str, ...], _Count] = {}
        self._known: dict[tuple[str, str], float] = {}  # (account, address) -> last successful login

    def _keys(self, account: str, address: str) -> list[tuple[tuple[str, ...], Rule]]:
        keys: list[tuple[tuple[str, ...], Rule]] = [(("pair", account, address), PAIR), (("address", address), ADDRESS)]
        known = self._known.get((account, address))
        if known is None or self.clock() - known > KNOWN_ADDRESS_S:
            keys.append((("account", account), ACCOUNT))
        return keys

    def _count(self, key: tuple[str, ...], now: float) -> _Count:
        count = self._counts.get(key)
        if count is None or now - count.last > FORGET_AFTER_S:
            count = self._counts[key] = _Count()
        return count

    def wait(self, account: str, address: str) -> int:
        """Whole seconds until this login may be tried (0: now)."""
        now = self.clock()
        held = max((self._counts[key].held_until for key, _ in self._keys(account, address) if key in self._counts),
                   default=0.0)
        return max(0, math.ceil(held - now))

    def first_refusal(self, account: str, address: str) -> bool:
        """True for the first refusal of a hold (so app.log gets one line per hold, not one per request)."""
        held = [self._counts[key] for key, _ in self._keys(account, address)
                if key in self._counts and self._counts[key].held_until > self.clock()]
        fresh = [count for count in held if not count.reported]
        for count in fresh:
            count.reported = True
        return bool(fresh)

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        for key, rule in self._keys(account, address):
            count = self._count(key, now)
            count.failures += 1
            count.last = now
            beyond = count.failures - rule.free
            if beyond > 0:
                count.held_until = max(count.held_until, now + min(rule.cap_s, 2.0 ** min(beyond - 1, 30)))
                count.reported = False
        self._bound()

    def succeeded(self, account: str, address: str) -> None:
        self._counts.pop(("pair", account, address), None)
        self._counts.pop(("account", account), None)
        self._known[(account, address)] = self.clock()
        self._bound()

    def _bound(self) -> None:
        # dicts keep insertion order: beyond MAX_KEYS the oldest tenth goes
        if len(self._counts) > MAX_KEYS:
            for key in list(self._counts)[: MAX_KEYS // 10]:
                del self._counts[key]
        if len(self._known) > MAX_KEYS:
            for pair in list(self._known)[: MAX_KEYS // 10]:
                del self._known[pair]
