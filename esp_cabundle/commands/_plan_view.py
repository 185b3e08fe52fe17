"""How a CA update reads, for every command that plans one: ``flash`` (a unit, a
station), ``restore`` and ``update-dump`` render the same
:class:`~esp_cabundle.flash.plan.PartitionChange` values with these functions, in text
and as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..flash.plan import PartitionChange, RootChange

__all__ = ["change_dict", "change_lines", "roots_lines"]

# What the CA file is said to undergo, by the state of the run.
_VERB = {"dry run": "would be ", "updated": "was ", "interrupted": "was being ", "planned": ""}


def roots_lines(roots: RootChange) -> list[str]:
    """One line per root added or removed, then how many were kept."""
    lines = [f"  + {c.label} ({c.sha256[:16]})" for c in roots.added]
    lines += [f"  - {c.label} ({c.sha256[:16]})" for c in roots.removed]
    if roots.old_unreadable:
        lines.append("  (the old CA file holds no readable certificate)")
    if roots.kept:
        lines.append(f"  = {roots.kept} root(s) kept")
    return lines


def change_lines(change: PartitionChange, status: str = "planned") -> list[str]:
    """A partition's change in full: what happens to the CA file, roots, sectors in
    write order, why that order."""
    p = change.partition
    head = f"{p.name} ({p.offset:#x}, {change.fs_type} {change.profile}"
    version = dict(change.facts).get("disk version")
    head += f", disk {version})" if version else ")"
    if change.skipped:
        return [f"{head}: skipped, {change.skipped}"]
    if change.up_to_date:
        return [f"{head}: {change.ca_path} already holds this CA file"]
    action = "replaced" if change.old_ca is not None else "created"
    kept = f"; kept {len(change.files)} other file(s)" if change.files else ""
    lines = [f"{head}: {change.ca_path} {_VERB.get(status, 'is ')}{action}{kept}"]
    lines += roots_lines(change.roots)
    sectors = " ".join(f"{w.offset:#x}" for w in change.writes)
    kib = len(change.writes) * 4
    lines.append(f"  {len(change.writes)} sector(s), {kib} KiB, in this order: {sectors}")
    lines.append(f"  order: {change.order}")
    return lines


def change_dict(change: PartitionChange) -> dict[str, Any]:
    """A partition's change for ``--json``."""
    return {
        "name": change.partition.name,
        "offset": change.partition.offset,
        "size": change.partition.size,
        "file_system": change.fs_type,
        "profile": change.profile,
        "facts": dict(change.facts),
        "ca_path": change.ca_path,
        "action": change.action,
        "skipped": change.skipped,
        "roots_added": [{"label": x.label, "sha256": x.sha256} for x in change.roots.added],
        "roots_removed": [{"label": x.label, "sha256": x.sha256} for x in change.roots.removed],
        "sectors": [w.offset for w in change.writes],
        "bytes": len(change.writes) * 4096,
        "power_safe": change.power_safe,
        "order": change.order,
        "kept_files": [f.path for f in change.files],
        "bytes_read": change.bytes_read,
    }
