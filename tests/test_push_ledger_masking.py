"""A ledger an older release wrote keeps each unit URL's query values as given; ``push
status`` shows them masked and leaves the file as it is (tests/test_push_status_urls.py).
The next campaign that opens it to write rewrites them masked, as it stores its own, in
the transaction that binds it to its CA file, and says so once on stderr."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.push.ledger import AnotherCampaign, Ledger

KEY = "ledger-masking-key-7c1d"  # the mDash stand-in's (conftest)
SECRET = "abc123"
RAW = f"http://192.168.1.20/rpc?session={SECRET}"  # never said its device id
NAMED = f"ws://192.168.1.21/rpc?session={SECRET}&k"
BARE = "http://192.168.1.20/rpc?session=[redacted]"
CA = "ab" * 32


def _add_old_rows(
    path: Path,
    *rows: tuple[str, str, str | None],
    state: str = "offline",
    updated: str = "2026-12-01T10:00:00+00:00",
    lease: tuple[str, float] | None = None,
) -> None:
    """``(id, last_error, address)`` rows as a release before the masking wrote them."""
    db = sqlite3.connect(path, isolation_level=None)
    owner, until = lease or (None, None)
    db.executemany(
        "INSERT INTO units (id, transport, state, attempts, last_error, first_seen, "
        "updated_at, address, lease_owner, lease_until) VALUES (?, 'http', ?, 1, ?, ?, ?, ?, ?, ?)",
        [
            (uid, state, error, updated, updated, address, owner, until)
            for uid, error, address in rows
        ],
    )
    db.close()


def _stored(path: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT id, address, last_error FROM units ORDER BY id").fetchall()
    finally:
        db.close()


def _old_ledger(path: Path) -> None:
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
    _add_old_rows(
        path,
        (RAW, f"unit {RAW}: no answer ({RAW!r})", RAW),
        ("dev-b", f"unit dev-b: refused at {NAMED}", NAMED),
    )


def test_binding_masks_the_stored_urls_once(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_ledger(path)
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
        # the rows changed: RAW's (its id and address), dev-b's (its address)
        assert (ledger.masking.masked, ledger.masking.dropped) == (2, 0)
    shown_named = "ws://192.168.1.21/rpc?session=[redacted]&[redacted]"
    assert _stored(path) == [
        ("dev-b", shown_named, f"unit dev-b: refused at {shown_named}"),
        (BARE, BARE, f"unit {BARE}: no answer ({BARE!r})"),
    ]
    assert SECRET.encode() not in path.read_bytes()  # zeroed, not only unlinked from rows
    with Ledger(path) as ledger:  # nothing left to mask
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
        assert ledger.masking.said(path) == []


def test_the_masked_values_leave_the_file_and_its_wal_before_the_ledger_closes(
    tmp_path: Path,
) -> None:
    """The ledger runs in WAL mode: the masked, zeroed pages reach the file only at a
    checkpoint, which bind runs at once; a run killed before it closed the ledger left
    the old pages, values and all, in the file."""
    path = tmp_path / "old.db"
    _old_ledger(path)
    assert SECRET.encode() in path.read_bytes()
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
        assert ledger.masking.masked == 2
        wal = path.with_name(path.name + "-wal")
        for f in (path, wal):
            assert not f.exists() or SECRET.encode() not in f.read_bytes(), f


def test_of_rows_masking_alike_the_current_writers_is_kept_at_equal_progress(
    tmp_path: Path,
) -> None:
    """The current writer's row for the unit (a run since then made it) stays when no
    older row got further; the old release's rows naming the same masked URL (another
    session value) are dropped, and only rows are counted, once each."""
    path = tmp_path / "old.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
    _add_old_rows(path, (BARE, "current", BARE))
    _add_old_rows(
        path, (RAW, "old", RAW), (RAW + "9", "older", None), updated="2026-11-01T00:00:00+00:00"
    )
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
        assert (ledger.masking.masked, ledger.masking.dropped) == (0, 2)
    assert _stored(path) == [(BARE, BARE, "current")]
    assert SECRET.encode() not in path.read_bytes()


@pytest.mark.parametrize(
    ("current", "old", "kept"),
    [
        # the row furthest on is kept, however old: a verified unit is not pushed again
        (
            ("pending", "2025-01-01T00:00:00+00:00"),
            ("verified", "2025-06-01T00:00:00+00:00"),
            "old",
        ),
        (
            ("pending", "2025-06-01T00:00:00+00:00"),
            ("verified", "2025-01-01T00:00:00+00:00"),
            "old",
        ),
        (
            ("reconnected", "2025-01-01T00:00:00+00:00"),
            ("writing", "2025-06-01T00:00:00+00:00"),
            "current",
        ),
        # at equal progress, the most recently updated
        (("offline", "2025-01-01T00:00:00+00:00"), ("offline", "2025-06-01T00:00:00+00:00"), "old"),
        (
            ("offline", "2025-06-01T00:00:00+00:00"),
            ("offline", "2025-01-01T00:00:00+00:00"),
            "current",
        ),
    ],
)
def test_of_rows_masking_alike_the_one_furthest_on_then_newest_is_kept(
    tmp_path: Path, current: tuple[str, str], old: tuple[str, str], kept: str
) -> None:
    path = tmp_path / "old.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
    _add_old_rows(path, (BARE, "current", BARE), state=current[0], updated=current[1])
    _add_old_rows(path, (RAW, f"old {RAW}", RAW), state=old[0], updated=old[1])
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
        rows = ledger.rows()
        assert (ledger.masking.masked, ledger.masking.dropped) == (int(kept == "old"), 1)
    want = f"old {BARE}" if kept == "old" else "current"
    # rows of different states may have been two units': the one kept claims no progress
    state = current[0] if current[0] == old[0] else "pending"
    assert [(r.id, r.state, r.last_error, r.done_at) for r in rows] == [
        (BARE, state, want, None if state == "pending" else rows[0].done_at)
    ]
    assert rows[0].attempts == 1  # kept
    assert SECRET.encode() not in path.read_bytes()


def test_every_state_has_a_progress() -> None:
    from esp_cabundle.push.ledger_schema import PROGRESS, STATES

    assert sorted(PROGRESS) == sorted(STATES)


def test_another_campaigns_ledger_is_refused_with_its_rows_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_ledger(path)
    before = _stored(path)
    with Ledger(path) as ledger, pytest.raises(AnotherCampaign):
        ledger.bind(ca_sha256="cd" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
    assert _stored(path) == before


def test_a_run_masks_an_old_ledgers_urls_and_says_so_once(stand_in: Any, tmp_path: Path) -> None:
    from support.fleet import mdash_unit, write_ca

    write_ca(tmp_path)
    s = stand_in([mdash_unit("dev1")])
    ledger = tmp_path / "c.db"
    argv = ["push", "--mdash", s.url, "--board", "mdash-arduino", "--timeout", "2"]
    argv += ["--bundle", str(tmp_path / "ca.pem"), "--ledger", str(ledger)]
    assert CliRunner().invoke(cli, argv).exit_code == 0
    db = sqlite3.connect(ledger, isolation_level=None)
    db.execute("UPDATE units SET address = ? WHERE id = 'dev1'", (NAMED,))
    db.close()
    status = CliRunner().invoke(cli, ["push", "status", "--ledger", str(ledger)])
    assert "masked" not in status.stderr and _stored(ledger)[0][1] == NAMED  # read only
    r = CliRunner().invoke(cli, [*argv, "-q"])
    assert r.exit_code == 0, r.stdout + r.stderr
    said = f"masked the query values of 1 stored unit URL in {ledger}"
    assert r.stderr.count(said) == 1, r.stderr
    assert SECRET not in r.stdout + r.stderr
    assert _stored(ledger)[0][1] == "ws://192.168.1.21/rpc?session=[redacted]&[redacted]"
    again = CliRunner().invoke(cli, argv)
    assert again.exit_code == 0 and "masked" not in again.stderr, again.stderr


def _said(ledger: Any, capsys: pytest.CaptureFixture[str]) -> str:
    from esp_cabundle.commands.push import _say_masked

    box: dict[str, Any] = {}
    _say_masked(ledger, box)
    _say_masked(ledger, box)  # once
    return capsys.readouterr().err


def test_the_note_says_how_many_rows_were_dropped_and_which_was_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows told apart by a query value alone are one unit once masked: the run says it
    dropped them, and by which rule the row kept was chosen, not only that it masked."""
    from types import SimpleNamespace

    from esp_cabundle.push.ledger_mask import Masking

    ledger = SimpleNamespace(masking=Masking(masked=3, dropped=2), path=tmp_path / "old.db")
    err = _said(ledger, capsys)
    assert err.count("masked the query values of 3 stored unit URLs") == 1
    assert "dropped 2 rows of" in err
    assert "the one furthest on is kept (reconnected, up-to-date or unused, then " in err
    assert "of those the most recently updated; set back to pending (attempts kept) " in err
    ledger.masking = Masking(masked=1)
    err = _said(ledger, capsys)
    assert "dropped" not in err and "1 stored unit URL in" in err
    ledger.masking = Masking()
    assert _said(ledger, capsys) == ""


