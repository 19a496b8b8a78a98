"""Fixtures of the signed-image tests: signing keys made by `heartbeat firmware keygen`'s code in temporary folders
(never in the repository), an image imgtool signs from a synthetic payload (fast: no firmware build), and a real
release built by PlatformIO and signed by imgtool (slow, once per session)."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from heartbeat_system.firmware_release import KeyPaths, ReleaseSpec, build_release, keygen, sign_image


@pytest.fixture(scope="session")
def synthetic_model_sha256() -> str:
    return "ab" * 32


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory) -> KeyPaths:
    return keygen(tmp_path_factory.mktemp("keys") / "signing")


@pytest.fixture(scope="session")
def other_key(tmp_path_factory) -> KeyPaths:
    return keygen(tmp_path_factory.mktemp("keys") / "other")


@pytest.fixture(scope="session")
def synthetic_image(signing_key, synthetic_model_sha256, tmp_path_factory) -> Path:
    """imgtool's image of 20 000 seeded random bytes, signed as our releases are (qemu target, version 1.2.3+4,
    security counter 7)."""
    folder = tmp_path_factory.mktemp("synthetic")
    binary = folder / "app.bin"
    binary.write_bytes(random.Random(10).randbytes(20_000))
    out = folder / "app.signed.bin"
    sign_image(binary, out, signing_key.private, "qemu", "1.2.3+4", synthetic_model_sha256, 7)
    return out


@pytest.fixture(scope="session")
def qemu_release(signing_key, tmp_path_factory) -> tuple[Path, dict]:
    """A real release: `heartbeat firmware build --target qemu` (models/current, the firmware's version), in a
    workspace kept for the reproducibility test; (release folder, manifest)."""
    root = tmp_path_factory.mktemp("release-a")
    out = root / "release"
    manifest = build_release(ReleaseSpec(target="qemu", out_dir=out, key=signing_key.private),
                             workspace=root / "workspace")
    return out, manifest
