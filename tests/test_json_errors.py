"""Under ``--json`` a failure is said once: by one JSON document, never that document
and the ``Error:`` lines as well (team's output notes, item 1). Without ``--json`` the
lines stay, and every exit code is the same either way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli, run

DATA = Path(__file__).parent / "data" / "letsencrypt"
X1 = DATA / "isrgrootx1.pem"


def test_an_input_error_is_one_document_and_nothing_on_stderr(in_tmp: Path) -> None:
    r = CliRunner().invoke(cli, ["build", "--root", "./nope.pem", "--json"])
    assert r.exit_code == 2 and r.stderr == "", r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and "nope.pem" in doc["error"] and doc["exit_code"] == 2
    assert list(in_tmp.iterdir()) == []
    # Without --json, the same failure is the Error: line, with the same exit code.
    r = CliRunner().invoke(cli, ["build", "--root", "./nope.pem"])
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("Error: ") and "nope.pem" in r.stderr


def test_with_the_output_on_stdout_the_document_alone_is_on_stderr(in_tmp: Path) -> None:
    r = CliRunner().invoke(cli, ["build", "--root", "./nope.pem", "-o", "-", "--json"])
    assert r.exit_code == 2 and r.stdout == ""
    assert "Error:" not in r.stderr
    assert json.loads(r.stderr)["ok"] is False


def test_a_usage_error_is_one_document_with_a_hint(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["build", "--no-such-option", "--json"]) == 2
    out, err = capsys.readouterr()
    assert err == ""
    doc = json.loads(out)
    assert doc["ok"] is False and "--no-such-option" in doc["error"]
    assert doc["hint"] == "build's options: esp-cabundle build --help"
    assert run(["build", "--no-such-option"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Error: build has no --no-such-option option" in err


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--bundle", str(X1), "--chain", str(DATA / "2024-e5.pem")],
        ["inspect", str(X1), "--fail-within", "100000"],
    ],
    ids=["check-verdict", "inspect-gate"],
)
def test_a_report_saying_ok_false_is_not_repeated_on_stderr(in_tmp: Path, args: list[str]) -> None:
    r = CliRunner().invoke(cli, [*args, "--json"])
    assert r.exit_code == 1 and r.stderr == "", r.stderr
    assert json.loads(r.stdout)["ok"] is False
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 1 and "Error: " in r.stderr
