"""The station log as a file: its columns, and the check before any unit is touched
that the records can go to it (:func:`check_log`). Every read is bounded: a log, or a
file named as one by mistake, may be large."""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path
from typing import Literal

from ..errors import InputError, OutputError
from ..fileio import refuse_missing_folder

__all__ = ["LOG_FIELDS", "LogFormat", "check_log", "ends_mid_line"]

LogFormat = Literal["csv", "jsonl"]

LOG_FIELDS = (
    "time",
    "tool_version",
    "port",
    "mac",
    "chip",
    "board",
    "bundle",
    "bundle_sha256",
    "partitions",
    "roots_before",
    "roots_after",
    "ca_before",
    "ca_after",
    "sectors_written",
    "bytes_read",
    "bytes_written",
    "result",
    "error",
    "notes",
)

# A CSV header longer than this is no header any version wrote (ours is under 250 bytes).
_CSV_HEADER_MAX = 4096
# The first JSON line is parsed whole up to this; a longer one (a unit whose CA files
# hold thousands of roots: a record has no size cap) is judged by its opening fields.
_JSONL_HEAD = 1 << 20
# The fields every record has had since logs existed: a JSON-lines file whose first
# line lacks one is some other file, not a station log.
_JSONL_KEYS = ("time", "port", "result")
# Fields every record has opened with, before its lists ("tool_version" came later).
_JSONL_OPENING = ("time", "port")
_CHUNK = 1 << 16

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def check_log(path: Path, fmt: LogFormat) -> None:
    """Refuse, before any unit is touched, a log the records could not go to: one that
    cannot be opened for appending (OutputError: a unit flashed and not logged is a
    unit the station loses track of), one in a directory that does not exist
    (InputError: it is not created, a typo would hide the log), no regular file (a FIFO
    would hang the run before it began), or a CSV log whose columns are not this
    version's or whose last row ends inside a quoted field (InputError: the records
    would not line up)."""
    hint = "name a log file in a directory that can be written to"
    refuse_missing_folder(path, what="log", hint=hint)
    _refuse_special(path)
    try:
        try:  # a log made only to prove it can be is removed: the CA's gate comes after,
            # and a refused CA leaves nothing behind ("nothing written")
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            # O_NONBLOCK: a FIFO put there since the check fails (ENXIO) instead of hanging
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK))
        else:
            if path.stat().st_size == 0:  # another station's records are never removed
                path.unlink()
            return
    except OSError as e:
        why = e.strerror or e
        raise OutputError(
            f"{path}: cannot append to the log ({why}); no unit was touched",
            hint=hint,
        ) from e
    if path.stat().st_size == 0:
        return
    if fmt == "jsonl":
        _refuse_foreign_jsonl(path)
        return
    try:
        with path.open("rb") as f:
            line = f.readline(_CSV_HEADER_MAX)
        header = next(csv.reader([line.decode("utf-8")]), [])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise _not_a_log(path, "CSV") from err
    if not line.endswith(b"\n") and len(line) == _CSV_HEADER_MAX:
        raise _not_a_log(path, "CSV")  # a first line longer than any header
    if LOG_FIELDS[0] not in header or "result" not in header:
        raise _not_a_log(path, "CSV")
    if tuple(header) != LOG_FIELDS:
        raise InputError(
            "this CSV log has other columns than this version of esp-cabundle writes; "
            "nothing was flashed",
            path=str(path),
            hint="log to a new file (the old one stays as it is)",
        )
    _refuse_open_quote(path)


def _refuse_special(path: Path) -> None:
    """InputError for a log that is no regular file: it is read back (its first line)
    and appended to, which a FIFO would hang on and a device would swallow."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # none yet (or unreadable): the open below says why
    for test, kind in _KINDS:
        if test(mode):
            raise InputError(
                f"{path} is {kind}, not a file: a log is read back and appended to; "
                "no unit was touched",
                hint="give --log a regular file (a new one, or a log an earlier "
                "'flash --log' wrote)",
            )


def ends_mid_line(fd: int, size: int) -> bool:
    """True when the regular file open (readable) at ``fd``, ``size`` bytes long, does
    not end with a newline: a killed append or a full disk left half a record, after
    which the next record must start on a line of its own."""
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _refuse_open_quote(path: Path) -> None:
    """InputError when the CSV log's last line, torn (no newline at its end), is left
    inside a quoted field: every record appended after it would be read as part of that
    field. Counted backwards chunk by chunk, the line may be long."""
    with path.open("rb") as f:
        end = f.seek(0, os.SEEK_END)
        if not ends_mid_line(f.fileno(), end):
            return
        quotes, pos = 0, end
        while pos > 0:
            start = max(0, pos - _CHUNK)
            chunk = os.pread(f.fileno(), pos - start, start)
            cut = chunk.rfind(b"\n")
            quotes += chunk[cut + 1 :].count(b'"')
            if cut >= 0:
                break
            pos = start
    if quotes % 2:
        raise InputError(
            f"{path}: the CSV log's last line was cut off inside a quoted field (a run "
            "killed while appending, or a full disk); a record appended now would be "
            "read as part of it; nothing was appended and no unit was touched",
            hint="end the torn line by hand (remove it, or close its quote and add a "
            "newline), or give --log a new file",
        )


def _refuse_foreign_jsonl(path: Path) -> None:
    """InputError unless the first line of ``path`` is one of our JSON records: appending
    to another file (the bundle being flashed, a firmware image) would corrupt it. At
    most :data:`_JSONL_HEAD` bytes are read: a longer first line is ours when it opens
    as our records do (``{"time": ..., "port": ...``, string values)."""
    try:
        with path.open("rb") as f:
            first = f.readline(_JSONL_HEAD)
        text = first.decode("utf-8", errors="strict" if first.endswith(b"\n") else "ignore")
        if len(first) == _JSONL_HEAD and not first.endswith(b"\n"):
            if _opens_as_a_record(text):
                return
            raise _not_a_log(path, "JSON-lines")
        record = json.loads(text)
    # RecursionError: a line nested deeper than json's decoder recurses (no log of ours)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise _not_a_log(path, "JSON-lines") from err
    if not isinstance(record, dict) or not all(k in record for k in _JSONL_KEYS):
        raise _not_a_log(path, "JSON-lines")


def _opens_as_a_record(head: str) -> bool:
    """True when ``head`` (the start of a long line) opens a JSON object whose first
    members, up to its first value that is not a string, include :data:`_JSONL_OPENING`
    with "time" first."""
    decoder = json.JSONDecoder()
    if not head.startswith("{"):
        return False
    keys: list[str] = []
    pos = 1
    try:
        while True:
            key, pos = decoder.raw_decode(head, pos)
            if not isinstance(key, str) or head[pos : pos + 2] != ": ":
                return False
            keys.append(key)
            if head[pos + 2 : pos + 3] != '"':
                break  # a list or a number: the opening strings are behind
            _, pos = decoder.raw_decode(head, pos + 2)
            if head[pos : pos + 2] != ", ":
                return False
            pos += 2
    except (ValueError, RecursionError):  # a "key" that is a deeply nested array
        return False
    return keys[:1] == ["time"] and all(k in keys for k in _JSONL_OPENING)


def _not_a_log(path: Path, kind: str) -> InputError:
    return InputError(
        f"{path} is not a {kind} log written by esp-cabundle flash; nothing was "
        "appended and no unit was touched",
        hint="give --log a new file, or a log an earlier 'flash --log' wrote "
        "(--log-format picks csv or jsonl; the default follows the name: *.csv is CSV)",
    )
