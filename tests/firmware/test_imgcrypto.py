"""The firmware's image crypto (firmware/lib/imgcrypto: SHA-256 and ECDSA P-256 from mbedtls 2.28.3, Debian's
source package fetched by scripts/fetch_crypto.sh), checked against Python's `cryptography`, NIST and imgtool.

  - the vector table tests/contract/imgcrypto_vectors.json is exactly what tests/firmware/imgcrypto_table.py builds
    from cryptography and NIST's files, and covers every refusal; its C header generator refuses broken tables;
  - scripts/fetch_crypto.sh is quiet when the tree is in place, restores a changed file from the verified tarball
    and refuses a tarball whose sha256 is not the pinned one;
  - `pio test` runs firmware/test/test_imgcrypto natively (AddressSanitizer, UBSan, LeakSanitizer) and in QEMU on
    the table plus an image that imgtool 2.5.0 signs here with a key made for the test (0600, in tmp_path, never
    committed); the image's own TLVs are checked in C: its SHA256, KEYHASH and ECDSASIG;
  - firmware/test/test_qemu_imgcrypto measures one verification on the Cortex-M4F (instructions under
    -icount shift=0, stack, heap), and the crypto's flash is read from the build's map file.

A missing toolchain fails (never skips) with a message saying to run scripts/setup.sh.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import imgcrypto_table
import pytest
from pio_helpers import pio_env, pio_test, registered_cases, require_pio

REPO = Path(__file__).resolve().parents[2]
TEST_DIR = REPO / "firmware" / "test"
TABLE = REPO / "tests" / "contract" / "imgcrypto_vectors.json"
GENERATOR = TEST_DIR / "gen_imgcrypto_vectors.py"
FETCH = REPO / "scripts" / "fetch_crypto.sh"
SUITE, COST_SUITE = "test_imgcrypto", "test_qemu_imgcrypto"
IMAGE_CASE = "imgtool_image_signature_verifies"
TABLE_OVERRIDE = "HEARTBEAT_IMGCRYPTO_VECTORS"
# the crypto's share of the bootloader's 32 KB (docs/ota.md): SHA-256, bignum, ECP, ECDSA, ASN.1 and our wrapper
CRYPTO_FLASH_BUDGET = 16 * 1024
# MCUboot's image format as imgtool 2.5.0 writes it
IMAGE_MAGIC, TLV_INFO_MAGIC, TLV_PROT_INFO_MAGIC = 0x96F3B83D, 0x6907, 0x6908
TLV_KEYHASH, TLV_SHA256, TLV_ECDSASIG = 0x01, 0x10, 0x22
HEADER_SIZE = 0x200


# ---------------------------------------------------------------------------------------------------------------
# the table and its C header
# ---------------------------------------------------------------------------------------------------------------
def test_table_is_what_the_generator_builds_from_cryptography_and_nist():
    assert TABLE.read_text() == imgcrypto_table.render(imgcrypto_table.build_table()), \
        "tests/contract/imgcrypto_vectors.json is stale: run `python tests/firmware/imgcrypto_table.py`"


def test_table_covers_nist_and_every_refusal():
    table = json.loads(TABLE.read_text())
    vectors = table["ecdsa_p256"]
    names = [v["name"] for v in vectors]
    assert len(names) == len(set(names)), "vector names must be unique"
    expects = {v["expect"] for v in vectors}
    assert expects == set(imgcrypto_table.STATUSES)
    # NIST: all 65 short messages (0..64 bytes), long ones, and the 15 P-256/SHA-256 SigVer records
    short = [v for v in table["sha256"] if v["name"].startswith("nist_short_")]
    assert sorted(len(v["message"]) // 2 for v in short) == list(range(65))
    assert any(v["name"].startswith("nist_long_") for v in table["sha256"])
    assert sum(v["name"].startswith("nist_sigver_") for v in vectors) == 15
    for kind in ("flip_digest", "flip_r", "flip_s", "flip_key", "r_zero", "s_zero", "r_equals_n", "s_equals_n",
                 "der_truncated", "der_trailing_zero", "der_r_negative", "key_spki_p384", "good_spki"):
        assert any(n.startswith(kind) for n in names), kind
    # the good vectors verify with cryptography, the refused ones do not; imgcrypto's own choice of key encodings
    # (no compressed points) is a policy, not a cryptographic fact, so key_format entries are not cross-checked
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
    disagree = []
    for v in (v for v in vectors if v["expect"] != "key_format"):
        key_bytes, digest, sig = (bytes.fromhex(v[k]) for k in ("key", "digest", "signature"))
        try:
            key = (serialization.load_der_public_key(key_bytes) if key_bytes[:1] == b"\x30"
                   else ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key_bytes))
            key.verify(sig, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
            verified = True
        except (ValueError, InvalidSignature, TypeError, AttributeError):
            verified = False
        if verified != (v["expect"] == "ok"):
            disagree.append(v["name"])
    assert disagree == []


def _run_generator(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GENERATOR), *args], capture_output=True, text=True, check=False)


def test_header_generator_writes_every_vector_and_only_rewrites_on_change(tmp_path):
    out = tmp_path / "imgcrypto_vectors.h"
    first = _run_generator("--out", str(out))
    assert first.returncode == 0, first.stderr
    header = out.read_text()
    table = json.loads(TABLE.read_text())
    assert f"#define IV_N_SHA256 {len(table['sha256'])}u" in header
    assert f"#define IV_N_ECDSA {len(table['ecdsa_p256'])}u" in header
    assert "#define IV_HAVE_IMAGE 0" in header
    for v in table["ecdsa_p256"]:
        assert f'"{v["name"]}"' in header
    assert header.count("IMGCRYPTO_ERR_SIG_RANGE}") == sum(v["expect"] == "sig_range" for v in table["ecdsa_p256"])
    mtime = out.stat().st_mtime_ns
    second = _run_generator("--out", str(out))
    assert second.returncode == 0 and "up to date" in second.stdout
    assert out.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("breakage, named", [
    (lambda t: t["ecdsa_p256"][0].update(expect="maybe"), "ecdsa_p256[nist_sigver_00_s_changed]: expect must be"),
    (lambda t: t["ecdsa_p256"][3].update(digest="00" * 31), "ecdsa_p256[nist_sigver_03_good].digest: expected 32"),
    (lambda t: t["ecdsa_p256"][5].pop("signature"), "ecdsa_p256[5]: missing signature"),
    (lambda t: t["sha256"][2].update(message="xyz"), "sha256[2].message: not a hex string"),
    (lambda t: t["sha256_repeat"][0].update(count=-1), "sha256_repeat[0]: expected an integer"),
    (lambda t: t.update(imgtool_image={"image": "00" * 64, "pubkey": "00"}), "imgtool_image: missing hashed_len"),
    (lambda t: t.pop("ecdsa_p256"), "table: missing ecdsa_p256"),
])
def test_header_generator_refuses_a_broken_table_naming_the_entry(tmp_path, breakage, named):
    table = json.loads(TABLE.read_text())
    breakage(table)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(table))
    out = tmp_path / "imgcrypto_vectors.h"
    result = _run_generator("--json", str(bad), "--out", str(out))
    assert result.returncode != 0
    assert named in result.stderr, result.stderr
    assert not out.exists()


# ---------------------------------------------------------------------------------------------------------------
# scripts/fetch_crypto.sh
# ---------------------------------------------------------------------------------------------------------------
def _tree() -> Path:
    return Path(subprocess.run(["bash", str(FETCH), "--print-dir"], capture_output=True, text=True,
                               check=True).stdout.strip())


def _copy_layout(tmp_path: Path) -> Path:
    """A repository-shaped folder with the script and the verified downloads (no tree): no network needed."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(FETCH, root / "scripts" / FETCH.name)
    downloads = REPO / ".state" / "third_party" / "downloads"
    shutil.copytree(downloads, root / ".state" / "third_party" / "downloads")
    return root


