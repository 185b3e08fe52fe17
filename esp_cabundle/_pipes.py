"""Standard output and error whose reader may leave early (``esp-cabundle build | head -1``).

Python ignores SIGPIPE, so a write to a pipe nobody reads any more raises
BrokenPipeError wherever the command happens to be printing: between staging a file
and renaming it, between two units of a station. Instead, :func:`guard_streams` puts
stdout and stderr on file descriptors wrapped so that, once the reader is gone, what is
printed is dropped and the command carries on: its work (files, units) is finished as
if the reader were still there, and its exit code is its own (0 when it succeeded,
never 1 for a closed pipe). Only when the command's output itself went to standard
output (``build -o -``, ``fs cat``) and was cut short does the process exit 141, the
shell's code for a process ended by SIGPIPE, as ``cat`` would: that output is
incomplete.

Any other failure to write there (a full disk, ``> /dev/full``, an I/O error) is dropped
the same way, so the work still finishes, but it is not the reader's choice: the process
then says so on stderr and exits 3, an I/O failure (:func:`write_failure`).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from typing import Any

__all__ = ["guard_streams", "output_cut", "output_to_stdout", "write_failure"]

_STATE = {"stdout_gone": False, "output_on_stdout": False}
# The first write error other than EPIPE on each stream, by the stream's name.
_FAILED: dict[str, OSError] = {}
# Errors that mean no room where the stream goes (a full disk, /dev/full, a file-size
# or disk-quota limit): only these are mended by sending it where there is room.
_NO_ROOM = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})


class _ReaderMayLeave(io.RawIOBase):
    """A write-only file descriptor that swallows EPIPE: the first marks the stream
    gone, and everything after it is dropped unwritten."""

    def __init__(self, fd: int, *, is_stdout: bool) -> None:
        super().__init__()
        self._fd = fd
        self._is_stdout = is_stdout
        self.gone = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, b: Any) -> int | None:
        size = len(memoryview(b))
        if self.gone:
            return size
        try:
            return os.write(self._fd, b)
        except BlockingIOError:  # a non-blocking descriptor: the buffer retries
            return None
        except BrokenPipeError:
            self.gone = True
            if self._is_stdout:
                _STATE["stdout_gone"] = True
            return size
        except OSError as e:  # ENOSPC, EIO, EFBIG...: dropped as EPIPE is, then told
            self.gone = True
            name = "standard output" if self._is_stdout else "standard error"
            _FAILED.setdefault(name, e)
            return size


def _guarded(stream: Any, *, is_stdout: bool) -> Any:
    """``stream`` rebuilt over a guarded descriptor, with its encoding, error handler
    and buffering; ``stream`` itself when it has no descriptor (a test's capture)."""
    try:
        fd = stream.fileno()
        encoding, errors = stream.encoding, stream.errors
        line_buffering, write_through = stream.line_buffering, stream.write_through
        stream.flush()
    except (AttributeError, OSError, ValueError):
        return stream
    raw = _ReaderMayLeave(fd, is_stdout=is_stdout)
    return io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding=encoding,
        errors=errors,
        line_buffering=line_buffering,
        write_through=write_through,
    )


def guard_streams() -> None:
    """Put sys.stdout and sys.stderr on guarded descriptors (the console script does,
    before any output); see the module's docstring."""
    sys.stdout = _guarded(sys.stdout, is_stdout=True)
    sys.stderr = _guarded(sys.stderr, is_stdout=False)


def output_to_stdout() -> None:
    """Say that the command's output itself is being written to standard output."""
    _STATE["output_on_stdout"] = True


def output_cut() -> bool:
    """True when the command wrote its output to standard output and the reader left
    before the end of it (then the exit code is 141)."""
    if _STATE["output_on_stdout"] and not _STATE["stdout_gone"]:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()  # what is still buffered tells
    return _STATE["output_on_stdout"] and _STATE["stdout_gone"]


def write_failure() -> tuple[str, str, str] | None:
    """(stream, reason, hint) of the first write to stdout or stderr that failed other
    than by its reader leaving, after what is still buffered has been tried; None when
    none. The hint follows the errno: room for ENOSPC, the device for EIO and others."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    for name in ("standard output", "standard error"):
        if name in _FAILED:
            e = _FAILED[name]
            if e.errno in _NO_ROOM:
                hint = f"send {name} to a file or device with room"
            else:  # EIO, ENXIO...: more room would not help
                hint = (
                    f"check the device or file {name} went to (it failed to take the "
                    "write), or send it elsewhere"
                )
            return name, e.strerror or type(e).__name__, hint
    return None
