"""One exception hierarchy for the whole tool.

Every error carries what went wrong, where, and what to do, so the CLI can print it
without a traceback and map it to an exit code in one place (see ``exit_code``).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .flash.serial import UnitInfo

__all__ = [
    "ArgumentTypeError",
    "AuthError",
    "CatalogError",
    "CertificateError",
    "ConfigError",
    "DeviceError",
    "DumpNotImageError",
    "EspCabundleError",
    "FlashError",
    "ImageError",
    "ImageNotDumpError",
    "InputError",
    "Interrupted",
    "LockMismatchError",
    "OutOfMemory",
    "OutputError",
    "PartitionTableError",
    "PolicyError",
    "PrivateKeyError",
    "PushError",
    "UnitRpcError",
    "UnitUnreachable",
    "VerdictError",
    "bounded",
    "combined_exit_code",
    "unwritable_hint",
]


# A message quoting a value longer than this (a 200,000-character ``preset:``) shows its
# first and last characters only, and its length: an error stays a few lines long.
_LONGEST = 256
_HEAD, _TAIL = 40, 24
# A quote opens a value only where a word cannot go on (not after a letter: the apostrophe
# of "server's" opened a "value" that ran to the next quote, and prose was cut), before a
# character that is no space, and closes one after such a character, where no word goes on.
_QUOTED = "(?<![\\w{q}]){q}(?=\\S)[^{q}\\n]{{{n},}}(?<=\\S){q}(?!\\w)"
_LONG_SPAN = "|".join(
    (
        _QUOTED.format(q="'", n=_LONGEST),
        _QUOTED.format(q='"', n=_LONGEST),
        f"[^\\s'\"]{{{_LONGEST},}}",
    )
)
_MESSAGE_MAX = 16 * _LONGEST  # a message still longer (long words apart) is cut whole


def bounded(text: str) -> str:
    """``text`` with every quoted value, or run without spaces, of over 256 characters
    cut to its ends around an ellipsis, its length said: ``'AAAA…AAAA' (200,000
    characters)``. A short text is returned as it is, unsearched."""
    if len(text) <= _LONGEST:
        return text
    text = re.sub(_LONG_SPAN, _clipped, text)
    if len(text) > _MESSAGE_MAX:
        text = f"{text[: _MESSAGE_MAX - 64]}… ({len(text):,} characters)"
    return text


def _clipped(m: re.Match[str]) -> str:
    span = m.group()
    quote = span[0] if span[0] in "'\"" and span[-1] == span[0] else ""
    inner = span[1:-1] if quote else span.rstrip(":;,.")  # the message's own colon after
    after = "" if quote else span[len(inner) :]
    return f"{quote}{inner[:_HEAD]}…{inner[-_TAIL:]}{quote} ({len(inner):,} characters){after}"


class EspCabundleError(Exception):
    """Root of every error the tool raises on purpose.

    ``exit_code`` follows the CLI contract: 1 negative verdict, 2 bad input or usage,
    3 device or I/O failure, 130 interrupted.
    """

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        message = bounded(message)
        super().__init__(message)
        self.message = message
        self.hint = bounded(hint) if hint else hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled with every field, made again without ``__init__`` (whose keyword-only
        fields ``Exception`` would not pass back): an error raised in a worker process
        reaches its parent whole."""
        return (_unpickled, (type(self), self.args), self.__dict__)


def _unpickled(cls: type[EspCabundleError], args: tuple[object, ...]) -> EspCabundleError:
    error = cls.__new__(cls)
    error.args = args
    return error


class InputError(EspCabundleError):
    """Bad input: a file, a flag or a value the tool cannot use (exit 2)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message, hint=hint)
        self.path = path
        self.line = line
        self.reason = bounded(message)  # the message without its file:line


class ArgumentTypeError(InputError, TypeError):
    """A library caller passed a value of the wrong type (a str where names go, text
    where bytes go): an InputError with a hint, and a TypeError as Python's own
    conventions expect (exit 2)."""


class CertificateError(InputError):
    """A certificate that cannot be read, or an input holding none."""


class PrivateKeyError(CertificateError):
    """A private key found in an input: refused so it can never reach a device bundle."""


class ConfigError(InputError):
    """``cabundle.yaml`` (or another config) with an unknown key or a bad value."""


class CatalogError(InputError):
    """An alias, fingerprint or preset the root catalog does not know."""


class Worded(Protocol):
    """A hint worded for whoever reads it (see :meth:`ImageError.reword`)."""

    def text(self, context: object = None) -> str: ...


class ImageError(InputError):
    """A file-system image that does not mount, is corrupt, or cannot take an edit.

    ``hint`` may be :class:`Worded`: the file-system layer says what happened (the image
    is as it was, there is no room, no such file), and a caller that knows more (a new
    image being made, the command that lists the files) has it worded again for its
    reader with :meth:`reword`, instead of editing the text."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | Worded | None = None,
    ) -> None:
        self.worded = None if hint is None or isinstance(hint, str) else hint
        text = hint if self.worded is None else self.worded.text()
        assert text is None or isinstance(text, str)
        super().__init__(message, path=path, line=line, hint=text)

    def reword(self, context: object) -> None:
        """The hint worded for ``context`` (its own class says what it reads there)."""
        if self.worded is not None:
            self.hint = self.worded.text(context)


