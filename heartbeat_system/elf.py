"""What an image holds, from the ARM binutils: symbol addresses and sizes (arm-none-eabi-nm), and the text, data
and bss sizes (arm-none-eabi-size). Used by the device budget benchmark and the SIL test."""
from __future__ import annotations

import subprocess
from pathlib import Path


def _nm(elf: Path) -> list[list[str]]:
    """arm-none-eabi-nm -S: one row per symbol, `address [size] type name`."""
    out = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines()]


def elf_symbols(elf: Path, names: tuple[str, ...]) -> dict[str, int]:
    """The address of each of `names` the image defines."""
    return {parts[-1]: int(parts[0], 16) for parts in _nm(elf) if len(parts) in (3, 4) and parts[-1] in names}


def elf_symbol_sizes(elf: Path, names: tuple[str, ...]) -> dict[str, int]:
    """The size in bytes of each of `names` the image defines with a size (objects and functions)."""
    return {parts[3]: int(parts[1], 16) for parts in _nm(elf) if len(parts) == 4 and parts[3] in names}


def elf_sizes(elf: Path) -> dict[str, int]:
    """text, data, bss (bytes) of an image, from arm-none-eabi-size (Berkeley format)."""
    out = subprocess.run(["arm-none-eabi-size", "-B", "-d", str(elf)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    text, data, bss = (int(x) for x in out[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}
