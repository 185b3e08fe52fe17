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
    "make": "make",
    "cmake": "cmake",
    "ninja": "ninja-build",
    "git": "git",
}


def _reason(command: str) -> str:
    return f"needs {command} (Debian package {PACKAGES[command]}; .ci/run installs it)"


def requires(command: str) -> pytest.MarkDecorator:
    """A mark skipping the test where ``command`` is missing, with :func:`need`'s reason
    (a test collected before it runs, so a skipif rather than a call)."""
    return pytest.mark.skipif(shutil.which(command) is None, reason=_reason(command))


def need(command: str) -> str:
    """The command's path, or the test skipped, saying what to install. A command not in
    :data:`PACKAGES` is a KeyError: list it there, and install it in .ci/run."""
    PACKAGES[command]  # a KeyError for a command .ci/run does not install
    path = shutil.which(command)
    if path is None:
        pytest.skip(_reason(command))
    return path


def run_tool(command: list[str], data: bytes) -> bytes:
    """What ``command`` prints for ``data`` on its standard input."""
    need(command[0])
    return subprocess.run(command, input=data, capture_output=True, check=True, timeout=30).stdout
