"""A FIFO named as an input or an output: used, but never waited on in silence.

A FIFO fed by a process (``mkfifo dump.fifo; esptool read-flash ... dump.fifo &``) is a
fair input, but with no writer yet a blocking open waits for ever and the tool looks
hung. :func:`open_fifo` learns whether a writer is there before it blocks, and says
what it waits for when none is; :func:`open_fifo_for_writing` does the same for an
output (``-o ca.fifo``) with no reader yet.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from pathlib import Path

__all__ = ["named_fifo", "open_fifo", "open_fifo_for_writing"]

# What the first, non-blocking read takes at most; the rest is read blocking.
_PROBE = 1 << 16
# How long a writer started beside the tool (``cmd > dump.fifo & esp-cabundle inspect
# dump.fifo``) may take to open its end before the user is told the tool waits for one.
_GRACE = 1.0


def named_fifo(path: Path) -> bool:
    """True for a FIFO with a name on disk. Not for a pipe reached through /dev/fd
    (``inspect <(cmd)``): its writer was there when it was made, and no other can come,
    so its end of file is the input's end, not a wait for a writer.

    Told by the name the path resolves to: on Linux /dev/fd/N leads to
    ``/proc/PID/fd/pipe:[INODE]``, which names nothing (lstat fails); on macOS the
    /dev/fd nodes are no links, and stay in the descriptor directory."""
    if not hasattr(os, "O_NONBLOCK") or not stat.S_ISFIFO(os.stat(path).st_mode):
        return False
    real = os.path.realpath(path)
    try:
        named = os.lstat(real)
    except OSError:  # Linux: a pipe has no name on disk to lead to
        return False
    if os.path.dirname(real) in ("/dev/fd", "/proc/self/fd") or real.startswith("/proc/"):
        return False  # a descriptor directory: an open pipe's end, not a name on disk
    return stat.S_ISFIFO(named.st_mode)


def open_fifo(path: Path, flags: int, *, probe: int) -> tuple[int, bytes]:
    """The FIFO at ``path`` opened (``flags``) for a blocking read, with the bytes its
    writer had already written (at most ``probe``).

    Opened without blocking, a read tells a writer being there (data, or EAGAIN) from
    none (end of file), asked again for up to _GRACE seconds; with none the user is told,
    once on stderr, what the tool waits for, and it goes on asking on the same open end
    until a writer comes. Never opened a second time: a writer that came, wrote and left
    in between would leave its bytes in the first end and the second open waiting for
    ever (CI caught that race)."""
    fd = os.open(path, flags | os.O_NONBLOCK)
    try:
        size = min(probe, _PROBE)
        head, writer = _probe(fd, size, _GRACE)
        if not writer:
            from .ui import note, shown_path  # deferred: ui (and click) only when told

            waiting = "waiting for something to write to it (Ctrl-C to stop)"
            note(f"{shown_path(path)} is a FIFO: {waiting}")
            head, writer = _probe(fd, size, None)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, head


def open_fifo_for_writing(path: Path) -> int:
    """The FIFO at ``path`` opened for a blocking write. With no reader, opening its
    write end without blocking fails (ENXIO): asked again for up to _GRACE seconds,
    then the user is told once on stderr what the tool waits for, and the blocking open
    waits for a reader (Ctrl-C ends the wait), as the input side does."""
    flags = os.O_WRONLY | getattr(os, "O_BINARY", 0)
    deadline = time.monotonic() + _GRACE
    while True:
        try:
            fd = os.open(path, flags | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
            if time.monotonic() < deadline:
                time.sleep(0.02)
                continue
            break
        try:
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd
    from .ui import note, shown_path  # deferred: ui (and click) only when told

    note(f"{shown_path(path)} is a FIFO: waiting for something to read from it (Ctrl-C to stop)")
    return os.open(path, flags)


def _probe(fd: int, size: int, grace: float | None) -> tuple[bytes, bool]:
    """What a writer had written and whether one is there, asked until ``grace`` seconds
    are up (None: until a writer comes; Ctrl-C ends the wait)."""
    deadline = None if grace is None else time.monotonic() + grace
    while True:
        try:
            head = os.read(fd, size)
        except BlockingIOError:
            return b"", True  # a writer, nothing written yet
        if head or (deadline is not None and time.monotonic() >= deadline):
            return head, bool(head)
        time.sleep(0.02)
