"""CA roadmaps: the chains a CA has announced, checked today as "what-if" chains.

A fleet that cannot be updated must already trust whatever its servers will send in
years. Each roadmap (``data/roadmaps/<name>.yaml``) lists chains built from the CA's real
published certificates, without a leaf: the verdict for a chain that starts at an
issuing intermediate is the verdict for any leaf it issues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import TYPE_CHECKING

from .certs import Certificate, load_certificates
from .chains import ServerChain
from .dates import as_datetime
from .errors import InputError

if TYPE_CHECKING:
    import sys

    # importlib.abc.Traversable is deprecated since 3.12 and gone in 3.14.
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

__all__ = ["Roadmap", "RoadmapChain", "load_roadmap", "roadmap_names"]


@dataclass(frozen=True, slots=True)
class RoadmapChain:
    """One announced chain: what servers will send after the leaf, and from when."""

    name: str
    description: str
    chain: ServerChain
    effective_from: datetime | None = None


@dataclass(frozen=True, slots=True)
class Roadmap:
    name: str
    title: str
    source: str
    chains: tuple[RoadmapChain, ...]


def _root() -> Traversable:
    return resources.files("esp_cabundle") / "data" / "roadmaps"


def roadmap_names() -> tuple[str, ...]:
    """The roadmaps shipped with the package."""
    return tuple(sorted(p.name[:-5] for p in _root().iterdir() if p.name.endswith(".yaml")))


def load_roadmap(name: str) -> Roadmap:
    """Read a shipped roadmap; :class:`InputError` names the known ones."""
    import yaml

    names = roadmap_names()
    if name not in names:
        raise InputError(f"unknown roadmap '{name}'", hint=f"roadmaps: {', '.join(names)}")
    doc = yaml.safe_load((_root() / f"{name}.yaml").read_text(encoding="utf-8"))
    folder = _root() / name
    chains = []
    for entry in doc["chains"]:
        certs: list[Certificate] = []
        for fname in entry["certificates"]:
            certs.extend(load_certificates((folder / fname).read_bytes(), source=fname))
        start = entry.get("from")
        effective = as_datetime(start) if isinstance(start, date) else None
        chain = ServerChain(tuple(certs), f"roadmap {name}: {entry['name']}")
        chains.append(RoadmapChain(entry["name"], entry["description"], chain, effective))
    return Roadmap(doc["name"], doc["title"], doc["source"], tuple(chains))
