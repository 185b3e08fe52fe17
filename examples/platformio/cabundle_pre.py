"""PlatformIO pre-build hook (``extra_scripts = pre:cabundle_pre.py``): write the CA files
cabundle.yaml describes before anything is compiled or a file-system image is built.

esp-cabundle must be installed where PlatformIO can run it (``pip install .`` from its
checkout, or from git as examples/ci does, in your shell's Python; or set ESP_CABUNDLE to
its path). A refused bundle (a policy, the lock file, a target that would reject it)
stops the build with esp-cabundle's message.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

Import("env")  # noqa: F821 - SCons provides Import and env

# Each entry is one esp-cabundle invocation, run in the project directory.
COMMANDS = [
    ["build", "-c", "cabundle.yaml", "--quiet"],
]

project_dir = Path(env.subst("$PROJECT_DIR"))  # noqa: F821
exe = os.environ.get("ESP_CABUNDLE") or shutil.which("esp-cabundle")
if exe is None:
    sys.stderr.write("esp-cabundle not found: pip install it, or set ESP_CABUNDLE\n")
    env.Exit(1)  # noqa: F821
for args in COMMANDS:
    print("esp-cabundle " + " ".join(args))
    if subprocess.run([exe, *args], cwd=project_dir, check=False).returncode != 0:
        env.Exit(1)  # noqa: F821
