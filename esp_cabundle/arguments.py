"""Checking the types of a library caller's arguments where Python would not: a str
where a sequence of names goes iterates as its letters, text where bytes go fails deep
inside with a message about something else. Each check raises
:class:`~esp_cabundle.errors.ArgumentTypeError` (an InputError and a TypeError) naming
the argument and the form it takes."""

from __future__ import annotations

import os

from .errors import ArgumentTypeError

__all__ = ["fspath_or", "name_tuple", "require_bytes"]


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


def require_bytes(
    value: object, call: str, *, text: bool = False, path_call: str | None = None
) -> None:
    """Refuse anything but bytes for ``call``'s data: the library reads no files where
    it takes bytes. ``text``: a str there is likely the content (hint: encode it), else
    a file name (hint: ``path_call``, the function that reads a file, or read it)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return
    if isinstance(value, str) and text:
        hint = f"encode the text first: {call}(text.encode())"
    elif isinstance(value, str | os.PathLike) and path_call is not None:
        hint = f"for a file use {path_call}({os.fspath(value)!r})"
    elif isinstance(value, str | os.PathLike):
        hint = f"read the file first: {call}(Path({os.fspath(value)!r}).read_bytes())"
    else:
        hint = f"give {call} the bytes"
    raise ArgumentTypeError(f"{call} takes bytes, not {type(value).__name__}", hint=hint)
