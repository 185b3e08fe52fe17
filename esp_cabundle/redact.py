"""Secrets this process holds (the mDash API key, the MQTT password), kept out of every
line it prints or logs.

The commands that read a secret hand it to :func:`remember`; the CLI's error printer,
the campaign's record of an unexpected error and every log record pass their text
through :func:`redact`. A secret is replaced wherever it appears as typed or as Python
shows it inside a ``repr`` (an exception quoting a header value: ``b'Bearer KEY'``),
and so is each line of a secret that spans lines.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from typing import Any

__all__ = [
    "MASK",
    "forget",
    "known",
    "mask_query_values",
    "redact",
    "remember",
    "remember_query_values",
    "remember_typed",
    "secret_option",
    "typed_value",
    "url_secrets",
]

MASK = "[redacted]"
# Shorter pieces would mask ordinary words; a secret that short is refused anyway.
_MIN_PIECE = 4

_pieces: set[str] = set()
# A URL's password of any length, masked where it stands between "user:" and "@".
_userinfo: set[str] = set()
# (key, value) of a typed URL's query: a value of any length is masked where it stands
# as its own key's value (``key=VALUE``), which masks no ordinary word.
_named: set[tuple[str, str]] = set()
_named_re: list[tuple[re.Pattern[str], str]] | None = None
_lock = threading.Lock()
_factory_installed = False


def remember(secret: str) -> None:
    """Keep ``secret`` out of everything printed or logged from now on."""
    forms = _forms(secret)
    with _lock:
        _pieces.update(forms)
    _install_log_factory()


def _forms(secret: str) -> set[str]:
    """``secret`` as typed, as a ``repr`` shows it and line by line, each long enough."""
    forms = {secret, secret.strip()}
    forms |= {repr(secret)[1:-1], repr(secret.encode("utf-8", "replace"))[2:-1]}
    forms |= {line.strip() for line in secret.splitlines()}
    return {f for f in forms if len(f) >= _MIN_PIECE}


# Words of a URL's query or fragment keys that name a secret: ?token=, ?api_key=,
# #access_token= (OAuth's implicit grant), ?X-Amz-Signature=, ?password=.
_SECRET_WORDS = frozenset(
    {"token", "key", "apikey", "accesstoken", "password", "pass", "passwd", "pwd"}
    | {"secret", "auth", "sig", "signature"}
)


def _secret_words(name: str) -> set[str]:
    """The words of a key or option name (``X-Api-Key``: x, api, key and xapikey), to
    meet :data:`_SECRET_WORDS` however it is joined."""
    lowered = name.lower()
    return set(re.split(r"[^a-z0-9]+", lowered)) | {re.sub(r"[^a-z0-9]", "", lowered)}


def secret_option(option: str) -> bool:
    """``option`` (``--api-key``, ``--mqtt-password``, ``--token``) names a secret given
    as its value: no option of the tool takes one (each is read from a ``-file`` or the
    environment), so a value typed after one is a secret typed by mistake."""
    return not option.endswith("-file") and bool(_secret_words(option) & _SECRET_WORDS)


def url_secrets(query: str, fragment: str = "") -> list[str]:
    """The keys of a URL's ``query`` and ``fragment`` that look like secrets
    (case-insensitive, a word of the key: ``auth_token``, ``X-Api-Key``), each value
    remembered first so that no message shows it."""
    from urllib.parse import parse_qsl  # deferred: only a URL with a query or fragment

    found = []
    for part in (query, fragment):
        for name, value in parse_qsl(part, keep_blank_values=True):
            if _secret_words(name) & _SECRET_WORDS:
                if value:
                    remember(value)
                found.append(name)
    return found


def typed_value(word: str) -> bool:
    """``word``, typed after an option, is its value rather than the next option: not
    ``--x``, nor a short flag or cluster (``-q``, ``-qv``); a key may well start with
    a "-" (base64url: ``-S3cr3t...``)."""
    return not word.startswith("--") and (not word.startswith("-") or len(word) > 4)


def _names_a_file(value: str) -> bool:
    """A value naming a file is a path to show (``--api-key-fil key.txt``), not a key."""
    try:
        return os.path.isfile(value)
    except (OSError, ValueError):  # a NUL, a name too long
        return False


def remember_typed(words: tuple[str, ...] | list[str]) -> None:
    """Remember the secrets of URLs typed on the command line (``mqtt://u:PASS@host``,
    an mDash ``https://KEY@host``, ``?token=KEY``) before anything is parsed: a hint
    shows the line as typed (mended), and a usage error comes before the option that
    would remember them is read, so ``--mqtt mqtt://u:PASS@h --concurrency 0`` printed
    PASS in its hint; and the value of an option named as a secret (:func:`secret_option`:
    ``push --api-key KEY``, which is no option, printed KEY in its "did you mean" hint)."""
    for i, word in enumerate(words):
        if word.startswith("--") and secret_option(word.partition("=")[0]):
            # push --api-key KEY: no such option, and its value is a key all the same
            glued = "=" in word
            value = word.partition("=")[2] if glued else next(iter(words[i + 1 : i + 2]), "")
            if (glued or typed_value(value)) and value and not _names_a_file(value):
                remember(value)  # (--api-key-fil key.txt: a path, shown)
            continue
        if "://" not in word or not any(c in word for c in "@?#"):  # most lines: no import
            continue
        from urllib.parse import urlsplit  # deferred: only a line with a URL in it

        text = word.partition("=")[2] if word.startswith("--") and "=" in word else word
        try:
            url = urlsplit(text)
            url_secrets(url.query, url.fragment)  # ?token=...: remembered
            password, name = url.password, url.username
        except ValueError:  # not a URL after all (a bad port): nothing to take from it
            continue
        if password:
            remember(password)
            with _lock:  # a short one (mqtt://u:pw@h) too, where it stands as one
                _userinfo.add(password)
        elif name and url.scheme.lower() in ("http", "https"):  # an mDash key, alone
            remember(name)
        if url.scheme.lower() in ("http", "https", "ws", "wss"):
            remember_query_values(url.query)  # a unit's --rpc URL: any value may be one


def remember_query_values(query: str) -> None:
    """Keep each value of a URL's ``query`` out of every line printed or logged: a unit's
    ``--rpc`` URL may carry any credential under any key (``?session=``), and the ledger
    keeps none of them (:func:`esp_cabundle.push.urls.bare_url`). A value is masked
    wherever it appears once it has 4 characters; a shorter one (``?pin=42``) only
    where it stands as its own key's value (``pin=42`` up to ``&``, ``#``, a space, a
    quote, ``,;)]>`` or the end), for alone it would mask ordinary text."""
    global _named_re
    values, named = _query_secrets(query)
    for v in values:
        remember(v)
    if named:
        with _lock:
            _named.update(named)
            _named_re = None


def mask_query_values(text: str, query: str) -> str:
    """``text`` with each value of ``query`` masked as :func:`redact` masks a remembered
    one (:func:`remember_query_values`), nothing remembered: a ledger's stored error
    quoting an older release's unit URL, or a value of it alone, keeps none of them.
    A mask already in ``text`` is left whole (a value inside it is no value)."""
    pieces, named = _query_masks(query)

    def masked(part: str) -> str:
        part = pieces.sub(MASK, part) if pieces else part
        for pattern, mask in named:
            part = pattern.sub(mask, part)
        return part

    return MASK.join(masked(part) for part in text.split(MASK))


@functools.lru_cache(maxsize=64)
def _query_masks(
    query: str,
) -> tuple[re.Pattern[str] | None, list[tuple[re.Pattern[str], str]]]:
    """:func:`mask_query_values`' patterns for ``query``, compiled once (a ledger's rows
    name the same few URLs): the pieces in one pass, longest first, so that no piece is
    masked inside the mask put in place of another."""
    values, named = _query_secrets(query)
    pieces = sorted({f for v in values for f in _forms(v)}, key=len, reverse=True)
    either = re.compile("|".join(map(re.escape, pieces))) if pieces else None
    return either, _compiled(named)


def _query_secrets(query: str) -> tuple[set[str], set[tuple[str, str]]]:
    """Each value of ``query`` (as given and unquoted), and each ``(key, value)`` it
    stands in (key ``""``: a piece without a key, masked after a ``?`` or ``&``)."""
    from urllib.parse import unquote  # deferred: only a line with a URL's query in it

    values: set[str] = set()
    named: set[tuple[str, str]] = set()
    for piece in query.split("&") if query else ():
        key, eq, value = piece.partition("=")
        for v in {value if eq else key, unquote(value if eq else key)}:
            if v.strip():
                values.add(v)
                named.update((k, v) for k in ({key, unquote(key)} if eq else {""}))
    return values, named


def forget() -> None:
    """Forget every secret: a new session in the same process (tests) starts clean."""
    global _named_re
    with _lock:
        _pieces.clear()
        _named.clear()
        _userinfo.clear()
        _named_re = None


def known() -> bool:
    """Whether any secret is held."""
    return bool(_pieces or _named or _userinfo)


def redact(text: str) -> str:
    """``text`` with every remembered secret masked (longest first), then each typed
    query value where it stands as its key's value (:func:`remember_query_values`)."""
    global _named_re
    if not _pieces and not _named and not _userinfo:
        return text
    with _lock:
        pieces = sorted(_pieces, key=len, reverse=True)
        if _named_re is None:
            _named_re = _compiled(_named)
        named = _named_re
        userinfo = sorted(_userinfo, key=len, reverse=True)
    for password in userinfo:
        text = text.replace(f":{password}@", f":{MASK}@")
    for piece in pieces:
        if piece in text:
            text = text.replace(piece, MASK)
    for pattern, mask in named:
        text = pattern.sub(mask, text)
    return text


