"""``push`` as a fleet owner meets it over weeks: secrets never shown, failed units
retried, a full unit left as it was, a ledger that is not one left alone, frame sizes
and dates refused up front, units whose firmware ignores the file told apart, LAN units
known by their device id (issue 16, issue 12 section 5)."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import (
    assert_updated,
    ca_bytes,
    full_mongoose_unit,
    mdash_unit,
    mongoose_unit,
    write_ca,
)
from support.fleet_links import started

from esp_cabundle.cli import cli
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.virtual.rpc import MongooseUnit
from esp_cabundle.virtual.rpc_links import LanUnitServer

KEY = "owner-key-7f3a9c2e"


@pytest.fixture
def lan() -> Iterator[Any]:
    with started(LanUnitServer) as start:
        yield start


def push(tmp: Path, *argv: str, board: str = "mdash-arduino", **env: str | None) -> tuple[int, str]:
    if not (tmp / "ca.pem").exists():
        write_ca(tmp)
    args = ["push", *argv, "--board", board, "--bundle", str(tmp / "ca.pem")]
    if board != "mdash-arduino":  # mdash.net judges its CA; nothing judges a LAN unit's
        args += ["--allow", "unjudged"]
    if "--ledger" not in argv:
        args += ["--ledger", str(tmp / "c.db")]
    r = CliRunner().invoke(cli, [*args, "--timeout", "2"], env=env or None)
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


def rows(tmp: Path, name: str = "c.db") -> dict[str, Any]:
    with Ledger(tmp / name) as led:
        return {r.id: r for r in led.rows()}


# --- secrets (item 2) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content,message",
    [
        (b"KEY1\nLINE2\n", "holds more than one line"),
        (b"KEY1\r\nLINE2", "holds more than one line"),
        (b"KEY1 KEY2", "cannot have"),
        (b"KEY1\x1bKEY2", "cannot have"),
    ],
)
def test_a_bad_key_file_is_exit_2_and_never_shown(
    stand_in: Any, tmp_path: Path, content: bytes, message: str
) -> None:
    unit = mdash_unit("dev1")
    s = stand_in([unit])
    (tmp_path / "k").write_bytes(content)
    code, out = push(tmp_path, "--mdash", s.url, "--api-key-file", str(tmp_path / "k"),
                     "--dry-run", MDASH_API_KEY=None)  # fmt: skip
    assert code == 2 and message in out, out
    assert "KEY1" not in out and "LINE2" not in out and "KEY2" not in out
    assert "Traceback" not in out and unit.calls == [] and s.requests == []
    assert not (tmp_path / "c.db").exists()


def test_a_key_http_cannot_carry_is_refused_by_the_transport_too() -> None:
    from esp_cabundle.errors import InputError
    from esp_cabundle.push.http import HttpPool
    from esp_cabundle.push.mdash import MdashTransport

    with pytest.raises(InputError, match="cannot carry") as e:
        MdashTransport("KEY1\nLINE2", base_url="http://127.0.0.1:9/api/v2")
    assert "KEY1" not in str(e.value)
    pool = HttpPool("http://127.0.0.1:9/api/v2", timeout=1)
    with pytest.raises(InputError, match="cannot carry") as e:
        pool.request("GET", "/devices", headers={"Authorization": "Bearer KEY1\nLINE2"})
    assert "KEY1" not in e.value.message and e.value.__suppress_context__


def test_no_secret_in_output_or_ledger_even_on_internal_errors(
    stand_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug whose message quotes the key: the campaign records it masked, the log line
    Python prints for it is masked, and a bug outside the campaign prints a masked
    traceback (exit 1) instead of the key."""
    from esp_cabundle.push import files, mdash

    s = stand_in([mdash_unit("dev1")])

    def leaky_info(self: Any) -> Any:
        raise ValueError(f"Invalid header value b'Bearer {KEY}'")

    monkeypatch.setattr(files.UnitFiles, "info", leaky_info)
    code, out = push(tmp_path, "--mdash", s.url)
    assert code == 3 and KEY not in out and "[redacted]" in out, out
    assert "internal error: ValueError" in rows(tmp_path)["dev1"].last_error
    blob = b"".join(f.read_bytes() for f in tmp_path.glob("c.db*"))
    assert KEY.encode() not in blob and b"[redacted]" in blob
    monkeypatch.undo()
    monkeypatch.setenv("MDASH_API_KEY", KEY)

    def leaky_units(self: Any) -> Any:
        raise RuntimeError(f"boom {KEY!r} {KEY.encode()!r}")

    monkeypatch.setattr(mdash.MdashTransport, "units", leaky_units)
    code, out = push(tmp_path, "--mdash", s.url)
    assert code == 1 and "RuntimeError: boom" in out and KEY not in out, out
    assert "internal error" in out


