"""`heartbeat firmware build`: a real PlatformIO build from a model version, signed by imgtool, written as a release
folder that `heartbeat firmware verify` accepts; reproducible across workspaces; refusals before anything builds.

What the reproducibility test compares between two builds in two workspaces (different paths): the ELF byte for
byte, the signed image byte for byte up to the end of the protected TLVs (header, payload, security counter, target,
model sha256: everything the SHA-256 covers) and so its SHA256 TLV and KEYHASH, and the manifests without the two
fields that depend on the signature's bytes (image_sha256, the image's and TLV area's sizes). The ECDSA signatures
are imgtool's, randomised: each is checked to verify.
"""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from heartbeat_core.cli import main
from heartbeat_core.errors import ConfigError
from heartbeat_core.settings import PROJECT_ROOT
from heartbeat_system.firmware_image import (
    IMAGE_F_RAM_LOAD,
    TLV_KEYHASH,
    ImageError,
    check_target,
    image_facts,
    load_public_key,
    verify_image,
)
from heartbeat_system.firmware_release import (
    ELF_NAME,
    IMAGE_NAME,
    MANIFEST_NAME,
    ReleaseSpec,
    build_release,
    check_version,
    default_version,
)

CURRENT = PROJECT_ROOT / "models" / "current"
SIGNATURE_DEPENDENT = ("image_sha256",)


@pytest.mark.slow
def test_build_then_verify_round_trip(qemu_release, signing_key, capsys):
    folder, manifest = qemu_release
    assert sorted(p.name for p in folder.iterdir()) == sorted([IMAGE_NAME, ELF_NAME, MANIFEST_NAME])
    assert json.loads((folder / MANIFEST_NAME).read_text()) == manifest
    data = (folder / IMAGE_NAME).read_bytes()
    image = verify_image(data, load_public_key(signing_key.public_pem))
    facts = image_facts(image)
    assert {k: manifest[k] for k in facts} == facts, "the manifest's image facts are the signed file's"
    card = json.loads((CURRENT / "card.json").read_text())
    assert manifest["model_version"] == CURRENT.resolve().name
    assert manifest["model_sha256"] == card["sha256"]
    assert manifest["firmware_version"] == default_version()
    assert manifest["target"] == "qemu" and image.header.flags & IMAGE_F_RAM_LOAD
    assert manifest["elf_sha256"] == hashlib.sha256((folder / ELF_NAME).read_bytes()).hexdigest()
    build = manifest["build"]
    assert build["imgtool"] == "2.5.0" and build["platformio"] and build["cryptography"]
    assert "arm-none-eabi-gcc" in build["arm_none_eabi_gcc"] and len(build["git_commit"]) == 40
    # the payload is the ELF's binary: the model's bytes are in it
    tflite = (CURRENT / "model_int8.tflite").read_bytes()
    assert tflite in image.data[image.header.header_size:image.header.header_size + image.header.payload_size]

    assert main(["firmware", "verify", str(folder / IMAGE_NAME), "--key", str(signing_key.public_pem),
                 "--target", "qemu"]) == 0
    out = capsys.readouterr().out
    assert f"firmware_version: {manifest['firmware_version']}" in out
    assert f"model_sha256: {card['sha256']}" in out


@pytest.mark.slow
def test_the_build_is_reproducible(qemu_release, signing_key, tmp_path):
    folder_a, manifest_a = qemu_release
    workspace = tmp_path / "another" / "workspace"
    manifest_b = build_release(ReleaseSpec(target="qemu", out_dir=tmp_path / "release", key=signing_key.private),
                               workspace=workspace)
    folder_b = tmp_path / "release"
    # the model library was generated in the build's own lib_dir, not in the repository's firmware/lib
    generated = workspace / "lib" / "model_data" / "model_data.c"
    assert not generated.parent.is_symlink() and generated.read_bytes() == (CURRENT / "model_data.c").read_bytes()
    assert (workspace / "lib" / "app").resolve() == PROJECT_ROOT / "firmware" / "lib" / "app"

    assert (folder_a / ELF_NAME).read_bytes() == (folder_b / ELF_NAME).read_bytes()
    key = load_public_key(signing_key.public_pem)
    a = verify_image((folder_a / IMAGE_NAME).read_bytes(), key)
    b = verify_image((folder_b / IMAGE_NAME).read_bytes(), key)
    assert a.signed_end == b.signed_end
    assert a.data[:a.signed_end] == b.data[:b.signed_end]
    assert a.image_hash == b.image_hash
    assert a.unprotected[TLV_KEYHASH].value == b.unprotected[TLV_KEYHASH].value

    def stable(manifest: dict) -> dict:
        m = {k: v for k, v in manifest.items() if k not in SIGNATURE_DEPENDENT}
        m["sizes"] = {k: v for k, v in manifest["sizes"].items() if k not in ("image", "tlvs")}
        return m

    assert stable(manifest_a) == stable(manifest_b)


