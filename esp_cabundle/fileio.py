"""Writing outputs so that a failure never leaves a partial one behind, a set of outputs
is replaced all or none, device nodes, FIFOs and symlinks are never replaced by a
regular file, and a file that already holds exactly the bytes to write is left
untouched. Inputs are read by :mod:`.file_inputs` (re-exported here)."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from ._pipes import output_to_stdout
from ._stdin import output_descriptor, read_only
from .errors import InputError, OutputError
from .fifo import open_fifo_for_writing
from .file_inputs import read_input
from .file_kinds import (
    file_kind,
    is_found,
    is_named,
    name_fault,
    refuse_special,
    shell_path,
)
from .file_modes import (
    PRIVATE,
    PUBLIC,
    TEMP_SUFFIX,
    is_temporary_name,
    kept_from_others,
    kept_narrow,
    mode_kept,
    narrowed_in_place,
)

__all__ = [
    "PRIVATE",
    "PUBLIC",
    "TEMP_SUFFIX",
    "Data",
    "already_holds",
    "file_kind",
    "is_found",
    "is_named",
    "is_temporary_name",
    "kept_from_others",
    "mode_kept",
    "read_input",
    "refuse_missing_folder",
    "refuse_output_under_a_file",
    "refuse_special",
    "refuse_unwritable",
    "shell_path",
    "write_all_atomic",
    "write_atomic",
]


def refuse_missing_folder(path: Path, *, what: str, hint: str) -> None:
    """A record that grows run after run (``flash --log``, ``push --ledger``) goes only
    into a directory that exists: unlike an output, whose missing parents are made, its
    directory is never created, since a typo in the path would leave the records where
    nobody looks. InputError when the directory does not exist, OutputError when a
    file stands where it should be; checked before any unit is touched."""
    folder = path.parent
    if os.path.isdir(folder):
        return
    if any(os.path.exists(p) and not os.path.isdir(p) for p in (folder, *folder.parents)):
        raise OutputError(
            f"{path}: cannot write the {what} (its directory is a file); no unit was touched",
            hint=hint,
        )
    raise InputError(
        f"{path}: the {what}'s directory {folder} does not exist; no unit was touched",
        hint=f"create the directory first (mkdir -p {folder}), or give another path "
        f"(the {what}'s directory is never created: a typo would hide the records)",
    )


Data = bytes | memoryview
"""Bytes to write; a memoryview too, so an edited 256 MiB image is written from where it
lies instead of copied once more."""


def already_holds(path: Path, data: Data, *, mode: int = PUBLIC) -> bool:
    """True when :func:`write_all_atomic` would leave ``path`` untouched (it already holds
    ``data`` with that mode), so ``--dry-run`` says ``unchanged`` rather than "would
    write"; a path it could not write is not judged here (False)."""
    try:
        item = _classify(path, data)
    except (OutputError, InputError):
        return False
    return _already_holds(item, mode)


def write_atomic(path: str | Path, data: Data, *, mode: int = PUBLIC) -> bool:
    """Write ``data`` to ``path`` so that a failure leaves the old file (see
    :func:`write_all_atomic`); False when the file already held exactly that and was
    left untouched."""
    return not write_all_atomic([(Path(path), data)], mode=mode)


class _Item:
    """One file of a :func:`write_all_atomic` call and how far its write got. A plain
    class, not a dataclass: every command imports this module, and making a dataclass
    costs ~0.6 ms of start-up; nothing compares or prints an item."""

    __slots__ = (
        "backup",
        "committed",
        "data",
        "existed",
        "fd",
        "made_dirs",
        "named",
        "old_mode",
        "target",
        "through",
        "tmp",
        "unchanged",
    )

    def __init__(
        self,
        named: Path,  # as the user named it
        target: Path,  # where the bytes go: a symlink's target, resolved
        data: Data,
        through: bool,  # written through (a descriptor, a character device, a FIFO), not renamed
        *,
        existed: bool = False,
        old_mode: int | None = None,  # the replaced file's st_mode
    ) -> None:
        self.named = named
        self.target = target
        self.data = data
        self.through = through
        self.tmp: str | None = None
        self.backup: str | None = None
        self.existed = existed
        self.committed = False
        self.old_mode = old_mode
        self.unchanged = False  # already holds exactly these bytes and mode: left untouched
        self.made_dirs: list[Path] = []  # missing parents it created
        self.fd: int | None = None  # the descriptor a pipe or socket is written through