@pytest.mark.parametrize("as_json", [False, True])
def test_an_error_quoting_the_key_is_masked_in_text_and_json(
    stand_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    from esp_cabundle.errors import UnitRpcError
    from esp_cabundle.push import mdash

    s = stand_in([mdash_unit("dev1")])

    def leaky_units(self: Any) -> Any:
        raise UnitRpcError(f"listing refused for {KEY}", hint=f"check {KEY}")

    monkeypatch.setattr(mdash.MdashTransport, "units", leaky_units)
    code, out = push(tmp_path, "--mdash", s.url, *(["--json"] if as_json else []))
    assert code == 3 and KEY not in out and "listing refused for [redacted]" in out, out
    if as_json:
        doc, _ = json.JSONDecoder().raw_decode(out[out.index("{") :])
        assert doc["error"] == "listing refused for [redacted]"
        assert doc["hint"] == "check [redacted]"


def test_masked_log_records_and_error_lines() -> None:
    from esp_cabundle.redact import forget, redact, remember

    remember("s3cret-XYZ\nsecond-line")
    try:
        assert redact("a s3cret-XYZ b") == "a [redacted] b"
        assert "second-line" not in redact("x second-line y")
        assert redact(repr(b"Bearer s3cret-XYZ\nsecond-line")).count("[redacted]") == 1
        record = logging.getLogger("esp_cabundle.test").makeRecord(
            "esp_cabundle.test", logging.ERROR, __file__, 1, "key %s", ("s3cret-XYZ",), None
        )
        assert record.getMessage() == "key [redacted]"
    finally:
        forget()
    assert redact("s3cret-XYZ") == "s3cret-XYZ"


@pytest.mark.parametrize(
    "url",
    ["http://user:{KEY}@{HOST}/api/v2", "http://{HOST}/api/v2?access_token={KEY}",
     "http://{KEY}@{HOST}/api/v2"],
)  # fmt: skip
def test_a_key_in_the_mdash_url_is_refused(stand_in: Any, tmp_path: Path, url: str) -> None:
    unit = mdash_unit("dev1")
    s = stand_in([unit])
    host = s.url.split("//", 1)[1].split("/", 1)[0]
    code, out = push(tmp_path, "--mdash", url.format(KEY="URLKEY99", HOST=host))
    assert code == 2 and "visible in the process list" in out, out
    assert "URLKEY99" not in out and unit.calls == [] and s.requests == []
    assert not (tmp_path / "c.db").exists()
    # the message reads as written: only the key is masked, never the word "user"
    assert "(user:KEY@ or ?access_token=)" in out, out


# --- retries and the end of a watch (item 3) -----------------------------------------


@pytest.mark.timeout(60)
def test_watch_retries_a_failed_unit_and_ends_when_all_are_done(
    stand_in: Any, tmp_path: Path
) -> None:
    """A unit whose writes read back wrong twice fails its first try; a watch without
    --until tries it again on a later pass and ends once every unit is done (it used to
    skip it for good and never end)."""
    flaky = mdash_unit("flaky", corrupt_writes=4)  # both writes of the first try
    s = stand_in([mdash_unit("fine"), flaky])
    code, out = push(tmp_path, "--mdash", s.url, "--watch", "--poll", "0.2")
    assert code == 0, out
    led = rows(tmp_path)
    assert led["flaky"].state == "verified" and led["flaky"].attempts == 2
    assert_updated(flaky, ca_bytes())


def test_watch_retries_with_backoff(stand_in: Any, tmp_path: Path) -> None:
    """A unit that keeps failing is tried on later passes, each wait twice the last."""
    bad = mdash_unit("bad", malformed=True)
    s = stand_in([bad])
    from datetime import datetime, timezone

    end = datetime.fromtimestamp(time.time() + 3.2, timezone.utc).isoformat()
    code, out = push(tmp_path, "--mdash", s.url, "--watch", "--poll", "0.1", "--until", end,
                     "--json")  # fmt: skip
    assert code == 3
    # the document, then (stderr, no terminal) the watch's log lines
    doc, _ = json.JSONDecoder().raw_decode(out, out.index("{"))
    assert " pass 1: " in out[out.index("{") :], out
    attempts = rows(tmp_path)["bad"].attempts
    # waits of 0.1, 0.2, 0.4, 0.8, 1.6 s: five or six tries in 3.2 s, over more passes
    # (a pass a try without the backoff; a loaded machine makes fewer passes: 7 for 4)
    assert 4 <= attempts <= 7 and doc["passes"] > attempts, (attempts, doc["passes"])


# --- a full unit (item 4) --------------------------------------------------------------


def cramped_unit(uid: str, **kw: Any) -> MongooseUnit:
    """A LittleFS unit whose old CA file is large (9000 bytes) and whose free space has
    room for the new file in place of the old one, not beside it."""
    return full_mongoose_unit(uid, blocks=16, old_ca=b"old CA\n" * 1286, spare=1, **kw)


def test_a_full_unit_says_out_of_space_and_is_left_as_it_was(lan: Any, tmp_path: Path) -> None:
    # Units that do not report their free space (test_push_safety: those that do are
    # refused before anything is written): the write itself finds them full.
    for make in (full_mongoose_unit, cramped_unit):
        unit = make(f"full-{make.__name__}", reports_space=False)
        before = unit.files()
        server = lan(unit)
        code, out = push(tmp_path, "--rpc", server.http_url,
                         "--ledger", str(tmp_path / f"{make.__name__}.db"),
                         board="mongoose-os-esp32")  # fmt: skip
        assert code == 3, out
        row = rows(tmp_path, f"{make.__name__}.db")[unit.unit_id]
        assert row.state == "failed"
        assert "out of space on the unit writing ca.pem.new" in row.last_error
        assert "failed to write data" in row.last_error  # the unit's own words, kept
        assert "ca.pem.new removed again" in row.last_error and "--in-place" in row.last_error
        assert "out of space on the unit" in out and "push again with --in-place" in out
        assert f"unit {unit.unit_id}:" not in out  # the unit column already names it
        assert f"(unit {unit.unit_id}:" not in row.last_error
        assert unit.files() == before  # no ca.pem.new left: the unit is as it was
        assert unit.count("FS.Remove", filename="ca.pem.new") == 1
    # Written in place, a unit without room gets its old file back (it fitted before;
    # a cut ca.pem would leave it trusting nothing) and is told to free space only.
    full = full_mongoose_unit("full-in-place", reports_space=False)
    before = full.files()
    code, out = push(tmp_path, "--rpc", lan(full).http_url, "--in-place",
                     "--ledger", str(tmp_path / "in-place.db"),
                     board="mongoose-os-esp32")  # fmt: skip
    assert code == 3 and "1 unit is out of space: free space on it." in out, out
    assert "--in-place" not in out
    error = rows(tmp_path, "in-place.db")["full-in-place"].last_error
    assert "out of space on the unit writing ca.pem (" in error
    assert "the old ca.pem written back" in error
    assert full.files() == before
    # Written in place, the new file fits where the old one was.
    code, out = push(tmp_path, "--rpc", server.http_url, "--in-place",
                     "--ledger", str(tmp_path / "cramped_unit.db"),
                     board="mongoose-os-esp32")  # fmt: skip
    assert code == 0, out
    assert unit.files()["/ca.pem"] == ca_bytes() and "/ca.pem.new" not in unit.files()
    assert unit.count("FS.Put", filename="ca.pem", append=False) == 1


def test_mdash_errno_28_is_out_of_space() -> None:
    from esp_cabundle.errors import UnitRpcError
    from esp_cabundle.push.campaign import out_of_space

    assert out_of_space(UnitRpcError("unit a: FS.Put failed (500): fwrite(/spiffs/x) 9, errno 28"))
    assert out_of_space(UnitRpcError("unit a: FS.Put failed (500): failed to write data"))
    assert not out_of_space(UnitRpcError("unit a: FS.Put failed (500): errno 280"))
    assert not out_of_space(UnitRpcError("unit a: FS.Get failed (400): bad base64"))


# --- ledgers that are not ours (item 7) ------------------------------------------------


def _foreign(path: Path, *, wal: bool) -> bytes:
    db = sqlite3.connect(path)
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE notes (text TEXT)")
    db.execute("INSERT INTO notes VALUES ('mine')")
    db.commit()
    db.close()
    path.chmod(0o644)
    return path.read_bytes()


@pytest.mark.parametrize("wal", [False, True])
def test_a_sqlite_file_that_is_not_a_ledger_is_refused_unchanged(
    stand_in: Any, tmp_path: Path, wal: bool
) -> None:
    s = stand_in([mdash_unit("dev1")])
    other = tmp_path / "other.db"
    before = _foreign(other, wal=wal)
    for argv in (["push", "status", "--ledger", str(other)], ["push", "status", "--ledger",
                 str(other), "--json"]):  # fmt: skip
        r = CliRunner().invoke(cli, argv)
        assert r.exit_code == 2 and "not a campaign ledger" in r.output, r.output
    code, out = push(tmp_path, "--mdash", s.url, "--ledger", str(other))
    assert code == 2 and "not a campaign ledger" in out
    assert other.read_bytes() == before and other.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.pem", "other.db"]
    assert s.units["dev1"].count("FS.Put") == 0


def test_status_reads_a_ledger_without_writing_it(stand_in: Any, tmp_path: Path) -> None:
    s = stand_in([mdash_unit("dev1")])
    code, _ = push(tmp_path, "--mdash", s.url)
    assert code == 0
    ledger = tmp_path / "c.db"
    before = ledger.read_bytes()
    ledger.chmod(0o400)  # read-only: status must not need to write
    try:
        r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(ledger), "--json"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["counts"]["verified"] == 1
    finally:
        ledger.chmod(0o600)
    assert ledger.read_bytes() == before
    for side in tmp_path.glob("c.db-*"):
        assert side.stat().st_mode & 0o077 == 0


def test_a_schema_1_ledger_is_read_and_carried_on(stand_in: Any, tmp_path: Path) -> None:
    """Ledgers written before "unused", addresses and notes: status reads them as they
    are; the next push rebuilds the table in place, keeping every row."""
    from support.ledger_schemas import SCHEMA_1

    old = tmp_path / "c.db"
    db = sqlite3.connect(old)
    db.executescript(SCHEMA_1)
    db.execute("INSERT INTO campaign VALUES ('schema', '1')")
    db.execute(
        "INSERT INTO units (id, transport, state, attempts, first_seen, updated_at) "
        "VALUES ('dev9', 'mdash', 'offline', 3, '2026-01-01T00:00:00+00:00', "
        "'2026-01-01T00:00:00+00:00')"
    )
    db.commit()
    db.close()
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(old), "--json"])
    assert r.exit_code == 3, r.output  # read whole; dev9 is offline: not finished
    assert json.loads(r.output)["units"][0]["address"] is None
    s = stand_in([mdash_unit("dev1", fw_version="1.2.16-a-10819-ESP32_DEV")])
    code, _ = push(tmp_path, "--mdash", s.url)
    assert code == 0  # the 1.2.16 unit does not read the file: nothing to do
    led = rows(tmp_path)
    assert led["dev9"].attempts == 3 and led["dev1"].state == "unused"
    with Ledger(old) as ledger:
        assert ledger.meta()["schema"] == "2"


