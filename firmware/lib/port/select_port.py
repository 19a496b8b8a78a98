"""Compile exactly one port_<name>.c: the one the environment's `custom_port`
option names in platformio.ini (native, qemu, nrf52840)."""

import os

Import("env", "pio_lib_builder")  # noqa: F821 (SCons injects Import)

name = env.GetProjectOption("custom_port", "").strip()  # noqa: F821
available = sorted(
    f[len("port_") : -len(".c")]
    for f in os.listdir(pio_lib_builder.src_dir)  # noqa: F821
    if f.startswith("port_") and f.endswith(".c")
)
if name not in available:
    raise SystemExit(
        "Error: [env:%s] must set custom_port to one of %s (got %r)"
        % (env["PIOENV"], ", ".join(available), name)  # noqa: F821
    )
env.Replace(SRC_FILTER=["-<*>", "+<port_%s.c>" % name])  # noqa: F821
