"""The value types of the CLI's options: sizes, whole numbers, seconds, MAC addresses,
dates and names, each refused in its option's own words.

Split from :mod:`.options` (which declares the options and re-exports these) to keep it
small; every command imports both at start-up, as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from ..dates import parse_when
from ..errors import InputError
from ..limits import MAX_FILE_INPUT, human_size
from ..sizes import parse_size, size_problem
from ._date_hint import bad_date

__all__ = ["Date", "Mac", "Name", "Seconds", "Size", "Whole"]

if TYPE_CHECKING:
    _ParamType = click.ParamType[Any]
else:  # click < 8.2 (pyproject allows 8.1) has no generic ParamType
    _ParamType = click.ParamType


class Size(_ParamType):
    """A size or an offset in bytes, as :func:`esp_cabundle.sizes.parse_size` reads it
    (``262144``, ``0x40000``, ``256K``, ``256KiB``, ``1M``); at least ``minimum``, and a
    multiple of ``align`` when given. At most :data:`~esp_cabundle.limits.MAX_FILE_INPUT`
    (256 MiB, twice the largest ESP32 flash): a larger image is none the tool could read
    back, and making one (``pack --size 0x100000000``) took minutes before failing."""

    def __init__(self, *, name: str = "size", minimum: int = 0, align: int | None = None):
        self.name = name
        self.minimum = minimum
        self.align = align
        self.maximum = MAX_FILE_INPUT
        self.accepted = f"{'an' if name[0] in 'aeiou' else 'a'} {name}: bytes, 0x hex or K/M"
        self.example = "0x290000" if name == "offset" else "256K"  # for a hint's line

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            n = value
        else:
            try:
                n = parse_size(str(value), what=self.name)
            except InputError:
                what = self.accepted.partition(":")[0]  # "a size", "an offset"
                self.fail(f"{value!r} is not {what}: {size_problem(str(value))}", param, ctx)
        if n < self.minimum:
            self.fail(f"{value} is below {self.minimum}", param, ctx)
        if n > self.maximum:
            self.fail(
                f"{value} ({human_size(n)}) is larger than any ESP32 flash; the most "
                f"esp-cabundle takes is {human_size(self.maximum)} ({self.maximum:#x})",
                param,
                ctx,
            )
        if self.align and n % self.align:
            self.fail(
                f"{value} is not a multiple of {self.align // 1024} KiB ({self.align:#x})",
                param,
                ctx,
            )
        return n


class Whole(click.IntRange):
    """A whole number within a range; what is no number is refused in the option's own
    words (``'abc' is not a baud rate: ...``), not click's "not a valid integer range"."""

    def __init__(self, min: int | None = None, max: int | None = None, *, what: str) -> None:
        super().__init__(min, max)
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            try:
                int(value)
            except ValueError:
                self.fail(f"{value!r} is not {self.what}", param, ctx)
        return super().convert(value, param, ctx)


class Seconds(click.FloatRange):
    """A time in seconds within a range, refused as such when it is no number."""

    what = "a number of seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                self.fail(f"{value!r} is not a number of seconds (e.g. 10 or 2.5)", param, ctx)
        return super().convert(value, param, ctx)


class Mac(_ParamType):
    """A MAC address in any common spelling (colons, dashes, dots or none, any case),
    as ``24:0a:c4:12:34:56``."""

    name = "mac"
    accepted = "a MAC address: 6 bytes as 12 hex digits"
    example = "24:0a:c4:12:34:56"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..flash.journal import normal_mac  # deferred: the flash package is heavy

        mac = normal_mac(str(value))
        if mac is None:
            self.fail(
                f"{value!r} is not a MAC address: give 6 bytes as 12 hex digits, e.g. "
                "24:0a:c4:12:34:56, 24-0A-C4-12-34-56 or 240ac4123456",
                param,
                ctx,
            )
        return mac


class Date(_ParamType):
    """``2032-09-02``, an ISO date-time, ``now`` or ``today``: an aware UTC datetime.
    ``now_said = False`` (an end that ``now`` is always past): a refusal does not offer
    ``now``."""

    name = "date"
    now_said = True

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        flag = param.opts[-1] if param is not None and param.opts else "date"
        try:
            return parse_when(str(value), what=f"{flag} date", now_said=self.now_said)
        except InputError as e:
            if ctx is None or param is None:
                self.fail(str(e), param, ctx)
            raise bad_date(e, str(value), param, ctx, now_said=self.now_said) from None


class Name(_ParamType):
    """A name or address the user types (a port, a board, a partition, a URL): never
    empty or blank, which would otherwise fall through to a default (``--board ''``
    the config's board), name the current directory, or reach a unit as a port that
    does not exist (a device failure, exit 3, for a typing slip)."""

    def __init__(self, what: str) -> None:
        self.name = what
        self.what = what
        self.accepted = f"{'an' if what[0] in 'aeiou' else 'a'} {what}, not an empty value"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail(f"an empty value names no {self.what}", param, ctx)
        return value
