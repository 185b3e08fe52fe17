"""What a unit held, partition by partition, when a run found a journaled update on it,
and what the run wrote to each: ``flash`` finishing an interrupted update, ``restore``
putting the original back.

Both start from the unit's MD5 of every journaled sector: each holds its old content,
its new one, or neither: torn by a cut only when the journal says a write was under way
and its bits are what a cut erase or program leaves (:func:`.writer.entry_state`), else
changed since the update (then nothing is written without ``--force``, and such a
partition is said changed, never torn). Nothing more is read, so a partition is said
only as far as that tells:

* its new sectors a prefix of the update's order (as every stop between two sectors
  leaves them): what the journal recorded it mounts with then, so the roots it held;
* one sector torn, those before it new and those after it old (a cut inside a sector,
  updating or restoring): on LittleFS the CA file from before the update or the
  update's, as every such state of the tool's orders mounts with one or the other
  (``tests/test_flash_plan.py``, ``test_dump_update.py`` and ``test_resume_reports.py``
  mount them all); on SPIFFS not known (its own mount erases a block whose magic is
  torn);
* anything else: not known.

A partition not known is said so, with the two root lists the journal holds for it,
never with one of them as if it were what the partition held.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from ..anchors import count_entries, intermediates, not_cas
from ..text import plural, printable
from .interrupt import Holds, SectorState, holdings

if TYPE_CHECKING:
    from ..certs import Certificate
    from .interrupt import Interruption
    from .journal import JournalEntry

__all__ = [
    "NO_CA",
    "Kinds",
    "PartitionFound",
    "Resumed",
    "Roots",
    "ca_words",
    "carried",
    "kinds",
    "named",
    "partitions_found",
    "per_partition",
    "roots_after_stop",
    "told_apart",
]

Roots = tuple[tuple[str, str], ...]  # (name, SHA-256) of each root of a CA file
# (SHA-256, "intermediate" or "not a CA") of a CA file's certificates that are no root
Kinds = tuple[tuple[str, str], ...]
Done = Literal[
    "untouched",
    "resumed",
    "rewritten",
    "partly written back",
    "written back",
    # a dry run's: what it would do, as flash --dry-run's "would finish" (it wrote nothing)
    "would resume",
    "would rewrite",
    "would partly write back",
    "would write back",
]
_WOULD: dict[Done, Done] = {
    "resumed": "would resume",
    "rewritten": "would rewrite",
    "partly written back": "would partly write back",
    "written back": "would write back",
}


def named(certs: Iterable[Certificate]) -> Roots:
    return tuple((printable(c.label), c.sha256) for c in certs)


def kinds(certs: Sequence[Certificate]) -> Kinds:
    """What of ``certs`` is no root, as a journal keeps it beside their names."""
    return tuple((c.sha256, "intermediate") for c in intermediates(certs)) + tuple(
        (c.sha256, "not a CA") for c in not_cas(certs)
    )


def told_apart(roots: Roots) -> list[str]:
    """Each root's name; a name two of them share gets each one's SHA-256 prefix (``E5
    (1a2b3c4d)``, ``E5 (5e6f7a8b)``): two certificates named alike read as one said twice."""
    shared = Counter(name for name, _ in roots)
    return [
        f"{printable(n)} ({fp.rsplit(':', 1)[-1][:8]})" if shared[n] > 1 else printable(n)
        for n, fp in roots  # per_partition's fs_0:SHA-256 too
    ]


def ca_words(sha256: str, roots: Roots, kinds: Kinds = ()) -> str:
    """A CA named for people: its SHA-256 prefix and its certificates, counted as what
    they are as :func:`.anchors.count_anchors` does (``SHA-256 1a2b3c4d5e6f, 3 CAs (2
    roots, 1 intermediate): ISRG Root X1, ...``). ``kinds``: journals that predate it
    keep none, so their certificates count as roots."""
    kind = dict(kinds)
    k = sum(kind.get(fp) == "intermediate" for _, fp in roots)
    m = sum(kind.get(fp) == "not a CA" for _, fp in roots)
    names = ", ".join(told_apart(roots))
    count = count_entries(len(roots), k, m)
    return f"SHA-256 {sha256[:12]}, {count}: {names}" if roots else f"SHA-256 {sha256[:12]}"


def carried(entry: JournalEntry) -> str:
    """The CA a journaled update carried, in :func:`ca_words`."""
    return ca_words(entry.ca_sha256, entry.roots_after, entry.kinds_after)


# A partition without a CA file in a root list (``fs_0: no CA file``, ``fs_0:none``):
# said, not left out, so a list never reads as if that partition held the others' roots.
NO_CA: Roots = (("no CA file", "none"),)


def per_partition(per: Sequence[tuple[str, Roots]]) -> Roots:
    """One root list for several partitions: as it is when each holds the same, else
    every root prefixed with its partition (``fs_0: ISRG Root X1``, ``fs_0:<SHA-256>``)."""
    if len({roots for _, roots in per}) <= 1:
        return per[0][1] if per else ()
    return tuple((f"{name}: {n}", f"{name}:{fp}") for name, roots in per for n, fp in roots)


def _names(roots: Roots) -> str:
    return ", ".join(name for name, _ in roots) or "no root"


@dataclass(frozen=True, slots=True)
class PartitionFound:
    """One partition of a journaled update as a run found it, and what the run writes
    there: ``todo`` of its ``sectors`` (their new content when finishing the update,
    their old one when ``restoring``). ``before`` and ``after``: the journal's roots of
    its CA file before the update and after it."""

    name: str
    fs_type: str
    holds: Holds
    torn: bool  # one sector neither old nor new, at a cut of the order (see the module)
    sectors: int
    writes: tuple[int, ...]  # the sectors the run writes there, in the order it writes them
    before: Roots
    after: Roots
    restoring: bool = False
    created: bool = False  # no CA file before the update (the journal's ca_created)
    # a sector holds what no cut leaves (written since the update; restore --force)
    changed: bool = False

    @property
    def todo(self) -> int:
        """Sectors this run writes here: a resumed update rewrites only those not yet
        new, so a technician sees how much of the partition a cut left to do."""
        return len(self.writes)

    @property
    def held(self) -> str:
        """old, new, mixed (mounts with neither CA file), unmountable, torn, changed
        (since the update) or unknown."""
        if self.changed:
            return "changed"
        return "torn" if self.torn and self.holds == "unknown" else self.holds

    @property
    def roots(self) -> Roots | None:
        """The roots it held; None when that is not known."""
        if self.holds == "new":
            return self.after
        if self.holds == "old":
            return self.before
        if self.holds in ("mixed", "unmountable"):
            return ()
        return None

    @property
    def listed(self) -> Roots:
        """:attr:`roots` for a root list; not known, one entry saying what is instead
        (``torn by a cut: held the CA file from before ...``, ``torn``)."""
        roots = self.roots
        if self.created and self.holds == "old":
            return NO_CA
        return roots if roots is not None else ((self.not_known(), self.held),)

    def not_known(self) -> str:
        """What is known of a partition whose roots are not (empty when they are)."""
        if self.roots is not None:
            return ""
        if self.held == "torn" and self.fs_type == "littlefs":
            return "torn by a cut: held the CA file from before the update or the update's"
        torn = {"torn": "torn by a cut: ", "changed": "changed since the update: "}
        return f"{torn.get(self.held, '')}what it held is not known"

    @property
    def done(self) -> Done:
        """The run's one word for this partition (untouched, rewritten, resumed, written
        back): the summary and ``--json`` say the same, so a script never parses prose
        (a dry run's ``--json`` says it as what it would do: :meth:`to_json`)."""
        if not self.todo:
            return "untouched"
        if self.restoring:
            return "written back" if self.todo == self.sectors else "partly written back"
        return "rewritten" if self.todo == self.sectors else "resumed"

    def held_words(self) -> str:
        """What it held, in words."""
        if self.holds == "new":
            return f"held the update's CA file ({_names(self.after)})"
        if self.holds == "old" and self.created:
            return "held no CA file, as before the update"
        if self.holds == "old":
            return f"held the CA file from before the update ({_names(self.before)})"
        if self.holds == "mixed":
            return "mounted with neither CA file (or lost another file)"
        if self.holds == "unmountable":
            return "did not mount"
        journal = f"the journal says: before {_names(self.before)}; after {_names(self.after)}"
        return f"{self.not_known()} ({journal})"

    def describe(self, *, planned: bool = False) -> str:
        """``fs_1: held ... (...); rewritten (3 of 3 sectors)``; ``planned``: not written yet."""
        if not self.todo:
            return f"{self.name}: {self.held_words()}; untouched"
        to_be = "to be " if planned else ""
        count = f"{self.todo} of {plural(self.sectors, 'sector')}"
        return f"{self.name}: {self.held_words()}; {to_be}{self.done} ({count})"

    def to_json(self, *, planned: bool = False, dry_run: bool = False) -> dict[str, Any]:
        """``planned``: not written yet (its description says "to be ..."); ``dry_run``:
        nor will it be by this run, so ``done`` says what it would do ("would write
        back"): a dry run's "written back" beside "to be written back" said it was."""
        roots = self.roots
        done = _WOULD.get(self.done, self.done) if dry_run else self.done
        return {
            "name": self.name,
            "held": self.held,
            "roots": None if roots is None else [name for name, _ in roots],
            "journal_roots": {
                "before": [name for name, _ in self.before],
                "after": [name for name, _ in self.after],
            },
            "sectors": self.sectors,
            "sectors_to_write": self.todo,
            "done": done,
            "description": self.describe(planned=planned or dry_run),
        }


def _torn_at_cut(seq: Sequence[SectorState]) -> bool:
    """One sector neither old nor new, every one before it new, every one after it old."""
    if seq.count("other") != 1:
        return False
    k = seq.index("other")
    return all(s == "new" for s in seq[:k]) and all(s == "old" for s in seq[k + 1 :])


def partitions_found(
    entry: JournalEntry,
    states: Mapping[int, SectorState],
    *,
    restoring: bool = False,
    changed: Collection[int] = (),
) -> tuple[PartitionFound, ...]:
    """Every partition of ``entry`` with its sectors in ``states`` (see the module);
    ``changed``: sectors holding neither old nor new that no cut leaves (never torn)."""
    goal: SectorState = "old" if restoring else "new"
    out = []
    for p, h in zip(entry.partitions, holdings(entry, states), strict=True):
        seq = [states.get(s.offset, "other") for s in p.sectors]
        order = reversed(p.sectors) if restoring else iter(p.sectors)
        out.append(
            PartitionFound(
                name=p.name,
                fs_type=p.fs_type,
                holds=h.holds,
                torn=_torn_at_cut(seq) and not any(s.offset in changed for s in p.sectors),
                changed=any(s.offset in changed for s in p.sectors),
                sectors=len(seq),
                writes=tuple(s.offset for s in order if states.get(s.offset, "other") != goal),
                before=entry.roots_of(p),
                after=entry.roots_after,
                restoring=restoring,
                created=p.ca_created,
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Resumed:
    """What became of an interrupted update found in the journal: ``found``, what each of
    its partitions held when this run found it and what it wrote there (``stopped``: a
    stop request, or a failure such as a lost link, came while finishing it, after
    ``sectors_written`` of its sectors); ``this_ca``, the SHA-256 and roots of the CA
    this run flashes (the interrupted update may have carried another)."""

    entry: JournalEntry
    action: Literal["finished", "dropped", "stale", "would finish", "stopped"]
    sectors_written: int = 0
    found: tuple[PartitionFound, ...] = ()
    this_ca: tuple[str, Roots, Kinds] = ("", (), ())

    @property
    def other_ca(self) -> bool:
        """The interrupted update carried another CA than the one this run flashes."""
        return bool(self.this_ca[0]) and self.entry.ca_sha256 != self.this_ca[0]

    def roots_found(self) -> Roots:
        """The roots the unit held when this run found it, each partition's (``fs_0:
        ...``) when they differ; a partition whose roots are not known (a sector torn by
        a cut) says so, and one left without a usable CA file lists none."""
        if not self.found:
            return self.entry.roots_before
        return per_partition([(f.name, f.listed) for f in self.found])


def roots_after_stop(resumed: Resumed, stop: Interruption) -> Roots:
    """What each partition of ``resumed``'s update holds once finishing it was stopped
    (a sector torn by a cut is torn still until it is written), or cut by a failure
    (the sector in flight, ``stop.torn``, torn: the next of the order, so at a cut)."""
    found = {f.name: f for f in resumed.found}
    cut = {
        p.name for p in resumed.entry.partitions if any(s.offset == stop.torn for s in p.sectors)
    }
    per = []
    for h in stop.partitions:
        f = found.get(h.name)
        if f is not None:
            torn = (f.torn or h.name in cut) and h.holds == "unknown"
            now = replace(f, holds=h.holds, torn=torn)
            per.append((h.name, now.listed))
    return per_partition(per)
