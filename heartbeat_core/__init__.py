"""Heartbeat Edge's shared kernel: what every part may import and what imports no part.

errors (the error kinds), settings (the settings base and its one validation-error formatter), ui (console and
progress), domain (AAMI classes, sampling rate, the model's window and RR feature sizes) and cli (the root of the
`heartbeat` command and its plugin loading). Nothing here imports the toolchain, the bridge, the server or the
system; a test reads the code to keep it so.
"""
