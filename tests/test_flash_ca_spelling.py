"""``flash_ca`` is told its caller's words once (``spelling``) and says everything in
them: a stop's next step (its body runs under ``spoken`` as flash_unit's and
restore_unit's do) and the journal's hints, a ``journal`` given included."""

from __future__ import annotations

from pathlib import Path

import pytest

from esp_cabundle.boards import load_board
from esp_cabundle.errors import OutputError
from esp_cabundle.flash.dump import DumpFile
from esp_cabundle.flash.flasher import flash_ca
from esp_cabundle.flash.interrupt import Cancel, UnitInterrupted
from esp_cabundle.flash.journal import Journal
from esp_cabundle.spelling import BOARD_SPELLING, CLI_SPELLING, PYTHON, Spelling
from tests.support import dumps
from tests.support.flashing import NEW_CA, stopped_restore
from tests.support.gated import gated

BOARD = "mongoose-os-esp32"


def _flash(journal: Journal, spelling: Spelling, **options: object) -> object:
    return flash_ca(
        DumpFile(dumps.mongoose_dump(), name="unit"),
        load_board(BOARD),
        gated(NEW_CA, BOARD),
        mac="aa:bb:cc:dd:ee:ff",
        journal=journal,
        spelling=spelling,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("spelling", [PYTHON, BOARD_SPELLING])
def test_a_stop_names_its_next_step_in_flash_ca_s_spelling(
    tmp_path: Path, spelling: Spelling
) -> None:
    cancel = Cancel()
    cancel.request("test")
    with pytest.raises(UnitInterrupted) as e:
        _flash(Journal(tmp_path), spelling, cancel=cancel)
    stop = e.value.interruption
    assert stop.written == 0 and stop.spelling is spelling
    assert e.value.hint == stop.next_step()
    again = "call flash_unit again" if spelling is PYTHON else "run the same command again"
    assert e.value.hint == f"{again} to update the unit"


@pytest.mark.parametrize(
    ("spelling", "option"), [(PYTHON, "journal_dir="), (BOARD_SPELLING, "--journal-dir")]
)
def test_a_journal_given_speaks_flash_ca_s_words(
    tmp_path: Path, spelling: Spelling, option: str
) -> None:
    (tmp_path / "journal").write_bytes(b"not a directory")
    with pytest.raises(OutputError, match="cannot write the journal") as e:
        _flash(Journal(tmp_path / "journal"), spelling)  # a Journal in the library's words
    assert e.value.hint == f"choose another place with {option}"
    assert (tmp_path / "journal").read_bytes() == b"not a directory"


def test_a_journal_takes_no_spelling_of_its_own(tmp_path: Path) -> None:
    """flash_ca and restore_flash tell a journal their caller's words, PYTHON by default:
    one given to the journal itself was dropped without a word, so none is taken."""
    with pytest.raises(TypeError, match="spelling"):
        Journal(tmp_path, spelling=CLI_SPELLING)  # type: ignore[call-arg]
    assert Journal(tmp_path).spelling is PYTHON
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("spelling", [PYTHON, BOARD_SPELLING])
def test_restore_flash_speaks_its_callers_words_too(tmp_path: Path, spelling: Spelling) -> None:
    """restore_flash, as flash_ca: a stop's next step and a given journal's hints in
    the words it was told (restore_unit gave its spelling twice, and restore_flash called
    directly with the CLI's words said 'restore_unit(...)')."""
    unit = DumpFile(dumps.mongoose_dump(), name="unit")
    before = bytes(unit.read(0, unit.size))
    stopped = stopped_restore(unit, tmp_path, spelling)
    flashed = bytes(unit.read(0, unit.size))
    assert flashed != before
    stop = stopped.interruption
    assert stop.written == 0 and stop.spelling is spelling
    restore = "restore_unit('unit')" if spelling is PYTHON else "'esp-cabundle restore --port unit'"
    assert stopped.hint == f"run {restore} again to finish putting the original back"
    assert bytes(unit.read(0, unit.size)) == flashed
