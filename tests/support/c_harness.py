"""Build and run ``mbedtls_harness.c`` against a real mbedTLS.

``debian()``: Debian's libmbedtls-dev (2.28), compiled once per test session; tests skip
with the reason when gcc or the library is absent (``.ci/run`` installs them).
``at``: run under Debian's ``faketime`` at that instant (mbedTLS reads ``time()``).
``build(prefix)``: the same harness against another build (a hand-built 3.6, used by
``record_mbedtls36.py`` to make ``tests/data/mbedtls36``).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SOURCE = Path(__file__).with_name("mbedtls_harness.c")


@dataclass(frozen=True)
class Harness:
    exe: Path
    version: str

    def _run(self, args: Sequence[str], at: datetime | None = None) -> list[str]:
        cmd = [str(self.exe), *args]
        if at is not None:
            stamp = at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            cmd = ["faketime", "-f", f"@{stamp}", *cmd]
        env = {**os.environ, "TZ": "UTC"}
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=True)
        return out.stdout.split("\n")[:-1]

    def _files(self, tmp: Path, ders: Sequence[bytes], stem: str) -> list[str]:
        paths = []
        for i, der in enumerate(ders):
            p = tmp / f"{stem}{i}.der"
            p.write_bytes(der)
            paths.append(str(p))
        return paths

    def parse(self, ders: Sequence[bytes]) -> list[int]:
        """``mbedtls_x509_crt_parse_der`` of each DER."""
        with tempfile.TemporaryDirectory() as d:
            files = self._files(Path(d), ders, "c")
            out: list[int] = []
            for k in range(0, len(files), 500):
                out += [int(x) for x in self._run(["parse", *files[k : k + 500]])]
            return out

    def parse_file(self, pem: bytes) -> tuple[int, int]:
        """``mbedtls_x509_crt_parse_file``: (return code, certificates kept)."""
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "ca.pem"
            p.write_bytes(pem)
            rc, kept = self._run(["parse-file", str(p)])[0].split()
            return int(rc), int(kept)

    def verify(
        self, ca_pem: bytes, chain: Sequence[bytes], *, name: str | None, at: datetime | None
    ) -> tuple[str, int, int]:
        """("parse", rc, 0) when a sent certificate is refused, else ("verify", rc, flags)."""
        with tempfile.TemporaryDirectory() as d:
            ca = Path(d) / "ca.pem"
            ca.write_bytes(ca_pem)
            files = self._files(Path(d), chain, "s")
            line = self._run(["verify", str(ca), name or "-", *files], at)[0].split()
            return _result(line)

    def verify_bundle(
        self,
        fmt: str,
        bundle: bytes,
        chain: Sequence[bytes],
        *,
        name: str | None,
        at: datetime | None,
    ) -> tuple[str, int, int]:
        with tempfile.TemporaryDirectory() as d:
            b = Path(d) / "bundle.bin"
            b.write_bytes(bundle)
            files = self._files(Path(d), chain, "s")
            line = self._run(["verify-bundle", fmt, str(b), name or "-", *files], at)[0].split()
            return _result(line)

    def tls(self, port: int, ca_pem: bytes, name: str) -> tuple[int, int]:
        """A TLS 1.2 handshake with 127.0.0.1:port; ``name`` "@unset" sets none."""
        with tempfile.TemporaryDirectory() as d:
            ca = Path(d) / "ca.pem"
            ca.write_bytes(ca_pem)
            rc, flags = self._run(["tls", "127.0.0.1", str(port), str(ca), name])[0].split()
            return int(rc), int(flags)


def _result(line: list[str]) -> tuple[str, int, int]:
    if line[0] in ("parse", "ca"):
        return line[0], int(line[1]), 0
    return "verify", int(line[0]), int(line[1])


def _compile(out: Path, include: str | None = None, lib: str | None = None) -> Path | None:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        return None
    cmd = [gcc, "-O1", "-o", str(out), str(SOURCE)]
    if include:
        cmd[1:1] = [f"-I{include}"]
    if lib:
        cmd += [f"-L{lib}", f"-Wl,-rpath,{lib}"]
    cmd += ["-lmbedtls", "-lmbedx509", "-lmbedcrypto"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return out if done.returncode == 0 else None


@functools.cache
def debian() -> Harness | str:
    """The harness over Debian's libmbedtls-dev, or why it cannot be built."""
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        return "no C compiler (gcc): apt-get install gcc"
    if not Path("/usr/include/mbedtls/x509_crt.h").is_file():
        return "libmbedtls-dev is not installed: apt-get install libmbedtls-dev"
    exe = _compile(Path(tempfile.mkdtemp(prefix="mbedtls-harness-")) / "harness")
    if exe is None:
        return "mbedtls_harness.c does not compile against libmbedtls-dev"
    version = subprocess.run([str(exe), "version"], capture_output=True, text=True).stdout
    return Harness(exe, version.strip())


def debian_or_skip(*, module: bool = False) -> Harness:
    """:func:`debian`, or skip naming why it cannot be built (``module``: the whole test
    module, called at import). .ci/run installs gcc and libmbedtls-dev, so CI runs it."""
    harness = debian()
    if isinstance(harness, str):  # pragma: no cover - .ci/run installs both
        import pytest

        pytest.skip(f"C harness unavailable: {harness}", allow_module_level=module)
    return harness


def build(prefix: Path) -> Harness:
    """The harness over an mbedTLS build tree (``include/``, ``library/``)."""
    exe = _compile(
        Path(tempfile.mkdtemp(prefix="mbedtls-harness-")) / "harness",
        str(prefix / "include"),
        str(prefix / "library"),
    )
    assert exe is not None, f"cannot build the harness against {prefix}"
    version = subprocess.run([str(exe), "version"], capture_output=True, text=True).stdout
    return Harness(exe, version.strip())


def have_faketime() -> bool:
    return shutil.which("faketime") is not None
