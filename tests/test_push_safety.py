"""push does not write what nobody judged, nor to a unit of another board, and its dry
run promises only what a push delivers; ``ok`` means one thing in push and status.

Over a real mosquitto to simulated Mongoose OS units (LittleFS images, checked after)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import ca_bytes, full_mongoose_unit, mongoose_unit, write_ca
from support.fleet_links import unit_hosts, unit_ids
from support.gated import gated

from esp_cabundle.cli import cli
from esp_cabundle.push.campaign_types import PushFile
from esp_cabundle.push.files import UnitInfo
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.push.room import room_for
from esp_cabundle.push.survey import SurveyRow, unsure
from esp_cabundle.virtual.rpc import SimUnit


def ids(k: int) -> list[str]:
    return unit_ids("safe-t", k)


@pytest.fixture
def host(mosquitto: Any) -> Iterator[Any]:
    yield from unit_hosts(mosquitto.port)


def push(
    mosquitto: Any, tmp: Path, units: list[SimUnit], *extra: str, board: str = "mongoose-os-esp32"
) -> tuple[int, str]:
    ca = tmp / "ca.pem"
    if not ca.exists():
        write_ca(tmp)
    argv = ["push", "--mqtt", mosquitto.url, "--board", board, "--bundle", str(ca)]
    argv += ["--ledger", str(tmp / "campaign.db"), "--timeout", "1"]
    for u in units:
        argv += ["--device", u.unit_id]
    r = CliRunner().invoke(cli, [*argv, *extra])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


def rows(tmp: Path) -> dict[str, Any]:
    with Ledger(tmp / "campaign.db") as ledger:
        return {r.id: r for r in ledger.rows()}


def test_a_ca_nothing_judged_is_not_pushed_unless_allowed(
    mosquitto: Any, host: Any, tmp_path: Path
) -> None:
    """A plain mqtt:// broker, no --server, no target, a board with no server of its
    own: refused before any unit is touched (exit 2); --allow unjudged pushes it."""
    (uid,) = ids(1)
    unit = mongoose_unit(uid)
    host([unit])
    for extra in ((), ("--dry-run",)):
        code, out = push(mosquitto, tmp_path, [unit], *extra)
        assert code == 2, out
        assert "no server judged the CA" in out and "--allow unjudged" in out, out
        assert "--server HOST[:PORT]" in out
        assert unit.calls_total == 0 and not (tmp_path / "campaign.db").exists()
    code, out = push(mosquitto, tmp_path, [unit], "--allow", "unjudged")
    assert code == 0, out
    assert rows(tmp_path)[uid].state == "verified"
    assert unit.files()["/ca.pem"] == ca_bytes()


def test_a_unit_running_another_boards_firmware_is_not_written(
    mosquitto: Any, host: Any, tmp_path: Path
) -> None:
    """A Mongoose OS unit pushed as mdash-arduino (whose CA is judged against mdash.net)
    reports mg_version: it is failed with the board it runs in the hint, not written;
    the dry run says the same."""
    (uid,) = ids(1)
    unit = mongoose_unit(uid)
    host([unit])
    before = unit.files()["/ca.pem"]
    code, out = push(mosquitto, tmp_path, [unit], "--dry-run", "--json", board="mdash-arduino")
    assert code == 3, out
    doc = json.loads(out[out.index("{") :])
    (row,) = doc["units"]
    assert row["state"] == "failed" and "reports Mongoose OS 2.20.0" in row["error"], row
    assert "--board mongoose-os-esp32" in row["error"]
    code, out = push(mosquitto, tmp_path, [unit], board="mdash-arduino")
    assert code == 3, out
    assert "0 of 1 units done (1 failed)" in out, out
    r = rows(tmp_path)[uid]
    assert r.state == "failed" and "not the mDash that board mdash-arduino runs" in r.last_error
    assert "--board mongoose-os-esp32" in r.last_error
    assert unit.count("FS.Put") == 0 and unit.files()["/ca.pem"] == before


@pytest.mark.parametrize("in_place", [False, True])
def test_a_dry_run_says_a_unit_without_room_would_fail(
    mosquitto: Any, host: Any, tmp_path: Path, in_place: bool
) -> None:
    """The unit reports fs_free (Mongoose OS Sys.GetInfo): a file that cannot fit is
    "would fail: no room" and the dry run exits 3, as the push then does."""
    full, roomy = ids(2)
    units = [full_mongoose_unit(full), mongoose_unit(roomy)]
    host(units)
    extra = ("--allow", "unjudged", *(("--in-place",) if in_place else ()))
    code, out = push(mosquitto, tmp_path, units, *extra, "--dry-run", "--json")
    assert code == 3, out
    doc = json.loads(out[out.index("{") :])
    by_id = {u["id"]: u for u in doc["units"]}
    need = len(ca_bytes())
    name = "ca.pem" if in_place else "ca.pem.new"
    assert by_id[full]["state"] == "failed", by_id[full]
    old = " and the old ca.pem frees 448 bytes" if in_place else ""  # b"old CA\n" * 64
    assert by_id[full]["error"] == (
        f"would fail: no room ({name} needs {need:,} bytes, the unit has 0 bytes free{old})"
    )
    assert by_id[roomy]["state"] == "would-write"
    assert by_id[roomy]["room"].startswith(f"fits ({name} needs {need:,} bytes")
    assert not doc["would_finish"]
    code, out = push(mosquitto, tmp_path, units, *extra, "--dry-run")
    assert code == 3 and "a push now would leave 1 unit not done (exit 3)" in out, out
    code, out = push(mosquitto, tmp_path, units, *extra)
    assert code == 3 and rows(tmp_path)[full].state == "failed", out


def test_the_text_dry_run_shows_each_units_room(
    mosquitto: Any, host: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text preview had no room column (only --json's "room" said it): a fleet owner
    could not see which unit the file barely fits. Each row shows its --json room, sizes
    as the rest of the output gives them ("6,054 bytes"), the columns aligned; a unit
    with no room says so once (the why column repeated it), and its current CA."""
    full, roomy = ids(2)
    units = [full_mongoose_unit(full), mongoose_unit(roomy)]
    host(units)
    extra = ("--allow", "unjudged", "--dry-run")
    code, out = push(mosquitto, tmp_path, units, *extra, "--json")
    rooms = {u["id"]: u["room"] for u in json.loads(out[out.index("{") :])["units"]}
    monkeypatch.delenv("COLUMNS", raising=False)  # no terminal: whole rows
    code, out = push(mosquitto, tmp_path, units, *extra)
    assert code == 3, out
    lines = out.splitlines()
    (head,) = [line for line in lines if line.startswith("unit ")]
    at = head.index("room")
    assert head.index("would") < at < head.index("current CA / why"), head
    for uid in (full, roomy):
        (line,) = [line for line in lines if line.startswith(uid + " ")]
        assert line[at:].startswith(rooms[uid]), (line, rooms[uid])
        assert f"{len(ca_bytes()):,} bytes" in line, line
        assert line[at - 2 : at] == "  ", line  # aligned under its header
    assert rooms[roomy].startswith("fits (") and rooms[full].startswith("no room (")
    (line,) = [line for line in lines if line.startswith(full + " ")]
    assert line.count("no room (") == 1, line  # the why column repeated the room's
    assert line.rstrip().endswith("no certificate readable (448 bytes)"), line  # its CA
    assert [(u.files()["/ca.pem"] != ca_bytes()) for u in units] == [True, True]