def refuse_unwritable(path: str | Path, data: Data = b"") -> None:
    """Raise what writing ``path`` would refuse before any byte (a link into a missing
    directory, a folder in the way, a descriptor not open for writing), writing nothing:
    a dry run says what the real run would."""
    _classify(Path(path), data)


def _classify(path: Path, data: Data) -> _Item:
    """Where ``path`` really leads and how it is written: by rename, or through."""
    fd = output_descriptor(path)
    if fd is not None and (item := _through_descriptor(path, fd, data)) is not None:
        return item
    try:
        target = Path(os.path.realpath(path)) if path.is_symlink() else path
    except OSError as e:  # a name too long for the system (ENAMETOOLONG): no traceback
        raise OutputError(f"{path}: cannot write ({e.strerror or e}); nothing written") from e
    try:
        st = os.stat(target)
    except FileNotFoundError as e:
        if target is not path:
            _refuse_link_to_nowhere(path, e)
        return _Item(path, target, data, through=False)
    except NotADirectoryError as e:  # ro/sub/ca.pem with ro a file: say which part
        raise _no_directory(path, target.parent, e) from e
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return _Item(path, target, data, through=True)
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{path}: is a directory; nothing written", hint="name a file")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(
            f"{path}: is a block device or socket, not a file; nothing written",
            hint="write to a file, then copy it there if that is really meant",
        )
    return _Item(path, target, data, through=False, existed=True, old_mode=st.st_mode)


def _refuse_link_to_nowhere(path: Path, e: OSError) -> None:
    """A symlink whose target does not exist is written through (its target made, as
    ``cp`` does), but only into a directory that exists: the missing parents made for
    ``-o build/ca.pem`` were asked for by name, a link's target's were not (a link left
    to ``/nonexistent/x`` would have that tree made anywhere). InputError naming both."""
    link = os.readlink(path)
    parent = Path(os.path.realpath(path)).parent
    if os.path.lexists(parent):
        return
    raise InputError(
        f"is a symbolic link to '{link}', whose directory {parent} does not exist; nothing written",
        path=str(path),
        hint=f"create the directory first (mkdir -p {shell_path(str(parent))}), or replace "
        "the link (rm it, or -o another path): a link's missing directories are never made",
    ) from e


def _through_descriptor(path: Path, fd: int, data: Data) -> _Item | None:
    """``path`` naming descriptor ``fd`` (``-`` and ``/dev/stdout`` are 1, bash's
    ``-o >(cmd)`` is ``/dev/fd/63``), written through it whatever it has open: a pipe or
    socket has no file on disk beside which one could be made and renamed, and a file
    the shell opened (``-o /dev/stdout >> all.pem``) is written where the descriptor
    stands, as the shell asked (``>>`` keeps its earlier bytes, which replacing the file
    by name would drop). A block device is refused by its name, as when named (None)."""
    try:
        st = os.fstat(fd)
        reading_only = read_only(fd)
    except OSError as e:
        raise OutputError(
            f"{path}: file descriptor {fd} is not open ({e.strerror or e}); nothing written",
            hint=f"open it where the command is run (e.g. {fd}> FILE), or name a file",
        ) from e
    if stat.S_ISBLK(st.st_mode):
        return None
    if reading_only:
        raise OutputError(
            f"{path}: file descriptor {fd} is open for reading only; nothing written",
            hint=f"open it for writing where the command is run (e.g. {fd}> FILE), or name a file",
        )
    item = _Item(path, path, data, through=True)
    item.fd = fd
    return item


