"""A format or a root named nearly right gets the name meant, as presets and aliases do:
``-f PEM`` and ``-f idf_bundle`` had only the list of formats; ``--root
96bcec06264976f3`` (the fingerprint digits build's table shows) had no word of the root
it begins."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.catalog import Catalog
from esp_cabundle.cli import cli
from esp_cabundle.errors import CatalogError


@pytest.mark.parametrize(("typed", "meant"), [("PEM", "pem"), ("idf_bundle", "idf-bundle")])
def test_a_format_nearly_right_gets_the_one_meant(in_tmp: Path, typed: str, meant: str) -> None:
    r = CliRunner().invoke(cli, ["build", "-f", typed])
    assert r.exit_code == 2, r.output
    assert f"unknown format '{typed}'" in r.stderr
    assert f"hint: did you mean '{meant}'? formats: pem, der" in r.stderr
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize("typed", ["96bcec06264976f3", "96:BC:EC:06", "sha256:96bcec06"])
def test_the_start_of_a_fingerprint_names_the_root_it_begins(in_tmp: Path, typed: str) -> None:
    r = CliRunner().invoke(cli, ["build", "--root", typed])
    assert r.exit_code == 2, r.output
    assert f"unknown root '{typed}' (not an alias or SHA-256)" in r.stderr
    assert "hint: did you mean isrg-root-x1 (ISRG Root X1)?" in r.stderr
    assert "give the alias or the whole fingerprint" in r.stderr
    assert list(in_tmp.iterdir()) == []


def test_the_table_shows_the_digits_the_hint_takes(in_tmp: Path) -> None:
    r = CliRunner().invoke(cli, ["build", "--root", "isrg-root-x1", "--no-lock", "-o", "-"])
    assert r.exit_code == 0, r.output
    assert "96bcec06264976f3" in r.stderr


def test_digits_no_root_begins_keep_the_search_hint() -> None:
    with pytest.raises(CatalogError, match="unknown root") as e:
        Catalog.load().resolve("ffffffffffff")
    assert e.value.hint is not None and "did you mean" not in e.value.hint
