"""The test vectors of the firmware's image crypto (firmware/lib/imgcrypto): tests/contract/imgcrypto_vectors.json.

    python tests/firmware/imgcrypto_table.py            # rewrites the JSON (the same bytes every time)
    python tests/firmware/imgcrypto_table.py --check    # exit 1 if the committed JSON differs from a rebuild

Everything in the table comes from Python's `cryptography` (pinned, OpenSSL underneath) and NIST's CAVP files as
`cryptography-vectors` ships them, never from mbedtls, which the C suites test against it:
  - sha256: NIST SHA256ShortMsg (all 65 messages, 0..64 bytes) and the first SHA256LongMsg messages; each digest is
    NIST's, checked here against cryptography's;
  - sha256_repeat: FIPS 180-2's one million "a" (NIST's published digest), which the C suites feed in uneven
    pieces;
  - ecdsa_p256: NIST FIPS 186-3 SigVer [P-256,SHA-256] (good and bad signatures as NIST marks them), then our own:
    keys from fixed scalars, RFC 6979 (deterministic) signatures so the table is reproducible, and every refusal
    imgcrypto names (a flipped bit in the digest, in r, in s, in the key; r or s zero or >= n; malformed DER; keys
    of another curve or algorithm). Each entry says the status imgcrypto_verify_p256() must return.
tests/firmware/test_imgcrypto.py rebuilds the table and compares it with the committed file byte for byte;
firmware/test/gen_imgcrypto_vectors.py turns it into the C suites' header.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import cryptography
import cryptography_vectors
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature, encode_dss_signature

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "contract" / "imgcrypto_vectors.json"

# P-256 (SEC 2): the group order n and the field prime p
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
# FIPS 180-2, appendix B.3: SHA-256 of one million "a"
MILLION_A_SHA256 = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
LONG_MESSAGES = 3  # the first NIST long messages (163, 262 and 361 bytes)
STATUSES = ("ok", "key_format", "key_curve", "key_point", "sig_format", "sig_range", "sig_mismatch")


def _nist_records(relative: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(section, fields) for each blank-line separated record of a CAVP .rsp file."""
    section, fields = "", {}
    with cryptography_vectors.open_vector_file(relative, "r") as fp:
        for raw in list(fp) + [""]:
            line = raw.strip()
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
            elif " = " in line and not line.startswith("#"):
                key, value = line.split(" = ", 1)
                fields[key] = value
            elif not line and fields:
                yield section, fields
                fields = {}


def _sha256_vectors() -> list[dict[str, str]]:
    out = []
    for kind, relative, limit in (("short", "hashes/SHA2/SHA256ShortMsg.rsp", None),
                                  ("long", "hashes/SHA2/SHA256LongMsg.rsp", LONG_MESSAGES)):
        records = [fields for _, fields in _nist_records(relative) if "MD" in fields]
        for fields in records[:limit]:
            bits = int(fields["Len"])
            message = bytes.fromhex(fields["Msg"])[: bits // 8]
            digest = hashes.Hash(hashes.SHA256())
            digest.update(message)
            if digest.finalize().hex() != fields["MD"]:
                raise SystemExit(f"imgcrypto_table: NIST {kind} Len={bits}: cryptography disagrees with NIST")
            out.append({"name": f"nist_{kind}_len{bits}", "message": message.hex(), "digest": fields["MD"]})
    return out


def _sha256_repeat_vectors() -> list[dict[str, object]]:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"a" * 1_000_000)
    if digest.finalize().hex() != MILLION_A_SHA256:
        raise SystemExit("imgcrypto_table: cryptography disagrees with FIPS 180-2 on one million 'a'")
    return [{"name": "fips180_million_a", "pattern": b"a".hex(), "count": 1_000_000, "digest": MILLION_A_SHA256}]


