"""Restore, journal and verification hints in the caller's words: a script calling
``flash_unit``/``restore_unit`` is told of ``restore_unit('PORT')``, ``journal_dir=``,
``force=True`` and ``inspect_bytes``; the CLI (BOARD_SPELLING) keeps its 'esp-cabundle
restore --port', --journal-dir, --force and 'esp-cabundle journal list', byte for byte."""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.layouts import load_mongoose

from esp_cabundle.boards import load_board
from esp_cabundle.errors import EspCabundleError, FlashError, InputError, OutputError
from esp_cabundle.flash import journal as journal_module
from esp_cabundle.flash import readback
from esp_cabundle.flash.base import Message
from esp_cabundle.flash.dump import DumpFile
from esp_cabundle.flash.flasher import FlashResult, flash_ca
from esp_cabundle.flash.interrupt import Cancel, UnitInterrupted
from esp_cabundle.flash.journal import Journal
from esp_cabundle.flash.restore import AlreadyRestored, RestoreResult, restore_unit
from esp_cabundle.spelling import BOARD_SPELLING, PYTHON, Spelling
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps
from tests.support.flashing import NEW_CA, flash_mongoose
from tests.support.gated import gated

FLAGS = ("--journal-dir", "--force", "--port", "esp-cabundle ", "journal list")
BOTH = (PYTHON, BOARD_SPELLING)


E = TypeVar("E", bound=EspCabundleError)


def _raised(
    error: type[E], act: Callable[[Spelling], object], match: str | None = None
) -> dict[Spelling, E]:
    """The error ``act(spelling)`` raises for each caller (a script, the CLI); a script's
    message and hint are checked to name no flag or command."""
    out = {}
    for spelling in BOTH:
        with pytest.raises(error, match=match) as e:
            act(spelling)
        if spelling is PYTHON:
            said = f"{e.value.message} hint: {e.value.hint or ''}"
            assert not [f for f in FLAGS if f in said], said
        out[spelling] = e.value
    return out


def _hints(
    error: type[E], act: Callable[[Spelling], object], match: str | None = None
) -> dict[Spelling, str]:
    """Each caller's hint when ``act(spelling)`` raises (:func:`_raised`)."""
    return {s: e.hint or "" for s, e in _raised(error, act, match).items()}


def _name(spelling: Spelling) -> str:
    """A journal directory of its own per spelling."""
    return "script" if spelling is PYTHON else "cli"


def _restore(unit: VirtualESP32, journal: Path, spelling: Spelling, **options: Any) -> Any:
    return restore_unit(
        unit.url, journal_dir=journal, connect_attempts=1, spelling=spelling, **options
    )


def _flashed(virtual_esp32: Callable[..., VirtualESP32], journal: Path) -> VirtualESP32:
    unit = virtual_esp32("esp32")
    load_mongoose(unit)
    flash_mongoose(unit, journal)
    return unit


def test_no_update_journaled_names_flash_unit_and_journal_dir(
    mongoose_unit: VirtualESP32, tmp_path: Path
) -> None:
    said = _hints(
        InputError, lambda s: _restore(mongoose_unit, tmp_path, s), "holds no update of the unit"
    )
    assert said[PYTHON] == (
        "updates are journaled on the computer that ran 'flash_unit'; pass journal_dir= if "
        "they were saved elsewhere"
    )
    assert said[BOARD_SPELLING] == (
        "updates are journaled on the computer that ran 'esp-cabundle flash'; pass "
        "--journal-dir if they were saved elsewhere"
    )


def test_an_update_already_undone_names_the_journal(
    mongoose_unit: VirtualESP32, tmp_path: Path
) -> None:
    flash_mongoose(mongoose_unit, tmp_path)
    _restore(mongoose_unit, tmp_path, PYTHON)
    said = _hints(AlreadyRestored, lambda s: _restore(mongoose_unit, tmp_path, s))
    assert said[PYTHON] == (
        "the journal's directory (a folder per MAC, a JSON file per update) shows the entries"
    )
    # run as printed: the journal read, not the default one
    assert said[BOARD_SPELLING] == (
        f"'esp-cabundle journal list --journal-dir {tmp_path}' shows the entries"
    )


