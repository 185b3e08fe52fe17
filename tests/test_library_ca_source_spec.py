"""``CaSource.build`` given a preset's name, a CA file's path or its bytes instead of a
BundleSpec was accepted, and ``gate_ca`` then failed with ``'str' object has no attribute
'effective_presets'``. Now the CaSource refuses it at once: an ArgumentTypeError whose
hint is the call to make."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from esp_cabundle.bundle import BundleSpec
from esp_cabundle.errors import ArgumentTypeError
from esp_cabundle.gate import CaSource, gate_ca


@pytest.mark.parametrize(
    ("spec", "message", "hint"),
    [
        (
            "letsencrypt",
            "CaSource.build takes a BundleSpec, not str",
            "a preset: CaSource.build(BundleSpec(presets=('letsencrypt',))); "
            "a CA file: CaSource.from_file(Path('letsencrypt'))",
        ),
        (
            Path("ca.pem"),
            "CaSource.build takes a BundleSpec, not PosixPath",
            "a CA file: CaSource.from_file(Path('ca.pem'))",
        ),
        (
            b"-----BEGIN CERTIFICATE-----",
            "CaSource.build takes a BundleSpec, not bytes",
            "a CA file's bytes: CaSource.finished('ca.pem', data)",
        ),
        (
            None,
            "CaSource.build takes a BundleSpec, not NoneType",
            "CaSource.build(BundleSpec(presets=('letsencrypt',)))",
        ),
    ],
)
def test_a_spec_that_is_no_bundle_spec_is_refused_with_the_call_to_make(
    spec: object, message: str, hint: str
) -> None:
    with pytest.raises(ArgumentTypeError, match=message) as e:
        gate_ca(CaSource.build(spec), at=datetime(2026, 6, 1, tzinfo=timezone.utc))  # type: ignore[arg-type]
    assert e.value.hint == hint
    assert e.value.exit_code == 2


def test_a_bundle_spec_still_builds() -> None:
    assert CaSource.build(BundleSpec(presets=("letsencrypt",))).spec.presets == ("letsencrypt",)
    assert CaSource().spec == BundleSpec()
