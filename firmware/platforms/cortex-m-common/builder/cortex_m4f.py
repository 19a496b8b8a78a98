"""The build of a Cortex-M4F image, shared by the `qemu-cortex-m4f` and `nrf52840` platforms (an SConscript).

Each platform's builder/main.py sets CM4F_COMMON_DIR (this folder's parent) and runs this file with
``env.SConscript(...)``; it adds only its upload. Here: Debian's arm-none-eabi-gcc and newlib-nano found on PATH
(scripts/setup.sh installs them), hard float, -O2. The linker script is the board's (build.ldscript, in the
platform's ldscripts/), which INCLUDEs ldscripts/cm4f_sections.ld from this folder. runtime/startup_cm4f.c
(reset, C runtime start) and runtime/vectors_cm4f.c (the vector table: the core's exceptions, then the device
interrupts listed by the board's header build.irqs, in the platform's runtime/) are linked as objects, not
from an archive, so that the vector table is never dropped.

Returns (program, hex_image): firmware.elf and firmware.hex; firmware.bin and the `size` target are built too.
"""

import os

from SCons.Script import AlwaysBuild, DefaultEnvironment, Return

env = DefaultEnvironment()
platform = env.PioPlatform()
board = env.BoardConfig()

COMMON_DIR = env.subst("$CM4F_COMMON_DIR")
TOOL_PREFIX = "arm-none-eabi-"
MACHINE_FLAGS = [
    f"-mcpu={board.get('build.cpu')}",
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
        "-Wl,-Map," + os.path.join("$BUILD_DIR", "${PROGNAME}.map"),
    ],
    # after the platform's ldscripts/ (PlatformIO's), for the board script's INCLUDE
    LIBPATH=[os.path.join(COMMON_DIR, "ldscripts")],
    LIBS=["m"],
)

# The runtime: startup and the vector table, whose device part is the board's list of interrupts.
runtime_env = env.Clone()
runtime_env.Append(
    CPPPATH=[os.path.join(platform.get_dir(), "runtime")],
    CPPDEFINES=[("CM4F_BOARD_IRQS", f'\\"{board.get("build.irqs")}\\"')],
)
runtime_env.BuildSources(
    os.path.join("$BUILD_DIR", "runtime"),
    os.path.join(COMMON_DIR, "runtime"),
    ["-<*>", "+<startup_cm4f.c>", "+<vectors_cm4f.c>"],
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

AlwaysBuild(env.Alias("size", program, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE")))
env.Default([program, hex_image, bin_image])

Return("program", "hex_image")