def test_an_update_set_aside_names_the_journal_and_journal_dir(
    mongoose_unit: VirtualESP32, tmp_path: Path
) -> None:
    entry = flash_mongoose(mongoose_unit, tmp_path).journal
    assert entry is not None
    Journal(tmp_path).set_status(entry, "stale", unit="(a test)")
    said = _hints(InputError, lambda s: _restore(mongoose_unit, tmp_path, s), "is left to undo")
    assert said[PYTHON] == (
        "nothing to do; the journal's directory (a folder per MAC, a JSON file per update) "
        "shows the entries (an update journaled elsewhere: pass journal_dir=)"
    )
    assert said[BOARD_SPELLING] == (
        f"nothing to do; 'esp-cabundle journal list --journal-dir {tmp_path}' shows the "
        "entries (an update journaled elsewhere: pass --journal-dir)"
    )


def test_a_file_system_changed_since_names_journal_dir_and_force(
    mongoose_unit: VirtualESP32, tmp_path: Path
) -> None:
    flash_mongoose(mongoose_unit, tmp_path)
    mongoose_unit.load(0x1A0000, b"\x01" * 16)  # a block the update left alone
    said = _hints(
        FlashError, lambda s: _restore(mongoose_unit, tmp_path, s), "changed since the update"
    )
    tail = (
        "only as a last resort: it writes the saved sectors over what the file system holds "
        "now, which may leave it unchanged or corrupt it"
    )
    assert said[PYTHON] == (
        "if a later update of this unit was journaled elsewhere (flash_unit(..., "
        "journal_dir=...)), undo that one first: restore_unit(PORT, journal_dir=...) with "
        f"that journal; force=True {tail}"
    )
    assert said[BOARD_SPELLING] == (
        "if a later update of this unit was journaled elsewhere (flash --journal-dir), undo "
        f"that one first: restore --journal-dir with that journal; --force {tail}"
    )


def _claim_other_roots(journal: Path) -> None:
    """The journal's entry says the unit held a root it never held: the unit read back
    after the restore then holds what the entry does not call old."""
    (path,) = journal.rglob("*.json")
    entry = json.loads(path.read_text())
    fake = [["Never Held Root", "00" * 32]]
    entry["roots"]["before"] = fake
    for p in entry["partitions"]:
        p["roots_before"] = fake
    path.write_text(json.dumps(entry))


def test_a_restore_that_does_not_read_back_names_inspect_and_flash(
    virtual_esp32: Callable[..., VirtualESP32], tmp_path: Path
) -> None:
    port = {}

    def restore(spelling: Spelling) -> object:
        journal = tmp_path / _name(spelling)
        unit = _flashed(virtual_esp32, journal)
        _claim_other_roots(journal)
        port[spelling] = unit.url
        return _restore(unit, journal, spelling)

    said = _hints(FlashError, restore, "does not hold what it held before")
    head = "the file system changed since that update, so its saved sectors no longer undo it: "
    p = port[PYTHON]
    assert said[PYTHON] == head + (
        f"inspect the unit (inspect_bytes(unit.read(0, unit.size), source='{p}') with "
        f"unit = open_unit('{p}')) and flash the CA you want (flash_unit)"
    )
    assert said[BOARD_SPELLING] == head + (
        f"inspect the unit (esp-cabundle inspect --port {port[BOARD_SPELLING]}) and flash the "
        "CA you want (esp-cabundle flash)"
    )