# --- frame size (item 8) ---------------------------------------------------------------


def _one_root() -> bytes:
    """One root (ISRG Root X1, which mdash.net's chain needs): at the smallest frame the
    file goes in very many calls, so the smaller the file, the quicker the test."""
    from esp_cabundle.bundle import BundleSpec
    from esp_cabundle.dates import now
    from esp_cabundle.gate import CaSource, gate_ca

    return gate_ca(CaSource.build(BundleSpec(roots=("isrg-root-x1",))), at=now()).pem


def test_a_frame_size_too_small_is_refused_up_front(stand_in: Any, tmp_path: Path) -> None:
    """The room a frame needs grows with the unit's id (it is in every answer); 256
    bytes leave none for a unit with a long id."""
    unit = mdash_unit("unit-" + "0123456789" * 6)
    s = stand_in([unit])
    ca = _one_root()
    (tmp_path / "ca.pem").write_bytes(ca)
    code, out = push(tmp_path, "--mdash", s.url, "--frame-size", "256")
    assert code == 2 and "--frame-size 256 leaves no room" in out, out
    # It says why the minimum is what it is, and that it depends on this device id.
    assert "the request's envelope" in out and "for this device id it needs at least" in out
    assert unit.calls == [] and not (tmp_path / "c.db").exists()
    need = int(out.split("needs at least ")[1].split()[0])
    code, out = push(tmp_path, "--mdash", s.url, "--frame-size", str(need - 1))
    assert code == 2 and unit.calls == []
    code, out = push(tmp_path, "--mdash", s.url, "--frame-size", str(need))
    assert code == 0, out  # the minimum named is the real one: it works
    assert_updated(unit, ca)


