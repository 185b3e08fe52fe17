"""Checking the types of a library caller's arguments where Python would not: a str
where a sequence of names goes iterates as its letters, text where bytes go fails deep
inside with a message about something else. Each check raises
:class:`~esp_cabundle.errors.ArgumentTypeError` (an InputError and a TypeError) naming
the argument and the form it takes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from .errors import ArgumentTypeError

T = TypeVar("T")

__all__ = [
    "ca_source_call",
    "check_port",
    "fspath_or",
    "name_tuple",
    "require_bytes",
    "require_image_path",
    "require_int",
    "require_items",
    "require_path",
    "require_type",
]


def name_tuple(field_name: str, value: object) -> tuple[str, ...]:
    """``value`` as a tuple of names, paths made str (presets take names only)."""
    if isinstance(value, str | bytes | os.PathLike):
        raise ArgumentTypeError(
            f"{field_name} takes a sequence of names, not one {type(value).__name__}: "
            f"{field_name}={value!r}",
            hint=f"give a tuple: {field_name}=({fspath_or(value)!r},)",
        )
    names = []
    for item in value:  # type: ignore[attr-defined]
        if isinstance(item, os.PathLike) and field_name != "presets":
            item = os.fspath(item)
        if not isinstance(item, str):
            raise ArgumentTypeError(
                f"{field_name} takes names (str{', or paths' if field_name != 'presets' else ''}), "
                f"not {type(item).__name__}: {item!r}",
                hint=f"give {field_name} as a tuple of str",
            )
        names.append(item)
    return tuple(names)


def fspath_or(value: object) -> object:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def ca_source_call(value: object) -> str | None:
    """The CaSource call that takes ``value`` where a CA was wanted (a CA file's bytes or
    its path), for the hints of every call refusing one; None for anything else."""
    if isinstance(value, bytes | bytearray | memoryview):
        return "CaSource.finished('ca.pem', data)"
    if isinstance(value, str | os.PathLike):
        return f"CaSource.from_file(Path({fspath_or(value)!r}))"
    return None


def require_bytes(
    value: object,
    call: str,
    *,
    text: bool = False,
    path_call: str | None = None,
    args: str = "",
) -> None:
    """Refuse anything but bytes for ``call``'s data: the library reads no files where
    it takes bytes. ``text``: a str there is likely the content (hint: encode it), else
    a str is a file name (hint: ``path_call``, the function that reads a file, or read
    it) unless it reads as content (PEM text, many lines). ``args``: the arguments the
    hint's call shows before the data (``"name, "``)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return
    if isinstance(value, str) and (text or _looks_like_content(value)):
        hint = f"encode the text first: {call}({args}text.encode())"
    elif isinstance(value, str | os.PathLike) and path_call is not None:
        hint = f"for a file use {path_call}({os.fspath(value)!r})"
    elif isinstance(value, str | os.PathLike):
        hint = f"read the file first: {call}({args}Path({os.fspath(value)!r}).read_bytes())"
    else:
        hint = f"give {call} the bytes"
    raise ArgumentTypeError(f"{call} takes bytes, not {type(value).__name__}", hint=hint)


def _looks_like_content(value: str | bytes) -> bool:
    """Text no file is named: PEM, several lines, or too long for a path."""
    raw = value.encode(errors="replace") if isinstance(value, str) else value
    return b"-----BEGIN" in raw or b"\n" in raw.strip() or b"\0" in raw or len(raw) > 4096


def require_path(value: object, call: str, *, data_call: str | None = None) -> None:
    """Refuse anything but a path (str or path-like) for ``call``'s file: bytes there
    are the content (hint: ``data_call``, the function that takes it) or a file name
    (hint: as str)."""
    if isinstance(value, str | os.PathLike):
        return
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        if not _looks_like_content(raw):
            hint = f"give the path as str: {call}({os.fsdecode(raw)!r})"
        elif data_call is not None:
            hint = f"for the content itself use {data_call}(data)"
        else:
            hint = f"write it to a file and give {call} that file's path"
    else:
        hint = f"give {call} the file's path (str or Path)"
    raise ArgumentTypeError(
        f"{call} takes a path (str or Path), not {type(value).__name__}", hint=hint
    )


