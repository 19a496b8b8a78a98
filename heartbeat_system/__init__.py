"""Heartbeat Edge's whole system on one machine, and the emulated device.

The main job (`heartbeat main`: server, worker, emulated device and bridge together), `heartbeat replay` (which may
start the emulated device), the PlatformIO builds of the firmware, the QEMU launcher and the host-side harness that
tests and benchmarks use to talk to the emulated device. This package may import every part; no part imports it
(tests/test_import_rules.py reads the code to keep it so). It never trains in its own process: only the server's
worker child does.

    settings        SystemSettings: the folders, the secret key, PlatformIO's core dir
    ports           the one free-loopback-port helper
    firmware_build  the PlatformIO environment, `pio run`, the emulated device's image
    emulator        QEMU mps2-an386 running an image, its UART on a loopback TCP port
    elf             symbols and section sizes of an image
    device_harness  QemuDevice: a wire-protocol client of the emulated device for tests and benchmarks
    parts           a part of the system run as `python -m heartbeat_core.cli ...` in its own process
    live_view       what the main job shows in the terminal
    main_job        `heartbeat main`
    cli             `heartbeat replay`
"""