def test_a_link_cut_while_flashing_names_restore_unit(
    virtual_esp32: Callable[..., VirtualESP32], tmp_path: Path
) -> None:
    port = {}

    def flash(spelling: Spelling) -> object:
        unit = virtual_esp32("esp32")
        load_mongoose(unit)
        unit.arm_cut(sector_writes=2)  # fs_0's metadata commit torn
        port[spelling] = unit.url
        return flash_mongoose(unit, tmp_path / _name(spelling), spelling=spelling)

    said = _hints(FlashError, flash, "link lost")
    keep = "keep the unit from booting its firmware (connected, in download mode; "
    # the torn sector leaves it mid-update: the rerun and the restore name its journal
    j = tmp_path / _name(PYTHON)
    assert said[PYTHON].startswith(keep)
    assert f": call flash_unit again (with journal_dir='{j}') to finish the update" in said[PYTHON]
    assert said[PYTHON].endswith(
        f", or restore_unit('{port[PYTHON]}', journal_dir='{j}') to put the old CA file back"
    )
    cli, cli_port, j = said[BOARD_SPELLING], port[BOARD_SPELLING], tmp_path / "cli"
    assert cli.startswith(keep)
    assert f": run the same command again (with --journal-dir {j}) to finish the update" in cli
    assert cli.endswith(
        f", or 'esp-cabundle restore --port {cli_port} --journal-dir {j}' to put the old CA "
        "file back"
    )


def test_a_link_cut_while_restoring_names_restore_unit(
    virtual_esp32: Callable[..., VirtualESP32], tmp_path: Path
) -> None:

    port = {}

    def restore(spelling: Spelling) -> object:
        journal = tmp_path / _name(spelling)
        unit = _flashed(virtual_esp32, journal)
        unit.arm_cut(sector_writes=0)  # fs_1's metadata, restored first (in reverse)
        port[spelling] = unit.url
        return _restore(unit, journal, spelling)

    said = _hints(FlashError, restore, "link lost")
    # the sector cut leaves it mid-restore: not to boot; the line runs as printed, the
    # port and the journal it was given
    keep = (
        "keep the unit from booting its firmware (connected, in download mode; reconnected: "
        "hold BOOT while powering it) until it is finished: run "
    )
    end = " again to finish putting the original back"
    assert said[PYTHON] == (
        f"{keep}restore_unit('{port[PYTHON]}', journal_dir='{tmp_path}/script'){end}"
    )
    assert said[BOARD_SPELLING] == (
        f"{keep}'esp-cabundle restore --port {port[BOARD_SPELLING]} --journal-dir "
        f"{tmp_path}/cli'{end}"
    )


def test_a_stop_before_restoring_names_restore_unit(
    mongoose_unit: VirtualESP32, tmp_path: Path
) -> None:
    cancel = Cancel()
    cancel.request("test")
    stops = _raised(UnitInterrupted, lambda s: _restore(mongoose_unit, tmp_path, s, cancel=cancel))
    said = {s: e.hint for s, e in stops.items()}
    assert all(e.interruption.to_json()["next"] == e.hint for e in stops.values())
    port = mongoose_unit.url
    end = "again to finish putting the original back"
    assert said[PYTHON] == f"run restore_unit('{port}', journal_dir='{tmp_path}') {end}"
    assert said[BOARD_SPELLING] == (
        f"run 'esp-cabundle restore --port {port} --journal-dir {tmp_path}' {end}"
    )


