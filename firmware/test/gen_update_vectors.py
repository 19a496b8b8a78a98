"""Writes the C header of the update tests: real images signed by imgtool with a key made here, never kept.

    python firmware/test/gen_update_vectors.py [--out firmware/test/test_update_rx/update_vectors.h] [--force]

The suite firmware/test/test_update_rx runs the device's transfer (update_rx) over the host's flash with the real
crypto (imgcrypto: mbedtls), so it needs images signed as releases are: `imgtool sign` with our layout and TLVs
(heartbeat_system.firmware_release.sign_image / imgtool). This makes, in a temporary folder removed afterwards, two
ECDSA P-256 keys (`heartbeat firmware keygen`: the private keys never leave that folder) and a deterministic
payload of a few flash pages, and writes as static const data:

    UV_PUBKEY             the DER public key of key A (the policy's built-in key in the tests)
    UV_VALID              payload signed with key A: version 1.2.3+4, security counter 5, target qemu, load 0x10000
    UV_OTHER_KEY          the same signed with key B
    UV_OTHER_TARGET       the same with the target TLV "nrf52840"
    UV_LOW_COUNTER        the same with security counter 2
    UV_*_SHA256           the sha256 of each file; UV_PAYLOAD_OFFSET / UV_PROT_OFFSET / UV_TLV_OFFSET / UV_SIG_OFFSET:
                          where the valid image's payload, protected TLVs, TLV area and signature start

The header is git-ignored (the suite folder's .gitignore); it is kept while this file is unchanged (its sha256 is
in the header's first line), so a build does not re-sign every time; --force makes it again. `pio test` runs this
before building the suite (firmware/test/prebuild_vectors.py).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_OUT = HERE / "test_update_rx" / "update_vectors.h"

PAYLOAD_SIZE = 9000  # three 4 KiB flash pages, the last one partly: a transfer erases pages as it reaches them
VERSION = "1.2.3+4"
COUNTER = 5
LOW_COUNTER = 2
LOAD_ADDRESS = 0x00010000
MODEL_SHA256 = "ab" * 32


def _stamp() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _sign(binary: Path, out: Path, key: Path, target: str, counter: int) -> bytes:
    sys.path.insert(0, str(REPO))
    from heartbeat_system import firmware_release as fr

    fr.imgtool(["sign", "--key", str(key), "--header-size", hex(fr.HEADER_SIZE), "--pad-header",
                "--align", str(fr.WRITE_ALIGN), "--slot-size", hex(fr.SLOT_SIZE), "--version", VERSION,
                "--security-counter", str(counter), "--custom-tlv", hex(fr.TLV_TARGET), target,
                "--custom-tlv", hex(fr.TLV_MODEL_SHA256), "0x" + MODEL_SHA256,
                "--load-addr", hex(LOAD_ADDRESS), str(binary), str(out)])
    return out.read_bytes()


def _array(name: str, data: bytes) -> str:
    rows = [", ".join(f"0x{b:02x}" for b in data[i:i + 16]) for i in range(0, len(data), 16)]
    return (f"#define {name}_LEN {len(data)}u\nstatic const uint8_t {name}[{name}_LEN] = {{\n    "
            + ",\n    ".join(rows) + ",\n};\n"
            + f"static const uint8_t {name}_SHA256[32] = {{"
            + ", ".join(f"0x{b:02x}" for b in hashlib.sha256(data).digest()) + "};\n")


def _offsets(image: bytes) -> dict[str, int]:
    import struct

    _magic, _load, hdr, prot, size = struct.unpack_from("<IIHHI", image, 0)
    prot_off = hdr + size
    tlv_off = prot_off + prot
    pos, end = tlv_off + 4, tlv_off + struct.unpack_from("<HH", image, tlv_off)[1]
    sig = -1
    while pos < end:
        kind, length = struct.unpack_from("<HH", image, pos)
        if kind == 0x22:
            sig = pos + 4
        pos += 4 + length
    if sig < 0:
        raise SystemExit("gen_update_vectors: the signed image has no ECDSASIG TLV")
    return {"PAYLOAD": hdr, "PROT": prot_off, "TLV": tlv_off, "SIG": sig}


def generate(out: Path = DEFAULT_OUT, force: bool = False) -> None:
    out = Path(out)
    stamp = _stamp()
    if not force and out.exists() and out.read_text().splitlines()[:1] == [f"/* gen_update_vectors {stamp} */"]:
        return
    sys.path.insert(0, str(REPO))
    from heartbeat_system import firmware_release as fr

    with tempfile.TemporaryDirectory(prefix="heartbeat-update-vectors-") as tmp:
        t = Path(tmp)
        key_a = fr.keygen(t / "a")
        key_b = fr.keygen(t / "b")
        payload = random.Random(20261204).randbytes(PAYLOAD_SIZE)
        binary = t / "payload.bin"
        binary.write_bytes(payload)
        valid = _sign(binary, t / "valid.bin", key_a.private, "qemu", COUNTER)
        other_key = _sign(binary, t / "other_key.bin", key_b.private, "qemu", COUNTER)
        other_target = _sign(binary, t / "other_target.bin", key_a.private, "nrf52840", COUNTER)
        low = _sign(binary, t / "low.bin", key_a.private, "qemu", LOW_COUNTER)
        pubkey = key_a.public_der.read_bytes()
    offsets = _offsets(valid)
    major, minor, rest = VERSION.split(".", 2)
    revision, build = rest.split("+")
    text = (f"/* gen_update_vectors {stamp} */\n"
            "/* update_vectors.h - generated by firmware/test/gen_update_vectors.py; git-ignored, never edited. */\n"
            "#ifndef UPDATE_VECTORS_H\n#define UPDATE_VECTORS_H\n\n#include <stdint.h>\n\n"
            f"#define UV_VERSION_MAJOR {major}u\n#define UV_VERSION_MINOR {minor}u\n"
            f"#define UV_VERSION_REVISION {revision}u\n#define UV_VERSION_BUILD {build}u\n"
            f"#define UV_COUNTER {COUNTER}u\n#define UV_LOW_COUNTER {LOW_COUNTER}u\n"
            f"#define UV_LOAD_ADDRESS 0x{LOAD_ADDRESS:08X}u\n"
            + "".join(f"#define UV_{k}_OFFSET {v}u\n" for k, v in offsets.items())
            + f"#define UV_PUBKEY_LEN {len(pubkey)}u\nstatic const uint8_t UV_PUBKEY[UV_PUBKEY_LEN] = {{"
            + ", ".join(f"0x{b:02x}" for b in pubkey) + "};\n\n"
            + _array("UV_VALID", valid) + "\n" + _array("UV_OTHER_KEY", other_key) + "\n"
            + _array("UV_OTHER_TARGET", other_target) + "\n" + _array("UV_LOW_COUNTER_IMAGE", low)
            + "\n#endif /* UPDATE_VECTORS_H */\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=".update_vectors.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp_name, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    generate(args.out, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
