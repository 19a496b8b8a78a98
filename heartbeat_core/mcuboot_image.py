"""MCUboot's image format as our images use it: the layout (defined once), the strict parser and the host-side
checks of target and security counter (docs/ota.md, "Image format and keys"). No cryptography here: the hash and
signature check is heartbeat_system/firmware_image.py's (it needs `cryptography`, which the bridge does not); the
bridge's flasher (edge_bridge/flasher.py) parses an image and makes these checks before it sends a byte.

    image = parse_image(data)                            structure only, or ImageError
    check_target(image, "qemu")                          the device's and the flasher's checks, or ImageError
    check_security_counter(image, running_counter)
    image_facts(image)                                   what the manifest and `heartbeat firmware verify` show

The format (MCUboot docs/design.md "Image format", TLV codes from imgtool's image.py; all little endian):
a header (`ih_magic` 0x96f3b83d, `ih_load_addr`, `ih_hdr_size`, `ih_protect_tlv_size`, `ih_img_size`, `ih_flags`,
version major.minor.revision+build) padded to `ih_hdr_size`; the payload (`ih_img_size` bytes); the protected TLV
area (info magic 0x6908, its total size equal to `ih_protect_tlv_size`: the security counter and our custom TLVs);
the TLV area (info magic 0x6907): the SHA-256 of header + payload + protected TLVs, the sha256 of the signing public
key (KEYHASH, over its DER SubjectPublicKeyInfo) and the ECDSA P-256 signature (DER) of that SHA-256.

Parsing is strict: every byte of a file belongs to the header, the payload or a TLV, each TLV we expect is there
once, and nothing else is. A refusal is one ImageError naming what is wrong.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any

from heartbeat_core.errors import HeartbeatError

# --------------------------------------------------------------------------------------------------
# The layout of our images, defined once (imgtool's flags in firmware_release.py are made from these)

HEADER_SIZE = 0x200  # imgtool --header-size --pad-header: the payload starts 512 bytes into the image
SLOT_SIZE = 0x40000  # one image slot (docs/ota.md: two 256 KiB slots); imgtool --slot-size
WRITE_ALIGN = 4  # the flash's write unit (docs/ota.md: 4-byte writes); imgtool --align


@dataclass(frozen=True)
class TargetLayout:
    """Where a target's bootloader runs an image: `load_address` is where the whole image (header first) is copied
    for MCUboot's RAM load (the header's RAM_LOAD flag and `ih_load_addr`), so the application runs at
    `load_address + HEADER_SIZE`; None: not decided yet (signed without a load address)."""

    name: str
    pio_environment: str
    load_address: int | None

    @property
    def run_address(self) -> int | None:
        return None if self.load_address is None else self.load_address + HEADER_SIZE


# QEMU: docs/ota.md (the bootloader plays the ROM at 0; the application runs at 0x00010200). nRF52840: the
# bootloader's part has not placed the application yet.
TARGETS: dict[str, TargetLayout] = {
    "qemu": TargetLayout("qemu", "qemu", 0x00010000),
    "nrf52840": TargetLayout("nrf52840", "nrf52840", None),
}

# --------------------------------------------------------------------------------------------------
# The format's numbers

IMAGE_MAGIC = 0x96F3B83D
IMAGE_HEADER_STRUCT = struct.Struct("<IIHHIIBBHII")  # the 32 bytes of struct image_header
TLV_INFO_MAGIC = 0x6907
TLV_PROT_INFO_MAGIC = 0x6908
TLV_INFO_STRUCT = struct.Struct("<HH")  # it_magic, it_tlv_tot (the area's size, this info included)
TLV_STRUCT = struct.Struct("<HH")  # it_type, it_len (imgtool writes standard types as a byte and a zero pad byte)
IMAGE_F_RAM_LOAD = 0x00000020

TLV_KEYHASH = 0x01
TLV_SHA256 = 0x10
TLV_ECDSA_SIG = 0x22  # imgtool's ECDSASIG: ECDSA of the SHA-256, DER
TLV_SEC_CNT = 0x50
TLV_TARGET = 0xA0  # ours, protected: the target's name, ASCII
TLV_MODEL_SHA256 = 0xA1  # ours, protected: the sha256 of the model's .tflite, 32 bytes

PROTECTED_TLVS = {TLV_SEC_CNT: "SEC_CNT", TLV_TARGET: "target (0xA0)", TLV_MODEL_SHA256: "model sha256 (0xA1)"}
UNPROTECTED_TLVS = {TLV_SHA256: "SHA256", TLV_KEYHASH: "KEYHASH", TLV_ECDSA_SIG: "ECDSA signature"}


class ImageError(HeartbeatError):
    """A firmware image or key that cannot be used: the message names what is wrong."""


@dataclass(frozen=True)
class ImageHeader:
    magic: int
    load_address: int
    header_size: int
    protected_tlv_size: int
    payload_size: int
    flags: int
    version: tuple[int, int, int, int]  # major, minor, revision, build

    @property
    def version_text(self) -> str:
        major, minor, revision, build = self.version
        return f"{major}.{minor}.{revision}+{build}"


@dataclass(frozen=True)
class Tlv:
    kind: int
    offset: int  # of the value, in the image
    value: bytes


@dataclass(frozen=True)
class McubootImage:
    """An image whose structure has been read; `verify_image` returns one whose hash and signature were checked."""

    data: bytes
    header: ImageHeader
    protected: dict[int, Tlv]
    unprotected: dict[int, Tlv]
    tlv_area_size: int

    @property
    def signed_end(self) -> int:
        """The end of what the SHA-256 covers: header, payload and the protected TLV area."""
        return self.header.header_size + self.header.payload_size + self.header.protected_tlv_size

    @property
    def security_counter(self) -> int:
        return int.from_bytes(self.protected[TLV_SEC_CNT].value, "little")

    @property
    def target(self) -> str:
        return self.protected[TLV_TARGET].value.decode("ascii")

    @property
    def model_sha256(self) -> str:
        return self.protected[TLV_MODEL_SHA256].value.hex()

    @property
    def image_hash(self) -> bytes:
        return self.unprotected[TLV_SHA256].value

    @property
    def signature(self) -> Tlv:
        return self.unprotected[TLV_ECDSA_SIG]


# --------------------------------------------------------------------------------------------------
# Parsing


def _need(data: bytes, end: int, what: str) -> None:
    if len(data) < end:
        raise ImageError(f"truncated image: {what} ends at byte {end}, the image has {len(data)} bytes")


def _read_header(data: bytes) -> ImageHeader:
    _need(data, IMAGE_HEADER_STRUCT.size, "the 32-byte header")
    (magic, load_address, header_size, protected_tlv_size, payload_size, flags, major, minor, revision, build,
     _pad) = IMAGE_HEADER_STRUCT.unpack_from(data, 0)
    if magic != IMAGE_MAGIC:
        raise ImageError(f"not an MCUboot image: header magic 0x{magic:08x}, expected 0x{IMAGE_MAGIC:08x}")
    if header_size < IMAGE_HEADER_STRUCT.size:
        raise ImageError(f"bad header: header size {header_size} is below the header's own 32 bytes")
    header = ImageHeader(magic, load_address, header_size, protected_tlv_size, payload_size, flags,
                         (major, minor, revision, build))
    if header_size + payload_size > SLOT_SIZE:
        raise ImageError(f"bad header: header size {header_size} + payload size {payload_size} exceed the "
                         f"{SLOT_SIZE}-byte slot")
    return header


def _read_tlv_area(data: bytes, offset: int, magic: int, area: str) -> tuple[dict[int, Tlv], int]:
    """The TLVs of the area at `offset` (by type; each type once) and the area's size."""
    _need(data, offset + TLV_INFO_STRUCT.size, f"the {area} info")
    found_magic, total = TLV_INFO_STRUCT.unpack_from(data, offset)
    if found_magic != magic:
        raise ImageError(f"bad {area}: info magic 0x{found_magic:04x} at byte {offset}, expected 0x{magic:04x}")
    if total < TLV_INFO_STRUCT.size:
        raise ImageError(f"bad {area}: its size {total} is below its own 4-byte info")
    end = offset + total
    _need(data, end, f"the {area}")
    tlvs: dict[int, Tlv] = {}
    at = offset + TLV_INFO_STRUCT.size
    while at < end:
        if at + TLV_STRUCT.size > end:
            raise ImageError(f"bad {area}: a TLV header at byte {at} runs past the area's end at byte {end}")
        kind, length = TLV_STRUCT.unpack_from(data, at)
        value_at = at + TLV_STRUCT.size
        if value_at + length > end:
            raise ImageError(f"bad {area}: TLV 0x{kind:02x} at byte {at} ({length} bytes) runs past the area's "
                             f"end at byte {end}")
        if kind in tlvs:
            raise ImageError(f"bad {area}: TLV 0x{kind:02x} appears twice")
        tlvs[kind] = Tlv(kind, value_at, bytes(data[value_at:value_at + length]))
        at = value_at + length
    return tlvs, total


