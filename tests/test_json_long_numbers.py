"""A JSON number too long to read (a 5,000-digit lock_version) is refused in the tool's
words, naming the file, line and field, as YAML's numbers are: Python's own refusal
advised sys.set_int_max_str_digits()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.limits import loads_json


def test_a_lock_with_a_5000_digit_number_is_refused_naming_the_field(in_tmp: Path) -> None:
    r = CliRunner().invoke(cli, ["build", "--preset", "letsencrypt", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    lock = in_tmp / "cabundle.lock"
    lock.write_text(lock.read_text().replace('"lock_version": 1', '"lock_version": 1' + "0" * 4999))
    before = {p.name: p.read_bytes() for p in in_tmp.iterdir()}
    r = CliRunner().invoke(cli, ["build", "--preset", "letsencrypt", "--locked", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    assert (
        "cabundle.lock:2: number too long for 'lock_version' in the lock file: 5,000 "
        "characters (at most 64)" in r.stderr
    )
    assert "set_int_max_str_digits" not in r.output and "Traceback" not in r.output
    assert {p.name: p.read_bytes() for p in in_tmp.iterdir()} == before


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ('{"label": "1' + "2" * 80 + '",\n "n": -' + "3" * 80 + "}", 2, "for 'n' "),
        ('{"roots": [\n\n 1.' + "5" * 5000 + "]}", 3, ""),
    ],
)
def test_long_numbers_outside_strings_are_found_and_refused(
    text: str, line: int, field: str
) -> None:
    """A string of digits is no number: the one refused is found between strings."""
    with pytest.raises(
        InputError, match=f"^j.json:{line}: number too long {field}in the journal entry"
    ) as e:
        loads_json(text.encode(), what="journal entry", path="j.json", cap=1 << 20, fault_line=True)
    assert e.value.line == line
    # a peer's answer (no file) is refused in the same words
    with pytest.raises(InputError, match="number too long") as e:
        loads_json(text.encode(), what="frame", path=None, cap=1 << 20)
    assert "set_int_max_str_digits" not in str(e.value)


def test_numbers_of_64_characters_are_still_read() -> None:
    doc = loads_json(json.dumps({"n": 10**63}).encode(), what="x", path=None, cap=1 << 10)
    assert doc == {"n": 10**63}
