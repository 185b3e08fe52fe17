"""The root catalog: the Mozilla store (via certifi), extra roots shipped with the package,
friendly aliases pinned to SHA-256 fingerprints, and curated presets.

An alias never resolves by name: names are not unique (four Mozilla roots are called
"GlobalSign") and a re-issued root keeps its name. Each alias is pinned to one
fingerprint; if certifi drops that root, the package's own copy (with its provenance)
is used and its status says so.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ._patterns import lazy_re
from .certificate import Certificate, certificate_once
from .errors import CatalogError
from .known_roots import data_table
from .spelling import PYTHON, Spelling
from .text import suggest

__all__ = [
    "ALIASES",
    "DEFAULT_PRESET",
    "PRESETS",
    "Catalog",
    "CatalogEntry",
    "Preset",
    "normalize_fingerprint",
]

# alias -> SHA-256 of the DER. Fingerprints checked against certifi 2026.10.19 and the
# vendors' own files (letsencrypt.org, mongoose-os-libs/ca-bundle).
ALIASES: dict[str, str] = {
    # Let's Encrypt / ISRG
    "isrg-root-x1": "96bcec06264976f37460779acf28c5a7cfe8a3c0aae11a8ffcee05c0bddf08c6",
    "isrg-root-x2": "69729b8e15a86efc177a57afb7171dfc64add28c2fca8cf1507e34453ccb1470",
    "isrg-root-yr": "e57b7e6f150c419102e8d5c055729ff967b9d1a829bf00cec89ca604ebf4a86f",
    "isrg-root-ye": "e14ffcad5b0025731006caa43a121a22d8e9700f4fb9cf852f02a708aa5d5666",
    "dst-root-ca-x3": "0687260331a72403d909f105e69bcf0d32e1bd2493ffc6d9206d11bcd6770739",
    # Amazon (AWS IoT ATS endpoints)
    "amazon-root-ca-1": "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
    "amazon-root-ca-2": "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
    "amazon-root-ca-3": "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
    "amazon-root-ca-4": "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
    "starfield-services-root-g2": "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
    "starfield-root-g2": "2ce1cb0bf9d2f9e102993fbe215152c3b2dd0cabde1c68e5319b839154dbb7f5",
    "starfield-class-2": "1465fa205397b876faa6f0a9958e5590e40fcc7faa4fb7c2c8677521fb5fb658",
    "go-daddy-root-g2": "45140b3247eb9cc8c5b4f0d7b53091f73292089e6e5a63e2749dd3aca9198eda",
    "go-daddy-class-2": "c3846bf24b9e93ca64274c0ec67c1ecc5e024ffcacd2d74019350e81fe546ae4",
    # Google Trust Services
    "gts-root-r1": "d947432abde7b7fa90fc2e6b59101b1280e0e1c7e4e40fa3c6887fff57a7f4cf",
    "gts-root-r3": "34d8a73ee208d9bcdb0d956520934b4e40e69482596e8b6f73c8426b010a6f48",
    "gts-root-r4": "349dfa4058c5e263123b398ae795573c4e1313c83fe68f93556cd5e8031b3c7d",
    "globalsign-ecc-root-r4": "b085d70b964f191a73e4af0d54ae7a0e07aafdaf9b71dd0862138ab7325a24a2",
    # GlobalSign
    "globalsign-root-ca": "ebd41040e4bb3ec742c9e381d31ef2a41a48b6685c96e7cef3c1df6cd4331c99",
    "globalsign-root-r3": "cbb522d7b7f127ad6a0113865bdf1cd4102e7d0759af635a7cf4720dc963c53b",
    "globalsign-root-r6": "2cabeafe37d06ca22aba7391c0033d25982952c453647349763a3ab5ad6ccf69",
    "globalsign-ecc-root-r5": "179fbc148a3dd00fd24ea13458cc43bfa7f59c8182d783a513f6ebec100c8924",
    "globalsign-root-r46": "4fa3126d8d3a11d1c4855a4f807cbad6cf919d3a5a88b03bea2c6372d93c40c9",
    "globalsign-root-e46": "cbb9c44d84b8043e1050ea31a69f514955d7bfd2e2c6b49301019ad61d9f5058",
    # DigiCert and Microsoft (Azure IoT)
    "digicert-global-root-ca": "4348a0e9444c78cb265e058d5e8944b4d84f9662bd26db257f8934a443c70161",
    "digicert-high-assurance-ev-root-ca": (
        "7431e5f4c3c1ce4690774f0b61e05440883ba9a01ed00ba6abd7806ed3b118cf"
    ),
    "digicert-global-root-g2": "cb3ccbb76031e5e0138f8dd39a23f9de47ffc35e43c1144cea27d46a5ab1cb5f",
    "digicert-global-root-g3": "31ad6648f8104138c738f39ea4320133393e3a18cc02296ef97c2ac9ef6731d0",
    "digicert-trusted-root-g4": "552f7bdcf1a7af9e6ce672017f4f12abf77240c78e761ac203d1d9d20ac89988",
    "digicert-tls-rsa4096-root-g5": "371a00dc0533b3721a7eeb40e8419e70799d2b0a0f2c1d80693165f7cec4ad75",
    "digicert-tls-ecc-p384-root-g5": (
        "018e13f0772532cf809bd1b17281867283fc48c6e13be9c69812854a490c1b05"
    ),
    "baltimore-cybertrust-root": "16af57a9f676b0ab126095aa5ebadef22ab31119d644ac95cd4b93dbf3f26aeb",
    "microsoft-rsa-root-2017": "c741f70f4b2a8d88bf2e71c14122ef53ef10eba0cfa5e64cfa20f418853073e0",
    "microsoft-ecc-root-2017": "358df39d764af9e1b766e9c972df352ee15cfac227af6ad1d70e8e4a6edcba02",
    # Sectigo / Comodo
    "usertrust-rsa": "e793c9b02fd8aa13e21c31228accb08119643b749c898964b1746d46c3d4cbd2",
    "usertrust-ecc": "4ff460d54b9c86dabfbcfc5712e0400d2bed3fbc4d4fbdaa86e06adcd2a9ad7a",
    "comodo-rsa": "52f0e1c4e58ec629291b60317f074671b85d7ea80d5b07273463534b32b40234",
    "comodo-ecc": "1793927a0614549789adce2f8f34f7f0b66d0f3ae3a3b84d21ec15dbba4fadc7",
    "sectigo-r46": "7bb647a62aeeac88bf257aa522d01ffea395e0ab45c73f93f65654ec38f25a06",
    "sectigo-e46": "c90f26f0fb1b4018b22227519b5ca2b53e2ca5b3be5cf18efe1bef47380c5383",
    # IdenTrust
    "identrust-commercial-root-ca-1": (
        "5d56499be4d2e08bcfcad08a3e38723d50503bde706948e42f55603019e528ae"
    ),
}

_LE_GEN_Y = "letsencrypt.org/certificates, Gen Y hierarchy (ceremony 2025-09)"
_MOS_BUNDLE = "mongoose-os-libs/ca-bundle fs/ca.pem at 64ed37b"

# Provenance and status of the roots shipped in data/extra-roots.pem, keyed by SHA-256.
EXTRA_ROOTS: dict[str, tuple[str, str]] = {
    ALIASES["isrg-root-yr"]: (
        _LE_GEN_Y,
        "not in Mozilla yet: submitted to root programs; default LE chains reach it via X1",
    ),
    ALIASES["isrg-root-ye"]: (
        _LE_GEN_Y,
        "not in Mozilla yet: submitted to root programs; default LE chains reach it via X2",
    ),
    ALIASES["dst-root-ca-x3"]: (
        "IdenTrust, as published by letsencrypt.org; the copy mDash 1.2.13 writes to ca.pem",
        "legacy: kept to analyse fleets that still hold it",
    ),
    ALIASES["baltimore-cybertrust-root"]: (
        _MOS_BUNDLE,
        "legacy: Azure moved to DigiCert Global Root G2",
    ),
    ALIASES["globalsign-root-ca"]: (
        _MOS_BUNDLE,
        "removed from Mozilla 2025-04; GTS Root R1-R4 are still served cross-signed by it",
    ),
    ALIASES["digicert-global-root-ca"]: (
        _MOS_BUNDLE,
        "removed from Mozilla 2026-04; many servers still chain to it until 2031",
    ),
    ALIASES["digicert-high-assurance-ev-root-ca"]: (
        _MOS_BUNDLE,
        "removed from Mozilla 2026-04; some servers still chain to it",
    ),
    ALIASES["go-daddy-class-2"]: (
        _MOS_BUNDLE,
        "removed from Mozilla 2025-04; cross-signs Go Daddy Root G2",
    ),
    ALIASES["starfield-class-2"]: (
        _MOS_BUNDLE,
        "removed from Mozilla 2025-04; cross-signs Starfield Services G2 (old AWS ATS chains)",
    ),
}


# Never compared nor printed: no __eq__/__repr__ to generate at start-up (~0.15 ms).
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Preset:
    """A named, reasoned selection of roots."""

    name: str
    reason: str
    aliases: tuple[str, ...]


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "default",
            "Let's Encrypt (X1, X2, Gen Y), Google, Amazon, DigiCert and Sectigo roots valid "
            "until at least 2035-06-04 (ISRG Root X1, the first to expire): most public "
            "servers, and a second CA if one switches chains",
            (
                "isrg-root-x1",
                "isrg-root-x2",
                "isrg-root-yr",
                "isrg-root-ye",
                "gts-root-r1",
                "amazon-root-ca-1",
                "digicert-global-root-g2",
                "usertrust-rsa",
            ),
        ),
        Preset(
            "letsencrypt",
            "every Let's Encrypt root: X1 (RSA, 2035), X2 (ECDSA, 2040) and the Gen Y roots "
            "YR/YE (2045) that chains will end at once the X1/X2 cross-signs expire in 2032",
            ("isrg-root-x1", "isrg-root-x2", "isrg-root-yr", "isrg-root-ye"),
        ),
        Preset(
            "mdash",
            "mdash.net serves Let's Encrypt chains: X1 for today's RSA chains, X2 for ECDSA, "
            "YR/YE for when servers stop sending the cross-signs (the 2024 outage in reverse)",
            ("isrg-root-x1", "isrg-root-x2", "isrg-root-yr", "isrg-root-ye"),
        ),
        Preset(
            "aws-iot",
            "AWS IoT Core ATS endpoints: Amazon Root CA 1-4 and Starfield Services Root G2, "
            "which cross-signs them",
            (
                "amazon-root-ca-1",
                "amazon-root-ca-2",
                "amazon-root-ca-3",
                "amazon-root-ca-4",
                "starfield-services-root-g2",
            ),
        ),
        Preset(
            "azure-iot",
            "Azure IoT Hub/DPS after the Baltimore retirement: DigiCert Global Root G2 and "
            "Microsoft's 2017 roots (Microsoft asks devices to trust at least two)",
            ("digicert-global-root-g2", "microsoft-rsa-root-2017", "microsoft-ecc-root-2017"),
        ),
        Preset(
            "longlife",
            "independent CAs in RSA and ECDSA, most valid into the 2040s, so one CA changing "
            "its chain or root does not strand a fleet that cannot be updated",
            (
                "isrg-root-x1",
                "isrg-root-x2",
                "isrg-root-yr",
                "isrg-root-ye",
                "gts-root-r1",
                "gts-root-r4",
                "amazon-root-ca-1",
                "amazon-root-ca-3",
                "digicert-global-root-g2",
                "digicert-global-root-g3",
                "usertrust-rsa",
                "usertrust-ecc",
                "globalsign-root-r46",
                "microsoft-rsa-root-2017",
            ),
        ),
    )
}

DEFAULT_PRESET = "default"

_HEX64 = lazy_re(r"^[0-9a-f]{64}$")
_PREFIX = lazy_re(r"^[0-9a-f]{8,63}$")  # the start of a fingerprint, 8 digits or more


def normalize_fingerprint(text: str) -> str | None:
    """``sha256:AA:BB...`` / ``aabb...`` -> 64 lower-case hex digits, or None."""
    t = text.strip().lower()
    if t.startswith("sha256:"):
        t = t[7:]
    t = t.replace(":", "").replace(" ", "")
    return t if _HEX64().match(t) else None


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A root the catalog can hand out, with where it came from and its standing."""

    sha256: str
    label: str
    source: str  # "mozilla" or "package"
    provenance: str
    status: str
    aliases: tuple[str, ...]
    der: bytes = field(repr=False)
    # The package data file a "package" root was read from: a build lists it in its
    # dependency file, so upgrading esp-cabundle builds again.
    data_file: Path | None = None

    @property
    def alias(self) -> str | None:
        return self.aliases[0] if self.aliases else None


