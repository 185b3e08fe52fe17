"""``esp-cabundle build`` as a library call: gate, render, then write atomically.

:func:`build_bundle` passes the spec through the write-path gate
(:func:`~esp_cabundle.gate.gate_ca`: resolve, policies, targets), checks the lock and
renders every output in memory, raising before anything is written; :func:`write_build`
writes every output and the lock file, all or nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ._stdin import names_stdout
from .build_arguments import check_build_arguments, check_build_result, lock_arg
from .bundle import Bundle, BundleSpec, Violation
from .catalog import Catalog
from .clobber import refuse_clobbering
from .config import OutputSpec
from .dates import now
from .errors import InputError
from .fileio import (
    PRIVATE,
    PUBLIC,
    Output,
    already_holds,
    is_named,
    read_input,
    refuse_special,
    refuse_unwritable,
    write_all_atomic,
)
from .formats import IMAGE_FORMATS, render
from .gate import CONFIG_BOARD, CaSource, ConfigBoard, GatedCA, gate_ca, judged_board
from .limits import MAX_LOCK_INPUT
from .lockfile import Lock, build_unlocked
from .spelling import CONFIG_SPELLING, PYTHON, Spelling, set_to
from .text import shown_path, sized_repr

if TYPE_CHECKING:
    from .boards import Board
    from .config import Config
    from .fs.edit import PackedImage
    from .targets import Target

__all__ = ["BuildResult", "WrittenOutputs", "build_bundle", "write_build"]

LOCK_NAME = "cabundle.lock"
_LOCK_HINT = (
    "build reads and writes cabundle.lock as a regular file: move this away (or build with {})"
)


@dataclass(frozen=True, slots=True)
class BuildResult:
    """A gated bundle and the exact bytes of every output, not yet written; ``boards``
    are the same CA gated again for each board an image output names."""

    __repr__ = sized_repr  # its bytes as their size

    ca: GatedCA
    outputs: tuple[tuple[OutputSpec, bytes], ...]
    lock: Lock
    lock_path: Path | None
    extra: dict[str, object] = field(default_factory=dict)
    boards: tuple[GatedCA, ...] = ()
    private: frozenset[Path] = frozenset()  # images packing a file kept from others
    # Image outputs' from_dir: entries left out (and why), files holding a private key;
    # warnings also say an idf-bundle layout guessed for an ESP-IDF newer than known,
    # and a size budget that measured no output (json only).
    dir_notes: tuple[str, ...] = ()
    dir_warnings: tuple[str, ...] = ()
    inputs: tuple[Path, ...] = ()  # every file read, for a dependency file

    @property
    def bundle(self) -> Bundle:
        return self.ca.bundle

    @property
    def notes(self) -> tuple[str, ...]:
        return self.ca.notes

    @property
    def violations(self) -> tuple[Violation, ...]:
        return self.ca.violations

    @property
    def pem_size(self) -> int:
        return len(self.ca.pem)


def build_bundle(
    spec: BundleSpec,
    outputs: tuple[OutputSpec, ...],
    *,
    catalog: Catalog | None = None,
    at: datetime | None = None,
    lock_path: Path | None = None,
    kept_lock: Path | None = None,
    locked: bool = False,
    config: Config | None = None,
    targets: Sequence[Target] = (),
    check_targets: bool = True,
    spelling: Spelling = PYTHON,
    board: Board | ConfigBoard | None = CONFIG_BOARD,
    also_read: Sequence[tuple[str, Path]] = (),
    also_written: Sequence[tuple[str, Path]] = (),
) -> BuildResult:
    """Gate ``spec`` (policies; ``config``'s targets and ``targets``), check the lock, and
    render every output in memory.

    An image output that names a board (``{format: spiffs, board: mdash-arduino}``) gets
    the CA gated again for that board: its rules judge the targets, and its firmware's
    connections that read the CA file must accept it. Boards may differ from one image
    to the next (a fleet of two kinds of units shares one bundle), so each distinct
    board is gated once. ``board`` judges the CA itself as ``pack --board`` would: its
    rules, and its connections that read its CA file; by default the board ``config``
    names (``board:``), as ``build -c`` does, so a script's build of a config refuses
    what ``build -c`` refuses; None: no board.

    Raises :class:`PolicyError` (a violation that was not allowed),
    :class:`~esp_cabundle.check.CheckFailed` (a target or a board's connection would
    refuse the bundle), :class:`LockMismatchError` (``locked`` and the roots differ) or
    :class:`InputError` (a FIFO, device, directory or looping symlink at ``lock_path``)
    before any byte is written. ``kept_lock`` is the project's lock that ``--no-lock``
    leaves as it is: no output may replace it (nor become it where none exists yet).
    ``also_read``: ``(what, path)`` of other files the caller read for this build (a
    label filter): no output may replace one, and they are among the result's
    ``inputs``. ``also_written``: files the caller writes beside the outputs (the last
    run's dependency file): an image's ``from_dir`` never packs them, as it never packs
    the outputs. ``spelling``: how the caller's user names the options the hints point
    to (see :mod:`~esp_cabundle.spelling`).
    """
    # a library caller's types, before anything is read (a board's name, one OutputSpec)
    outputs = check_build_arguments(spec, outputs, board, config, targets, catalog)
    lock_path, kept_lock = lock_arg(lock_path, "lock_path"), lock_arg(kept_lock, "kept_lock")
    if lock_path is not None:  # first: nothing is gated or read before the refusal
        refuse_special(lock_path, what="lock file", hint=_LOCK_HINT.format(spelling.no_lock))
    judged = judged_board(board, config)
    outputs = tuple(_with_image(out) for out in outputs)
    inputs = [*_inputs(spec, config, targets), *also_read]
    if locked and lock_path is not None:
        inputs.append(("lock file", lock_path))
    read = [p for _, p in inputs] + _chain_dirs(config, targets)
    if kept_lock is not None:
        inputs.append(("lock file", kept_lock))
    # the board files are read too (the depfile lists them with the packages' files)
    boards = [judged, *(o.image.board for o in outputs if o.image is not None)]
    inputs += [f for b in boards if b is not None for f in b.read_files()]
    _refuse_clobbering(outputs, None if locked else lock_path, inputs)
    catalog = catalog or Catalog.load()
    source = CaSource.build(spec, config=config)
    when = at or now()  # a naive one is UTC: gate_ca reads it so

    early: dict[int, bytes] = {}  # outputs rendered to be measured, by index

    def sizes(bundle: Bundle, pem: bytes) -> list[tuple[str, int]]:
        return _budgeted(outputs, bundle, pem, early, spelling)

    # An idf-bundle output is the project's own bundle: the firmware trusts it, not its
    # default one, so the gate does not say otherwise.
    own_bundle = any(out.format == "idf-bundle" for out in outputs)

    def gate(
        board: Board | None = None, ca_path: str | None = None, *, every_output: bool = False
    ) -> GatedCA:
        return gate_ca(
            source,
            board=board,
            at=when,
            targets=targets,
            check_targets=check_targets,
            spelling=spelling,
            catalog=catalog,
            ca_path=ca_path,
            # An image's board gate measures the ca.pem it packs, as does a build of no
            # output (a lock only); the first gate measures every output.
            sizes=sizes if every_output and outputs else None,
            own_bundle=own_bundle,
        )

    ca = gate(judged, every_output=True)
    per_board: dict[tuple[str, str | None], GatedCA] = {}
    for out in outputs:
        image = out.image
        if image is not None and image.board is not None:
            key = (image.board.full_name, image.spec.ca_path)
            if key not in per_board:
                per_board[key] = gate(image.board, image.spec.ca_path)
    bundle = ca.bundle
    lock = Lock.from_bundle(bundle)
    if locked:
        if lock_path is None or not is_named(lock_path):
            raise InputError(
                f"{spelling.locked} needs a lock file, and "
                f"{shown_path(lock_path or LOCK_NAME)} does not exist",
                hint=build_unlocked(spelling, f"to write {LOCK_NAME}, then commit it"),
            )
        data = read_input(lock_path, what="lock file", max_bytes=MAX_LOCK_INPUT, regular_only=True)
        lock_file = Lock.from_bytes(data, path=str(lock_path), spelling=spelling)
        lock_file.check(bundle, path=str(lock_path), spelling=spelling)
    rendered: list[tuple[OutputSpec, bytes]] = []
    private: set[Path] = set()
    dir_notes: list[str] = []
    dir_warnings: list[str] = [w for w in [_unmeasured(spec, outputs, spelling)] if w]
    written = [(f"{out.format} output", out.path) for out in outputs]
    written += [("lock file", lock_path)] if lock_path is not None else []
    written += also_written
    for index, out in enumerate(outputs):  # each format known: OutputSpec refuses others
        if out.format in IMAGE_FORMATS:
            others = [(what, p) for what, p in written if p != out.path]
            packed = _image(ca, out, per_board, others)
            data = packed.data
            if packed.private:
                private.add(out.path)
            read += _packed_from(out, packed)
            dir_notes += [n for n in packed.notes if n not in dir_notes]
            cramped = [packed.cramped.text()] if packed.cramped else []
            dir_warnings += [w for w in [*packed.warnings, *cramped] if w not in dir_warnings]
        else:
            data = early.get(index) or (
                ca.pem
                if out.format == "pem"
                else render(out.format, bundle, out.options, spelling=spelling)
            )
            static = _static_named(out, _spelling_of(out, config, spelling))
            for w in (_layout_guessed(out), static):
                dir_warnings += [w] if w and w not in dir_warnings else []
        rendered.append((out, data))
    return BuildResult(
        ca=ca,
        outputs=tuple(rendered),
        lock=lock,
        lock_path=None if locked else lock_path,
        boards=tuple(per_board.values()),
        private=frozenset(private),
        dir_notes=tuple(dir_notes),
        dir_warnings=tuple(dir_warnings),
        inputs=_read_too(read, catalog, bundle, (judged, *(b.board for b in per_board.values()))),
    )


def _budgeted(
    outputs: Sequence[OutputSpec],
    bundle: Bundle,
    pem: bytes,
    rendered: dict[int, bytes],
    spelling: Spelling,
) -> list[tuple[str, int]]:
    """What ``max_bytes`` measures in a build: the bytes a device holds of each output
    written, named as the error shows them. The file for pem, der and idf-bundle (a
    build of only x509_crt_bundle.bin was held to the size of a ca.pem it never wrote);
    the NUL-terminated string a c output compiles to, not its source text; the ca.pem an
    image packs. A json manifest is not measured: no device reads it. Outputs rendered
    here are kept in ``rendered`` (by index) for writing."""
    measured: list[tuple[str, int]] = []
    for index, out in enumerate(outputs):
        stdout = names_stdout(out.path)
        where = _where(out)
        if out.format == "pem":
            measured.append((where, len(pem)))
        elif out.format == "c":
            measured.append((f"the PEM string in {where}", len(pem) + 1))
        elif out.format in IMAGE_FORMATS:
            measured.append((f"the CA file in {where}", len(pem)))
        elif out.format != "json":
            data = render(out.format, bundle, out.options, spelling=spelling)
            rendered[index] = data
            measured.append((where if stdout else f"{where} ({out.format})", len(data)))
    return measured


def _where(out: OutputSpec) -> str:
    """How a message names ``out``: its file, or "the pem output on standard output"
    for every name of standard output (``-``, ``/dev/stdout``, ``/dev/fd/1``)."""
    if names_stdout(out.path):
        return f"the {out.format} output on standard output"
    return shown_path(out.path)


def _unmeasured(spec: BundleSpec, outputs: Sequence[OutputSpec], spelling: Spelling) -> str | None:
    """The warning for a size budget that measured nothing: every output a json
    manifest, which no device reads (:func:`_budgeted`), so the budget held nothing to
    it (a build of no output at all measures its ca.pem)."""
    if spec.policy.max_bytes is None or not outputs or any(o.format != "json" for o in outputs):
        return None
    return (
        f"{spelling.max_bytes} {spec.policy.max_bytes} measured no output: a json manifest "
        "is not measured (no device reads it); add the output the devices hold (a pem, c, "
        "der, idf-bundle or image output) to hold it to the budget"
    )


def _spelling_of(out: OutputSpec, config: Config | None, spelling: Spelling) -> Spelling:
    """How to name ``out``'s options: by the config's keys when they are the config's
    entry's own (``style: array``), else as the caller gives them (``--c-style array``
    when a flag set them)."""
    if config is not None and any(
        o.format == out.format and o.options == out.options for o in config.outputs
    ):
        return CONFIG_SPELLING
    return spelling


def _static_named(out: OutputSpec, spelling: Spelling) -> str | None:
    """The warning for a c output in mDash's s_pem form under another name: that form is
    ``static`` (pasted over mDash's own declaration), so a symbol other files declare
    ``extern`` by that name never links; the array form is the one they can reach."""
    name = out.options.get("name", "s_pem")
    if out.format != "c" or out.options.get("style", "s_pem") != "s_pem" or name == "s_pem":
        return None
    where = _where(out)
    return (
        f"{where} defines {name} in the s_pem form, which is static (mDash's own "
        f"declaration): no other file can reach {name}; for a symbol other files declare, "
        f"use {set_to(spelling.c_style, 'array')}"
    )


def _layout_guessed(out: OutputSpec) -> str | None:
    """The warning for an idf-bundle output whose ESP-IDF version is newer than the
    releases known (its layout is the newest's), else None."""
    version = out.options.get("idf_version")
    if out.format != "idf-bundle" or version is None or "bundle_format" in out.options:
        return None
    # deferred: the bundle module loads only for an idf-bundle output, as render does
    from .formats.idf_bundle import idf_version_warning

    return idf_version_warning(str(version))


def _with_image(out: OutputSpec) -> OutputSpec:
    """An image output made in Python (``OutputSpec("spiffs", path, {"board": NAME})``)
    resolved as the config loader resolves an ``outputs:`` entry, its ``from_dir``
    relative to the working directory. One with no parameters at all is left for
    :func:`_image` to refuse."""
    if out.format not in IMAGE_FORMATS or "image" in out.options or not out.options:
        return out
    from .images import image_output  # deferred: only builds with an image output

    image = image_output(out.format, out.options, Path("."))
    return replace(out, options={**out.options, "image": image})


def _packed_from(out: OutputSpec, packed: PackedImage) -> list[Path]:
    """The host files an image output packed from its ``from_dir``, and the directory
    itself (a file added there changes its listing)."""
    image = out.image
    if image is None or image.from_dir is None:
        return []
    found = [image.from_dir / name.lstrip("/") for name, _ in packed.files]
    files = [p for p in found if os.path.isfile(p)]
    # Every directory a packed file is in: a file added beside it changes that listing.
    dirs = {d: None for p in files for d in reversed(p.parents) if image.from_dir in d.parents}
    return [image.from_dir, *dirs, *files]


def _read_too(
    read: list[Path], catalog: Catalog, bundle: Bundle, boards: Sequence[Board | None]
) -> tuple[Path, ...]:
    """``read`` and what else the build read that no option names: the Mozilla store,
    the package's data files its package roots came from (Gen Y), and the board files
    (with the partitions CSV a board's layout names: an image's size comes from it)."""
    more = [catalog.store] if catalog.store is not None else []
    for e in bundle.entries:
        known = catalog.get(e.sha256) if e.source == "package" else None
        more += [known.data_file] if known is not None and known.data_file is not None else []
    files = [Path(f) for b in boards if b is not None for f in b.files]
    more += [f for f in files if os.path.isfile(f)]
    return tuple(dict.fromkeys([*read, *more]))


def _image(
    ca: GatedCA,
    out: OutputSpec,
    per_board: Mapping[tuple[str, str | None], GatedCA],
    others: Sequence[tuple[str, Path]],
) -> PackedImage:
    """A file-system image output, holding the CA this build gated (for its board, when
    it names one); ``others``, the build's other outputs and lock file, are never packed
    from its ``from_dir``: what is there is the last run's."""
    from .images import render_image_output  # deferred: only builds with an image output

    image = out.image
    if image is None:
        raise InputError(
            f"the {out.format} output needs its image's parameters",
            hint=f"list it under outputs: in cabundle.yaml, e.g. {{format: {out.format}, "
            f"path: fs.bin, board: NAME}}; for a one-off image, 'esp-cabundle pack --fs "
            f"{out.format} --profile NAME --size SIZE -o fs.bin' (or pack --board NAME)",
        )
    if image.board is not None:
        ca = per_board[(image.board.full_name, image.spec.ca_path)]
    return render_image_output(ca, image, path=out.path, others=others)


def _inputs(
    spec: BundleSpec, config: Config | None, targets: Sequence[Target]
) -> list[tuple[str, Path]]:
    """Every file a build reads: the config, root files, saved chains of its targets,
    and the lock file it checks."""
    out: list[tuple[str, Path]] = [("root file", p) for p in spec.files()]
    if config is not None:
        out += [("config", config.path)] if config.path is not None else []
        out += [("file named in the config", p) for p in config.files]
    for t, chain in _target_chains(config, targets):
        if t.chain is not None or os.path.exists(chain):
            out.append((f"saved chain of target '{t.name}'", chain))
    return out


def _chain_dirs(config: Config | None, targets: Sequence[Target]) -> list[Path]:
    """The directories where a target's chain will be saved (``chains pull``) and is not
    yet: a dependency file lists them, so the first chain saved there builds again."""
    return [
        chain.parent
        for t, chain in _target_chains(config, targets)
        if t.chain is None and not os.path.exists(chain) and os.path.isdir(chain.parent)
    ]


def _target_chains(config: Config | None, targets: Sequence[Target]) -> list[tuple[Target, Path]]:
    """Each target of the build (``targets``, then the config's) and where its chain is
    saved, or would be."""
    configured: tuple[Target, ...] = config.section("targets", ()) if config else ()
    if not targets and not configured:
        return []
    # deferred: targets bring the verifier (~30 ms); a build without any pays nothing
    from .targets import Target

    base = config.base_dir if config is not None else Path(".")
    return [(t, t.chain_path(base)) for t in (*targets, *configured) if isinstance(t, Target)]


def _refuse_clobbering(
    outputs: Sequence[OutputSpec], lock_path: Path | None, inputs: list[tuple[str, Path]]
) -> None:
    """No output may replace an input, another output, or the lock file."""
    paths = [("lock file", lock_path)] if lock_path is not None else []
    paths += [(f"{out.format} output", out.path) for out in outputs]
    refuse_clobbering(paths, inputs)


@dataclass(frozen=True, slots=True)
class WrittenOutputs:
    """What :func:`write_build` did with each output and the lock file: ``written``, or
    left ``unchanged`` because the file already held exactly those bytes (same inode
    and mtime, so ``make`` does not rebuild the firmware that includes it)."""

    written: tuple[Path, ...] = ()
    unchanged: tuple[Path, ...] = ()


def _items(result: BuildResult) -> list[tuple[Path, bytes, int]]:
    """Every output and the lock file, with the bytes and mode each gets."""
    items = [
        (out.path, data, PRIVATE if out.path in result.private else PUBLIC)
        for out, data in result.outputs
    ]
    if result.lock_path is not None:
        items.append((result.lock_path, result.lock.to_bytes(), PUBLIC))
    return items


def dry_run_build(
    result: BuildResult, extra: Sequence[tuple[Path, bytes, int]] = ()
) -> WrittenOutputs:
    """What :func:`write_build` would do, writing nothing: ``written`` lists what it
    would write, ``unchanged`` what already holds exactly its bytes."""
    items = [*_items(result), *extra]
    for p, data, _ in items:  # what the real run would refuse, refused here too
        refuse_unwritable(p, data)
    kept = [p for p, data, mode in items if already_holds(p, data, mode=mode)]
    return WrittenOutputs(
        written=tuple(p for p, _, _ in items if p not in kept), unchanged=tuple(kept)
    )


def write_build(
    result: BuildResult,
    extra: Sequence[tuple[Path, bytes, int]] = (),
    *,
    spelling: Spelling = PYTHON,
    stamp: bool = False,
) -> WrittenOutputs:
    """Write every output (and the lock file, and ``extra``: a dependency file)
    atomically, all or none, leaving a file that already holds exactly its bytes
    untouched; ``spelling`` as for :func:`build_bundle`. ``stamp`` (a dependency file
    lists the inputs): one left untouched in a directory the build read (a ``from_dir``)
    that is newer than it gets its mtime set to now, so make is then done."""
    check_build_result(result, BuildResult)
    if result.lock_path is not None:
        # Again: a FIFO made there since build_bundle would be written through (blocking).
        hint = _LOCK_HINT.format(spelling.no_lock)
        refuse_special(result.lock_path, what="lock file", hint=hint)
    items: list[Output] = [*_items(result), *extra]
    read_dirs = [p for p in result.inputs if os.path.isdir(p)] if stamp else []
    kept = write_all_atomic(items, read_dirs=read_dirs)
    paths = [item[0] for item in items]
    return WrittenOutputs(written=tuple(p for p in paths if p not in kept), unchanged=tuple(kept))
