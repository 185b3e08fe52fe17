"""The one gate every CA passes before it is written where a device will read it.

``build``'s outputs, ``pack``, ``update-dump``, ``fs put`` on the CA path, ``flash`` and
(fleet) ``push`` all call :func:`gate_ca` with where their CA comes from, and get a
:class:`GatedCA` back, or an error before anything is written:

1. **Resolve** as ``build`` does: a build spec (presets, roots, excludes) against the
   catalog, or a finished file. A finished file is scanned for private-key material in
   any encoding (:mod:`.keyscan`), refused if it is an ESP-IDF bundle (names and keys,
   no certificates: there is nothing to write as a CA file), and otherwise read in any
   shape the tool knows (PEM, DER, C source, UTF-16 text).
2. **Render** the form the device reads: ``ca.pem`` as ``build`` writes it. Nothing of
   the input but its certificates reaches the device, so a DER or C file is converted,
   and a ``ca.pem`` that ``build`` wrote comes out byte for byte the same.
3. **Policies** (:func:`~esp_cabundle.bundle.check_policies`): not a CA, expired,
   expiring before the end of service, over budget, unparseable by mbedTLS 2.28; each
   relaxed only by ``allow``.
4. **Targets**: the config's ``targets:`` (their saved chains under ``chains/``, else
   captured live) and any extra ones must accept the CA, under the board's verification
   rules when there is a board, until the end of service when it is known.
5. **The board's own connections**: every connection of the board's firmware that
   trusts the file being written (mDash 1.2.13 reads ``/spiffs/ca.pem`` for mdash.net)
   must accept the CA too, judged offline against the chains its server sends over time
   (:mod:`.roadmaps`). A connection that trusts a built-in CA (mDash 1.2.16) is not
   changed by the file, and the notes say so.

Layers below (image builders, the flash planners, the flasher) take a :class:`GatedCA`
and trust it; they never re-check and never accept raw bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .anchors import intermediate_notes, intermediates, not_ca_notes
from .arguments import ca_source_call, require_bytes
from .board_links import BoardLinks, board_links, link_items
from .bundle import (
    Bundle,
    BundleSpec,
    Policy,
    Resolution,
    Sizes,
    Violation,
    check_policies,
    duplicate_notes,
    file_entries,
    resolve_bundle,
)
from .catalog import Catalog
from .certs import load_certificates, sniff_kind
from .dates import as_datetime
from .errors import ArgumentTypeError, InputError, PolicyError
from .fileio import read_input
from .formats.pem import render_pem
from .gate_arguments import check_catalog, check_gate_arguments
from .gate_targets import _judge_targets, _summary, _targets, parse_target
from .missing_hints import missing_ca_hint
from .sniff import decode_text
from .spelling import PYTHON, Spelling
from .text import plural

if TYPE_CHECKING:
    from .boards import Board
    from .catalog import Catalog
    from .certs import Certificate
    from .check import CheckReport, Target
    from .config import Config

__all__ = [
    "CONFIG_BOARD",
    "BoardLinks",
    "CaSource",
    "GatedCA",
    "board_links",
    "gate_ca",
    "link_items",
    "parse_target",
]

# GatedCA values carry a MAC of their content under this per-process key: only gate_ca
# knows it, so neither a direct constructor call nor dataclasses.replace() makes one.
_SEAL_KEY = os.urandom(32)

# What a finished file was, when the device needs it converted.
_CONVERTED = {"der": "DER", "c-strings": "C source", "c-array": "C source"}


class _ConfigBoard(Enum):
    CONFIG_BOARD = "the config's board: key"


# The default ``board`` of gate_ca and build_bundle: the config's ``board:`` (none
# without a config), as ``build -c`` takes it; ``board=None`` judges under no board.
CONFIG_BOARD = _ConfigBoard.CONFIG_BOARD
ConfigBoard = Literal[_ConfigBoard.CONFIG_BOARD]


def judged_board(board: Board | ConfigBoard | None, config: Config | None) -> Board | None:
    """``board``, or for :data:`CONFIG_BOARD` the config's ``board:``: the one reading
    of it for the library and ``build`` (which has no ``--board``), so a script's build
    of a config refuses what ``build -c`` refuses."""
    if board is CONFIG_BOARD:
        return config.board if config is not None else None
    return board


def _mac(pem: bytes, board: Board | None, labels: tuple[str, ...]) -> bytes:
    msg = b"\x00".join([pem, (board.name if board else "").encode(), *map(str.encode, labels)])
    return hmac.new(_SEAL_KEY, msg, hashlib.sha256).digest()


def _spec_hint(value: object) -> str:
    """The CaSource a preset's name, a CA file's path or its bytes given as the spec is."""
    wrap = ca_source_call(value)
    if wrap is None:
        return "CaSource.build(BundleSpec(presets=('letsencrypt',)))"
    if isinstance(value, str):
        return f"a preset: CaSource.build(BundleSpec(presets=({value!r},))); a CA file: {wrap}"
    what = "a CA file" if isinstance(value, os.PathLike) else "a CA file's bytes"
    return f"{what}: {wrap}"


@dataclass(frozen=True, slots=True)
class CaSource:
    """Where a CA comes from: a build (``spec``) or a finished file (``file_name`` and its
    bytes; ``spec`` then only carries the policy). ``config`` gives the targets, their
    default device, and where saved chains live."""

    spec: BundleSpec = field(default_factory=BundleSpec)
    config: Config | None = None
    file_name: str | None = None
    file_data: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.spec, BundleSpec):  # else an AttributeError inside gate_ca
            raise ArgumentTypeError(
                f"CaSource.build takes a BundleSpec, not {type(self.spec).__name__}",
                hint=_spec_hint(self.spec),
            )
        # A name without bytes was a build of the default preset, the file never read.
        if (self.file_name is None) != (self.file_data is None):
            raise InputError(
                "a finished CA file needs both its name and its bytes",
                hint="use CaSource.from_file(path) or CaSource.finished(name, data)",
            )

    @classmethod
    def build(cls, spec: BundleSpec, *, config: Config | None = None) -> CaSource:
        """Resolve ``spec`` as ``esp-cabundle build`` does."""
        return cls(spec, config)

    @classmethod
    def finished(
        cls, name: str, data: bytes, *, policy: Policy | None = None, config: Config | None = None
    ) -> CaSource:
        """A finished CA file's bytes (``--bundle``); ``name`` is what errors call it."""
        require_bytes(data, "CaSource.finished", path_call="CaSource.from_file", args="name, ")
        return cls(BundleSpec(policy=policy or Policy()), config, name, bytes(data))

    @classmethod
    def from_file(
        cls, path: Path, *, policy: Policy | None = None, config: Config | None = None
    ) -> CaSource:
        """A finished CA file read from ``path`` (``-``: standard input)."""
        return cls.finished(
            str(path),
            read_input(
                path, what="CA file", hint=missing_ca_hint(path), certificates=True, stdin=True
            ),
            policy=policy,
            config=config,
        )


