"""``lock_version`` in cabundle.lock is the whole number build writes: JSON's ``true``
and ``1.0`` equal 1 in Python and were read as version 1. Refused with file:line, like
the lock's other errors, and the lock left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle import __version__
from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.limits import json_key_line
from esp_cabundle.lockfile import Lock
from esp_cabundle.spelling import CLI_SPELLING, PYTHON


def _lock(in_tmp: Path) -> dict[str, object]:
    r = CliRunner().invoke(cli, ["build", "--preset", "letsencrypt", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    doc = json.loads((in_tmp / "cabundle.lock").read_text())
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize("version", [True, 1.0, 0, -1, "1", "2", None, [1], 2.0])
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


@pytest.mark.parametrize("version", [2, 99])
def test_a_newer_lock_says_to_upgrade_not_to_rebuild(in_tmp: Path, version: int) -> None:
    """A lock_version above the one this release writes is a later release's lock:
    building without --locked would overwrite what it pins, so the hint is to upgrade
    esp-cabundle, in the CLI's words and the library's alike (no flag, no parameter)."""
    doc = _lock(in_tmp)
    doc["lock_version"] = version
    lock = in_tmp / "cabundle.lock"
    lock.write_text(json.dumps(doc, indent=2) + "\n")
    before = lock.read_bytes()
    r = CliRunner().invoke(cli, ["build", "--preset", "letsencrypt", "--locked", "-o", "x.pem"])
    assert r.exit_code == 2, r.output
    said = f"cabundle.lock:2: lock_version {version} is newer than esp-cabundle {__version__}"
    assert said in r.stderr, r.stderr
    assert "hint: upgrade esp-cabundle" in r.stderr and "--locked" not in r.stderr.split("hint:")[1]
    assert "Traceback" not in r.output and not (in_tmp / "x.pem").exists()
    assert lock.read_bytes() == before
    for spelling in (PYTHON, CLI_SPELLING):
        with pytest.raises(InputError, match=f"lock_version {version} is newer") as e:
            Lock.from_bytes(before, spelling=spelling)
        assert e.value.line == 2 and e.value.hint is not None
        assert e.value.hint.startswith("upgrade esp-cabundle")
        assert spelling.locked not in e.value.hint and spelling.build not in e.value.hint


def test_every_lock_hint_names_the_build_in_the_callers_words() -> None:
    """One wording of "build without the lock's pin", in each caller's spelling."""
    for spelling in (PYTHON, CLI_SPELLING):
        with pytest.raises(InputError, match="unsupported lock_version") as e:
            Lock.from_bytes(b'{"lock_version": 0, "roots": []}', spelling=spelling)
        hint = f"{spelling.build} without {spelling.locked} to write it again; review the diff"
        assert e.value.hint == hint


_AWKWARD = (
    "",
    "ISRG Root X1",
    'a "quoted" \\ name',
    "tab\tnew\nline\x00\x1f\x7f",
    "Főtanúsítvány",
    "\u2028 😀",
    "bad \udcff name",
)


def test_the_lock_is_laid_out_byte_for_byte_as_json_dumps_would_and_without_its_python_encoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``to_bytes`` lays the document out itself (json's indented encoder is pure Python,
    ~0.5 ms a build); its bytes are json.dumps's, escapes and lone surrogates included."""
    locks = [Lock(fingerprints=(), labels=(), sources=(), mozilla_version="2026.01.01")]
    for i, text in enumerate(_AWKWARD):
        rest = _AWKWARD[i:] + _AWKWARD[:i]
        locks.append(Lock(fingerprints=rest, labels=rest[::-1], sources=rest, mozilla_version=text))
    expected = []
    for lock in locks:
        doc = {
            "lock_version": 1,
            "generator": "esp-cabundle",
            "certifi": lock.mozilla_version,
            "roots": [
                {"sha256": f, "label": la, "source": s}
                for f, la, s in zip(lock.fingerprints, lock.labels, lock.sources, strict=True)
            ],
        }
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        expected.append(text.encode("utf-8", "backslashreplace"))

    def no_python_encoder(*args: object, **kwargs: object) -> None:
        raise AssertionError("the lock went through json's pure-Python encoder")

    monkeypatch.setattr(json.encoder, "_make_iterencode", no_python_encoder)
    assert [lock.to_bytes() for lock in locks] == expected