def test_fetch_crypto_is_quiet_when_the_tree_is_in_place():
    result = subprocess.run(["bash", str(FETCH)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    tree = _tree()
    assert tree == REPO / ".state" / "third_party" / "mbedtls-2.28.3"
    assert "#define MBEDTLS_VERSION_STRING         \"2.28.3\"" in (tree / "include/mbedtls/version.h").read_text()
    # only what the firmware compiles (and the licence) is extracted
    assert {p.name for p in (tree / "library").iterdir()} >= {f.name for f in
                                                              (REPO / "firmware/lib/imgcrypto/upstream").glob("*.c")}
    assert not (tree / "library" / "ssl_tls.c").exists() and (tree / "LICENSE").exists()


def test_fetch_crypto_extracts_from_the_verified_tarball_and_restores_a_changed_file(tmp_path):
    root = _copy_layout(tmp_path)
    script = root / "scripts" / FETCH.name
    first = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert "extracting 31 files of mbedtls 2.28.3" in first.stdout
    tree = root / ".state" / "third_party" / "mbedtls-2.28.3"
    original = (tree / "library" / "ecdsa.c").read_bytes()
    assert original == (_tree() / "library" / "ecdsa.c").read_bytes()
    again = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)
    assert again.returncode == 0 and again.stdout == ""
    (tree / "library" / "ecdsa.c").write_bytes(original.replace(b"MBEDTLS_ERR_ECP_VERIFY_FAILED", b"0", 1))
    restored = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)
    assert restored.returncode == 0 and "extracting" in restored.stdout
    assert (tree / "library" / "ecdsa.c").read_bytes() == original


