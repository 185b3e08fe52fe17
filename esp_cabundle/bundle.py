"""A curated bundle: roots resolved from presets, aliases, fingerprints and files, checked
against policies, and pinned by a lock file.

Data flows one way: a :class:`BundleSpec` (what the user asked for) is resolved against
the :class:`~esp_cabundle.catalog.Catalog` into a :class:`Bundle` (what devices get),
which :func:`check_policies` judges (:mod:`.policies`, re-exported here); renderers in
:mod:`esp_cabundle.formats` turn it into bytes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from ._stdin import DASH_HINT, STDIN
from .arguments import name_tuple
from .catalog import (
    DEFAULT_PRESET,
    Catalog,
    CatalogEntry,
    entry_certificate,
    normalize_fingerprint,
)
from .certs import Certificate, load_certificates
from .errors import CatalogError, CertificateError, InputError, directory_refused
from .file_kinds import name_fault
from .fileio import is_named, read_input
from .limits import MAX_CERT_INPUT
from .policies import MBEDTLS_VETTED as MBEDTLS_VETTED
from .policies import (
    POLICY_NAMES,
    Policy,
    Sizes,
    Violation,
    check_policies,
    mbedtls_parse_error,
)
from .spelling import PYTHON, Spelling
from .text import plural, some

if TYPE_CHECKING:
    from .yamlnodes import Origin

__all__ = [
    "POLICY_NAMES",
    "Bundle",
    "BundleEntry",
    "BundleSpec",
    "Policy",
    "Resolution",
    "Sizes",
    "Violation",
    "check_policies",
    "duplicate_notes",
    "file_entries",
    "mbedtls_parse_error",
    "read_certificate_file",
    "resolve_bundle",
]


@dataclass(frozen=True, slots=True)
class BundleEntry:
    """One root in a bundle and where it came from."""

    certificate: Certificate
    label: str
    alias: str | None
    source: str  # "mozilla", "package" or "file"
    provenance: str
    status: str
    requested_as: str
    # Its name lines in a curl-format root file (ESP-IDF's cacrt_all.pem), read only for
    # --idf-filter: None for a catalog root or a file not in curl's format.
    listed_as: frozenset[str] | None = None

    @property
    def sha256(self) -> str:
        return self.certificate.sha256

    def kept_by(self, names: frozenset[str]) -> bool:
        """Whether ESP-IDF's ``cmn_crt_authorities.csv`` filter keeps this root, by
        gen_crt_bundle.py's rule: an entry of a curl-format file by its name line; any
        other file whole (it adds custom certificate files unfiltered); a catalog root,
        which it has no counterpart for, by its Mozilla label."""
        if self.listed_as is not None:
            return bool(self.listed_as & names)
        return self.source == "file" or self.label in names


@dataclass(frozen=True, slots=True)
class Bundle:
    """The ordered, de-duplicated roots a device will trust."""

    entries: tuple[BundleEntry, ...]
    mozilla_version: str = "unknown"

    @property
    def certificates(self) -> tuple[Certificate, ...]:
        return tuple(e.certificate for e in self.entries)

    @property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(e.sha256 for e in self.entries)

    @property
    def der_size(self) -> int:
        return sum(e.certificate.size for e in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_certificates(
        cls, certs: Sequence[Certificate], *, source: str = "file", provenance: str = ""
    ) -> Bundle:
        """A bundle around certificates read from somewhere (for checks and packing)."""
        seen: set[str] = set()
        entries = []
        for c in certs:
            if c.sha256 in seen:
                continue
            seen.add(c.sha256)
            entries.append(BundleEntry(c, c.label, None, source, provenance, "", provenance))
        return cls(tuple(entries))


@dataclass(frozen=True, slots=True)
class BundleSpec:
    """What the user asked for: presets, extra roots, exclusions, and policies.

    ``roots`` and ``excludes`` take aliases, SHA-256 fingerprints or file paths (relative
    to ``base_dir``). With no preset and no roots, the default preset is used.
    """

    presets: tuple[str, ...] = ()
    roots: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    policy: Policy = field(default_factory=Policy)
    base_dir: Path = Path(".")
    # Keep only roots whose Mozilla/curl label is listed (ESP-IDF's cmn_crt_authorities.csv).
    only_labels: frozenset[str] | None = None
    # Where a config wrote roots[i] and excludes[i] (flags add theirs after, with none).
    root_origins: tuple[Origin, ...] = ()
    exclude_origins: tuple[Origin, ...] = ()

    if TYPE_CHECKING:  # what __init__ takes (README: a root file may be a Path), typed
        # wider than the fields __post_init__ makes of it (always str, always a Path)

        def __init__(
            self,
            presets: tuple[str, ...] = (),
            roots: tuple[str | PathLike[str], ...] = (),
            excludes: tuple[str | PathLike[str], ...] = (),
            policy: Policy = ...,
            base_dir: str | PathLike[str] = Path("."),
            only_labels: frozenset[str] | None = None,
            root_origins: tuple[Origin, ...] = (),
            exclude_origins: tuple[Origin, ...] = (),
        ) -> None: ...

    def __post_init__(self) -> None:
        """One str where a sequence goes iterates as its letters ("unknown root 'm'"):
        refused, with the tuple meant; a root or exclusion file may be any path-like."""
        for name in ("presets", "roots", "excludes"):
            object.__setattr__(self, name, name_tuple(name, getattr(self, name)))
        object.__setattr__(self, "base_dir", Path(self.base_dir))

    @property
    def effective_presets(self) -> tuple[str, ...]:
        if not self.presets and not self.roots:
            return (DEFAULT_PRESET,)
        return self.presets

    def files(self) -> tuple[Path, ...]:
        """The files among ``roots`` and ``excludes`` (those that exist): what a build
        reads, so no output may replace them."""
        out = []
        for spec in (*self.roots, *self.excludes):
            p = Path(spec) if Path(spec).is_absolute() else self.base_dir / spec
            # os.path.isfile: False for a name the OS refuses (a part over NAME_MAX is
            # ENAMETOOLONG, which Path.is_file raises before Python 3.12); reading it says why.
            if normalize_fingerprint(spec) is None and os.path.isfile(p):
                out.append(p)
        return tuple(out)


# Never compared nor printed: no __eq__/__repr__ to generate at start-up (~0.15 ms).
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Resolution:
    bundle: Bundle
    notes: tuple[str, ...]
    from_presets: int = 0  # the bundle's first roots, those the presets gave


def _looks_like_path(spec: str, base_dir: Path) -> Path | None:
    p = Path(spec)
    if not p.is_absolute():
        p = base_dir / p
    if is_named(p):  # a link leading nowhere too: reading it says so
        return p
    if any(ch in spec for ch in "/\\") or spec.endswith(
        (".pem", ".crt", ".cer", ".der", ".h", ".c")
    ):
        fault = name_fault(p)  # a NUL, a part over NAME_MAX: no file can be named so
        if fault is not None:
            raise InputError(
                f"root file '{spec}' cannot exist: {fault}",
                hint="give a certificate file's real name, or a root's alias or SHA-256 "
                "fingerprint (esp-cabundle roots lists them)",
            )
        raise InputError(  # the name in the message: a config's error names its line
            f"no such root file '{spec}'",
            hint="give a certificate file that exists, or a root's alias or SHA-256 "
            "fingerprint (esp-cabundle roots lists them)",
        )
    return None


def file_entries(
    certs: Sequence[Certificate],
    catalog: Catalog,
    *,
    requested_as: str,
    curl: dict[str, frozenset[str]] | None = None,
) -> list[BundleEntry]:
    """Certificates read from a file, named as the catalog knows them (so a ``ca.pem``
    that ``build`` wrote resolves to the same entries, and renders to the same bytes)."""
    out = []
    for c in certs:
        known = catalog.get(c.sha256)
        out.append(
            BundleEntry(
                certificate=c,
                label=known.label if known else c.label,
                alias=known.alias if known else None,
                source="file",
                provenance=f"file {requested_as}",
                status=known.status if known else "from file",
                requested_as=requested_as,
                listed_as=None if curl is None else curl.get(c.sha256, frozenset()),
            )
        )
    return out


def read_certificate_file(path: Path, *, name: str) -> tuple[Certificate, ...]:
    """A root file's certificates (key material in any encoding refused, as every reader
    refuses it: :func:`~esp_cabundle.certs.load_certificates`)."""
    return load_certificates(_root_file_bytes(path), source=name)


def _root_file_bytes(path: Path) -> bytes:
    return read_input(
        path,
        what="certificate file",
        error=CertificateError,
        max_bytes=MAX_CERT_INPUT,
        certificates=True,
    )


def _root_file_or_entry(
    spec: str,
    catalog: Catalog,
    base_dir: Path,
    spelling: Spelling,
    *,
    excluded: bool = False,
    keyed: bool = False,
) -> Path | CatalogEntry:
    """What a root or exclude value names: a file, else an alias or fingerprint;
    ``keyed``: a config's value (``spelling.root_file`` names its key, not a flag)."""
    if spec == STDIN:  # standard input elsewhere; no alias: its guesses misled
        dash = base_dir / spec
        if not os.path.isfile(dash):
            raise CertificateError("no such certificate file", path=STDIN, hint=DASH_HINT)
        return dash
    if normalize_fingerprint(spec) is None:
        path = _looks_like_path(spec, base_dir)
        if path is not None and os.path.isdir(path):
            raise _names_a_directory(spec, path, None if excluded else spelling, keyed)
        if path is not None:
            return path
    return catalog.resolve(spec, spelling)