def parse_image(data: bytes) -> McubootImage:
    """The structure of an image (header, payload, both TLV areas), without checking its hash or signature."""
    header = _read_header(data)
    payload_end = header.header_size + header.payload_size
    _need(data, payload_end, "the payload")
    protected: dict[int, Tlv] = {}
    if header.protected_tlv_size:
        protected, size = _read_tlv_area(data, payload_end, TLV_PROT_INFO_MAGIC, "protected TLV area")
        if size != header.protected_tlv_size:
            raise ImageError(f"bad protected TLV area: {size} bytes, the header says {header.protected_tlv_size}")
    unprotected, tlv_size = _read_tlv_area(data, payload_end + header.protected_tlv_size, TLV_INFO_MAGIC,
                                           "TLV area")
    image = McubootImage(bytes(data), header, protected, unprotected, tlv_size)
    end = image.signed_end + tlv_size
    if len(data) != end:
        raise ImageError(f"{len(data) - end} unexpected bytes after the TLV area (which ends at byte {end})")
    _check_tlv_set(image)
    return image


def _check_tlv_set(image: McubootImage) -> None:
    """Exactly the TLVs our images carry, each with a value of the right form."""
    for kinds, tlvs, area in ((PROTECTED_TLVS, image.protected, "protected TLV area"),
                              (UNPROTECTED_TLVS, image.unprotected, "TLV area")):
        for kind in tlvs:
            if kind not in kinds:
                raise ImageError(f"bad {area}: unexpected TLV 0x{kind:02x}")
        missing = [name for kind, name in kinds.items() if kind not in tlvs]
        if missing:
            raise ImageError(f"bad {area}: no {', '.join(missing)} TLV")
    sizes = {TLV_SEC_CNT: 4, TLV_MODEL_SHA256: 32, TLV_SHA256: 32, TLV_KEYHASH: 32}
    for kind, size in sizes.items():
        tlv = image.protected.get(kind) or image.unprotected[kind]
        if len(tlv.value) != size:
            name = PROTECTED_TLVS.get(kind) or UNPROTECTED_TLVS[kind]
            raise ImageError(f"bad {name} TLV: {len(tlv.value)} bytes, expected {size}")
    target = image.protected[TLV_TARGET].value
    if not target or not all(0x21 <= b <= 0x7E for b in target):
        raise ImageError(f"bad target (0xA0) TLV: {target!r} is not a printable ASCII name")


