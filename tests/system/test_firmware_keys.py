"""`heartbeat firmware keygen`: an ECDSA P-256 pair made by imgtool, the private key 0600 whatever the umask, the
public key as PEM, DER and C that all name the same key, never overwriting a key, never inside the repository."""
from __future__ import annotations

import os
import re
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from heartbeat_core.cli import main
from heartbeat_core.errors import ConfigError
from heartbeat_core.settings import PROJECT_ROOT
from heartbeat_system.firmware_image import load_public_key, public_key_der
from heartbeat_system.firmware_release import key_paths, keygen, load_private_key


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_private_key_is_0600_whatever_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        paths = keygen(tmp_path / "keys")
    finally:
        os.umask(old)
    assert stat.S_IMODE(paths.private.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.private.parent.stat().st_mode) & 0o077 == 0, "a new key folder is the owner's only"
    assert not [p.name for p in paths.private.parent.iterdir() if p.name.startswith(".")], "no temporary file left"


def test_the_public_forms_are_the_private_keys_public_key(tmp_path):
    paths = keygen(tmp_path / "keys")
    private = load_private_key(paths.private)
    assert isinstance(private.curve, ec.SECP256R1)
    der = public_key_der(private.public_key())
    assert paths.public_der.read_bytes() == der
    assert public_key_der(load_public_key(paths.public_pem)) == der
    c_bytes = bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2}),", paths.public_c.read_text()))
    assert c_bytes == der
    assert b"PRIVATE" not in paths.public_pem.read_bytes()
    serialization.load_der_public_key(paths.public_der.read_bytes())  # a well-formed SubjectPublicKeyInfo


def test_two_key_pairs_differ(tmp_path):
    a, b = keygen(tmp_path / "a"), keygen(tmp_path / "b")
    assert a.public_der.read_bytes() != b.public_der.read_bytes()


@pytest.mark.parametrize("existing", ["private", "public_pem", "public_der", "public_c"])
def test_refuses_to_overwrite_any_key_file(tmp_path, existing):
    folder = tmp_path / "keys"
    folder.mkdir()
    target = getattr(key_paths(folder), existing)
    target.write_bytes(b"precious")
    with pytest.raises(ConfigError, match="refusing to overwrite an existing key"):
        keygen(folder)
    assert target.read_bytes() == b"precious"
    assert [p.name for p in folder.iterdir()] == [target.name], "nothing else was written"


def test_a_second_keygen_keeps_the_first_key(tmp_path):
    paths = keygen(tmp_path / "keys")
    before = paths.private.read_bytes()
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        keygen(tmp_path / "keys")
    assert paths.private.read_bytes() == before


def test_refuses_a_folder_inside_the_repository():
    folder = PROJECT_ROOT / "firmware" / "keys-test-never-made"
    with pytest.raises(ConfigError, match="inside the repository"):
        keygen(folder)
    assert not folder.exists()


def test_cli_keygen_then_refusal_in_one_line(tmp_path, capsys):
    folder = tmp_path / "keys"
    assert main(["firmware", "keygen", "--out", str(folder)]) == 0
    assert (folder / key_paths(folder).private.name).exists()
    capsys.readouterr()
    assert main(["firmware", "keygen", "--out", str(folder)]) == 1
    out = capsys.readouterr()
    lines = (out.out + out.err).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: refusing to overwrite an existing key"), lines
