"""A push whose ``FS.Rename`` fails after the firmware removed ``ca.pem``: the unit must
end holding a CA file, never none. mDash (cesanta/mDash ``rpc_fs_rename``) and Mongoose
OS on SPIFFS (vfs-fs-spiffs ``mgos_vfs_fs_spiffs_rename``) remove the target first, then
``SPIFFS_rename`` wants a free page and runs no garbage collection
(``spiffs_obj_lu_find_free`` refuses with fewer than two free blocks). The virtual units
remove the target as the firmware does; ``SPIFFS_rename``'s refusal is made here (the
image's writes keep its two free blocks, so a put then a rename never meets it alone).
The push removed ``ca.pem.new`` "again" after such a failure, leaving no CA at all."""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import ca_bytes, mdash_unit, mongoose_unit, write_ca
from support.fleet_links import started

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.errors import DeviceError, ImageError
from esp_cabundle.fs import open_image
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.virtual.boards import board_fs_image
from esp_cabundle.virtual.rpc import MongooseUnit, SimUnit
from esp_cabundle.virtual.rpc import _Error as VirtualError
from esp_cabundle.virtual.rpc_links import LanUnitServer, MqttUnitHost

KEY = "k3y-for-rename-lost-tests"
BOARD = "mongoose-os-esp32-spiffs"
PAGE = 256 - 5  # the board's SPIFFS data bytes per page


@pytest.fixture
def lan() -> Iterator[Any]:
    with started(LanUnitServer) as start:
        yield start


def spiffs_unit(uid: str, filler_pages: int, **kw: Any) -> MongooseUnit:
    """The board's 64 KiB SPIFFS, its old ca.pem and a filler of ``filler_pages``."""
    image = open_image(board_fs_image(load_board(BOARD), 0x10000))
    image.write("/filler.bin", b"\xa5" * filler_pages * PAGE)
    return MongooseUnit(uid, open_image(image.to_bytes()), **kw)


def refuse_renames(unit: SimUnit, monkeypatch: pytest.MonkeyPatch) -> None:
    """SPIFFS_rename refuses, as with fewer than two free blocks (the VFS above it has
    already removed the target by then)."""

    def rename(src: str, dst: str) -> None:
        raise ImageError(f"renaming {src!r} to {dst!r}: fewer than two free blocks left")

    monkeypatch.setattr(unit.image, "rename", rename)


def hog_after_rename(unit: SimUnit) -> None:
    """Once FS.Rename has answered, the unit's own firmware fills what room is left (a
    log growing), so neither CA file can be written again."""

    def hook(method: str, params: dict[str, Any], when: str) -> None:
        if method == "FS.Rename" and when == "after":
            n = 0
            while True:
                try:
                    unit.image.write(f"/log{n}.txt", b"L" * 10)
                except Exception:
                    return
                n += 1

    unit.hook = hook


def push(tmp: Path, *argv: str, board: str = BOARD) -> tuple[int, str]:
    ca = tmp / "ca.pem" if (tmp / "ca.pem").exists() else write_ca(tmp)
    line = f"push --board {board} --bundle {ca} --ledger {tmp / 'c.db'} --timeout 5"
    if board != "mdash-arduino":  # mdash.net judges its CA; nothing judges a LAN unit's
        line += " --allow unjudged"
    r = CliRunner().invoke(cli, [*shlex.split(line), *argv])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    out = r.stdout if "--json" in argv else " ".join((r.stdout + r.stderr).split())
    return r.exit_code, out


def row(tmp: Path, uid: str) -> Any:
    with Ledger(tmp / "c.db") as led:
        return {r.id: r for r in led.rows()}[uid]