_DATA = Path(__file__).resolve().parent / "data"
# Facts of the aliased roots, read once with cryptography and kept here so building from
# a preset needs no X.509 parsing (tests/test_catalog.py proves the file matches the DER).
ROOT_METADATA_FILE = _DATA / "root-metadata.json"


def entry_certificate(entry: CatalogEntry) -> Certificate:
    """An entry's certificate, built once: from the shipped metadata when the root has
    it, else parsed (catalog loads only hash the DER up front)."""

    def make() -> Certificate:
        meta = data_table(ROOT_METADATA_FILE).get(entry.sha256)
        if meta:
            return Certificate.from_metadata(entry.der, meta)
        return Certificate.from_der(entry.der)

    return certificate_once(entry.sha256, make)


def render_root_metadata(catalog: Catalog) -> str:
    """The metadata file's content for every aliased root (regenerate when aliases change:
    ``python -c "from esp_cabundle.catalog import write_root_metadata as w; w()"``)."""
    doc = {}
    for fp in sorted(set(ALIASES.values())):
        entry = catalog.resolve(fp)
        meta = Certificate.parse_der(entry.der).metadata()
        meta["catalog_label"] = entry.label
        meta["der"] = base64.b64encode(entry.der).decode("ascii")
        doc[fp] = meta
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def write_root_metadata() -> None:
    ROOT_METADATA_FILE.write_text(render_root_metadata(Catalog.load()), encoding="utf-8")


