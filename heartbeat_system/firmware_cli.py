"""`heartbeat firmware keygen | build | verify`: signing keys, signed release folders and the check of an image
(docs/ota.md, "Image format and keys").

Registered through the entry-point group `heartbeat.commands` (pyproject.toml). The work is firmware_release.py's
(keys, build, sign) and firmware_image.py's (parse, verify); every refusal is a HeartbeatError, printed by the
`heartbeat` CLI as one `error:` line.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from heartbeat_system.firmware_image import TARGETS, check_security_counter, check_target, image_facts, read_and_verify
from heartbeat_system.firmware_release import ReleaseSpec, build_release, keygen

app = typer.Typer(name="firmware", help="Signed firmware images (MCUboot format, imgtool): keys, releases, checks.",
                  no_args_is_help=True, add_completion=False)
console = Console()


def _print_facts(facts: dict[str, Any]) -> None:
    for key, value in facts.items():
        if isinstance(value, dict):
            console.print(f"{key}:", highlight=False)
            for sub, sub_value in value.items():
                console.print(f"  {sub}: {sub_value}", highlight=False)
        else:
            console.print(f"{key}: {value}", highlight=False)


@app.command("keygen")
def keygen_command(out: Annotated[Path, typer.Option("--out", help="folder for the key pair, outside the "
                                                                    "repository (made 0700 if new)")]) -> None:
    """Make an ECDSA P-256 signing key pair with imgtool (private key 0600; public key as PEM, DER and C).

    Never overwrites a key; never writes inside the repository."""
    paths = keygen(out)
    console.print(f"private key (keep it secret, mode 0600): {paths.private}", highlight=False)
    console.print(f"public key: {paths.public_pem} (PEM), {paths.public_der} (DER, what the bootloader embeds), "
                  f"{paths.public_c} (C)", highlight=False)


@app.command("build")
def build_command(
        target: Annotated[str, typer.Option("--target", help=f"one of: {', '.join(TARGETS)}")],
        out: Annotated[Path, typer.Option("--out", help="the release folder to write (must not exist or be empty)")],
        key: Annotated[Path, typer.Option("--key", help="the private signing key (PEM)")],
        model_version: Annotated[str, typer.Option("--model-version", help="a folder of the models directory")]
        = "current",
        version: Annotated[str | None, typer.Option("--version", help="X.Y.Z+B (default: the firmware's "
                                                                        "APP_FW_VERSION, build 0)")] = None,
        security_counter: Annotated[int | None, typer.Option("--security-counter", min=0, max=0xFFFFFFFF,
                                                             help="default: (major << 24) + (minor << 16) + "
                                                                  "revision, imgtool's `auto`")] = None,
        workspace: Annotated[Path | None, typer.Option("--workspace", help="an empty folder to keep the PlatformIO "
                                                                           "build in (default: a temporary one)")]
        = None) -> None:
    """Build the firmware with PlatformIO, sign it with imgtool and write a release folder.

    The folder holds the signed image, its ELF and manifest.json; it is built from a model version."""
    spec = ReleaseSpec(target=target, out_dir=out, key=key, model_version=model_version, version=version,
                       security_counter=security_counter)
    manifest = build_release(spec, workspace, log=lambda message: console.print(message, highlight=False))
    console.print(f"[green]release written[/green] {out}", highlight=False)
    _print_facts({k: manifest[k] for k in ("firmware_version", "security_counter", "target", "model_version",
                                           "model_sha256", "image_sha256", "sizes")})


@app.command("verify")
def verify_command(
        image: Annotated[Path, typer.Argument(help="the signed image (MCUboot format)")],
        key: Annotated[Path, typer.Option("--key", help="the public key (PEM) it must be signed with")],
        target: Annotated[str | None, typer.Option("--target", help="also require this target")] = None,
        min_security_counter: Annotated[int | None, typer.Option("--min-security-counter", min=0,
                                                                 help="also require a security counter at least "
                                                                      "this")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the manifest as JSON")] = False) -> None:
    """Check an image's structure, hash and signature and print what it says about itself."""
    verified = read_and_verify(image, key)
    if target is not None:
        check_target(verified, target)
    if min_security_counter is not None:
        check_security_counter(verified, min_security_counter)
    facts = image_facts(verified)
    if as_json:
        print(json.dumps(facts, indent=2, sort_keys=True))
        return
    console.print(f"[green]verified[/green] {image}: hash and ECDSA P-256 signature good with {key}", highlight=False)
    _print_facts(facts)
