"""Writes the C header of the image crypto's test vectors for the firmware's tests.

    python firmware/test/gen_imgcrypto_vectors.py [--json tests/contract/imgcrypto_vectors.json]
                                                  [--out firmware/test/test_imgcrypto/imgcrypto_vectors.h]

The table is tests/contract/imgcrypto_vectors.json (written by tests/firmware/imgcrypto_table.py from Python's
`cryptography` and NIST's vectors); the C suites (firmware/test/test_imgcrypto, test_qemu_imgcrypto) cannot read
JSON on the target, so this turns it into static const data. A table may also hold an "imgtool_image" (a signed
image made at test time by tests/firmware/test_imgcrypto.py, never committed): its bytes and where its TLVs are;
the header then defines IV_HAVE_IMAGE 1. The header is generated, git-ignored (the suite folder's .gitignore) and
rewritten only when its content changes. `pio test` runs this before building those suites (the test builds'
pre-build step firmware/test/prebuild_vectors.py).

Standard library only. A table that lacks a field or holds a value the header cannot carry is refused with a
message naming the entry (SystemExit), never half-written.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_JSON = REPO / "tests" / "contract" / "imgcrypto_vectors.json"
DEFAULT_OUT = HERE / "test_imgcrypto" / "imgcrypto_vectors.h"

# the table's status names -> imgcrypto_status_t (firmware/lib/imgcrypto/imgcrypto.h)
STATUS = {
    "ok": "IMGCRYPTO_OK",
    "key_format": "IMGCRYPTO_ERR_KEY_FORMAT",
    "key_curve": "IMGCRYPTO_ERR_KEY_CURVE",
    "key_point": "IMGCRYPTO_ERR_KEY_POINT",
    "sig_format": "IMGCRYPTO_ERR_SIG_FORMAT",
    "sig_range": "IMGCRYPTO_ERR_SIG_RANGE",
    "sig_mismatch": "IMGCRYPTO_ERR_SIG_MISMATCH",
}
IMAGE_OFFSETS = ("hashed_len", "sha256_at", "keyhash_at", "signature_at", "signature_len", "payload_at",
                 "payload_len")


class TableError(SystemExit):
    def __init__(self, where: str, what: str):
        super().__init__(f"gen_imgcrypto_vectors: {where}: {what}")


def require(entry: object, keys: tuple[str, ...], where: str) -> dict:
    if not isinstance(entry, dict):
        raise TableError(where, f"expected an object, got {entry!r}")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise TableError(where, f"missing {', '.join(missing)}")
    return entry


def c_bytes(hex_text: object, where: str, exact: int | None = None) -> tuple[str, int]:
    try:
        data = bytes.fromhex(hex_text)
    except (TypeError, ValueError):
        raise TableError(where, f"not a hex string: {hex_text!r}") from None
    if exact is not None and len(data) != exact:
        raise TableError(where, f"expected {exact} bytes, got {len(data)}")
    if not data:
        return "{0}", 0  # C has no empty initializer; the length says 0
    rows = [", ".join(f"0x{b:02x}" for b in data[i:i + 16]) for i in range(0, len(data), 16)]
    return "{\n    " + ",\n    ".join(rows) + "\n}", len(data)


def c_name(text: object, where: str) -> str:
    if not isinstance(text, str) or not text or any(not (c.isalnum() or c in "_-") for c in text):
        raise TableError(where, f"names are letters, digits, '_' and '-', got {text!r}")
    return f'"{text}"'


def c_uint(value: object, where: str) -> str:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFFFFFF:
        raise TableError(where, f"expected an integer in 0..2^32-1, got {value!r}")
    return f"{value}u"


def _sha256(table: dict, out: list[str]) -> None:
    rows = []
    for i, entry in enumerate(table["sha256"]):
        where = f"sha256[{i}]"
        require(entry, ("name", "message", "digest"), where)
        msg, n = c_bytes(entry["message"], f"{where}.message")
        digest, _ = c_bytes(entry["digest"], f"{where}.digest", exact=32)
        out.append(f"static const uint8_t iv_sha_{i}[] = {msg};")
        rows.append(f"    {{{c_name(entry['name'], where)}, iv_sha_{i}, {n}u, {digest}}},")
    out += ["static const iv_sha256_t IV_SHA256[] = {", *rows, "};", f"#define IV_N_SHA256 {len(rows)}u", ""]

    rows = []
    for i, entry in enumerate(table["sha256_repeat"]):
        where = f"sha256_repeat[{i}]"
        require(entry, ("name", "pattern", "count", "digest"), where)
        pattern, n = c_bytes(entry["pattern"], f"{where}.pattern")
        if n == 0:
            raise TableError(where, "the pattern is empty")
        digest, _ = c_bytes(entry["digest"], f"{where}.digest", exact=32)
        out.append(f"static const uint8_t iv_rep_{i}[] = {pattern};")
        rows.append(f"    {{{c_name(entry['name'], where)}, iv_rep_{i}, {n}u, {c_uint(entry['count'], where)}, "
                    f"{digest}}},")
    out += ["static const iv_sha256_repeat_t IV_SHA256_REPEAT[] = {", *rows, "};",
            f"#define IV_N_SHA256_REPEAT {len(rows)}u", ""]


def _ecdsa(table: dict, out: list[str]) -> None:
    rows = []
    for i, entry in enumerate(table["ecdsa_p256"]):
        where = f"ecdsa_p256[{i}]"
        require(entry, ("name", "key", "digest", "signature", "expect"), where)
        where = f"ecdsa_p256[{entry['name']}]"
        if entry["expect"] not in STATUS:
            raise TableError(where, f"expect must be one of {sorted(STATUS)}, got {entry['expect']!r}")
        key, n_key = c_bytes(entry["key"], f"{where}.key")
        digest, _ = c_bytes(entry["digest"], f"{where}.digest", exact=32)
        sig, n_sig = c_bytes(entry["signature"], f"{where}.signature")
        out.append(f"static const uint8_t iv_key_{i}[] = {key};")
        out.append(f"static const uint8_t iv_sig_{i}[] = {sig};")
        rows.append(f"    {{{c_name(entry['name'], where)}, iv_key_{i}, {n_key}u, {digest}, iv_sig_{i}, {n_sig}u, "
                    f"{STATUS[entry['expect']]}}},")
    if not rows:
        raise TableError("ecdsa_p256", "no vectors")
    out += ["static const iv_ecdsa_t IV_ECDSA[] = {", *rows, "};", f"#define IV_N_ECDSA {len(rows)}u", ""]


def _image(table: dict, out: list[str]) -> None:
    image = table.get("imgtool_image")
    if image is None:
        out += ["#define IV_HAVE_IMAGE 0", ""]
        return
    require(image, ("image", "pubkey", *IMAGE_OFFSETS), "imgtool_image")
    data, n = c_bytes(image["image"], "imgtool_image.image")
    pubkey, n_pub = c_bytes(image["pubkey"], "imgtool_image.pubkey")
    offsets = {k: image[k] for k in IMAGE_OFFSETS}
    for k, v in offsets.items():
        c_uint(v, f"imgtool_image.{k}")
    if offsets["hashed_len"] > n or offsets["sha256_at"] + 32 > n or offsets["keyhash_at"] + 32 > n or \
            offsets["signature_at"] + offsets["signature_len"] > n or \
            offsets["payload_at"] + offsets["payload_len"] > offsets["hashed_len"] or offsets["payload_len"] == 0:
        raise TableError("imgtool_image", f"offsets outside the {n}-byte image: {offsets}")
    out += ["#define IV_HAVE_IMAGE 1", f"static const uint8_t IV_IMAGE[] = {data};", f"#define IV_IMAGE_LEN {n}u",
            f"static const uint8_t IV_IMAGE_PUBKEY[] = {pubkey};", f"#define IV_IMAGE_PUBKEY_LEN {n_pub}u"]
    out += [f"#define IV_IMAGE_{k.upper()} {c_uint(v, k)}" for k, v in offsets.items()]
    out.append("")


def render(table: object) -> str:
    table = require(table, ("sha256", "sha256_repeat", "ecdsa_p256"), "table")
    out = [
        "/* GENERATED by firmware/test/gen_imgcrypto_vectors.py from tests/contract/imgcrypto_vectors.json: do not",
        " * edit, do not commit (git-ignored). The image crypto's test vectors as C data. */",
        "#ifndef IMGCRYPTO_VECTORS_H",
        "#define IMGCRYPTO_VECTORS_H",
        "",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
        '#include "imgcrypto.h"',
        "",
        "typedef struct { const char *name; const uint8_t *msg; size_t msg_len; uint8_t digest[32]; } iv_sha256_t;",
        "typedef struct { const char *name; const uint8_t *pattern; size_t pattern_len; uint32_t count;"
        " uint8_t digest[32]; } iv_sha256_repeat_t;",
        "typedef struct { const char *name; const uint8_t *key; size_t key_len; uint8_t digest[32];"
        " const uint8_t *sig; size_t sig_len; imgcrypto_status_t expect; } iv_ecdsa_t;",
        "",
    ]
    _sha256(table, out)
    _ecdsa(table, out)
    _image(table, out)
    out += ["#endif /* IMGCRYPTO_VECTORS_H */", ""]
    return "\n".join(out)


def generate(json_path: Path, out_path: Path) -> bool:
    """Writes the header; returns True when its content changed. Raises SystemExit on a bad table."""
    try:
        table = json.loads(Path(json_path).read_text())
    except OSError as exc:
        raise SystemExit(f"gen_imgcrypto_vectors: cannot read {json_path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise SystemExit(f"gen_imgcrypto_vectors: {json_path} is not JSON: {exc}") from None
    text = render(table)
    out_path = Path(out_path)
    if out_path.exists() and out_path.read_text() == text:
        return False
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".imgcrypto_vectors.", suffix=".tmp")
    with os.fdopen(fd, "w") as fp:
        fp.write(text)
    os.replace(tmp, out_path)  # atomic: a concurrent build sees the old or the new header, never half of one
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the image crypto's vector table as a C header.")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    changed = generate(args.json, args.out)
    print(f"gen_imgcrypto_vectors: {args.out} {'written' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
