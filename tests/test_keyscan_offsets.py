"""A PEM private-key header is reported at its first dash: ``-----BEGIN PRIVATE KEY-----``
at the start of a file was said to be at byte offset 11 (where PRIVATE starts), and each
kind of header off by its own prefix (RSA 15, EC 14, ENCRYPTED 21, OPENSSH 19)."""

from __future__ import annotations

import pytest

from esp_cabundle.errors import PrivateKeyError
from esp_cabundle.keyscan import find_private_key, refuse_private_keys

LABELS = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
          "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY"]  # fmt: skip
BODY = b"\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("lead", [b"", b"# a comment\n", b"x\n  "])
def test_the_header_offset_is_its_first_dash(label: str, lead: bytes) -> None:
    header = f"-----BEGIN {label}-----".encode()
    data = lead + header + BODY + f"-----END {label}-----\n".encode()
    found = find_private_key(data)
    assert found is not None and found.kind == "PEM private-key header"
    assert found.offset == len(lead), (found, data[:40])
    assert found.line == lead.count(b"\n") + 1
    with pytest.raises(PrivateKeyError) as e:
        refuse_private_keys(data, source="k.pem")
    assert f"at byte offset {len(lead)};" in e.value.message


@pytest.mark.parametrize(
    ("text", "header"),
    [
        (b"x ---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\n", b"----"),  # ssh.com's, 4 dashes
        (b"junk BEGIN PRIVATE KEY-----\n", b"BEGIN"),  # no dashes before: its BEGIN
        (b"Begin -----END PRIVATE KEY\n", b"-----"),  # the END header behind a "Begin"
        (b"ab---------BEGIN PRIVATE KEY---------\n", b"-"),  # a run of more than five
    ],
)
def test_other_headers_start_where_they_do(text: bytes, header: bytes) -> None:
    found = find_private_key(text)
    assert found is not None and found.offset == text.index(header), found
