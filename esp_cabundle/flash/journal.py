"""The local journal of unit updates: what each sector held before, and what it will hold.

Before the first byte goes to a unit, the flasher saves, per unit MAC and with a UTC
timestamp, every sector it is about to write (old and new content, in write order) and
the unit's MD5 of every range of the partition it will not touch. That is enough to:

* finish an interrupted update (the sectors still old or torn get their new content),
* tell whether the file system changed since (the untouched ranges no longer hash the
  same: the journal is then stale, and nothing is written from it),
* put the original back (``esp-cabundle restore``): every written sector gets its old
  content, and the partition is byte for byte what it was.

One JSON file per update (sector bytes in base64), replaced atomically on every status
change, under ``$ESP_CABUNDLE_JOURNAL``, else ``$XDG_STATE_HOME/esp-cabundle/journal``,
else ``~/.local/state/esp-cabundle/journal``. The sectors hold whatever else the file
system kept there (Wi-Fi passwords, device tokens): folders 0700, files 0600, never
printed; :func:`prune` deletes old entries. Before anything from an entry is written,
:meth:`JournalEntry.table_mismatch` checks it against the unit's partition table.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import os
import stat
import string
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..dates import FIRST
from ..errors import InputError, OutputError, unwritable_hint
from ..fileio import file_kind, read_input
from ..limits import MAX_JOURNAL_INPUT, json_shape_reason, loads_json
from ..spelling import PYTHON, Spelling
from .base import SECTOR_SIZE

if TYPE_CHECKING:
    from ..partitions import PartitionTable

__all__ = [
    "JOURNAL_FORMAT",
    "UNFINISHED",
    "Journal",
    "JournalEntry",
    "JournalPartition",
    "JournalSector",
    "Pruned",
    "Status",
    "default_journal_dir",
    "normal_mac",
    "prune",
]

JOURNAL_FORMAT = "esp-cabundle-journal/1"

# pending: an update started, not finished; restoring: a restore started, not finished
# (the unit holds some sectors back, some not: run restore again)
Status = Literal["pending", "complete", "restoring", "restored", "cancelled", "stale"]
_STATUSES = ("pending", "complete", "restoring", "restored", "cancelled", "stale")
# Entries a unit may be half way through: kept by prune unless asked.
UNFINISHED = ("pending", "restoring")
_AFTER = ("", "old", "new", "mixed", "unmountable")


def default_journal_dir() -> Path:
    """``$ESP_CABUNDLE_JOURNAL``, else the XDG state directory's ``esp-cabundle/journal``."""
    explicit = os.environ.get("ESP_CABUNDLE_JOURNAL")
    if explicit:
        return Path(explicit)
    state = os.environ.get("XDG_STATE_HOME")
    base = Path(state) if state else Path.home() / ".local" / "state"
    return base / "esp-cabundle" / "journal"


_MAC_SEPARATORS = (":", "-", ".")


def normal_mac(text: str) -> str | None:
    """``24:0a:c4:12:34:56`` from any common spelling of a MAC (colons, dashes, Cisco
    dots, none; any case); None when ``text`` is not one."""
    text = text.strip()
    used = {c for c in text if c in _MAC_SEPARATORS}
    digits = "".join(c for c in text if c not in _MAC_SEPARATORS)
    if len(used) > 1 or len(digits) != 12 or any(c not in string.hexdigits for c in digits):
        return None
    if used:
        groups = text.split(used.pop())
        if {len(g) for g in groups} not in ({2}, {4}) or len(groups) not in (6, 3):
            return None
    digits = digits.lower()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass(frozen=True, slots=True)
class JournalSector:
    """One 4 KiB sector of an update: its flash address, old and new content, and what
    its partition mounts with once it and the sectors before it are written (``after``:
    old, new, mixed, unmountable; empty in journals that predate it)."""

    offset: int
    old: bytes
    new: bytes
    after: str = ""

    @property
    def old_md5(self) -> str:
        return _md5(self.old)

    @property
    def new_md5(self) -> str:
        return _md5(self.new)


