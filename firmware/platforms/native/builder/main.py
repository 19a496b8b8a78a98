"""PlatformIO build script of the Heartbeat Edge `native` platform.

Builds the project as a host program with the system gcc (no packages, no
downloads). Targets: the default build, `exec` / `upload` (run the program).
"""

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()

env.Replace(
    AR="gcc-ar",
    AS="gcc",
    CC="gcc",
    CXX="g++",
    RANLIB="gcc-ranlib",
    PROGNAME="program",
    PROGSUFFIX="",
)

env.Append(
    CCFLAGS=["-O2", "-g", "-Wall", "-Wextra"],
    CFLAGS=["-std=c11"],
    CXXFLAGS=["-std=c++17"],
    LIBS=["m"],
)

program = env.BuildProgram()

run_action = env.VerboseAction("$SOURCE $PROGRAM_ARGS", "Running $SOURCE")
AlwaysBuild(env.Alias("exec", program, run_action))
AlwaysBuild(env.Alias("upload", program, run_action))

Default([program])
