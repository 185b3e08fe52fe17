"""An intermediate is counted and warned about wherever a CA list is shown: ``inspect``
of an ESP-IDF bundle (which stores only names and keys: an entry is an intermediate when
the tool ships a certificate with its name and key that is not self-signed) and
``check``'s report, in the words of esp_cabundle.anchors; the JSON keeps "roots" (every
CA) and adds "intermediates"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli

DATA = Path(__file__).parent / "data" / "letsencrypt"
CHAIN = Path(__file__).parent.parent / "examples" / "chains" / "letsencrypt-2024-short.pem"


def bundle(runner: CliRunner, out: str, *roots: str) -> None:
    args = [a for r in roots for a in ("--root", r)]
    r = runner.invoke(cli, ["build", *args, "--format", "idf-bundle", "-o", out, "--no-lock"])
    assert r.exit_code == 0, r.output


def test_inspect_counts_an_intermediate_in_an_esp_idf_bundle(
    in_tmp: Path, runner: CliRunner
) -> None:
    shutil.copy(DATA / "2024-r11.pem", "r11.pem")
    bundle(runner, "r11.bin", "r11.pem")
    r = runner.invoke(cli, ["inspect", "r11.bin"])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "intermediates: 1" in out and "note: it holds 1 CA (an intermediate, not a root)" in out
    assert "R11 is an intermediate, not a root: the bundle's check looks up only the issuer" in out
    assert "add that root (--root isrg-root-x1)" in out
    facts = json.loads(runner.invoke(cli, ["inspect", "r11.bin", "--json"]).output)["reports"][0][
        "facts"
    ]
    assert (facts["roots"], facts["intermediates"]) == (1, 1)
    bundle(runner, "both.bin", "r11.pem", "isrg-root-x1")
    out = " ".join(runner.invoke(cli, ["inspect", "both.bin"]).output.split())
    assert "it holds 2 CAs (1 root, 1 intermediate)" in out
    assert "its root ISRG Root X1 is in the file too" in out
    bundle(runner, "x1.bin", "isrg-root-x1")
    r = runner.invoke(cli, ["inspect", "x1.bin", "--json"])
    assert json.loads(r.output)["reports"][0]["facts"]["intermediates"] == 0
    assert "intermediate, not a root" not in r.output


def test_checks_report_counts_intermediates(in_tmp: Path, runner: CliRunner) -> None:
    Path("ca.pem").write_bytes(
        (DATA / "2024-r10.pem").read_bytes() + (DATA / "isrgrootx1.pem").read_bytes()
    )
    check = ["check", "--bundle", "ca.pem", "--chain", str(CHAIN), "--at", "2024-07-01"]
    r = runner.invoke(cli, check)
    out = " ".join(r.output.split())
    assert "Trust set: ca.pem (2 CAs (1 root, 1 intermediate))" in out, out
    assert "Note: R10 is an intermediate, not a root: units anchor at it" in out
    runner.invoke(cli, [*check, "--report", "report.html"])
    assert "Trust set: ca.pem (2 CAs (1 root, 1 intermediate))." in Path("report.html").read_text()
    doc = json.loads(runner.invoke(cli, [*check, "--json"]).output)
    assert doc["trust"]["roots"] == 2 and doc["trust"]["intermediates"] == 1
    # the text's warning too, word for word (a count alone says nothing of when)
    (warning,) = doc["trust"]["intermediate_warnings"]
    assert warning.startswith("R10 is an intermediate, not a root: units anchor at it")
    # an ESP-IDF bundle's entries are told apart by the certificates the tool ships
    shutil.copy(DATA / "2024-r11.pem", "r11.pem")
    bundle(runner, "r11.bin", "r11.pem", "isrg-root-x1")
    r = runner.invoke(cli, ["check", "--bundle", "r11.bin", "--chain", str(CHAIN), "--json"])
    trust = json.loads(r.output)["trust"]
    assert trust["intermediates"] == 1
    assert "the bundle's check looks up" in trust["intermediate_warnings"][0]
    r = runner.invoke(cli, ["check", "--bundle", "r11.bin", "--chain", str(CHAIN)])
    assert (
        "2 CAs (1 root, 1 intermediate)" in r.output
        and "the bundle's check looks up" in " ".join(r.output.split())
    )
    Path("x1.pem").write_bytes((DATA / "isrgrootx1.pem").read_bytes())
    r = runner.invoke(cli, ["check", "--bundle", "x1.pem", "--chain", str(CHAIN), "--json"])
    trust = json.loads(r.output)["trust"]
    assert trust["intermediates"] == 0 and trust["intermediate_warnings"] == []
