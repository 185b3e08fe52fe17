"""``Ledger(b"x.db")`` failed with a raw TypeError from ``Path()``, and ``PushFile``
given ``ca.pem``'s bytes raised a plain TypeError (``PushFile.for_board``: ``'bytes'
object has no attribute 'for_board'``). Now each is an ArgumentTypeError (an InputError,
exit_code 2) whose hint is the call to make, as pack_ca's and flash_unit's are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from esp_cabundle.boards import load_board
from esp_cabundle.errors import ArgumentTypeError
from esp_cabundle.push.campaign import PushFile
from esp_cabundle.push.ledger import Ledger
from tests.support.gated import X1_PEM

GATE_BYTES = "gate it first: ca = gate_ca(CaSource.finished('ca.pem', data), board=board, at=now)"


@pytest.mark.parametrize(
    ("call", "message", "hint"),
    [
        (
            lambda: Ledger(b"x.db"),  # type: ignore[arg-type]
            "Ledger takes a path \\(str or Path\\), not bytes",
            "give the path as str: Ledger('x.db')",
        ),
        (
            lambda: Ledger(None),  # type: ignore[arg-type]
            "Ledger takes a path \\(str or Path\\), not NoneType",
            "give Ledger the file's path (str or Path)",
        ),
        (
            lambda: PushFile(X1_PEM),  # type: ignore[arg-type]
            "PushFile takes a GatedCA \\(made by gate_ca only\\), not bytes",
            GATE_BYTES,
        ),
        (
            lambda: PushFile(Path("ca.pem")),  # type: ignore[arg-type]
            "PushFile takes a GatedCA \\(made by gate_ca only\\), not PosixPath",
            "gate it first: ca = gate_ca(CaSource.from_file(Path('ca.pem')), board=board, at=now)",
        ),
        (
            lambda: PushFile.for_board(X1_PEM, load_board("mdash-arduino")),  # type: ignore[arg-type]
            "PushFile.for_board takes a GatedCA \\(made by gate_ca only\\), not bytes",
            GATE_BYTES,
        ),
    ],
)
def test_a_wrong_type_is_refused_with_the_call_to_make_and_nothing_made(
    call: Callable[[], object],
    message: str,
    hint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArgumentTypeError, match=message) as e:
        call()
    assert e.value.hint == hint
    assert e.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def test_a_ledger_path_as_str_or_path_still_opens(tmp_path: Path) -> None:
    for path in (str(tmp_path / "a.db"), tmp_path / "b.db"):
        with Ledger(path) as ledger:
            assert ledger.path == Path(path)
        assert Path(path).is_file()
