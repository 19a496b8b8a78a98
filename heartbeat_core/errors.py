"""The error kinds of every part: what went wrong, where, and what to do.

The `heartbeat` command prints a HeartbeatError as one line and exits non-zero; library callers catch it like
any exception.
"""
from __future__ import annotations


class HeartbeatError(Exception):
    """A failure the user can act on."""

    def __init__(self, what: str, where: str | None = None, hint: str | None = None):
        self.what = what
        self.where = where
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        parts = [self.what]
        if self.where:
            parts.append(f"({self.where})")
        text = " ".join(parts)
        if self.hint:
            text += f"; {self.hint}"
        return text


class ConfigError(HeartbeatError):
    """Settings, a configuration file or options that a part cannot run with."""


class DataError(HeartbeatError):
    """A record, CSV row or data folder that cannot be used."""


class ModelError(HeartbeatError):
    """A model that cannot be trained, converted, verified or exported."""


class GateError(HeartbeatError):
    """A promotion refused by the inter-patient gate."""


class DeviceError(HeartbeatError, RuntimeError):
    """The emulated device or its firmware build did not do what was needed; the message says what."""
