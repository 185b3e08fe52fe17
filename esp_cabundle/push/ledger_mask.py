"""A ledger an older release wrote, its unit URLs' query values masked as this release
stores them: :meth:`.ledger.Ledger.bind` calls :func:`mask_stored` in the transaction
that binds a campaign, and the run says what it did (:meth:`Masking.said`).

An older release kept an ``--rpc`` URL's query values (``?session=``) in the row it
keyed by the URL (a unit that never said its device id), in its address and in an error
or note quoting it. Masked, rows an older release told apart by a query value alone
name one URL, as the current release names the unit: one row is kept (:func:`_standing`),
set back to ``pending`` when the rows may have been several units' (:func:`_reset`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from .ledger_schema import PROGRESS
from .urls import shown_address, shown_text

__all__ = ["Masking", "mask_stored"]

# How the kept row is chosen, as said (PROGRESS, furthest first).
_RULE = (
    "of rows naming one URL the one furthest on is kept (reconnected, up-to-date or "
    "unused, then rebooted, verified, writing, failed, offline, pending), of those the "
    "most recently updated; set back to pending (attempts kept) when there were several "
    "older rows or rows of different states, which may have been several units': the "
    "next run reads the unit again"
)


@dataclass(frozen=True)
class Masking:
    """What :func:`mask_stored` did to a ledger."""

    masked: int = 0  # rows whose stored URL (and the error, note quoting it) was rewritten
    dropped: int = 0  # rows dropped: once masked, they named the URL another row kept
    merged: tuple[str, ...] = ()  # masked URLs under which several older rows became one
    leased: int = 0  # rows left with their query values: a running campaign leases the unit
    held: frozenset[str] = field(default_factory=frozenset)  # those units' masked URLs

    def said(self, path: Path) -> list[str]:
        """The lines a run says once (the file itself was changed)."""
        out = []
        if self.masked:
            s = "s" * (self.masked != 1)
            out.append(f"masked the query values of {self.masked} stored unit URL{s} in {path}")
        if self.dropped:
            rows = f"{self.dropped} row{'s' * (self.dropped != 1)}"
            out.append(
                f"dropped {rows} of {path} naming, once masked, the unit URL another row "
                f"kept: {_RULE}"
            )
        for url in self.merged:
            out.append(
                f"{url}: rows an older release told apart by query values alone are one row "
                "now, set back to pending for the next run to read the unit again; if they "
                "were several units, give each its own address (host, port or path): a run "
                "naming their URLs together is refused"
            )
        if self.leased:
            one = self.leased == 1
            rows = f"{self.leased} row{'s' * (not one)}"
            them, their = ("it is", "its") if one else ("they are", "their")
            out.append(
                f"{rows} of {path} left as {them}, with {their} query values: {their} "
                f"unit{'s' * (not one)} leased by a running campaign, whose outcome this run "
                f"waits for and reports, masking {'it' if one else 'them'} once the lease "
                "ends (a --watch run then takes the unit up)"
            )
        return out


class _Row(NamedTuple):
    id: str
    address: str | None
    state: str
    updated_at: str
    last_error: str | None
    note: str | None
    lease_owner: str | None
    lease_until: float | None


_COLUMNS = ", ".join(_Row._fields)


def mask_stored(
    db: sqlite3.Connection, lease_free: Callable[[str | None, float | None], bool]
) -> Masking:
    """Each row whose stored URL (an id that is one, an address) holds query values,
    rewritten masked (:func:`~.urls.shown_address`), its error and note too
    (:func:`~.urls.shown_text`). Rows then keyed by one URL (the current writer's among
    them) are one unit's as the current release sees it: the one :func:`_standing`
    ranks first is kept, the others dropped. A unit whose row another live process
    leases (``lease_free`` False) is left whole, and :attr:`Masking.held` names it: this
    run waits for it as for a unit held elsewhere, and does not enroll it masked (a
    second row) until the lease ends (:meth:`.ledger.Ledger.retake_held`).
    Freed bytes are zeroed (``secure_delete``), and the values leave the file once the
    WAL is checkpointed into it, which :meth:`.ledger.Ledger.bind` does at once."""
    old = [
        _Row(*r)
        for r in db.execute(
            f"SELECT {_COLUMNS} FROM units WHERE instr(id, '?') OR instr(ifnull(address, ''), '?')"
        )
    ]
    groups: dict[str, list[_Row]] = {}  # the masked id -> the rows it masks
    alone: list[_Row] = []  # rows keyed by a device id (or masked): the address only
    for r in old:
        new_id = shown_address(r.id)
        if new_id != r.id:
            groups.setdefault(str(new_id), []).append(r)
        elif shown_address(r.address) != r.address:
            alone.append(r)
    if not groups and not alone:
        return Masking()
    db.execute("PRAGMA secure_delete = ON")
    masked = dropped = leased = 0
    merged: list[str] = []
    held: set[str] = set()
    gone: set[str] = set()
    for new_id, rows in groups.items():
        got = db.execute(f"SELECT {_COLUMNS} FROM units WHERE id = ?", (new_id,)).fetchone()
        members = [*rows, _Row(*got)] if got else rows
        if not all(lease_free(r.lease_owner, r.lease_until) for r in members):
            leased += len(rows)
            held.add(new_id)
            continue
        keep = max(members, key=_standing)
        for r in members:
            if r is not keep:
                db.execute("DELETE FROM units WHERE id = ?", (r.id,))
                gone.add(r.id)
                dropped += 1
        if len(rows) > 1:
            merged.append(new_id)
        if keep.id != new_id:
            _rewrite(db, keep, new_id)
            masked += 1
        if _reset(rows, members):
            db.execute("UPDATE units SET state = 'pending', done_at = NULL WHERE id = ?", (new_id,))
    for r in alone:
        if r.id in gone:
            continue
        if not lease_free(r.lease_owner, r.lease_until):
            leased += 1
            continue
        _rewrite(db, r, r.id)
        masked += 1
    return Masking(masked, dropped, tuple(sorted(merged)), leased, frozenset(held))


def _rewrite(db: sqlite3.Connection, r: _Row, new_id: str) -> None:
    db.execute(
        "UPDATE units SET id = ?, address = ?, last_error = ?, note = ? WHERE id = ?",
        (
            new_id,
            shown_address(r.address),
            shown_text(r.last_error, r.id, r.address),
            shown_text(r.note, r.id, r.address),
            r.id,
        ),
    )


def _reset(rows: list[_Row], members: list[_Row]) -> bool:
    """Whether the row kept of ``members`` (``rows``, an older release's, and the current
    writer's, if any) must not claim its progress: several older rows, or rows that got to
    different states, may have been several units (``?dev=A`` reconnected, ``?dev=B``
    failed), and B would never be pushed again. Re-reading an up-to-date unit is cheap."""
    return len(rows) > 1 or len({PROGRESS.get(r.state, -1) for r in members}) > 1


def _standing(r: _Row) -> tuple[int, float]:
    """Which of a unit's rows is kept: the one furthest on (:data:`.ledger_schema.PROGRESS`:
    a verified row over a pending one, whichever is newer), then the most recently
    updated; a damaged cell ranks last."""
    try:
        when = datetime.fromisoformat(r.updated_at).timestamp()
    except (TypeError, ValueError):
        when = float("-inf")
    return PROGRESS.get(r.state, -1), when