_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"
_LABEL = '# Label: "'


_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))")


def _unescape_label(label: str) -> str:
    """certifi writes a label's characters outside ASCII as Python escapes ("F\\u0151tan
    \\xfas\\xedtv\\xe1ny"): shown as the name it is (Főtanúsítvány)."""
    if "\\" not in label:
        return label

    def one(m: re.Match[str]) -> str:
        code = int(next(g for g in m.groups() if g), 16)
        return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else m.group(0)

    return _ESCAPE.sub(one, label)


def _pem_blocks(text: str) -> Iterator[tuple[str | None, bytes]]:
    """(label comment, DER) for each CERTIFICATE block; cheap, no X.509 parsing.

    Reads the package's own stores (certifi's cacert.pem, extra-roots.pem), never user
    input, so blocks are found by string search rather than a loop over every line."""
    pos = 0
    while (begin := text.find(_BEGIN, pos)) >= 0:
        end = text.find(_END, begin)
        if end < 0:
            return
        head = text[pos:begin]  # since the last block: its last "# Label" line names it
        i = head.rfind("\n" + _LABEL)
        start = i + 1 if i >= 0 else (0 if head.startswith(_LABEL) else -1)
        label = None
        if start >= 0:
            line = head[start + len(_LABEL) :].split("\n", 1)[0]
            label = _unescape_label(line.rpartition('"')[0]) or None
        yield label, base64.b64decode(text[begin + len(_BEGIN) : end])
        pos = end + len(_END)


