"""littlefs-python glue, written once: the block device littlefs runs on, its set-up from a
profile, its error codes, and the directory walk.

littlefs never knows where its bytes live (littlefs-python's ``UserContext``): here a
:class:`Store` holds them, a bytearray for an image in memory (:class:`BufferStore`), or
an :class:`~esp_cabundle.blocks.Overlay` over a unit's cached flash for an edit planned
before anything is sent to the unit.

littlefs-python cannot pass an exception through littlefs (it prints it and littlefs sees
an error, which it may take for a bad block and work around, e.g. by mounting the older
half of a metadata pair). So a store access that fails (a serial link lost) answers
erased bytes or an I/O error, and every later one too, and :meth:`Device.check`, called
after every littlefs operation, raises that failure: nothing littlefs computed from
such answers is ever used. For the same reason an interrupt (Ctrl-C, SIGTERM) that
arrives while littlefs calls back is held (:mod:`esp_cabundle._shield`) and raised by
:meth:`Device.check`, once littlefs has returned.
"""

from __future__ import annotations

import codecs
import functools
import inspect
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol, cast

from .. import _shield
from ..errors import ImageError
from ..text import printable
from .base import UNCHANGED_HINT, FileInfo
from .lfs_superblock import LFS_NAME_MAX

if TYPE_CHECKING:
    from littlefs import LittleFS

    from .lfs_profiles import LittleFsProfile

__all__ = [
    "ERR_CORRUPT",
    "ERR_NAMETOOLONG",
    "ERR_NOATTR",
    "ERR_NOENT",
    "ERR_NOSPC",
    "BufferStore",
    "Device",
    "Store",
    "StoreBytes",
    "lfs_error_code",
    "lfs_error_name",
    "new_lfs",
    "probe_lfs",
    "stat_or_none",
    "walk",
]

# lfs.h error codes the tool turns into messages.
ERR_IO, ERR_NOENT, ERR_NOSPC, ERR_NAMETOOLONG = -5, -2, -28, -36
ERR_CORRUPT, ERR_NOATTR = -84, -61
LFS_TYPE_DIR = 2


class Store(Protocol):
    """The bytes littlefs works on, addressed from the start of the file system."""

    def read(self, offset: int, length: int) -> bytes: ...

    def prog(self, offset: int, data: bytes) -> None: ...

    def erase(self, offset: int, length: int) -> None: ...

    def snapshot(self) -> object: ...

    def restore(self, snapshot: object) -> None: ...

    def release(self, snapshot: object) -> None: ...


class BufferStore:
    """An image in memory, copied on its first write.

    An image is opened where its bytes lie (``fs ls`` of a 256 MiB image holds it once);
    the first prog or erase copies them into a bytearray, edited in place from then on.
    A snapshot keeps only the 4 KiB units written after it, as they were, so an edit
    that can be undone costs what it writes, not a second copy of the image.
    The bytes given must not change while the store is in use. A view handed out
    (:meth:`view`) is never written through: the first write after it copies the bytes
    again, so a reader of the view (a reopened image, bytes being saved) keeps what it
    was given.
    """

    UNIT = 4096

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data).toreadonly()
        self.buffer: bytearray | None = None  # the copy, once written
        self._shared = False  # the buffer's bytes were handed out: copy before writing
        self._journal: dict[int, bytes] | None = None

    @classmethod
    def erased(cls, size: int) -> BufferStore:
        """``size`` erased bytes, written in place from the start (no copy to make)."""
        store = cls(b"")
        store.buffer = bytearray(b"\xff") * size
        store._view = memoryview(store.buffer)
        return store

    def __len__(self) -> int:
        return len(self._view)

    def view(self, *, keep: bool = True) -> memoryview:
        """The current bytes, read-only, not copied. ``keep``: the caller may hold them
        past the next write (which then writes a copy); a glance that is let go at once
        (a comparison) passes False and costs no copy later."""
        if keep and self.buffer is not None:
            self._shared = True
        return self._view.toreadonly()  # _view is the bytearray's own once written

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self._view[offset : offset + length])

    def _writable(self, offset: int, length: int) -> memoryview:
        """The bytearray's view, after keeping for the snapshot what the write replaces."""
        if self.buffer is None or self._shared:
            self.buffer = bytearray(self._view)
            self._view = memoryview(self.buffer)  # same length: never resized after
            self._shared = False
        if self._journal is not None and length > 0:
            unit = self.UNIT
            for k in range(offset // unit, (offset + length - 1) // unit + 1):
                if k not in self._journal:
                    self._journal[k] = bytes(self._view[k * unit : (k + 1) * unit])
        return self._view

    def prog(self, offset: int, data: bytes) -> None:
        self._writable(offset, len(data))[offset : offset + len(data)] = data

    def erase(self, offset: int, length: int) -> None:
        self._writable(offset, length)[offset : offset + length] = b"\xff" * length

    def snapshot(self) -> object:
        """Start keeping what writes replace; the copy is made now, out of littlefs' reach
        (running out of memory there is an exception littlefs cannot pass on)."""
        self._writable(0, 0)
        self._journal = {}
        return self._journal

    def restore(self, snapshot: object) -> None:
        assert isinstance(snapshot, dict) and snapshot is self._journal
        unit = self.UNIT
        for k, old in snapshot.items():
            self._view[k * unit : k * unit + len(old)] = old
        self.release(snapshot)

    def release(self, snapshot: object) -> None:
        """Stop keeping what writes replace: the edit stands (or was undone)."""
        if self._journal is not None and snapshot is self._journal:
            self._journal.clear()  # the units it kept are freed now, not when it is dropped
            self._journal = None


class StoreBytes:
    """The first ``size`` bytes of a store as bytes-like slices, each read when asked for
    (the superblock parser reads a unit's flash through it)."""

    def __init__(self, store: Store, size: int) -> None:
        self.store = store
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, int):
            return self.store.read(index, 1)[0]
        start, stop, _ = index.indices(self.size)
        return self.store.read(start, stop - start) if stop > start else b""


