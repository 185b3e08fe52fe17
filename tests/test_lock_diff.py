"""The --locked diff names each root by a fingerprint prefix long enough to tell the
roots of the diff apart (16 hex digits may be the same for two), and shows at most
MAX_DIFF_LINES lines, saying how many more there are."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.lockfile import MAX_DIFF_LINES


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _locked(in_tmp: Path, extra: list[str]) -> str:
    r = CliRunner().invoke(cli, ["build", "--preset", "letsencrypt", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    lock = in_tmp / "cabundle.lock"
    doc = json.loads(lock.read_text())
    doc["roots"] += [
        {"sha256": fp, "label": f"Gone {n}", "source": "x"} for n, fp in enumerate(extra)
    ]
    lock.write_text(json.dumps(doc, indent=2) + "\n")
    before = _files(in_tmp)
    r = CliRunner().invoke(cli, ["build", "--preset", "letsencrypt", "--locked", "-o", "ca.pem"])
    assert r.exit_code == 1, r.output
    assert _files(in_tmp) == before  # nothing written, the lock as it was
    return r.stderr


def test_roots_sharing_16_hex_digits_are_told_apart(in_tmp: Path) -> None:
    a = "ab" * 10 + "0" * 44
    b = "ab" * 10 + "1" + "0" * 43
    err = _locked(in_tmp, [a, b])
    assert f"  - Gone 0 ({a[:21]})\n" in err and f"  - Gone 1 ({b[:21]})\n" in err


def test_a_long_diff_is_cut_saying_how_many_more(in_tmp: Path) -> None:
    extra = [f"{n:064x}" for n in range(1, 501)]
    err = _locked(in_tmp, extra)
    shown = [line for line in err.splitlines() if line.startswith("  - Gone ")]
    assert len(shown) == MAX_DIFF_LINES - 1
    assert shown[0] == f"  - Gone 0 ({extra[0][:64]})"  # they share 61 zeros: 64 needed
    more = 500 - (MAX_DIFF_LINES - 1)
    assert f"  ... and {more} more (0 added and 500 removed in all)\n" in err
