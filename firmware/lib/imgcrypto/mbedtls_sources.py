"""Pre-build step of the imgcrypto library: where mbedtls 2.28.3 is.

scripts/fetch_crypto.sh fetches Debian's source package, checks its pinned sha256 and extracts the files the
library compiles into .state/third_party/mbedtls-<version>/ (git-ignored; run by scripts/setup.sh). The script is the
one definition of that folder: asked with --print-dir, it prints it and does nothing else. Its include/ goes onto
the include path of this library and, through PlatformIO's dependency finder, of every build that includes
imgcrypto.h. The sources themselves are compiled by upstream/*.c, one file each; a build that uses imgcrypto while
the tree is missing stops at imgcrypto_mbedtls.h with a message saying to run scripts/setup.sh. Builds that do not
use the library are not touched.
"""

import os
import subprocess

from SCons.Script import Import

# PlatformIO runs this file as an SConscript with the library's environment and builder exported
Import("env")
lib_env = globals()["env"]

fetch_script = os.path.join(lib_env.subst("$PROJECT_DIR"), "scripts", "fetch_crypto.sh")
answer = subprocess.run(["bash", fetch_script, "--print-dir"], capture_output=True, text=True, check=False)
if answer.returncode != 0 or not answer.stdout.strip():
    raise SystemExit(f"Error: imgcrypto: `bash {fetch_script} --print-dir` failed: {answer.stderr.strip()}")
lib_env.Append(CPPPATH=[os.path.join(answer.stdout.strip(), "include")])