class Device:
    """littlefs' block device over a :class:`Store` (see the module on failures)."""

    def __init__(self, store: Store, block_size: int) -> None:
        self.store = store
        self.block_size = block_size
        self.failure: BaseException | None = None

    def context(self) -> Any:
        store_context, buffer_context = _context_classes()
        if isinstance(self.store, BufferStore):
            return buffer_context(self, self.store)
        return store_context(self)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a store access; None when it failed (the failure is kept, and every later
        access fails too), or once an interrupt is held: littlefs then unwinds at once
        rather than reading a unit's flash over serial for seconds after Ctrl-C (what
        it edits is a copy in memory, dropped with the stop), and check() raises it."""
        if self.failure is not None or _shield.pending():
            return None
        try:
            result = fn(*args)
        except Exception as e:
            self.failure = e
            return None
        return True if result is None else result

    def check(self, cause: BaseException | None = None) -> None:
        """Raise an interrupt held while littlefs ran, else the failure a store access
        met, if any (littlefs' own result is moot either way)."""
        _shield.raise_deferred()
        if self.failure is not None:
            raise self.failure from cause


@functools.cache
def _context_classes() -> tuple[type[Any], type[Any]]:
    """littlefs-python's ``UserContext`` over a :class:`Device`, and over a
    :class:`BufferStore`, where building images calls back most. Defined once, each
    instance holding its device: a class made per image, with the device in its methods'
    closures, was a reference cycle, so every image's bytes waited for a full garbage
    collection (in a long-lived process holding many objects, a pack search paid seconds
    of them). Neither formats debug text per call (littlefs-python's default logs each)."""
    from littlefs import UserContext

    class StoreContext(UserContext):
        def __init__(self, device: Device) -> None:
            self.buffer = bytearray()  # unused: the store holds the bytes
            self.in_size = 0
            self.device = device

        def read(self, cfg: Any, block: int, off: int, size: int) -> bytearray:
            d = self.device
            data = d.call(d.store.read, block * d.block_size + off, size)
            return bytearray(b"\xff" * size if data is None else data)

        def prog(self, cfg: Any, block: int, off: int, data: bytes) -> int:
            d = self.device
            done = d.call(d.store.prog, block * d.block_size + off, bytes(data))
            return ERR_IO if done is None else 0

        def erase(self, cfg: Any, block: int) -> int:
            d = self.device
            done = d.call(d.store.erase, block * d.block_size, d.block_size)
            return ERR_IO if done is None else 0

        def sync(self, cfg: Any) -> int:
            return 0

    class BufferContext(UserContext):
        """Only running out of memory can fail here: kept as any failed access is (see
        the module). littlefs-python copies what ``read`` returns from a bytes or a
        bytearray only (a memoryview is refused): one small copy a read."""

        def __init__(self, device: Device, store: BufferStore) -> None:
            self.buffer = bytearray()  # unused: the store holds the bytes
            self.in_size = len(store)
            self.device, self.store = device, store

        def read(self, cfg: Any, block: int, off: int, size: int) -> bytearray:
            start = block * cfg.block_size + off
            device = self.device
            if device.failure is None:
                try:
                    return bytearray(self.store.view(keep=False)[start : start + size])
                except MemoryError as e:
                    device.failure = e
            return bytearray(b"\xff" * size)

        def prog(self, cfg: Any, block: int, off: int, data: bytes) -> int:
            done = self.device.call(self.store.prog, block * cfg.block_size + off, data)
            return ERR_IO if done is None else 0

        def erase(self, cfg: Any, block: int) -> int:
            store = self.store
            done = self.device.call(store.erase, block * cfg.block_size, cfg.block_size)
            return ERR_IO if done is None else 0

        def sync(self, cfg: Any) -> int:
            return 0

    for cls in (StoreContext, BufferContext):
        _shield.shield(cls.read, cls.prog, cls.erase, cls.sync)
    return StoreContext, BufferContext


def new_lfs(
    device: Device,
    profile: LittleFsProfile,
    *,
    block_count: int,
    name_max: int = LFS_NAME_MAX,
    disk_version: int = 0,
    metadata_max: int = 0,
) -> LittleFS:
    """littlefs configured as ``profile``'s platform runs it; never mounted here.

    ``block_count`` is always given (the superblock's, as checked by
    :mod:`.lfs_superblock`; littlefs refuses a superblock that says otherwise), never 0
    ("take it from the superblock"): littlefs mounts a pair holding no superblock
    without complaint and then divides by that 0 (SIGFPE: the process dies, no message).
    ``disk_version`` 0 accepts (and writes) the newest littlefs-python knows (2.1), so
    an existing image is mounted with its own version passed back; ``metadata_max``
    below the block size makes littlefs compact a metadata pair sooner (see
    :mod:`.lfs_safe`).
    """
    from littlefs import LittleFS

    return LittleFS(
        **_name_encoding(),
        context=device.context(),
        mount=False,  # never True: littlefs-python formats when that mount fails
        block_size=profile.block_size,
        block_count=block_count,
        read_size=profile.read_size,
        prog_size=profile.prog_size,
        cache_size=profile.cache_size,
        lookahead_size=profile.lookahead_size,
        block_cycles=profile.block_cycles,
        name_max=name_max,
        disk_version=disk_version,
        metadata_max=metadata_max,
    )


# littlefs stores names as opaque bytes. Names are read and written as UTF-8 with
# surrogate escapes, so a name that is not UTF-8 lists (shown as \xNN), reads and is
# removed like any other instead of failing the whole listing.
_NAME_CODEC = "esp-cabundle-fsname"


def _fsname_codec(name: str) -> Any:

    if name != _NAME_CODEC.replace("-", "_"):
        return None
    return codecs.CodecInfo(
        name=_NAME_CODEC,
        encode=lambda text, errors="strict": codecs.utf_8_encode(text, "surrogateescape"),
        decode=lambda data, errors="strict": codecs.utf_8_decode(data, "surrogateescape", True),
    )


@functools.cache
def _name_encoding() -> dict[str, str]:
    """``filename_encoding=`` for littlefs-python releases that take it (older ones
    decode names as ASCII; their UnicodeError is reported as an ImageError)."""

    from littlefs import LittleFS

    if "filename_encoding" not in inspect.signature(LittleFS.__init__).parameters:
        return {}
    codecs.register(_fsname_codec)
    return {"filename_encoding": _NAME_CODEC}


def lfs_error_code(e: BaseException) -> int | None:
    """The LFS_ERR_* code behind an exception (littlefs-python wraps some in OSError)."""
    code = getattr(e, "code", None)
    if isinstance(code, int):
        return code
    cause = e.__cause__ or e.__context__
    return lfs_error_code(cause) if cause is not None else None


def lfs_error_name(code: int | None) -> str:
    """``-84 ERR_CORRUPT``, as people can look it up in lfs.h."""
    from littlefs import LittleFSError

    if code is None:
        return "unknown error"
    try:
        return f"{code} {LittleFSError.Error(code).name}"
    except ValueError:
        return str(code)


def stat_or_none(lfs: LittleFS, path: str) -> Any:
    """``lfs.stat(path)``, or None where nothing is (littlefs-python raises either kind)."""
    from littlefs import LittleFSError

    try:
        return lfs.stat(path)
    except LittleFSError as e:
        if e.code == ERR_NOENT:
            return None
        raise
    except FileNotFoundError:
        return None


# Far deeper than any ESP32 firmware nests directories (esp_littlefs keeps whole paths
# in buffers of tens of bytes): a walk that goes deeper is taken for a loop, and no
# file is put deeper (LittleFsImage refuses it), so every image made here lists.
MAX_DEPTH = 256


def probe_lfs(fs_bytes: bytes | memoryview, profile: LittleFsProfile) -> tuple[Any, bool]:
    """Mount accepting any 2.x version: (fs_stat, has 'c' attributes). The store copies
    the bytes only if littlefs were to write (mounting and reading do not). The block
    count is the bytes' (checked superblock's), never 0: see :func:`new_lfs`."""
    from littlefs import LittleFSError

    device = Device(BufferStore(fs_bytes), profile.block_size)
    lfs = new_lfs(device, profile, block_count=len(fs_bytes) // profile.block_size)
    mounted = False
    try:
        lfs.mount()
        mounted = True
        stat = lfs.fs_stat()
        has_c = False
        entries = cast("Generator[Any, None, None]", lfs.scandir("/"))  # a generator
        try:
            for st in entries:
                if st.type != LFS_TYPE_DIR:
                    try:
                        lfs.getattr("/" + st.name, "c")
                        has_c = True
                    except LittleFSError:
                        pass
                    break
        finally:
            entries.close()  # its directory is closed before the unmount below
    except LittleFSError as e:
        device.check(e)
        raise ImageError(
            f"LittleFS image does not mount (littlefs error {lfs_error_name(e.code)})",
            hint="the image is corrupt or not LittleFS; it was not formatted or changed",
        ) from e
    finally:
        # littlefs mallocs its caches at mount and frees them only at unmount; the
        # Python object's end frees neither (~1.2 KB of native memory a probe, kept).
        if mounted:
            lfs.unmount()
    device.check()
    return stat, has_c


def walk(lfs: LittleFS, block_count: int, empty: list[str] | None = None) -> list[FileInfo]:
    """Every file, sorted by path; directories are followed once (a corrupt tree could
    loop: ImageError; so is a name that cannot be decoded). littlefs errors propagate.
    ``empty``: gets every directory but the root that holds nothing, unsorted.

    A directory whose entry points back at itself or an ancestor (CRCs intact) makes
    a new path at every level, so no path repeats. Two bounds stop it: every directory
    owns a metadata pair, so ``block_count`` blocks hold at most half as many
    directories (more means a loop); and no directory is followed deeper than
    :data:`MAX_DEPTH`, as littlefs resolves each path from the root (a 16 MiB image
    looping 2048 levels deep took 18 s; 256 levels take a fraction of a second)."""
    out: list[FileInfo] = []
    stack = ["/"]
    seen: set[str] = set()
    most = max(1, block_count // 2)
    try:
        while stack:
            d = stack.pop()
            if d in seen:
                raise ImageError(f"LittleFS directory {d} appears twice: the image is corrupt")
            depth = d.count("/")
            if len(seen) >= most or depth > MAX_DEPTH:
                why = (
                    f"more than {most} reached (one per metadata pair of the {block_count} blocks)"
                    if len(seen) >= most
                    else f"nested more than {MAX_DEPTH} deep"
                )
                shown = printable(d[:120]) + ("..." if len(d) > 120 else "")
                raise ImageError(
                    f"LittleFS directories loop ({why}, down to {shown}): the image is corrupt",
                    hint=UNCHANGED_HINT,
                )
            seen.add(d)
            held = 0
            for st in lfs.scandir(d):
                held += 1
                path = d.rstrip("/") + "/" + st.name
                if st.type == LFS_TYPE_DIR:
                    stack.append(path)
                else:
                    out.append(FileInfo(path, int(st.size)))
            if empty is not None and not held and d != "/":
                empty.append(d)
    except UnicodeError as e:
        raise ImageError(f"a file name in the LittleFS image cannot be decoded ({e})") from e
    return sorted(out, key=lambda f: f.path)


def close_once(fh: Any) -> None:
    """Close a littlefs-python file handle once, even when closing fails.

    lfs_file_close (littlefs's lfs.c) takes the file off its list of open files before it
    returns an error (NOSPC: an inline file is written out at close), but littlefs-python's
    FileHandle.close marks itself closed only on success; its finalizer then closes the
    file again and littlefs's assertion aborts the process (exit 134, no message)."""
    try:
        fh.close()
    except BaseException:
        setattr(fh, "__IOBase_closed", True)  # as FileHandle.close does on success
        raise