def test_a_frame_size_refused_names_one_that_is_taken(stand_in: Any, tmp_path: Path) -> None:
    """``--frame-size 100`` was refused by the option's bound with the hint 256, which the
    unit's check then refused (257 the least for its id): the hint failed when pasted.
    The bound is now the file data alone (LEAST_FRAME_BUDGET), so the check that knows
    the unit's id refuses 100 and names the size that works; under the bound, the hint's
    value passes the option's check and reaches that one."""
    from esp_cabundle.push.files import LEAST_FRAME_BUDGET

    unit = mdash_unit("unit-" + "0123456789" * 6)
    s = stand_in([unit])
    (tmp_path / "ca.pem").write_bytes(_one_root())  # few frames at the smallest size
    code, out = push(tmp_path, "--mdash", s.url, "--frame-size", "100")
    assert code == 2 and "bad --frame-size" not in out, out
    hint = re.search(r"hint: give --frame-size (\d+) or more", out)
    assert hint is not None and unit.calls == [], out
    code, out = push(tmp_path, "--mdash", s.url, "--frame-size", hint[1])
    assert code == 0, out  # the hint followed: taken, and the unit updated with it
    code, out = push(tmp_path, "--mdash", s.url, "--frame-size", str(LEAST_FRAME_BUDGET - 1))
    taken = re.search(r"e\.g\. esp-cabundle push .*--frame-size (\d+)", " ".join(out.split()))
    assert code == 2 and taken is not None and int(taken[1]) == LEAST_FRAME_BUDGET, out
    code, out = push(tmp_path, "--mdash", s.url, "--frame-size", taken[1], "--dry-run")
    assert code == 2 and "bad --frame-size" not in out and "leaves no room" in out, out


