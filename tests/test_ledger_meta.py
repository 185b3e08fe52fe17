"""The campaign table's facts are checked as they are read: a value no campaign writes
(a hand edit, a damaged page) is a damaged ledger in words, exit 2, in text, --json and
--csv alike, and the file is left as it was. Before, a go-dark date of ``x`` or one
without its UTC offset ended ``push status`` in a traceback (exit 1), ``--json`` and
``--csv`` passed it on, and a schema of ``999`` or ``abc`` was read as this release's."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.push.ledger import Ledger, check_ledger
from esp_cabundle.push.ledger_status import DARK_KEY

NEW, OLD = "ab" * 32, "cd" * 32
DARK = DARK_KEY + OLD

_NO_SHA256 = (DARK_KEY + "zz", DARK_KEY)  # go-dark keys naming no CA file
# (key, bad value): each a value the campaign's writer never writes for that key.
_BAD = [
    (DARK, "x"),
    (DARK, "1850-01-01T00:00"),  # naive: the writer always writes the offset
    (DARK, "2027-06-06T00:00:00"),
    (DARK, "2027-13-06T00:00:00+00:00"),
    (DARK, "2027-06-06 00:00:00+00:00"),
    (DARK, "20270606T000000+0000"),  # read by 3.11's fromisoformat, not written
    (DARK, ""),
    (DARK, "None"),
    *((key, "none") for key in _NO_SHA256),
    ("judged_against", ""),
    ("judged_against", "a\nb"),
    ("created_at", "yesterday"),
    ("created_at", "2026-05-13"),
    ("created_at", "2026-05-13T10:00:00-05:00"),  # push writes it: UTC only
    # "Z" (fromisoformat() reads it from 3.11 on, not on 3.10), offset seconds, a
    # space for the T, a day or hour the calendar lacks: no isoformat() an older
    # release kept, even of a caller's date, and a ledger is judged alike on every
    # Python
    ("deadline", "2030-01-01T00:00:00-05:00:30"),
    ("deadline", "2030-01-01 00:00:00-05:00"),
    ("deadline", "2030-02-30"),
    ("deadline", "2030-01-01T24:00:00+01:00"),
    ("failing_since", "2024-01-01T00:00:00.123456+24:00"),
    ("failing_since", "2024-01-01T00:00:00+05:60"),
    ("failing_since", "0001-01-01T00:00:00+01:00"),  # before the year 1 in UTC
    ("failing_since", "2024-01-01T00:00:00.123+05:30"),
    (DARK, "2027-06-06T12:00Z  +02:00"),
    (DARK, "2027-06-06T12:00:00+02:00 "),
    (DARK, "\u0662\u0660\u0662\u0667-06-06"),  # digits, not ASCII ones
    ("created_at", "2026-05-13T10:00:00+05:30:15.123456"),
    ("created_at", "2026-05-13T10:00:00Z"),
    (DARK, "2027-06-06T00:00:00.123456Z"),
    (DARK, "2027-06-06T00:00:00-00:00"),
    ("failing_since", "x"),
    # check's roadmap date beside failing_since, and its kinds: as push writes them
    ("roadmap_since", "2024-06-06"),
    ("roadmap_since", "2024-06-06T00:00:00Z"),
    ("roadmap_since", "2024-06-06T02:00:00+02:00"),
    ("roadmap_since", "letsencrypt rsa-default since 2024-02-08"),
    ("roadmap_why", ""),
    ("roadmap_why", "a\nb"),
    ("roadmap_why", "kinds\x1b[31m"),
    ("ca_sha256", "xyz"),
    ("ca_sha256", NEW.upper()),
    ("board", ""),
    ("board", "esp32\x1b[31m"),
    ("ca_path", ""),
    ("schema", "abc"),
    ("schema", "0"),
    ("schema", "-1"),
    ("schema", "2.0"),
    ("schema", "02"),
]


def _ledger(path: Path) -> None:
    """A campaign's ledger as push leaves it: facts, a go-dark date, two units."""
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256=NEW, board="mongoose-os-esp32", ca_path="/ca.pem")
        ledger.set_meta(DARK, "2027-06-06T00:00:00+00:00")
        ledger.set_meta("judged_against", "mqtt.example.com")
        ledger.set_meta("deadline", "2027-06-06T00:00:00+00:00")
        ledger.enroll([("dev-1", "mqtt", None), ("dev-2", "mqtt", None)])
        assert ledger.claim("dev-1", ["pending"]) is not None
        ledger.record("dev-1", state="offline", old_sha256=OLD)
        ledger.release("dev-1")


