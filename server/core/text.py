"""Text that came from outside, made safe to show: in app.log lines, in error messages and in JSON answers.

- `escape(text)`: every control character (C0, DEL, C1), line or paragraph separator, invisible formatting
  character (bidirectional overrides, zero-width characters) and lone surrogate becomes a visible escape
  (`\\n`, `\\x00`, `\\u202e`, `\\ud800`), so a value can never start a forged log line, hide part of a line, or
  stop a UTF-8 encoder. (Backslashes are kept as they are: a literal `\\n` sent as text reads like an escaped line
  break, but cannot make one.) Printable text, accents and non-Latin scripts stay as they are.
- `surrogate_path(value)`: where a parsed JSON value holds a lone surrogate (JSON's `\\ud800` escape gives Python
  strings that are not Unicode text and cannot be encoded or stored), or None.
- `unsafe_character(text)`: the first character a name or e-mail address must not hold (control, formatting,
  separator or surrogate), or None.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def _escape_char(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else (f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


def escape(text: str) -> str:
    """`text` with every unsafe character written as a visible escape (see the module docstring)."""
    if text.isprintable():  # the common case, fast (isprintable is False for every character escaped)
        return text
    return "".join(_escape_char(ch) if ch in _SHORT or _unsafe(ch) else ch for ch in text)


def _ranges(categories: frozenset[str]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code)) in categories:
            if out and out[-1][1] == code - 1:
                out[-1][1] = code
            else:
                out.append([code, code])
    return tuple((lo, hi) for lo, hi in out)


# What a name or an e-mail address may not hold, one list for the check and for the schema's pattern (so they
# agree): C0/C1 controls and DEL, line and paragraph separators, lone surrogates and the invisible formatting
# characters (Unicode category Cf: bidirectional marks, overrides and isolates, zero-width characters, soft
# hyphen, ...) of the Basic Multilingual Plane.
NAME_FORBIDDEN: tuple[tuple[int, int], ...] = _ranges(frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"}))
NAME_FORBIDDEN_CLASS = "".join(f"\\u{lo:04x}" + (f"-\\u{hi:04x}" if hi > lo else "") for lo, hi in NAME_FORBIDDEN)
_NAME_FORBIDDEN_RE = re.compile(f"[{NAME_FORBIDDEN_CLASS}]")


def unsafe_character(text: str) -> str | None:
    """The first character of `text` that a name or an e-mail address may not hold (NAME_FORBIDDEN), or None."""
    found = _NAME_FORBIDDEN_RE.search(text)
    return found.group() if found else None


def describe_character(ch: str) -> str:
    """`U+202E (RIGHT-TO-LEFT OVERRIDE)`: how an error message names a refused character."""
    name = unicodedata.name(ch, "") or {"Cc": "a control character", "Cs": "a lone surrogate"}.get(
        unicodedata.category(ch), "an unassigned character")
    return f"U+{ord(ch):04X} ({name})"


def surrogate_path(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """The path to the first string (or object key) of a parsed JSON value holding a lone surrogate, or None."""
    if isinstance(value, str):
        return path if any("\ud800" <= ch <= "\udfff" for ch in value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and any("\ud800" <= ch <= "\udfff" for ch in key):
                return (*path, key)
            found = surrogate_path(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = surrogate_path(item, (*path, index))
            if found is not None:
                return found
    return None
