"""The factory station: many units at once, one outcome and one log record per unit.

:func:`run_parallel` runs a job (flash, restore ...) on every port in its own thread;
one unit's failure never stops the others, and each unit reports through its own
progress callback (esptool's logger is routed per thread by :mod:`.serial`).
:func:`station_exit_code` folds the outcomes into the CLI's exit code, and
:func:`append_log` appends one CSV or JSON-lines record per unit to a station log.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlsplit

from .. import __version__
from .._patterns import host_port
from ..errors import (
    DeviceError,
    EspCabundleError,
    FlashError,
    ImageError,
    InputError,
    Interrupted,
    OutputError,
    PartitionTableError,
    combined_exit_code,
    unwritable_hint,
)
from ..file_modes import PUBLIC
from ..spelling import CLI_SPELLING
from ..text import printable
from .base import ProgressCallback
from .interrupt import UnitInterrupted
from .log_file import LOG_FIELDS, LogFormat, check_log, ends_mid_line
from .ports import url_error, url_scheme
from .result import FlashResult
from .writer import WriteFailed

if TYPE_CHECKING:
    from ..gate import GatedCA
    from .serial import UnitInfo

__all__ = [
    "LOG_FIELDS",
    "LogFormat",
    "UnitOutcome",
    "append_log",
    "check_log",
    "check_port",
    "expand_ports",
    "flash_log_record",
    "known_result",
    "log_format_for",
    "log_result",
    "next_step",
    "one_port",
    "run_parallel",
    "shared_macs",
    "station_exit_code",
]

R = TypeVar("R")
_POLL_S = 0.2
_GLOB_CHARS = frozenset("*?[")

# Lists in CSV: names hold spaces, so they are joined with "; ", the others with " ".
# A note is a sentence that may hold "; " itself (a journal entry and its next step):
# the notes are one JSON array, which splits back exactly (json.loads; README says so).
_NAME_FIELDS = frozenset({"roots_before", "roots_after"})
_JSON_FIELDS = frozenset({"notes"})


def check_port(port: str, *, several: bool = True) -> str:
    """``port`` when it may be opened or globbed; InputError for a URL holding glob
    characters (pyserial would take ``*`` or ``?`` as part of the host or port, or as
    its URL options, and fail in words of its own), and for a URL pyserial cannot open
    whatever the unit does (:func:`~.ports.url_error`): an unknown scheme, a host or
    port missing or out of range. ``several``: the command takes several ports, so the
    hint may say to repeat --port."""
    if "://" in port and _GLOB_CHARS & set(port):
        raise InputError(
            f"{port!r}: a URL cannot be a glob (* ? [ match device paths only, such as "
            "/dev/ttyUSB*); nothing was touched",
            hint="give each unit's URL with its own --port (socket://127.0.0.1:5601 "
            "--port socket://127.0.0.1:5602 ...)"
            if several
            else "give the one unit's URL (socket://127.0.0.1:5601)",
        )
    error = url_error(port)
    if error is not None:
        raise error
    return port


def one_port(given: Sequence[str], *, command: str) -> str:
    """The one port of a command that reaches one unit (``read``, ``inspect``). A
    repeated --port, or a glob matching several ports, is refused (InputError, exit 2)
    before anything is opened: taking the last one would skip the others while the run
    says OK. A glob matching one port is that port."""
    for port in given:
        check_port(port, several=False)
    ports = expand_ports(given)
    if len(ports) > 1:
        listed = ", ".join(ports)
        said = (
            f"--port given {len(given)} times ({listed})"
            if len(given) > 1
            else f"--port {given[0]!r} matches {len(ports)} ports ({listed})"
        )
        raise InputError(
            f"{said}: '{command}' reaches one unit at a time; nothing was touched",
            hint=f"run 'esp-cabundle {command} --port PORT' once for each of {listed} "
            "(only 'flash' and 'restore' take several ports at once)",
        )
    return ports[0]


def expand_ports(patterns: Sequence[str]) -> list[str]:
    """Ports in the order given, globs (``/dev/ttyUSB*``) expanded and sorted, no
    duplicates: a device named twice (``/dev/serial/by-id/...`` and the ``/dev/ttyUSB0``
    it links to) is one unit, kept as first spelt; opened twice, its second job would
    fail on the first one's lock. So is a URL spelt twice (:func:`_unit_key`).

    DeviceError (exit 3, as for a port that does not exist) when a glob matches no
    port: a station with no unit plugged in; InputError when a URL holds glob
    characters (:func:`check_port`).
    """
    out: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for pattern in patterns:
        # [::1]:4000 is an address (its socket:// left out: opening it says so), not a glob
        glob_chars = _GLOB_CHARS & set(pattern) and not host_port(pattern)
        if "://" not in check_port(pattern) and glob_chars:
            found = sorted(glob.glob(pattern))
            if not found:
                raise DeviceError(
                    f"no serial port matches {pattern!r}: no unit is plugged in there",
                    hint="check the cables; list ports: python -m serial.tools.list_ports",
                )
        else:
            found = [pattern]
        for port in found:
            device = _unit_key(port)
            if device not in seen:
                seen.add(device)
                out.append(port)
    if not out:
        raise InputError("no port given", hint="--port /dev/ttyUSB0 (or several, or a glob)")
    return out


def _unit_key(port: str) -> tuple[str, ...]:
    """What names one unit however ``port`` is spelt: a device path's target, a network
    URL's scheme, host and port. Schemes and host names are case-insensitive (RFC 3986
    sections 3.1 and 3.2.2; pyserial lower-cases the scheme, the resolver the host), so
    ``SOCKET://h:1`` and ``socket://h:1`` are one unit: compared as typed, the station
    opened it twice and the second job failed. URL options (``?logging=debug``) are the
    client's: the same endpoint. Other pyserial URLs name a path: only the scheme folds."""
    scheme = url_scheme(port)
    if scheme is None:
        return ("path", os.path.realpath(port))
    if scheme in ("socket", "rfc2217"):
        parts = urlsplit(port)  # checked by check_port: a host and a port 1..65535
        return (scheme, parts.hostname or "", str(parts.port))
    return (scheme, port[len(scheme) :])


