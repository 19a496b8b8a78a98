"""The password policy: 12..128 characters, not blank, no control or invisible characters, and not easy to guess.

Strength is estimated by zxcvbn (Dropbox's estimator, PyPI `zxcvbn`, pinned): score 0..4 from dictionaries of
common passwords, names and words, keyboard patterns, repeats, sequences and dates, and the user's own e-mail
address and name given as `user_inputs`; a password must score at least MIN_SCORE. The message says why a
password is refused (zxcvbn's warning and suggestions), never the password itself.
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from typing import Any

from server.core.text import describe_character, unsafe_character

PASSWORD_MIN = 12
PASSWORD_MAX = 128
MIN_SCORE = 3  # zxcvbn: 3 "safely unguessable: moderate protection from offline slow-hash scenario"

_zxcvbn: Callable[..., dict[str, Any]] = importlib.import_module("zxcvbn").zxcvbn


def _inputs(user_inputs: Iterable[str | None]) -> list[str]:
    """The e-mail address and name, and their parts (local part, domain labels, words)."""
    out: list[str] = []
    for value in user_inputs:
        if not value:
            continue
        value = value.strip().lower()
        out.append(value)
        out.extend(part for part in re.split(r"[@.\s_+-]+", value) if len(part) >= 3)
    return out


def password_problem(password: str, user_inputs: Iterable[str | None] = ()) -> str | None:
    """Why `password` may not be used (one sentence starting with "password"), or None when it may."""
    if not password.strip():
        return "password is blank (only spaces)"
    ch = unsafe_character(password)
    if ch is not None:
        return (f"password must not contain {describe_character(ch)}: control and invisible characters cannot be "
                "typed reliably")
    inputs = _inputs(user_inputs)
    if password.strip().lower() in inputs:
        return "password is the user's own e-mail address or name; choose something else"
    result = _zxcvbn(password[:PASSWORD_MAX], user_inputs=inputs, max_length=PASSWORD_MAX)
    score = int(result["score"])
    if score >= MIN_SCORE:
        return None
    feedback = result.get("feedback") or {}
    why = (feedback.get("warning") or "").strip().rstrip(".")
    tips = " ".join(str(s) for s in feedback.get("suggestions") or [])
    reason = f": {why}" if why else ""
    return (f"password is too easy to guess (strength {score} of 4, at least {MIN_SCORE} needed){reason}. "
            f"{tips or 'Use a few uncommon words.'}").strip()
