"""Tables count terminal columns, not characters (team's output notes, item 5): a CJK
character takes two columns, a combining mark none, so a table holding a Japanese
certificate name lines up, and one cut to fit the terminal fits it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from support.verify_pki import mint

from esp_cabundle.cli import cli
from esp_cabundle.ui import Column, display_width, format_table

WIDE = "日本認証局ルート"  # 8 characters, 16 columns
COMBINED = "Cafe\u0301 Root CA"  # the accent combines with the e: 12 columns


def starts(line: str, word: str) -> int:
    """The terminal column where ``word`` starts in ``line``."""
    return display_width(line[: line.index(word)])


def test_display_width_counts_columns() -> None:
    assert display_width("ISRG Root X1") == 12
    assert display_width(WIDE) == 16 and len(WIDE) == 8
    assert display_width(COMBINED) == 12 and len(COMBINED) == 13
    assert display_width("ｅｓｐ") == 6  # fullwidth Latin


def test_columns_after_a_wide_name_line_up() -> None:
    rows = [("#1", WIDE, "2035-06-04"), ("#2", "ISRG Root X1", "2035-06-04"),
            ("#3", COMBINED, "2040-09-17")]  # fmt: skip
    lines = format_table(("#", "subject", "not after"), rows).splitlines()
    column = {starts(line, "20") for line in lines[2:]}
    assert column == {starts(lines[0], "not after")}, lines
    assert display_width(lines[1].split()[1]) == 16  # the rule is as wide as the name


def test_a_wide_name_cut_to_fit_takes_at_most_its_room() -> None:
    headers = ("#", Column("subject", cut=True, least=4), "not after")
    rows = [("#1", WIDE * 3, "2035-06-04"), ("#2", "ISRG Root X1", "2035-06-04")]
    for width in range(30, 70):
        lines = format_table(headers, rows, width=width).splitlines()
        assert all(display_width(line) <= width for line in lines), (width, lines)
        assert len({starts(line, "20") for line in lines[2:]}) == 1, (width, lines)
        assert "\u2026" in lines[2] or WIDE * 3 in lines[2]


def test_inspect_lines_up_a_japanese_root(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    pem.write_bytes(mint(WIDE).pem + mint("ISRG Root X1").pem)
    r = CliRunner().invoke(cli, ["inspect", str(pem)])
    assert r.exit_code == 0, r.output
    rows = [line for line in r.stdout.splitlines() if line.lstrip().startswith("#")]
    assert WIDE in rows[1]
    assert len({starts(line, " 20") for line in rows[1:]}) == 1, rows
