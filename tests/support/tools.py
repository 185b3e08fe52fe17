"""The system tools tests run (a dump's real bytes, a compiler), found or skipped with one
reason that names the Debian package to install: ``.ci/run`` installs each of them, so in
CI such a skip fails the run (:mod:`support.no_skips`) instead of hiding a test."""

from __future__ import annotations

import shutil
import subprocess

import pytest

# The package that brings each command, as .ci/run installs it.
PACKAGES = {
    "od": "coreutils",
    "head": "coreutils",
    "xxd": "xxd",
    "hexdump": "bsdextrautils",
    "openssl": "openssl",
    "gcc": "gcc",
    "g++": "g++",
}


def need(command: str) -> str:
    """The command's path, or the test skipped, saying what to install. A command not in
    :data:`PACKAGES` is a KeyError: list it there, and install it in .ci/run."""
    package = PACKAGES[command]
    path = shutil.which(command)
    if path is None:
        pytest.skip(f"needs {command} (Debian package {package}; .ci/run installs it)")
    return path


def run_tool(command: list[str], data: bytes) -> bytes:
    """What ``command`` prints for ``data`` on its standard input."""
    need(command[0])
    return subprocess.run(command, input=data, capture_output=True, check=True, timeout=30).stdout
