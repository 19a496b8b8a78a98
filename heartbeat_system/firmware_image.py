"""The hash and signature check of a signed firmware image, and its keys (docs/ota.md, "Image format and keys").

    image = verify_image(data, load_public_key(path))   parsed, hash and signature checked, or ImageError

The format itself (layout, parser, target and security-counter checks, facts) is heartbeat_core/mcuboot_image.py,
shared with the bridge's flasher, which must not need `cryptography`; its names are re-exported here for the
firmware commands. The arithmetic of the checks is the `cryptography` package's.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from heartbeat_core.mcuboot_image import (
    HEADER_SIZE,
    IMAGE_F_RAM_LOAD,
    IMAGE_HEADER_STRUCT,
    IMAGE_MAGIC,
    PROTECTED_TLVS,
    SLOT_SIZE,
    TARGETS,
    TLV_ECDSA_SIG,
    TLV_INFO_MAGIC,
    TLV_INFO_STRUCT,
    TLV_KEYHASH,
    TLV_MODEL_SHA256,
    TLV_PROT_INFO_MAGIC,
    TLV_SEC_CNT,
    TLV_SHA256,
    TLV_STRUCT,
    TLV_TARGET,
    UNPROTECTED_TLVS,
    WRITE_ALIGN,
    ImageError,
    ImageHeader,
    McubootImage,
    TargetLayout,
    Tlv,
    check_security_counter,
    check_target,
    image_facts,
    parse_image,
)

__all__ = [
    "HEADER_SIZE", "IMAGE_F_RAM_LOAD", "IMAGE_HEADER_STRUCT", "IMAGE_MAGIC", "PROTECTED_TLVS", "SLOT_SIZE", "TARGETS",
    "TLV_ECDSA_SIG", "TLV_INFO_MAGIC", "TLV_INFO_STRUCT", "TLV_KEYHASH", "TLV_MODEL_SHA256", "TLV_PROT_INFO_MAGIC",
    "TLV_SEC_CNT", "TLV_SHA256", "TLV_STRUCT", "TLV_TARGET", "UNPROTECTED_TLVS", "WRITE_ALIGN", "ImageError",
    "ImageHeader", "McubootImage", "TargetLayout", "Tlv", "check_security_counter", "check_target", "image_facts",
    "load_public_key", "parse_image", "public_key_der", "read_and_verify", "verify_image",
]


# --------------------------------------------------------------------------------------------------
# Keys, hash and signature


def public_key_der(key: ec.EllipticCurvePublicKey) -> bytes:
    """The key as MCUboot and imgtool see it (KEYHASH is over this; the device embeds it): DER SubjectPublicKeyInfo."""
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    """An ECDSA P-256 public key from a PEM file (or a private key's PEM, whose public half is taken)."""
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read the public key {path}: {exc.strerror or exc}") from exc
    key: Any
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        try:
            key = serialization.load_pem_private_key(pem, password=None).public_key()
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ImageError(f"{path} is not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ImageError(f"{path} is not an ECDSA P-256 key (our images are signed with ecdsa-p256)")
    return key


def verify_image(data: bytes, key: ec.EllipticCurvePublicKey) -> McubootImage:
    """The image, once its structure, its SHA-256 (over header, payload and protected TLVs), its KEYHASH and its
    ECDSA P-256 signature have been checked against `key`; ImageError naming the first thing that is wrong."""
    image = parse_image(data)
    digest = hashlib.sha256(image.data[:image.signed_end]).digest()
    if digest != image.image_hash:
        raise ImageError(f"image hash mismatch: the SHA-256 of header, payload and protected TLVs is "
                         f"{digest.hex()[:16]}..., the image's SHA256 TLV says {image.image_hash.hex()[:16]}... "
                         "(a changed byte)")
    key_hash = hashlib.sha256(public_key_der(key)).digest()
    keyhash = image.unprotected[TLV_KEYHASH].value
    if keyhash != key_hash:
        raise ImageError(f"KEYHASH mismatch: the image names key sha256 {keyhash.hex()[:16]}..., this public key's "
                         f"is {key_hash.hex()[:16]}... (signed with another key, or a changed byte)")
    try:
        key.verify(image.signature.value, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    except InvalidSignature:
        raise ImageError(f"bad signature: the ECDSA P-256 signature (TLV at byte {image.signature.offset}) does "
                         "not verify with this public key") from None
    return image


def read_and_verify(path: Path, key_path: Path) -> McubootImage:
    """`verify_image` on a file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read the image {path}: {exc.strerror or exc}") from exc
    return verify_image(data, load_public_key(key_path))
