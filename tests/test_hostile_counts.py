"""Counts that lie: a few bytes that declare millions of entries, or inputs whose cost
grows faster than their size. Each is refused (or judged) in bounded time, exit 2 with
the count and the limit in words."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import EspCabundleError, InputError
from esp_cabundle.formats.idf_bundle import BundleRoot, parse_idf_bundle, render_idf_bundle
from esp_cabundle.inspect import inspect_bytes
from esp_cabundle.limits import MAX_IDF_BUNDLE_ROOTS

DATA = Path(__file__).parent / "data"
_EMPTY_NAME = b"\x30\x00"  # a DER Name with no RDN: what _looks_like_name accepts


def _v2(n: int, name: bytes = _EMPTY_NAME) -> bytes:
    entry = struct.pack("<HH", len(name), 0) + name
    return struct.pack(f"<{n}L", *(4 * n + i * len(entry) for i in range(n))) + entry * n


def _v1(n: int, name: bytes = _EMPTY_NAME) -> bytes:
    return struct.pack(">H", n) + (struct.pack(">HH", len(name), 0) + name) * n


# --- ESP-IDF bundles: the count word ------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("fmt", "data", "count"),
    [("v2", _v2(400_000), "400,000"), ("v1", _v1(0xFFFF), "65,535")],
)
def test_a_bundle_listing_too_many_roots_is_refused_quickly(
    in_tmp: Path, runner: CliRunner, fmt: str, data: bytes, count: str
) -> None:
    """A 4 MB v2 bundle of 400,000 empty entries took 17 s and 327 MB in inspect (40 MB:
    150 s, 3 GB): every entry became a root, a subject and a key description."""
    start = time.monotonic()
    with pytest.raises(EspCabundleError, match=f"{fmt} bundle lists {count} roots, over the 4,096"):
        inspect_bytes(data, source="b.bin")
    with pytest.raises(EspCabundleError, match="over the 4,096"):
        parse_idf_bundle(data, bundle_format=fmt)  # type: ignore[arg-type]
    (in_tmp / "b.bin").write_bytes(data)
    r = runner.invoke(cli, ["inspect", "b.bin"])
    assert r.exit_code == 2 and f"ESP-IDF certificate bundle ({fmt}) too large to read" in r.output
    assert "Traceback" not in r.output
    assert time.monotonic() - start < 20


def test_a_bundle_at_the_limit_reads() -> None:
    bundle = parse_idf_bundle(_v2(MAX_IDF_BUNDLE_ROOTS))
    assert len(bundle.roots) == MAX_IDF_BUNDLE_ROOTS


def test_no_bundle_is_written_that_could_not_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from esp_cabundle.formats import idf_bundle

    roots = [BundleRoot(b"\x30\x03\x02\x01" + bytes([i % 256]), b"") for i in range(4097)]
    monkeypatch.setattr(idf_bundle, "_sorted_roots", lambda certs: roots)
    with pytest.raises(InputError, match="v1 bundle would list 4,097 roots, over the 4,096"):
        render_idf_bundle([], bundle_format="v1", max_certs=None)
