"""`heartbeat firmware verify`: our parser of MCUboot's image format and the check of its SHA-256 and ECDSA P-256
signature (with `cryptography`), on images imgtool signed: one from a synthetic payload (fast) and the real
firmware release (slow). Every changed byte outside the payload, a sample of payload bytes, every truncation
point around the structure, trailing bytes and another key are refused with one line naming what is wrong."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from heartbeat_core.cli import main
from heartbeat_system.firmware_image import (
    HEADER_SIZE,
    IMAGE_F_RAM_LOAD,
    TARGETS,
    TLV_ECDSA_SIG,
    TLV_KEYHASH,
    TLV_SHA256,
    ImageError,
    McubootImage,
    check_security_counter,
    check_target,
    image_facts,
    load_public_key,
    parse_image,
    verify_image,
)
from heartbeat_system.firmware_release import sign_image


@pytest.fixture(params=["synthetic", pytest.param("release", marks=pytest.mark.slow)])
def signed(request, signing_key) -> tuple[bytes, McubootImage]:
    """(bytes, verified image) of an image imgtool signed with `signing_key`."""
    if request.param == "synthetic":
        path = request.getfixturevalue("synthetic_image")
    else:
        folder, _ = request.getfixturevalue("qemu_release")
        path = folder / "firmware.signed.bin"
    data = path.read_bytes()
    return data, verify_image(data, load_public_key(signing_key.public_pem))


def _refusal(data: bytes, key) -> str:
    with pytest.raises(ImageError) as info:
        verify_image(data, key)
    message = info.value.one_line()
    assert message and "\n" not in message
    return message


def _flip(data: bytes, at: int) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0x01
    return bytes(changed)


def test_a_signed_image_verifies_and_says_what_it_is(synthetic_image, signing_key, synthetic_model_sha256):
    image = verify_image(synthetic_image.read_bytes(), load_public_key(signing_key.public_pem))
    facts = image_facts(image)
    assert facts["firmware_version"] == "1.2.3+4"
    assert facts["security_counter"] == 7
    assert facts["target"] == "qemu"
    assert facts["model_sha256"] == synthetic_model_sha256
    assert facts["load_address"] == f"0x{TARGETS['qemu'].load_address:08x}"
    assert image.header.flags & IMAGE_F_RAM_LOAD
    assert facts["sizes"]["header"] == HEADER_SIZE
    assert facts["sizes"]["payload"] == 20_000
    assert sum(facts["sizes"][k] for k in ("header", "payload", "protected_tlvs", "tlvs")) == facts["sizes"]["image"]
    assert image.data[HEADER_SIZE:HEADER_SIZE + 20_000] == (synthetic_image.parent / "app.bin").read_bytes()


def test_our_parser_and_imgtools_own_verify_agree(signed, signing_key, tmp_path):
    data, image = signed
    path = tmp_path / "image.bin"
    path.write_bytes(data)
    out = subprocess.run([sys.executable, "-m", "imgtool.main", "verify", "-k", str(signing_key.private), str(path)],
                         capture_output=True, text=True, check=True).stdout
    assert f"Image version: {image.header.version_text}" in out
    assert f"Image digest: {image.image_hash.hex()}" in out


def test_every_changed_byte_of_header_and_tlvs_is_refused(signed, signing_key):
    data, image = signed
    key = load_public_key(signing_key.public_pem)
    payload_end = image.header.header_size + image.header.payload_size
    regions = {"header": range(0, 64), "header padding": range(HEADER_SIZE - 8, HEADER_SIZE),
               "protected TLVs": range(payload_end, image.signed_end),
               "TLV area": range(image.signed_end, len(data))}
    for region, offsets in regions.items():
        for at in offsets:
            try:
                verify_image(_flip(data, at), key)
            except ImageError:
                continue
            pytest.fail(f"a byte flipped at {at} ({region}) was accepted")


def test_each_region_is_named(signed, signing_key):
    data, image = signed
    key = load_public_key(signing_key.public_pem)
    payload_end = image.header.header_size + image.header.payload_size
    sig = image.unprotected[TLV_ECDSA_SIG]
    cases = {
        "payload": (HEADER_SIZE + image.header.payload_size // 2, "image hash mismatch"),
        "header: version": (20, "image hash mismatch"),
        "header: magic": (0, "not an MCUboot image: header magic"),
        "header: payload size": (13, "truncated image|bad protected TLV area|bad header"),
        "protected TLVs: security counter value": (payload_end + 8, "image hash mismatch"),
        "protected TLVs: info magic": (payload_end, "bad protected TLV area: info magic"),
        "TLVs: SHA256 value": (image.unprotected[TLV_SHA256].offset + 3, "image hash mismatch"),
        "TLVs: KEYHASH value": (image.unprotected[TLV_KEYHASH].offset, "KEYHASH mismatch"),
        "TLVs: info magic": (image.signed_end, "bad TLV area: info magic"),
        "signature: r": (sig.offset + 10, "bad signature"),
        "signature: s": (sig.offset + len(sig.value) - 1, "bad signature"),
    }
    for name, (at, expected) in cases.items():
        message = _refusal(_flip(data, at), key)
        assert any(e in message for e in expected.split("|")), f"{name}: {message}"


def test_a_sample_of_payload_bytes_is_refused(signed, signing_key):
    data, image = signed
    key = load_public_key(signing_key.public_pem)
    size = image.header.payload_size
    for at in sorted({HEADER_SIZE, HEADER_SIZE + size - 1, *(HEADER_SIZE + k * size // 97 for k in range(97))}):
        assert "image hash mismatch" in _refusal(_flip(data, at), key)


def test_a_truncated_image_is_refused(signed, signing_key):
    data, image = signed
    key = load_public_key(signing_key.public_pem)
    payload_end = image.header.header_size + image.header.payload_size
    lengths = {0, 1, 31, 32, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 1, payload_end - 1,
               *range(payload_end, len(data))}
    for length in sorted(lengths):
        message = _refusal(data[:length], key)
        assert "truncated image" in message, f"{length} bytes: {message}"


def test_bytes_after_the_image_are_refused(signed, signing_key):
    data, _ = signed
    message = _refusal(data + b"\xff" * 4, load_public_key(signing_key.public_pem))
    assert "4 unexpected bytes after the TLV area" in message


def test_another_key_is_refused(signed, other_key, signing_key, tmp_path, synthetic_model_sha256):
    data, _ = signed
    assert "KEYHASH mismatch" in _refusal(data, load_public_key(other_key.public_pem))
    # signed by another key, checked against ours
    binary = tmp_path / "app.bin"
    binary.write_bytes(b"\x00" * 1000)
    foreign = tmp_path / "foreign.bin"
    sign_image(binary, foreign, other_key.private, "qemu", "1.0.0", synthetic_model_sha256, 1)
    assert "KEYHASH mismatch" in _refusal(foreign.read_bytes(), load_public_key(signing_key.public_pem))


def test_a_keyhash_forged_to_ours_still_fails_on_the_signature(other_key, signing_key, tmp_path,
                                                               synthetic_model_sha256):
    """An image signed with another key whose KEYHASH was replaced by ours: only the signature can tell."""
    binary = tmp_path / "app.bin"
    binary.write_bytes(b"\x01" * 1000)
    foreign = tmp_path / "foreign.bin"
    sign_image(binary, foreign, other_key.private, "qemu", "1.0.0", synthetic_model_sha256, 1)
    ours = verify_image(foreign.read_bytes(), load_public_key(other_key.public_pem))  # genuine with its own key
    forged = bytearray(ours.data)
    at = ours.unprotected[TLV_KEYHASH].offset
    forged[at:at + 32] = hashlib.sha256(signing_key.public_der.read_bytes()).digest()
    assert "bad signature" in _refusal(bytes(forged), load_public_key(signing_key.public_pem))


def test_a_key_that_is_not_p256_is_refused(tmp_path):
    pem = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = tmp_path / "ed25519.pub.pem"
    path.write_bytes(pem)
    with pytest.raises(ImageError, match="not an ECDSA P-256 key"):
        load_public_key(path)
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(ImageError, match="is not a PEM public key"):
        load_public_key(tmp_path / "junk.pem")


def test_target_and_security_counter_checks(synthetic_image):
    image = parse_image(synthetic_image.read_bytes())
    check_target(image, "qemu")
    with pytest.raises(ImageError, match="wrong target: the image is for 'qemu', the device is 'nrf52840'"):
        check_target(image, "nrf52840")
    check_security_counter(image, 7)
    check_security_counter(image, 0)
    with pytest.raises(ImageError, match="security counter 7 is below the device's 8"):
        check_security_counter(image, 8)


def test_cli_verify_prints_the_manifest(synthetic_image, signing_key, capsys):
    assert main(["firmware", "verify", str(synthetic_image), "--key", str(signing_key.public_pem), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts == image_facts(parse_image(synthetic_image.read_bytes()))
    assert main(["firmware", "verify", str(synthetic_image), "--key", str(signing_key.public_pem)]) == 0
    out = capsys.readouterr().out
    assert "verified" in out and "firmware_version: 1.2.3+4" in out and "security_counter: 7" in out


@pytest.mark.parametrize(("args", "expected"), [
    ([], None),
    (["--target", "nrf52840"], "error: wrong target"),
    (["--min-security-counter", "9"], "error: security counter 7 is below the device's 9"),
])
def test_cli_verify_checks_on_request(synthetic_image, signing_key, capsys, args, expected):
    rc = main(["firmware", "verify", str(synthetic_image), "--key", str(signing_key.public_pem), *args])
    out = capsys.readouterr()
    if expected is None:
        assert rc == 0
    else:
        lines = (out.out + out.err).strip().splitlines()
        assert rc == 1 and len(lines) == 1 and lines[0].startswith(expected), lines


def test_cli_verify_refuses_in_one_line(synthetic_image, signing_key, tmp_path, capsys):
    changed = tmp_path / "changed.bin"
    changed.write_bytes(_flip(synthetic_image.read_bytes(), HEADER_SIZE + 100))
    assert main(["firmware", "verify", str(changed), "--key", str(signing_key.public_pem)]) == 1
    out = capsys.readouterr()
    lines = (out.out + out.err).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: image hash mismatch"), lines
    assert main(["firmware", "verify", str(tmp_path / "missing.bin"), "--key", str(signing_key.public_pem)]) == 1
    assert "cannot read the image" in capsys.readouterr().err