def _already_holds(item: _Item, mode: int) -> bool:
    """True when the regular file ``item`` would replace already holds exactly its bytes
    and would keep its mode: rewriting it would only give it a new inode and mtime, and
    make rebuild again everything that depends on it (``make``, CMake, PlatformIO).
    Read in chunks, no more than the new bytes and one more; a file that cannot be read
    is replaced as before."""
    if item.through or not item.existed or item.old_mode is None:
        return False
    if not mode_kept(item.old_mode, mode):
        return False
    want = memoryview(item.data)
    try:
        # without blocking: a FIFO put there since it was classified is not waited on
        fd = os.open(item.target, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_size != len(want):
                return False
            at = 0
            while at < len(want):
                chunk = f.read(min(1 << 20, len(want) - at))
                if not chunk or chunk != want[at : at + len(chunk)]:
                    return False
                at += len(chunk)
            return f.read(1) == b""
    except OSError:
        return False


def _make_temp(item: _Item, parent: Path) -> int:
    """A new file ``.NAME.XXXXXXXX.esp-cabundle-tmp`` beside the target, as
    ``tempfile.mkstemp`` makes one (exclusive create, mode 0600, so no other user can
    open it before its chmod) without importing tempfile and random for every write.
    Its name is in ``item.tmp`` before it exists, so an interrupt between the two still
    leaves it to be removed."""
    for _ in range(100):
        item.tmp = str(parent / f".{item.target.name}.{os.urandom(6).hex()}{TEMP_SUFFIX}")
        try:
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            return os.open(item.tmp, flags | getattr(os, "O_BINARY", 0), 0o600)
        except FileExistsError:
            item.tmp = None  # someone else's: never removed
            continue
    raise FileExistsError(f"no free temporary name in {parent}")


def _make_parents(item: _Item, parent: Path) -> None:
    """Create the missing directories above an output (``build -o build/ca.pem``, an
    output ``path: data/ca.pem``), each recorded in ``item`` before it exists so a run
    that fails removes them again."""
    missing: list[Path] = []
    p = parent
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        item.made_dirs.append(d)
        try:
            os.mkdir(d)
        except OSError as e:
            item.made_dirs.remove(d)  # not made here (or made meanwhile by someone else)
            if not isinstance(e, FileExistsError):
                raise _no_directory(item.named, d, e) from e


def _in_the_way(folder: Path) -> tuple[str, str, str] | None:
    """A file where a directory of ``folder`` should be, as (what cannot be done, why,
    hint) naming it; None when there is none."""
    down = [*reversed(folder.parents), folder]  # from the top
    # os.path's tests: Path.exists raised PermissionError for a folder it cannot search,
    # and this runs on every output named, not only once a write failed
    at = next((i for i, p in enumerate(down) if os.path.exists(p) and not os.path.isdir(p)), None)
    if at is None:
        return None
    blocker = down[at]
    why = f"{blocker} is {file_kind(os.stat(blocker).st_mode)}, not a directory"
    what = f"create directory {down[at + 1]}" if at + 1 < len(down) else f"write into {blocker}"
    return what, why, f"move {blocker} away, or write somewhere else"


def refuse_output_under_a_file(path: Path) -> None:
    """InputError (exit 2) before any work for an output whose path runs through a file
    (``-o ca.pem/x.bin``): the user's slip, which the write at the end said as an I/O
    failure (exit 3) after the work was done. So is a name no file can have (a part
    over NAME_MAX, a NUL)."""
    fault = name_fault(path)
    if fault is not None:
        raise InputError(f"{path}: cannot write: {fault}; nothing was read or written")
    blocked = _in_the_way(path.parent)
    if blocked is not None:
        what, why, hint = blocked
        raise InputError(f"{path}: cannot {what}: {why}; nothing was read or written", hint=hint)


def _no_directory(named: Path, folder: Path, e: OSError) -> OutputError:
    """Why ``named``'s directory ``folder`` cannot be made, naming the part at fault
    ("cannot create directory ro/sub: ro is not writable", not ``ro/sub`` alone)."""
    blocked = _in_the_way(folder)
    hint: str | None
    if blocked is not None:  # a file where a directory of the path should be
        what, why, hint = blocked
    else:
        what = f"create directory {folder}"
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            why = f"{folder.parent} is not writable ({e.strerror or e})"
            hint = "write to a directory where files can be created"
        else:
            why, hint = str(e.strerror or e), None
    return OutputError(f"{named}: cannot {what}: {why}; nothing written", hint=hint)


def _stage(item: _Item, mode: int) -> None:
    parent = item.target.parent if str(item.target.parent) else Path(".")
    try:
        _make_parents(item, parent)
        fd = _make_temp(item, parent)
        tmp = str(item.tmp)
    except OSError as e:
        # The file is written beside its target and renamed over it: a directory that
        # takes no new file (/proc, read-only) cannot hold the output.
        raise OutputError(
            f"{item.named}: cannot write: no new file can be made in {parent} "
            f"({e.strerror or e}), and outputs are written beside their target, then renamed",
            hint="write to a directory where files can be created",
        ) from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(item.data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, kept_narrow(mode, item.old_mode))
    except OSError as e:
        raise OutputError(f"{item.named}: cannot write ({e.strerror or e})") from e


def _keep_old(item: _Item) -> None:
    """A second name for the file about to be replaced, so it can be put back."""
    if not item.existed:
        return
    backup = f"{item.tmp}.old{TEMP_SUFFIX}"
    item.backup = backup  # named first: an interrupt right after the link still removes it
    try:
        os.link(item.target, backup)
    except OSError:
        import shutil  # deferred: only where hard links are refused (FAT, some mounts)

        shutil.copy2(item.target, backup)


def _keep_private(item: _Item, mode: int) -> None:
    """A regular file behind a descriptor (``-o /dev/stdout > dump.bin``, or ``>>``) is
    kept from group and others for private output, before any output is written; one
    whose mode cannot be narrowed (another user's file) is refused: secrets never land
    where others can read them. A public output leaves the mode the shell chose."""
    assert item.fd is not None
    try:
        st = os.fstat(item.fd)
    except OSError as e:
        raise OutputError(f"{item.named}: cannot write ({e.strerror or e}); nothing written") from e
    narrow = narrowed_in_place(mode, st.st_mode) if stat.S_ISREG(st.st_mode) else None
    if narrow is None:
        return
    try:
        os.fchmod(item.fd, narrow)
    except OSError as e:
        raise OutputError(
            f"{item.named}: the file it leads to would be readable by others (mode "
            f"{stat.S_IMODE(st.st_mode):04o}) and its mode cannot be narrowed "
            f"({e.strerror or e}); this output holds secrets; nothing written",
            hint="have the file's owner run chmod go= on it, or write to a file of your own",
        ) from e


def _cut_after(fd: int) -> bool:
    """True when ``fd`` is a regular file written from where it stands (not ``>>``)."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return False
    import fcntl  # deferred: only a descriptor leading to a file; POSIX, as /dev/fd is

    return not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND


def _write_through(item: _Item) -> None:
    try:
        if item.fd is None:
            fifo = hasattr(os, "O_NONBLOCK") and stat.S_ISFIFO(os.stat(item.target).st_mode)
            target = open_fifo_for_writing(item.named) if fifo else item.target
            with open(target, "wb") as f:
                f.write(item.data)
                f.flush()
            return
        on_file = _cut_after(item.fd)
        if item.fd == 1:  # '-', /dev/stdout: through sys.stdout, after what it holds
            output_to_stdout()  # cut short by its reader: exit 141 (esp_cabundle._pipes)
            out = sys.stdout.buffer
            out.write(item.data)
            out.flush()
        else:  # by the descriptor: a socket cannot be opened by name
            sys.stderr.flush()  # what was said before it comes first, on fd 2 too
            view = memoryview(item.data).cast("B")
            while view:
                view = view[os.write(item.fd, view) :]
        if on_file:  # 3<> FILE writes from its start: no old tail past the new end
            os.ftruncate(item.fd, os.lseek(item.fd, 0, os.SEEK_CUR))
    except OSError as e:
        raise OutputError(f"{item.named}: cannot write ({e.strerror or e})") from e


def _roll_back(items: list[_Item]) -> None:
    for item in reversed(items):
        if not item.committed:
            continue
        # The backup's name is left for _discard: a rename onto the same file (the new
        # one not yet in place) does nothing and keeps it.
        with contextlib.suppress(OSError):
            if item.backup is not None:
                os.replace(item.backup, item.target)
            else:
                os.unlink(item.target)


Output = tuple[Path, Data] | tuple[Path, Data, int]  # path, bytes[, its own mode]


def write_all_atomic(
    items: Iterable[Output], *, mode: int = PUBLIC, read_dirs: Iterable[Path] = ()
) -> tuple[Path, ...]:
    """Write several files, all or none, each a regular file of ``mode`` (or the item's
    own) whatever the umask (:data:`PRIVATE` for a unit's flash contents), narrowed to
    what a file replaced allowed group and others. Returns the paths (as given) left
    untouched because their regular file already held exactly those bytes with that
    mode: same inode, same mtime, so a build system does not rebuild what includes them
    (but see :func:`_stamp` for one in ``read_dirs``, directories the caller read).

    Missing parent directories are created (and removed again if the run fails).
    Every file is staged (written and synced under a temporary name beside it), then
    each replaces its file by a rename, the old one kept under a second name until all
    are in place: if a rename fails, or an interrupt (Ctrl-C, SIGTERM) arrives, the files
    already replaced are put back and no temporary file is left. A symlink is followed
    and its target replaced; standard output (``-``), character devices (``/dev/null``)
    and FIFOs are written through, after the renames, never replaced, as is whatever a
    descriptor's name leads to (``/dev/stdout``, ``/dev/fd/N``: a pipe, a socket, or a
    file the shell opened, appended to under ``>>``, its mode left as the shell made it
    unless the output is private and it lets others read: then narrowed, or refused).
    """
    outs = list(items)
    todo = [_classify(Path(out[0]), out[1]) for out in outs]
    modes = [out[2] if len(out) == 3 else mode for out in outs]
    for item, item_mode in zip(todo, modes, strict=True):
        item.unchanged = _already_holds(item, item_mode)
    failed = False
    try:
        for item, item_mode in zip(todo, modes, strict=True):
            if item.fd is not None:  # before any output, so a refusal leaves all as they were
                _keep_private(item, item_mode)
        for item, item_mode in zip(todo, modes, strict=True):
            if not item.through and not item.unchanged:
                _stage(item, item_mode)
        for item in todo:
            if item.through or item.unchanged:
                continue
            assert item.tmp is not None
            try:
                _keep_old(item)
                # Marked first: an interrupt right after the rename still puts it back.
                item.committed = True
                os.replace(item.tmp, item.target)
            except OSError as e:
                item.committed = False
                raise OutputError(
                    f"{item.named}: cannot write ({e.strerror or e}); "
                    "every other output was left as it was"
                ) from e
            item.tmp = None
        for item in todo:
            if item.through:
                _write_through(item)
    except BaseException:
        failed = True
        _again_if_interrupted(_roll_back, todo)
        raise
    finally:
        _again_if_interrupted(_discard, todo)
        if failed:
            _again_if_interrupted(_remove_made_dirs, todo)
    _stamp(todo, read_dirs)  # last: the backups unlinked above changed their directories
    return tuple(item.named for item in todo if item.unchanged)


# The file itself, never where a link swapped in since the rename leads (where supported).
_FOLLOW = os.utime not in os.supports_follow_symlinks


def _stamp(todo: list[_Item], read_dirs: Iterable[Path]) -> None:
    """Each file written, its mtime set to now once everything else is done: renamed
    into a directory (and a backup unlinked there), a file was older than the
    directory's new mtime, and a make rule whose dependency file lists that directory
    (``build --depfile`` with ``from_dir: data`` and ``data/ca.pem``) ran the build
    again every time. A file left unchanged keeps its mtime (nothing that includes it
    is rebuilt), unless it is named in one of ``read_dirs`` that is newer than it (a
    file added there since): else that rule would run the build for ever."""
    read = {os.path.realpath(d) for d in read_dirs}
    for item in todo:
        if item.through or (item.unchanged and not _older_than_dir(item, read)):
            continue
        with contextlib.suppress(OSError):  # the file is written; only make would care
            os.utime(item.target, follow_symlinks=_FOLLOW)


def _older_than_dir(item: _Item, read: set[str]) -> bool:
    """Whether ``item``'s file is older than the directory it is named in, one of
    ``read`` (its target's mtime: make follows a link, as stat does)."""
    if not read:
        return False
    folder = os.path.realpath(item.named.parent)
    try:
        return folder in read and os.stat(folder).st_mtime_ns > os.stat(item.target).st_mtime_ns
    except OSError:
        return False


def _again_if_interrupted(step: Callable[[list[_Item]], None], todo: list[_Item]) -> None:
    """``step`` done whole even when an interrupt lands in it (a signal arriving while
    the files are being put back or removed): it is done again, then the interrupt
    goes on. Both steps may be repeated: what is already done is skipped."""
    try:
        step(todo)
    except BaseException:
        step(todo)
        raise


def _remove_made_dirs(todo: list[_Item]) -> None:
    """The directories a failed run made, deepest first; one no longer empty (someone
    else's file landed there) stays."""
    made = {d for item in todo for d in item.made_dirs}
    for d in sorted(made, key=lambda d: len(d.parts), reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(d)


def _discard(todo: list[_Item]) -> None:
    for item in todo:
        for name in (item.tmp, item.backup):
            if name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(name)