@dataclass(frozen=True, slots=True)
class UnitOutcome(Generic[R]):
    """What happened on one port: a result or an error, when, and for how long."""

    port: str
    result: R | None
    error: EspCabundleError | None
    started: datetime
    seconds: float
    unit: UnitInfo | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def exit_code(self) -> int:
        return 0 if self.error is None else self.error.exit_code


def run_parallel(
    ports: Sequence[str],
    job: Callable[[str, ProgressCallback | None, Callable[[UnitInfo], None]], R],
    *,
    progress_for: Callable[[str], ProgressCallback | None] | None = None,
    on_done: Callable[[UnitOutcome[R]], None] | None = None,
) -> list[UnitOutcome[R]]:
    """Run ``job(port, progress, on_connect)`` on every port at once; outcomes in port order.

    ``on_connect`` lets the job say which unit it reached, so a failure after connecting
    is still logged with the unit's MAC. ``on_done`` is called (in the calling thread) as
    each unit finishes, e.g. to append its log record at once.
    """
    infos: dict[str, UnitInfo] = {}
    lock = threading.Lock()

    def run(port: str) -> UnitOutcome[R]:
        def connected(info: UnitInfo) -> None:
            with lock:
                infos[port] = info

        started = datetime.now(timezone.utc)
        t0 = time.monotonic()
        progress = progress_for(port) if progress_for is not None else None
        try:
            result = job(port, progress, connected)
            error: EspCabundleError | None = None
        except EspCabundleError as e:
            result, error = None, e
        except Exception as e:  # a bug on one unit must not take the others down
            result, error = None, FlashError(f"{port}: unexpected error: {e!r}")
        with lock:
            info = infos.get(port)
        if info is None and isinstance(error, DeviceError):
            info = error.unit  # refused or lost while connecting, after saying its MAC
        return UnitOutcome(port, result, error, started, time.monotonic() - t0, info)

    outcomes: dict[str, UnitOutcome[R]] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(ports)), thread_name_prefix="unit") as pool:
        pending = {pool.submit(run, port) for port in ports}
        while pending:
            # Signal handlers run in this (the main) thread: waiting in short slices keeps
            # it free to run them at once, whatever the platform does with a signal that
            # arrives during an unbounded wait.
            done, pending = wait(pending, timeout=_POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()
                outcomes[outcome.port] = outcome
                if on_done is not None:
                    on_done(outcome)
    return [outcomes[p] for p in ports]


def next_step(error: EspCabundleError, port: str) -> str:
    """The one thing to do next about the unit on ``port`` that failed or stopped, alike
    in its line, its JSON and its log record: the error's own advice, else what usually
    helps for its kind. Said to the CLI's user: only the station and bench commands
    report units this way."""
    if error.hint:
        return error.hint
    if isinstance(error, DeviceError):
        return "check the cable and power, then run the same command again"
    if isinstance(error, (ImageError, PartitionTableError)):
        return f"check --board, and look at the unit with '{CLI_SPELLING.inspect_for(port)}'"
    return "fix what the message says, then run the same command again"


def shared_macs(outcomes: Sequence[UnitOutcome[Any]]) -> list[str]:
    """A warning per MAC that answered on more than one port in one run. The journal
    keeps a unit's updates under its MAC, so 'restore' could not tell those units
    apart: on one it may undo, or mark undone, the update of the other (virtual units
    all start with one default MAC)."""
    ports: dict[str, list[str]] = {}
    for o in outcomes:
        if o.unit is not None:
            ports.setdefault(o.unit.mac, []).append(o.port)
    return [
        f"warning: {' and '.join(named)} answered with the same MAC {mac}: the journal keeps "
        "updates per MAC, so 'restore' cannot tell these units apart; give each virtual "
        "unit its own --mac (on real units, a cloned MAC)"
        for mac, named in ports.items()
        if len(named) > 1
    ]


def station_exit_code(outcomes: Iterable[UnitOutcome[Any]]) -> int:
    """0 when every unit succeeded; 130 when any unit stopped on request (Ctrl-C); when
    every unit failed with the same exit code, that code (2 for a bad partition table
    everywhere, 3 for lost links everywhere); any other failure 3 (some units need
    attention)."""
    if any(isinstance(o.error, Interrupted) for o in outcomes):
        return Interrupted.exit_code
    return combined_exit_code(o.exit_code for o in outcomes)


def known_result(outcome: UnitOutcome[FlashResult]) -> FlashResult | None:
    """What is known of a unit's flash: its result, or the part of one a run that
    stopped or failed part-way carries in its error."""
    e = outcome.error
    if isinstance(e, (UnitInterrupted, WriteFailed)) and isinstance(e.result, FlashResult):
        return e.result
    return outcome.result


def log_result(outcome: UnitOutcome[FlashResult]) -> str:
    """A unit's result in the station log's words, alike in its record and its JSON:
    updated, up-to-date, resumed, dry-run, interrupted or failed."""
    if isinstance(outcome.error, Interrupted):
        return "interrupted"
    if outcome.error is not None or outcome.result is None:
        return "failed"
    return outcome.result.log_result


def flash_log_record(outcome: UnitOutcome[FlashResult], board: str, ca: GatedCA) -> dict[str, Any]:
    """One station-log record (the :data:`LOG_FIELDS`) for a unit's flash outcome.

    ``result`` is updated, up-to-date, resumed (an interrupted update finished, then
    this CA written if it was another), interrupted (the error says what the unit holds
    and what next), dry-run or failed; the bundle is named with its SHA-256, the roots
    by name and by fingerprint (before: as the unit held them when the run started).
    ``notes`` ends with a journal entry not marked complete, should one be (a full disk).
    """

    r = known_result(outcome)
    e = outcome.error
    info = outcome.unit
    result = log_result(outcome)
    # the port is the record's own column: a message that starts with it (a lost link,
    # a stop) is said without it, as every other error is (and as the unit's line says)
    error = e.message.removeprefix(f"{outcome.port}: ") if e is not None else ""
    if e is not None:
        error += f"; next: {next_step(e, outcome.port)}"
    return {
        "time": outcome.started.isoformat(timespec="seconds"),
        "tool_version": __version__,
        "port": outcome.port,
        "mac": r.mac if r is not None else (info.mac if info is not None else ""),
        "chip": r.chip if r is not None else (info.chip if info is not None else ""),
        "board": board,
        "bundle": ca.source.removeprefix("file "),
        "bundle_sha256": ca.sha256,
        "partitions": list(r.partitions) if r is not None else [],
        "roots_before": list(r.roots_before) if r is not None else [],
        "roots_after": list(r.roots_after) if r is not None else [],
        "ca_before": list(r.ca_before) if r is not None else [],
        "ca_after": list(r.ca_after) if r is not None else [],
        "sectors_written": r.sectors_written if r is not None else 0,
        "bytes_read": r.bytes_read if r is not None else 0,
        "bytes_written": r.bytes_written if r is not None else 0,
        "result": result,
        "error": error,
        "notes": _notes(r),
    }


def _notes(r: FlashResult | None) -> list[str]:
    """The plan's notes, then a journal entry the unit's work left unmarked (a full
    disk): the result stays updated and the error empty, as the unit's line and --json
    say, but the log keeps what to mend, on the record's one line."""
    notes = list(r.plan.notes) if r is not None and r.plan is not None else []
    e = r.journal_error if r is not None else None
    if e is not None:
        notes.append(printable(f"journal: {e.message}; next: {e.hint}"))
    return notes


_log_lock = threading.Lock()


def log_format_for(path: Path, explicit: LogFormat | None) -> LogFormat:
    """``csv`` for ``*.csv``, JSON lines otherwise, unless given."""
    if explicit is not None:
        return explicit
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def append_log(path: Path, records: Iterable[dict[str, Any]], fmt: LogFormat) -> None:
    """Append records; a new (or empty) CSV file gets the header first.

    In CSV, lists are joined with spaces, roots by name with "; ", and the notes are
    one JSON array (a note may hold "; "). Each call appends whole lines and syncs, so a
    station that crashes keeps the records of the units already done. One that cannot
    (a full disk) leaves the log as it was: a half record is cut off again, and a log
    this call created is removed, not left behind empty. OutputError then. A log whose
    last line was left without its newline (a run killed mid-append) gets one first: the
    new records start on lines of their own.
    """
    rows = list(records)
    if not rows:
        return
    with _log_lock:
        try:
            created = True
            try:
                # 0644 whatever the umask: under umask 000, 0666 let any user rewrite a
                # station's record. A log that exists keeps the mode it has.
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, PUBLIC)
                try:
                    os.fchmod(fd, PUBLIC)
                except OSError:
                    os.close(fd)
                    os.unlink(path)
                    raise
            except FileExistsError:
                created = False
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                size = os.fstat(fd).st_size
                data = _log_lines(rows, fmt, header=size == 0).encode("utf-8")
                if _ends_mid_line(path, fd, size):
                    data = b"\n" + data
                try:
                    _write_all(fd, data)
                except OSError:
                    _take_back(path, fd, size, created=created)
                    raise
            finally:
                os.close(fd)
        except OSError as e:
            raise OutputError(
                f"{path}: cannot append to the log ({e.strerror or e})",
                hint=unwritable_hint(e, path),
            ) from e


