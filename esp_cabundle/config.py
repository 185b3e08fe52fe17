"""``cabundle.yaml``: parsed into validated values, with errors that name file and line.

Top-level keys handled here: ``preset``, ``roots``, ``exclude``, ``service_until``,
``max_bytes``, ``allow``, ``outputs``. The other sections (``SECTIONS``) belong to the
parts of the tool that use them, and each validates itself from its :class:`Node`:
``idf_filter`` (:func:`~.formats.idf_filter.config_idf_filter`), ``targets`` and
``device`` (:func:`~.check.parse_targets`, :func:`~.check.parse_device`), ``board``
(:func:`parse_board_key`: the board, with its firmware version, that ``check`` and
``push`` take when no ``--board`` is given). The values are kept in ``Config.sections``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .arguments import require_path
from .bundle import POLICY_NAMES, BundleSpec, Policy
from .catalog import PRESETS
from .errors import ArgumentTypeError, ConfigError, InputError
from .file_kinds import base_dir_of, names_a_directory, shell_path
from .fileio import is_found
from .formats import FORMATS, IMAGE_FORMATS, implied_format
from .spelling import CONFIG_SPELLING, PYTHON

if TYPE_CHECKING:
    from .boards import Board
    from .images import ImageOutput
    from .yamlnodes import Node

__all__ = [
    "CONFIG_NAME",
    "SECTIONS",
    "Config",
    "OutputSpec",
    "config_above",
    "config_misnamed",
    "find_config",
    "leads_outside",
    "load_config",
    "not_read_hint",
    "outputs_outside",
    "parse_config",
]

CONFIG_NAME = "cabundle.yaml"

_CORE_KEYS = ("preset", "roots", "exclude", "service_until", "max_bytes", "allow", "outputs")
# The sections other parts of the tool own; each is parsed by its owner's function.
SECTIONS = ("idf_filter", "targets", "device", "board")


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """One output file: format, path (relative to the config's directory) and options.

    ``options`` are the keys an ``outputs:`` entry of cabundle.yaml may give beside
    ``format`` and ``path`` (``{"name": "s_pem"}``, ``{"board": "mdash-arduino"}``); a
    spec made in Python is checked as the config loader checks one (which does it first,
    to name the line): an unknown format or option, or a bad value, is an InputError
    rather than ignored.
    """

    format: str
    path: Path
    options: dict[str, Any] = field(default_factory=dict)

    if TYPE_CHECKING:  # __init__ takes any path; __post_init__ keeps it as a Path

        def __init__(
            self, format: str, path: str | os.PathLike[str], options: dict[str, Any] = ...
        ) -> None: ...

    def __post_init__(self) -> None:
        # A script's "out/ca.pem" was kept as str, so write_build reported str paths.
        path = os.fspath(self.path) if isinstance(self.path, str | os.PathLike) else None
        if not isinstance(path, str):
            raise ArgumentTypeError(
                f"OutputSpec's path= takes a path (str or Path), not {type(self.path).__name__}",
                hint="OutputSpec('pem', Path('out/ca.pem'))",
            )
        if not path:
            raise InputError("OutputSpec's path= is empty", hint="name the file: Path('ca.pem')")
        object.__setattr__(self, "path", Path(path))
        fmt = FORMATS.get(self.format)
        if fmt is None:
            raise InputError(
                f"unknown output format '{self.format}'", hint=f"formats: {', '.join(FORMATS)}"
            )
        # "image": an image entry's parameters, resolved by the config loader
        allowed = (*fmt.options, "image") if self.format in IMAGE_FORMATS else fmt.options
        unknown = sorted(str(k) for k in self.options if k not in allowed)
        if unknown:
            known = f"options: {', '.join(fmt.options)}" if fmt.options else "it takes none"
            raise InputError(
                f"{self.format} output: unknown option {', '.join(map(repr, unknown))}",
                hint=known,
            )
        if fmt.check is not None:
            for key, value in self.options.items():
                fmt.check(key, value, self.options, PYTHON)

    @property
    def image(self) -> ImageOutput | None:
        """The image parameters an image output carries, if any: only image formats do
        (``image`` is refused on the others). The one reading of them, for ``build``
        (what to pack) and ``check`` (where the CA file is in the image built); here,
        since trust_files cannot import this module (its section parsers import check,
        which imports trust_files) and build is the start-up path of every build."""
        if self.format not in IMAGE_FORMATS:
            return None
        from .images import ImageOutput  # deferred: only configs with an image output

        image = self.options.get("image")
        return image if isinstance(image, ImageOutput) else None


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None
    spec: BundleSpec
    outputs: tuple[OutputSpec, ...]
    sections: dict[str, Any] = field(default_factory=dict)
    # Files the config names that a build reads beside its roots (the idf_filter CSV).
    files: tuple[Path, ...] = ()

    @property
    def base_dir(self) -> Path:
        return self.spec.base_dir

    def section(self, key: str, default: Any = None) -> Any:
        return self.sections.get(key, default)

    @property
    def board(self) -> Board | None:
        """The ``board:`` key (None: none named): what ``build -c`` judges its CA under,
        and what ``check``, ``pack`` and ``push`` take when no ``--board`` is given."""
        board: Board | None = self.sections.get("board")
        return board

    def project_files(self) -> list[tuple[str, Path]]:
        """The project's own files, as :func:`~esp_cabundle.clobber.refuse_clobbering`
        takes inputs: the config, its lock, the root and filter files it names, the
        outputs its build writes and its board's files. A command that writes beside
        them (``chains pull``, ``check --report``) must not replace one, whether or not
        it reads it."""
        out = [("config", self.path)] if self.path is not None else []
        out.append(("config's lock file", self.base_dir / _LOCK_NAME))
        out += [("root file named in the config", p) for p in self.spec.files()]
        out += [("file named in the config", p) for p in self.files]
        # with no outputs: listed, build writes ca.pem beside the config
        outputs = self.outputs or (OutputSpec("pem", self.base_dir / "ca.pem"),)
        out += [(f"config's {o.format} output", o.path) for o in outputs]
        return out + (self.board.read_files() if self.board is not None else [])


_IMAGE_NEEDS = "a file-system image output needs a board, or its profile and size"
_IMAGE_HINT = "e.g. {format: spiffs, path: spiffs.bin, board: mdash-arduino}"


def _image_output(n: Node, fmt: str, options: dict[str, Any], base_dir: Path) -> Any:
    """An image entry's parameters, resolved now so a wrong board or size is an error at
    the entry's line (see :mod:`esp_cabundle.images`)."""
    from .images import image_output  # deferred: only configs with an image output

    try:
        return image_output(fmt, options, base_dir)
    except InputError as e:
        raise n.error(e.message, hint=e.hint) from e


def outputs_outside(config: Config) -> tuple[OutputSpec, ...]:
    """The config's outputs whose path leaves its directory (absolute, through '..', or
    through a symlink: a linked directory on the way, or the file itself a link, as the
    writer follows them): a shared config must not write anywhere on the machine without
    being told so."""
    return tuple(o for o in config.outputs if leads_outside(config.base_dir, o.path))


def leads_outside(base: Path, path: Path) -> str | None:
    """Where writing ``path`` really goes (symlinks followed), when that is outside
    ``base``; None when it stays inside."""
    root, real = os.path.realpath(base), os.path.realpath(path)
    return None if os.path.commonpath([root, real]) == root else real


def find_config(start: Path | None = None) -> Path | None:
    """``cabundle.yaml`` in the working directory, if there is one (a directory, FIFO or
    device there is refused, never opened: passing over it built the default preset)."""
    p = (start or Path.cwd()) / CONFIG_NAME
    hint = f"{CONFIG_NAME} here is read as the config: remove or rename it, or name one with -c"
    return p if is_found(p, what="config file", hint=hint) else None


def config_above(start: Path | None = None) -> Path | None:
    """The nearest ``cabundle.yaml`` in a directory above ``start`` (the working
    directory), up to the top of its git repository: a command run from a project's
    subdirectory (``src/``, ``build/``) does not read it, and says so rather than
    silently build or judge something else."""
    here = (start or Path.cwd()).absolute()
    if os.path.exists(here / ".git"):
        return None
    for parent in here.parents:
        if os.path.isfile(parent / CONFIG_NAME):
            return parent / CONFIG_NAME
        if os.path.exists(parent / ".git"):
            return None
    return None


# YAML's other extension: a config saved under it is not looked for.
_MISNAMED = "cabundle.yml"


def config_misnamed(start: Path | None = None) -> Path | None:
    """``./cabundle.yml`` where no ``cabundle.yaml`` is (the caller found none): the tool
    does not read it, and a plain ``build`` beside it made the default preset's ca.pem
    and lock, never the roots it names; said rather than passed over."""
    p = (start or Path.cwd()) / _MISNAMED
    return p if os.path.isfile(p) else None


def not_read_hint(start: Path | None = None) -> str | None:
    """When there is no ``./cabundle.yaml`` but ``./cabundle.yml`` is there, or a
    directory above holds one: the words that say it is not read, and how to use it."""
    if config_misnamed(start) is not None:
        return (
            f"{_MISNAMED} is not read, the config being {CONFIG_NAME}: rename it, "
            f"or pass -c {_MISNAMED}"
        )
    above = config_above(start)
    if above is None:
        return None
    shown = os.path.relpath(above, start or Path.cwd())
    return f"{shown} is not read from here: run from {above.parent}, or pass -c {shown}"


def load_config(path: str | Path) -> Config:
    """The config file at ``path`` (``cabundle.yaml``), validated; its paths are relative
    to its directory, or to the working directory for a config that is no regular file
    (:func:`~esp_cabundle.file_kinds.base_dir_of`). ConfigError names the file and line
    of a bad key or value."""
    from .yamlnodes import read_yaml_text  # deferred: only runs that have a config file

    require_path(path, "load_config")
    p = Path(path)
    # A -c naming a file not written yet: say the command that writes one there.
    hint = f"write one with: esp-cabundle init -o {shell_path(p)}"
    return parse_config(read_yaml_text(p, what="config file", hint=hint), path=p)


def _section_parsers(keys: set[str]) -> Mapping[str, Callable[[Node], Any]]:
    """The parsers of the sections ``keys`` names, each imported from its owner only when
    the config has that section: ``build`` of a preset, with no config or a plain one,
    pays for none of them."""
    parsers: dict[str, Callable[[Node], Any]] = {}
    if "idf_filter" in keys:
        from .formats.idf_filter import config_idf_filter  # deferred: see above

        parsers["idf_filter"] = config_idf_filter
    if keys & {"targets", "device"}:
        # deferred: the check's, and it brings the verifier (~20 ms)
        from .check import parse_device, parse_targets

        parsers.update(targets=parse_targets, device=parse_device)
    if "board" in keys:
        parsers["board"] = parse_board_key
    return parsers


def parse_board_key(node: Node) -> Any:
    """The ``board:`` key: a shipped board, with its firmware version (``mdash-arduino@
    1.2.13``), or a board file relative to the config; errors name the line."""
    from .boards import load_board_beside  # deferred: only configs that name a board read boards

    name = node.as_str().strip()  # its own error names the line once: not wrapped again
    try:
        return load_board_beside(name, base_dir_of(Path(node.where)))
    except InputError as e:
        raise node.error(e.message, hint=e.hint) from e


# The only output option whose value is a number (whole); a float given to any other
# is text YAML read as a number (idf_version: 5.10 as 5.1, platform: 2.10 as 2.1).
_NUMBER_OPTIONS = ("max_certs",)

_LOCK_NAME = "cabundle.lock"  # build.LOCK_NAME, which imports this module


def _directory_path(n: Node, fmt: str) -> ConfigError:
    """``path: sub/`` names a directory: pathlib drops the slash, and a file ``sub`` was
    written. Refused as ``-o sub/`` is, with a file in it to name."""
    name = Path(FORMATS[fmt].default_path).name
    example = os.path.join(n.as_str(), name)
    return n.error(
        f"'{n.as_str()}' names a directory, not a file; nothing was read or written",
        hint=f"name a file in it, e.g. path: {example}",
    )


def _own_path(node: Node, path: Path, shown: Path, taken: dict[str, str]) -> None:
    """An output's path must not be the config's, the lock's or an earlier output's:
    an error at its line, rather than a refusal naming only the files."""
    key = os.path.realpath(path)
    if key in taken:
        raise node.error(
            f"'{shown}' is {taken[key]}: no two files can share a path; nothing written",
            hint="give this output another path",
        )
    taken[key] = f"already the path of {node.path.removesuffix('.path')}"


def parse_config(text: str, *, path: Path) -> Config:
    """Validate a config text; every error carries the file and line."""
    from .yamlnodes import compose_yaml, to_nodes  # deferred: as in load_config

    where = str(path)
    root = compose_yaml(text, where)
    base_dir = base_dir_of(path)
    if root is None:
        return Config(path, BundleSpec(base_dir=base_dir), (), {})
    top = to_nodes(root, "", where)
    allowed = _CORE_KEYS + SECTIONS
    m = top.as_mapping(allowed)

    presets: tuple[str, ...] = ()
    if "preset" in m:
        presets = tuple(n.as_choice(tuple(PRESETS)) for n in m["preset"].as_list())
    root_nodes = m["roots"].as_list() if "roots" in m else []
    exclude_nodes = m["exclude"].as_list() if "exclude" in m else []
    roots = tuple(n.as_str() for n in root_nodes)
    excludes = tuple(n.as_str() for n in exclude_nodes)
    service_until = m["service_until"].as_date() if "service_until" in m else None
    max_bytes = m["max_bytes"].as_size(minimum=1) if "max_bytes" in m else None
    allow = (
        frozenset(x for n in m["allow"].as_list() for x in n.as_choices(POLICY_NAMES))
        if "allow" in m
        else frozenset()
    )
    policy = Policy(
        service_until=service_until,
        max_bytes=max_bytes,
        allow=allow,
        service_until_origin=m["service_until"].origin() if "service_until" in m else None,
    )
    spec = BundleSpec(
        presets,
        roots,
        excludes,
        policy,
        base_dir,
        root_origins=tuple(n.origin() for n in root_nodes),
        exclude_origins=tuple(n.origin() for n in exclude_nodes),
    )

    outputs: list[OutputSpec] = []
    # Paths already taken, symlinks followed: the config itself, its lock, each earlier
    # output (a hard link to one is refused later, when the files are compared).
    taken = {
        os.path.realpath(path): "the config itself",
        os.path.realpath(base_dir / _LOCK_NAME): "the lock file build writes",
    }
    output_nodes = m["outputs"].as_list() if "outputs" in m else []
    if "outputs" in m and m["outputs"].value in (None, []):
        # said, not taken as no key: build would write the default ca.pem it never named
        empty = "an empty list names" if m["outputs"].value == [] else "is empty:"
        raise m["outputs"].error(
            f"{empty} no file to write",
            hint="list the outputs (e.g. outputs: [pem]), or remove 'outputs:' to write "
            "the default ca.pem",
        )
    for n in output_nodes:
        if isinstance(n.value, str):
            fmt = n.as_choice(tuple(FORMATS))
            if fmt in IMAGE_FORMATS:
                raise n.error(_IMAGE_NEEDS, hint=_IMAGE_HINT)
            default = Path(FORMATS[fmt].default_path)
            _own_path(n, base_dir / default, default, taken)
            outputs.append(OutputSpec(fmt, base_dir / FORMATS[fmt].default_path))
            continue
        om = n.as_mapping()
        if "format" not in om:
            # a misspelt 'format' (fromat:) is said as the key it is, with the one meant
            known = ("format", "path", *(o for f in FORMATS.values() for o in f.options))
            n.as_mapping(tuple(dict.fromkeys(known)))
            named = om["path"].value if "path" in om else None
            implied = implied_format(Path(named)) if isinstance(named, str) and named else None
            raise n.error(
                "each output needs a 'format'",
                hint=f"add format: {implied or 'pem'} (formats: {', '.join(FORMATS)})",
            )
        fmt = om["format"].as_choice(tuple(FORMATS))
        allowed_keys = ("format", "path", *FORMATS[fmt].options)
        om = n.as_mapping(allowed_keys)
        if "path" in om and names_a_directory(om["path"].as_str()):
            raise _directory_path(om["path"], fmt)
        named = om["path"].as_file_name() if "path" in om else FORMATS[fmt].default_path
        out_path = Path(named)
        implied = implied_format(out_path)
        if implied is not None and implied != fmt:
            raise om["path"].error(
                f"'{out_path}' names a {implied} file, but the output format is {fmt}",
                hint=f"write format: {implied}, or name the file for {fmt} "
                f"(e.g. {Path(FORMATS[fmt].default_path).name})",
            )
        options = {k: v.as_plain() for k, v in om.items() if k not in ("format", "path")}
        check = FORMATS[fmt].check
        for k, v in options.items():
            if isinstance(v, float) and k not in _NUMBER_OPTIONS:
                raise om[k].number_error()
            if check is not None:
                try:
                    check(k, v, options, CONFIG_SPELLING)
                except InputError as e:
                    raise om[k].error(e.reason, hint=e.hint) from e
            if not isinstance(v, str | int | bool):
                got = (
                    "a list"
                    if isinstance(v, list)
                    else "a mapping"
                    if isinstance(v, dict)
                    else repr(v)
                )
                raise om[k].error(f"expected text, a whole number or true/false, got {got}")
        if fmt in IMAGE_FORMATS:
            options["image"] = _image_output(n, fmt, options, base_dir)
        _own_path(om.get("path", n), base_dir / out_path, out_path, taken)
        outputs.append(OutputSpec(fmt, base_dir / out_path, options))

    present = {key for key in SECTIONS if key in m}
    parsers = _section_parsers(present)
    sections = {key: parsers[key](m[key]) for key in SECTIONS if key in present}
    files = (base_dir / m["idf_filter"].as_file_name(),) if "idf_filter" in m else ()
    return Config(path, spec, tuple(outputs), sections, files)