def test_frame_size_help_says_the_envelope_sets_the_minimum() -> None:
    """Help shows the least the option takes, but the real one depends on the device id:
    the help says so, so a refused size over that least is no surprise."""
    from esp_cabundle.push.files import LEAST_FRAME_BUDGET

    out = " ".join(CliRunner().invoke(cli, ["push", "--help"], terminal_width=200).output.split())
    assert f"[{LEAST_FRAME_BUDGET}<=x<=1048576]" in out
    assert "also holds the request's envelope" in out and "depends on the device id" in out


# --- firmware that does not read the file (item 10) ------------------------------------


def test_units_whose_firmware_ignores_the_file_are_told_apart(
    stand_in: Any, tmp_path: Path
) -> None:
    """mDash 1.2.16 verifies mdash.net with its built-in ISRG Root X1 and never opens
    /spiffs/ca.pem: such a unit is "unused", not written, not counted protected."""
    old, new = (
        mdash_unit("old", fw_version="1.2.13-a-10819-ESP32_DEV"),
        mdash_unit("new", fw_version="1.2.16-a-10819-ESP32_DEV"),
    )
    s = stand_in([old, new])
    code, out = push(tmp_path, "--mdash", s.url, "--dry-run", "--json")
    assert code == 0
    survey = {u["id"]: u for u in json.loads(out[out.index("{") :])["units"]}
    assert survey["new"]["state"] == "unused" and survey["old"]["state"] == "would-write"
    code, out = push(tmp_path, "--mdash", s.url, "--board", "mdash-arduino@1.2.13")
    assert code == 0, out
    assert "1 of 2 units done (1 unused, 1 verified); 1 unused: no push changes it" in out
    assert "whose firmware does not read the file" in out
    led = rows(tmp_path)
    assert led["old"].state == "verified" and led["new"].state == "unused"
    assert "mDash 1.2.16 does not read /spiffs/ca.pem" in led["new"].note
    assert "built-in ISRG Root X1" in led["new"].note
    assert new.count("FS.Put") == 0 and new.count("FS.Get") == 0
    assert_updated(old, ca_bytes())
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(tmp_path / "c.db")])
    assert "unused       1" in r.output and "mDash 1.2.16 does not read" in r.output


