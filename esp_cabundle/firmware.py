"""The CA each firmware release really uses, connection by connection.

The same ``ca.pem`` can fail on one unit and work on the next when their firmware
differs: mDash 1.2.13 reads ``/spiffs/ca.pem`` for mdash.net, mDash 1.2.16 never does
and trusts the ISRG Root X1 compiled into it. ``data/firmware/<name>.yaml`` records, per
release, what each connection trusts:

- ``file``: a CA file the firmware reads (``default`` names what the file holds until
  someone replaces it: written at first boot, or shipped in the file-system image);
- ``builtin``: a CA compiled in; no file is read (``ignores`` names the file older
  releases read);
- ``bundle``: ESP-IDF's certificate bundle (its default, unless the project adds its own).

The CA sets themselves (``data/firmware/cas.yaml``, ``<set>.sha256``, ``roots.pem``) are
the firmware's own certificates, each with where it was taken from.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Literal

from .certs import Certificate, load_certificates
from .compat import Traversable
from .errors import ConfigError, InputError
from .frozen_map import FrozenMap
from .verify import TrustSet
from .yamlnodes import Node, compose_nodes

__all__ = [
    "CaSet",
    "CaSetInfo",
    "Connection",
    "ConnectionCa",
    "Firmware",
    "Release",
    "ca_set_info",
    "firmware_names",
    "load_ca_set",
    "load_firmware",
    "parse_version",
    "version_ranges",
]

CaKind = Literal["file", "builtin", "bundle"]
Version = tuple[int, ...]


def _root() -> Traversable:
    return resources.files("esp_cabundle") / "data" / "firmware"


# ---------------------------------------------------------------------------------------
# Versions

_VERSION_RE = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$")


def parse_version(text: str) -> Version:
    """``1.2.13``, ``v5.4``, ``5.4.2`` -> (major, minor, patch); missing parts are 0."""
    m = _VERSION_RE.match(text.strip())
    if not m:
        raise InputError(
            f"'{text}' is not a version", hint="write MAJOR.MINOR[.PATCH], e.g. 1.2.13 or 5.4"
        )
    return tuple(int(g or 0) for g in m.groups())


def version_ranges(spec: str) -> tuple[tuple[Version, Version], ...]:
    """``"1.2.12..1.2.14"`` or ``"5.4"`` (or several, comma-separated) -> inclusive ranges."""
    out = []
    for part in spec.split(","):
        lo, sep, hi = part.strip().partition("..")
        out.append((parse_version(lo), parse_version(hi if sep else lo)))
    return tuple(out)


def _in_ranges(v: Version, ranges: tuple[tuple[Version, Version], ...]) -> bool:
    return any(lo <= v <= hi for lo, hi in ranges)


# ---------------------------------------------------------------------------------------
# CA sets


@dataclass(frozen=True, slots=True)
class CaSetInfo:
    """What a firmware CA set is and where it was taken from (no certificates parsed)."""

    name: str
    title: str
    holds: str
    provenance: str


@dataclass(frozen=True, slots=True)
class CaSet:
    """Certificates firmware carries, in its own order, and where they were taken from."""

    info: CaSetInfo
    certificates: tuple[Certificate, ...] = field(repr=False)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def title(self) -> str:
        return self.info.title

    @property
    def provenance(self) -> str:
        return self.info.provenance

    def trust_set(self, *, key_only: bool = False) -> TrustSet:
        """The roots as a unit holds them: full certificates (a CA file, ``s_pem``), or
        ``key_only`` names and keys sorted by subject as ``gen_crt_bundle.py`` packs an
        ESP-IDF bundle (no dates: an expired root still anchors)."""
        source = f"{self.title} (firmware CA set {self.name})"
        if key_only:
            entries = sorted(self.certificates, key=lambda c: c.subject_der)
            return TrustSet.from_key_entries(entries, source=source)
        return TrustSet.from_certificates(self.certificates, source=source)


@lru_cache(maxsize=1)
def _pool() -> Mapping[str, str]:
    """roots.pem as {sha256: PEM block}; certificates are parsed only when a set needs
    them."""
    text = (_root() / "roots.pem").read_text(encoding="utf-8")
    blocks = re.findall(
        r"-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----", text
    )
    out = {}
    for b in blocks:
        der = base64.b64decode("".join(b.splitlines()[1:-1]))
        out[hashlib.sha256(der).hexdigest()] = b + "\n"
    return MappingProxyType(out)


@lru_cache(maxsize=1)
def _ca_meta() -> Mapping[str, Node]:
    text = (_root() / "cas.yaml").read_text(encoding="utf-8")
    return MappingProxyType(compose_nodes(text, "firmware/cas.yaml").as_mapping())


@lru_cache(maxsize=64)
def ca_set_info(name: str) -> CaSetInfo:
    """A shipped CA set's description, without reading its certificates."""
    meta = _ca_meta()
    if name not in meta:
        raise InputError(f"unknown firmware CA set '{name}'", hint=f"sets: {', '.join(meta)}")
    m = meta[name].as_mapping(("title", "holds", "provenance"))
    return CaSetInfo(
        name,
        m["title"].as_str().strip(),
        m["holds"].as_str().strip(),
        m["provenance"].as_str().strip(),
    )