def _names_a_directory(spec: str, path: Path, spelling: Spelling | None, keyed: bool) -> InputError:
    """A root file named as a directory, refused by the helper every file option's
    refusal uses (errors.directory_refused: "name a file with --root, e.g. --root DIR/FILE");
    reading it said "is a directory, expected a certificate file", with no hint. An
    exclude (``spelling`` None) has no spelling of its own: the file itself."""
    if spelling is None:
        return directory_refused(str(path), spec)
    if spelling.cli and not keyed:  # the CLI's "--root path/to/root.pem"
        return directory_refused(str(path), spec, flag=spelling.root_file.split()[0])
    # a config's key (a YAML list item), the library's BundleSpec (a Python literal):
    # each language's quoting. Put in as it was, a name with a quote broke the call, one
    # that is not UTF-8 was its printable escape ('o\\xff' is another file in Python),
    # and one with ': ' was a YAML mapping.
    spelt = spelling.root_file.replace("{", "{{").replace("}", "}}")
    if keyed:
        literal: Callable[[str], str] = _yaml_scalar
    elif "'path/to/root.pem'" in spelt:
        spelt, literal = spelt.replace("'path/to/root.pem'", "path/to/root.pem"), repr
    else:  # a spelling of the caller's own, its quoting unknown
        literal = str
    spelt = spelt.replace("path/to/root.pem", "{}")
    return directory_refused(str(path), spec, spelt=spelt, literal=literal)