def test_a_fleet_with_unused_units_can_finish(stand_in: Any, tmp_path: Path) -> None:
    """A state no push can change must not fail every run: a mixed fleet whose other
    units are done exits 0 (dry run, plain run, --watch, the same again), while every
    output still lists the unused unit and why; status, --json and CSV agree."""
    a, b = mdash_unit("dev-a"), mdash_unit("dev-b", fw_version="1.2.16-a-10819-ESP32_DEV")
    s = stand_in([a, b])
    code, out = push(tmp_path, "--mdash", s.url, "--dry-run")
    assert code == 0, out
    # dev-a's room cannot be told (mDash reports no free space): not promised outright
    assert (
        "a push would finish every unit if the 1 unit whose room for the file cannot be told "
        "has it; 1 unused: no push changes it" in " ".join(out.split())
    ), out
    assert "not done" not in out and "mDash 1.2.16 does not read" in out
    code, out = push(tmp_path, "--mdash", s.url, "--dry-run", "--json")
    doc = json.loads(out[out.index("{") :])
    assert code == 0 and doc["would_finish"] is True
    assert [u["state"] for u in doc["units"]] == ["would-write", "unused"]
    assert not (tmp_path / "c.db").exists()  # the dry runs wrote nothing
    for extra in ((), (), ("--watch", "--poll", "1")):  # the second run: nothing left
        code, out = push(tmp_path, "--mdash", s.url, *extra)
        assert code == 0, out
        assert "1 of 2 units done" in out and "1 unused: no push changes it" in out
        assert "dev-b  1.2.16-a-10819-ESP32_DEV  mDash 1.2.16 does not read /spiffs/ca.pem" in out
    code, out = push(tmp_path, "--mdash", s.url, "--json")
    doc = json.loads(out[out.index("{") :])
    assert (
        code == 0
        and doc["ok"] is True
        and {s: n for s, n in doc["counts"].items() if n} == {"unused": 1, "verified": 1}
    )
    assert b.count("FS.Put") == 0 and b.count("FS.Get") == 0
    assert_updated(a, ca_bytes())
    ledger = str(tmp_path / "c.db")
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", ledger])
    assert r.exit_code == 0 and "Not yet updated" not in r.output, r.output
    assert "unused       1" in r.output
    assert "dev-b  1.2.16-a-10819-ESP32_DEV  mDash 1.2.16" in r.output
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", ledger, "--json"])
    doc = json.loads(r.output)
    assert r.exit_code == 0 and doc["counts"]["unused"] == 1 and doc["counts"]["verified"] == 1
    unused = next(u for u in doc["units"] if u["id"] == "dev-b")
    assert unused["state"] == "unused" and "does not read" in unused["note"]
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", ledger, "--csv"])
    table = {row["id"]: row for row in csv.DictReader(io.StringIO(r.output))}
    assert r.exit_code == 0 and table["dev-b"]["state"] == "unused"
    assert table["dev-b"]["note"] == unused["note"] and table["dev-a"]["state"] == "verified"


# --- next steps, device files (items 11, 13) --------------------------------------------


def test_a_missing_server_chain_says_what_push_can_do(stand_in: Any, tmp_path: Path) -> None:
    s = stand_in([mdash_unit("dev1")])
    code, out = push(tmp_path, "--mdash", s.url, "--server", "127.0.0.1:9")
    assert code == 3 and "has no saved chain" in out, out
    assert "--no-check" in out and "--no-check is refused" in out and "--server" in out
    assert "or pass --no-check to write" not in out


def test_a_devices_file_with_a_bom_and_bad_ids(stand_in: Any, tmp_path: Path) -> None:
    unit = mdash_unit("new16")
    s = stand_in([unit, mdash_unit("other")])
    (tmp_path / "units.txt").write_bytes("\ufeffnew16\n# a comment\n".encode())
    code, out = push(tmp_path, "--mdash", s.url, "--devices", str(tmp_path / "units.txt"))
    assert code == 0, out
    assert set(rows(tmp_path)) == {"new16"}
    for bad, shown in ((b"new16\x01\n", "'\\x01'"), (b"new 16\n", "' '"), (b"\xffx\n", "UTF-8")):
        (tmp_path / "bad.txt").write_bytes(bad)
        code, out = push(tmp_path, "--mdash", s.url, "--devices", str(tmp_path / "bad.txt"),
                         "--ledger", str(tmp_path / "bad.db"))  # fmt: skip
        assert code == 2 and shown in out and "Traceback" not in out, out
        assert not (tmp_path / "bad.db").exists()


# --- LAN units by device id (item 15) ---------------------------------------------------