# Where a key starts: not inside a longer key (``xpin=`` is not ``pin=``).
_KEY_START = r"(?<![\w.~%+\-])"
# Where a value ends: at any character no longer value could go on with (the next
# piece, the fragment, a space, a quote, a phrase's ":", ")", ",", ";", "]", ">" or
# "."), or the end.
_VALUE_END = r"(?![\w%~+\-])"


def _compiled(named: set[tuple[str, str]]) -> list[tuple[re.Pattern[str], str]]:
    """A pattern and its mask for each (key, value), longest value first."""
    return [
        (
            re.compile(rf"{_KEY_START}{re.escape(k)}={re.escape(v)}{_VALUE_END}"),
            f"{k}={MASK}".replace("\\", "\\\\"),  # a key's \\ is no escape to re.sub
        )
        if k
        else (re.compile(rf"(?<=[?&]){re.escape(v)}{_VALUE_END}"), MASK)
        for k, v in sorted(named, key=lambda kv: len(kv[1]), reverse=True)
    ]


def _install_log_factory() -> None:
    """Every log record from now on is masked, its traceback included: the library's
    loggers have no handler of their own, so Python's last-resort handler would print
    an exception message holding a secret to stderr."""
    import logging  # deferred: only once a secret is held (--help never pays for it)

    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        _factory_installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string: leave it to the handler
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
