"""``esp-cabundle build`` as a library call: resolve, judge, render, then write atomically.

:func:`build_bundle` does everything in memory and raises before anything is written;
:func:`write_build` writes every output and the lock file, all or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .bundle import (
    Bundle,
    BundleSpec,
    Lock,
    Violation,
    check_policies,
    resolve_bundle,
)
from .catalog import Catalog
from .config import OutputSpec
from .dates import now
from .errors import InputError, PolicyError
from .fileio import write_all_atomic
from .formats import FORMATS, render
from .formats.pem import render_pem

__all__ = ["BuildResult", "build_bundle", "write_build"]

LOCK_NAME = "cabundle.lock"


@dataclass(frozen=True, slots=True)
class BuildResult:
    """A judged bundle and the exact bytes of every output, not yet written."""

    bundle: Bundle
    notes: tuple[str, ...]
    violations: tuple[Violation, ...]
    outputs: tuple[tuple[OutputSpec, bytes], ...]
    lock: Lock
    lock_path: Path | None
    pem_size: int
    extra: dict[str, object] = field(default_factory=dict)


def build_bundle(
    spec: BundleSpec,
    outputs: tuple[OutputSpec, ...],
    *,
    catalog: Catalog | None = None,
    at: datetime | None = None,
    lock_path: Path | None = None,
    locked: bool = False,
) -> BuildResult:
    """Resolve ``spec``, check policies and the lock, and render every output in memory.

    Raises :class:`PolicyError` (a violation that was not allowed) or
    :class:`LockMismatchError` (``locked`` and the roots differ) before any byte is written.
    """
    at = at or now()
    catalog = catalog or Catalog.load()
    resolution = resolve_bundle(spec, catalog)
    bundle = resolution.bundle
    pem = render_pem(bundle)
    violations = check_policies(bundle, spec.policy, at=at, rendered_size=len(pem))
    blocking = [v for v in violations if not v.allowed]
    if blocking:
        raise PolicyError(
            f"{len(blocking)} polic{'y' if len(blocking) == 1 else 'ies'} violated; "
            "nothing written",
            violations=tuple(v.message for v in blocking),
            hint="fix the selection, or relax a rule with --allow "
            + ",".join(sorted({v.policy for v in blocking})),
        )
    lock = Lock.from_bundle(bundle)
    if locked:
        if lock_path is None or not lock_path.is_file():
            raise InputError(
                f"--locked needs a lock file, and {lock_path or LOCK_NAME} does not exist",
                hint="run 'esp-cabundle build' once without --locked and commit cabundle.lock",
            )
        from .fileio import read_input
        from .limits import MAX_LOCK_INPUT

        data = read_input(lock_path, what="lock file", max_bytes=MAX_LOCK_INPUT)
        Lock.from_bytes(data, path=str(lock_path)).check(bundle, path=str(lock_path))
    rendered: list[tuple[OutputSpec, bytes]] = []
    for out in outputs:
        if out.format not in FORMATS:
            raise InputError(f"unknown output format '{out.format}'")
        data = pem if out.format == "pem" else render(out.format, bundle, out.options)
        rendered.append((out, data))
    _check_distinct_paths(rendered)
    return BuildResult(
        bundle=bundle,
        notes=resolution.notes,
        violations=tuple(violations),
        outputs=tuple(rendered),
        lock=lock,
        lock_path=None if locked else lock_path,
        pem_size=len(pem),
    )


def _check_distinct_paths(rendered: list[tuple[OutputSpec, bytes]]) -> None:
    seen: dict[Path, str] = {}
    for out, _ in rendered:
        key = out.path.resolve()
        if key in seen:
            raise InputError(
                f"outputs '{seen[key]}' and '{out.format}' would both write {out.path}",
                hint="give each output its own path",
            )
        seen[key] = out.format


def write_build(result: BuildResult) -> list[Path]:
    """Write every output (and the lock file) atomically; returns the paths written."""
    items = [(out.path, data) for out, data in result.outputs]
    if result.lock_path is not None:
        items.append((result.lock_path, result.lock.to_bytes()))
    write_all_atomic(items)
    return [p for p, _ in items]
