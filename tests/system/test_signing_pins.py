"""The signing packages' pins: scripts/signing-requirements.txt (versions with their sha256, for pip's
hash-checking mode) names the same versions as pyproject.toml's dev extra, and those are the installed ones."""
from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

from heartbeat_core.settings import PROJECT_ROOT

HASHED = PROJECT_ROOT / "scripts" / "signing-requirements.txt"


def _hashed_pins() -> dict[str, tuple[str, list[str]]]:
    text = HASHED.read_text().replace("\\\n", " ")
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)", line)
        assert match, f"not `name==version --hash=sha256:...`: {line!r}"
        pins[match.group(1).lower()] = (match.group(2), re.findall(r"sha256:([0-9a-f]{64})", match.group(3)))
    return pins


def test_the_signing_packages_are_pinned_with_their_hashes_and_installed():
    pins = _hashed_pins()
    assert set(pins) == {"imgtool", "cryptography"}
    dev = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    dev_pins = dict(item.lower().split("==", 1) for item in dev if "==" in item)
    for name, (pinned, hashes) in pins.items():
        assert hashes, name
        assert dev_pins.get(name) == pinned, f"{name}: pyproject.toml pins {dev_pins.get(name)}, the hash file {pinned}"
        assert version(name) == pinned, f"{name} {version(name)} is installed, {pinned} is pinned"