@dataclass(frozen=True, slots=True)
class GatedCA:
    """A CA that passed the gate: what goes on the device, and why it may.

    Made only by :func:`gate_ca` (a sealed value: constructing or ``replace``-ing one
    raises TypeError). ``pem`` is exactly what the device's CA file will hold;
    ``certificates`` are its roots, parsed once; ``board`` is the board whose rules
    judged it (None: no board). ``summary`` is the one line every write path prints
    before writing; ``report`` the verdicts of the targets and of the board's own
    connections that read the file (None when there were none or they were not checked).
    """

    pem: bytes = field(repr=False)
    certificates: tuple[Certificate, ...] = field(repr=False)
    sha256: str
    labels: tuple[str, ...]
    source: str
    board: Board | None = field(repr=False)
    summary: str
    report: CheckReport | None = field(repr=False)
    bundle: Bundle = field(repr=False)
    at: datetime
    notes: tuple[str, ...] = ()
    violations: tuple[Violation, ...] = ()  # every one allowed (others raise)
    converted_from: str | None = None
    checked: bool = True
    _seal: bytes = field(default=b"", repr=False, compare=False)

    def __post_init__(self) -> None:
        if not hmac.compare_digest(self._seal, _mac(self.pem, self.board, self.labels)):
            raise TypeError("a GatedCA is made by esp_cabundle.gate.gate_ca() only")

    def __len__(self) -> int:
        return len(self.certificates)

    def for_board(self, board: Board) -> bytes:
        """The bytes to write on a unit of ``board``.

        InputError when this CA was judged for another board, another firmware version
        of it, or for none: that board's rules were not applied to it.
        """
        if self.board is None or self.board.full_name != board.full_name:
            # name versions only when they are the difference (mdash-arduino@1.2.12)
            versions = self.board is not None and self.board.name == board.name
            mine = self.board and (self.board.full_name if versions else self.board.name)
            target = board.full_name if versions else board.name
            judged = f"board {mine}" if mine else "no board"
            named = board.full_name if board.version_given else board.name
            raise InputError(
                f"the CA was checked under the rules of {judged}, not of {target}",
                hint="gate it for the board it goes on "
                f"(gate_ca(..., board=load_board({named!r})))",
            )
        return self.pem

    def to_dict(self) -> dict[str, Any]:
        """The gate's verdict for ``--json`` reports."""
        return {
            "summary": self.summary,
            "roots": len(self.certificates),  # every CA, as before: see "intermediates"
            "intermediates": len(intermediates(self.certificates)),
            "bytes": len(self.pem),
            "sha256": self.sha256,
            "source": self.source,
            "converted_from": self.converted_from,
            "board": self.board.name if self.board else None,
            "labels": list(self.labels),
            "fingerprints": [c.sha256 for c in self.certificates],
            "checked": self.checked,
            "targets": self.report.to_dict() if self.report is not None else None,
            "notes": list(self.notes),
            "allowed_violations": [v.message for v in self.violations],
        }


