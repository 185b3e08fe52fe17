"""The key scan of a big input holds few copies of it at once: random bytes (every
scanner's marks turn up, NULs too, so the NUL-stripped text is scanned again) held 5
times their size beside them at the scan's peak, and ``inspect``'s look at binary data
8 times more (decoded and lexed as C): 256 MiB took 2.3 GB. The base64 runs' classes are
now found a chunk at a time: a key's base64 across a chunk's end is still found."""

from __future__ import annotations

import base64
import random
import re
import tracemalloc
from collections.abc import Callable

import pytest

from esp_cabundle import keyscan
from esp_cabundle.errors import CertificateError
from esp_cabundle.inspect import describe_unknown, inspect_bytes
from esp_cabundle.keyscan import find_private_key
from esp_cabundle.keyscan_dumps import _ends_with_column
from esp_cabundle.sniff import looks_binary
from tests.support.key_vectors import key_vectors

SIZE = 4 << 20


def _peak(call: Callable[[], object]) -> int:
    """Bytes traced at the peak of ``call()`` (what it made, not its input)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def noise() -> bytes:
    return random.Random(20261204).randbytes(SIZE)


def test_the_scan_of_random_bytes_holds_at_most_three_copies(noise: bytes) -> None:
    """The text lower-cased, the hex scan's classes of it, and the NUL-stripped text: at
    most three copies at once (five before: text columns dropped, and lower-cased, beside
    the text lower-cased)."""
    assert b"\x00" in noise and b"<\n" in noise  # the NUL pass and od -z's columns run
    peak = _peak(lambda: find_private_key(noise))
    assert peak < 3.3 * SIZE, peak / SIZE


def test_binary_data_is_not_scanned_again_without_its_nuls(noise: bytes) -> None:
    """Random bytes hold NULs but no UTF-16 or UTF-32 text: the NUL pass (a copy of the
    input, and its own lower-cased copy) is not made, so the peak is two copies, not
    three; and no second scan's time."""
    assert b"\x00" in noise
    peak = _peak(lambda: find_private_key(noise))
    assert peak < 2.3 * SIZE, peak / SIZE


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("lines", [1, 40], ids=["one line", "whole body"])
def test_wide_text_in_binary_data_is_still_scanned_without_its_nuls(
    noise: bytes, codec: str, lines: int
) -> None:
    """A headerless base64 key as UTF-16 or UTF-32 text between random bytes: only the
    NUL pass finds it, and the run of wide text sends the input there."""
    body = base64.encodebytes(KEY).decode()
    wide = "\n".join(body.splitlines()[:lines]).encode(codec)
    data = noise[:5000] + b"\n" + wide + b"\n" + noise[5000:10000]
    found = find_private_key(data)
    assert found is not None and found.encoding == "UTF-16" and "PKCS#8" in found.kind, found


@pytest.mark.parametrize("width", [8, 16, 48], ids=lambda w: f"{w}-byte fields")
@pytest.mark.parametrize("pad", [1, 4])
def test_base64_in_nul_padded_fields_is_still_scanned_without_its_nuls(
    noise: bytes, width: int, pad: int
) -> None:
    """A headerless base64 key kept in NUL-padded fixed-width fields (a firmware's
    settings struct) between random bytes: no UTF-16 text, yet only the NUL pass finds
    it, so the pieces of text between NULs send the input there too."""
    body = base64.b64encode(KEY)
    fields = b"".join(body[i : i + width] + b"\x00" * pad for i in range(0, len(body), width))
    data = noise[:5000] + b"\xff" + fields + b"\xff" + noise[5000:10000]
    found = find_private_key(data)
    assert found is not None and "PKCS#8" in found.kind, found


def test_binary_data_is_told_without_a_copy(noise: bytes) -> None:
    """sniff_kind says "der" only of bytes opening with 0x30: any other binary data is
    no longer decoded and lexed as C to tell (8 times the input)."""
    data = b"\x31" + noise[1:] + b"\x00"  # padding at the end: looks_binary's rstrip
    said = describe_unknown(data)
    assert said is not None and said[0].startswith("binary data (")
    assert _peak(lambda: describe_unknown(data)) < SIZE // 8


def test_inspect_of_random_bytes_peaks_at_the_scan(noise: bytes) -> None:
    def inspect() -> None:
        with pytest.raises(CertificateError, match=r"^noise.bin: binary data \("):
            inspect_bytes(noise, source="noise.bin")

    assert _peak(inspect) < 3.3 * SIZE


def _whole_spans(data: bytes) -> list[tuple[int, int]]:
    """_b64_run_spans as it was: the whole text's classes, one search."""
    first = keyscan._B64_RUN.match(data) if data[:1] in b"Mbz/" else None
    spans = [first.span()] if first else []
    classes = data.translate(keyscan._B64_CLASSES)
    return spans + [(m.start() + 1, m.end()) for m in keyscan._B64_KEY_RUN.finditer(classes)]


_PIECES = [b"M", b"b", b"z", b"/", b"A", b"Q", b"0", b"+", b"MIIE", b"\n", b" ", b'"', b"."]


@pytest.mark.parametrize("chunk", [1, 16, 17, 18, 33, 64, 1 << 18])
def test_the_runs_found_a_chunk_at_a_time_are_the_whole_texts(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keyscan, "_B64_CHUNK", chunk)
    rng = random.Random(chunk)
    for _ in range(400):
        pieces = (rng.choice(_PIECES) * rng.randrange(1, 24) for _ in range(rng.randrange(30)))
        data = b"".join(pieces)
        assert list(keyscan._b64_run_spans(data)) == _whole_spans(data), data


KEY = key_vectors()["test-only-ec-pkcs8.der"]
OPENSSH = b"openssh-key-v1\x00" + bytes(range(64))


@pytest.mark.parametrize(
    ("raw", "kind"), [(KEY, "base64 PKCS#8"), (OPENSSH, "base64 OpenSSH key")], ids=["der", "ssh"]
)
def test_a_base64_key_across_a_chunks_end_is_found(
    raw: bytes, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each offset of a run's first 17 bytes (its "." and 16 characters) across the end
    of a chunk, and the run's first line ending past it."""
    chunk = 64
    monkeypatch.setattr(keyscan, "_B64_CHUNK", chunk)
    body = base64.encodebytes(raw)
    for at in range(chunk - 20, 2 * chunk + 2):
        data = b"\x01" * at + b"\n" + body + b"\n"
        found = find_private_key(data)
        assert found is not None and found.kind == kind and found.offset == at + 1, (at, found)


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", b"<", b"<\n", b"x<\r\n\n", b"<x\n", b"\r\n" * 5000 + b"<", b"<" + b"\n" * 9000],
)
def test_ends_with_column_is_rstrip_endswith(data: bytes) -> None:
    assert _ends_with_column(data) == data.rstrip(b"\r\n").endswith(b"<")


_NEVER_TEXT = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f\xc0\xc1\xf5-\xff]")


@pytest.mark.parametrize("pad", [0, 1, 65535, 65536, 65537, 200000])
def test_looks_binary_ignores_padding_as_before(pad: int) -> None:
    rng = random.Random(pad)
    for body in (b"text\n" * 30000, rng.randbytes(100), rng.randbytes(70000), b""):
        for fill in (b"\x00", b"\xff", b"\x00\xff"):
            data = body + fill * pad
            stripped = data.rstrip(b"\x00\xff")[:65536]
            odd = len(stripped) - len(_NEVER_TEXT.sub(b"", stripped))
            assert looks_binary(data) == (odd * 50 > len(stripped))
