"""CA roadmaps: which chain a CA's servers send, and from when until when.

A fleet that cannot be updated must trust whatever its servers send, in the past (to
date an outage: "when did my fleet break?") and in years to come. A roadmap
(``data/roadmaps/<name>.yaml``) names the chains a CA has published, built from its
real certificates without a leaf (the verdict for a chain that starts at an issuing
intermediate is the verdict for any leaf it issues), and the kinds of servers that send
them: each server kind sends one chain after another, each from one date until the next
(servers that took the CA's default chain, servers whose ACME client asked for an
alternate one). Every step cites the CA's own announcement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources

from .certs import Certificate, load_certificates
from .chains import ServerChain
from .compat import Traversable
from .dates import clamped
from .errors import ConfigError, InputError
from .text import suggest
from .yamlnodes import Node, compose_nodes

__all__ = [
    "Roadmap",
    "RoadmapServer",
    "RoadmapStep",
    "load_roadmap",
    "parse_roadmap",
    "roadmap_names",
    "roadmap_server",
]


@dataclass(frozen=True, slots=True)
class RoadmapStep:
    """Servers of one kind send ``chain`` from ``start`` until ``end`` (exclusive; None:
    no end announced)."""

    name: str
    description: str
    chain: ServerChain
    start: datetime
    end: datetime | None
    sources: tuple[str, ...] = ()

    def sent_at(self, when: datetime) -> bool:
        return self.start <= when and (self.end is None or when < self.end)


@dataclass(frozen=True, slots=True)
class RoadmapServer:
    """A kind of server (default chain, a preferred alternate) and what it sends over
    time: consecutive steps, each ending where the next starts."""

    name: str
    description: str
    steps: tuple[RoadmapStep, ...]

    def step_at(self, when: datetime) -> RoadmapStep | None:
        return next((s for s in self.steps if s.sent_at(when)), None)


@dataclass(frozen=True, slots=True)
class Roadmap:
    name: str
    title: str
    source: str
    servers: tuple[RoadmapServer, ...]
    sources: tuple[tuple[str, str], ...] = ()
    # Certificate lifetime: a server takes a new chain at its next renewal, so all have
    # switched at most this long after a step's date.
    renewal_days: int | None = None
    # When the roadmap was last checked against its sources: a server may have moved to
    # a chain announced after it, so a verdict on a later date says the data may be stale.
    reviewed: datetime | None = None

    def server(self, name: str) -> RoadmapServer:
        for s in self.servers:
            if s.name == name:
                return s
        names = ", ".join(s.name for s in self.servers)
        raise InputError(
            f"roadmap {self.name} has no server kind '{name}'", hint=f"it has: {names}"
        )

    def switched_by(self, when: datetime) -> datetime | None:
        """The date by which every server has renewed onto a chain announced for
        ``when`` (None when the roadmap does not say how long certificates last)."""
        return clamped(when, timedelta(days=self.renewal_days)) if self.renewal_days else None


def _root() -> Traversable:
    return resources.files("esp_cabundle") / "data" / "roadmaps"


def roadmap_names() -> tuple[str, ...]:
    """The roadmaps shipped with the package."""
    return tuple(sorted(p.name[:-5] for p in _root().iterdir() if p.name.endswith(".yaml")))


def load_roadmap(name: str) -> Roadmap:
    """A shipped roadmap; :class:`InputError` names the known ones."""
    names = roadmap_names()
    if name not in names:
        raise InputError(
            f"unknown roadmap '{name}'", hint=suggest(name, names, f"roadmaps: {', '.join(names)}")
        )
    text = (_root() / f"{name}.yaml").read_text(encoding="utf-8")
    return parse_roadmap(text, folder=_root() / name, source=f"roadmaps/{name}.yaml")


def roadmap_server(ref: str) -> tuple[Roadmap, RoadmapServer]:
    """``ROADMAP/SERVER`` (``letsencrypt/rsa-dst-preferred``) -> the roadmap and the kind."""
    name, sep, server = ref.partition("/")
    if not sep or not server:
        raise InputError(
            f"'{ref}' does not name a roadmap server", hint="write ROADMAP/SERVER kind"
        )
    roadmap = load_roadmap(name)
    return roadmap, roadmap.server(server)


_TOP = ("name", "title", "source", "renewal_days", "reviewed", "sources", "chains", "servers")


def parse_roadmap(text: str, *, folder: Traversable, source: str) -> Roadmap:
    """Validate a roadmap; certificates are read from ``folder``. Every error names the
    file, the line and the key."""
    top = compose_nodes(text, source, what="roadmap").as_mapping(_TOP)
    for key in ("name", "title", "chains", "servers"):
        if key not in top:
            raise ConfigError(f"missing required key '{key}'", path=source, line=1)
    name = top["name"].as_str()
    cited = (
        {k: n.as_str().strip() for k, n in top["sources"].as_mapping().items()}
        if ("sources" in top)
        else {}
    )
    chains = {
        key: _parse_chain(node, folder, f"roadmap {name}: {key}")
        for key, node in top["chains"].as_mapping().items()
    }
    servers: list[RoadmapServer] = []
    for node in top["servers"].as_list():
        server = _parse_server(node, chains, cited)
        if any(s.name == server.name for s in servers):
            raise node.error(f"server kind '{server.name}' is listed twice")
        servers.append(server)
    if not servers:
        raise top["servers"].error("list at least one server kind")
    renewal = top["renewal_days"].as_int(minimum=1) if "renewal_days" in top else None
    return Roadmap(
        name=name,
        title=top["title"].as_str().strip(),
        source=top["source"].as_str().strip() if "source" in top else "",
        servers=tuple(servers),
        sources=tuple(cited.items()),
        renewal_days=renewal,
        reviewed=top["reviewed"].as_date() if "reviewed" in top else None,
    )


def _parse_chain(node: Node, folder: Traversable, label: str) -> tuple[str, ServerChain]:
    m = node.as_mapping(("description", "certificates"))
    for key in ("description", "certificates"):
        if key not in m:
            raise node.error(f"missing '{key}'")
    certs: list[Certificate] = []
    for f in m["certificates"].as_list():
        fname = f.as_str()
        path = folder / fname
        if "/" in fname or not path.is_file():
            raise f.error(f"no certificate file '{fname}' beside the roadmap")
        certs.extend(load_certificates(path.read_bytes(), source=fname))
    if not certs:
        raise m["certificates"].error("list at least one certificate file")
    return m["description"].as_str().strip(), ServerChain(tuple(certs), label)


def _parse_server(
    node: Node, chains: dict[str, tuple[str, ServerChain]], cited: dict[str, str]
) -> RoadmapServer:
    m = node.as_mapping(("name", "description", "sends"))
    for key in ("name", "description", "sends"):
        if key not in m:
            raise node.error(f"missing '{key}'")
    steps: list[RoadmapStep] = []
    for s in m["sends"].as_list():
        sm = s.as_mapping(("chain", "from", "until", "source"))
        if "chain" not in sm or "from" not in sm:
            raise s.error("a step needs 'chain' and 'from' (and 'until' unless it is the last)")
        key = sm["chain"].as_str()
        if key not in chains:
            raise sm["chain"].error(f"unknown chain '{key}'", hint=f"chains: {', '.join(chains)}")
        start = sm["from"].as_date()
        end = sm["until"].as_date() if "until" in sm else None
        if end is not None and end <= start:
            raise sm["until"].error(f"ends {end.date()}, not after it starts ({start.date()})")
        refs = tuple(n.as_str() for n in sm["source"].as_list()) if "source" in sm else ()
        for ref in refs:
            if ref not in cited:
                raise sm["source"].error(f"'{ref}' is not one of the roadmap's sources")
        if steps:
            prev = steps[-1]
            if prev.end is None or prev.end != start:
                raise s.error(
                    f"starts {start.date()}, but the step before ends "
                    f"{prev.end.date() if prev.end else 'never'}: steps must follow each "
                    "other without gap or overlap"
                )
        description, chain = chains[key]
        steps.append(RoadmapStep(key, description, chain, start, end, refs))
    if not steps:
        raise m["sends"].error("list at least one step")
    return RoadmapServer(m["name"].as_str(), m["description"].as_str().strip(), tuple(steps))
