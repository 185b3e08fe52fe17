"""The catalog and board hints in the caller's words: a cabundle.yaml root not in the catalog
names the config key, not --root; ``Catalog.resolve`` and ``Board.file_system`` name
the library to a script and the commands to a CLI user (second half, word for word)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board
from esp_cabundle.catalog import Catalog
from esp_cabundle.cli import cli
from esp_cabundle.errors import CatalogError, EspCabundleError, InputError

FP = "0123456789abcdef" * 4  # a well-formed SHA-256 no catalog root has
COMPILED_IN = "esp-idf-bundle-v1"  # a board whose firmware holds its CA compiled in


def _said(e: pytest.ExceptionInfo[EspCabundleError]) -> str:
    """The hint as a script sees it, checked to name no CLI command or flag."""
    said = e.value.hint or ""
    assert "esp-cabundle" not in said and "--" not in said, said
    return said


def test_resolve_names_the_catalog_search() -> None:
    with pytest.raises(CatalogError, match="unknown root") as e:
        Catalog.load().resolve("no-such-root-anywhere")
    assert _said(e).endswith("Catalog.load().search(QUERY) to find a root's alias or fingerprint")


def test_file_system_names_build_bundle_and_list_boards() -> None:
    with pytest.raises(InputError, match="not in a file system") as e:
        load_board(COMPILED_IN).file_system()
    assert _said(e) == (
        "ship new firmware built with build_bundle (an OutputSpec per file) output instead, "
        "or pick a board with a file system (list_boards())"
    )


# --- CLI: the commands and the config's keys, word for word ---------------------------


def test_a_config_root_not_in_the_catalog_names_the_roots_key(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "cabundle.yaml").write_text(f"roots:\n  - isrg-root-x1\n  - '{FP}'\n")
    r = runner.invoke(cli, ["build", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    assert "cabundle.yaml:3: roots[1]: root 0123456789abcdef" in r.stderr
    assert (
        "hint: pass the root as a file (a file path in roots:, e.g. '- path/to/root.pem') "
        "to use it anyway\n"
    ) in r.stderr
    assert "--root" not in r.stderr
    assert not (in_tmp / "ca.pem").exists()


def test_the_cli_keeps_its_commands_in_these_hints(in_tmp: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["build", "--root", "no-such-root-anywhere", "-o", "ca.pem"])
    assert r.exit_code == 2, r.output
    assert "run 'esp-cabundle roots QUERY' to find a root's alias or fingerprint\n" in r.stderr
    args = ["--board", COMPILED_IN, "--bundle", "ca.pem"]
    for command in (["flash", "-p", "/dev/null"], ["update-dump", "d.bin", "-o", "o.bin"]):
        r = runner.invoke(cli, [*command, *args])
        assert r.exit_code == 2, r.output
        assert (
            "hint: ship new firmware built with 'esp-cabundle build' output instead, or pick "
            "a board with a file system (esp-cabundle boards)\n"
        ) in r.stderr
    assert not list(in_tmp.iterdir())
