"""``cabundle.lock``: the fingerprints a build resolved, so CI can insist on them.

Read and written as JSON; a lock is checked against a resolved :class:`~.bundle.Bundle`
(:meth:`Lock.check`) before anything is written, so a build under ``--locked`` never
ships roots the lock did not pin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from . import __version__
from .catalog import normalize_fingerprint
from .errors import InputError, LockMismatchError
from .limits import MAX_LOCK_INPUT, json_key_line, json_shape_reason, loads_json
from .spelling import PYTHON, Spelling
from .text import shown_path

if TYPE_CHECKING:
    from .bundle import Bundle

__all__ = ["LOCK_VERSION", "Lock", "build_unlocked"]

LOCK_VERSION = 1

# json.dumps's escaping of a string for ensure_ascii=False (the C one when available).
_json_str = json.encoder.encode_basestring


def build_unlocked(spelling: Spelling, then: str) -> str:
    """The hint that sends the user to build without the lock's pin (which writes the
    lock anew), ``then`` saying what for: one wording for every lock hint."""
    return f"{spelling.build} without {spelling.locked} {then}"


@dataclass(frozen=True, slots=True)
class Lock:
    """``cabundle.lock``: the fingerprints a build resolved, so CI can insist on them."""

    fingerprints: tuple[str, ...]
    labels: tuple[str, ...]
    sources: tuple[str, ...]
    mozilla_version: str

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> Lock:
        return cls(
            fingerprints=bundle.fingerprints,
            labels=tuple(e.label for e in bundle.entries),
            sources=tuple(e.provenance for e in bundle.entries),
            mozilla_version=bundle.mozilla_version,
        )

    def to_bytes(self) -> bytes:
        """The lock as ``json.dumps(doc, indent=2, ensure_ascii=False)`` writes it, laid
        out here: with an indent, json encodes in pure Python (~0.5 ms for 150 roots), while
        each string through the encoder's own escaping (C) gives the same bytes."""
        q = _json_str
        roots = [
            f'    {{\n      "sha256": {q(fp)},\n      "label": {q(label)},\n'
            f'      "source": {q(src)}\n    }}'
            for fp, label, src in zip(self.fingerprints, self.labels, self.sources, strict=True)
        ]
        listed = "[\n" + ",\n".join(roots) + "\n  ]" if roots else "[]"
        text = (
            f'{{\n  "lock_version": {LOCK_VERSION},\n  "generator": "esp-cabundle",\n'
            f'  "certifi": {q(self.mozilla_version)},\n  "roots": {listed}\n}}\n'
        )
        # A root file's name that is not UTF-8 (kept by Python as lone surrogates) is
        # written as a JSON \udcXX escape, which reads back as the same name.
        return text.encode("utf-8", "backslashreplace")

    @classmethod
    def from_bytes(
        cls, data: bytes, *, path: str = "cabundle.lock", spelling: Spelling = PYTHON
    ) -> Lock:
        """The lock in ``data``; ``spelling``: how the hints name a build (see
        :mod:`~esp_cabundle.spelling`)."""
        hint = build_unlocked(spelling, "to write it again; review the diff")
        # A lock that is not JSON (a merge's conflict markers, a cut write): the one in
        # version control is what was reviewed; writing it anew pins what resolves now.
        not_json = f"restore it from version control, or {hint}"
        doc = loads_json(
            data, what="lock file", path=path, cap=MAX_LOCK_INPUT, hint=not_json, fault_line=True
        )
        if not isinstance(doc, dict):
            raise InputError(
                f"corrupt lock file: a JSON {type(doc).__name__}, not the object with "
                "'lock_version' and 'roots' that build writes",
                path=path,
                hint=hint,
            )
        version = doc.get("lock_version")
        # type(): JSON's true and 1.0 equal 1 in Python, but no lock build writes holds them
        if type(version) is int and version > LOCK_VERSION:
            # A later esp-cabundle's lock: building without it would drop what it pins.
            raise InputError(
                f"lock_version {version} is newer than esp-cabundle {__version__} reads "
                f"(lock_version {LOCK_VERSION}): a later release wrote this lock",
                path=path,
                line=json_key_line(data.decode("utf-8"), "lock_version"),
                hint="upgrade esp-cabundle to the release that wrote the lock, or later",
            )
        if type(version) is not int or version != LOCK_VERSION:
            shown = json.dumps(version, ensure_ascii=False)
            raise InputError(
                f"unsupported lock_version {shown[:40]}: build writes the whole number "
                f"{LOCK_VERSION}",
                path=path,
                line=json_key_line(data.decode("utf-8"), "lock_version"),
                hint=hint,
            )
        try:
            roots = doc["roots"]
            if not isinstance(roots, list) or not all(isinstance(r, dict) for r in roots):
                raise TypeError(roots)
            fps = tuple(str(r["sha256"]) for r in roots)
            labels = tuple(str(r.get("label", "")) for r in roots)
            sources = tuple(str(r.get("source", "")) for r in roots)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise InputError(
                f"corrupt lock file ({json_shape_reason(e)})", path=path, hint=hint
            ) from e
        seen: dict[str, int] = {}
        normal: list[str] = []
        for n, typed in enumerate(fps, start=1):
            # A hand-edited 96BC... (or sha256:96:BC:...) is the same root, as --root and
            # roots: take it; kept as build writes it, it compares with the bundle's.
            fp = normalize_fingerprint(typed)
            if fp is None:
                raise InputError(
                    f"bad fingerprint in lock file: root {n}'s sha256 ({typed[:16]}"
                    f"{'...' if len(typed) > 16 else ''}) is not 64 hex digits",
                    path=path,
                    line=_line_of(data, typed),
                    hint=f"restore it from version control, or {hint}",
                )
            normal.append(fp)
            if fp in seen:
                raise InputError(
                    f"corrupt lock file: root {n} ({labels[n - 1] or fp[:16]}) repeats root "
                    f"{seen[fp]}; a lock lists each root once",
                    path=path,
                    hint=hint,
                )
            seen[fp] = n
        return cls(tuple(normal), labels, sources, str(doc.get("certifi", "unknown")))

    def check(
        self, bundle: Bundle, *, path: str = "cabundle.lock", spelling: Spelling = PYTHON
    ) -> None:
        """Raise :class:`LockMismatchError` unless ``bundle`` holds exactly the pinned roots;
        ``spelling`` as for :meth:`from_bytes`."""
        if bundle.fingerprints == self.fingerprints:
            return
        pinned = dict(zip(self.fingerprints, self.labels, strict=True))
        now_ = {e.sha256: e.label for e in bundle.entries}
        added = [fp for fp in now_ if fp not in pinned]
        removed = [fp for fp in pinned if fp not in now_]
        w = _distinct_width([*added, *removed])
        lines = [f"+ {now_[fp]} ({fp[:w]})" for fp in added]
        lines += [f"- {pinned[fp]} ({fp[:w]})" for fp in removed]
        if len(lines) > MAX_DIFF_LINES:
            more = len(lines) - MAX_DIFF_LINES + 1
            lines[MAX_DIFF_LINES - 1 :] = [
                f"... and {more:,} more ({len(added):,} added and {len(removed):,} removed in all)"
            ]
        lines = lines or ["same roots, different order"]
        raise LockMismatchError(
            f"the resolved roots differ from {shown_path(path)}",
            violations=tuple(lines),
            hint=build_unlocked(spelling, "to update the lock; review the diff"),
        )


def _line_of(data: bytes, value: str) -> int | None:
    """The line of the JSON string ``value`` in the lock's text, as a hand edit leaves
    it (the first: the same bad value twice is one fix); None where it is not written
    plainly (escaped, or not a string)."""
    text = data.decode("utf-8", "replace")
    at = text.find(_json_str(value))
    return text.count("\n", 0, at) + 1 if at >= 0 else None


# Lines of a --locked diff shown: a lock pinning thousands of roots said each one
# (30,010 lines for a 3.9 MB lock); the last line shown says how many more there are.
MAX_DIFF_LINES = 40


def _distinct_width(fingerprints: list[str], least: int = 16) -> int:
    """The prefix length (at least ``least`` hex digits) at which ``fingerprints`` all
    differ: two roots of a diff sharing their first 16 would read as one."""
    ordered = sorted(fingerprints)
    width = least
    for a, b in pairwise(ordered):
        same = 0
        while same < min(len(a), len(b)) and a[same] == b[same]:
            same += 1
        width = max(width, same + 1)
    return min(width, max((len(f) for f in fingerprints), default=least))