def test_a_stop_while_writing_names_restore_unit(
    virtual_esp32: Callable[..., VirtualESP32], tmp_path: Path
) -> None:
    port = {}

    def flash(spelling: Spelling) -> object:
        unit = virtual_esp32("esp32")
        load_mongoose(unit)
        cancel = Cancel()

        def progress(event: object) -> None:
            if (
                isinstance(event, Message)
                and "update: sector" in event.text
                and "(2 of" in event.text
            ):
                cancel.request("test")

        port[spelling] = unit.url
        journal = tmp_path / _name(spelling)
        return flash_mongoose(unit, journal, progress=progress, cancel=cancel, spelling=spelling)

    stops = _raised(UnitInterrupted, flash)
    # both name the journal given (the restore would otherwise read the default one)
    j, k = tmp_path / "script", tmp_path / "cli"
    words = {
        PYTHON: (
            f"call flash_unit again (with journal_dir='{j}')",
            "restore_unit('{}', journal_dir='" + str(j) + "')",
        ),
        BOARD_SPELLING: (
            f"run the same command again (with --journal-dir {k})",
            "'esp-cabundle restore --port {} --journal-dir " + str(k) + "'",
        ),
    }
    for spelling, e in stops.items():
        stop = e.interruption
        assert stop.written >= 1 and stop.journal is not None
        again, restore = words[spelling]
        assert e.hint == (
            f"{again} to finish the update from the journal ({stop.journal}); "
            f"{restore.format(port[spelling])} puts the old CA file back"
        )
        assert e.result.interruption.next_step() == e.hint  # the report's next step too


class _StrayWrites(DumpFile):
    """A unit whose firmware writes a byte the update leaves alone while it is written."""

    def write(self, offset: int, data: bytes) -> None:
        super().write(offset, data)
        self._data[0x1B0010] = 0x5A


def _flash_dump(flash: DumpFile, journal: Path, spelling: Spelling) -> object:
    board = "mongoose-os-esp32"
    return flash_ca(
        flash,
        load_board(board),
        gated(NEW_CA, board),
        mac="aa:bb:cc:dd:ee:ff",
        journal=Journal(journal),
        spelling=spelling,
    )


def test_bytes_changed_outside_the_update_name_how_to_inspect_the_unit(tmp_path: Path) -> None:
    said = _hints(
        FlashError,
        lambda s: _flash_dump(_StrayWrites(dumps.mongoose_dump(), name="unit"), tmp_path, s),
        "bytes outside the written sectors",
    )
    head = "something else wrote to the flash during the update; inspect the unit "
    assert said[PYTHON] == head + (
        "(inspect_bytes(unit.read(0, unit.size), source='unit') with unit = open_unit('unit')) "
        "before doing anything else"
    )
    assert said[BOARD_SPELLING] == head + (
        "(esp-cabundle inspect --port unit) before doing anything else"
    )