def _point(public: ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _spki(public: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _loads(point: bytes) -> bool:
    """Does cryptography take these 65 bytes as a P-256 point?"""
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        return False
    return True


def _verifies(point: bytes, digest: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    try:
        key.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    except InvalidSignature:
        return False
    return True


def _entry(name: str, key: bytes, digest: bytes, signature: bytes, expect: str) -> dict[str, str]:
    assert expect in STATUSES, expect
    return {"name": name, "key": key.hex(), "digest": digest.hex(), "signature": signature.hex(), "expect": expect}


def _nist_sigver() -> list[dict[str, str]]:
    out = []
    records = [fields for section, fields in _nist_records("asymmetric/ECDSA/FIPS_186-3/SigVer.rsp")
               if section == "P-256,SHA-256"]
    for index, fields in enumerate(records):
        point = b"\x04" + bytes.fromhex(fields["Qx"]) + bytes.fromhex(fields["Qy"])
        digest = hashlib.sha256(bytes.fromhex(fields["Msg"])).digest()
        signature = encode_dss_signature(int(fields["R"], 16), int(fields["S"], 16))
        nist_ok = fields["Result"].startswith("P")
        if not _loads(point):
            expect = "key_point"
        else:
            expect = "ok" if _verifies(point, digest, signature) else "sig_mismatch"
        if (expect == "ok") != nist_ok:
            raise SystemExit(f"imgcrypto_table: NIST SigVer P-256 #{index}: cryptography says {expect}, NIST says "
                             f"{fields['Result']}")
        reason = fields["Result"].split("- ", 1)[1].rstrip(")").strip().replace(" ", "_").lower() if not nist_ok \
            else "good"
        out.append(_entry(f"nist_sigver_{index:02d}_{reason}", point, digest, signature, expect))
    return out


def _key(label: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key from a fixed scalar (the label's SHA-256 reduced into 1..n-1): the same key on every run."""
    scalar = int.from_bytes(hashlib.sha256(label.encode()).digest(), "big") % (N - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _sign(key: ec.EllipticCurvePrivateKey, digest: bytes) -> bytes:
    """RFC 6979 deterministic ECDSA over the SHA-256 `digest` (what imgtool signs is that digest's message)."""
    return key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True))


def _signatures_by_length(key: ec.EllipticCurvePrivateKey) -> dict[int, tuple[bytes, bytes]]:
    """Signatures of 70, 71 and 72 bytes (r and s with or without their top bit set): length -> (digest, sig)."""
    found: dict[int, tuple[bytes, bytes]] = {}
    counter = 0
    while len(found) < 3:
        digest = hashlib.sha256(f"heartbeat image {counter}".encode()).digest()
        signature = _sign(key, digest)
        r, s = decode_dss_signature(signature)
        if r.bit_length() > 248 and s.bit_length() > 248:  # 32-byte integers: lengths 70..72 only
            found.setdefault(len(signature), (digest, signature))
        counter += 1
    return found


def _der_integer(value: bytes) -> bytes:
    return b"\x02" + bytes([len(value)]) + value


def _der_sequence(body: bytes) -> bytes:
    return b"\x30" + bytes([len(body)]) + body


def _flip_bit(data: bytes, index: int, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[index] ^= 1 << bit
    return bytes(out)


def _own_vectors() -> list[dict[str, str]]:
    key_a, key_b = _key("heartbeat imgcrypto test key A"), _key("heartbeat imgcrypto test key B")
    point_a, spki_a = _point(key_a.public_key()), _spki(key_a.public_key())
    point_b = _point(key_b.public_key())
    by_length = _signatures_by_length(key_a)
    digest, sig = by_length[71]
    r, s = decode_dss_signature(sig)
    out = [_entry(f"good_point_sig{length}", point_a, d, sg, "ok") for length, (d, sg) in sorted(by_length.items())]
    out.append(_entry("good_spki", spki_a, digest, sig, "ok"))
    out.append(_entry("good_key_b", point_b, digest, _sign(key_b, digest), "ok"))

    # flipped bits: the signature no longer matches, or the key is no longer a point of the curve
    out.append(_entry("flip_digest_first_bit", point_a, _flip_bit(digest, 0, 7), sig, "sig_mismatch"))
    out.append(_entry("flip_digest_last_bit", point_a, _flip_bit(digest, 31), sig, "sig_mismatch"))
    out.append(_entry("flip_r", point_a, digest, encode_dss_signature(r ^ 1, s), "sig_mismatch"))
    out.append(_entry("flip_s", point_a, digest, encode_dss_signature(r, s ^ (1 << 100)), "sig_mismatch"))
    out.append(_entry("swap_r_s", point_a, digest, encode_dss_signature(s, r), "sig_mismatch"))
    out.append(_entry("other_key", point_b, digest, sig, "sig_mismatch"))
    for name, key, at in (("flip_key_x", point_a, 1 + 31), ("flip_key_y", point_a, 1 + 32 + 31),
                          ("flip_spki_point", spki_a, len(spki_a) - 1)):
        flipped = _flip_bit(key, at)
        assert not _loads(flipped[-65:]), name  # off the curve: cryptography refuses it too
        out.append(_entry(name, flipped, digest, sig, "key_point"))
    x_is_p = b"\x04" + P.to_bytes(32, "big") + point_a[33:]
    out.append(_entry("key_x_equals_p", x_is_p, digest, sig, "key_point"))

    # keys that are not a P-256 point or its SubjectPublicKeyInfo
    compressed = key_a.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.CompressedPoint)
    spki_p384 = _spki(ec.derive_private_key(12345, ec.SECP384R1()).public_key())
    spki_ed25519 = _spki(ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32))).public_key())
    for name, key, expect in (("key_empty", b"", "key_format"),
                              ("key_xy_without_prefix", point_a[1:], "key_format"),
                              ("key_compressed", compressed, "key_format"),
                              ("key_prefix_05", b"\x05" + point_a[1:], "key_format"),
                              ("key_spki_truncated", spki_a[:-1], "key_format"),
                              ("key_spki_trailing_byte", spki_a + b"\x00", "key_format"),
                              ("key_spki_p384", spki_p384, "key_curve"),
                              ("key_spki_ed25519", spki_ed25519, "key_curve")):
        out.append(_entry(name, key, digest, sig, expect))

    # r and s outside 1..n-1 (the digest is signed; only the range is wrong)
    for name, rr, ss in (("r_zero", 0, s), ("s_zero", r, 0), ("r_equals_n", N, s), ("s_equals_n", r, N),
                         ("r_above_n", N + 1, s), ("s_max_256_bit", r, (1 << 256) - 1)):
        out.append(_entry(name, point_a, digest, encode_dss_signature(rr, ss), "sig_range"))
    out.append(_entry("r_n_minus_1", point_a, digest, encode_dss_signature(N - 1, s), "sig_mismatch"))

    # malformed DER
    def der(rr: int, ss: int, pad_r: bytes = b"") -> bytes:
        """SEQUENCE { r, s } from 32-byte big-endian values: a 0x00 goes before a top bit only where DER wants it,
        `pad_r` before r regardless."""
        def integer(v: int, pad: bytes = b"") -> bytes:
            raw = v.to_bytes(32, "big")
            return _der_integer(pad + raw if pad or not raw[0] & 0x80 else b"\x00" + raw)
        return _der_sequence(integer(rr, pad_r) + integer(ss))

    assert der(r, s) == sig
    der_r, der_s = sig[2:2 + 2 + sig[3]], sig[2 + 2 + sig[3]:]
    low_digest, low_sig = by_length[70]  # r and s without their top bit: 32-byte INTEGERs
    lr, ls = decode_dss_signature(low_sig)
    high_digest, high_sig = by_length[72]  # r and s with their top bit: 33-byte INTEGERs (a 0x00 first)
    hr, hs = decode_dss_signature(high_sig)
    malformed = [
        ("der_empty", digest, b""),
        ("der_truncated", digest, sig[:-1]),
        ("der_trailing_zero", digest, sig + b"\x00"),  # what imgtool --pad-sig appends
        ("der_set_not_sequence", digest, b"\x31" + sig[1:]),
        ("der_long_form_length", digest, b"\x30\x81" + sig[1:]),
        ("der_length_too_long", digest, b"\x30" + bytes([sig[1] + 1]) + sig[2:]),
        ("der_r_not_integer", digest, _der_sequence(b"\x03" + der_r[1:] + der_s)),
        ("der_r_empty_integer", digest, _der_sequence(b"\x02\x00" + der_s)),
        ("der_r_not_minimal", low_digest, der(lr, ls, pad_r=b"\x00")),
        ("der_r_negative", high_digest, _der_sequence(_der_integer(hr.to_bytes(32, "big")) + high_sig[2 + 35:])),
        ("der_only_r", digest, _der_sequence(der_r)),
        ("der_three_integers", digest, _der_sequence(der_r + der_s + _der_integer(b"\x01"))),
        ("der_integer_overruns", digest, _der_sequence(b"\x02" + bytes([len(der_r) + 40]) + der_r[2:] + der_s)),
    ]
    assert high_sig[2:4] == b"\x02\x21" and len(high_sig[2 + 35:]) == 35, "r and s of 33 bytes expected"
    for name, d, signature in malformed:
        out.append(_entry(name, point_a, d, signature, "sig_format"))
    return out


def build_table() -> dict[str, object]:
    return {
        "about": "Test vectors of firmware/lib/imgcrypto (SHA-256, ECDSA P-256 verification), run by "
                 "firmware/test/test_imgcrypto on the host and in QEMU. Written by tests/firmware/imgcrypto_table.py "
                 "from cryptography and cryptography-vectors (NIST CAVP); do not edit by hand.",
        "generated_with": {"cryptography": cryptography.__version__,
                           "cryptography-vectors": cryptography_vectors.__version__},
        "statuses": list(STATUSES),
        "sha256": _sha256_vectors(),
        "sha256_repeat": _sha256_repeat_vectors(),
        "ecdsa_p256": _nist_sigver() + _own_vectors(),
    }


def render(table: dict[str, object]) -> str:
    return json.dumps(table, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file, write nothing")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    text = render(build_table())
    if args.check:
        same = args.out.exists() and args.out.read_text() == text
        print(f"imgcrypto_table: {args.out} is {'up to date' if same else 'NOT what the generator writes'}")
        return 0 if same else 1
    args.out.write_text(text)
    print(f"imgcrypto_table: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
