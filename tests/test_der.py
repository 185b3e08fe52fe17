"""The small DER helpers every reader and writer shares: element framing and OIDs."""

from __future__ import annotations

import pytest

from esp_cabundle.pubkeys import der_tlv, dotted_oid, encode_oid, read_tlv_header


@pytest.mark.parametrize("n", [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000])
def test_an_element_reads_back_as_written(n: int) -> None:
    element = der_tlv(0x04, b"\xaa" * n)
    tag, header, length = read_tlv_header(element, 0)
    assert (tag, length, len(element)) == (0x04, n, header + n)
    assert header == (2 if n < 0x80 else 2 + (n.bit_length() + 7) // 8)


# Encodings as X.690 spells them (8.19; 2.999.3 is its own example).
OIDS = [
    ("1.2.840.113549.1.1.11", "2a864886f70d01010b"),  # sha256WithRSAEncryption
    ("2.5.4.3", "550403"),  # commonName
    ("1.3.101.112", "2b6570"),  # Ed25519
    ("2.16.840.1.101.3.4.2.1", "608648016503040201"),  # SHA-256
    ("2.999.3", "883703"),
]


@pytest.mark.parametrize(("dotted", "content"), OIDS)
def test_oids_encode_and_read_as_x690_says(dotted: str, content: str) -> None:
    assert encode_oid(dotted).hex() == content
    assert dotted_oid(bytes.fromhex(content)) == dotted


def test_an_empty_oid_reads_as_empty() -> None:
    assert dotted_oid(b"") == "(empty)"
