"""Size and depth caps on everything the tool reads, so hostile input fails fast.

Every parser runs in time and memory linear in its input; these caps bound the input
itself. They sit far above anything real (a whole Mozilla store as C source is about
1.5 MB, the largest ESP32 flash 128 MiB) and each error says which cap was hit.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._patterns import lazy_re
from .errors import InputError
from .spelling import PYTHON, Spelling, bare
from .text import byte_count, decoded_utf8, plural_noun

__all__ = [
    "MAX_CERT_INPUT",
    "MAX_CHAIN_CERTS",
    "MAX_CSV_INPUT",
    "MAX_DIR_ENTRIES",
    "MAX_FILE_INPUT",
    "MAX_FORECAST_INSTANTS",
    "MAX_IDF_BUNDLE_ROOTS",
    "MAX_JOURNAL_INPUT",
    "MAX_JSON_DEPTH",
    "MAX_LOCK_INPUT",
    "MAX_NUMBER_DIGITS",
    "MAX_PACK_FILES",
    "MAX_PACK_INPUT",
    "MAX_YAML_ALIASED",
    "MAX_YAML_DEPTH",
    "MAX_YAML_INPUT",
    "JsonTooDeep",
    "check_chain_length",
    "check_size",
    "human_size",
    "json_key_line",
    "json_shape_reason",
    "loads_json",
]

MiB = 1 << 20
KiB = 1 << 10

# Any file the tool reads whole (images and flash dumps are the largest).
MAX_FILE_INPUT = 256 * MiB
# The files ``pack --from-dir`` puts in an image, each and all together: no partition is
# larger than the largest ESP32 flash.
MAX_PACK_INPUT = 128 * MiB
# Entries ``pack --from-dir`` walks (symlinked directories may repeat a tree): far more
# files than any partition holds.
MAX_DIR_ENTRIES = 100_000
# Files ``pack --from-dir`` puts in one image: firmware ships tens to hundreds (web
# assets), and littlefs scans a whole directory for each file it creates, so time grows
# with the square of a directory's files (4,000 empty files in one directory took 6 s,
# 8,000 20-40 s, 30,000 nine minutes, with no word of progress).
MAX_PACK_FILES = 4096
# PEM, DER or C source holding certificates.
MAX_CERT_INPUT = 4 * MiB
# Certificates in one server chain: a server sends its leaf and a few issuers, and an
# ESP32's mbedTLS takes the whole Certificate message in one 16 KiB buffer (ESP-IDF's
# default CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN), where no more than about 100 fit.
MAX_CHAIN_CERTS = 100
# Dates at which a forecast judges one chain again (a certificate of the chain, or a
# trusted parent by name, entering or leaving its validity): real chains and CA files
# give a few dozen. Each judgement walks the chain and the trusted candidates, so
# thousands of same-named certificates made the forecast quadratic (8,000: over 10 min).
MAX_FORECAST_INSTANTS = 256
# Roots an ESP-IDF bundle lists: ESP-IDF refuses more than
# CONFIG_MBEDTLS_CERTIFICATE_BUNDLE_MAX_CERTS (200 by default) and Mozilla's store holds
# about 150; a count word claiming more made inspect build millions of roots.
MAX_IDF_BUNDLE_ROOTS = 4096
# cabundle.yaml and board profiles.
MAX_YAML_INPUT = 256 * KiB
MAX_YAML_DEPTH = 32
# Values an alias (``*name``) may add by repeating an anchored one.
MAX_YAML_ALIASED = 10_000
# cabundle.lock.
MAX_LOCK_INPUT = 4 * MiB
# One journal entry (old and new sector contents, base64).
MAX_JOURNAL_INPUT = 64 * MiB
MAX_JSON_DEPTH = 32
# A partition table CSV (gen_esp32part takes at most 95 partitions).
MAX_CSV_INPUT = 256 * KiB
# A ``push --devices`` file: one id a line, at most 128 characters each, so over 30,000
# of the longest (a fleet's export), refused unread past it rather than read whole.
MAX_DEVICES_INPUT = 4 * MiB
# A number written in a text file (CPython < 3.11 converts long digit strings in
# quadratic time).
MAX_NUMBER_DIGITS = 64


def human_size(n: int) -> str:
    """``8 MiB``, ``256 KiB``, ``12,345 bytes``: how caps and sizes are said in errors."""
    if n >= MiB and n % MiB == 0:
        return f"{n // MiB} MiB"
    if n >= KiB and n % KiB == 0:
        return f"{n // KiB} KiB"
    return byte_count(n)


def check_size(
    size: int,
    cap: int,
    *,
    what: str,
    path: str | None = None,
    error: type[InputError] = InputError,
) -> None:
    """Refuse an input over ``cap`` before any parsing starts."""
    if size > cap:
        raise error(
            f"{what} is {human_size(size)}, over the {human_size(cap)} limit for "
            f"{plural_noun(what)}",
            path=path,
            hint="is this the right file? inputs this large are refused without parsing",
        )


def check_chain_length(
    count: int,
    *,
    path: str | None = None,
    error: type[InputError] = InputError,
    spelling: Spelling = PYTHON,
) -> None:
    """Refuse a server chain longer than any server sends, before judging it (each
    judgement costs time in proportion to its length, a forecast far more); the hint
    names the trust set's and the chain's options as ``spelling`` does."""
    if count > MAX_CHAIN_CERTS:
        raise error(
            f"a server chain of {count:,} certificates, over the {MAX_CHAIN_CERTS} a chain "
            "may hold here",
            path=path,
            hint="a server sends its leaf and a few issuers (an ESP32 reads them in one "
            f"16 KiB message); give a trust set with {bare(spelling.bundle)}, a server's "
            f"chain with {spelling.chain}",
        )


# A string (an unterminated one runs to the end, so no quote is scanned twice) or a bracket.
_JSON_TOKENS = lazy_re(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.S)


def _json_depth_ok(text: str, limit: int) -> bool:
    """True when brackets (outside strings) nest at most ``limit`` deep: one linear pass
    over the structural characters, so json.loads never recurses past the cap."""
    depth = 0
    for m in _JSON_TOKENS().finditer(text):
        ch = m.group(0)
        if ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


class JsonTooDeep(InputError):
    """JSON refused by :func:`loads_json` for its nesting alone (before it is parsed): a
    caller can tell it from JSON that is bad, by its type rather than its wording."""


def loads_json(
    data: bytes,
    *,
    what: str,
    path: str | None,
    cap: int,
    max_depth: int = MAX_JSON_DEPTH,
    error: type[InputError] = InputError,
    hint: str | None = None,
    fault_line: bool = False,
) -> Any:
    """Parse untrusted JSON (a file, or a peer's answer when ``path`` is None): size and
    nesting capped, every failure ``error`` naming the file (never RecursionError or
    UnicodeDecodeError); one for nesting alone a :class:`JsonTooDeep` when that is an
    ``error``. ``hint``: what to do about a file that is not JSON (restore it,
    or write it again); ``fault_line``: name the line where the JSON breaks as file:line
    (a file users edit and merge; the journal's entries keep their path alone)."""
    check_size(len(data), cap, what=what, path=path, error=error)
    if not data and path is not None:
        raise error(f"empty file, not a {what}", path=path, hint=hint)
    text = decoded_utf8(data, what=what, path=path, error=error)
    if not _json_depth_ok(text, max_depth):
        deep = JsonTooDeep if issubclass(JsonTooDeep, error) else error  # still an error
        raise deep(
            f"{what} nests deeper than {max_depth} levels",
            path=path,
            hint=f"no {what} this tool reads nests that deep: it was not made for it",
        )
    try:
        return json.loads(text, parse_int=_json_int, parse_float=_json_float)
    except _NumberTooLong as e:
        line, key = _json_number_at(text, e.number)
        field = f"for {key!r} " if key is not None else ""
        raise error(
            f"number too long {field}in the {what}: {len(e.number):,} characters "
            f"(at most {MAX_NUMBER_DIGITS})",
            path=path,
            line=line if fault_line else None,
            hint=hint,
        ) from None
    except json.JSONDecodeError as e:
        if path is None or not fault_line:
            raise error(f"{what} is not valid JSON ({e})", path=path, hint=hint) from e
        raise error(
            f"{what} is not valid JSON ({e.msg}, column {e.colno})",
            path=path,
            line=e.lineno,
            hint=hint,
        ) from e
    except (ValueError, RecursionError) as e:
        raise error(f"{what} is not valid JSON ({e})", path=path, hint=hint) from e


class _NumberTooLong(ValueError):
    """A JSON number over :data:`MAX_NUMBER_DIGITS` characters, before Python converts
    it (and refuses one over 4,300 digits in its own words, sys.set_int_max_str_digits)."""

    def __init__(self, number: str) -> None:
        super().__init__(number[:20])
        self.number = number


def _json_int(s: str) -> int:
    if len(s) > MAX_NUMBER_DIGITS:
        raise _NumberTooLong(s)
    return int(s)


def _json_float(s: str) -> float:
    if len(s) > MAX_NUMBER_DIGITS:
        raise _NumberTooLong(s)
    return float(s)


def _json_number_at(text: str, number: str) -> tuple[int | None, str | None]:
    """The line of ``number`` (found between strings, not in one) in ``text``, and the
    key it is the value of (None in an array), for the error naming it."""
    start, at = 0, -1
    for m in _JSON_STRING().finditer(text):
        at = text.find(number, start, m.start())
        if at >= 0:
            break
        start = m.end()
    else:
        at = text.find(number, start)
    if at < 0:
        return None, None
    before = text[:at]
    key = _KEY_BEFORE().search(before)
    return before.count("\n") + 1, json.loads(key.group(1)) if key else None


_JSON_STRING = lazy_re(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)
_KEY_BEFORE = lazy_re(r'("(?:[^"\\]|\\.)*")[ \t\n\r]*:[ \t\n\r]*$')


def json_shape_reason(e: Exception) -> str:
    """Why parsed JSON is not the document expected, in words rather than Python's
    (``'list' object has no attribute 'get'``, ``'mac'``, ``string indices must be
    integers``): for the ``except (KeyError, TypeError, ValueError, AttributeError)``
    around reading a JSON document's fields."""
    if isinstance(e, KeyError):
        return f"no {e.args[0]!r} field" if e.args else "a field is missing"
    if isinstance(e, (TypeError, AttributeError)):
        return "a field holds the wrong kind of value"
    return str(e)


# A JSON string whole, or a bracket: what json_key_line steps through.
_TOKEN = lazy_re(r'"(?:[^"\\]|\\.)*"|[{}\[\]]', re.DOTALL)
_COLON = lazy_re(r"[ \t\n\r]*:")


def json_key_line(text: str, key: str) -> int | None:
    """The line of ``key`` in the top-level object of the valid JSON ``text`` (its last,
    the one ``json.loads`` keeps), for an error's file:line; None when it is not there.
    A string is stepped over whole, so a value that reads like the key is not taken."""
    depth, line = 0, None
    for m in _TOKEN().finditer(text):
        token = m.group()
        if token[0] != '"':
            depth += 1 if token in "{[" else -1
        elif depth == 1 and _COLON().match(text, m.end()) and json.loads(token) == key:
            line = text.count("\n", 0, m.start()) + 1
    return line