# --------------------------------------------------------------------------------------------------
# The device's and the flasher's checks


def check_target(image: McubootImage, target: str) -> None:
    """ImageError unless the image was built for `target`."""
    if image.target != target:
        raise ImageError(f"wrong target: the image is for {image.target!r}, the device is {target!r}")


def check_security_counter(image: McubootImage, running_counter: int) -> None:
    """ImageError when the image's security counter is below the running image's (a rollback)."""
    if image.security_counter < running_counter:
        raise ImageError(f"security counter {image.security_counter} is below the device's {running_counter} "
                         "(a rollback to an older image)")


def image_facts(image: McubootImage) -> dict[str, Any]:
    """What an image says about itself: the image part of a release's manifest and `heartbeat firmware verify`'s
    output."""
    header = image.header
    return {
        "firmware_version": header.version_text,
        "security_counter": image.security_counter,
        "target": image.target,
        "model_sha256": image.model_sha256,
        "image_sha256": hashlib.sha256(image.data).hexdigest(),
        "signed_sha256": image.image_hash.hex(),
        "key_sha256": image.unprotected[TLV_KEYHASH].value.hex(),
        "load_address": None if not header.flags & IMAGE_F_RAM_LOAD else f"0x{header.load_address:08x}",
        "sizes": {
            "image": len(image.data),
            "header": header.header_size,
            "payload": header.payload_size,
            "protected_tlvs": header.protected_tlv_size,
            "tlvs": image.tlv_area_size,
        },
    }
