"""The calls that write a CA (pack_ca, update_dump, flash_unit) take a GatedCA and a
Board: a caller handing them ``ca.pem``'s bytes, the CA file's path or a board's name got
``'bytes' object has no attribute 'for_board'`` from deep inside. Now each is an
ArgumentTypeError naming the call to make, raised before anything is read or dialled."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from esp_cabundle.boards import load_board
from esp_cabundle.errors import ArgumentTypeError
from esp_cabundle.flash.flasher import flash_unit
from esp_cabundle.flash.offline import update_dump
from esp_cabundle.flash.restore import restore_unit
from esp_cabundle.gate import CaSource, gate_ca
from esp_cabundle.images import pack_ca
from tests.support import dumps
from tests.support.gated import AT, X1_PEM, gated

BOARD = load_board("mdash-arduino")


@pytest.mark.parametrize(
    ("call", "message", "hint"),
    [
        (
            lambda: pack_ca(X1_PEM, board=BOARD),  # type: ignore[arg-type]
            "pack_ca takes a GatedCA \\(made by gate_ca only\\), not bytes",
            "gate it first: ca = gate_ca(CaSource.finished('ca.pem', data), board=board, at=now)",
        ),
        (
            lambda: pack_ca("ca.pem", fs_type="littlefs", profile="esp-idf", size=0x40000),  # type: ignore[arg-type]
            "pack_ca takes a GatedCA \\(made by gate_ca only\\), not str",
            "gate it first: ca = gate_ca(CaSource.from_file(Path('ca.pem')), board=board, at=now)",
        ),
        (
            lambda: update_dump(dumps.arduino_dump(), BOARD, X1_PEM),  # type: ignore[arg-type]
            "update_dump takes a GatedCA \\(made by gate_ca only\\), not bytes",
            "gate it first: ca = gate_ca(CaSource.finished('ca.pem', data), board=board, at=now)",
        ),
        (
            lambda: update_dump(dumps.arduino_dump(), BOARD, Path("ca.pem")),  # type: ignore[arg-type]
            "update_dump takes a GatedCA \\(made by gate_ca only\\), not PosixPath",
            "gate it first: ca = gate_ca(CaSource.from_file(Path('ca.pem')), board=board, at=now)",
        ),
        (
            lambda: update_dump(dumps.arduino_dump(), "mdash-arduino", gated(X1_PEM, BOARD)),  # type: ignore[arg-type]
            "update_dump's board= takes a Board, not str 'mdash-arduino'",
            "load it first: board=load_board('mdash-arduino')",
        ),
        (
            lambda: update_dump(dumps.arduino_dump(), None, gated(X1_PEM, BOARD)),  # type: ignore[arg-type]
            "update_dump's board takes a Board, not NoneType",
            "board=load_board(name)",
        ),
    ],
)
def test_a_ca_or_board_of_the_wrong_type_is_refused_with_the_call_to_make(
    call: Callable[[], object], message: str, hint: str
) -> None:
    with pytest.raises(ArgumentTypeError, match=message) as e:
        call()
    assert e.value.hint == hint


def test_flash_unit_refuses_raw_bytes_before_dialling(monkeypatch: pytest.MonkeyPatch) -> None:
    dialled: list[object] = []

    def refuse(*args: object, **kwargs: object) -> object:
        dialled.append(args)
        raise ConnectionRefusedError("dialled")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(ArgumentTypeError, match="flash_unit takes a GatedCA") as e:
        flash_unit("socket://127.0.0.1:1", BOARD, X1_PEM, journal_dir=None)  # type: ignore[arg-type]
    assert e.value.exit_code == 2
    assert dialled == []


def test_a_gated_ca_still_packs() -> None:
    image = pack_ca(gated(X1_PEM, BOARD), board=BOARD)
    assert image.files[0][0] == "/ca.pem"


@pytest.mark.parametrize(
    ("port", "shown", "hint"),
    [
        (1, "int 1", "name the port: {call}('/dev/ttyUSB0'{after}) (or 'socket://HOST:PORT')"),
        (
            None,
            "NoneType",
            "name the port: {call}('/dev/ttyUSB0'{after}) (or 'socket://HOST:PORT')",
        ),
        (
            b"/dev/ttyUSB0",
            "bytes b'/dev/ttyUSB0'",
            "give the port as str: {call}('/dev/ttyUSB0'{after})",
        ),
        (Path("/dev/ttyUSB0"), "PosixPath", "give the port as str: {call}('/dev/ttyUSB0'{after})"),
    ],
)
@pytest.mark.parametrize("call", ["flash_unit", "restore_unit"])
def test_a_port_of_the_wrong_type_is_refused_by_the_call_given_it(
    call: str, port: object, shown: str, hint: str, tmp_path: Path
) -> None:
    """open_unit refused it, but after flash_unit's and restore_unit's own steps began
    (progress heard "connecting") and in open_unit's name, with an open_unit call to
    make; now the call given it refuses it first."""
    heard: list[object] = []
    journal = tmp_path / "journal"
    with pytest.raises(ArgumentTypeError) as e:
        if call == "flash_unit":
            flash_unit(port, BOARD, gated(X1_PEM, BOARD), journal_dir=journal,  # type: ignore[arg-type]
                       progress=lambda *a: heard.append(a))  # fmt: skip
        else:
            restore_unit(port, board=BOARD, journal_dir=journal,  # type: ignore[arg-type]
                         progress=lambda *a: heard.append(a))  # fmt: skip
    assert e.value.message == f"{call} takes a port (str), not {shown}"
    after = ", board, ca" if call == "flash_unit" else ""
    assert e.value.hint == hint.format(call=call, after=after)
    assert e.value.exit_code == 2
    assert heard == []
    assert list(tmp_path.iterdir()) == []


def test_restore_unit_refuses_a_board_name_before_connecting(tmp_path: Path) -> None:
    """It failed deep inside: ``'str' object has no attribute 'source'``."""
    with pytest.raises(
        ArgumentTypeError, match="restore_unit's board= takes a Board, not str 'mdash-arduino'"
    ) as e:
        restore_unit("socket://127.0.0.1:9", board="mdash-arduino", journal_dir=tmp_path)  # type: ignore[arg-type]
    assert e.value.hint == "load it first: board=load_board('mdash-arduino')"
    assert list(tmp_path.iterdir()) == []


def test_gate_ca_refuses_a_catalog_of_the_wrong_type() -> None:
    """It failed deep inside: ``'str' object has no attribute 'preset'``."""
    with pytest.raises(ArgumentTypeError) as e:
        gate_ca(CaSource.finished("ca.pem", X1_PEM), at=AT, catalog="cacert.pem")  # type: ignore[arg-type]
    assert e.value.message == "gate_ca's catalog= takes a Catalog, not str 'cacert.pem'"
    assert e.value.hint == (
        "load it first: catalog=Catalog.load(mozilla_pem=Path('cacert.pem')), "
        "or leave catalog out (the installed one)"
    )