def test_a_push_does_not_write_a_unit_the_file_cannot_fit(
    mosquitto: Any, host: Any, tmp_path: Path
) -> None:
    """The push asks as its dry run does: a unit whose reported free space cannot hold
    the file is failed "out of space" before any FS.Put (in place: no truncated CA)."""
    (full,) = ids(1)
    unit = full_mongoose_unit(full)
    host([unit])
    before = unit.files()
    for extra in ((), ("--in-place",)):
        code, out = push(mosquitto, tmp_path, [unit], "--allow", "unjudged", *extra)
        assert code == 3 and "out of space" in out, out
        error = rows(tmp_path)[full].last_error
        assert "no room (" in error and "not written" in error, error
        assert unit.count("FS.Put") == 0 and unit.files() == before


def test_in_place_is_offered_only_where_it_may_fit(
    mosquitto: Any, host: Any, tmp_path: Path
) -> None:
    """A unit too full for the staged copy was told "push again with --in-place" even
    when the file could not fit in place of the old one either; now that is offered only
    where free space plus the old file's may hold it, and otherwise the way out is space
    freed or a smaller bundle. In place, the old file's bytes are counted (and said)."""
    need = len(ca_bytes())
    tight, cramped = ids(2)
    big_old = b"old CA\n" * 1286  # 9 KB: in its place the new file may fit
    # tight: 4 KiB free and a small old file, no way to fit.
    units = [full_mongoose_unit(tight, blocks=12, spare=1),
             full_mongoose_unit(cramped, blocks=16, old_ca=big_old, spare=1)]  # fmt: skip
    host(units)
    before = [u.files() for u in units]
    code, out = push(mosquitto, tmp_path, units, "--allow", "unjudged")
    assert code == 3, out
    r = rows(tmp_path)
    assert "--in-place" not in r[tight].last_error, r[tight].last_error
    assert "ca.pem cannot fit even written over the old one" in r[tight].last_error
    assert "push a smaller CA bundle" in r[tight].last_error
    assert "--in-place" in r[cramped].last_error, r[cramped].last_error  # 9 KB old file
    assert "push again with --in-place" not in out, out  # not every full unit it helps
    assert [u.files() for u in units] == before
    code, out = push(mosquitto, tmp_path, units[:1], "--allow", "unjudged")
    assert code == 3 and "push again with --in-place" not in out, out
    code, out = push(mosquitto, tmp_path, units[:1], "--allow", "unjudged", "--in-place")
    assert code == 3, out
    error = rows(tmp_path)[tight].last_error
    assert f"no room (ca.pem needs {need:,} bytes, the unit has 4,096 bytes free and the old " \
        f"ca.pem frees 448 bytes)" in error, error  # fmt: skip
    assert "push a smaller CA bundle" in error
    assert units[0].files() == before[0] and units[0].count("FS.Put") == 0


