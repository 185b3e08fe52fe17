"""The files ``pack --from-dir`` (and an image output's ``from_dir:``) put in an image.

Every entry of the directory is accounted for: regular files are packed; what cannot be
a file on a unit (a FIFO, a socket, a device) and a symlink that leads nowhere or in a
loop is left out with a note naming it; a symlink that leads outside the directory is
refused unless links are followed explicitly, so a file from elsewhere on the machine (a
private key one level up) never lands in a fleet image unasked. mklittlefs follows
every link to a file wherever it leads and skips the rest with a line on stderr;
ESP-IDF's spiffsgen.py follows links to directories only with ``--follow-symlinks`` and
opens every other entry, a FIFO included (it hangs). Nothing here opens a FIFO.

A file holding a private key is packed (a unit may need its own client key for mTLS)
with a warning naming it, never its bytes: the same key goes to every unit flashed
with the image, and the image is written as privately as a 0600 file in the directory.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..clobber import refuse_clobbering, same_file
from ..errors import ImageError, InputError
from ..fileio import file_kind, is_temporary_name, kept_from_others, read_input
from ..keyscan import find_private_key
from ..limits import MAX_DIR_ENTRIES, MAX_PACK_FILES, MAX_PACK_INPUT, check_size
from . import detect_fs_type

__all__ = ["IGNORED_NAMES", "DirFiles", "collect_dir_files", "private_key_warning"]

# Never packed from a directory (mklittlefs skips the same names unless told otherwise).
IGNORED_NAMES = frozenset({".DS_Store", ".git", ".gitignore", ".gitmodules"})

FOLLOW_HINT = (
    "copy the file into the directory, or follow links explicitly: pack --follow-symlinks "
    "(an outputs: entry: follow_symlinks: true)"
)


@dataclass(frozen=True, slots=True)
class DirFiles:
    """The files to pack, as (image path, bytes); those the user kept from other users
    (a 0600 ``conf9.json`` holding a Wi-Fi password) or holding a private key, for which
    the image is written PRIVATE; ``notes``: each entry left out and why; ``warnings``:
    each file holding a private key (where in it, never the key)."""

    files: tuple[tuple[str, bytes], ...] = ()
    hidden: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def private(self) -> bool:
        """The image must be written 0600: it carries a file (or key) its owner kept from
        other users, and an image is as readable as any of its files."""
        return bool(self.hidden)


# Never compared nor printed: no __eq__/__repr__ to generate at start-up (~0.15 ms).
@dataclass(slots=True, eq=False, repr=False)
class _Walk:
    """One walk's state, so the recursion shares the entry count and byte total that
    bound it, and every note is collected in the order the entries were met."""

    root: Path
    real_root: str
    follow: bool
    output: Path | None
    others: tuple[tuple[str, Path], ...] = ()
    files: list[tuple[str, bytes]] = field(default_factory=list)
    hidden: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    total: int = 0
    entries: int = 0

    def directory(self, path: Path, image_dir: str, ancestors: frozenset[str]) -> None:
        try:
            with os.scandir(path) as it:
                names = sorted(e.name for e in it)
        except OSError as e:
            raise InputError(
                f"cannot list the directory ({e.strerror or e}); nothing written", path=str(path)
            ) from e
        for name in names:
            if name in IGNORED_NAMES or is_temporary_name(name):
                continue  # temporary: left behind by a run that was killed mid-write
            self.entries += 1
            if self.entries > MAX_DIR_ENTRIES:
                raise InputError(
                    f"more than {MAX_DIR_ENTRIES:,} entries to walk; nothing written",
                    path=str(self.root),
                    hint="no partition holds that many files: is this the right directory?",
                )
            self.entry(path / name, f"{image_dir}{name}", ancestors)

    def entry(self, p: Path, image_path: str, ancestors: frozenset[str]) -> None:
        try:
            st = os.lstat(p)
            link = stat.S_ISLNK(st.st_mode)
            if link:
                target = self.link_target(p)
                if target is None:
                    return
                st = os.stat(target)
        except OSError as e:  # gone or changed while the directory was walked
            raise InputError(
                f"cannot read ({e.strerror or e}); nothing written", path=str(p)
            ) from e
        if stat.S_ISDIR(st.st_mode):
            real = os.path.realpath(p)
            if real in ancestors:
                self.notes.append(f"{p}: a symbolic link to {real}, a directory it is in; left out")
                return
            self.directory(p, image_path + "/", ancestors | {real})
        elif stat.S_ISREG(st.st_mode):
            self.read(p, image_path)
        else:
            what = file_kind(st.st_mode)
            via = " (where its symbolic link leads)" if link else ""
            self.notes.append(f"{p}: {what}{via}, not a regular file; left out")

    def link_target(self, p: Path) -> str | None:
        """Where the link ``p`` leads, or None (noted) when it leads nowhere; InputError
        when it leads outside the directory and links are not followed."""
        try:
            real = os.path.realpath(p, strict=True)
        except OSError as e:
            if e.errno == errno.ELOOP:
                why = f"a symbolic link that loops ({e.strerror})"
            elif e.errno == errno.ENOENT:
                why = f"a symbolic link to '{os.readlink(p)}', which does not exist"
            else:
                why = f"a symbolic link that cannot be followed ({e.strerror or e})"
            self.notes.append(f"{p}: {why}; left out")
            return None
        if os.path.commonpath([self.real_root, real]) == self.real_root:
            return real
        if not self.follow:
            raise InputError(
                f"a symbolic link that leads outside the directory {self.root}, to {real}; "
                "nothing written",
                path=str(p),
                hint=FOLLOW_HINT,
            )
        if any(real == k or real.startswith(k + os.sep) for k in _KERNEL_TREES):
            # follow_symlinks: true in a cloned repository's config, and a link to
            # /proc/self/environ, put a CI job's secrets into every unit's image
            raise InputError(
                f"a symbolic link to {real}, the kernel's view of this process or machine "
                "(its environment, memory, hardware), never a file to ship; nothing written",
                path=str(p),
                hint="remove the link, or copy the file it should hold into the directory",
            )
        return real

    def read(self, p: Path, image_path: str) -> None:
        other = next((what for what, o in self.others if same_file(p, o)), None)
        if other is not None:  # build's ca.pem in from_dir: the last run's, not this one's
            self.notes.append(f"{p}: the {other} of this run (as the last run left it); left out")
            return
        data = read_input(p, what="packed file", max_bytes=MAX_PACK_INPUT, regular_only=True)
        if self.output is not None and same_file(p, self.output):
            if not _holds_fs(data):  # -o data/conf9.json: the file to pack would be lost
                refuse_clobbering([("image", self.output)], [("packed file", p)])
            self.notes.append(f"{p}: the image this run writes (an earlier one); left out")
            return
        self.total += len(data)
        check_size(self.total, MAX_PACK_INPUT, what="--from-dir input", path=str(self.root))
        self.files.append((image_path, data))
        if kept_from_others(p):
            self.hidden.add(image_path)
        warning = private_key_warning(p, data, image_path)
        if warning is not None:
            self.hidden.add(image_path)
            self.warnings.append(warning)


def private_key_warning(source: str | Path, data: bytes, image_path: str) -> str | None:
    """The warning for a file holding a private key that goes into an image at
    ``image_path`` (``pack --from-dir``, ``fs put``), naming where the key is in it,
    never the key; None when it holds none. Packed anyway (a unit may need its own
    client key), but every unit flashed with the image gets that key, and the image is
    written 0600."""
    key = find_private_key(data)
    if key is None:
        return None
    return (
        f"{source} holds a private key, {key.kind} at {key.where()}: packed as "
        f"{image_path}, it goes to every unit flashed with this image; the image is "
        "written 0600"
    )


def _holds_fs(data: bytes) -> bool:
    """The bytes are (or look like) a file-system image: only such a file at the output's
    path is an earlier image to leave out; any other file there is one to pack, and
    writing the image over it would lose it. A damaged image counts: it is no user's
    file either."""
    try:
        return detect_fs_type(data) is not None
    except ImageError:
        return True


# Where a followed link may not lead: not files but the kernel's state, read anew each
# time (Linux's procfs and sysfs; a device node is left out as no regular file).
_KERNEL_TREES = ("/proc", "/sys")


def collect_dir_files(
    directory: str | Path,
    *,
    follow_symlinks: bool = False,
    output: Path | None = None,
    others: Sequence[tuple[str, Path]] = (),
) -> DirFiles:
    """Every regular file under ``directory`` (image paths relative to it), sorted by
    path so the image is reproducible; see the module for what is left out, refused or
    warned about. ``follow_symlinks`` packs what links outside the directory lead to
    (a link to a directory it is in is still left out). What is read is capped
    (:data:`~esp_cabundle.limits.MAX_PACK_INPUT`, each file and all together): no
    partition holds more; so are the files (:data:`~esp_cabundle.limits.MAX_PACK_FILES`).

    ``output``: the image being made. Found in the tree (by its name, a followed link or
    a hard link) it is left out when it holds a file system (an earlier run's image is
    never packed into the next) and refused when it does not: writing the image there
    would destroy a file meant to be packed (``-o data/conf9.json``). ``others``: (what,
    path) of every other file the same run writes (``build``'s other outputs, its lock
    file), left out with a note wherever found: what is there is the last run's, and
    packing it would make the image depend on which run came before.
    """
    root = Path(directory)
    if not os.path.isdir(root):
        raise InputError("not a directory", path=str(root))
    real_root = os.path.realpath(root)
    walk = _Walk(root, real_root, follow_symlinks, output, tuple(others))
    walk.directory(root, "/", frozenset({real_root}))
    if len(walk.files) > MAX_PACK_FILES:
        raise InputError(
            f"{len(walk.files):,} files to pack; pack takes at most {MAX_PACK_FILES:,} "
            "(littlefs takes longer for each file a directory already holds); nothing written",
            path=str(root),
            hint="no ESP32 firmware ships that many files: is this the right directory? "
            "pack only what the unit reads",
        )
    files = sorted(walk.files, key=lambda item: item[0])
    return DirFiles(tuple(files), frozenset(walk.hidden), tuple(walk.notes), tuple(walk.warnings))
