"""The URLs ``push`` is given (``--mdash``, ``--mqtt``, ``--rpc``), split once.

``urllib.parse`` raises ValueError for an unclosed ``[``, a bracketed host that is no IP
address, and (on reading ``.port``) a port that is no number or out of range: each is
an :class:`InputError` naming the option here, never a traceback. The message never
quotes the URL, which may hold a password (``ESP_CABUNDLE_MQTT``) or a key.
"""

from __future__ import annotations

from urllib.parse import SplitResult, unquote, urlsplit

from ..errors import InputError
from ..redact import MASK, mask_query_values, url_secrets
from ..spelling import set_to

__all__ = [
    "WrongScheme",
    "bare_url",
    "masked_values",
    "refuse_url_secrets",
    "shown_address",
    "shown_text",
    "split_url",
]


class WrongScheme(InputError):
    """A URL of a scheme its option does not take, or without a host; ``url`` is the one
    refused, as given. A CLI that mends the line as typed finds the refusal by this class,
    never by the message's words (a rewording would silently lose the mended line)."""

    def __init__(self, message: str, *, url: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.url = url


def split_url(
    text: str, option: str, *, example: str, which: str = "", any_port: bool = False
) -> SplitResult:
    """``text`` split, its host and port readable; ``example`` goes in the hint, ``which``
    tells one of several apart (" (URL 3 of 8)"); ``any_port``: port 0 (listen on any
    free one) is allowed. ``option`` as the caller's user writes it (``--mqtt``, ``url=``)."""
    hint = f"e.g. {set_to(option, example)}; an IPv6 address goes in brackets: [::1]"
    option = option.removesuffix("=")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        why = (
            "the port is not a number in 1-65535"
            if str(e).startswith("Port")
            else "the host is not understood (a '[' without its ']', or no IP address between them)"
        )
        raise InputError(f"{option}{which}: {why}", hint=hint) from None
    if port == 0 and not any_port:
        raise InputError(f"{option}{which}: the port is not a number in 1-65535", hint=hint)
    host = parts.hostname or ""
    if any(c.isspace() or not c.isprintable() or c in _NOT_IN_HOSTS for c in host):
        # urlsplit keeps " 127.0.0.1" as the host; the resolver would then fail (exit 3)
        raise InputError(
            f"{option}{which}: the host holds a space or a character no host name has",
            hint=hint,
        )
    return parts


# Characters RFC 3986 allows in no part of a host (reg-name, IP literal).
_NOT_IN_HOSTS = frozenset('"<>\\^`{|}')


def refuse_url_secrets(parts: SplitResult, option: str, *, hint: str) -> None:
    """Refuse a URL whose query or fragment carries a secret (``?token=``, ``#key=``),
    as a ``user:password@`` one is: the process list shows it, and the ledger and every
    report that names the URL would keep it. The message names the keys, never a value
    (each is remembered, so no later line shows it either)."""
    keys = url_secrets(parts.query, parts.fragment)
    if keys:
        named = ", ".join(f"{k}=" for k in dict.fromkeys(keys))
        raise InputError(
            f"{option}: a secret in the URL ({named}) is visible in the process list and "
            "would be kept wherever the URL is shown or recorded",
            hint=hint,
        )


def bare_url(url: str) -> str:
    """``url`` as the ledger keeps it and every report shows it: each query value masked
    (``?session=[redacted]``), for a query can hold any credential, whatever its key's
    name. The URL as given is kept in memory for the run alone."""
    head, sep, query = url.partition("?")
    if not sep:
        return url
    query, hash_, fragment = query.partition("#")
    pieces = [
        (f"{key}={MASK}" if eq else MASK)
        for key, eq, _ in (p.partition("=") for p in query.split("&"))
    ]
    return f"{head}?{'&'.join(pieces)}{hash_}{fragment}"


def masked_values(query: str) -> list[str]:
    """The keys of ``query`` whose value is the mask :func:`bare_url` shows in its place
    (a URL copied from the ledger or a report): the unit would be sent the mask."""
    out = []
    for piece in query.split("&"):
        key, eq, value = piece.partition("=")
        if unquote(value if eq else key).strip() == MASK:
            out.append(f"{key}=" if eq else MASK)
    return out


Cell = str | bytes | int | float | None  # a value SQLite hands over


def shown_address(stored: Cell) -> Cell:
    """A ledger's stored address (or a unit id that is one) as every output shows it:
    :func:`bare_url`. Ledgers written before the URL was kept bare hold its query values,
    which no output shows; anything else (a device id, a damaged cell) as stored."""
    if isinstance(stored, str) and "://" in stored.partition("?")[0]:
        return bare_url(stored)
    return stored


def shown_text(text: Cell, *stored: Cell) -> Cell:
    """A stored error or note as shown: each stored address it quotes (a unit's id was
    its URL until it named itself), as :func:`shown_address` shows it, then each of
    their query values quoted any other way (``dev=B``, the value alone), as a printed
    line masks them (:func:`~esp_cabundle.redact.mask_query_values`)."""
    if not isinstance(text, str):
        return text
    for address in stored:
        shown = shown_address(address)
        if isinstance(address, str) and shown != address:
            text = text.replace(address, bare_url(address))
            query = address.partition("?")[2].partition("#")[0]
            text = mask_query_values(text, query)
    return text