@dataclass(frozen=True, slots=True)
class JournalPartition:
    """The sectors of one partition in write order, the ranges left untouched, and the
    roots its CA file held before the update: two slots (Mongoose OS's fs_0 and fs_1
    after an OTA) may hold different ones (None in journals that predate them: the
    entry's :attr:`JournalEntry.roots_before` then stands for every partition)."""

    name: str
    offset: int
    size: int
    fs_type: str
    sectors: tuple[JournalSector, ...]
    untouched: tuple[tuple[int, int, str], ...]  # (offset, length, unit MD5 before)
    roots_before: tuple[tuple[str, str], ...] | None = None
    # it had no CA file before: the update created it, a restore removes it again
    ca_created: bool = False


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One update of one unit, as saved before its first write."""

    id: str
    created: datetime
    mac: str
    chip: str
    port: str
    board: str
    ca_sha256: str
    partitions: tuple[JournalPartition, ...]
    status: Status = "pending"
    updated: datetime | None = None
    path: Path | None = None
    # (name, SHA-256) of the roots the CA file held before (its first partition's) and
    # after the update (empty in journals that predate them)
    roots_before: tuple[tuple[str, str], ...] = ()
    roots_after: tuple[tuple[str, str], ...] = ()
    kinds_after: tuple[tuple[str, str], ...] = ()  # found.Kinds of roots_after (or none)

    def roots_of(self, partition: JournalPartition) -> tuple[tuple[str, str], ...]:
        """The roots ``partition`` held before the update, as far as the journal says."""
        known = partition.roots_before
        return known if known is not None else self.roots_before

    @property
    def sectors(self) -> tuple[JournalSector, ...]:
        """Every sector, in the order the update writes them."""
        return tuple(s for p in self.partitions for s in p.sectors)

    @property
    def when(self) -> str:
        """The creation time as people read it (UTC)."""
        return self.created.strftime("%Y-%m-%d %H:%M:%S UTC")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": JOURNAL_FORMAT,
            "id": self.id,
            "created": self.created.isoformat(),
            "updated": (self.updated or self.created).isoformat(),
            "status": self.status,
            "mac": self.mac,
            "chip": self.chip,
            "port": self.port,
            "board": self.board,
            "ca_sha256": self.ca_sha256,
            "roots": {
                "before": [list(r) for r in self.roots_before],
                "after": [list(r) for r in self.roots_after],
                "after_kinds": [list(k) for k in self.kinds_after],
            },
            "partitions": [
                {
                    "name": p.name,
                    "offset": p.offset,
                    "size": p.size,
                    "fs_type": p.fs_type,
                    "untouched": [list(u) for u in p.untouched],
                    **(
                        {"roots_before": [list(r) for r in p.roots_before]}
                        if p.roots_before is not None
                        else {}
                    ),
                    **({"ca_created": True} if p.ca_created else {}),
                    "sectors": [
                        {
                            "offset": s.offset,
                            "old_md5": s.old_md5,
                            "new_md5": s.new_md5,
                            "old": base64.b64encode(s.old).decode("ascii"),
                            "new": base64.b64encode(s.new).decode("ascii"),
                            "after": s.after,
                        }
                        for s in p.sectors
                    ],
                }
                for p in self.partitions
            ],
        }

    def table_mismatch(self, table: PartitionTable) -> str | None:
        """Why this entry must not be written to a unit with ``table`` (None: it may).

        Every partition it names must be a data partition of the unit's table at the same
        offset and size: a journal edited (or from another layout) could otherwise aim
        its sectors at the bootloader, the table or an app.
        """
        for p in self.partitions:
            t = table.by_name(p.name)
            if t is None:
                return f"the unit's partition table has no partition '{p.name}'"
            if (t.offset, t.size) != (p.offset, p.size) or not t.is_data:
                return (
                    f"it names partition '{p.name}' at {p.offset:#x}, {p.size:#x} bytes, but "
                    f"the unit's table has {t.describe()}"
                )
        return None

    @classmethod
    def from_json(cls, obj: Any, *, path: Path) -> JournalEntry:
        """Parse a saved entry; InputError naming the file when it is not one (or when a
        sector or range lies outside the partition it is listed under)."""
        try:
            if obj.get("format") != JOURNAL_FORMAT:
                raise ValueError(f"format {obj.get('format')!r}")
            if obj["status"] not in _STATUSES:
                raise ValueError(f"status {obj['status']!r}")
            parts = tuple(_partition_from_json(p) for p in obj["partitions"])
            offsets = [s.offset for p in parts for s in p.sectors]
            if len(set(offsets)) != len(offsets):
                raise ValueError("a sector is listed twice")
            return cls(
                id=str(obj["id"]),
                created=_utc(datetime.fromisoformat(obj["created"])),
                updated=_utc(datetime.fromisoformat(obj["updated"])),
                status=obj["status"],
                mac=str(obj["mac"]),
                chip=str(obj["chip"]),
                port=str(obj["port"]),
                board=str(obj["board"]),
                ca_sha256=str(obj["ca_sha256"]),
                partitions=parts,
                path=path,
                roots_before=_roots(obj, "before"),
                roots_after=_roots(obj, "after"),
                kinds_after=_roots(obj, "after_kinds"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise InputError(
                f"not a readable esp-cabundle journal entry ({json_shape_reason(e)})",
                path=str(path),
                hint="move the file away if it is not needed",
            ) from e


def _roots(obj: Any, which: str) -> tuple[tuple[str, str], ...]:
    return _root_list(obj.get("roots", {}).get(which, []), f"roots {which!r}")


def _root_list(roots: Any, what: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(roots, list):
        raise ValueError(f"{what} is not a list")
    return tuple((str(name), str(fp)) for name, fp in roots)


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _partition_from_json(p: Any) -> JournalPartition:
    name, offset, size = str(p["name"]), _int(p["offset"]), _int(p["size"])
    if offset % SECTOR_SIZE or size % SECTOR_SIZE or size <= 0:
        raise ValueError(f"partition '{name}' at {offset:#x}+{size:#x} is not whole sectors")
    end = offset + size
    sectors = []
    for s in p["sectors"]:
        after = str(s.get("after", ""))
        if after not in _AFTER:
            raise ValueError(f"sector state {after!r}")
        sector = JournalSector(
            _int(s["offset"]), base64.b64decode(s["old"]), base64.b64decode(s["new"]), after
        )
        if sector.old_md5 != s["old_md5"] or sector.new_md5 != s["new_md5"]:
            raise ValueError(f"sector {sector.offset:#x} does not match its MD5")
        if (
            sector.offset % SECTOR_SIZE
            or len(sector.old) != SECTOR_SIZE
            or len(sector.new) != SECTOR_SIZE
            or not offset <= sector.offset < end
        ):
            raise ValueError(
                f"sector {sector.offset:#x} is not a whole sector of partition '{name}' "
                f"({offset:#x}..{end:#x})"
            )
        sectors.append(sector)
    untouched = tuple((_int(o), _int(n), str(m)) for o, n, m in p["untouched"])
    for o, n, _ in untouched:
        if not offset <= o <= o + n <= end:
            raise ValueError(f"range {o:#x}+{n:#x} is outside partition '{name}'")
    raw = p.get("roots_before")
    roots = None if raw is None else _root_list(raw, f"the roots before of partition '{name}'")
    created = p.get("ca_created", False)
    if not isinstance(created, bool):
        raise ValueError(f"ca_created of partition '{name}' is {created!r}, not true or false")
    return JournalPartition(
        name, offset, size, str(p["fs_type"]), tuple(sectors), untouched, roots, created
    )


def _int(value: Any) -> int:
    """A non-negative JSON integer (not a bool, a float or a string)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a non-negative integer")
    return value


