"""Output on a stream whose encoding is not UTF-8 (PYTHONIOENCODING=ascii or latin-1, a
terminal that is not UTF-8): the tool's own typography in ASCII, anything else escaped.

Split from :mod:`.ui`, which re-exports :func:`safe_streams`, to keep it small.
"""

from __future__ import annotations

import codecs
import contextlib
import sys

__all__ = ["ASCII_FORMS", "safe_streams"]

# The characters the tool's own text uses beyond ASCII (messages, forecasts, help, board
# and firmware notes), as a stream that lacks them shows them: "\u2014" in a sentence is
# noise where "-" reads. Anything else (a name, a subject) stays escaped, to be told apart.
ASCII_FORMS: dict[str, str] = {
    "\u2026": "...",  # …
    "\u2014": "-",  # —
    "\u2013": "-",  # –
    "\u2190": "<-",  # ←
    "\u2192": "->",  # →
    "\u2194": "<->",  # ↔
    "\u21d2": "=>",  # ⇒
    "\u2264": "<=",  # ≤
    "\u2265": ">=",  # ≥
    "\u2260": "!=",  # ≠
    "\u2248": "~",  # ≈
    "\u00d7": "x",  # ×
    "\u00b7": "-",  # ·
    "\u2022": "-",  # •
    "\u2713": "ok",  # ✓
    "\u2714": "ok",  # ✔
    "\u2717": "x",  # ✗
    "\u2718": "x",  # ✘
    "\u25c0": "<",  # ◀
    "\u25b6": ">",  # ▶
    "\u2018": "'",  # ‘
    "\u2019": "'",  # ’
    "\u201c": '"',  # “
    "\u201d": '"',  # ”
    "\u00a0": " ",  # no-break space
    "\u00a7": "S",  # §
}

# click takes an ASCII stream for a misconfigured locale and writes UTF-8 past it (its
# is_ascii_encoding); under this name the stream is ASCII still, and left as it is.
_ASCII_CODEC = "esp_cabundle_ascii"


def _find_codec(name: str) -> codecs.CodecInfo | None:
    """ASCII under :data:`_ASCII_CODEC`, a name click does not take for a misconfigured
    locale; every other name is left to Python's own codecs."""
    if name != _ASCII_CODEC:
        return None
    ascii_ = codecs.lookup("ascii")
    return codecs.CodecInfo(
        ascii_.encode,
        ascii_.decode,
        streamreader=ascii_.streamreader,
        streamwriter=ascii_.streamwriter,
        incrementalencoder=ascii_.incrementalencoder,
        incrementaldecoder=ascii_.incrementaldecoder,
        name=_ASCII_CODEC,
    )


def _escape_unencodable(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: what a stream's encoding cannot carry is written in its
    ASCII form (:data:`ASCII_FORMS`) or escaped (a non-UTF-8 byte of a file name as
    ``\\xNN``) instead of failing the command."""
    if not isinstance(err, UnicodeEncodeError):
        raise err
    out = []
    for ch in err.object[err.start : err.end]:
        code = ord(ch)
        if ch in ASCII_FORMS:
            out.append(ASCII_FORMS[ch])
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        else:
            out.append(ch.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(out), err.end


def _is_ascii(stream: object) -> bool:
    """The stream writes ASCII (``ascii``, ``us-ascii``, ``646``: one codec under many
    names), the one encoding click writes UTF-8 past."""
    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "utf-8").name == "ascii"
    except LookupError:
        return False


def safe_streams() -> None:
    """Make stdout and stderr show what their encoding lacks in ASCII or escaped
    (PYTHONIOENCODING=ascii, a C locale, names that are not UTF-8), so output never ends
    in a UnicodeEncodeError, nor writes UTF-8 to an ASCII stream (as click would)."""
    codecs.register_error("esp-cabundle-escape", _escape_unencodable)
    codecs.unregister(_find_codec)  # once, however many runs one process makes
    codecs.register(_find_codec)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            narrow = {"encoding": _ASCII_CODEC} if _is_ascii(stream) else {}
            # A stream that cannot be reconfigured keeps its own handler.
            with contextlib.suppress(ValueError, OSError, TypeError, LookupError):
                reconfigure(errors="esp-cabundle-escape", **narrow)