def test_room_that_cannot_be_told_is_not_promised() -> None:
    """A unit that does not report its free space (mDash), or one where the old file's
    room decides it (in place), is neither promised nor refused."""
    push_file = PushFile(gated(ca_bytes(), "mongoose-os-esp32"))
    need = len(push_file.data)
    assert UnitInfo.from_result({"fw_version": "1.2.14-a-10819-ESP32_DEV"}).fs_free is None
    fits, words = room_for(push_file, b"old", None, in_place=False)
    assert fits is None and words.startswith("unknown: the unit does not report")
    fits, words = room_for(push_file, b"x" * need, need - 100, in_place=True)
    assert fits is None and words.startswith("may not fit")
    assert room_for(push_file, None, need, in_place=False)[0] is True
    assert room_for(push_file, b"x" * need, need - 100, in_place=False)[0] is False
    rows = [
        SurveyRow("a", "mqtt", "would-write", room=words),
        SurveyRow("b", "mqtt", "would-write", room="fits (...)"),
        SurveyRow("c", "mqtt", "up-to-date"),
    ]
    assert [r.id for r in unsure(rows)] == ["a"]


def test_push_status_exits_as_the_push_did(mosquitto: Any, host: Any, tmp_path: Path) -> None:
    """A campaign with a unit offline: push exits 3, and so does push status (text and
    --json), whose ok says the campaign is not finished; once every unit is done, 0."""
    up, away = ids(2)
    units = [mongoose_unit(up), mongoose_unit(away)]
    h = host(units[:1])  # the second never answers
    code, out = push(mosquitto, tmp_path, units, "--allow", "unjudged", "--json")
    assert code == 3 and json.loads(out[out.index("{") :])["ok"] is False
    ledger = str(tmp_path / "campaign.db")
    for extra in ((), ("--json",)):
        r = CliRunner().invoke(cli, ["push", "status", "--ledger", ledger, *extra])
        assert r.exit_code == 3, r.output
    h.close()
    host(units)
    code, out = push(mosquitto, tmp_path, units, "--allow", "unjudged")
    assert code == 0, out
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", ledger, "--json"])
    assert r.exit_code == 0, r.output


def test_no_bar_is_drawn_into_a_stderr_that_is_no_terminal(
    mosquitto: Any, host: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``push --dry-run 2> d.err`` ended the file with the bar's last frame ("units ━━━
    2/2 ...: would-write" and trailing spaces); a stderr that is no terminal gets no bar
    (a watch logs lines there instead), as the README says. A terminal still gets it."""
    import esp_cabundle.commands._unit as unit_mod

    units = [mongoose_unit(uid) for uid in ids(2)]
    host(units)
    for extra in (("--dry-run",), ()):
        code, out = push(mosquitto, tmp_path, units, "--allow", "unjudged", *extra)
        assert code == 0, out
        assert "━" not in out and not any(ln.startswith("units ") for ln in out.splitlines())
    monkeypatch.setattr(unit_mod, "stderr_is_tty", lambda: True)
    with unit_mod.units_progress(quiet=False) as bar:
        assert bar.bars is not None
    with unit_mod.units_progress(quiet=True) as bar:
        assert bar.bars is None


def test_the_units_bar_says_the_writing_state_once(
    mosquitto: Any, host: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar's line read "q-02: writing writing 13470 bytes": the state, then the event's
    text saying it again. Now "q-02: writing 13,470 bytes", sized as the rest says sizes."""
    from contextlib import contextmanager

    import esp_cabundle.commands.push as push_cmd
    from esp_cabundle.commands._unit import UnitsBar

    said: list[str] = []

    class Bars:
        def add_task(self, *_: Any, **__: Any) -> int:
            return 1

        def update(self, _task: Any, **kw: Any) -> None:
            if "status" in kw:
                said.append(kw["status"])

    @contextmanager
    def bar(*, quiet: bool) -> Iterator[UnitsBar]:
        yield UnitsBar(Bars())

    monkeypatch.setattr(push_cmd, "units_progress", bar)
    (uid,) = ids(1)
    units = [mongoose_unit(uid)]
    host(units)
    code, out = push(mosquitto, tmp_path, units, "--allow", "unjudged")
    assert code == 0, out
    assert f"{uid}: writing {len(ca_bytes()):,} bytes" in said, said
    assert not [line for line in said if "writing writing" in line], said
    assert said[-1] == f"{uid}: verified", said  # no trailing space
