"""``--chain`` and ``--root``/``--exclude`` read a quoted ``~`` (``--chain
'~/chains/x.pem'``, a config or script that does not pass through a shell) as
``--target`` does: the home directory, of ``~user`` too, and the same error for a user
this system does not know. Before, ``~`` was taken as a directory named ``~``."""

from __future__ import annotations

import json
import pwd
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli

DATA = Path(__file__).parent / "data"
R10 = DATA / "letsencrypt" / "2024-r10.pem"
CHAIN = DATA / "chains" / "chain-gen-y-rsa.pem"
NO_USER = "no-such-user-esp"


@pytest.fixture
def home(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home directory (HOME, and the password entry of user ``esphome``) holding a
    chain and a root, elsewhere than the working directory."""
    home = in_tmp.parent / f"{in_tmp.name}-home"
    (home / "chains").mkdir(parents=True)
    (home / "roots").mkdir()
    shutil.copy(CHAIN, home / "chains" / "x.pem")
    shutil.copy(R10, home / "roots" / "r10.pem")
    shutil.copy(DATA / "letsencrypt" / "isrgrootx1.pem", home / "roots" / "x1.pem")
    monkeypatch.setenv("HOME", str(home))
    real = pwd.getpwnam

    def getpwnam(name: str) -> Any:
        if name == "esphome":
            return SimpleNamespace(pw_name=name, pw_dir=str(home))  # what expanduser reads
        return real(name)

    monkeypatch.setattr(pwd, "getpwnam", getpwnam)
    return home


@pytest.mark.parametrize("tilde", ["~", "~esphome"])
def test_check_reads_a_chain_under_a_quoted_home(
    runner: CliRunner, home: Path, in_tmp: Path, tilde: str
) -> None:
    shutil.copy(R10, in_tmp / "ca.pem")
    r = runner.invoke(
        cli, ["check", "--bundle", "ca.pem", "--chain", f"{tilde}/chains/x.pem", "--json"]
    )
    assert "no such" not in r.output, r.output
    doc = json.loads(r.stdout)
    assert [c["source"] for c in doc["results"]] == [str(home / "chains" / "x.pem")], doc
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


@pytest.mark.parametrize(
    ("option", "file", "label", "kept"),
    [("--root", "r10.pem", "R10", True), ("--exclude", "x1.pem", "ISRG Root X1", False)],
)
@pytest.mark.parametrize("tilde", ["~", "~esphome"])
def test_build_reads_a_root_under_a_quoted_home(
    runner: CliRunner, home: Path, tilde: str, option: str, file: str, label: str, kept: bool
) -> None:
    args = ["build", "--preset", "letsencrypt", option, f"{tilde}/roots/{file}", "--json"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    labels = [root["label"] for root in json.loads(r.stdout)["roots"]]
    assert (label in labels) == kept, labels


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--bundle", "ca.pem", "--chain", f"~{NO_USER}/x.pem"],
        ["check", "--bundle", "ca.pem", "--target", f"~{NO_USER}/x.pem"],  # as it said
        ["build", "--preset", "letsencrypt", "--root", f"~{NO_USER}/x.pem"],
        ["build", "--preset", "letsencrypt", "--exclude", f"~{NO_USER}/x.pem"],
    ],
)
def test_an_unknown_users_home_is_refused_alike(
    runner: CliRunner, in_tmp: Path, args: list[str]
) -> None:
    shutil.copy(R10, in_tmp / "ca.pem")
    r = runner.invoke(cli, args)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert f"Error: no user '{NO_USER}' for ~{NO_USER}/x.pem" in r.stderr, r.stderr
    assert f"hint: is '{NO_USER}' the user meant?" in r.stderr, r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]
