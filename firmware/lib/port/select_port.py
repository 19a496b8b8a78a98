"""Pre-build step of the port library: compile exactly the port the environment's `custom_port` option names in
platformio.ini (native, qemu, nrf52840), i.e. port_<name>.c, plus port_noadc.c for the ports without an ADC.
"""

import os

from SCons.Script import Import

# the targets whose samples arrive over the UART only (no ADC): their port_adc_* come from port_noadc.c
NO_ADC = ("native", "qemu")
NO_ADC_SOURCE = "port_noadc.c"

# PlatformIO runs this file as an SConscript with the library's environment and builder exported
Import("env", "pio_lib_builder")
lib_env = globals()["env"]
lib_dir = globals()["pio_lib_builder"].src_dir

name = lib_env.GetProjectOption("custom_port", "").strip()
available = sorted(
    f[len("port_") : -len(".c")]
    for f in os.listdir(lib_dir)
    if f.startswith("port_") and f.endswith(".c") and f != NO_ADC_SOURCE
)
if name not in available:
    raise SystemExit(
        f"Error: [env:{lib_env['PIOENV']}] must set custom_port to one of {', '.join(available)} (got {name!r})"
    )
sources = [f"port_{name}.c"] + ([NO_ADC_SOURCE] if name in NO_ADC else [])
lib_env.Replace(SRC_FILTER=["-<*>"] + [f"+<{source}>" for source in sources])
