"""``push status --json`` and ``--csv`` are written in batches, not a value at a time (2
million units took 18 s and 13 s): the bytes stay those of ``json.dumps(indent=2)`` and
of ``csv.writer`` over every unit, whatever a ledger's cells hold."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.commands._push_status_units import csv_rows
from esp_cabundle.push import ledger_status
from esp_cabundle.push.ledger import DONE_STATES, STATES, Ledger
from esp_cabundle.push.ledger_status import DARK_KEY, dark_order

OLD, NEW = "cd" * 32, "ab" * 32
# Ids and texts that JSON escapes or CSV quotes, beside plain ones.
IDS = [
    "plain-1", 'quo"te', "back\\slash", "com,ma", "new\nline", "tab\tchar", "cr\rchar",
    "\u00e9t\u00e9", "\U0001f600", "ctrl\x01", "nul\x00in", "del\x7f", " lead space", "",
]  # fmt: skip


def _status(path: Path, *argv: str) -> bytes:
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(path), *argv])
    assert r.exit_code in (0, 3), r.output  # 3: a unit not done (test_push_safety)
    return r.stdout_bytes


def _ledger(path: Path, dates: dict[str, str], *, odd_cells: bool = True) -> None:
    """Units in every state, with the cells CSV and JSON write with care: ids and texts
    needing quotes or escapes, a NUL, the largest count, empty text."""
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=NEW, board="mongoose-os-esp32", ca_path="/ca.pem")
        for sha, day in dates.items():
            ledger.set_meta(DARK_KEY + sha, day)
        ledger.enroll((uid, "mqtt", None) for uid in IDS)
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "UPDATE units SET "
            "state = (SELECT value FROM json_each(?) WHERE key = units.rowid % ?), "
            "old_sha256 = CASE rowid % 3 WHEN 0 THEN ? WHEN 1 THEN 'none' ELSE ? END, "
            "new_sha256 = ?, last_seen = CASE WHEN rowid % 2 THEN updated_at END",
            (json.dumps(STATES), len(STATES), OLD, "ef" * 32, NEW),
        )
        # Each id above its one reason to be quoted or escaped; cells on plain ids. (A
        # float, blob or negative count is a damaged ledger now: tests/test_ledger_rows.py.)
        odd = [("attempts", 12, "quo\"te"), ("attempts", 10**9, "\u00e9t\u00e9"),
               ("fw_version", "\x00\xff", "\U0001f600")]  # fmt: skip
        cells = [
            ("attempts", 2**31 - 1, "plain-1"), ("attempts", 0, "new\nline"),
            ("attempts", 7, "cr\rchar"), ("last_error", "", "com,ma"),
            ("last_error", 'unit x: a, b "c"\nd\\e', " lead space"),
            ("note", "caf\u00e9, \x1f", ""), ("address", "http://10.0.0.1/", "del\x7f"),
            *(odd if odd_cells else []),
        ]  # fmt: skip
        for column, value, uid in cells:
            db.execute(f"UPDATE units SET {column} = ? WHERE id = ?", (value, uid))
    db.close()


def _expected(path: Path, *, shown: bool = False) -> tuple[bytes, bytes]:
    """The JSON document and the CSV as json.dumps and csv.writer make them whole
    (``shown``: each stored URL's query values masked, as outputs show them)."""
    with Ledger(path, readonly=True) as ledger:
        meta, rows = ledger.meta(), ledger.rows()
    if shown:
        rows = [r.shown() for r in rows]
    dates = {k[len(DARK_KEY) :]: v for k, v in meta.items() if k.startswith(DARK_KEY)}
    units = []
    for r in rows:
        held = (
            r.new_sha256
            if r.state in DONE_STATES | {"rebooted"}
            else None
            if r.state == "unused" or r.old_sha256 == "none"
            else r.old_sha256
        )
        units.append(
            {**r.to_dict(), "goes_dark": dates.get(held, "unknown") if held else "unknown"}
        )
    from esp_cabundle.commands._push_status_units import status_next

    dark = Counter(u["goes_dark"] for u in units)
    finished = {"verified", "up-to-date", "reconnected", "unused"}  # README's "finished"
    counts = {s: sum(u["state"] == s for u in units) for s in STATES}
    doc = {
        "ok": all(u["state"] in finished for u in units),
        "campaign": {k: v for k, v in meta.items() if k != "schema" and not k.startswith(DARK_KEY)},
        "counts": counts,
        "goes_dark": {k: dark[k] for k in sorted(dark, key=dark_order)},
        "next": status_next(counts, path),  # its words: test_push_status_cli
        "units": units,
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"
    rows = [list(units[0]) if units else ["id", "state"], *(list(u.values()) for u in units)]
    if sys.version_info >= (3, 11):  # csv.writer itself, which writes a NUL as it is
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\n").writerows(rows)
        return text.encode(), out.getvalue().encode()
    return text.encode(), csv_rows(rows).encode()  # 3.10's csv refuses NUL: 3.11's form


@pytest.mark.parametrize("odd_cells", [True, False])
@pytest.mark.parametrize("dated", [0, 1, 3, 80])
def test_json_and_csv_are_the_documents_written_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dated: int, odd_cells: bool
) -> None:
    """Every unit's cells as json.dumps/csv.writer write them; the go-dark dates looked
    up in SQL for a campaign's few CA files, and in Python for a ledger holding many."""
    monkeypatch.setattr(ledger_status, "DATES_IN_SQL", 4)
    monkeypatch.setattr(ledger_status, "UNIT_BATCH", 1)  # each cell's way tried alone
    days = ["2027-06-06T00:00:00+00:00", "2024-01-01T00:00:00+00:00", "none"]
    shas = [OLD, NEW, "ef" * 32] + [f"{i:064x}" for i in range(dated)]
    path = tmp_path / "c.db"
    _ledger(path, {sha: days[i % 3] for i, sha in enumerate(shas[:dated])}, odd_cells=odd_cells)
    before = path.read_bytes()
    text, table = _expected(path)
    assert _status(path, "--json") == text
    assert _status(path, "--csv") == table
    assert path.read_bytes() == before


def test_a_ledger_with_no_units(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=NEW, board="mongoose-os-esp32", ca_path="/ca.pem")
    text, table = _expected(path)
    assert _status(path, "--json") == text and b'"units": []' in text
    assert _status(path, "--csv") == table == b"id,state\n"


def test_many_units_are_written_in_many_batches(tmp_path: Path) -> None:
    """Units past one batch: the joins between batches are the document's."""
    path = tmp_path / "c.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=NEW, board="mongoose-os-esp32", ca_path="/ca.pem")
        ledger.set_meta(DARK_KEY + OLD, "2027-06-06T00:00:00+00:00")
        ledger.enroll((f"u{i:05}", "mqtt", None) for i in range(2500))
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE units SET old_sha256 = ? WHERE rowid % 7 = 0", (OLD,))
    db.close()
    text, table = _expected(path)
    assert _status(path, "--json") == text
    assert _status(path, "--csv") == table


def test_a_failing_file_found_is_not_said_to_cut_units_this_push_reached() -> None:
    """After a push that reached and verified its units through their link, it said
    units holding the file "cannot" be reached: the units it was found on were reached;
    units never reached are reached by the same command (test_push_advice: not the bench)."""
    from datetime import datetime, timezone

    from esp_cabundle.commands._push_dates import date_lines as _dates

    since = datetime(2024, 3, 13, tzinfo=timezone.utc)
    for given in (since, since.isoformat()):  # a run's report, push status's ledger
        (line,) = _dates(None, given)
        assert "at least since 2024-03-13" in line and "cannot" not in line
        assert "these units were reached" in line and "bench" not in line
        (line,) = _dates(None, given, pending=2)
        assert "these units were reached" in line
        assert "2 units not reached yet (2 pending: never started) may hold it too" in line


@pytest.mark.parametrize("flag", ["--json", "--csv"])
def test_the_exit_code_is_the_printed_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    """The exit code came from a second read of the ledger: a campaign finishing between
    the two made ``push status --json`` print ``"ok": false`` and exit 0. Here any read
    after the first finds every unit verified; the ledger is opened once."""
    path = tmp_path / "c.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=NEW, board="mongoose-os-esp32", ca_path="/ca.pem")
        ledger.enroll((f"u{i}", "mqtt", None) for i in range(3))
    opened = []

    def opening(p: Path, **kw: object) -> Ledger:
        if opened:  # the campaign finished since the first read
            db = sqlite3.connect(p)
            with db:
                db.execute("UPDATE units SET state = 'verified'")
            db.close()
        opened.append(p)
        return Ledger(p, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger_status, "Ledger", opening)
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(path), flag])
    if flag == "--json":
        assert json.loads(r.stdout)["ok"] is False
    else:
        states = [row["state"] for row in csv.DictReader(io.StringIO(r.stdout))]
        assert states == ["pending"] * 3
    assert r.exit_code == 3, r.output  # as printed: units pending
    assert len(opened) == 1