class Journal:
    """The journal directory: one subdirectory per unit MAC, one file per update.

    The entries hold whole sectors of the units' file systems, so also what other files
    held (Wi-Fi passwords, device keys): directories are created 0700 and files 0600,
    whatever the umask, and their content is never printed or logged. Its hints speak a
    script's words (``journal_dir=``) until :meth:`spelt`: there is no ``spelling`` to
    give here, since flash_ca and restore_flash tell a journal given their own (one
    said here would be overridden by their default, PYTHON, without a word).
    """

    def __init__(self, directory: Path | str | None = None):
        self.directory = Path(directory) if directory is not None else default_journal_dir()
        self.from_env = directory is None and bool(os.environ.get("ESP_CABUNDLE_JOURNAL"))
        # how the caller's user picks another directory when this one cannot be written
        self.spelling: Spelling = PYTHON

    def spelt(self, spelling: Spelling) -> Journal:
        """This journal (a copy: a subclass stays one), its hints naming the options as
        ``spelling`` does: ``flash_ca`` is told its caller's words once, for all."""
        said = copy.copy(self)
        said.spelling = spelling
        return said

    def _unit_dir(self, mac: str) -> Path:
        return self.directory / mac.replace(":", "").lower()

    def record(self, entry: JournalEntry) -> JournalEntry:
        """Save a new entry (before the first write); OutputError if it cannot be saved."""
        name = entry.created.strftime("%Y%m%dT%H%M%S%fZ") + f"-{entry.id}.json"
        saved = replace(entry, path=self._unit_dir(entry.mac) / name)
        try:
            self._save(saved)
        except OSError as e:
            raise OutputError(
                f"{saved.path}: cannot write the journal ({e.strerror or e}); nothing written "
                "to the unit",
                hint=f"choose another place with {self.spelling.journal_dir}",
            ) from e
        return saved

    def set_status(self, entry: JournalEntry, status: Status, *, unit: str) -> JournalEntry:
        """The entry, saved with ``status``. Called around and after writes to the unit,
        so a failure may not say "nothing written", nor point at another directory:
        the entry to settle is in this one. ``unit``: what the unit holds at this point,
        said when the save fails ("it holds the new CA file, updated and verified")."""
        updated = replace(entry, status=status, updated=_now())
        try:
            self._save(updated)
        except OSError as e:
            s = self.spelling
            folder = entry.path.parent if entry.path else "the journal directory"
            raise OutputError(
                f"{entry.path}: cannot mark the journal entry {status} ({e.strerror or e}); {unit}",
                hint=f"{unwritable_hint(e, folder)} and keep the entry there: it still says "
                f"{entry.status}, and the next {s.flash} or {s.restore} of this unit "
                "settles it",
            ) from e
        return updated

    def _save(self, entry: JournalEntry) -> None:
        """Raises OSError raw, for the caller to word (record: before writes; set_status: after)."""
        if entry.path is None:
            raise ValueError("an entry is saved where record() placed it")
        text = json.dumps(entry.to_json(), indent=1) + "\n"
        _private_dirs(entry.path.parent)
        _write_private(entry.path, text.encode("utf-8"))

    def _read(self, path: Path) -> JournalEntry:
        """One saved entry; size and nesting are capped, so an edited or planted file
        cannot exhaust memory or the stack, and only a regular file is read (a FIFO
        named like an entry hung journal list, prune, flash and restore)."""

        try:
            data = read_input(
                path, what="journal entry", max_bytes=MAX_JOURNAL_INPUT, regular_only=True
            )
            obj = loads_json(data, what="journal entry", path=str(path), cap=MAX_JOURNAL_INPUT)
            # in the same words whether the bytes or the fields are wrong ('journal list
            # --json' lists these messages side by side)
            return JournalEntry.from_json(obj, path=path)
        except InputError as e:
            raise InputError(
                f"cannot read this journal entry: {e.message}",
                hint="move the file away if it is not needed",
            ) from e

    def refuse_unusable(self) -> None:
        """Refuse anything but a directory (or nothing yet) before it is read as an empty
        journal: ``$ESP_CABUNDLE_JOURNAL`` naming a file had 'journal list' say "no
        journaled update" and 'restore' find nothing to undo (--journal-dir is refused).
        Writing one raises OutputError in any case (:meth:`record`)."""
        where = "$ESP_CABUNDLE_JOURNAL" if self.from_env else self.spelling.journal_dir
        hint = f"name a directory (it is made when first needed) with {where}"
        try:
            mode = self.directory.stat().st_mode
        except FileNotFoundError:
            return
        except OSError as e:  # a file where a directory of the path should be, a loop
            why = f"cannot read the journal directory ({e.strerror})"
            raise InputError(why, path=str(self.directory), hint=hint) from e
        if not stat.S_ISDIR(mode):
            why = f"is {file_kind(mode)}, not a journal directory; nothing was read or written"
            raise InputError(why, path=str(self.directory), hint=hint)

    def entries(self, mac: str) -> list[JournalEntry]:
        """Every saved update of this unit, oldest first."""
        folder = self._unit_dir(mac)
        if not os.path.isdir(folder):
            return []
        out = [self._read(path) for path in sorted(folder.glob("*.json"))]
        return sorted(out, key=lambda e: e.created)

    def scan(self) -> tuple[list[JournalEntry], list[InputError]]:
        """Every saved update of every unit (oldest first), and the files that are not
        readable entries (each an InputError naming it), for listing and pruning."""
        found: list[JournalEntry] = []
        problems: list[InputError] = []
        if not os.path.isdir(self.directory):
            return found, problems
        for folder in sorted(self.directory.iterdir()):
            if folder.is_symlink() and os.path.isdir(folder):
                # never followed: prune deleted the files of the folder it names, outside
                # the journal, and then failed on the link
                problems.append(_linked_folder(folder))
                continue
            for path in sorted(folder.glob("*.json")) if os.path.isdir(folder) else ():
                try:
                    found.append(self._read(path))
                except InputError as e:
                    problems.append(e)
        return sorted(found, key=lambda e: (e.created, e.mac)), problems

    def remove(self, entry: JournalEntry) -> None:
        """Delete an entry's file, and its unit's folder once empty."""
        if entry.path is None:
            return
        if entry.path.parent.is_symlink():  # its file is outside the journal: kept
            raise OutputError(f"{entry.path}: not deleted: its folder is a symbolic link")
        try:
            entry.path.unlink(missing_ok=True)
            folder = entry.path.parent
            if folder.parent == self.directory and not any(folder.iterdir()):
                folder.rmdir()
        except OSError as e:
            raise OutputError(f"{entry.path}: cannot delete ({e.strerror or e})") from e

    def pending(self, mac: str) -> list[JournalEntry]:
        """Updates of this unit that were started and never finished, oldest first."""
        return [e for e in self.entries(mac) if e.status == "pending"]

    def restorable(self, mac: str) -> JournalEntry | None:
        """The newest update of this unit that wrote something and was not undone."""
        found = self.undoable(mac)
        return found[0] if found else None

    def undoable(self, mac: str) -> list[JournalEntry]:
        """Every update of this unit (of this MAC: clones share one) that wrote something
        and was not undone, newest first."""
        done = ("pending", "complete", "restoring")
        return [e for e in reversed(self.entries(mac)) if e.status in done]


