"""A name of the wrong type: ``load_board(b"mdash")`` looked up the board ``"b'mdash'"``
and ``load_board(None)`` the board ``'None'`` (a ConfigError: unknown board),
``parse_target(None)`` failed in ``lstat``, ``open_unit(None)`` deep inside with
``'NoneType' is not iterable``, and ``inspect_bytes(data, source=123)`` took the number
as the source. Now each is an ArgumentTypeError whose hint is the call to make, raised
before anything is read or dialled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from esp_cabundle.boards import load_board
from esp_cabundle.errors import ArgumentTypeError
from esp_cabundle.flash.serial import SerialUnit, open_unit
from esp_cabundle.inspect import inspect_bytes, inspect_path
from esp_cabundle.targets import Target, parse_target
from tests.support.gated import X1_PEM

CHAIN = Path("examples/ci/chains/mdash.net.pem")


@pytest.mark.parametrize(
    ("call", "message", "hint"),
    [
        (
            lambda: load_board(b"mdash"),  # type: ignore[arg-type]
            "load_board takes a board's name or a profile file's path \\(str or Path\\), "
            "not bytes b'mdash'",
            "give the name as str: load_board('mdash')",
        ),
        (
            lambda: load_board(None),  # type: ignore[arg-type]
            "load_board takes a board's name or a profile file's path \\(str or Path\\), "
            "not NoneType",
            "name one: load_board('mdash-arduino'); list_boards() gives them all",
        ),
        (
            lambda: load_board(load_board("mdash")),  # type: ignore[arg-type]
            "load_board takes .*, not Board",
            "board mdash is loaded already: give it as it is (board=board)",
        ),
        (
            lambda: parse_target(None),  # type: ignore[arg-type]
            "parse_target takes a host\\[:port\\] or a chain file's path \\(str or Path\\), "
            "not NoneType",
            "parse_target('example.com:8883'), or a chain file: parse_target('chains/x.pem')",
        ),
        (
            lambda: parse_target(b"mdash.net"),  # type: ignore[arg-type]
            "parse_target takes .*, not bytes",
            "give it as str: parse_target('mdash.net')",
        ),
        (
            lambda: parse_target(Target("mdash.net", chain=CHAIN)),  # type: ignore[arg-type]
            "parse_target takes .*, not Target",
            "it is a Target already: give it as it is (targets=[target])",
        ),
        (
            lambda: open_unit(None),  # type: ignore[arg-type]
            "open_unit takes a port \\(str\\), not NoneType",
            "name the port: open_unit('/dev/ttyUSB0') (or 'socket://HOST:PORT')",
        ),
        (
            lambda: open_unit(Path("/dev/ttyUSB0")),  # type: ignore[arg-type]
            "open_unit takes a port \\(str\\), not PosixPath",
            "give the port as str: open_unit('/dev/ttyUSB0')",
        ),
        (
            lambda: inspect_bytes(X1_PEM, source=123),  # type: ignore[arg-type]
            "inspect_bytes's source= takes a str \\(what the report calls it\\), not int 123",
            "source='dump.bin'",
        ),
        (
            lambda: inspect_bytes(X1_PEM, source=Path("ca.pem")),  # type: ignore[arg-type]
            "inspect_bytes's source= takes a str \\(what the report calls it\\), not PosixPath",
            "source='ca.pem'",
        ),
        (
            lambda: inspect_bytes(X1_PEM, board="mdash-arduino"),  # type: ignore[arg-type]
            "inspect_bytes's board= takes a Board, not str 'mdash-arduino'",
            "load it first: board=load_board('mdash-arduino')",
        ),
        (
            # refused before the (missing) file is looked for
            lambda: inspect_path("missing.bin", board="mdash-arduino"),  # type: ignore[arg-type]
            "inspect_path's board= takes a Board, not str 'mdash-arduino'",
            "load it first: board=load_board('mdash-arduino')",
        ),
    ],
)
def test_a_name_of_the_wrong_type_is_refused_with_the_call_to_make(
    call: Callable[[], object], message: str, hint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialled: list[object] = []

    def connect(*args: object, **kwargs: object) -> object:
        dialled.append(args)
        raise ConnectionRefusedError("dialled")

    monkeypatch.setattr(SerialUnit, "_connect", connect)
    with pytest.raises(ArgumentTypeError, match=message) as e:
        call()
    assert e.value.hint == hint
    assert e.value.exit_code == 2
    assert dialled == []


def test_the_right_types_still_work() -> None:
    assert load_board("mdash").name == "mdash"
    assert parse_target("mdash.net:8443").port == 8443
    assert parse_target(CHAIN) == parse_target(str(CHAIN))  # a chain file's Path is its path
    assert inspect_bytes(X1_PEM, source="ca.pem").source == "ca.pem"