class PartitionTableError(InputError):
    """A partition table that is malformed or inconsistent."""


class ImageNotDumpError(PartitionTableError):
    """A one-partition file-system image (``fs_type``) given where a whole-flash dump
    goes: a command can then name the edit of that image in its caller's words."""

    def __init__(self, message: str, *, fs_type: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.fs_type = fs_type


class DumpNotImageError(InputError):
    """A whole-flash dump given where one file-system image goes; ``partitions``: the
    (name, offset, size) of each file-system partition its table lists, so a command can
    name the one to read in its caller's words."""

    def __init__(
        self,
        message: str,
        *,
        path: str,
        partitions: tuple[tuple[str, int, int], ...],
        hint: str | None = None,
    ) -> None:
        super().__init__(message, path=path, hint=hint)
        self.partitions = partitions


class _Verdict(EspCabundleError):
    """An error with ``violations``: what failed, one line each, which ``str()`` lists
    between the message and the hint as the CLI prints them (a library caller's
    traceback said "keep the root ... (named above)" with nothing named above)."""

    exit_code = 1

    def __init__(self, message: str, *, violations: tuple[str, ...] = (), hint: str | None = None):
        super().__init__(message, hint=hint)
        self.violations = violations

    def __str__(self) -> str:
        listed = "".join(f"\n  - {v}" for v in getattr(self, "violations", ()))
        hint = f"\n  hint: {self.hint}" if self.hint else ""
        return f"{self.message}{listed}{hint}"


class PolicyError(_Verdict):
    """The bundle breaks a policy (expired root, over budget, ...): a negative verdict."""


class LockMismatchError(PolicyError):
    """``build --locked`` resolved a different set of roots than ``cabundle.lock`` pins."""


class VerdictError(_Verdict):
    """A check or CI gate came out negative; ``violations`` says what failed, one line
    each."""


class OutputError(EspCabundleError):
    """Writing an output file failed (disk full, permission): an I/O failure."""

    exit_code = 3


class OutOfMemory(EspCabundleError):
    """The machine (or the process's limit) ran out of memory: a resource failure, like
    a full disk, not bad input."""

    exit_code = 3


class DeviceError(EspCabundleError):
    """Talking to a unit failed: no port, no sync, link lost. ``unit``: what the unit
    said of itself before it failed (its MAC and chip, read first when it connects),
    so a station's line and log name it; None when it said nothing."""

    exit_code = 3
    unit: UnitInfo | None = None


class FlashError(DeviceError):
    """Reading or writing a unit's flash failed or did not verify."""


class Interrupted(EspCabundleError):
    """Stopped on request (Ctrl-C, SIGTERM) at a safe point; the message says what the
    unit then holds and what to do next (exit 130, as a shell reports SIGINT)."""

    exit_code = 130


class PushError(DeviceError):
    """A unit in the field could not be updated over its remote link (exit 3)."""


class UnitUnreachable(PushError):
    """No answer from a unit (offline, link dropped, timed out): try again later."""


class UnitRpcError(PushError):
    """The unit answered a call with an error (no space, no such file, ...)."""

    def __init__(self, message: str, *, code: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.code = code


class AuthError(InputError):
    """A fleet service refused the credentials given (exit 2: fix the key or password)."""


def combined_exit_code(codes: Iterable[int]) -> int:
    """The exit code of a command that did several independent jobs (units of a flash
    station, targets of ``chains pull``): 0 when every one succeeded; when every one
    failed with the same code, that code (2 for bad input everywhere); otherwise 3
    (some need attention)."""
    codes = list(codes)
    if all(c == 0 for c in codes):
        return 0
    if len(set(codes)) == 1:
        return codes[0]
    return DeviceError.exit_code


def directory_refused(
    path: str,
    value: str,
    *,
    flag: str | None = None,
    name: str | None = None,
    spelt: str = "",
    literal: Callable[[str], str] = str,
    file: str = "FILE",
) -> InputError:
    """A file named as a directory (``value`` as given), refused in the same words by every
    file option of the CLI and by a root file of the library's, with a hint naming a file
    in it: ``flag`` (the option's), ``name`` (an argument's), else ``spelt`` (the caller's
    words for one, ``{}`` where the file goes, written by ``literal``: a Python call's
    ``repr``), else the file itself. ``file``: the name of the file meant, when the
    caller found it there (``cabundle.yaml``)."""
    # deferred: only a refusal quotes (errors.py is on every start-up path)
    from .spelling import shell_word

    example = os.path.join(value, file)
    if flag:
        hint = f"name a file with {flag}, e.g. {flag} {shell_word(example)}"
    elif name:
        hint = f"name the {name} file itself, e.g. {shell_word(example)}"
    elif spelt:
        hint = "name the file itself: " + spelt.format(literal(example))
    else:
        hint = f"name the file itself, e.g. {shell_word(example)}"
    return InputError(
        "names a directory, not a file; nothing was read or written", path=path, hint=hint
    )


def unwritable_hint(e: OSError, folder: object) -> str:
    """What makes ``folder`` take a write again, by the errno of the one that failed:
    room for a full disk or quota, rights for a refusal; never "make it writable" for a
    disk that is only full."""
    if e.errno in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"free space on the disk holding {folder} (or raise the quota)"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"make {folder} writable"
    return f"fix what keeps {folder} from being written ({e.strerror or e})"
