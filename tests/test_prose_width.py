"""Prose fits the terminal as tables do (team's output notes, item 3): push status's
"Campaign:" line, the push dry run's summary, build's "unchanged:", a LittleFS image's
detection fact, flash's line per unit, and inspect's "not listed" line and notes were
wider than 80 columns. With COLUMNS=80 every line of theirs fits; on a pipe without
COLUMNS lines stay whole, as table rows do; a word is never cut."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from support.bundles import cn, v2_bundle
from support.fleet import mdash_unit, write_ca
from support.fleet_links import MdashStandIn

from esp_cabundle.cli import cli
from esp_cabundle.commands.inspect import SUMMARY_PAST
from esp_cabundle.ui import display_width, fit_lines
from esp_cabundle.virtual import VirtualESP32

KEY = "k3y-for-prose-width"


def run(*args: str, columns: int | None = 80, code: int = 0) -> str:
    """stdout and stderr of ``args`` at ``columns`` (None: a pipe without COLUMNS)."""
    env = {"COLUMNS": str(columns)} if columns else {}
    r = CliRunner().invoke(cli, list(args), env=env)
    assert r.exit_code == code, r.output
    return r.stdout + r.stderr


def fits(text: str, columns: int = 80) -> None:
    wide = [line for line in text.splitlines() if len(line) > columns]
    assert not wide, wide


def test_fit_lines_wraps_only_what_is_too_wide_and_never_cuts_a_word() -> None:
    path = "/a/" + "very-long-directory-name/" * 4 + "ca.pem"
    text = f"short line\n  unchanged: {path} (1,234 bytes), lock (already these bytes)"
    out = fit_lines(text, 40)
    lines = out.splitlines()
    assert lines[0] == "short line" and lines[1] == "  unchanged:"
    assert "    " + path in lines and all(line.startswith("    ") for line in lines[2:])
    assert " ".join(out.split()) == " ".join(text.split())  # the same words, in order
    assert fit_lines(text, None) == text and fit_lines(text, 200) == text
    hung = fit_lines("OK  port  " + "word " * 20, 40, hang=10).splitlines()
    assert all(line.startswith(" " * 10) for line in hung[1:]) and len(hung) > 1


def test_fit_lines_measures_columns_as_tables_do_so_a_cjk_name_fits() -> None:
    # Each of these characters takes two columns: counted as one, a line of 40 of them
    # was left whole at width 40 and ran to 80 columns.
    name = "中国金融认证中心根证书"  # "China Financial Certification Authority root certificate"
    text = f"  note: {name} {name} {name} {name} expires before service-until"
    out = fit_lines(text, 40).splitlines()
    assert len(out) > 1 and all(display_width(line) <= 40 for line in out), out
    assert " ".join(out).split() == text.split()
    accented = "Autorite\u0301 " * 6  # a combining accent takes no column
    assert fit_lines(accented.strip(), 55) == accented.strip()  # 59 characters, 53 columns


def test_build_unchanged_and_wrote(in_tmp: Path) -> None:
    out_dir = in_tmp / "some-rather-long-output-directory-name"
    out_dir.mkdir()
    args = ["build", "--preset", "letsencrypt", "-o", str(out_dir / "ca_bundle_for_units.pem")]
    fits(run(*args))
    again = run(*args)
    assert "unchanged:" in again
    fits(again)
    assert max(len(line) for line in run(*args, columns=None).splitlines()) > 80


def test_fs_ls_of_a_littlefs_image_fits(in_tmp: Path) -> None:
    write_ca(in_tmp)
    run("pack", "--fs", "littlefs", "--profile", "mongoose-os", "--size", "64K",
        "--bundle", "ca.pem", "-o", "fs.bin")  # fmt: skip
    out = run("fs", "ls", "fs.bin")
    assert "detection:" in out or "detection" in out
    fits(out)
    assert max(len(line) for line in run("fs", "ls", "fs.bin", columns=None).splitlines()) > 80


def test_inspect_summary_and_notes_fit(in_tmp: Path) -> None:
    n = SUMMARY_PAST + 1
    (in_tmp / "b.bin").write_bytes(v2_bundle(sorted((cn(f"R{i:05d}"), b"") for i in range(n))))
    out = run("inspect", "b.bin")
    assert "certificates not listed" in out and "note:" in out
    fits(out)
    whole = run("inspect", "b.bin", columns=None)
    assert "--all lists every one, --json gives them all" in whole


def test_flash_line_per_unit_fits(mongoose_unit: VirtualESP32, in_tmp: Path) -> None:
    write_ca(in_tmp)
    out = run("flash", "-p", mongoose_unit.url, "--board", "mongoose-os-esp32",
              "--bundle", "ca.pem", "--journal-dir", str(in_tmp / "j"))  # fmt: skip
    assert "+Root YR" in out and "OK  " in out
    fits(out)


@pytest.fixture
def mdash(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("MDASH_API_KEY", KEY)
    s = MdashStandIn([mdash_unit("dev1"), mdash_unit("dev2", silent=True)], KEY)
    yield s
    s.close()


def test_push_dry_run_and_status_fit(in_tmp: Path, mdash: MdashStandIn) -> None:
    write_ca(in_tmp)
    args = ["--mdash", mdash.url, "--board", "mdash-arduino", "--bundle", "ca.pem"]
    dry = run("push", *args, "--dry-run", "--timeout", "0.5", code=3)
    assert "Dry run, nothing written" in dry
    fits(dry)
    run("push", *args, "--timeout", "0.5", code=3)
    status = run("push", "status", code=3)  # dev2 not reached
    assert "Campaign: board" in status
    fits(status)
