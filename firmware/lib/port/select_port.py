"""Pre-build step of the port library: compile exactly the port the environment's `custom_port` option names in
platformio.ini (native, qemu, nrf52840), i.e. port_<name>.c, plus port_noadc.c for the ports without an ADC, and its
flash: port_flash.c (the flash API of port.h, the same on every target) over port_flash_<name>.c, plus
port_flash_mem.c for the ports whose flash is emulated in memory.

The QEMU port's flash region (base address and size) is the board manifest's "qemu.flash" section, the one
definition heartbeat_system/emulator.py builds QEMU's command line from too; it is passed to the port library only,
as PORT_FLASH_QEMU_BASE and PORT_FLASH_QEMU_SIZE.
"""

import os

from SCons.Script import Import

# the targets whose samples arrive over the UART only (no ADC): their port_adc_* come from port_noadc.c
NO_ADC = ("native", "qemu")
NO_ADC_SOURCE = "port_noadc.c"
# the targets whose flash is emulated in memory: their programming and erasing come from port_flash_mem.c
FLASH_IN_MEMORY = ("native", "qemu")
FLASH_MEM_SOURCE = "port_flash_mem.c"
FLASH_SOURCE = "port_flash.c"
# the parts of a port (port_<part>*.c), which are not ports themselves
PARTS = ("noadc", "flash")

# PlatformIO runs this file as an SConscript with the library's environment and builder exported
Import("env", "pio_lib_builder")
lib_env = globals()["env"]
lib_dir = globals()["pio_lib_builder"].src_dir


def _port_name(file_name):
    """`qemu` for port_qemu.c; None for a file that is not a port (a part of one, or not C)."""
    if not (file_name.startswith("port_") and file_name.endswith(".c")):
        return None
    name = file_name[len("port_") : -len(".c")]
    return None if name.split("_", 1)[0] in PARTS else name


def _qemu_flash_defines():
    """PORT_FLASH_QEMU_BASE / _SIZE from the board manifest's qemu.flash; stops the build when it is missing."""
    board = lib_env.BoardConfig()
    flash = board.get("qemu", {}).get("flash")
    try:
        base, size = int(str(flash["address"]), 0), int(flash["size"])
    except (TypeError, KeyError, ValueError):
        raise SystemExit(
            f"Error: [env:{lib_env['PIOENV']}] board {board.id!r} needs a qemu.flash section with an "
            f"address and a size in bytes (got {flash!r})"
        ) from None
    return [("PORT_FLASH_QEMU_BASE", f"0x{base:08X}u"), ("PORT_FLASH_QEMU_SIZE", f"{size}u")]


name = lib_env.GetProjectOption("custom_port", "").strip()
available = sorted(filter(None, map(_port_name, os.listdir(lib_dir))))
if name not in available:
    raise SystemExit(
        f"Error: [env:{lib_env['PIOENV']}] must set custom_port to one of {', '.join(available)} (got {name!r})"
    )
sources = [f"port_{name}.c", FLASH_SOURCE, f"port_flash_{name}.c"]
sources += [NO_ADC_SOURCE] if name in NO_ADC else []
sources += [FLASH_MEM_SOURCE] if name in FLASH_IN_MEMORY else []
missing = [source for source in sources if not os.path.isfile(os.path.join(lib_dir, source))]
if missing:
    raise SystemExit(f"Error: [env:{lib_env['PIOENV']}] port {name!r} lacks {', '.join(missing)} in {lib_dir}")
lib_env.Replace(SRC_FILTER=["-<*>"] + [f"+<{source}>" for source in sources])
if name == "qemu":
    lib_env.Append(CPPDEFINES=_qemu_flash_defines())