def gate_ca(
    source: CaSource,
    *,
    board: Board | ConfigBoard | None = CONFIG_BOARD,
    at: datetime,
    targets: Sequence[Target] = (),
    check_targets: bool = True,
    catalog: Catalog | None = None,
    ca_path: str | None = None,
    spelling: Spelling = PYTHON,
    skip_hint: str | None = None,
    sizes: Callable[[Bundle, bytes], Sizes] | None = None,
    own_bundle: bool = False,
) -> GatedCA:
    """Resolve, render and judge a CA for writing; see the module for every step.

    ``board``: whose rules judge it and whose connections must accept it; by default the
    board the source's config names (``board:``), as ``build -c`` judges it; None: no
    board, whatever the config says (``pack --profile``). ``targets`` are judged beside
    the config's (``--target``; ``push`` adds the server a unit connects to), and so are
    the ``board``'s connections that read the file written at ``ca_path`` of its file
    system (default: the board's CA path).
    ``check_targets=False`` skips every target and connection (``--no-check``); policies
    still apply. ``spelling``: how the caller's user names the options the hints and the
    summary point to (see :mod:`~esp_cabundle.spelling`); ``skip_hint`` ends the hint
    when a target's chain is missing (default: pass ``spelling.no_check``). ``sizes``:
    what ``max_bytes`` measures, from the bundle and its ca.pem (default: the ca.pem).
    ``own_bundle``: the caller writes an ESP-IDF bundle (:func:`.board_links.board_links`).
    Raises before anything could be written:
    :class:`~esp_cabundle.errors.PrivateKeyError`,
    :class:`~esp_cabundle.errors.CertificateError` or InputError (unusable input),
    :class:`~esp_cabundle.errors.PolicyError` (a policy not allowed),
    :class:`~esp_cabundle.check.CheckFailed` (a target would refuse it). A naive ``at``
    is UTC.
    """
    # a library caller's types (the default, the config's board, is the gate's own)
    check_gate_arguments(source, CaSource, None if board is CONFIG_BOARD else board, targets)
    check_catalog(catalog, "gate_ca")
    at = as_datetime(at)
    board = judged_board(board, source.config)
    catalog = catalog or Catalog.load()
    spec = source.spec
    converted: str | None = None
    if source.file_data is not None:
        bundle, notes, converted = _resolve_file(
            source.file_name or "CA file", source.file_data, catalog, spelling
        )
        origin = f"file {source.file_name}"
    else:
        resolution = resolve_bundle(spec, catalog, spelling)
        bundle, notes = resolution.bundle, resolution.notes
        origin = _describe_spec(spec, resolution)
    pem = render_pem(bundle)
    measured = sizes(bundle, pem) if sizes is not None else [("ca.pem", len(pem))]
    violations = _judge_policies(
        bundle, spec.policy, at=at, sizes=measured, origin=origin, spelling=spelling
    )
    all_targets = _targets(source.config, targets) if check_targets else ()
    links = board_links(board, ca_path, own_bundle=own_bundle) if board else BoardLinks()
    report, evidence, left_out = _judge_targets(
        bundle,
        all_targets,
        source.config,
        board,
        spec.policy,
        at,
        links if check_targets else BoardLinks(),
        spelling,
        skip_hint or f"or pass {spelling.no_check} to write without judging the targets",
    )
    notes += links.notes + evidence
    if intermediates(bundle.certificates):
        # An ESP-IDF bundle is searched by key for the top certificate's issuer only.
        bundled = board is not None and board.output.form == "idf-bundle"
        notes += intermediate_notes(bundle.certificates, catalog, key_only=bundled)
    notes += not_ca_notes(bundle.certificates)  # only with --allow not-ca
    labels = tuple(e.label for e in bundle.entries)
    no_check = None if check_targets else spelling.no_check
    summary = _summary(bundle, report, board, converted, skipped_by=no_check, left_out=left_out)
    return GatedCA(
        pem=pem,
        certificates=bundle.certificates,
        sha256=hashlib.sha256(pem).hexdigest(),
        labels=labels,
        source=origin,
        board=board,
        summary=summary,
        report=report,
        bundle=bundle,
        at=at,
        notes=notes,
        violations=tuple(violations),
        converted_from=converted,
        checked=check_targets,
        _seal=_mac(pem, board, labels),
    )