def require_image_path(value: object, call: str, *, before: str = "", after: str = "") -> None:
    """Refuse anything but a str for a file's path inside an image (``call``: the
    image's method, ``image.read``): it is the name the firmware opens, ``/ca.pem``, not
    a path on this computer (a Path on Windows is ``\\ca.pem``), nor undecoded bytes.
    ``before``, ``after``: the other arguments the hint's call shows (``", data"``)."""
    if isinstance(value, str):
        return
    shown: str | bytes = "/ca.pem"
    if isinstance(value, bytes | bytearray):
        shown = os.fsdecode(bytes(value))
    elif isinstance(value, os.PathLike):
        # deferred: only a refusal needs it (pathlib is loaded by then anyway)
        from pathlib import PurePath

        shown = value.as_posix() if isinstance(value, PurePath) else os.fspath(value)
    raise ArgumentTypeError(
        f"{call} takes the file's path in the image as str, not {_shown(value)}",
        hint=f"give it as str: {call}({before}{os.fsdecode(shown)!r}{after})",
    )


def check_port(value: object, call: str, *, after: str = "") -> None:
    """Refuse anything but a str for ``call``'s serial port or ``socket://`` URL, as
    esptool and pyserial take it (None failed deep inside: ``'NoneType' is not
    iterable``). ``after``: the other arguments the hint's call shows (``", board, ca"``):
    a call that opens the unit itself checks first, so its refusal names it, not
    open_unit."""
    if isinstance(value, str):
        return
    if isinstance(value, bytes | bytearray | os.PathLike):
        shown = os.fsdecode(os.fspath(value) if isinstance(value, os.PathLike) else bytes(value))
        hint = f"give the port as str: {call}({shown!r}{after})"
    else:
        hint = f"name the port: {call}('/dev/ttyUSB0'{after}) (or 'socket://HOST:PORT')"
    raise ArgumentTypeError(f"{call} takes a port (str), not {_shown(value)}", hint=hint)


def require_type(value: object, kind: type | tuple[type, ...], what: str, hint: str) -> None:
    """Refuse ``value`` unless a ``kind``: ``what`` names the argument and what it takes
    (``"gate_ca's board= takes a Board"``), ``hint`` the call to make instead."""
    if not isinstance(value, kind):
        raise ArgumentTypeError(f"{what}, not {_shown(value)}", hint=hint)


def require_items(
    value: object,
    kind: type[T],
    what: str,
    *,
    hint: str,
    item_hint: Callable[[object], str],
    one_hint: str | None = None,
    sequence: bool = False,
) -> tuple[T, ...]:
    """``value`` as a tuple of ``kind``, for an argument taking several (``what`` names it:
    ``"build_bundle's outputs"``); an iterator is read once, here. One ``kind`` alone
    (when ``one_hint`` is given), text, bytes, a path, or nothing iterable (``sequence``:
    nothing a Sequence) is refused with ``hint``; a wrong item with ``item_hint(item)``."""
    name = kind.__name__
    if one_hint is not None and isinstance(value, kind):
        raise ArgumentTypeError(f"{what} takes a sequence of {name}, not one {name}", hint=one_hint)
    container = Sequence if sequence else Iterable
    if isinstance(value, str | bytes | bytearray | memoryview | os.PathLike) or not isinstance(
        value, container
    ):
        raise ArgumentTypeError(
            f"{what} takes a sequence of {name}, not {type(value).__name__}", hint=hint
        )
    items = tuple(value)
    for item in items:
        require_type(item, kind, f"{what} takes {name} objects", item_hint(item))
    return items


def require_int(value: object, what: str, hint: str) -> None:
    """:func:`require_type` for an int that is not a bool (True is no size)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ArgumentTypeError(f"{what}, not {_shown(value)}", hint=hint)


def _shown(value: object) -> str:
    """The value's type, and the value itself when short (a name, a number)."""
    shown = repr(value)
    if isinstance(value, str | bytes | int | float) and len(shown) <= 60:
        return f"{type(value).__name__} {shown}"
    return type(value).__name__