def test_a_partition_that_does_not_read_back_names_restore_unit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the unit was proven to hold mounts other than planned (a fault of the
    planner's, so made here by hand)."""
    monkeypatch.setattr(readback, "reread_problems", lambda cache, change: ["/ca.pem differs"])
    said = _hints(
        FlashError,
        lambda s: _flash_dump(DumpFile(dumps.mongoose_dump(), name="unit"), tmp_path, s),
        "does not hold what was planned",
    )
    assert said[PYTHON] == "run restore_unit('unit') to put the original back"
    assert said[BOARD_SPELLING] == "run 'esp-cabundle restore --port unit' to put the original back"


def test_a_port_holding_a_quote_is_named_as_python_reads_it() -> None:
    """The hint is code to paste: a port name with a quote in it must stay one string."""
    port = "/dev/o'clock"
    assert eval(PYTHON.restore_for(port), {"restore_unit": lambda p: p}) == port
    inspect = PYTHON.inspect_for(port).split(" with unit = ")
    assert eval(inspect[1], {"open_unit": lambda p: p}) == port


def test_a_journal_that_cannot_be_saved_names_journal_dir(
    virtual_esp32: Callable[..., VirtualESP32], tmp_path: Path
) -> None:
    """flash_unit saves the journal before the first write; where it cannot (its
    directory is a file here), the hint says how the caller picks another place."""
    unit = virtual_esp32("esp32")
    load_mongoose(unit)
    before = bytes(unit.flash)
    blocked = tmp_path / "journal"
    blocked.write_bytes(b"not a directory")
    errors = _raised(
        OutputError, lambda s: flash_mongoose(unit, blocked, spelling=s), "cannot write the journal"
    )
    assert all("nothing written to the unit" in e.message for e in errors.values())
    said = {s: e.hint for s, e in errors.items()}
    assert said[PYTHON] == "choose another place with journal_dir="
    assert said[BOARD_SPELLING] == "choose another place with --journal-dir"
    assert bytes(unit.flash) == before
    assert blocked.read_bytes() == b"not a directory"


@pytest.mark.parametrize(
    ("err", "why", "remedy"),
    [
        (
            errno.ENOSPC,
            "No space left on device",
            "free space on the disk holding DIR (or raise the quota)",
        ),
        (errno.EACCES, "Permission denied", "make DIR writable"),
    ],
)
def test_a_journal_entry_that_cannot_be_marked_complete_says_the_unit_was_written(
    virtual_esp32: Callable[..., VirtualESP32],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    err: int,
    why: str,
    remedy: str,
) -> None:
    """The entry is saved before the first write and marked complete after the last;
    when only the second save fails, the unit holds the new CA: the error said "nothing
    written to the unit" and pointed at another journal directory, where the entry to
    settle is not. It says what the unit holds, and what mends the save by its errno (a
    full disk is not made writable). The unit verified: no failure, the result is
    "updated" and carries the error as ``journal_error``."""
    real = journal_module._write_private
    saved: dict[Spelling, list[Path]] = {}
    written: dict[Spelling, bool] = {}

    def flash(spelling: Spelling) -> object:
        saves = saved[spelling] = []

        def fail_after_first(path: Path, data: bytes) -> None:
            saves.append(path)
            if len(saves) > 1:
                raise OSError(err, why)
            real(path, data)

        monkeypatch.setattr(journal_module, "_write_private", fail_after_first)
        unit = virtual_esp32("esp32")
        load_mongoose(unit)
        before = bytes(unit.flash)
        try:
            return flash_mongoose(unit, tmp_path / _name(spelling), spelling=spelling)
        finally:
            written[spelling] = bytes(unit.flash) != before

    errors = {}
    for spelling in BOTH:
        result = flash(spelling)
        assert isinstance(result, FlashResult) and result.status == "updated"
        assert isinstance(result.journal_error, OutputError)
        errors[spelling] = result.journal_error
    said = {}
    for spelling, e in errors.items():
        assert "cannot mark the journal entry complete" in e.message
        assert "nothing written" not in e.message
        assert e.message.endswith(
            f"({why}); the unit holds the new CA file: it was updated and verified"
        )
        assert written[spelling]  # the update itself went through
        entry = json.loads(saved[spelling][0].read_text())
        assert entry["status"] != "complete"
        said[spelling] = (e.hint or "").replace(str(saved[spelling][0].parent), "DIR")
    head = remedy + " and keep the entry there: it still says pending, and the next "
    assert said[PYTHON] == head + "flash_unit or restore_unit of this unit settles it"
    assert said[BOARD_SPELLING] == (
        head + "esp-cabundle flash or 'esp-cabundle restore' of this unit settles it"
    )


def test_a_restore_that_cannot_be_marked_restored_says_the_unit_is_back(
    virtual_esp32: Callable[..., VirtualESP32],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The entry is marked restoring before the first sector goes back and restored
    after the read-back; a full disk at that last save said only "as this run left it".
    The unit read back: no failure, the result carries the error as ``journal_error``."""
    unit = _flashed(virtual_esp32, tmp_path)
    real = journal_module._write_private
    saves: list[Path] = []

    def fail_after_first(path: Path, data: bytes) -> None:
        saves.append(path)
        if len(saves) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(journal_module, "_write_private", fail_after_first)
    result = _restore(unit, tmp_path, BOARD_SPELLING)
    assert isinstance(result, RestoreResult) and result.sectors_written
    e = result.journal_error
    assert isinstance(e, OutputError)
    assert "cannot mark the journal entry restored" in e.message
    assert "again: it was restored and read back" in e.message
    assert (e.hint or "").startswith("free space on the disk holding ")
    assert "it still says restoring" in (e.hint or "")
