"""``lock_version`` in cabundle.lock is the whole number build writes: JSON's ``true``
and ``1.0`` equal 1 in Python and were read as version 1. Refused with file:line, like
the lock's other errors, and the lock left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.limits import json_key_line
from esp_cabundle.lockfile import Lock


def _lock(in_tmp: Path) -> dict[str, object]:
    r = CliRunner().invoke(cli, ["build", "--preset", "letsencrypt", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    doc = json.loads((in_tmp / "cabundle.lock").read_text())
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize("version", [True, 1.0, 2, "1", None, [1]])
def test_a_lock_version_build_never_writes_is_refused(in_tmp: Path, version: object) -> None:
    doc = _lock(in_tmp)
    doc["lock_version"] = version
    lock = in_tmp / "cabundle.lock"
    lock.write_text(json.dumps(doc, indent=2) + "\n")
    before = lock.read_bytes()
    r = CliRunner().invoke(cli, ["build", "--preset", "letsencrypt", "--locked", "-o", "x.pem"])
    assert r.exit_code == 2, r.output
    shown = json.dumps(version)
    assert f"cabundle.lock:2: unsupported lock_version {shown}: build writes" in r.stderr
    assert "Traceback" not in r.output and not (in_tmp / "x.pem").exists()
    assert lock.read_bytes() == before
    with pytest.raises(InputError, match="unsupported lock_version") as e:
        Lock.from_bytes(before)
    assert e.value.line == 2


def test_the_line_is_the_top_level_key_not_a_value_like_it() -> None:
    """A root's label may read like the key; a nested object may hold it."""
    text = (
        '{"roots": [{"label": "\\"lock_version\\": x", "lock_version": 1},\n'
        ' {"lock_version": 1}],\n\n "lock_version": 1.0}'
    )
    assert json_key_line(text, "lock_version") == 4
    assert json_key_line('{"a": "lock_version"}', "lock_version") is None
    with pytest.raises(InputError, match=r"cabundle.lock:4: unsupported lock_version 1.0"):
        Lock.from_bytes(text.encode())
