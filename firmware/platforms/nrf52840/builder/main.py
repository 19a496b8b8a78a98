"""PlatformIO build script of the Heartbeat Edge `nrf52840` platform: the real board.

The image is built as every Cortex-M4F image of the project is (firmware/platforms/cortex-m-common/builder/
cortex_m4f.py, shared with the `qemu-cortex-m4f` platform); the board manifest (boards/nrf52840_dk.json) names
the linker script (ldscripts/) and the list of device interrupts (runtime/). The platform has no packages, so
PlatformIO downloads nothing.

Upload flashes firmware.hex with OpenOCD through a CMSIS-DAP probe (docs/setup.md; OpenOCD is not installed
by scripts/setup.sh).
"""

import os
import sys

from SCons.Script import AlwaysBuild, DefaultEnvironment

env = DefaultEnvironment()
platform = env.PioPlatform()
board = env.BoardConfig()

# the Cortex-M4F build shared with the other board's platform
COMMON_DIR = os.path.normpath(os.path.join(platform.get_dir(), os.pardir, "cortex-m-common"))
env.Replace(CM4F_COMMON_DIR=COMMON_DIR)
_program, hex_image = env.SConscript(os.path.join(COMMON_DIR, "builder", "cortex_m4f.py"))

protocol = env.subst("$UPLOAD_PROTOCOL") or board.get("upload.protocol")
if protocol != "cmsis-dap":
    sys.stderr.write(f"Error: unknown upload protocol {protocol!r} for this platform (it has: cmsis-dap)\n")
    env.Exit(1)

env.Replace(
    UPLOADER="openocd",
    UPLOADERFLAGS=[
        "-f",
        "interface/cmsis-dap.cfg",
        "-f",
        board.get("upload.openocd_target"),
        "-c",
        "program {$SOURCE} verify reset exit",
    ],
    UPLOADCMD="$UPLOADER $UPLOADERFLAGS",
)

upload_action = env.VerboseAction("$UPLOADCMD", "Flashing $SOURCE with OpenOCD (CMSIS-DAP)")
AlwaysBuild(env.Alias("upload", hex_image, upload_action))