def test_a_lan_unit_is_one_row_by_its_device_id(lan: Any, tmp_path: Path) -> None:
    """The same unit given over http and ws is one unit; after a DHCP change (a new
    URL) it keeps its row; a URL that never answered is merged once it does."""
    unit = mongoose_unit("esp32-lan-7")
    first = lan(unit)
    code, out = push(tmp_path, "--rpc", first.http_url, "--rpc", first.ws_url,
                     board="mongoose-os-esp32")  # fmt: skip
    assert code == 0, out
    assert "is unit esp32-lan-7, already listed at" in out
    led = rows(tmp_path)
    assert list(led) == ["esp32-lan-7"] and led["esp32-lan-7"].address == first.http_url
    assert unit.count("FS.Put", append=False) == 1
    moved = lan(unit)  # the same unit at another address
    code, out = push(tmp_path, "--rpc", moved.http_url, board="mongoose-os-esp32")
    assert code == 0, out
    led = rows(tmp_path)
    assert list(led) == ["esp32-lan-7"] and led["esp32-lan-7"].address == moved.http_url
    assert led["esp32-lan-7"].state == "verified"  # not a new unit: still done
    # A unit that does not answer is listed under its URL until it does.
    late = mongoose_unit("esp32-lan-8", online_at=time.monotonic() + 3600)
    server = lan(late)
    code, _ = push(tmp_path, "--rpc", server.http_url, board="mongoose-os-esp32")
    assert code == 3 and rows(tmp_path)[server.http_url].state == "offline"
    late.online_at = 0.0
    code, out = push(tmp_path, "--rpc", server.http_url, board="mongoose-os-esp32")
    assert code == 0, out
    led = rows(tmp_path)
    assert server.http_url not in led and led["esp32-lan-8"].state == "verified"
    assert led["esp32-lan-8"].address == server.http_url and led["esp32-lan-8"].attempts == 2


# --- tables (items 16/17) ---------------------------------------------------------------


def test_long_errors_are_cut_to_the_terminal_and_kept_whole_in_json(
    stand_in: Any, tmp_path: Path
) -> None:
    """Cut with an ellipsis to fit the terminal (COLUMNS); whole on a pipe, as ls and
    ps keep rows, with --wide, and in --json."""
    s = stand_in([mdash_unit("bad", malformed=True)])
    code, out = push(tmp_path, "--mdash", s.url, COLUMNS="80")
    assert code == 3 and "\u2026" in out
    full = rows(tmp_path)["bad"].last_error
    assert len(full) > 70
    status = ["push", "status", "--ledger", str(tmp_path / "c.db")]
    r = CliRunner().invoke(cli, status, env={"COLUMNS": "80"})
    assert "\u2026" in r.output and full.removeprefix("unit bad: ") not in r.output
    assert all(len(line) <= 80 for line in r.output.splitlines() if "\u2026" in line)
    for args, env in ((status, {}), ([*status, "--wide"], {"COLUMNS": "80"})):
        r = CliRunner().invoke(cli, args, env=env)
        assert "\u2026" not in r.output and full.removeprefix("unit bad: ") in r.output
    r = CliRunner().invoke(cli, [*status, "--json"], env={"COLUMNS": "80"})
    assert json.loads(r.output)["units"][0]["last_error"] == full


@pytest.mark.timeout(60)
def test_a_watch_log_does_not_claim_units_an_earlier_run_verified(
    stand_in: Any, tmp_path: Path
) -> None:
    """A watch over a ledger whose units an earlier run verified logged "pass 1: 2
    verified (done-1, done-2)", as if this pass had verified them uncontacted. Its pass
    lines say what the pass did; those are said once as "already verified"."""
    done = [mdash_unit("done-1"), mdash_unit("done-2")]
    s = stand_in(done)
    code, out = push(tmp_path, "--mdash", s.url)
    assert code == 0, out
    calls = [len(u.calls) for u in done]
    code, out = push(tmp_path, "--mdash", s.url, "--watch", "--poll", "0.2")
    assert code == 0, out
    (line,) = [ln for ln in out.splitlines() if " pass 1: " in ln]
    assert "pass 1: 2 already verified; units now: 2 verified" in line, line
    assert "done-1" not in line and [len(u.calls) for u in done] == calls


