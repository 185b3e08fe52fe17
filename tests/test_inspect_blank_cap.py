"""inspect_bytes on hostile sizes: blank flash said without a key scan of every byte,
and bytes over inspect_path's cap refused before any reader runs."""

from __future__ import annotations

import pytest

from esp_cabundle import inspect as inspect_module
from esp_cabundle.errors import CertificateError, InputError
from esp_cabundle.inspect import inspect_bytes


def test_blank_bytes_are_said_without_a_key_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """One byte repeated holds no key: said at once, not after scanning every byte for
    one (200 MiB of zeros took 36 s in the scan); other bytes are still scanned."""
    scanned: list[int] = []
    monkeypatch.setattr(
        inspect_module, "refuse_private_keys", lambda d, **_: scanned.append(len(d))
    )
    for blank in (bytes(3 << 20), b"\xff" * 4096):
        with pytest.raises(CertificateError, match="every one 0x"):
            inspect_bytes(blank, source="blank.bin")
    assert scanned == []
    with pytest.raises(CertificateError, match="binary data"):
        inspect_bytes(b"\x00\x01" * 2048, source="other.bin")
    assert scanned == [4096]


def test_bytes_over_the_file_cap_are_refused_before_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """inspect_bytes has inspect_path's cap (256 MiB: 300 MiB took 26 s and ~1 GB)."""
    monkeypatch.setattr(inspect_module, "MAX_FILE_INPUT", 1 << 20)
    monkeypatch.setattr(inspect_module, "INSPECTORS", ())  # would read: none may run
    with pytest.raises(InputError, match=r"is 1\.0 MiB, over the 1 MiB limit|over the 1 MiB"):
        inspect_bytes(bytes(1 << 20) + b"x", source="big.bin")