def _set(path: Path, key: object, value: object) -> bytes:
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT OR REPLACE INTO campaign (key, value) VALUES (?, ?)", (key, value))
    db.close()
    assert not Path(f"{path}-wal").exists()
    return path.read_bytes()


def _status(path: Path, *argv: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(path), *argv])
    assert not r.exception or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, r.stderr


def _shown(text: str) -> str:
    """As the message shows it: control characters escaped."""
    return text.replace("\n", "\\n").replace("\x1b", "\\x1b")


@pytest.mark.parametrize(("key", "value"), _BAD)
def test_a_bad_campaign_value_is_a_damaged_ledger_in_words(
    tmp_path: Path, key: str, value: str
) -> None:
    path = tmp_path / "c.db"
    _ledger(path)
    before = _set(path, key, value)
    for argv in ((), ("--all",), ("--json",), ("--csv",)):
        code, out, err = _status(path, *argv)
        assert code == 2, (argv, out, err)
        words = json.loads(out)["error"] if argv == ("--json",) else err.splitlines()[0]
        if argv == ("--json",):
            assert json.loads(out)["kind"] == "LedgerDamaged"
        else:
            assert out == "" and "Traceback" not in err
        assert f"the ledger {path} is damaged" in words, words
        assert f"'{_shown(key)}'" in words, words
        shown = "names no CA file's SHA-256" if key in _NO_SHA256 else f"'{_shown(value)}'"
        assert shown in words, words
        assert "\x1b" not in words and "\n" not in words
    for open_it in (
        lambda: Ledger(path),  # a campaign opening it to write
        lambda: Ledger(path, readonly=True),
        lambda: check_ledger(path, ca_sha256=NEW, board="mongoose-os-esp32"),
    ):
        with pytest.raises(InputError, match="is damaged"):
            open_it()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.db"]


@pytest.mark.parametrize("schema", ["3", "999"])
def test_a_newer_schema_is_refused_with_the_upgrade_hint(tmp_path: Path, schema: str) -> None:
    path = tmp_path / "c.db"
    _ledger(path)
    before = _set(path, "schema", schema)
    for argv in ((), ("--json",), ("--csv",)):
        code, out, err = _status(path, *argv)
        assert code == 2, (argv, out, err)
        text = out + err
        assert f"the ledger {path} has schema {schema}, newer than" in text, text
        assert "upgrade esp-cabundle" in text and "Traceback" not in text
    with pytest.raises(InputError, match="newer than"):
        Ledger(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("board", b"\x00", "its campaign key 'board' holds b'\\x00', not text"),
        (None, "x", "its campaign table holds a key None, not text"),
        (b"k", "x", "its campaign table holds a key b'k', not text"),
    ],
)
def test_a_fact_that_is_not_text_is_refused(
    tmp_path: Path, key: object, value: object, words: str
) -> None:
    path = tmp_path / "c.db"
    _ledger(path)
    before = _set(path, key, value)
    code, out, _ = _status(path, "--json")
    assert code == 2 and words in json.loads(out)["error"], out
    assert path.read_bytes() == before