@lru_cache(maxsize=32)
def load_ca_set(name: str) -> CaSet:
    """A shipped CA set by name (``mdash-s_pem-isrg-root-x1``, ``esp-idf-v5.4-full``)."""
    info = ca_set_info(name)
    pool = _pool()
    certs: list[Certificate] = []
    listing = (_root() / f"{name}.sha256").read_text(encoding="utf-8")
    for n, line in enumerate(listing.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest = line.split()[0]
        if digest not in pool:
            raise ConfigError(f"{digest[:16]}… is not in roots.pem", path=f"{name}.sha256", line=n)
        certs.extend(load_certificates(pool[digest].encode(), source=f"{name}.sha256:{n}"))
    return CaSet(info, tuple(certs))


# ---------------------------------------------------------------------------------------
# Firmware releases


@dataclass(frozen=True, slots=True)
class Connection:
    """A server the firmware connects to; ``server`` names its roadmap kind
    (``letsencrypt/rsa-dst-preferred``) when known."""

    name: str
    host: str | None = None
    server: str | None = None
    about: str | None = None  # what a message calls it ("default" says nothing to a user)

    @property
    def label(self) -> str:
        """The connection as messages name it: ``mdash.net``, or what ``about`` says."""
        return self.about or self.name


@dataclass(frozen=True, slots=True)
class ConnectionCa:
    """What one connection of one release trusts, and how it gets it."""

    kind: CaKind
    ca_set: str
    path: str | None = None  # the file read (file), or the file no longer read (builtin)
    hostname: bool | None = None  # whether the client sets the server name to check
    how: str = ""

    def reads(self, fs_path: str) -> bool:
        """Whether the connection trusts the file at ``fs_path`` of the unit's file system.
        Firmware names it through its mount point (mDash's ``/spiffs/ca.pem`` is
        ``/ca.pem`` on the partition); Mongoose OS mounts its file system at ``/``."""
        if self.kind != "file" or self.path is None:
            return False
        inner = "/" + fs_path.lstrip("/")
        mount = self.path.removesuffix(inner) if self.path.endswith(inner) else None
        return mount is not None and (mount == "" or re.fullmatch(r"/[^/]+", mount) is not None)

    def describe(self, ca: CaSetInfo) -> str:
        if self.kind == "file":
            return f"the file {self.path}; until replaced it holds {ca.title} ({ca.holds})"
        if self.kind == "builtin":
            not_read = f"; {self.path} is not read" if self.path else ""
            return f"a built-in {ca.title} ({ca.holds}){not_read}"
        return f"{ca.title}, unless the project configures its own bundle"


@dataclass(frozen=True, slots=True)
class Release:
    version: str
    covers: tuple[tuple[Version, Version], ...]
    trusts: Mapping[str, ConnectionCa]
    date: datetime | None = None
    source: str = ""
    output: Mapping[str, str | int | bool] = field(default_factory=FrozenMap)

    def __post_init__(self) -> None:
        # Frozen copies that pickle and hash, as the Board holding this release must.
        object.__setattr__(self, "trusts", FrozenMap(self.trusts))
        object.__setattr__(self, "output", FrozenMap(self.output))

    def matches(self, version: Version) -> bool:
        return _in_ranges(version, self.covers)


@dataclass(frozen=True, slots=True)
class Firmware:
    name: str
    title: str
    connections: tuple[Connection, ...]
    releases: tuple[Release, ...]

    def release(self, version: str) -> Release:
        """The release a version belongs to; InputError listing the known ones."""
        v = parse_version(version)
        for r in self.releases:
            if r.matches(v):
                return r
        raise InputError(
            f"no {self.title} release {version} is known",
            hint=f"known: {', '.join(self.version_labels())}",
        )

    def version_labels(self) -> tuple[str, ...]:
        return tuple(", ".join(_range_text(lo, hi) for lo, hi in r.covers) for r in self.releases)


def _range_text(lo: Version, hi: Version) -> str:
    a, b = ".".join(map(str, lo)), ".".join(map(str, hi))
    return a if lo == hi else f"{a}..{b}"


def firmware_names() -> tuple[str, ...]:
    return tuple(
        sorted(
            p.name[:-5]
            for p in _root().iterdir()
            if p.name.endswith(".yaml") and p.name != "cas.yaml"
        )
    )


@lru_cache(maxsize=16)
def load_firmware(name: str) -> Firmware:
    names = firmware_names()
    if name not in names:
        raise InputError(f"unknown firmware '{name}'", hint=f"firmware: {', '.join(names)}")
    where = f"firmware/{name}.yaml"
    text = (_root() / f"{name}.yaml").read_text(encoding="utf-8")
    return parse_firmware(text, where=where)


def parse_firmware(text: str, *, where: str) -> Firmware:
    """Validate a firmware description; every error names the file, line and key."""
    top = compose_nodes(text, where, what="firmware file").as_mapping(
        ("name", "title", "connections", "releases")
    )
    for key in ("name", "title", "connections", "releases"):
        if key not in top:
            raise ConfigError(f"missing required key '{key}'", path=where, line=1)
    connections = []
    for n in top["connections"].as_list():
        m = n.as_mapping(("name", "host", "server", "about"))
        if "name" not in m:
            raise n.error("missing 'name'")
        connections.append(
            Connection(
                m["name"].as_str(),
                m["host"].as_str() if "host" in m else None,
                m["server"].as_str() if "server" in m else None,
                m["about"].as_str() if "about" in m else None,
            )
        )
    names = tuple(c.name for c in connections)
    releases = [_parse_release(n, names) for n in top["releases"].as_list()]
    if not releases:
        raise top["releases"].error("list at least one release")
    return Firmware(
        top["name"].as_str(), top["title"].as_str(), tuple(connections), tuple(releases)
    )


_RELEASE_KEYS = ("version", "covers", "date", "source", "output", "trusts")
_CA_KEYS = ("file", "default", "builtin", "bundle", "ignores", "hostname", "how")


def _parse_release(node: Node, connections: tuple[str, ...]) -> Release:
    m = node.as_mapping(_RELEASE_KEYS)
    for key in ("version", "trusts"):
        if key not in m:
            raise node.error(f"missing '{key}'")
    version = m["version"].as_str()
    spans = m["covers"].as_list() if "covers" in m else [m["version"]]
    covers: list[tuple[Version, Version]] = []
    for n in spans:
        try:
            covers.extend(version_ranges(n.as_str()))
        except InputError as e:
            raise n.error(e.message, hint=e.hint) from e
    trusts = {}
    for conn, ca_node in m["trusts"].as_mapping().items():
        if conn not in connections:
            raise ca_node.error(
                f"no connection '{conn}'", hint=f"connections: {', '.join(connections)}"
            )
        trusts[conn] = _parse_ca(ca_node)
    missing = [c for c in connections if c not in trusts]
    if missing:
        raise m["trusts"].error(f"say what '{missing[0]}' trusts")
    output = m["output"].as_plain() if "output" in m else {}
    if not isinstance(output, dict):
        raise m["output"].error("expected a mapping of output options")
    return Release(
        version=version,
        covers=tuple(covers),
        trusts=trusts,
        date=m["date"].as_date() if "date" in m else None,
        source=m["source"].as_str().strip() if "source" in m else "",
        output={str(k): v for k, v in output.items()},
    )


def _parse_ca(node: Node) -> ConnectionCa:
    m = node.as_mapping(_CA_KEYS)
    kinds = [k for k in ("file", "builtin", "bundle") if k in m]
    if len(kinds) != 1:
        raise node.error("give exactly one of 'file', 'builtin' or 'bundle'")
    kind: CaKind = (
        "file" if kinds[0] == "file" else "builtin" if kinds[0] == "builtin" else "bundle"
    )
    path: str | None
    if kind == "file":
        if "default" not in m:
            raise node.error("a 'file' needs the CA set it holds by 'default'")
        ca_set, path = m["default"].as_str(), m["file"].as_str()
    else:
        ca_set = m[kind].as_str()
        path = m["ignores"].as_str() if "ignores" in m else None
    if ca_set not in _ca_meta():
        raise node.error(f"unknown firmware CA set '{ca_set}'", hint="sets: see cas.yaml")
    return ConnectionCa(
        kind,
        ca_set,
        path,
        m["hostname"].as_bool() if "hostname" in m else None,
        " ".join(m["how"].as_str().split()) if "how" in m else "",
    )
