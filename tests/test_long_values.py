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
    assert code == 2  # refused before the work (test_hostile_long_names), no longer 3 after
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


def test_bounded_never_cuts_prose_at_its_apostrophes() -> None:
    """The apostrophe of "server's" opened a quoted "value" that ran to the next quote
    ('# captured: ...'): over 256 characters of prose were cut to "' (320 characters)"."""
    prose = (
        "svc: the server's certificate is at fault, not the CA file: have the server send "
        f"certificates within their dates ({'x/' * 90}r11.pem has no '# captured:' date, so "
        "its expired certificate is not taken as renewed by the server but judged by its "
        "dates; if the chain was saved while it was valid, add that date as its first line: "
        "'# captured: YYYY-MM-DD' (UTC)); the devices' clock, the units' CA file's roots"
    )
    assert len(prose) > 256
    assert bounded(prose) == prose
    # A long quoted value beside such prose is still cut, and only it.
    text = bounded(f"the server's file 'A {LONG}' is the units' {LONG[:10]}")
    assert text.startswith("the server's file 'A AAA") and "' (200,002 characters)" in text
    assert text.endswith(" is the units' AAAAAAAAAA"), text


def test_check_hint_for_an_undated_chain_keeps_its_capture_line(
    runner: CliRunner, in_tmp: Path
) -> None:
    """The real hint of an undated chain past its intermediate's expiry (R11, 2027): a
    chain servers stopped sending (2026-05-28), to refresh; its note gives the line."""
    data = Path(__file__).parent / "data" / "letsencrypt"
    (in_tmp / "short.pem").write_bytes((data / "2024-r11.pem").read_bytes())
    r = runner.invoke(cli, ["build", "--root", "isrg-root-x1", "--no-lock", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    args = ["check", "--bundle", "ca.pem", "--chain", "short.pem", "--device", "mbedtls-clock"]
    code, out, err = run(runner, *args, "--at", "2027-06-01")
    assert code == 1, err
    said = " ".join(err.split())
    assert "characters)" not in said, said
    assert "short.pem is stale: it holds R11" in said, said
    said = " ".join(out.split())
    assert "characters)" not in said, said
    assert "add that date as its first line: '# captured: YYYY-MM-DD' (UTC)" in said, said
