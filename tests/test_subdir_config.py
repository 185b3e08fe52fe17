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


def test_build_in_a_subdirectory_refuses_and_writes_nothing(
    project: Path, runner: CliRunner
) -> None:
    """It built the default preset there with a warning: a stray ca.pem and lock beside
    the sources, exit 0."""
    r = runner.invoke(cli, ["build", "-q"])
    assert r.exit_code == 2
    assert "no cabundle.yaml here, and ../cabundle.yaml above is not read" in r.stderr
    assert f"run from {project} (cd ..), or pass -c ../cabundle.yaml" in r.stderr
    # every flag that lets a build run here is named (-f too: it names what to write)
    assert "give --preset, --root, -f or -o to build here" in " ".join(r.stderr.split())
    assert sorted(p.name for p in Path.cwd().iterdir()) == []


def test_build_json_says_the_refusal(project: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["build", "--json", "--dry-run"])
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and "../cabundle.yaml above is not read" in doc["error"]


@pytest.mark.parametrize(
    "args",
    [["--preset", "letsencrypt"], ["--root", "isrg-root-x1"], ["-o", "here.pem"], ["-f", "der"]],
)
def test_build_with_an_explicit_selection_or_output_builds_here(
    project: Path, runner: CliRunner, args: list[str]
) -> None:
    r = runner.invoke(cli, ["build", "--no-lock", "-q", *args])
    assert r.exit_code == 0, r.output
    assert "not read" not in r.stderr
    for p in Path.cwd().iterdir():
        p.unlink()


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


def test_a_cabundle_yml_is_named_not_passed_over(in_tmp: Path, runner: CliRunner) -> None:
    """A config saved as ``cabundle.yml`` (YAML's other extension) was passed over: a
    plain build wrote the default preset's ca.pem and a lock beside it, exit 0, never
    the roots it names."""
    (in_tmp / "cabundle.yml").write_text(CONFIG)
    r = runner.invoke(cli, ["build", "-q"])
    assert r.exit_code == 2
    assert "no cabundle.yaml here, and cabundle.yml is not read; nothing written" in r.stderr
    assert "rename it to cabundle.yaml, or pass -c cabundle.yml" in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yml"]
    said = "cabundle.yml is not read, the config being cabundle.yaml: rename it, or pass -c"
    for args in (["check"], ["chains", "pull"]):
        r = runner.invoke(cli, args)
        assert r.exit_code == 2 and said in " ".join(r.stderr.split()), r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yml"]
    r = runner.invoke(cli, ["build", "-q", "-c", "cabundle.yml"])  # as the hint says
    assert r.exit_code == 0, r.stderr
    assert (in_tmp / "build" / "ca.pem").is_file()