def _yaml_scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when YAML reads it back as that string, else
    double quoted (JSON's escapes are YAML's too)."""
    if re.fullmatch(r"[\w./~+-][\w./~+@%-]*", text):
        return text
    import json  # deferred: only a refusal quotes

    return json.dumps(text, ensure_ascii=False)


def _resolve_one(
    spec: str,
    catalog: Catalog,
    base_dir: Path,
    *,
    curl: bool = False,
    origin: Origin | None = None,
    spelling: Spelling = PYTHON,
    excluded: bool = False,
) -> list[BundleEntry]:
    """``curl``: also read a file's curl name lines, for the ESP-IDF filter. ``origin``:
    the config line that wrote ``spec``, named by an error about the value itself (no
    such alias, fingerprint or file); an error inside a file names that file."""
    if origin is not None:  # a config's value: the hint names its key, not a flag
        key = origin.key.split("[")[0]
        spelling = spelling._replace(root_file=f"a file path in {key}:, e.g. '- path/to/root.pem'")
    try:
        found = _root_file_or_entry(
            spec, catalog, base_dir, spelling, excluded=excluded, keyed=origin is not None
        )
    except InputError as e:
        if origin is None:
            raise
        raise origin.error(e.reason, hint=e.hint) from e
    if isinstance(found, Path):
        if not curl:
            certs = read_certificate_file(found, name=str(found))
            return file_entries(certs, catalog, requested_as=spec)
        return _curl_file_entries(found, catalog, requested_as=spec)
    entry = found
    return [
        BundleEntry(
            certificate=entry_certificate(entry),
            label=entry.label,
            alias=entry.alias,
            source=entry.source,
            provenance=entry.provenance,
            status=entry.status,
            requested_as=spec,
        )
    ]


def _curl_file_entries(path: Path, catalog: Catalog, *, requested_as: str) -> list[BundleEntry]:
    """A root file's entries with their curl name lines. gen_crt_bundle.py filters only
    a file named cacrt_all.pem, and keeps nothing of one not in curl's format: refused
    here, rather than an empty or unfiltered bundle."""
    from .formats.idf_filter import curl_names  # deferred: for --idf-filter only

    data = _root_file_bytes(path)
    certs = load_certificates(data, source=str(path))
    names = curl_names(data, source=str(path))
    if names is None and path.name == "cacrt_all.pem":
        raise InputError(
            "no curl-format entries (a name line underlined with '====' above each "
            "certificate): ESP-IDF's filter would keep none of it",
            path=str(path),
            hint="give ESP-IDF's components/mbedtls/esp_crt_bundle/cacrt_all.pem, or "
            "rename the file: other files are kept whole, as gen_crt_bundle.py keeps them",
        )
    return file_entries(certs, catalog, requested_as=requested_as, curl=names)


def duplicate_notes(dropped: Sequence[BundleEntry], *, requested: bool = False) -> list[str]:
    """One note per root given more than once, however often (a file repeating one root
    3,000 times is one line, with the count); ``requested``: with the names it was
    asked for by."""
    copies: dict[str, list[BundleEntry]] = {}
    for e in dropped:
        copies.setdefault(e.sha256, []).append(e)
    notes = []
    for same in copies.values():
        count = [f"{len(same):,} extra copies"] if len(same) > 1 else []
        names = some([f"'{n}'" for n in dict.fromkeys(e.requested_as for e in same)], 3)
        said = ", ".join([*count, *([f"requested as {names}"] if requested else [])])
        notes.append(f"duplicate dropped: {same[0].label}" + (f" ({said})" if said else ""))
    return notes


def _nth(origins: tuple[Origin, ...], i: int) -> Origin | None:
    return origins[i] if i < len(origins) else None


def resolve_bundle(spec: BundleSpec, catalog: Catalog, spelling: Spelling = PYTHON) -> Resolution:
    """Turn a spec into an ordered bundle: presets first, then extra roots, minus excludes
    (a hint names the options as ``spelling`` does)."""
    notes: list[str] = []
    wanted: list[BundleEntry] = []
    for name in spec.effective_presets:
        preset = catalog.preset(name)
        for alias in preset.aliases:
            wanted.extend(_resolve_one(alias, catalog, spec.base_dir))
    preset_entries = len(wanted)
    curl = spec.only_labels is not None
    for i, r in enumerate(spec.roots):
        origin = _nth(spec.root_origins, i)
        wanted.extend(
            _resolve_one(r, catalog, spec.base_dir, curl=curl, origin=origin, spelling=spelling)
        )

    excluded: set[str] = set()
    for i, x in enumerate(spec.excludes):
        origin = _nth(spec.exclude_origins, i)
        found = _resolve_one(
            x, catalog, spec.base_dir, origin=origin, spelling=spelling, excluded=True
        )
        fps = {e.sha256 for e in found}
        if not fps & {e.sha256 for e in wanted}:
            where = f"{origin.path}:{origin.line}: " if origin is not None else ""
            notes.append(f"{where}exclude '{x}' matched no selected root")
        excluded |= fps

    seen: set[str] = set()
    entries: list[BundleEntry] = []
    dropped: list[BundleEntry] = []
    from_presets = 0
    for n, e in enumerate(wanted):
        if e.sha256 in excluded:
            continue
        if e.sha256 in seen:
            dropped.append(e)
            continue
        seen.add(e.sha256)
        entries.append(e)
        from_presets += n < preset_entries
    notes += duplicate_notes(dropped, requested=True)
    if spec.only_labels is not None:
        kept = [e for e in entries if e.kept_by(spec.only_labels)]
        notes.append(f"label filter kept {len(kept)} of {plural(len(entries), 'root')}")
        from_presets = sum(e.kept_by(spec.only_labels) for e in entries[:from_presets])
        entries = kept
    if not entries:
        raise CatalogError("the selection is empty: every root was excluded or filtered out")
    bundle = Bundle(tuple(entries), catalog.mozilla_version)
    return Resolution(bundle, tuple(notes), from_presets)


def mbedtls_available() -> bool:
    try:
        import mbedtls  # noqa: F401
    except ImportError:
        return False
    return True
