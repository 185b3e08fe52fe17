"""What a build says about options that reach nothing: a size budget that measured no
output (only a json manifest), a c output in mDash's static s_pem form under a name
other files would declare. Both warn, exit 0, and the files are written as asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.build import build_bundle
from esp_cabundle.bundle import BundleSpec, Policy
from esp_cabundle.cli import cli
from esp_cabundle.config import OutputSpec

LE = ("--preset", "letsencrypt", "--no-lock", "--no-check")


def test_a_budget_on_a_json_only_build_says_it_measured_nothing(
    runner: CliRunner, in_tmp: Path
) -> None:
    r = runner.invoke(cli, ["build", *LE, "-f", "json", "-o", "roots.json", "--max-bytes", "10"])
    assert r.exit_code == 0, r.output
    assert (
        "warning: --max-bytes 10 measured no output: a json manifest is not measured (no "
        "device reads it)"
    ) in " ".join(r.stderr.split())
    assert (in_tmp / "roots.json").is_file()
    r = runner.invoke(cli, ["build", *LE, "-f", "json", "-o", "-", "--max-bytes", "10", "--json"])
    assert r.exit_code == 0 and "measured no output" in r.stderr  # the manifest on stdout
    # Beside an output a device holds, that output is measured: no warning.
    args = ["build", *LE, "-f", "json", "-f", "pem", "--max-bytes", "10", "--dry-run"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 1 and "over the budget of 10 bytes" in r.stderr
    assert "measured no output" not in r.stderr


def test_the_library_names_max_bytes_as_a_script_gives_it(in_tmp: Path) -> None:
    spec = BundleSpec(presets=("letsencrypt",), policy=Policy(max_bytes=10))
    result = build_bundle(spec, (OutputSpec("json", Path("roots.json")),), check_targets=False)
    assert result.dir_warnings[0].startswith("Policy(max_bytes=...) 10 measured no output")


def test_a_static_s_pem_under_another_name_warns(runner: CliRunner, in_tmp: Path) -> None:
    for style in ([], ["--c-style", "s_pem"]):
        args = ["build", *LE, "-f", "c", *style, "--c-name", "other_name", "-o", "ca.h"]
        r = runner.invoke(cli, args)
        assert r.exit_code == 0, r.output
        assert " ".join(r.stderr.split()).endswith(
            "warning: ca.h defines other_name in the s_pem form, which is static (mDash's "
            "own declaration): no other file can reach other_name; for a symbol other "
            "files declare, use --c-style array"
        ), r.stderr
        assert (in_tmp / "ca.h").read_text().startswith("static const char *other_name =")
    for fitting in (["--c-name", "s_pem"], ["--c-style", "array", "--c-name", "other_name"]):
        r = runner.invoke(cli, ["build", *LE, "-f", "c", *fitting, "-o", "ca.h", "--json"])
        assert r.exit_code == 0 and "static" not in r.stderr, r.output
        assert json.loads(r.stdout)["warnings"] == []


def test_the_library_names_the_style_as_a_script_gives_it(in_tmp: Path) -> None:
    spec = BundleSpec(presets=("letsencrypt",))
    out = OutputSpec("c", Path("ca.h"), {"name": "roots"})
    result = build_bundle(spec, (out,), check_targets=False)
    assert result.dir_warnings == (
        "ca.h defines roots in the s_pem form, which is static (mDash's own declaration): "
        "no other file can reach roots; for a symbol other files declare, use style='array'",
    )


def test_a_config_output_names_the_style_key(runner: CliRunner, in_tmp: Path) -> None:
    """The s_pem form came from cabundle.yaml's entry: the key there is what to change
    (--c-style would have to be given on every build); a flag's option names the flag."""
    (in_tmp / "cabundle.yaml").write_text(
        "preset: [letsencrypt]\noutputs:\n  - {format: c, path: ca.h, style: s_pem, name: other}\n"
    )
    r = runner.invoke(cli, ["build", "--no-lock", "--no-check"])
    assert r.exit_code == 0, r.output
    said = " ".join(r.stderr.split())
    assert said.endswith(
        "no other file can reach other; for a symbol other files declare, use style: array"
    ), r.stderr
    r = runner.invoke(cli, ["build", "--no-lock", "--no-check", "--c-name", "mine", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["warnings"][0].endswith("use --c-style array")


@pytest.mark.parametrize("stdout", ["-", "/dev/stdout", "/dev/fd/1"])
def test_every_name_of_standard_output_is_worded_as_it(
    runner: CliRunner, in_tmp: Path, stdout: str
) -> None:
    """``-o /dev/stdout`` was named by its path in the budget and s_pem messages, where
    ``-o -`` said "on standard output": the same output, the same words."""
    args = ["build", *LE, "-f", "c", "--c-name", "other_name", "-o", stdout, "--dry-run"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert (
        "warning: the c output on standard output defines other_name in the s_pem form"
    ) in " ".join(r.stderr.split())
    r = runner.invoke(cli, ["build", *LE, "-f", "der", "-o", stdout, "--max-bytes", "10"])
    assert r.exit_code == 1, r.output
    said = " ".join(r.stderr.split())
    assert "- the der output on standard output is 3,736 bytes, over the budget of 10" in said
    args = ["build", *LE, "-f", "c", "-o", stdout, "--max-bytes", "10"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 1, r.output
    assert "the PEM string in the c output on standard output is" in " ".join(r.stderr.split())
    assert list(in_tmp.iterdir()) == []