@pytest.mark.slow
def test_another_model_version_and_the_other_target(signing_key, tmp_path, monkeypatch, capsys):
    """--model-version names a folder of the models directory (HEARTBEAT_MODELS_DIR); nrf52840 gets its own image
    that the qemu device refuses."""
    models = tmp_path / "models"
    shutil.copytree(CURRENT.resolve(), models / "cnn4-copy")
    monkeypatch.setenv("HEARTBEAT_MODELS_DIR", str(models))
    out = tmp_path / "nrf"
    assert main(["firmware", "build", "--target", "nrf52840", "--model-version", "cnn4-copy", "--out", str(out),
                 "--key", str(signing_key.private), "--version", "2.3.4+5", "--security-counter", "9"]) == 0
    assert "release written" in capsys.readouterr().out
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["model_version"] == "cnn4-copy"
    assert (manifest["target"], manifest["firmware_version"], manifest["security_counter"]) == ("nrf52840",
                                                                                              "2.3.4+5", 9)
    assert manifest["load_address"] is None, "the nRF52840's image is signed without a RAM load address"
    image = verify_image((out / IMAGE_NAME).read_bytes(), load_public_key(signing_key.public_pem))
    check_target(image, "nrf52840")
    with pytest.raises(ImageError, match="wrong target"):
        check_target(image, "qemu")


@pytest.mark.parametrize(("change", "expected"), [
    ({"target": "esp32"}, "unknown target 'esp32'"),
    ({"version": "1.2"}, "version '1.2' is not X.Y.Z"),
    ({"version": "1.256.0"}, "minor 256 is above 255"),
    ({"security_counter": -1}, "security counter -1 is outside"),
    ({"model_version": "no-such-model"}, "model version 'no-such-model' not found"),
    ({"key": "public"}, "is not an unencrypted PEM private key"),
    ({"key": "missing"}, "cannot read the signing key"),
    ({"out_dir": "non-empty"}, "exists and is not an empty folder"),
])
def test_refusals_before_anything_builds(signing_key, tmp_path, change, expected):
    spec = {"target": "qemu", "out_dir": tmp_path / "release", "key": signing_key.private, **change}
    if spec["key"] == "public":
        spec["key"] = signing_key.public_pem
    elif spec["key"] == "missing":
        spec["key"] = tmp_path / "missing.pem"
    if spec["out_dir"] == "non-empty":
        spec["out_dir"] = tmp_path / "taken"
        spec["out_dir"].mkdir()
        (spec["out_dir"] / "old").write_text("kept")
    workspace = tmp_path / "workspace"
    with pytest.raises((ConfigError, ImageError)) as info:
        build_release(ReleaseSpec(**spec), workspace=workspace)
    assert expected in info.value.one_line()
    assert not workspace.exists(), "nothing was built"
    if change.get("out_dir") == "non-empty":
        assert [p.name for p in spec["out_dir"].iterdir()] == ["old"], "an existing folder is never overwritten"


def test_version_checks():
    assert check_version("1.2.3") == "1.2.3+0"
    assert check_version("255.255.65535+4294967295") == "255.255.65535+4294967295"
    for bad in ("1.2.3.4", "01.2.3", "1.2.3+", "v1.2.3", "1.2.65536"):
        with pytest.raises(ConfigError):
            check_version(bad)