def test_a_mongoose_unit_gets_ca_pem_written_when_the_rename_lost_it(
    lan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = spiffs_unit("dev-r", filler_pages=100)
    others = {p: d for p, d in unit.files().items() if p != "/ca.pem"}
    refuse_renames(unit, monkeypatch)
    code, out = push(tmp_path, "--rpc", lan(unit).http_url, "--json")
    assert code == 0, out
    files = unit.files()
    assert files.pop("/ca.pem") == ca_bytes() and files == others  # no ca.pem.new left
    r = row(tmp_path, "dev-r")
    assert r.state == "verified" and not r.last_error, r
    assert r.note == (
        "FS.Rename ca.pem.new -> ca.pem failed after removing ca.pem (FS.Rename failed "
        "(500): rename failed); ca.pem written directly and read back"
    )
    (doc,) = json.loads(out)["units"]
    assert doc["state"] == "verified" and doc["note"] == r.note, doc
    assert unit.count("FS.Rename") == 1 and unit.count("FS.Remove", filename="ca.pem.new") == 1


def test_an_mdash_unit_gets_ca_pem_written_when_the_rename_lost_it(
    stand_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = mdash_unit("dev1")
    others = {p: d for p, d in unit.files().items() if p != "/ca.pem"}
    refuse_renames(unit, monkeypatch)
    code, out = push(tmp_path, "--mdash", stand_in([unit]).url, board="mdash-arduino")
    assert code == 0, out
    files = unit.files()
    assert files.pop("/ca.pem") == ca_bytes() and files == others
    r = row(tmp_path, "dev1")
    assert r.state == "verified" and "ca.pem written directly and read back" in r.note


def test_nothing_written_keeps_ca_pem_new_and_says_ca_pem_is_gone(
    lan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = spiffs_unit("dev-g", filler_pages=100)
    refuse_renames(unit, monkeypatch)
    hog_after_rename(unit)
    code, out = push(tmp_path, "--rpc", lan(unit).http_url)
    assert code == 3, out
    files = unit.files()
    assert files["/ca.pem.new"] == ca_bytes()  # the unit's only CA, kept
    assert not files.get("/ca.pem")  # gone (or left empty by the refused write)
    assert unit.count("FS.Remove", filename="ca.pem.new") == 0
    r = row(tmp_path, "dev-g")
    assert r.state == "failed", r
    for said in (r.last_error, out):
        assert "its ca.pem is gone: FS.Rename ca.pem.new -> ca.pem removed it, then " in said
        assert "The new CA is only in ca.pem.new, kept on the unit" in said
        assert "must not restart before this is fixed" in said
        assert "push again to it (the rerun renames ca.pem.new onto ca.pem" in said
        assert "removed again" not in said
    # as the hint says: written in place, the unit is whole again
    unit.hook = None
    for n in range(200):
        if unit.image.exists(f"/log{n}.txt"):
            unit.image.remove(f"/log{n}.txt")
    code, out = push(tmp_path, "--rpc", lan(unit).http_url, "--in-place")
    assert code == 0, out
    assert unit.files()["/ca.pem"] == ca_bytes()


@pytest.mark.parametrize("full", [False, True], ids=["refused", "out-of-space"])
def test_the_old_ca_pem_is_written_back_when_the_new_one_cannot_be(
    lan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full: bool
) -> None:
    """Room for the old file (it fitted before) but not the new: the unit keeps its old
    CA, the run fails, and the staged copy is removed (ca.pem is there again). The hint
    is a room hint only when the unit said it is full, and never --in-place (which
    writes ca.pem directly, as was just refused); it was "free space on the unit ..., or
    push again with --in-place, which may fit: ... the unit reports no free space" of
    any refusal, a Mongoose OS unit that reports its free space included."""
    unit = spiffs_unit("dev-o", filler_pages=100)
    old = unit.files()["/ca.pem"]
    refuse_renames(unit, monkeypatch)
    hog_after_rename(unit)
    real = unit.dispatch

    def dispatch(method: str, p: dict[str, Any]) -> Any:
        if method == "FS.Put" and p.get("filename") == "ca.pem" and unit.hook is not None:
            unit.hook = None  # the first write of ca.pem fails; the log is rotated away
            for n in range(200):
                if unit.image.exists(f"/log{n}.txt"):
                    unit.image.remove(f"/log{n}.txt")
            if full:  # rpc-service-fs: a short fwrite
                raise VirtualError(500, "failed to write data")
            return real(method, {**p, "data": "!"})  # refused: "bad base64"
        return real(method, p)

    monkeypatch.setattr(unit, "dispatch", dispatch)
    code, out = push(tmp_path, "--rpc", lan(unit).http_url)
    assert code == 3, out
    files = unit.files()
    assert files["/ca.pem"] == old and "/ca.pem.new" not in files
    r = row(tmp_path, "dev-o")
    assert r.state == "failed", r
    assert "failed after removing ca.pem" in r.last_error
    assert "the old ca.pem written back; ca.pem.new removed again" in r.last_error
    assert "--in-place" not in r.last_error and "reports no free space" not in r.last_error
    assert r.last_error.startswith("unit dev-o: FS.Rename ca.pem.new -> ca.pem failed after")
    assert ("writing the new ca.pem failed, out of space (" in r.last_error) == full
    room = "(hint: free space on the unit (remove files it does not need), or push a smaller"
    assert (room in r.last_error) == full, r.last_error


def test_a_refused_rename_that_kept_ca_pem_removes_the_staged_copy_as_before(
    lan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LittleFS's ``lfs_rename`` replaces the target, so a refused rename leaves ca.pem:
    the staged copy is removed and the unit is as it was."""
    unit = mongoose_unit("dev-l")
    before = unit.files()
    refuse_renames(unit, monkeypatch)
    code, out = push(tmp_path, "--rpc", lan(unit).http_url, board="mongoose-os-esp32")
    assert code == 3, out
    assert unit.files() == before
    r = row(tmp_path, "dev-l")
    assert r.state == "failed"
    assert (
        r.last_error
        == "unit dev-l: FS.Rename failed (500): rename failed; ca.pem.new removed again"
    )


def test_a_unit_that_cannot_say_whether_ca_pem_is_left_keeps_ca_pem_new(
    lan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = spiffs_unit("dev-q", filler_pages=100)
    refuse_renames(unit, monkeypatch)
    real, renamed = unit.dispatch, []

    def dispatch(method: str, p: dict[str, Any]) -> Any:
        renamed.append(method == "FS.Rename" or bool(renamed and renamed[-1]))
        if renamed[-1] and method == "FS.Get":
            return real(method, {**p, "offset": -1})  # refused: "illegal offset"
        return real(method, p)

    monkeypatch.setattr(unit, "dispatch", dispatch)
    code, out = push(tmp_path, "--rpc", lan(unit).http_url)
    assert code == 3, out
    assert unit.files()["/ca.pem.new"] == ca_bytes() and "/ca.pem" not in unit.files()
    assert unit.count("FS.Put", filename="ca.pem") == 0  # nothing written blind
    r = row(tmp_path, "dev-q")
    assert r.state == "failed"
    assert (
        "its ca.pem may be gone: FS.Rename ca.pem.new -> ca.pem failed (FS.Rename failed "
        "(500): rename failed), which may have removed it;" in r.last_error
    )
    assert "asking for it then failed: FS.Get failed (400): illegal offset" in r.last_error
    assert "kept on the unit" in r.last_error and "removed again" not in r.last_error


def test_the_rerun_renames_the_kept_ca_pem_new_though_the_unit_has_no_room(
    lan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unit left with ca.pem.new alone (its log still filling the rest): the rerun,
    as --watch runs it, renames that copy, writing no second one. It refused the unit
    "out of space ... not written" (ca.pem.new needs 6,054 bytes, counted as if it were
    not there), replacing the error that said the unit must not restart; and a rerun
    that did write it again truncated the unit's only copy first."""
    unit = spiffs_unit("dev-w", filler_pages=100)
    refuse_renames(unit, monkeypatch)
    hog_after_rename(unit)
    code, out = push(tmp_path, "--rpc", lan(unit).http_url)
    assert code == 3 and "its ca.pem is gone" in row(tmp_path, "dev-w").last_error, out
    unit.hook = None
    monkeypatch.undo()  # SPIFFS_rename finds its free page now (GC ran meanwhile)
    puts = unit.count("FS.Put", filename="ca.pem.new")
    code, out = push(tmp_path, "--rpc", lan(unit).http_url, "--json")
    assert code == 0, out
    files = unit.files()
    assert files["/ca.pem"] == ca_bytes() and "/ca.pem.new" not in files
    assert unit.count("FS.Put", filename="ca.pem.new") == puts  # renamed, not rewritten
    r = row(tmp_path, "dev-w")
    assert r.state == "verified" and not r.last_error, r
    assert r.note == "ca.pem.new, left on the unit by an earlier run, renamed onto ca.pem"
    (doc,) = json.loads(out)["units"]
    assert doc["note"] == r.note, doc


def test_an_in_place_rerun_renames_the_kept_ca_pem_new_too(
    lan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--in-place would write ca.pem beside the kept copy, with no room for it."""
    unit = spiffs_unit("dev-i", filler_pages=100)
    refuse_renames(unit, monkeypatch)
    hog_after_rename(unit)
    assert push(tmp_path, "--rpc", lan(unit).http_url)[0] == 3
    unit.hook = None
    monkeypatch.undo()
    code, out = push(tmp_path, "--rpc", lan(unit).http_url, "--in-place")
    assert code == 0, out
    files = unit.files()
    assert files["/ca.pem"] == ca_bytes() and "/ca.pem.new" not in files
    assert row(tmp_path, "dev-i").state == "verified"


def test_a_unit_that_stops_answering_after_the_rename_is_said_to_maybe_lack_ca_pem(
    lan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Silent from the failed rename on: the row stays "writing" (read as holding its
    old or its new file whole), so its error says ca.pem may be gone, ca.pem.new is
    kept, and the next run renames it."""
    unit = spiffs_unit("dev-s", filler_pages=100)
    refuse_renames(unit, monkeypatch)

    def hook(method: str, params: dict[str, Any], when: str) -> None:
        if method == "FS.Rename" and when == "after":
            unit.silent = True

    unit.hook = hook
    link = lan(unit)
    code, out = push(tmp_path, "--rpc", link.http_url, "--timeout", "1")
    assert code == 3, out
    files = unit.files()
    assert files["/ca.pem.new"] == ca_bytes() and "/ca.pem" not in files
    r = row(tmp_path, "dev-s")
    assert r.state == "writing", r
    assert (
        "after FS.Rename ca.pem.new -> ca.pem failed (FS.Rename failed (500): rename "
        "failed), which may have removed ca.pem: the new CA is in ca.pem.new, kept on the "
        "unit; it must not restart before the next run renames ca.pem.new onto ca.pem"
    ) in r.last_error, r
    unit.silent, unit.hook = False, None
    monkeypatch.undo()
    code, out = push(tmp_path, "--rpc", link.http_url)
    assert code == 0, out
    assert unit.files()["/ca.pem"] == ca_bytes()
    assert row(tmp_path, "dev-s").state == "verified"


def test_an_empty_ca_pem_is_not_written_back_in_place_of_the_kept_copy(
    lan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit left by an earlier run with an empty ca.pem (the refused direct write
    created it) and ca.pem.new: its rename refused again and the new ca.pem refused,
    the empty file was "the old ca.pem written back" and ca.pem.new removed, leaving no
    CA at all while the error read as if the unit kept its old one."""
    unit = spiffs_unit("dev-e", filler_pages=100)
    unit.image.write("/ca.pem", b"")
    unit.image.write("/ca.pem.new", ca_bytes())
    refuse_renames(unit, monkeypatch)
    real = unit.dispatch

    def dispatch(method: str, p: dict[str, Any]) -> Any:
        if method == "FS.Put" and p.get("filename") == "ca.pem" and p.get("data"):
            return real(method, {**p, "data": "!"})  # refused: "bad base64"
        return real(method, p)

    monkeypatch.setattr(unit, "dispatch", dispatch)
    code, out = push(tmp_path, "--rpc", lan(unit).http_url)
    assert code == 3, out
    assert unit.files()["/ca.pem.new"] == ca_bytes()
    assert unit.count("FS.Remove", filename="ca.pem.new") == 0
    r = row(tmp_path, "dev-e")
    assert r.state == "failed", r
    assert "its ca.pem is gone" in r.last_error and "written back" not in r.last_error


def test_the_dry_run_says_the_kept_ca_pem_new_is_renamed_not_that_it_would_fail(
    lan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dry run counted room for ca.pem.new beside the kept copy: "would fail: no
    room", exit 3, for a unit the push then finishes."""
    unit = spiffs_unit("dev-d", filler_pages=100)
    refuse_renames(unit, monkeypatch)
    hog_after_rename(unit)
    link = lan(unit)
    assert push(tmp_path, "--rpc", link.http_url)[0] == 3
    unit.hook = None
    monkeypatch.undo()
    code, out = push(tmp_path, "--rpc", link.http_url, "--dry-run", "--json")
    assert code == 0, out
    (doc,) = json.loads(out[out.index("{") :])["units"]
    assert doc["state"] == "would-write", doc
    assert doc["room"] == (
        "fits (ca.pem.new, left by an earlier run, holds this file: renamed onto ca.pem "
        "as it is, no second copy written)"
    )
    assert push(tmp_path, "--rpc", link.http_url)[0] == 0


def test_a_broker_lost_after_the_refused_rename_leaves_ca_pem_new_for_the_rerun(
    broker: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over MQTT, the broker gone as the unit refuses the rename (its ca.pem removed):
    the pass stops (LinkLost), the row stays "writing", ca.pem.new is kept, and the run
    after the broker is back renames it."""
    unit = spiffs_unit("dev-m", filler_pages=100)
    refuse_renames(unit, monkeypatch)

    def hook(method: str, params: dict[str, Any], when: str) -> None:
        if method == "FS.Rename" and when == "after":
            broker.proc.terminate()
            broker.proc.wait(10)

    unit.hook = hook
    first = MqttUnitHost(broker.port, [unit])
    try:
        code, out = push(tmp_path, "--mqtt", broker.url, "--device", "dev-m")
    finally:
        first.close()
    assert code == 3 and "broker" in out, out
    files = unit.files()
    assert files["/ca.pem.new"] == ca_bytes() and "/ca.pem" not in files
    assert row(tmp_path, "dev-m").state == "writing"
    unit.hook = None
    monkeypatch.undo()
    broker.proc = subprocess.Popen(
        [broker.binary, "-c", str(broker.dir / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    again = started_host(broker.port, unit)
    try:
        code, out = push(tmp_path, "--mqtt", broker.url, "--device", "dev-m")
    finally:
        again.close()
    assert code == 0, out
    files = unit.files()
    assert files["/ca.pem"] == ca_bytes() and "/ca.pem.new" not in files
    r = row(tmp_path, "dev-m")
    assert r.state == "verified" and r.note == (
        "ca.pem.new, left on the unit by an earlier run, renamed onto ca.pem"
    )


def started_host(port: int, unit: SimUnit) -> MqttUnitHost:
    """A unit host on the restarted broker, once it listens (it takes a moment)."""
    for _ in range(100):
        try:
            return MqttUnitHost(port, [unit])
        except DeviceError:
            time.sleep(0.1)
    return MqttUnitHost(port, [unit])


def test_a_unit_that_had_no_ca_pem_is_not_said_to_have_lost_it_to_the_rename(
    lan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The note said "failed after removing ca.pem" of a unit that had none (a rerun's
    unit, whose ca.pem the run before lost, or one never given a CA file)."""
    unit = spiffs_unit("dev-n", filler_pages=100)
    unit.image.remove("/ca.pem")
    refuse_renames(unit, monkeypatch)
    code, out = push(tmp_path, "--rpc", lan(unit).http_url)
    assert code == 0, out
    assert unit.files()["/ca.pem"] == ca_bytes()
    assert row(tmp_path, "dev-n").note == (
        "FS.Rename ca.pem.new -> ca.pem failed (FS.Rename failed (500): rename failed); "
        "ca.pem written directly and read back"
    )


def test_a_direct_write_that_reads_back_different_is_written_again_at_once(
    lan: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As every write of the push: one flipped bit in the direct write of ca.pem after
    the lost rename is written again, not taken as failure (which wrote the old ca.pem
    back and failed the unit)."""
    unit = spiffs_unit("dev-c", filler_pages=100)
    refuse_renames(unit, monkeypatch)

    def hook(method: str, params: dict[str, Any], when: str) -> None:
        if method == "FS.Rename" and when == "after":
            unit.corrupt_writes = 1  # the next FS.Put, ca.pem's first frame

    unit.hook = hook
    code, out = push(tmp_path, "--rpc", lan(unit).http_url)
    assert code == 0, out
    files = unit.files()
    assert files["/ca.pem"] == ca_bytes() and "/ca.pem.new" not in files
    r = row(tmp_path, "dev-c")
    assert r.state == "verified" and "ca.pem written directly and read back" in r.note, r
    assert unit.count("FS.Put", filename="ca.pem", append=False) == 2
