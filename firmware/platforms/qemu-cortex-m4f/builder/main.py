"""PlatformIO build script of the Heartbeat Edge `qemu-cortex-m4f` platform: the emulated device.

The image is built as every Cortex-M4F image of the project is (firmware/platforms/cortex-m-common/builder/
cortex_m4f.py, shared with the `nrf52840` platform); the board manifest (boards/mps2_an386.json) names the
linker script (ldscripts/) and the list of device interrupts (runtime/). The platform has no packages, so
PlatformIO downloads nothing.

Upload runs the image in QEMU with its UART0 on a TCP socket:
    qemu-system-arm -M <machine> -nographic <flags>
      -kernel firmware.elf
      -serial tcp:127.0.0.1:PORT,server=on,wait=on
PORT is upload_port (platformio.ini, `--upload-port`, or PLATFORMIO_UPLOAD_PORT), else the board's
upload.default_port. QEMU waits for a client before the CPU starts, so no output is lost; it runs until the
firmware exits through semihosting or QEMU is stopped.
"""

import os
import shlex
import sys

from SCons.Script import COMMAND_LINE_TARGETS, AlwaysBuild, DefaultEnvironment

env = DefaultEnvironment()
platform = env.PioPlatform()
board = env.BoardConfig()

# the Cortex-M4F build shared with the other board's platform
COMMON_DIR = os.path.normpath(os.path.join(platform.get_dir(), os.pardir, "cortex-m-common"))
env.Replace(CM4F_COMMON_DIR=COMMON_DIR)
program, _hex_image = env.SConscript(os.path.join(COMMON_DIR, "builder", "cortex_m4f.py"))


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
            f"(1-65535), got {raw!r} (set it with --upload-port, upload_port in "
            "platformio.ini or PLATFORMIO_UPLOAD_PORT)\n"
        )
        env.Exit(1)
    return port


protocol = env.subst("$UPLOAD_PROTOCOL") or board.get("upload.protocol")
if protocol != "qemu":
    sys.stderr.write(f"Error: unknown upload protocol {protocol!r} for this platform (it has: qemu)\n")
    env.Exit(1)

qemu = board.get("qemu")
# the port is checked only when uploading: a bad one must not break builds
tcp_port = _qemu_tcp_port() if "upload" in COMMAND_LINE_TARGETS else 0
upload_cmd = [qemu["system"], "-M", qemu["machine"], "-nographic"]
upload_cmd += list(qemu.get("flags", []))
upload_cmd += ["-kernel", "$SOURCE"]
upload_cmd += ["-serial", f"tcp:127.0.0.1:{tcp_port},server=on,wait=on"]
env.Replace(UPLOADCMD=" ".join(a if a == "$SOURCE" else shlex.quote(a) for a in upload_cmd))
upload_title = f"Starting $SOURCE in QEMU (UART0 on tcp:127.0.0.1:{tcp_port})"

AlwaysBuild(env.Alias("upload", program, env.VerboseAction("$UPLOADCMD", upload_title)))
