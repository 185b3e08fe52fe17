"""A missing input of ``inspect`` inside a project: the hint said "build one: esp-cabundle
build --preset default -o ca.pem" beside a cabundle.yaml whose build writes no ca.pem
(``init --board esp-idf-bundle``), so README's CI gate line led to a build of roots the
project never ships. A file the project's build writes is built by its build; a CA file
it does not write, gated, gets the gate on the config's roots, piped, which runs."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli

BUNDLE_ONLY = (
    "preset: letsencrypt\noutputs:\n  - format: idf-bundle\n    path: x509_crt_bundle.bin\n"
)


def _hint(runner: CliRunner, *args: str) -> str:
    r = runner.invoke(cli, ["inspect", *args])
    assert r.exit_code == 2, r.output
    return " ".join(r.output.split("hint:", 1)[1].split())


def test_a_bundle_only_project_gates_the_roots_its_config_resolves_to(
    in_tmp: Path, runner: CliRunner
) -> None:
    (in_tmp / "cabundle.yaml").write_text(BUNDLE_ONLY)
    hint = _hint(runner, "ca.pem", "--fail-on", "expired", "--fail-within", "365")
    assert "--preset default" not in hint
    assert "build writes no ca.pem (it writes x509_crt_bundle.bin)" in hint
    line = hint.split("resolves to: ", 1)[1]
    assert line.endswith("esp-cabundle inspect - --fail-on expired --fail-within 365")
    # the line runs as given: the config's roots, judged, nothing written
    build, gate = (shlex.split(part) for part in line.split(" | "))
    exe = [sys.executable, "-m", "esp_cabundle"]
    pem = subprocess.run([*exe, *build[1:]], capture_output=True, check=True).stdout
    r = subprocess.run([*exe, *gate[1:]], input=pem, capture_output=True, check=False)
    assert r.returncode in (0, 1), r.stderr
    assert b"ISRG Root X1" in r.stdout
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


def test_a_file_the_projects_build_writes_is_built_by_it(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "fw").mkdir()
    (in_tmp / "fw" / "cabundle.yaml").write_text(BUNDLE_ONLY)
    hint = _hint(runner, "fw/x509_crt_bundle.bin")
    assert hint == "the project's build writes it: esp-cabundle build -c fw/cabundle.yaml"
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\n")  # default output ca.pem
    assert _hint(runner, "ca.pem") == "the project's build writes it: esp-cabundle build"


def test_outside_a_project_the_hint_is_the_default_build(in_tmp: Path, runner: CliRunner) -> None:
    assert _hint(runner, "ca.pem", "--fail-within", "30") == (
        "build one: esp-cabundle build --preset default -o ca.pem"
    )
    # a project that does write a PEM, asked for another one: not its build's file
    (in_tmp / "cabundle.yaml").write_text("preset: letsencrypt\n")
    assert "--preset default -o other.pem" in _hint(runner, "other.pem", "--fail-within", "30")