def test_fetch_crypto_refuses_a_tarball_whose_sha256_is_not_the_pin(tmp_path):
    """apt (here a stand-in on PATH) delivers a tarball with one byte changed: the script stops, naming the file
    and both hashes, and extracts nothing."""
    root = _copy_layout(tmp_path)
    downloads = root / ".state" / "third_party" / "downloads"
    orig = downloads / "mbedtls_2.28.3.orig.tar.gz"
    tampered = bytearray(orig.read_bytes())
    tampered[1000] ^= 0x01
    stash = tmp_path / "apt"
    stash.mkdir()
    (stash / orig.name).write_bytes(tampered)
    dsc = downloads / "mbedtls_2.28.3-1.dsc"
    shutil.copy2(dsc, stash / dsc.name)
    orig.unlink()  # not there: the script must fetch it
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(f"#!/bin/sh\n# stand-in: 'downloads' the .dsc and the tampered tarball\n"
                                     f"cp {stash}/* .\n")
    (bin_dir / "apt-cache").write_text("#!/bin/sh\necho 'Version: 2.28.3-1'\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    result = subprocess.run(["bash", str(root / "scripts" / FETCH.name)], capture_output=True, text=True, env=env,
                            check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    have = hashlib.sha256(bytes(tampered)).hexdigest()
    assert (f"setup: ERROR: mbedtls_2.28.3.orig.tar.gz: sha256 {have}, pinned "
            "3b4953aa55a681e084d31892d9904cc5328d6b4958ea57b90ae4b4f94ae69a8d") in result.stderr
    assert not (root / ".state" / "third_party" / "mbedtls-2.28.3").exists()


# ---------------------------------------------------------------------------------------------------------------
# an image signed by imgtool, made here
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class SignedImage:
    image: bytes
    pubkey: bytes  # imgtool getpub -e raw
    hashed_len: int
    payload_at: int
    payload_len: int
    tlvs: dict[int, tuple[int, int]]  # type -> (offset of the value, length), the unprotected area


def _imgtool(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "imgtool.main", *args], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, f"imgtool {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


def _parse_image(image: bytes) -> tuple[int, int, int, dict[int, tuple[int, int]]]:
    """MCUboot's layout, read here without imgtool: (hashed length, payload offset, payload length, TLVs)."""
    magic, _load, hdr_size, prot_size, img_size = struct.unpack_from("<IIHHI", image, 0)
    assert magic == IMAGE_MAGIC
    at = hdr_size + img_size
    if prot_size:
        assert struct.unpack_from("<HH", image, at) == (TLV_PROT_INFO_MAGIC, prot_size)
    hashed_len = at + prot_size
    info_magic, total = struct.unpack_from("<HH", image, hashed_len)
    assert info_magic == TLV_INFO_MAGIC and hashed_len + total == len(image)
    tlvs, at = {}, hashed_len + 4
    while at < hashed_len + total:
        kind, length = struct.unpack_from("<HH", image, at)
        tlvs[kind] = (at + 4, length)
        at += 4 + length
    return hashed_len, hdr_size, img_size, tlvs


def _make_signed_image(tmp_path: Path) -> tuple[SignedImage, str]:
    """A key made here (0600), a payload signed with it, the key exported: (the image, `getpub --lang c`)."""
    key = tmp_path / "keys" / "test-signing.pem"
    key.parent.mkdir(mode=0o700)
    _imgtool("keygen", "-k", str(key), "-t", "ecdsa-p256")
    key.chmod(0o600)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(bytes((i * 37 + 11) & 0xFF for i in range(3000)))
    image_path = tmp_path / "signed.bin"
    _imgtool("sign", "-k", str(key), "--header-size", hex(HEADER_SIZE), "--pad-header", "--align", "4",
             "--version", "1.2.3+4", "--security-counter", "7", "--slot-size", hex(0x40000),
             str(payload), str(image_path))
    _imgtool("verify", "-k", str(key), str(image_path))
    pub_der = tmp_path / "pub.der"
    _imgtool("getpub", "-k", str(key), "-e", "raw", "-o", str(pub_der))
    c_source = _imgtool("getpub", "-k", str(key), "--lang", "c")
    image = image_path.read_bytes()
    hashed_len, payload_at, payload_len, tlvs = _parse_image(image)
    return SignedImage(image, pub_der.read_bytes(), hashed_len, payload_at, payload_len, tlvs), c_source


@pytest.fixture(scope="module")
def signed_image(tmp_path_factory) -> SignedImage:
    return _make_signed_image(tmp_path_factory.mktemp("imgtool"))[0]


def test_what_imgtool_puts_in_an_image_is_what_imgcrypto_takes(tmp_path):
    """imgtool 2.5.0, ecdsa-p256: the public key it exports (raw and as C) is the 91-byte DER SubjectPublicKeyInfo
    of P-256, KEYHASH is its SHA-256, SHA256 covers header + payload + protected TLVs, ECDSASIG is an unpadded DER
    signature of that digest."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    img, c_source = _make_signed_image(tmp_path)
    assert stat.S_IMODE((tmp_path / "keys" / "test-signing.pem").stat().st_mode) == 0o600
    assert len(img.pubkey) == 91 and img.pubkey.startswith(bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d03"
                                                                         "0107034200" "04"))
    c_bytes = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", c_source))
    assert c_bytes == img.pubkey and "ecdsa_pub_key_len = 91;" in c_source
    key = serialization.load_der_public_key(img.pubkey)
    assert isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)

    digest = hashlib.sha256(img.image[:img.hashed_len]).digest()
    at, length = img.tlvs[TLV_SHA256]
    assert img.image[at:at + length] == digest
    at, length = img.tlvs[TLV_KEYHASH]
    assert img.image[at:at + length] == hashlib.sha256(img.pubkey).digest()
    at, length = img.tlvs[TLV_ECDSASIG]
    sig = img.image[at:at + length]
    assert 70 <= length <= 72 and sig[0] == 0x30 and sig[1] + 2 == length  # DER, nothing after it
    key.verify(sig, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    assert img.payload_at == 0x200 and img.hashed_len > img.payload_at + img.payload_len  # protected TLVs hashed


def _table_with_image(path: Path, img: SignedImage, table: dict | None = None) -> Path:
    table = table if table is not None else json.loads(TABLE.read_text())
    sha_at, _ = img.tlvs[TLV_SHA256]
    keyhash_at, _ = img.tlvs[TLV_KEYHASH]
    sig_at, sig_len = img.tlvs[TLV_ECDSASIG]
    table["imgtool_image"] = {"image": img.image.hex(), "pubkey": img.pubkey.hex(), "hashed_len": img.hashed_len,
                              "sha256_at": sha_at, "keyhash_at": keyhash_at, "signature_at": sig_at,
                              "signature_len": sig_len, "payload_at": img.payload_at, "payload_len": img.payload_len}
    path.write_text(json.dumps(table))
    return path


# ---------------------------------------------------------------------------------------------------------------
# the C suites, for real (slow: they build firmware)
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pio() -> Path:
    return require_pio()


def _copy_test_dir(tmp_path: Path) -> Path:
    """The suites in a copy of firmware/test, so a test-time table never lands in the repository's suite folders."""
    test_dir = tmp_path / "test"
    shutil.copytree(TEST_DIR, test_dir, ignore=shutil.ignore_patterns("__pycache__", "*_vectors.h"))
    return test_dir


def _env(workspace: Path, test_dir: Path, table: Path) -> dict[str, str]:
    env = pio_env(workspace, test_dir=test_dir)
    env[TABLE_OVERRIDE] = str(table)
    return env


def _assert_all_passed(rc: int, out: str, suites: dict, suite: str, extra: tuple[str, ...] = ()) -> None:
    """Every case the suite registers ran and passed, and the `extra` ones (compiled in by the table) too."""
    assert rc == 0, out
    expected = registered_cases(suite)
    assert len(expected) >= 3, f"could not read the case names of {suite}"
    assert sorted(c["name"] for c in suites[suite]["test_cases"]) == sorted([*expected, *extra]), out
    assert {c["status"] for c in suites[suite]["test_cases"]} == {"PASSED"}, out


slow = pytest.mark.slow


@slow
def test_native_suite_passes_every_vector_and_the_imgtool_image(pio, tmp_path, signed_image):
    assert IMAGE_CASE not in registered_cases(SUITE)  # it runs only when the table holds an image
    table = _table_with_image(tmp_path / "with_image.json", signed_image)
    test_dir = _copy_test_dir(tmp_path)
    rc, out, suites = pio_test(pio, _env(tmp_path / "ws", test_dir, table), "native", tmp_path / "r.json", SUITE)
    _assert_all_passed(rc, out, suites, SUITE, extra=(IMAGE_CASE,))
    assert "#define IV_HAVE_IMAGE 1" in (test_dir / SUITE / "imgcrypto_vectors.h").read_text()


@dataclass
class Cost:
    verify_instructions: int
    verify_stack_bytes: int
    verify_heap_bytes: int
    sha256_instructions_per_kib: int


def _cost(out: str) -> Cost:
    verify = re.search(r"imgcrypto cost: verify_instructions=(\d+) verify_stack_bytes=(\d+) verify_heap_bytes=(\d+)",
                       out)
    sha = re.search(r"imgcrypto cost: sha256_instructions_per_kib=(\d+)", out)
    assert verify and sha, "test_qemu_imgcrypto printed no cost lines:\n" + out
    return Cost(*(int(g) for g in verify.groups()), int(sha.group(1)))


def crypto_flash_bytes(map_file: Path) -> dict[str, int]:
    """Bytes of flash the crypto takes in a linked Cortex-M image: the .text, .rodata and .data input sections the
    linker kept (after --gc-sections) from the imgcrypto library's objects (our wrapper and mbedtls), by kind."""
    text = map_file.read_text()
    body = text[text.index("Linker script and memory map"):]
    sizes = {"text": 0, "rodata": 0, "data": 0}
    for section, size, obj in re.findall(r"^ \.(text|rodata|data)\S*\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)", body,
                                         re.M):
        if "libimgcrypto.a(" in obj:
            sizes[section] += int(size, 16)
    return sizes


@slow
def test_qemu_suites_pass_and_measure_one_verification(pio, tmp_path, signed_image):
    table = _table_with_image(tmp_path / "with_image.json", signed_image)
    test_dir = _copy_test_dir(tmp_path)
    workspace = tmp_path / "ws"
    rc, out, suites = pio_test(pio, _env(workspace, test_dir, table), "qemu", tmp_path / "q.json", SUITE)
    _assert_all_passed(rc, out, suites, SUITE, extra=(IMAGE_CASE,))

    rc, out, suites = pio_test(pio, _env(workspace, test_dir, table), "qemu", tmp_path / "c.json", COST_SUITE)
    _assert_all_passed(rc, out, suites, COST_SUITE)
    cost = _cost(out)
    flash = crypto_flash_bytes(workspace / "build" / "qemu" / "firmware.map")
    print(f"imgcrypto on the Cortex-M4F (-Os): flash {flash} = {sum(flash.values())} bytes; {cost}")
    assert flash["text"] > 5000 and flash["rodata"] > 0  # the map was read: mbedtls's code is in it
    assert sum(flash.values()) <= CRYPTO_FLASH_BUDGET, flash
    assert 0 < cost.verify_stack_bytes < 64 * 1024 and cost.verify_heap_bytes > 0


@slow
def test_the_c_suite_reads_the_vectors_a_changed_expectation_fails_it(pio, tmp_path):
    """The table with one good signature marked as refused and one refusal marked as good: the native suite fails
    on exactly those two cases, naming both vectors."""
    table = json.loads(TABLE.read_text())
    good = next(v for v in table["ecdsa_p256"] if v["name"] == "good_spki")
    good["expect"] = "sig_mismatch"
    bad = next(v for v in table["ecdsa_p256"] if v["name"] == "r_equals_n")
    bad["expect"] = "ok"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(table))
    test_dir = _copy_test_dir(tmp_path)
    rc, out, suites = pio_test(pio, _env(tmp_path / "ws", test_dir, tampered), "native", tmp_path / "r.json", SUITE)
    assert rc != 0, out
    failed = {c["name"] for c in suites[SUITE]["test_cases"] if c["status"] == "FAILED"}
    # good_spki now counts among the mismatches, r_equals_n among the good signatures
    assert failed == {"ecdsa_good_signatures_verify", "ecdsa_flipped_bits_and_other_keys_do_not_verify"}, out
    assert "ecdsa good_spki: expected sig_mismatch, got ok" in out
    assert "ecdsa r_equals_n: expected ok, got sig_range" in out
    assert "IMGCRYPTO_ERR_SIG_MISMATCH}" in (test_dir / SUITE / "imgcrypto_vectors.h").read_text()