def _certifi_store() -> tuple[Path, str]:
    """certifi's cacert.pem and version.

    Found beside certifi's package without importing it: ``import certifi`` pulls in
    importlib.resources, a tenth of build's start-up budget. Falls back to the import
    when the package is not laid out as plain files (a zip, a frozen app).
    """
    spec = importlib.util.find_spec("certifi")
    if spec is not None and spec.origin:
        pkg = Path(spec.origin).parent
        pem = pkg / "cacert.pem"
        m = re.search(r'^__version__ = "([^"]+)"', _read_text(Path(spec.origin)), re.M)
        if os.path.isfile(pem) and m:
            return pem, m.group(1)
    import certifi

    return Path(certifi.where()), str(getattr(certifi, "__version__", "unknown"))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


class Catalog:
    """All roots the tool knows, keyed by fingerprint.

    Loading hashes DER blocks without parsing them, so building a bundle from a preset
    parses only the handful of roots it uses.
    """

    def __init__(
        self,
        entries: Iterable[CatalogEntry],
        *,
        mozilla_version: str,
        store: Path | None = None,
    ) -> None:
        self._entries: dict[str, CatalogEntry] = {}
        for e in entries:
            self._entries.setdefault(e.sha256, e)
        self.mozilla_version = mozilla_version
        self.store = store  # the Mozilla store file read (certifi's cacert.pem), if any

    @classmethod
    def load(
        cls, *, mozilla_pem: Path | None = None, mozilla_version: str | None = None
    ) -> Catalog:
        """The catalog from the installed certifi (or ``mozilla_pem``) plus the package's
        roots: the extra roots, and a copy of every aliased root, used when this certifi
        no longer has it (Mozilla removes roots servers still chain to)."""
        reverse: dict[str, list[str]] = {}
        for alias, fp in ALIASES.items():
            reverse.setdefault(fp, []).append(alias)
        if mozilla_pem is None:
            pem_path, version = _certifi_store()
        else:
            pem_path, version = mozilla_pem, mozilla_version or "unknown"
        entries: list[CatalogEntry] = []
        with open(pem_path, encoding="utf-8") as f:
            mozilla_text = f.read()
        for label, der in _pem_blocks(mozilla_text):
            fp = hashlib.sha256(der).hexdigest()
            entries.append(
                CatalogEntry(
                    sha256=fp,
                    label=label or fp[:16],
                    source="mozilla",
                    provenance=f"Mozilla root store via certifi {version}",
                    status="in Mozilla",
                    aliases=tuple(reverse.get(fp, ())),
                    der=der,
                )
            )
        extra_text = (_DATA / "extra-roots.pem").read_text(encoding="utf-8")
        for label, der in _pem_blocks(extra_text):
            fp = hashlib.sha256(der).hexdigest()
            provenance, status = EXTRA_ROOTS.get(fp, ("package data", "unknown"))
            entries.append(
                CatalogEntry(
                    sha256=fp,
                    label=label or fp[:16],
                    source="package",
                    provenance=provenance,
                    status=status,
                    aliases=tuple(reverse.get(fp, ())),
                    der=der,
                    data_file=_DATA / "extra-roots.pem",
                )
            )
        known = {e.sha256 for e in entries}
        for fp, meta in data_table(ROOT_METADATA_FILE).items():
            if fp in known or "der" not in meta:
                continue
            entries.append(
                CatalogEntry(
                    sha256=fp,
                    label=meta.get("catalog_label") or meta["label"],
                    source="package",
                    provenance="copy shipped with esp-cabundle (from the Mozilla store)",
                    status=f"not in certifi {version}: removed from Mozilla, or certifi too old",
                    aliases=tuple(reverse.get(fp, ())),
                    der=base64.b64decode(meta["der"]),
                    data_file=ROOT_METADATA_FILE,
                )
            )
        return cls(entries, mozilla_version=version, store=Path(pem_path))

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self._entries.values())

    def get(self, fingerprint: str) -> CatalogEntry | None:
        return self._entries.get(fingerprint)

    def certificate(self, entry: CatalogEntry) -> Certificate:
        return entry_certificate(entry)

    def resolve(self, spec: str, spelling: Spelling = PYTHON) -> CatalogEntry:
        """An alias or a SHA-256 fingerprint -> the entry; never a bare name (a root
        not in the catalog is told to come as a file, and the search for a root is
        named, as ``spelling`` writes them)."""
        key = spec.strip()
        fp = ALIASES.get(key.lower())
        if fp is None:
            fp = normalize_fingerprint(key)
        if fp is None:
            close = [a for a in ALIASES if key.lower() in a]
            hint = (
                f"did you mean {', '.join(close[:5])}?"
                if close
                else self._prefix_hint(key)
                or suggest(
                    key,
                    ALIASES,
                    f"{spelling.find_root} to find a root's alias or fingerprint",
                )
            )
            raise CatalogError(f"unknown root '{spec}' (not an alias or SHA-256)", hint=hint)
        entry = self._entries.get(fp)
        if entry is None:
            raise CatalogError(
                f"root {spec} (SHA-256 {fp[:16]}...) is not in the catalog "
                f"(certifi {self.mozilla_version} and package data)",
                hint=f"pass the root as a file ({spelling.root_file}) to use it anyway",
            )
        return entry

    def _prefix_hint(self, key: str) -> str | None:
        """For the first digits of a fingerprint (``96bcec06264976f3``, as build's table
        shows them): the root they begin, by alias (a prefix is never taken as a pin)."""
        digits = key.lower().removeprefix("sha256:").replace(":", "")
        if not _PREFIX().match(digits):
            return None
        found = [e for e in self._entries.values() if e.sha256.startswith(digits)]
        if not found:
            return None
        named = [f"{e.alias or e.sha256} ({e.label})" for e in found[:3]]
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        return (
            f"did you mean {' or '.join(named)}{more}? {digits} is the start of a SHA-256; "
            "give the alias or the whole fingerprint"
        )

    def preset(self, name: str) -> Preset:
        p = PRESETS.get(name)
        if p is None:
            raise CatalogError(
                f"unknown preset '{name}'",
                hint=suggest(name, PRESETS, f"known presets: {', '.join(sorted(PRESETS))}"),
            )
        return p

    def search(self, query: str | None) -> list[CatalogEntry]:
        """Entries whose alias, label, subject or fingerprint contains ``query``."""
        entries = list(self._entries.values())
        if not query:
            return entries
        q = query.lower()
        fp = normalize_fingerprint(q)
        out = []
        for e in entries:
            hay = " ".join((e.label, *e.aliases, e.sha256)).lower()
            if q in hay or (fp and e.sha256 == fp):
                out.append(e)
                continue
            if q.replace(":", "") and e.sha256.startswith(q.replace(":", "")):
                out.append(e)
                continue
            if q in entry_certificate(e).subject.lower():
                out.append(e)
        return out


def entry_status(entry: CatalogEntry, at: datetime) -> str:
    """Status with expiry folded in, as users need it at a glance."""
    cert = entry_certificate(entry)
    if cert.is_expired(at):
        return f"expired {cert.not_after.date().isoformat()}; {entry.status}"
    return entry.status