def _linked_folder(folder: Path) -> InputError:
    return InputError(
        f"cannot read this journal entry: {folder.name}: a symbolic link to a folder "
        f"({os.readlink(folder)}); the journal keeps its own folders and reads, and "
        "prunes, nothing through a link",
        hint="move the link away; to use that journal, give its folder as --journal-dir",
    )


@dataclass(frozen=True, slots=True)
class Pruned:
    """What :func:`prune` removed (or, with ``dry_run``, would remove) and kept."""

    removed: tuple[JournalEntry, ...]
    kept_unfinished: tuple[JournalEntry, ...]
    kept_recent: int
    problems: tuple[InputError, ...]
    dry_run: bool


def prune(
    journal: Journal,
    *,
    older_than: timedelta,
    now: datetime | None = None,
    mac: str | None = None,
    unfinished: bool = False,
    dry_run: bool = False,
) -> Pruned:
    """Delete entries last changed more than ``older_than`` ago (only this unit's with
    ``mac``). Unfinished updates (``pending``: the unit may be half updated) are kept
    unless ``unfinished``, and so are restores stopped part-way (``restoring``):
    without their entry neither a rerun nor restore can help."""
    try:
        cutoff = (now or _now()) - older_than
    except OverflowError:  # reaching before year 1: no entry is older
        cutoff = FIRST
    entries, problems = journal.scan()
    if mac is not None:
        entries = [e for e in entries if e.mac.lower() == mac.lower()]
    old = [e for e in entries if (e.updated or e.created) < cutoff]
    kept = tuple(e for e in old if e.status in UNFINISHED and not unfinished)
    removed = tuple(e for e in old if e not in kept)
    if not dry_run:
        for entry in removed:
            journal.remove(entry)
    return Pruned(removed, kept, len(entries) - len(old), tuple(problems), dry_run)


def _private_dirs(folder: Path) -> None:
    """Create a unit's folder and its missing parents 0700, whatever the umask; an
    existing unit folder (an older version made them 0755) is made 0700. Existing
    parents are left as they are: ``--journal-dir .`` must not change the project
    directory, and a 0700 unit folder is enough to keep its files from others."""
    missing = []
    p = folder
    while not os.path.exists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    for p in reversed(missing):
        p.mkdir(mode=0o700, exist_ok=True)
        os.chmod(p, 0o700)  # the umask may have taken the owner's bits too
    if not missing:
        os.chmod(folder, 0o700)


def _write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically by a file that is 0600 from its first byte.

    Not :func:`~esp_cabundle.fileio.write_atomic`, which publishes outputs 0644: a
    journal entry holds other files' secrets, and must never be readable by others,
    not even for a moment, whatever the umask.
    """

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _now() -> datetime:
    return datetime.now(timezone.utc)


def new_entry_id() -> str:
    """A short random id that keeps two entries of the same second apart."""
    return os.urandom(4).hex()