def _ends_mid_line(path: Path, fd: int, size: int) -> bool:
    """Whether the regular file at ``fd`` (open for writing only) ends without a newline;
    read through a second descriptor. One that cannot be read is taken as whole."""
    if size == 0 or not stat.S_ISREG(os.fstat(fd).st_mode):
        return False
    try:
        rfd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return ends_mid_line(rfd, size)
    finally:
        os.close(rfd)


def _log_lines(rows: list[dict[str, Any]], fmt: LogFormat, *, header: bool) -> str:
    buf = io.StringIO()
    if fmt == "csv":
        writer = csv.DictWriter(buf, fieldnames=LOG_FIELDS, lineterminator="\n")
        if header:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(k, v) for k, v in row.items()})
    else:
        for row in rows:
            buf.write(json.dumps(row, sort_keys=False) + "\n")
    return buf.getvalue()


def _csv_cell(key: str, value: Any) -> Any:
    """A record's field as its CSV cell (see :data:`_NAME_FIELDS`, :data:`_JSON_FIELDS`)."""
    if not isinstance(value, list):
        return value
    if key in _JSON_FIELDS:  # escapes newlines too: the record stays one line
        return json.dumps([str(v) for v in value], ensure_ascii=False)
    return ("; " if key in _NAME_FIELDS else " ").join(map(str, value))


def _write_all(fd: int, data: bytes) -> None:
    """``data`` appended whole and synced; OSError (ENOSPC...) as it comes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def _take_back(path: Path, fd: int, size: int, *, created: bool) -> None:
    """Undo a failed append, as far as it goes: a log this run created is removed (a
    0-byte file would pass for a log that took the records), another cut back to
    ``size`` (a half line would end every later reader). Not a regular file (a FIFO,
    /dev/full): nothing to undo."""
    with contextlib.suppress(OSError):
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return
        if created:
            path.unlink()
        else:
            os.ftruncate(fd, size)