def test_a_watch_until_a_date_is_said_as_that_days_end(stand_in: Any, tmp_path: Path) -> None:
    """``--until 2026-12-05`` was said "or through 2026-12-06 00:00 UTC (--until)": one
    day too long to read. It is the end of the day typed, said so, with its instant."""
    from datetime import datetime, timedelta, timezone

    day = datetime.now(timezone.utc).date() + timedelta(days=2)
    s = stand_in([mdash_unit("soon")])
    code, out = push(tmp_path, "--mdash", s.url, "--watch", "--until", day.isoformat())
    assert code == 0, out
    after = (day + timedelta(days=1)).isoformat()
    said = f"until the end of {day.isoformat()} (00:00 UTC {after}), as --until says;"
    assert said in " ".join(out.split()), out
    assert "through" not in out, out
    from esp_cabundle.commands._push_until import until_words  # a date-time: as given

    at = datetime(2026, 12, 5, 14, 30, tzinfo=timezone(timedelta(hours=1)))
    assert until_words(at) == "until 2026-12-05 13:30 UTC"


def test_an_rpc_urls_query_values_are_used_but_never_kept_nor_shown(
    lan: Any, tmp_path: Path
) -> None:
    """``--rpc 'http://HOST/rpc?session=abc123'`` was taken and its query kept verbatim in
    the ledger, and shown by ``push status --csv``, while ?token= was refused: a query
    can hold any credential. The run uses the URL as given; the ledger keeps and every
    output shows it with each query value masked; a masked URL given back is refused
    (the unit would be sent the mask), and so are two URLs telling units apart only by
    their query values."""
    unit = mongoose_unit("q-unit")
    server = lan(unit)
    secret = "abc123SESSION"
    given = f"{server.http_url}?session={secret}&v"
    silent = f"http://127.0.0.1:1/rpc?session={secret}"  # no answer: listed by its URL
    code, out = push(tmp_path, "--rpc", given, "--rpc", silent, "--json",
                     board="mongoose-os-esp32")  # fmt: skip
    assert code == 3 and secret not in out, out
    assert_updated(unit, ca_bytes())  # reached at the URL as given
    assert secret.encode() not in (tmp_path / "c.db").read_bytes()
    shown = f"{server.http_url}?session=[redacted]&[redacted]"
    led = rows(tmp_path)
    assert led["q-unit"].state == "verified" and led["q-unit"].address == shown
    assert "http://127.0.0.1:1/rpc?session=[redacted]" in led
    for extra in ((), ("--csv",), ("--json",)):
        r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(tmp_path / "c.db"), *extra])
        assert secret not in r.stdout + r.stderr and "[redacted]" in r.stdout, r.stdout
    # a later run is given the URL again, whole: the same unit, its row
    code, out = push(tmp_path, "--rpc", given, board="mongoose-os-esp32")
    assert code == 0 and secret not in out and "1 of 1 units done" in out, out
    before = (tmp_path / "c.db").read_bytes()
    code, out = push(tmp_path, "--rpc", shown, board="mongoose-os-esp32")
    assert code == 2 and f"{shown}: its query holds [redacted], the mark the ledger" in out, out
    assert "hint: give the URL with its real values" in out, out
    other = f"{server.http_url}?session=other&v"
    code, out = push(tmp_path, "--rpc", given, "--rpc", other, board="mongoose-os-esp32")
    assert code == 2 and "two URLs differ only in their query values" in out, out
    assert secret not in out and "other" not in out, out
    assert (tmp_path / "c.db").read_bytes() == before


def test_a_watch_that_ran_to_until_a_date_says_that_days_end(
    stand_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--watch --until DAY`` that ran out of time ended on "Stopped watching at
    DAY+1 00:00 UTC": the next day, to read; it says the end of DAY, as --until's plan
    does. The clocks read a second before DAY ends."""
    from datetime import datetime, timedelta, timezone

    import esp_cabundle.commands.push as push_command
    import esp_cabundle.push.campaign as campaign

    day = datetime.now(timezone.utc).date() + timedelta(days=2)
    start, end = time.monotonic(), datetime(day.year, day.month, day.day, tzinfo=timezone.utc)

    def clock() -> datetime:
        return end + timedelta(days=1, seconds=time.monotonic() - start - 1)

    monkeypatch.setattr(push_command, "now", clock)
    monkeypatch.setattr(campaign, "_now_utc", clock)
    s = stand_in([mdash_unit("late", online_at=time.monotonic() + 3600)])
    argv = ("--mdash", s.url, "--watch", "--poll", "0.3", "--until", day.isoformat())
    code, out = push(tmp_path, *argv)
    assert code == 3, out
    after = (day + timedelta(days=1)).isoformat()
    said = f"Stopped watching at the end of {day.isoformat()} (00:00 UTC {after}), the end"
    assert said in " ".join(out.split()), out
