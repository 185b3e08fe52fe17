"""A root's ``sha256`` in cabundle.lock, as a hand edit leaves it. Upper-case hex (or
``sha256:AA:BB:...``, as ``--root`` and ``roots:`` take a fingerprint) names the same
root: read as build writes it, it compares with the bundle's (``--locked`` passes).
It was refused as "bad fingerprint in lock file" with no line and no hint; what is no
fingerprint at all still is refused, now with its line and a hint, like the lock's
other errors."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.lockfile import Lock

LOCKED = ["build", "--preset", "letsencrypt", "--locked", "-o", "x.pem"]


def _lock(in_tmp: Path) -> tuple[Path, dict[str, object], list[str]]:
    r = CliRunner().invoke(cli, ["build", "--preset", "letsencrypt", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    lock = in_tmp / "cabundle.lock"
    doc = json.loads(lock.read_text())
    assert isinstance(doc, dict) and isinstance(doc["roots"], list)
    return lock, doc, [str(r["sha256"]) for r in doc["roots"]]


def _colons(fp: str) -> str:
    return "sha256:" + ":".join(fp[i : i + 2] for i in range(0, 64, 2)).upper()


@pytest.mark.parametrize("spell", [str.upper, _colons])
def test_an_upper_case_fingerprint_is_the_same_root(in_tmp: Path, spell: object) -> None:
    lock, doc, fps = _lock(in_tmp)
    assert callable(spell)
    doc["roots"][0]["sha256"] = spell(fps[0])  # type: ignore[index]
    lock.write_text(json.dumps(doc, indent=2) + "\n")
    assert Lock.from_bytes(lock.read_bytes()).fingerprints == tuple(fps)
    r = CliRunner().invoke(cli, LOCKED)
    assert r.exit_code == 0, r.output
    assert (in_tmp / "x.pem").read_bytes() == (in_tmp / "ca.pem").read_bytes()


def test_an_upper_case_copy_of_a_pinned_root_is_a_repeat(in_tmp: Path) -> None:
    """Compared as the one root it names: listed twice is still refused."""
    lock, doc, fps = _lock(in_tmp)
    roots = doc["roots"]
    assert isinstance(roots, list)
    roots.append({**roots[0], "sha256": fps[0].upper()})
    lock.write_text(json.dumps(doc, indent=2) + "\n")
    with pytest.raises(InputError, match=f"root {len(fps) + 1} .* repeats root 1"):
        Lock.from_bytes(lock.read_bytes())


@pytest.mark.parametrize("bad", ["zz" * 32, "ab" * 31, "sha1:" + "ab" * 20])
def test_a_fingerprint_that_is_none_names_its_line_and_a_hint(in_tmp: Path, bad: str) -> None:
    lock, doc, _ = _lock(in_tmp)
    doc["roots"][1]["sha256"] = bad  # type: ignore[index]
    lock.write_text(json.dumps(doc, indent=2) + "\n")
    before = lock.read_bytes()
    line = next(n for n, text in enumerate(before.decode().splitlines(), start=1) if bad in text)
    r = CliRunner().invoke(cli, LOCKED)
    assert r.exit_code == 2, r.output
    assert f"cabundle.lock:{line}: bad fingerprint in lock file: root 2's sha256" in r.stderr
    assert f"root 2's sha256 ({bad[:16]}...) is not 64 hex digits" in r.stderr
    hint = "hint: restore it from version control, or run 'esp-cabundle build "
    hint += f"{shlex.join(w for w in LOCKED[1:] if w != '--locked')}' without --locked"
    assert hint in r.stderr
    assert lock.read_bytes() == before and not (in_tmp / "x.pem").exists()
    with pytest.raises(InputError) as e:
        Lock.from_bytes(before)
    assert e.value.line == line and e.value.hint
