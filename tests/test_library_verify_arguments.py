"""``parse_device_profile(None)`` failed with ``'NoneType' object has no attribute
'strip'`` (bytes: ``a bytes-like object is required``), and
``TrustSet.from_certificates`` given a CA file's bytes with ``'int' object has no
attribute 'subject_der'`` (one Certificate: ``not iterable``). Now each is an
ArgumentTypeError whose hint is the call to make."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from esp_cabundle.certs import load_certificate_file
from esp_cabundle.errors import ArgumentTypeError
from esp_cabundle.verify import TrustSet, parse_device_profile

X1 = Path(__file__).parent / "data/letsencrypt/isrgrootx1.pem"
(CERT,) = load_certificate_file(X1)


@pytest.mark.parametrize(
    ("call", "message", "hint"),
    [
        (
            lambda: parse_device_profile(None),  # type: ignore[arg-type]
            "parse_device_profile takes a profile's name \\(str\\), not NoneType",
            "parse_device_profile('mbedtls-noclock'), or a board's: board.device_profile()",
        ),
        (
            lambda: parse_device_profile(b"mbedtls-noclock"),  # type: ignore[arg-type]
            "parse_device_profile takes a profile's name \\(str\\), not bytes b'mbedtls-noclock'",
            "give it as str: parse_device_profile('mbedtls-noclock')",
        ),
        (
            lambda: TrustSet.from_certificates(X1.read_bytes(), source="x"),  # type: ignore[arg-type]
            "TrustSet.from_certificates takes a sequence of Certificate, not bytes",
            "a CA file's bytes: trust_set_from_bytes(data, source='ca.pem')",
        ),
        (
            lambda: TrustSet.from_certificates(str(X1)),  # type: ignore[arg-type]
            "TrustSet.from_certificates takes a sequence of Certificate, not str",
            f"a CA file: load_trust_set({str(X1)!r})",
        ),
        (
            lambda: TrustSet.from_certificates(CERT, source="x"),  # type: ignore[arg-type]
            "TrustSet.from_certificates takes a sequence of Certificate, not one Certificate",
            "give a list: TrustSet.from_certificates([certificate], source=...)",
        ),
        (
            lambda: TrustSet.from_certificates([X1]),  # type: ignore[list-item]
            "TrustSet.from_certificates takes Certificate objects, not PosixPath",
            "TrustSet.from_certificates(load_certificates(data), source=...)",
        ),
        (
            lambda: TrustSet.from_certificates([CERT], source=X1),  # type: ignore[arg-type]
            "TrustSet.from_certificates's source= takes a str \\(what verdicts call the set\\), "
            "not PosixPath",
            f"source={str(X1)!r}",
        ),
    ],
)
def test_a_wrong_type_is_refused_with_the_call_to_make(
    call: Callable[[], object], message: str, hint: str
) -> None:
    with pytest.raises(ArgumentTypeError, match=message) as e:
        call()
    assert e.value.hint == hint
    assert e.value.exit_code == 2


def test_the_right_types_still_work() -> None:
    assert parse_device_profile("mbedtls-noclock").name == "mbedtls-noclock"
    trust = TrustSet.from_certificates(iter([CERT]), source="ca.pem")  # an iterator too
    assert [a.certificate for a in trust.anchors] == [CERT]
    assert trust.source == "ca.pem"