# ---------------------------------------------------------------------------------------
# Resolving a finished file


def _resolve_file(
    name: str, data: bytes, catalog: Catalog, spelling: Spelling
) -> tuple[Bundle, tuple[str, ...], str | None]:
    """A finished CA file's certificates as a bundle, and what it was converted from."""
    # deferred: a finished file only (--bundle); a build from presets never reads one
    from .formats.idf_bundle import detect_bundle_format
    from .keyscan import refuse_private_keys  # deferred: as above

    refuse_private_keys(data, source=name)
    fmt = detect_bundle_format(data)
    if fmt is not None:
        raise InputError(
            f"an ESP-IDF certificate bundle ({fmt}) holds names and keys, not certificates: "
            "it cannot become the CA file a device reads",
            path=name,
            hint=f"give the ca.pem it was made from, or build one with {spelling.selection}",
        )
    data, converted = decode_text(data, source=name)
    kind = sniff_kind(data)
    converted = _CONVERTED.get(kind, converted)
    certs = load_certificates(data, source=name)
    entries = file_entries(certs, catalog, requested_as=name)
    seen: set[str] = set()
    kept, dropped = [], []
    for entry in entries:
        if entry.sha256 in seen:
            dropped.append(entry)
            continue
        seen.add(entry.sha256)
        kept.append(entry)
    notes = tuple(duplicate_notes(dropped))
    return Bundle(tuple(kept), catalog.mozilla_version), notes, converted


def _describe_spec(spec: BundleSpec, resolution: Resolution) -> str:
    """``preset 'default' (8 roots) plus root my-root.pem (1 more)``: what was asked for,
    files by name, each once however it was spelt (the config's ``my-root.pem`` and
    ``--root ./my-root.pem`` are one file), with the roots each part gave when both do."""
    presets = spec.effective_presets
    parts = [f"preset {', '.join(repr(p) for p in presets)}"] if presets else []
    named: dict[object, str] = {}
    for r in spec.roots:
        path = Path(r) if Path(r).is_absolute() else spec.base_dir / r
        named.setdefault(path.resolve() if os.path.isfile(path) else r, r)
    roots = list(named.values())
    if roots:
        shown = ", ".join(roots[:3]) + f" and {len(roots) - 3} more" * (len(roots) > 3)
        parts.append(f"root{'s' if len(roots) > 1 else ''} {shown}")
    if len(parts) == 2:
        more = len(resolution.bundle) - resolution.from_presets
        parts[0] += f" ({plural(resolution.from_presets, 'root')})"
        parts[1] += f" ({more} more)" if more else " (none new)"
    return " plus ".join(parts)


# ---------------------------------------------------------------------------------------
# Policies (targets: :mod:`.gate_targets`)


def _judge_policies(
    bundle: Bundle, policy: Policy, *, at: datetime, sizes: Sizes, origin: str, spelling: Spelling
) -> list[Violation]:
    violations = check_policies(bundle, policy, at=at, sizes=sizes, spelling=spelling)
    blocking = [v for v in violations if not v.allowed]
    if blocking:
        raise PolicyError(
            f"{len(blocking)} polic{'y' if len(blocking) == 1 else 'ies'} violated by the CA "
            f"from {origin}; nothing written",
            violations=tuple(v.message for v in blocking),
            hint="fix the selection, or relax a rule with "
            + spelling.allow.format(",".join(sorted({v.policy for v in blocking}))),
        )
    return violations