def test_the_unknown_dates_hint_names_options_push_has() -> None:
    """The hint for units whose go-dark date is unknown named --server and the config's
    targets: but not --target, the option that names another server on the command line;
    every option it names is one ``push --help`` lists."""
    import re

    from esp_cabundle.commands._push_render import _dark_summary

    hint = _dark_summary({"unknown": 2}, "nothing")[-1]
    assert hint.startswith("unknown: the campaign named no server"), hint
    assert "--server HOST" in hint and "--target HOST" in hint, hint
    assert "targets: in the config" in hint and "-c FILE" in hint, hint
    help_text = CliRunner().invoke(cli, ["push", "--help"], terminal_width=200).output
    for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", hint):
        assert re.search(rf"(?<![\w-]){option}\b", help_text), option


SECRET = "s3cr3t-9f1c"


@pytest.mark.parametrize("dated", [1, 80])
def test_rows_whose_urls_are_masked_read_again_among_plain_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dated: int
) -> None:
    """A batch's units are written by one printf() each; a unit an older release keyed by
    a URL with a query (masked) or holding a NUL in a text cell (printf stops there) is
    read again through the masking, its neighbours in the batch not: the bytes are the
    document's whole, and the secret is never written."""
    monkeypatch.setattr(ledger_status, "DATES_IN_SQL", 4)
    monkeypatch.setattr(ledger_status, "UNIT_BATCH", 3)
    path = tmp_path / "c.db"
    shas = [OLD, NEW] + [f"{i:064x}" for i in range(dated)]
    _ledger(path, {sha: "2027-06-06T00:00:00+00:00" for sha in shas[:dated]})
    now = "2026-12-01T10:00:00+00:00"
    db = sqlite3.connect(path)
    with db:
        for i in range(5):
            url = f"http://10.0.0.{i}/rpc?session={SECRET}&k={i}"
            db.execute(
                "INSERT INTO units (id, transport, state, attempts, last_error, note, "
                "first_seen, last_seen, updated_at, address, old_sha256) "
                "VALUES (?, 'http', 'offline', 1, ?, ?, ?, ?, ?, ?, ?)",
                (url if i % 2 else f"dev-{i}", f"no answer at {url}", f"n\x00{url}" if i == 3
                 else None, now, now, now, None if i % 2 else url, OLD),
            )  # fmt: skip
    db.close()
    with Ledger(path, readonly=True) as ledger:
        rows = ledger.rows()
    text, table = _expected(path, shown=True)
    assert SECRET.encode() not in text + table
    assert _status(path, "--json") == text
    assert _status(path, "--csv") == table
    assert any(SECRET in (r.id + (r.address or "")) for r in rows)  # stored as it was


def test_status_tells_the_push_to_run_again_not_itself(tmp_path: Path) -> None:
    """``push status`` said units not reached yet "may hold it too: run the same command
    again" — the same command being ``push status``, which reaches no unit (its own
    Next line names the push that wrote the ledger). It now names that push too."""
    path = tmp_path / "fleet.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=NEW, board="mdash-arduino", ca_path="ca.pem")
        ledger.set_meta("failing_since", "2024-03-13T00:00:00+00:00")
        ledger.enroll((f"u{i}", "mdash", None) for i in range(2))
    text = CliRunner().invoke(cli, ["push", "status", "--ledger", str(path)]).output
    flat = " ".join(text.split())
    assert "2 units not reached yet (2 pending: never started) may hold it too" in flat, text
    assert "run the same command again" not in flat, text
    assert f"may hold it too: run the push that wrote {path} again" in flat, text
