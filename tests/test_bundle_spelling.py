"""``Spelling.bundle`` takes a quoted value (:meth:`Spelling.bundle_for`), as the port
templates do: a path that needs quoting is shown whole, in the caller's language."""

from __future__ import annotations

import pytest

from esp_cabundle.errors import EspCabundleError
from esp_cabundle.flash.offline import _refuse_not_a_dump
from esp_cabundle.spelling import CLI_SPELLING, PYTHON, Spelling, bare

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("spelling", "path", "said"),
    [
        (PYTHON, "ca.pem", "load_trust_set('ca.pem')"),
        (PYTHON, "it's ca.pem", 'load_trust_set("it\'s ca.pem")'),
        (PYTHON, "a\\b.pem", "load_trust_set('a\\\\b.pem')"),
        (CLI_SPELLING, "my ca.pem", '--bundle "my ca.pem"'),
    ],
)
def test_a_pem_given_as_a_dump_names_it_as_the_ca(spelling: Spelling, path: str, said: str) -> None:
    assert spelling.bundle_for(path) == said
    with pytest.raises(EspCabundleError) as e:
        _refuse_not_a_dump(PEM, path, spelling)
    assert f"given as the CA ({said})" in (e.value.hint or "")


def test_the_bare_knob_is_unchanged() -> None:
    assert bare(PYTHON.bundle) == "load_trust_set()"
    assert bare(CLI_SPELLING.bundle) == "--bundle"


@pytest.mark.parametrize(
    ("spelling", "name", "said"),
    [
        (PYTHON, "idf-bundle", "device=parse_device_profile('idf-bundle')"),
        (PYTHON, "it's.yaml", 'device=parse_device_profile("it\'s.yaml")'),
        (CLI_SPELLING, "idf-bundle", "--device idf-bundle"),
        (CLI_SPELLING, "it's.yaml", '--device "it\'s.yaml"'),
        (CLI_SPELLING, "my device.yaml", '--device "my device.yaml"'),
    ],
)
def test_a_device_profile_is_named_quoted_as_the_caller_writes_it(
    spelling: Spelling, name: str, said: str
) -> None:
    """``Spelling.device`` had Python's quotes built in (``'{}'``): a name with a quote in
    it came out as broken Python; :meth:`Spelling.device_for` quotes it as
    :meth:`Spelling.bundle_for` does a path."""
    assert spelling.device_for(name) == said
    if spelling is PYTHON:
        import ast

        ast.parse(said)  # a call a script can paste


def test_the_bare_device_knob_names_no_value() -> None:
    assert bare(PYTHON.device) == "device=parse_device_profile()"
    assert bare(CLI_SPELLING.device) == "--device"
