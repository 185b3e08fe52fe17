"""Tables fit the terminal (tester's report: ``roots`` ~190 columns, ``boards`` ~170,
``journal list`` ~117, whatever the terminal): COLUMNS, else the terminal's width, else
(a pipe) whole rows as ls and ps give them. Names and notes are cut with an ellipsis,
then the columns that matter least are left out (a line says which); what a user copies
back (aliases, fingerprints, MACs, board names, unit ids) is never cut. --wide and
--json keep everything."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from esp_cabundle import ui
from esp_cabundle.cli import cli
from esp_cabundle.flash.journal import Journal, JournalEntry
from esp_cabundle.ui import Column, format_table, table_width

REPO = Path(__file__).resolve().parent.parent
CHAIN = REPO / "examples" / "chains" / "letsencrypt-2024-short.pem"


def run(*args: str, columns: int | None = None) -> str:
    env = {"COLUMNS": str(columns)} if columns else {}
    r = CliRunner().invoke(cli, list(args), env=env)
    assert r.exit_code == 0, r.output
    return r.stdout


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def table_lines(text: str) -> list[str]:
    """The lines of the tables in ``text``: a header, its rule, and the rows below it
    (indented as the rule is), with the line saying what was left out."""
    lines = text.splitlines()
    out = []
    for n, line in enumerate(lines):
        if line.strip() and set(line.strip()) <= {"-", " "}:
            indent = len(line) - len(line.lstrip())
            out += lines[n - 1 : n + 1]
            for row in lines[n + 1 :]:
                if not row.strip() or len(row) - len(row.lstrip()) < indent:
                    break
                out.append(row)
    return out


# ---------------------------------------------------------------------------------------
# The renderer


HEADERS = (
    "id",
    Column("name", cut=True, least=6),
    Column("note", cut=True, least=6, hide=1),
    Column("extra", hide=2),
    "sha256",
)
ROWS = [("alpha-1", "A rather long name indeed", "a note that goes on", "x" * 12, "0" * 16)]


def test_cut_columns_give_way_first_then_hidden_ones_in_order() -> None:
    whole = format_table(HEADERS, ROWS)
    assert format_table(HEADERS, ROWS, width=None) == whole
    assert format_table(HEADERS, ROWS, width=widest(whole)) == whole  # room enough: as is
    for width in range(20, widest(whole)):
        text = format_table(HEADERS, ROWS, width=width)
        body = text.splitlines()[:3]
        assert max(len(line) for line in body) <= width or width < 33, (width, text)
        assert "alpha-1" in body[2] and "0" * 16 in body[2]  # never cut
    narrow = format_table(HEADERS, ROWS, width=50).splitlines()
    assert "extra" not in narrow[0] and "note" in narrow[0] and "\u2026" in narrow[2]
    said = " ".join(narrow[3:])  # wrapped to the width, as the rows
    assert said == "(extra: left out to fit; --wide shows every column)"
    narrowest = format_table(HEADERS, ROWS, width=33).splitlines()
    assert narrowest[0].split() == ["id", "name", "sha256"] and len(narrowest[2]) <= 33
    assert narrowest[3].startswith("(note, extra: left out")


def test_a_list_of_ids_is_cut_between_ids() -> None:
    which = Column("which", cut=True, least=5, split=", ")
    rows = [("verified", "dev-1, dev-22, dev-333 and 4 more")]
    lines = format_table(("state", which), rows, width=29).splitlines()
    assert lines[2] == "verified  dev-1, dev-22, \u2026"


def test_the_ellipsis_is_ascii_where_the_stream_is(monkeypatch: pytest.MonkeyPatch) -> None:
    class Ascii:
        encoding = "ascii"

    monkeypatch.setattr("sys.stdout", Ascii())
    text = format_table(HEADERS, ROWS, width=50)
    assert "\u2026" not in text and "..." in text and widest(text) <= 50


def test_width_is_columns_else_the_terminal_else_whole_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Stream:
        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

        def fileno(self) -> int:
            return 1

    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((97, 30)))
    monkeypatch.setattr("sys.stdout", Stream(False))
    assert table_width() is None  # a pipe: whole rows, as ls and ps
    monkeypatch.setenv("COLUMNS", "72")
    assert table_width() == 72  # as git and man honour it
    monkeypatch.setenv("COLUMNS", "junk")
    assert table_width() is None
    monkeypatch.setattr("sys.stdout", Stream(True))
    assert table_width() == 97  # a terminal: its width
    monkeypatch.setenv("COLUMNS", "72")
    assert table_width() == 72
    with click.Context(click.Command("x"), obj={"wide": True}):
        assert table_width() is None and ui.wrap_width(88) == 88
    assert ui.wrap_width(88) == 72


# ---------------------------------------------------------------------------------------
# Every table the CLI prints


@pytest.fixture
def journal(in_tmp: Path) -> Path:
    j = Journal(in_tmp / "journal")
    when = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    for mac, board in (
        ("24:0a:c4:12:34:56", "esp-idf-bundle-cross-signed"),
        ("24:0a:c4:00:00:09", "mongoose-os-esp32-spiffs"),
    ):
        j.record(
            JournalEntry(
                id=os.urandom(4).hex(),
                created=when,
                mac=mac,
                chip="ESP32",
                port="/dev/ttyUSB0",
                board=board,
                ca_sha256="00" * 32,
                partitions=(),
                status="complete",
                updated=when,
            )
        )
    return j.directory


@pytest.fixture
def bundle(in_tmp: Path) -> Path:
    run("build", "-o", "ca.pem")
    return in_tmp / "ca.pem"


def tables(journal: Path, bundle: Path) -> dict[str, tuple[list[str], list[str], list[str]]]:
    """Each command printing a table: (argv, what must be whole at 80 columns, what only
    a wide table shows whole). Files by relative paths, as a user in their folder."""
    journal, bundle = (p.relative_to(Path.cwd()) for p in (journal, bundle))
    usertrust = "USERTrust RSA Certification Authority"
    return {
        "roots": (
            ["roots"],
            ["isrg-root-x1", "96bcec06264976f3"],
            [usertrust, "expired 2025-05-12; legacy: Azure moved to DigiCert Global Root G2"],
        ),
        "roots --all": (
            ["roots", "--all"],
            ["digicert-global-root-g2", "cb3ccbb76031e5e0"],
            ["AC RAIZ FNMT-RCM SERVIDORES SEGUROS"],
        ),
        "boards": (
            ["boards"],
            ["esp-idf-bundle-cross-signed", "mongoose-os-esp32-spiffs"],
            [
                "/ca.pem on littlefs (mongoose-os) in fs_0+fs_1",
                "Mongoose OS 2.0-2.20.0 (default 2.20.0)",
                "esp32/s2/s3/c2/c3/c5/c6/h2",
            ],
        ),
        "journal list": (
            ["journal", "list", "--journal-dir", str(journal)],
            ["24:0a:c4:12:34:56", "esp-idf-bundle-cross-signed", "complete"],
            [],
        ),
        "inspect": (["inspect", str(bundle)], ["96bcec06264976f3", "#8", "RSA 4096"], [usertrust]),
        "build": (["build", "-o", str(bundle)], ["e793c9b02fd8aa13", "2038-01-18"], [usertrust]),
        "chains show": (["chains", "show", str(CHAIN)], ["591e9ce6c863d3a0", "ISRG Root X1"], []),
    }


def test_every_table_fits_80_columns_and_keeps_its_key_column(journal: Path, bundle: Path) -> None:
    for name, (argv, whole, cut) in tables(journal, bundle).items():
        narrow = run(*argv, columns=80)
        assert table_lines(narrow) and widest("\n".join(table_lines(narrow))) <= 80, name
        if name != "build":  # whose last line names its outputs, all of them
            assert widest(narrow) <= 80, (name, narrow)
        for text in whole:
            assert re.search(rf"(^|\s){re.escape(text)}(\s|$)", narrow, re.M), (name, text)
        for text in cut:
            assert text not in narrow, (name, text)  # what had to give way
        for wide in (run(*argv), run(*argv, "--wide", columns=80), run(*argv, columns=400)):
            assert "\u2026" not in wide and "left out" not in wide, name
            for text in whole + cut:
                assert text in wide, (name, text)


def test_roots_fits_80_columns_and_says_what_it_left_out() -> None:
    for argv in (["roots"], ["roots", "--all"]):
        text = run(*argv, columns=80)
        assert widest(text) <= 80, text
        assert "(key, source, status: left out to fit; --wide shows every column)" in text
    text = run("roots", "isrg", columns=80)  # four roots: room for more of the columns
    assert widest(text) <= 80 and "(source: left out to fit;" in text


def test_boards_show_wraps_its_prose_to_the_terminal() -> None:
    """Only wrapped: never a word broken, nor at its hyphen (at 50 columns the
    connection's 'letsencrypt/rsa-dst-preferred' was cut after 'rsa-')."""
    for board in ("mdash-arduino@1.2.13", "esp-idf-bundle@5.4", "mongoose-os-esp32"):
        wide = run("boards", "show", board)
        assert widest(wide) > 80
        narrow = run("boards", "show", board, columns=80)
        long = [line for line in narrow.splitlines() if len(line) > 80]
        assert all(" " not in line.strip() for line in long), long  # a path alone may pass
        assert narrow.split() == wide.split()
        # Narrower than its tables (cut with an ellipsis), the prose still breaks no word
        # at a hyphen: no word ends in '-' that did not in the wide text.
        cut = {w for w in run("boards", "show", board, columns=50).split() if w.endswith("-")}
        assert cut <= {w for w in wide.split() if w.endswith("-")}, (board, cut)
    assert "letsencrypt/rsa-dst-preferred" in run("boards", "show", "mdash-arduino", columns=50)


def test_json_is_the_same_at_any_width(journal: Path, bundle: Path) -> None:
    for name, (argv, _, _) in tables(journal, bundle).items():
        if name == "build":
            continue  # its document names the build's time-free outputs; same check below
        docs = [json.loads(run(*argv, "--json", columns=c)) for c in (None, 40, 80)]
        for doc in docs:  # the instant judged (now, unless --at): each run its own
            doc.pop("at", None)
        assert docs[0] == docs[1] == docs[2], name
    build = [json.loads(run("build", "-o", str(bundle), "--json", columns=c)) for c in (None, 80)]
    assert build[0]["roots"] == build[1]["roots"]


def test_check_wraps_its_verdicts_to_the_terminal(in_tmp: Path) -> None:
    le = REPO / "tests" / "data" / "letsencrypt"
    (in_tmp / "dst.pem").write_bytes((le / "dst-root-ca-x3.pem").read_bytes())
    (in_tmp / "short.pem").write_bytes((le / "2024-r11.pem").read_bytes())
    argv = ["check", "--bundle", "dst.pem", "--chain", "short.pem", "--device"]
    argv += ["mbedtls-noclock", "--at", "2024-07-01"]
    texts = {}
    for columns in (None, 80):
        env = {"COLUMNS": str(columns)} if columns else {}
        r = CliRunner().invoke(cli, argv, env=env)
        assert r.exit_code == 1, r.output
        texts[columns] = r.stdout
    assert widest(texts[80]) <= 80 < widest(texts[None]) <= 96  # 96: its own line length
    assert " ".join(texts[80].split()) == " ".join(texts[None].split())  # only wrapped
