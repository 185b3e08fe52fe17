"""Run from a project's subdirectory, commands that read ``./cabundle.yaml`` say that the
project's config above is not read, instead of silently building the default preset
there or failing with no clue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.config import config_above

CONFIG = "preset: letsencrypt\noutputs:\n  - {format: pem, path: build/ca.pem}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cabundle.yaml").write_text(CONFIG)
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path / "src")
    return tmp_path


def test_build_in_a_subdirectory_warns_that_the_config_above_is_not_read(
    project: Path, runner: CliRunner
) -> None:
    r = runner.invoke(cli, ["build", "-q"])
    assert r.exit_code == 0
    assert "warning: no cabundle.yaml here, building the default preset" in r.stderr
    assert "../cabundle.yaml is not read from here" in r.stderr
    assert f"run from {project}, or pass -c ../cabundle.yaml" in r.stderr


def test_build_json_lists_the_warning(project: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["build", "--json", "--dry-run"])
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["ok"] is True
    assert any("../cabundle.yaml is not read" in w for w in doc["warnings"])


def test_build_with_an_explicit_selection_does_not_warn(project: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "--dry-run"])
    assert r.exit_code == 0
    assert "not read" not in r.stderr


def test_check_and_chains_pull_and_pack_name_the_config_above(
    project: Path, runner: CliRunner
) -> None:
    check = runner.invoke(cli, ["check"])
    assert check.exit_code == 2
    assert "nothing to check: no cabundle.yaml here (../cabundle.yaml is not read" in check.stderr
    pull = runner.invoke(cli, ["chains", "pull"])
    assert pull.exit_code == 2
    assert "hint: ../cabundle.yaml is not read from here" in pull.stderr
    pack = runner.invoke(cli, ["pack", "--board", "mdash-arduino", "-o", "x.bin"])
    assert pack.exit_code == 2
    assert "hint: ../cabundle.yaml is not read from here" in pack.stderr
    # without --board, the board: of the config above is what is missed: said too
    pack = runner.invoke(cli, ["pack", "-o", "x.bin"])
    assert pack.exit_code == 2
    assert "--fs and --size are required without --board" in pack.stderr
    assert "no cabundle.yaml here (../cabundle.yaml is not read from here" in pack.stderr
    assert f"run from {project}, or pass -c ../cabundle.yaml" in pack.stderr
    assert sorted(p.name for p in Path.cwd().iterdir()) == []


def test_the_search_stops_at_the_top_of_a_git_repository(tmp_path: Path) -> None:
    (tmp_path / "cabundle.yaml").write_text(CONFIG)
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    assert config_above(repo / "src") is None
    assert config_above(repo) is None
    (repo / "cabundle.yaml").write_text(CONFIG)
    assert config_above(repo / "src") == repo / "cabundle.yaml"