def test_rows_of_units_told_apart_by_query_values_alone_are_merged_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An older release took ?dev=A and ?dev=B for two units; masked they are one URL.
    The row furthest on is kept (A's verified, not B's newer failed), set back to
    pending (B never got the CA: a run for ?dev=B must not find it done), and the run
    names the URL: the current release refuses both URLs in one run."""
    path = tmp_path / "old.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
    a, b = "http://192.168.1.30/rpc?dev=A", "http://192.168.1.30/rpc?dev=B"
    _add_old_rows(path, (a, "A", a), state="verified", updated="2026-11-01T00:00:00+00:00")
    _add_old_rows(path, (b, "B", b), state="failed", updated="2026-11-20T00:00:00+00:00")
    masked = "http://192.168.1.30/rpc?dev=[redacted]"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
        assert ledger.masking.merged == (masked,)
        err = _said(ledger, capsys)
    assert [r[:2] for r in _stored(path)] == [(masked, masked)]
    with Ledger(path) as ledger:
        assert [(r.state, r.last_error, r.done_at) for r in ledger.rows()] == [
            ("pending", "A", None)
        ]
    assert b"dev=A" not in path.read_bytes() and b"dev=B" not in path.read_bytes()
    assert "masked the query values of 1 stored unit URL in" in err
    assert "dropped 1 row of" in err
    assert (
        f"{masked}: rows an older release told apart by query values alone are one row "
        "now, set back to pending for the next run to read the unit again; if they were "
        "several units, give each its own address (host, port or path): a run naming their "
        "URLs together is refused"
    ) in err
    # as said: the current release refuses them together, before touching the ledger
    before = path.read_bytes()
    r = CliRunner().invoke(
        cli, ["push", "--rpc", a, "--rpc", b, "--board", "mongoose-os-esp32", "--ledger", str(path)]
    )
    assert r.exit_code == 2 and "differ only in their query values" in r.stderr, r.stderr
    assert path.read_bytes() == before


ELSEWHERE = ("another-host:4242:0123456789ab", 4102444800.0)  # leased until 2100


def test_a_row_a_running_campaign_leases_is_left_counted_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
    _add_old_rows(path, (RAW, "leased", RAW), lease=ELSEWHERE)
    _add_old_rows(path, ("dev-c", f"at {NAMED}", NAMED), lease=ELSEWHERE)
    before = _stored(path)
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
        assert (ledger.masking.masked, ledger.masking.leased) == (0, 2)
        assert ledger.masking.held == {BARE}  # dev-c is enrolled under its own id
        err = _said(ledger, capsys)
    assert _stored(path) == before
    assert (
        f"2 rows of {path} left as they are, with their query values: their units leased "
        "by a running campaign, whose outcome this run waits for and reports, masking them "
        "once the lease ends (a --watch run then takes the unit up)"
    ) in err
    assert "masked the query" not in err


def _leased_old_row(tmp_path: Path, until: float) -> tuple[Path, list[str], str]:
    """A ledger a first run made, then an older release's row for ``?session=`` leased
    until ``until`` by a campaign elsewhere; the argv of a run naming that URL."""
    from support.fleet import write_ca

    write_ca(tmp_path)
    path = tmp_path / "c.db"
    url = "http://127.0.0.1:9/rpc"  # nothing listens: the unit is listed by its URL
    argv = ["push", "--board", "mongoose-os-esp32", "--allow", "unjudged", "--timeout", "1"]
    argv += ["--bundle", str(tmp_path / "ca.pem"), "--ledger", str(path)]
    first = CliRunner().invoke(cli, [*argv, "--rpc", url])
    assert first.exit_code == 3, first.stdout + first.stderr
    raw = f"{url}?session={SECRET}"
    _add_old_rows(path, (raw, "leased", raw), lease=(ELSEWHERE[0], until))
    return path, [*argv, "--rpc", raw], url


def test_a_unit_whose_old_row_is_leased_is_waited_for_not_enrolled_again_masked(
    tmp_path: Path,
) -> None:
    """Not enrolled under the masked URL while leased (a second row, pushed by two runs
    at once): the run waits for that campaign, as for a unit held elsewhere, then masks
    the row and reports it (its outcome this run's); the note is in --json's notes."""
    import json
    import time

    path, argv, url = _leased_old_row(tmp_path, time.time() + 2)
    r = CliRunner().invoke(cli, [*argv, "--json"])
    said = "left as it is, with its query values: its unit leased by a running campaign"
    assert said in r.stderr, r.stderr
    assert SECRET not in r.stdout + r.stderr
    masked = f"{url}?session=[redacted]"
    doc = json.loads(r.stdout)
    assert [u["id"] for u in doc["units"]] == [masked], doc["units"]
    assert any(said in n for n in doc["notes"]), doc["notes"]
    assert doc["ok"] is False and r.exit_code == 3  # offline, as that campaign left it
    assert sorted(row[0] for row in _stored(path)) == [url, masked]  # one row for it
    assert SECRET.encode() not in path.read_bytes()


def test_a_unit_still_leased_when_the_run_stops_is_reported_not_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stopped while waiting: the unit is in the report, as its leased row says, with
    a note, not dropped from it (a report of nothing left to do)."""
    import threading

    from support.fleet import ca_bytes
    from support.gated import gated

    from esp_cabundle.push.campaign import CampaignOptions, PushFile, run_campaign
    from esp_cabundle.push.http import LanTransport

    path, _, url = _leased_old_row(tmp_path, ELSEWHERE[1])
    ca = gated(ca_bytes(), "mongoose-os-esp32")
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    with Ledger(path) as ledger:
        report = run_campaign(
            [LanTransport([f"{url}?session={SECRET}"], timeout=1.0)],
            PushFile(ca),
            ledger,
            CampaignOptions(timeout=1.0),
            stop=stop,
        )
    masked = f"{url}?session=[redacted]"
    assert [(r.id, r.state) for r in report.rows] == [(masked, "offline")]
    assert not report.ok and report.stopped
    assert any("leased by a running campaign" in n for n in report.notes)


def test_an_error_quoting_a_query_value_another_way_is_masked(tmp_path: Path) -> None:
    """Not only the whole URL: a value quoted alone (4 characters or more), or as its
    key's value (any length), leaves the file too."""
    path = tmp_path / "old.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
    url = f"http://192.168.1.40/rpc?dev=B&session={SECRET}"
    _add_old_rows(
        path,
        (url, f"unit refused token dev=B; session '{SECRET}' expired (B stays)", url),
        ("dev-d", f"{SECRET}: expired", f"ws://192.168.1.41/rpc?session={SECRET}"),
    )
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=CA, board="mongoose-os-esp32", ca_path="/ca.pem")
    assert [r[2] for r in _stored(path)] == [
        "[redacted]: expired",
        "unit refused token dev=[redacted]; session '[redacted]' expired (B stays)",
    ]
    assert SECRET.encode() not in path.read_bytes()


def test_a_watch_takes_up_a_unit_once_the_lease_on_its_old_row_ends(tmp_path: Path) -> None:
    """Held is not fixed when the ledger is bound: a later pass masks the row the other
    campaign let go of and works on the unit (an attempt more)."""
    import time
    from datetime import datetime, timedelta, timezone

    from support.fleet import ca_bytes
    from support.gated import gated

    from esp_cabundle.push.campaign import CampaignOptions, PushFile, run_campaign
    from esp_cabundle.push.http import LanTransport

    path, _, url = _leased_old_row(tmp_path, time.time() + 1)
    until = datetime.now(timezone.utc) + timedelta(seconds=4)
    with Ledger(path) as ledger:
        report = run_campaign(
            [LanTransport([f"{url}?session={SECRET}"], timeout=1.0)],
            PushFile(gated(ca_bytes(), "mongoose-os-esp32")),
            ledger,
            CampaignOptions(timeout=1.0, watch=True, poll=0.3, until=until),
        )
    masked = f"{url}?session=[redacted]"
    assert [(r.id, r.state) for r in report.rows] == [(masked, "offline")]
    assert report.rows[0].attempts > 1  # taken up, not only reported
    assert SECRET.encode() not in path.read_bytes()
