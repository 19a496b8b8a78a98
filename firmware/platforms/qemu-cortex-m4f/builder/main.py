"""PlatformIO build script of the Heartbeat Edge `qemu-cortex-m4f` platform.

Cortex-M4F, hard float, built with Debian's arm-none-eabi-gcc and newlib-nano
found on PATH (scripts/setup.sh installs them); the platform has no packages,
so PlatformIO downloads nothing. The board manifest (boards/<id>.json) names
the linker script (ldscripts/) and vector table (runtime/); runtime/
startup_cm4f.c is the reset handler shared by every board.

Upload, by the board's upload protocol:
  qemu       run the image in QEMU with its UART0 on a TCP socket:
               qemu-system-arm -M <machine> -nographic <flags>
                 -kernel firmware.elf
                 -serial tcp:127.0.0.1:PORT,server=on,wait=on
             PORT is upload_port (platformio.ini, `--upload-port`, or
             PLATFORMIO_UPLOAD_PORT), else the board's upload.default_port.
             QEMU waits for a client before the CPU starts, so no output is
             lost; it runs until the firmware exits through semihosting or
             QEMU is stopped.
  cmsis-dap  flash firmware.hex with OpenOCD through a CMSIS-DAP probe
             (docs/setup.md; OpenOCD is not installed by scripts/setup.sh).
"""

import os
import shlex
import sys

from SCons.Script import COMMAND_LINE_TARGETS, AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()
platform = env.PioPlatform()
board = env.BoardConfig()

PLATFORM_DIR = platform.get_dir()
RUNTIME_DIR = os.path.join(PLATFORM_DIR, "runtime")

TOOL_PREFIX = "arm-none-eabi-"
MACHINE_FLAGS = [
    "-mcpu=%s" % board.get("build.cpu"),
    "-mthumb",
    "-mfloat-abi=hard",
    "-mfpu=fpv4-sp-d16",
]

env.Replace(
    AR=TOOL_PREFIX + "gcc-ar",
    AS=TOOL_PREFIX + "gcc",
    CC=TOOL_PREFIX + "gcc",
    CXX=TOOL_PREFIX + "g++",
    GDB=TOOL_PREFIX + "gdb",
    OBJCOPY=TOOL_PREFIX + "objcopy",
    RANLIB=TOOL_PREFIX + "gcc-ranlib",
    SIZETOOL=TOOL_PREFIX + "size",
    ARFLAGS=["rc"],
    # sizes for `checkprogsize` and the RAM/Flash summary
    SIZEPROGREGEXP=r"^(?:\.isr_vector|\.text|\.rodata|\.ARM\.exidx|\.ARM\.extab"
    r"|\.preinit_array|\.init_array|\.fini_array|\.data)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss)\s+(\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
    PROGNAME="firmware",
    PROGSUFFIX=".elf",
)

env.Append(
    ASFLAGS=MACHINE_FLAGS,
    ASPPFLAGS=["-x", "assembler-with-cpp"],
    CCFLAGS=MACHINE_FLAGS
    + [
        "-O2",
        "-g",
        "-ffunction-sections",
        "-fdata-sections",
        "-Wall",
        "-Wextra",
    ],
    CFLAGS=["-std=c11"],
    CXXFLAGS=["-std=c++17", "-fno-exceptions", "-fno-rtti"],
    CPPDEFINES=[("F_CPU", "$BOARD_F_CPU")],
    LINKFLAGS=MACHINE_FLAGS
    + [
        "-O2",
        "--specs=nano.specs",
        "-nostartfiles",
        "-Wl,--gc-sections",
        "-Wl,-Map,%s" % os.path.join("$BUILD_DIR", "${PROGNAME}.map"),
    ],
    LIBS=["m"],
)

# Our startup and the board's vector table, linked as objects (not from an
# archive) so that the vector table is never dropped.
env.BuildSources(
    os.path.join("$BUILD_DIR", "runtime"),
    RUNTIME_DIR,
    ["-<*>", "+<startup_cm4f.c>", "+<%s>" % board.get("build.vectors")],
)

program = env.BuildProgram()

hex_image = env.Command(
    os.path.join("$BUILD_DIR", "${PROGNAME}.hex"),
    program,
    env.VerboseAction("$OBJCOPY -O ihex $SOURCE $TARGET", "Building $TARGET"),
)
bin_image = env.Command(
    os.path.join("$BUILD_DIR", "${PROGNAME}.bin"),
    program,
    env.VerboseAction("$OBJCOPY -O binary $SOURCE $TARGET", "Building $TARGET"),
)

AlwaysBuild(
    env.Alias("size", program, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE"))
)

# ----------------------------------------------------------------------------
# Upload
# ----------------------------------------------------------------------------
protocol = env.subst("$UPLOAD_PROTOCOL") or board.get("upload.protocol")


def _qemu_tcp_port():
    raw = env.subst("$UPLOAD_PORT").strip() or str(board.get("upload.default_port"))
    if raw.startswith(("127.0.0.1:", "localhost:")):
        raw = raw.split(":", 1)[1]
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        sys.stderr.write(
            "Error: upload_port for QEMU must be a TCP port number on 127.0.0.1 "
            "(1-65535), got %r (set it with --upload-port, upload_port in "
            "platformio.ini or PLATFORMIO_UPLOAD_PORT)\n" % raw
        )
        env.Exit(1)
    return port


if protocol == "qemu":
    qemu = board.get("qemu")
    # the port is checked only when uploading: a bad one must not break builds
    tcp_port = _qemu_tcp_port() if "upload" in COMMAND_LINE_TARGETS else 0
    upload_target = program
    upload_cmd = [qemu["system"], "-M", qemu["machine"], "-nographic"]
    upload_cmd += list(qemu.get("flags", []))
    upload_cmd += ["-kernel", "$SOURCE"]
    upload_cmd += ["-serial", "tcp:127.0.0.1:%d,server=on,wait=on" % tcp_port]
    env.Replace(
        UPLOADCMD=" ".join(a if a == "$SOURCE" else shlex.quote(a) for a in upload_cmd)
    )
    upload_title = "Starting $SOURCE in QEMU (UART0 on tcp:127.0.0.1:%d)" % tcp_port
elif protocol == "cmsis-dap":
    upload_target = hex_image
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
    upload_title = "Flashing $SOURCE with OpenOCD (CMSIS-DAP)"
else:
    sys.stderr.write("Error: unknown upload protocol %r for this platform\n" % protocol)
    env.Exit(1)

AlwaysBuild(env.Alias("upload", upload_target, env.VerboseAction("$UPLOADCMD", upload_title)))

Default([program, hex_image, bin_image])
