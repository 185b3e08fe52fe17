"""Chains the shipped CA roadmaps say servers sent, and until when.

A chain file with no ``# captured:`` line gives no date it was seen sent, so nothing in it
is taken as renewed (README). A CA's published chain without a leaf (as
``examples/chains/`` holds) that is exactly a roadmap chain servers still send is dated
by that roadmap: seen sent when it was last reviewed, if servers still sent it then (no
end, or one announced after the review: :attr:`KnownChain.seen`). One servers had
stopped sending by then is not: they moved on to another chain, and its intermediates
are not renewed. A saved chain whose certificates after the leaf are a chain servers
stopped sending is stale:
:func:`.fix_hints.fix_hint` says to refresh it, not to add roots for a chain no server
sends any more.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from .certs import Certificate
from .roadmaps import Roadmap, RoadmapServer, RoadmapStep, load_roadmap, roadmap_names

__all__ = ["KnownChain", "known_chain", "senders", "sent_after_leaf"]


@dataclass(frozen=True, slots=True)
class KnownChain:
    """A roadmap's chain: servers sent it from ``start`` until ``end`` (exclusive; None:
    no end announced when the roadmap was ``reviewed``)."""

    roadmap: str
    name: str
    start: datetime
    end: datetime | None
    reviewed: datetime | None

    def ended_by(self, when: datetime) -> bool:
        """Servers had stopped sending it by ``when``: a saved copy judged then is stale
        (its intermediates are nobody's to renew), the one rule :attr:`seen` and the
        stale hint (:func:`.fix_hints.fix_hint`) share."""
        return self.end is not None and self.end <= when

    @property
    def seen(self) -> datetime | None:
        """When the roadmap saw servers send it: its ``reviewed`` date, if they still did
        then (no end, or one announced after it), so a copy dates as one captured then;
        None when they had stopped (or the roadmap gives no review date)."""
        if self.reviewed is None or self.ended_by(self.reviewed):
            return None
        return self.reviewed


def _latest(a: KnownChain, b: KnownChain) -> KnownChain:
    """Of two roadmaps holding one chain, the one reviewed last knows best whether
    servers still send it (no date is oldest; a tie goes to the name sorted first), so
    the answer does not hang on the order roadmaps are read in."""

    def key(k: KnownChain) -> tuple[datetime, str]:
        return (k.reviewed or datetime.min.replace(tzinfo=timezone.utc), k.roadmap)

    ka, kb = key(a), key(b)
    if ka[0] != kb[0]:
        return a if ka[0] > kb[0] else b
    return a if ka[1] <= kb[1] else b


@functools.cache
def _index() -> dict[tuple[bytes, ...], KnownChain]:
    """Every shipped roadmap's chains by their DER certificates, read once: within one
    roadmap, the span over every server kind that sends one (the earliest start, the
    latest end); across roadmaps, the one reviewed last (:func:`_latest`)."""
    out: dict[tuple[bytes, ...], KnownChain] = {}
    for roadmap in _roadmaps():
        own: dict[tuple[bytes, ...], KnownChain] = {}
        for key, _, step in _steps(roadmap):
            old = own.get(key)
            start, end = step.start, step.end
            if old is not None:
                start = min(start, old.start)
                end = None if old.end is None or end is None else max(end, old.end)
            own[key] = KnownChain(roadmap.name, step.name, start, end, roadmap.reviewed)
        for key, known in own.items():
            out[key] = known if key not in out else _latest(out[key], known)
    return out


def _roadmaps() -> Iterator[Roadmap]:
    return (load_roadmap(name) for name in roadmap_names())


def _steps(roadmap: Roadmap) -> Iterator[tuple[tuple[bytes, ...], RoadmapServer, RoadmapStep]]:
    """Each step of each server kind of ``roadmap``, keyed by its chain's DER: how both
    indexes here look a chain up."""
    for server in roadmap.servers:
        for step in server.steps:
            yield tuple(c.der for c in step.chain.certificates), server, step


def _after_leaf(certs: Sequence[Certificate]) -> tuple[bytes, ...]:
    """The DER of what a server sends after its leaf (the whole chain if it has none)."""
    rest = certs[1:] if certs and not certs[0].is_ca else certs
    return tuple(c.der for c in rest)


def known_chain(certs: Sequence[Certificate]) -> KnownChain | None:
    """The roadmap chain ``certs`` is exactly (no leaf: a CA's published chain)."""
    if not certs or not certs[0].is_ca:
        return None
    return _index().get(tuple(c.der for c in certs))


def sent_after_leaf(certs: Sequence[Certificate]) -> KnownChain | None:
    """The roadmap chain a server sends after its leaf, as ``certs`` holds it."""
    rest = _after_leaf(certs)
    return _index().get(rest) if rest else None


@functools.cache
def _senders() -> dict[tuple[bytes, ...], tuple[tuple[str, RoadmapServer, RoadmapStep], ...]]:
    """Every shipped roadmap's server kinds by the chains they send (each step)."""
    out: dict[tuple[bytes, ...], list[tuple[str, RoadmapServer, RoadmapStep]]] = {}
    for roadmap in _roadmaps():
        for key, server, step in _steps(roadmap):
            out.setdefault(key, []).append((roadmap.name, server, step))
    return {k: tuple(v) for k, v in out.items()}


def senders(certs: Sequence[Certificate]) -> tuple[tuple[str, RoadmapServer, RoadmapStep], ...]:
    """The roadmap server kinds (roadmap name, kind, its step) that send ``certs`` after
    the leaf: the history a saved chain's server may have had before it sent that chain."""
    rest = _after_leaf(certs)
    return _senders().get(rest, ()) if rest else ()


def roadmap_certificates() -> tuple[Certificate, ...]:
    """Every certificate the shipped roadmaps' chains hold, each once: the cross-signs
    among them say which root a CA moves to (:mod:`.fix_hints`)."""
    seen: dict[bytes, Certificate] = {}
    for roadmap in _roadmaps():
        for server in roadmap.servers:
            for step in server.steps:
                for c in step.chain.certificates:
                    seen.setdefault(c.der, c)
    return tuple(seen.values())