def test_the_values_a_campaign_writes_are_read(tmp_path: Path) -> None:
    """Every form the writer uses passes, and a key of a later release is kept."""
    path = tmp_path / "c.db"
    _ledger(path)
    _set(path, DARK_KEY + NEW, "none")
    _set(path, DARK_KEY + "ef" * 32, "unknown")
    _set(path, "failing_since", "2024-01-01T00:00:00.123456+00:00")
    _set(path, "judged_against", "nothing")
    _set(path, "roadmap_since", "2024-06-06T00:00:00+00:00")
    _set(path, "roadmap_why", "letsencrypt rsa-default since 2024-02-08")
    _set(path, "later_release_fact", "anything")
    code, out, _ = _status(path, "--json")
    assert code == 3, out  # read whole; its units pending and offline: not finished
    doc = json.loads(out)
    assert doc["campaign"]["later_release_fact"] == "anything"
    assert doc["campaign"]["roadmap_since"] == "2024-06-06T00:00:00+00:00"
    assert doc["goes_dark"] == {"2027-06-06T00:00:00+00:00": 1, "unknown": 1}
    code, out, _ = _status(path)
    assert code == 3 and "2027-06-06" in out, out


# (stored value, as read): what an older release kept of a library caller's date
# (go_dark_for's answer, deadline_for's datetime) as given, before push converted it.
_OLDER = [
    ("2027-06-06", "2027-06-06T00:00:00+00:00"),
    ("2027-06-06T02:00:00+02:00", "2027-06-06T00:00:00+00:00"),
    ("2027-06-05T19:00:00.250000-05:00", "2027-06-06T00:00:00.250000+00:00"),
]


@pytest.mark.parametrize(("stored", "read"), _OLDER)
def test_a_callers_date_an_older_release_kept_as_given_is_read_in_utc(
    tmp_path: Path, stored: str, read: str
) -> None:
    """Refused as a damaged ledger (exit 2) since push kept only its own form: each
    consumer now reads the one UTC form, and the file is not rewritten."""
    path = tmp_path / "c.db"
    _ledger(path)
    _set(path, DARK, stored)
    _set(path, "deadline", stored)
    before = _set(path, "failing_since", stored)
    code, out, err = _status(path, "--json")
    assert code == 3, (out, err)  # read whole; its units pending and offline
    doc = json.loads(out)
    assert doc["goes_dark"] == {read: 1, "unknown": 1}, doc
    assert (doc["campaign"]["deadline"], doc["campaign"]["failing_since"]) == (read, read)
    assert [u["goes_dark"] for u in doc["units"]] == [read, "unknown"]
    code, out, _ = _status(path, "--csv")
    assert code == 3 and out.splitlines()[1].endswith("," + read), out
    code, out, _ = _status(path, "--all")
    assert code == 3 and "stops working on 2027-06-06" in out, out
    with Ledger(path, readonly=True) as ledger:
        assert ledger.meta()[DARK] == read
    assert path.read_bytes() == before  # read-only: not rewritten
    check_ledger(path, ca_sha256=NEW, board="mongoose-os-esp32")  # a dry run's check
    with Ledger(path) as ledger:  # opened to write, as a resumed campaign does
        have = ledger.bind(ca_sha256=NEW, board="mongoose-os-esp32", ca_path="/ca.pem")
        assert (have[DARK], have["failing_since"]) == (read, read)


def test_a_callers_past_date_kept_as_given_is_judged_past(tmp_path: Path) -> None:
    """Compared with now (is_past) as the UTC instant it names: a date alone was naive
    against an aware now, and a +02:00 one the day before in UTC."""
    path = tmp_path / "c.db"
    _ledger(path)
    for stored, read in (
        ("2020-01-01", "2020-01-01T00:00:00+00:00"),
        ("2020-01-01T01:00:00+02:00", "2019-12-31T23:00:00+00:00"),
    ):
        _set(path, DARK, stored)
        code, out, err = _status(path, "--all")
        assert code == 3 and f"since {read[:10]}" in " ".join(out.split()), (out, err)
        code, out, _ = _status(path, "--json")
        assert json.loads(out)["goes_dark"] == {read: 1, "unknown": 1}, out
