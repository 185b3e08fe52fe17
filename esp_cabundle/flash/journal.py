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
else ``~/.local/state/esp-cabundle/journal``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from ..errors import InputError
from ..fileio import write_atomic

__all__ = [
    "JOURNAL_FORMAT",
    "Journal",
    "JournalEntry",
    "JournalPartition",
    "JournalSector",
    "Status",
    "default_journal_dir",
]

JOURNAL_FORMAT = "esp-cabundle-journal/1"

Status = Literal["pending", "complete", "restored", "cancelled", "stale"]
_STATUSES = ("pending", "complete", "restored", "cancelled", "stale")


def default_journal_dir() -> Path:
    """``$ESP_CABUNDLE_JOURNAL``, else the XDG state directory's ``esp-cabundle/journal``."""
    explicit = os.environ.get("ESP_CABUNDLE_JOURNAL")
    if explicit:
        return Path(explicit)
    state = os.environ.get("XDG_STATE_HOME")
    base = Path(state) if state else Path.home() / ".local" / "state"
    return base / "esp-cabundle" / "journal"


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass(frozen=True, slots=True)
class JournalSector:
    """One 4 KiB sector of an update: its flash address, old and new content."""

    offset: int
    old: bytes
    new: bytes

    @property
    def old_md5(self) -> str:
        return _md5(self.old)

    @property
    def new_md5(self) -> str:
        return _md5(self.new)


@dataclass(frozen=True, slots=True)
class JournalPartition:
    """The sectors of one partition in write order, and the ranges left untouched."""

    name: str
    offset: int
    size: int
    fs_type: str
    sectors: tuple[JournalSector, ...]
    untouched: tuple[tuple[int, int, str], ...]  # (offset, length, unit MD5 before)


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
            "partitions": [
                {
                    "name": p.name,
                    "offset": p.offset,
                    "size": p.size,
                    "fs_type": p.fs_type,
                    "untouched": [list(u) for u in p.untouched],
                    "sectors": [
                        {
                            "offset": s.offset,
                            "old_md5": s.old_md5,
                            "new_md5": s.new_md5,
                            "old": base64.b64encode(s.old).decode("ascii"),
                            "new": base64.b64encode(s.new).decode("ascii"),
                        }
                        for s in p.sectors
                    ],
                }
                for p in self.partitions
            ],
        }

    @classmethod
    def from_json(cls, obj: Any, *, path: Path) -> JournalEntry:
        """Parse a saved entry; InputError naming the file when it is not one."""
        try:
            if obj.get("format") != JOURNAL_FORMAT:
                raise ValueError(f"format {obj.get('format')!r}")
            if obj["status"] not in _STATUSES:
                raise ValueError(f"status {obj['status']!r}")
            parts = []
            for p in obj["partitions"]:
                sectors = []
                for s in p["sectors"]:
                    sector = JournalSector(
                        int(s["offset"]), base64.b64decode(s["old"]), base64.b64decode(s["new"])
                    )
                    if sector.old_md5 != s["old_md5"] or sector.new_md5 != s["new_md5"]:
                        raise ValueError(f"sector {sector.offset:#x} does not match its MD5")
                    sectors.append(sector)
                parts.append(
                    JournalPartition(
                        str(p["name"]),
                        int(p["offset"]),
                        int(p["size"]),
                        str(p["fs_type"]),
                        tuple(sectors),
                        tuple((int(o), int(n), str(m)) for o, n, m in p["untouched"]),
                    )
                )
            return cls(
                id=str(obj["id"]),
                created=_aware(datetime.fromisoformat(obj["created"])),
                updated=_aware(datetime.fromisoformat(obj["updated"])),
                status=obj["status"],
                mac=str(obj["mac"]),
                chip=str(obj["chip"]),
                port=str(obj["port"]),
                board=str(obj["board"]),
                ca_sha256=str(obj["ca_sha256"]),
                partitions=tuple(parts),
                path=path,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise InputError(
                f"not a readable esp-cabundle journal entry ({e})",
                path=str(path),
                hint="move the file away if it is not needed",
            ) from e


def _aware(dt: datetime) -> datetime:
    """Entries are written in UTC; a hand-edited naive time is read as UTC too, so
    entries always sort (naive and aware times do not compare)."""
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class Journal:
    """The journal directory: one subdirectory per unit MAC, one file per update."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_journal_dir()

    def _unit_dir(self, mac: str) -> Path:
        return self.directory / mac.replace(":", "").lower()

    def record(self, entry: JournalEntry) -> JournalEntry:
        """Save a new entry (before the first write); OutputError if it cannot be saved."""
        name = entry.created.strftime("%Y%m%dT%H%M%S%fZ") + f"-{entry.id}.json"
        saved = replace(entry, path=self._unit_dir(entry.mac) / name)
        self._save(saved)
        return saved

    def set_status(self, entry: JournalEntry, status: Status) -> JournalEntry:
        updated = replace(entry, status=status, updated=_now())
        self._save(updated)
        return updated

    def _save(self, entry: JournalEntry) -> None:
        assert entry.path is not None
        text = json.dumps(entry.to_json(), indent=1) + "\n"
        write_atomic(entry.path, text.encode("utf-8"))

    def entries(self, mac: str) -> list[JournalEntry]:
        """Every saved update of this unit, oldest first."""
        folder = self._unit_dir(mac)
        if not folder.is_dir():
            return []
        out = []
        for path in sorted(folder.glob("*.json")):
            out.append(read_entry(path))
        return sorted(out, key=lambda e: e.created)

    def pending(self, mac: str) -> list[JournalEntry]:
        """Updates of this unit that were started and never finished, oldest first."""
        return [e for e in self.entries(mac) if e.status == "pending"]

    def restorable(self, mac: str) -> JournalEntry | None:
        """The newest update of this unit that wrote something and was not undone."""
        for entry in reversed(self.entries(mac)):
            if entry.status in ("pending", "complete"):
                return entry
        return None


def read_entry(path: Path) -> JournalEntry:
    """One saved entry; InputError naming the file for anything that is not one (size
    and nesting capped, so an edited or planted file cannot exhaust memory or stack)."""
    from ..fileio import read_input
    from ..limits import MAX_JOURNAL_INPUT, loads_json

    data = read_input(path, what="journal entry", max_bytes=MAX_JOURNAL_INPUT)
    obj = loads_json(data, what="journal entry", path=str(path), cap=MAX_JOURNAL_INPUT)
    return JournalEntry.from_json(obj, path=path)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def new_entry_id() -> str:
    """A short random id that keeps two entries of the same second apart."""
    return os.urandom(4).hex()
