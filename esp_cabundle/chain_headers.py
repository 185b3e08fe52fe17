"""The header a saved chain file carries: ``# server:``, ``# server name:`` and
``# captured:`` comment lines, as ``chains pull`` and ``chains show -o`` write them.

Read strictly. The capture date decides which expired certificates count as renewed by
the server, and the server names the host a unit checks: a line that cannot be read, two
that disagree, or a capture date in the future is refused, naming the file and line(s).
Taken as absent, or the first one taken, the verdict would rest on a guess, unsaid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from .dates import now as _now
from .dates import parse_when
from .errors import InputError
from .host_ports import parse_host_port

__all__ = ["CLOCK_SKEW", "ChainHeader", "read_header"]

# How far a capture date may lie ahead of this machine's clock: the clocks of the machine
# that saved the chain and of this one may differ, and a date alone (midnight UTC) typed
# from a zone ahead of UTC is up to 14 hours ahead.
CLOCK_SKEW = timedelta(days=1)

# The rest of the line only: an empty value does not read the next line's first word.
_CAPTURED_RE = re.compile(r"^#[ \t]*captured:[ \t]*(\S*)", re.M)
_SERVER_RE = re.compile(r"^#[ \t]*server:([^\n]*)", re.M)
_SERVER_NAME_RE = re.compile(r"^#[ \t]*server name:([^\n]*)", re.M)

_CAPTURED_HINT = (
    "write the date the chain was saved, in UTC: '# captured: YYYY-MM-DD' or an ISO "
    "date-time (2026-01-31T12:00:00Z); remove the line if it is not known"
)
_SERVER_HINT = (
    "write the server the chain was captured from as HOST:PORT, as a saved chain's header "
    "does ('# server: mdash.net:443', '# server: [::1]:8443'); remove the line if it is "
    "not known"
)


@dataclass(frozen=True, slots=True)
class ChainHeader:
    """What a chain file's header says; None where it says nothing."""

    host: str | None = None
    port: int | None = None
    captured_at: datetime | None = None
    server_name: str | None = None


def read_header(text: str, source: str) -> ChainHeader:
    """The header of the chain file ``source`` whose text is ``text``.

    A ``# server:`` line is one address, read as ``--host`` reads one (``HOST``,
    ``HOST:PORT``, ``[::1]:8443``); a ``# captured:`` line's first word is a date (a
    date alone, or no zone, is UTC; what follows, `` over TLS 1.2``, is a remark).
    The same line may be given twice with the same value (the same date or server,
    however written: a header pasted twice says nothing new, and which one is read
    changes nothing); two that disagree are refused, naming both lines, since nothing
    says which is true. A capture date later than now plus :data:`CLOCK_SKEW` is
    refused: a chain cannot have been seen sent in the future, and taken as it is, the
    certificates that expire before it would count as renewed by the server.
    """
    captured = _captured_at(text, source)
    server = _server(text, source)
    sni = _server_name(text, source)
    return ChainHeader(
        host=server[0] if server else None,
        port=server[1] if server else None,
        captured_at=captured,
        server_name=sni,
    )


def _line_of(text: str, m: re.Match[str]) -> int:
    return text.count("\n", 0, m.start()) + 1


def _captured_at(text: str, source: str) -> datetime | None:
    """The one date the ``# captured:`` lines give; None without one."""
    seen: list[tuple[int, str, datetime]] = []
    for m in _CAPTURED_RE.finditer(text):
        line = _line_of(text, m)
        try:
            when = parse_when(m.group(1), what="'# captured:' date", relative=False)
        except InputError as e:
            raise InputError(e.message, path=source, line=line, hint=_CAPTURED_HINT) from e
        seen.append((line, m.group(1), when))
    if not seen:
        return None
    first_line, first_text, first = _agreed(
        seen,
        "captured",
        source,
        hint="keep the one line with the date the chain was saved (UTC) and remove the other",
    )
    now = _now()
    if first > now + CLOCK_SKEW:
        raise InputError(
            f"the '# captured:' date '{first_text}' is in the future: now is "
            f"{now.strftime('%Y-%m-%dT%H:%M:%SZ')} (UTC), and a chain cannot have been "
            "saved later than now",
            path=source,
            line=first_line,
            hint="if this machine's clock is wrong, set it; else fix the line to the "
            "date the chain was saved, in UTC ('# captured: YYYY-MM-DD'), or remove it "
            "if that is not known",
        )
    return first


def _server(text: str, source: str) -> tuple[str, int] | None:
    """The one ``(host, port)`` the ``# server:`` lines give; None without one. Host
    names are compared without ASCII case, as DNS compares them."""
    seen: list[tuple[int, str, tuple[str, int]]] = []
    for m in _SERVER_RE.finditer(text):
        line = _line_of(text, m)
        value = m.group(1).strip()
        try:
            if not value:
                raise InputError("it is empty; expected HOST:PORT")
            if any(c.isspace() for c in value):
                raise InputError("a space inside; expected one HOST:PORT")
            address = parse_host_port(value)
        except InputError as e:
            why = e.message + (f" ({e.hint})" if e.hint else "")
            raise InputError(
                f"bad '# server:' address '{value}': {why}",
                path=source,
                line=line,
                hint=_SERVER_HINT,
            ) from e
        seen.append((line, value, address))
    if not seen:
        return None
    _agreed(
        [(line, value, (host.lower(), port)) for line, value, (host, port) in seen],
        "server",
        source,
        hint="keep the one line naming the server the chain was captured from and remove the other",
    )
    return seen[0][2]  # as written: the host's case kept


def _server_name(text: str, source: str) -> str | None:
    """The one name the ``# server name:`` lines give (the name the unit checks, sent
    as SNI); None without one. Read as ``# server:`` is: one word, never the next
    line's; names compared without ASCII case."""
    seen: list[tuple[int, str, str]] = []
    for m in _SERVER_NAME_RE.finditer(text):
        line = _line_of(text, m)
        value = m.group(1).strip()
        why = (
            "it is empty"
            if not value
            else "a space inside"
            if any(c.isspace() for c in value)
            else None
        )
        if why is not None:
            raise InputError(
                f"bad '# server name:' '{value}': {why}; expected the one name the unit checks",
                path=source,
                line=line,
                hint="write the name the unit checks in the server's certificate "
                "('# server name: mdash.net'); remove the line if it is the server's host",
            )
        seen.append((line, value, value.lower()))
    if not seen:
        return None
    return _agreed(
        seen,
        "server name",
        source,
        hint="keep the one line naming the name the unit checks and remove the other",
    )[1]


_T = TypeVar("_T")


def _agreed(
    seen: list[tuple[int, str, _T]], key: str, source: str, *, hint: str
) -> tuple[int, str, _T]:
    """The first of ``seen`` (line, as written, as compared), when every other line
    says the same; two that disagree are refused naming both lines."""
    first_line, first_text, first = seen[0]
    for line, value, read in seen[1:]:
        if read != first:
            raise InputError(
                f"two '# {key}:' lines disagree: this one says '{first_text}', "
                f"{source}:{line} says '{value}'",
                path=source,
                line=first_line,
                hint=hint,
            )
    return seen[0]
