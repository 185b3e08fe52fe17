"""A value of 200,000 characters (``preset: "AAAA…"`` in cabundle.yaml, ``--preset``,
``--board``) is shown cut to its ends with its length said, not echoed whole: the
error was 200 KB of stderr. A name too long for the system is an error, not a
traceback."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import ConfigError, bounded

LONG = "A" * 200_000


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    r = runner.invoke(cli, list(args))
    # the runner's stream is ASCII: the ellipsis is written "..." there (ui.ellipsis)
    return r.exit_code, r.stdout, r.stderr.replace("...", "…")


def test_a_long_config_value_is_cut_and_still_names_key_and_line(
    runner: CliRunner, in_tmp: Path
) -> None:
    (in_tmp / "cabundle.yaml").write_text(f'# a config\npreset: "{LONG}"\n')
    code, _, err = run(runner, "build", "--no-lock")
    assert code == 2
    assert len(err) < 600, err[:600]
    assert "cabundle.yaml:2:" in err and "preset" in err
    assert "preset: 'AAAA" in err and "A…A" in err and "AAAA' (200,000 characters)" in err
    assert not (in_tmp / "ca.pem").exists()


def test_a_long_option_value_is_cut(runner: CliRunner, in_tmp: Path) -> None:
    for args in (("build", "--preset", LONG), ("init", "--board", LONG)):
        code, _, err = run(runner, *args, "--no-lock") if args[0] == "build" else run(runner, *args)
        assert code == 2
        assert len(err) < 600, err[:600]
        assert "(200,000 characters)" in err
        assert f"unknown {args[1].strip('-')} 'AAAA" in err


def test_an_output_name_too_long_for_the_system_is_an_error(
    runner: CliRunner, in_tmp: Path
) -> None:
    code, _, err = run(runner, "build", "--no-lock", "-o", "B" * 300)
    assert code == 3
    assert "Traceback" not in err
    assert "BBBB… (300 characters)" not in err  # the colon stays after the count
    assert "BBBB…" in err and "(300 characters): cannot write" in err
    assert list(in_tmp.iterdir()) == []


def test_bounded_leaves_short_text_and_cuts_each_long_span() -> None:
    assert bounded("unknown preset 'x'") == "unknown preset 'x'"
    text = bounded(f"a '{LONG}' b \"{LONG}\" c {LONG}")
    assert len(text) < 400
    assert text.count("(200,000 characters)") == 3
    assert text.startswith("a 'AAA") and ' b "AAA' in text and " c AAA" in text
    e = ConfigError(f"preset: '{LONG}'", path="cabundle.yaml", line=1, hint=f"try {LONG}")
    assert len(str(e)) < 400 and len(e.reason) < 200
