"""A firmware developer's project as ``init --board esp-idf-bundle`` makes it: the build
writes the project's own x509_crt_bundle.bin. What build and check say about it must fit
that project: no note that the firmware keeps its default bundle, the bundle output (not
a stray ca.pem) judged, the header's counts right (tryout of December 2026)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.pki import issue

from esp_cabundle.cli import cli

DATA = Path(__file__).parent / "data"
CONFIG = """\
preset: letsencrypt
board: esp-idf-bundle
outputs:
  - {format: idf-bundle, path: "x509_crt_bundle.bin", idf_version: "5.4"}
"""

ALLOW_ALL = (
    "--allow expired --allow expires-before-service-end --allow not-ca --allow over-budget "
    "--allow unparseable"
)
ME = f"{shlex.quote(sys.executable)} -m esp_cabundle"


@pytest.fixture
def project(in_tmp: Path) -> Path:
    (in_tmp / "cabundle.yaml").write_text(CONFIG)
    return in_tmp


def test_build_of_the_projects_own_bundle_says_no_default_bundle_note(
    project: Path, runner: CliRunner
) -> None:
    """Every build said "ESP-IDF 5.4 trusts its certificate bundle (...) for default":
    the project's bundle looked ignored, and "default" named nothing a user knows."""
    r = runner.invoke(cli, ["build", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "certificate bundle" not in r.stderr and "for default" not in r.stderr


def test_a_pem_build_for_the_board_names_the_connections_clearly(
    project: Path, runner: CliRunner
) -> None:
    r = runner.invoke(cli, ["build", "--dry-run", "-f", "pem"])
    assert r.exit_code == 0, r.output
    note = " ".join(r.stderr.split())
    assert "trusts its default certificate bundle" in note
    assert "for esp_tls / esp_http_client connections (crt_bundle_attach)" in note
    assert "unless the project configures its own bundle (an idf-bundle output)" in note
    assert "for default" not in note


def test_check_without_bundle_names_the_connections_clearly(runner: CliRunner) -> None:
    chain = DATA / "chains" / "letsencrypt-2024-short.pem"
    if not chain.is_file():
        chain = Path(__file__).parents[1] / "examples" / "chains" / "letsencrypt-2024-short.pem"
    r = runner.invoke(cli, ["check", "--board", "esp-idf-bundle@5.4", "--chain", str(chain)])
    out = " ".join(r.output.split())
    assert "for esp_tls / esp_http_client connections (crt_bundle_attach)" in out
    assert "for default" not in out


def test_check_judges_the_configured_output_not_a_stray_ca_pem(
    project: Path, runner: CliRunner
) -> None:
    """A ca.pem beside the config that is none of its outputs was judged first: CI
    passed on a file the firmware never gets."""
    assert runner.invoke(cli, ["build", "-q"]).exit_code == 0
    stray = runner.invoke(cli, ["build", "-q", "--no-lock", "-f", "pem", "-o", "ca.pem"])
    assert stray.exit_code == 0 and (project / "ca.pem").is_file()
    r = runner.invoke(cli, ["check", "--roadmap", "letsencrypt", "--json"])
    doc = json.loads(r.stdout)
    assert doc["trust"]["source"].startswith(str(project / "x509_crt_bundle.bin"))
    assert any("ca.pem is not one of the config's outputs: not judged" in n for n in doc["notes"])
    # Not built yet: the roots the config resolves to, never the stray file.
    (project / "x509_crt_bundle.bin").unlink()
    doc = json.loads(runner.invoke(cli, ["check", "--roadmap", "letsencrypt", "--json"]).stdout)
    assert doc["trust"]["source"] == f"roots resolved from {project / 'cabundle.yaml'}"


def test_a_config_without_outputs_still_judges_its_ca_pem(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\n")
    assert runner.invoke(cli, ["build", "-q", "--no-lock"]).exit_code == 0
    doc = json.loads(runner.invoke(cli, ["check", "--roadmap", "letsencrypt", "--json"]).stdout)
    assert doc["trust"]["source"] == str(in_tmp / "ca.pem")
    assert not any("not one of the config's outputs" in n for n in doc["notes"])


def test_header_counts_each_part_and_names_a_file_once(project: Path, runner: CliRunner) -> None:
    """The header said "9 roots from preset 'default' plus root my-root.pem" (the preset
    holds 8), and a root file given again by its absolute path was listed twice."""
    (project / "my-root.pem").write_bytes(issue("Project Root").pem)
    config = CONFIG.replace("preset: letsencrypt\n", "preset: letsencrypt\nroots: [my-root.pem]\n")
    (project / "cabundle.yaml").write_text(config)
    again = str(project / "my-root.pem")
    r = runner.invoke(cli, ["build", "--dry-run", "--root", again, "--root", "./my-root.pem"])
    assert r.exit_code == 0, r.output
    header = r.stdout.splitlines()[0]
    assert header.startswith(
        "5 roots from preset 'letsencrypt' (4 roots) plus root my-root.pem (1 more) "
    )
    # A root the preset already holds adds none: counted so.
    r = runner.invoke(cli, ["build", "--dry-run", "--root", "isrg-root-x1"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(
        "5 roots from preset 'letsencrypt' (4 roots) plus roots my-root.pem, isrg-root-x1 (1 more) "
    )


def test_check_in_a_bundle_only_project_is_told_a_runnable_line(
    project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """check of the bundle under a dating device said "check the ca.pem it was built
    from (--bundle ca.pem)", which the project does not have: as inspect's gate, it now
    gives the same check on the project's roots, piped (the library keeps the ca.pem)."""
    assert runner.invoke(cli, ["build", "-q"]).exit_code == 0
    chain = str(
        Path(__file__).resolve().parent.parent / "examples/chains/letsencrypt-2024-short.pem"
    )
    args = ["check", "--bundle", "x509_crt_bundle.bin", "--device", "mbedtls-clock"]
    r = runner.invoke(cli, [*args, "--chain", chain])
    assert r.exit_code == 1 and "expiry cannot be judged" in r.stderr
    hint = next(line for line in r.stderr.splitlines() if line.startswith("  hint: "))
    line = hint.split("in its project: ", 1)[1].split("; ")[0]
    assert line == (
        f"esp-cabundle build -f pem -o - --no-lock --no-check -q {ALLOW_ALL} | esp-cabundle check "
        f"--bundle - --device mbedtls-clock --chain {shlex.quote(chain)}"
    )
    me = f"{shlex.quote(sys.executable)} -m esp_cabundle"
    run = subprocess.run(
        line.replace("esp-cabundle", me), shell=True, cwd=project, capture_output=True, text=True
    )
    assert run.returncode == 0 and "1 pass" in " ".join(run.stdout.split()), run.stderr
    assert sorted(p.name for p in project.iterdir()) == [
        "cabundle.lock",
        "cabundle.yaml",
        "x509_crt_bundle.bin",
    ]
    # Given with -c, from elsewhere: the build reads that config too.
    (project / "elsewhere").mkdir()
    monkeypatch.chdir(project / "elsewhere")
    args = ["check", "--bundle", "../x509_crt_bundle.bin", "--device", "mbedtls-clock"]
    r = runner.invoke(cli, [*args, "-c", "../cabundle.yaml", "--chain", chain])
    assert r.exit_code == 1 and "esp-cabundle build -c ../cabundle.yaml -f pem" in r.stderr


def test_a_bundle_only_project_is_told_a_runnable_expiry_gate(
    project: Path, runner: CliRunner
) -> None:
    """inspect --fail-within on the bundle said "gate the ca.pem it was built from", and
    init's project writes none: the hint is now a line that runs in the project."""
    assert runner.invoke(cli, ["build", "-q"]).exit_code == 0
    r = runner.invoke(cli, ["inspect", "x509_crt_bundle.bin", "--fail-within", "3650", "-q"])
    assert r.exit_code == 1
    hint = next(line for line in r.stderr.splitlines() if line.startswith("  hint: "))
    line = hint.split(": ", 2)[2]
    assert line == (
        f"esp-cabundle build -f pem -o - --no-lock --no-check -q {ALLOW_ALL} | "
        "esp-cabundle inspect - --fail-within 3650"
    )
    me = f"{shlex.quote(sys.executable)} -m esp_cabundle"
    run = subprocess.run(
        line.replace("esp-cabundle", me), shell=True, cwd=project, capture_output=True, text=True
    )
    # ISRG Root X1 expires 2035-06-04: within ten years, judged from the roots' dates.
    assert run.returncode == 1, run.stderr
    assert "ISRG Root X1: expires 2035-06-04 (within 3650 days)" in run.stderr
    assert sorted(p.name for p in project.iterdir()) == [
        "cabundle.lock",
        "cabundle.yaml",
        "x509_crt_bundle.bin",
    ]


def _gate_line(r_stderr: str) -> str:
    hint = next(line for line in r_stderr.splitlines() if line.startswith("  hint: "))
    return "esp-cabundle " + hint.split(": esp-cabundle ", 1)[1]


def _run_line(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        line.replace("esp-cabundle", ME), shell=True, cwd=cwd, capture_output=True, text=True
    )


@pytest.mark.parametrize("slip", ["max_bytes", "expired"])
def test_the_gate_line_gives_the_gates_verdict_whatever_the_config_polices(
    project: Path, runner: CliRunner, slip: str
) -> None:
    """The line's build applied the config's policies to a PEM never shipped: a budget
    the bundle fits but the PEM does not, or a root expired since the bundle was built,
    refused it, and inspect said "-: empty file" (exit 2) instead of the verdict."""
    config = CONFIG
    if slip == "max_bytes":
        config += "max_bytes: 4096\n"
        gate = ["--fail-within", "3650"]
        verdict = "ISRG Root X1: expires 2035-06-04 (within 3650 days)"
    else:
        old = issue("Old Root", not_before=datetime(2020, 1, 1), not_after=datetime(2022, 1, 1))
        (project / "old.pem").write_bytes(old.pem)
        config += "roots: [old.pem]\n"
        gate = ["--fail-on", "expired"]
        verdict = "Old Root: expired 2022-01-01"
    (project / "cabundle.yaml").write_text(config)
    built = runner.invoke(cli, ["build", "-q", "--at", "2021-06-01"])
    assert built.exit_code == 0, built.output
    r = runner.invoke(cli, ["inspect", "x509_crt_bundle.bin", *gate, "-q"])
    assert r.exit_code == 1, r.output
    run = _run_line(_gate_line(r.stderr), project)
    assert run.returncode == 1 and verdict in run.stderr, run.stderr


def test_the_gate_line_names_the_bundles_config_and_keeps_at(
    project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a directory without a config, the line gated the default preset (it said
    "in its project" of none) and dropped --at."""
    assert runner.invoke(cli, ["build", "-q"]).exit_code == 0
    (project / "elsewhere").mkdir()
    monkeypatch.chdir(project / "elsewhere")
    args = ["inspect", "../x509_crt_bundle.bin", "--fail-on", "expired", "--at", "2040-01-01"]
    r = runner.invoke(cli, [*args, "-q"])
    line = _gate_line(r.stderr)
    assert line.startswith("esp-cabundle build -c ../cabundle.yaml -f pem ")
    assert line.endswith("| esp-cabundle inspect - --fail-on expired --at 2040-01-01")
    run = _run_line(line, project / "elsewhere")
    assert run.returncode == 1 and "ISRG Root X1: expired 2035-06-04" in run.stderr, run.stderr
    # No config beside the bundle nor here: no line to gate some other roots.
    (project / "elsewhere" / "b.bin").write_bytes((project / "x509_crt_bundle.bin").read_bytes())
    r = runner.invoke(cli, ["inspect", "b.bin", "--fail-on", "expired", "-q"])
    assert r.exit_code == 1 and "hint:" not in r.stderr and "esp-cabundle build" not in r.stderr


@pytest.mark.parametrize(
    ("output", "judged"),
    [
        ("{format: json, path: m.json}", "roots resolved from {config}"),
        ("{format: spiffs, path: fs.bin, board: mdash-arduino}", "{dir}/fs.bin:/ca.pem"),
    ],
)
def test_a_config_naming_only_json_or_image_outputs_never_judges_a_stray_ca_pem(
    in_tmp: Path, runner: CliRunner, output: str, judged: str
) -> None:
    """Outputs all json or images counted as none: a ca.pem beside the config was
    judged silently (README: "A ca.pem beside a config that names outputs but not it
    is never judged"). An image's own CA file is judged, read out of the image."""
    (in_tmp / "cabundle.yaml").write_text(f"preset: letsencrypt\noutputs:\n  - {output}\n")
    assert runner.invoke(cli, ["build", "-q"]).exit_code == 0
    (in_tmp / "ca.pem").write_bytes(issue("Stray Root").pem)
    r = runner.invoke(cli, ["check", "--roadmap", "letsencrypt", "--json"])
    doc = json.loads(r.stdout)
    config = in_tmp / "cabundle.yaml"
    assert doc["trust"]["source"] == judged.format(config=config, dir=in_tmp)
    assert any("ca.pem is not one of the config's outputs: not judged" in n for n in doc["notes"])
    assert r.exit_code == 0, r.output  # the stray root was not the trust set


def test_an_image_output_without_its_ca_file_is_said_and_its_roots_judged(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "cabundle.yaml").write_text(
        "preset: letsencrypt\noutputs:\n  - {format: spiffs, path: fs.bin, board: mdash-arduino}\n"
    )
    assert runner.invoke(cli, ["build", "-q"]).exit_code == 0
    assert runner.invoke(cli, ["fs", "rm", "fs.bin", "/ca.pem", "-q"]).exit_code == 0
    doc = json.loads(runner.invoke(cli, ["check", "--roadmap", "letsencrypt", "--json"]).stdout)
    assert doc["trust"]["source"] == f"roots resolved from {in_tmp / 'cabundle.yaml'}"
    assert any("fs.bin: its CA file cannot be read" in n for n in doc["notes"]), doc["notes"]
