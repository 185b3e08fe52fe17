"""The CA flags every write command shares, declared once, and the way to the gate.

``build``, ``pack``, ``update-dump``, ``flash`` and ``fs put`` (on the CA path) all put
a CA where devices read it. They take it from a finished file (``--bundle``) or build it
exactly as ``esp-cabundle build`` does (the config, presets, added and excluded roots),
and pass it through :func:`esp_cabundle.gate.gate_ca` with the same policy flags
(``--allow``, ``--service-until``, ``--max-bytes``) and targets (the config's,
``--target``, the board's own connections; ``--no-check`` skips them).
:func:`ca_options` adds the flags and hands the command one :class:`CaOptions`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..bundle import POLICY_NAMES, BundleSpec
from ..config import find_config, load_config, not_read_hint
from ..errors import InputError
from ..fileio import is_named
from ..gate import CaSource, gate_ca, parse_target
from ..text import printable
from ..ui import note
from ._paths import home_expanded, refuse_directory
from ._usage import example_line, typed_words, with_option
from .options import CLI_SPELLING, Date, Name, Size, config_option, file_option

if TYPE_CHECKING:
    from ..boards import Board
    from ..bundle import BundleSpec
    from ..check import Target
    from ..config import Config
    from ..gate import CaSource, GatedCA

    _Choice = click.Choice[str]
else:  # click < 8.2 (pyproject allows 8.1) has no generic Choice
    _Choice = click.Choice

__all__ = ["CaOptions", "announce", "ca_options"]

F = TypeVar("F", bound=Callable[..., Any])


class _RootName(Name):
    """A root by alias, fingerprint or file: a directory is refused as every file option
    refuses one, the path as typed (the library sees it absolute) in the hint."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        value = home_expanded(value)  # '~/roots/x.pem' as --target reads it (no alias has ~)
        refuse_directory(super().convert(value, param, ctx), param)
        return value


_ROOT = _RootName("root")
_BUNDLE = file_option(
    "--bundle",
    "bundle_file",
    help="Use this finished CA file (PEM, DER or C source) instead of building one; it "
    "passes the same checks and goes on the device as PEM.",
)
_BUILD = (
    click.option(
        "--preset",
        "presets",
        type=Name("preset"),
        multiple=True,
        metavar="NAME",
        help="Start from a preset (repeatable; replaces the config's preset).",
    ),
    click.option(
        "--root",
        "roots",
        type=_ROOT,
        multiple=True,
        metavar="ALIAS|SHA256|FILE",
        help="Add a root by alias, SHA-256 fingerprint or certificate file (repeatable).",
    ),
    click.option(
        "--exclude",
        "excludes",
        type=_ROOT,
        multiple=True,
        metavar="ALIAS|SHA256|FILE",
        help="Drop a root from the selection (repeatable).",
    ),
)


class _Names(_Choice):
    """``--allow``'s value: one name or several separated by commas (``not-ca,expired``,
    as the gate's hint writes them), each one of the choices; a tuple of them, which
    :func:`ca_options` flattens. A name that is none is refused naming it, and
    :meth:`nearest` gives the value with it mended for the hint's example line."""

    @property
    def accepted(self) -> str:
        """What the value takes, in words (for the bad value's hint)."""
        *first, last = (str(c) for c in self.choices)
        return f"one of {', '.join(first)} or {last}, or several separated by commas"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        names = [part.strip() for part in str(value).split(",")]
        for name in names:
            if name not in self.choices:
                shown = f"{name!r} (in {value!r})" if name != value else repr(name)
                listed = ", ".join(repr(str(c)) for c in self.choices)
                self.fail(f"{shown} is not one of {listed}.", param, ctx)
        return tuple(names)

    def nearest(self, typed: str) -> str | None:
        """``typed`` with each name that is no choice replaced by the nearest one."""
        # deferred: difflib is needed only on this error path, not at every start-up
        from difflib import get_close_matches

        choices = [str(c) for c in self.choices]
        mended = []
        for name in (part.strip() for part in typed.split(",")):
            near = (
                name
                if name in choices
                else next(iter(get_close_matches(name, choices, 1, 0.5)), None)
            )
            if near is None:
                return None
            mended.append(near)
        return ",".join(mended)


def _allow_option(extra: tuple[tuple[str, str], ...] = ()) -> Callable[[F], F]:
    """``--allow POLICY``; ``extra``: a command's own values beside the policies (name,
    what it allows), e.g. push's ``unjudged``."""
    if not extra:
        return click.option(
            "--allow",
            "allow",
            multiple=True,
            type=_Names(POLICY_NAMES),
            help="Relax a policy (repeatable, or several separated by commas).",
        )
    more = "".join(f" {name}: {what}." for name, what in extra)
    return click.option(  # the choices listed in the help, not the 80-column usage line
        "--allow",
        "allow",
        multiple=True,
        type=_Names((*POLICY_NAMES, *(name for name, _ in extra))),
        metavar="NAME",
        help=f"Relax a policy (repeatable, or several separated by commas): "
        f"{', '.join(POLICY_NAMES)}.{more}",
    )


def _max_bytes_option(measures: str) -> Callable[[F], F]:
    """``--max-bytes``, its help saying what the command holds to it."""
    return click.option(
        "--max-bytes",
        type=Size(minimum=1),
        metavar="SIZE",
        help=f"Size budget in bytes (16384, 16K) for {measures}.",
    )


_GATE = (
    click.option(
        "--service-until",
        type=Date(),
        metavar="DATE",
        help="Devices' end of service: every root must stay valid, and every target "
        "accept the CA, until then.",
    ),
    (_MAX_BYTES := _max_bytes_option("ca.pem")),
    (_ALLOW := _allow_option()),
    click.option(
        "--target",
        "targets",
        type=Name("server"),
        multiple=True,
        metavar="HOST[:PORT]|CHAIN",
        help="Also require this server to accept the CA: HOST[:PORT] (its chain saved under "
        "chains/, else captured live) or a saved chain file (repeatable).",
    ),
)


def _no_check(offered: bool) -> Callable[[F], F]:
    """``--no-check``; not ``offered`` (``push``, which refuses it): hidden from the
    help, still parsed so that typing it gets the refusal and its reason."""
    return click.option(
        "--no-check",
        is_flag=True,
        hidden=not offered,
        help="Write even if a target, or a connection of the board's firmware that reads "
        "the file, would refuse the CA (the policies still apply).",
    )


_KEYS = (
    "bundle_file",
    "config_path",
    "presets",
    "roots",
    "excludes",
    "service_until",
    "max_bytes",
    "allow",
    "targets",
    "no_check",
)


# Never compared nor printed: no __eq__/__repr__ to generate at start-up (~0.15 ms).
@dataclass(frozen=True, slots=True, eq=False, repr=False)
class CaOptions:
    """A write command's CA flags, as typed."""

    bundle_file: Path | None = None
    config_path: Path | None = None
    presets: tuple[str, ...] = ()
    roots: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    service_until: datetime | None = None
    max_bytes: int | None = None
    allow: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    no_check: bool = False

    def config(self) -> Config | None:
        """``-c FILE``, else ``./cabundle.yaml`` if there is one."""
        path = self.config_path or find_config()
        return load_config(path) if path else None

    def spec(self, config: Config | None) -> BundleSpec:
        """The config's spec with the flags applied: presets replace, roots and excludes
        add (files named by flags are relative to the working directory), policies
        override."""
        spec = config.spec if config is not None else BundleSpec()
        if self.presets:
            spec = replace(spec, presets=self.presets)
        if self.roots:
            spec = replace(spec, roots=spec.roots + tuple(_cwd_relative(r) for r in self.roots))
        if self.excludes:
            spec = replace(
                spec, excludes=spec.excludes + tuple(_cwd_relative(x) for x in self.excludes)
            )
        policy = spec.policy
        if self.service_until:
            policy = replace(policy, service_until=self.service_until, service_until_origin=None)
        if self.max_bytes:
            policy = replace(policy, max_bytes=self.max_bytes)
        if self.allow:
            policy = replace(policy, allow=policy.allow | frozenset(self.allow))
        return replace(spec, policy=policy)

    def source(self, *, command: str | None = None, config: Config | None = None) -> CaSource:
        """Where the CA comes from. With ``command``, an implicit default preset is
        refused: that command writes to devices and must be told what to put there."""
        if config is None:
            config = self.config()
        spec = self.spec(config)
        if self.bundle_file is not None:
            if self.presets or self.roots or self.excludes:
                raise InputError(
                    "--bundle takes a finished CA file; it cannot be combined with --preset, "
                    "--root or --exclude"
                )
            return CaSource.from_file(self.bundle_file, policy=spec.policy, config=config)
        if command is not None and config is None and not (self.presets or self.roots):
            raise InputError(
                f"no CA given: '{command}' puts a CA on devices and needs --bundle FILE, "
                "--preset NAME or --root ROOT (or a cabundle.yaml)",
                hint=not_read_hint() or _preset_line(),
            )
        return CaSource.build(spec, config=config)

    def input_files(self, board: Board | None = None) -> list[tuple[str, Path]]:
        """The files these flags (and ``board``'s profile) name, as
        :func:`~esp_cabundle.clobber.refuse_clobbering` takes them: no output may
        replace the CA file, the config, a root file or the board file it was made from
        (nor the partitions CSV that board's layout names)."""
        out = [("CA file", self.bundle_file)] if self.bundle_file is not None else []
        config = self.config_path or find_config()
        out += [("config", config)] if config is not None else []
        out += [("root file", Path(r)) for r in (*self.roots, *self.excludes) if os.path.isfile(r)]
        out += board.read_files() if board is not None else []
        return out

    def extra_targets(self) -> list[Target]:
        if not self.targets:
            return []
        config = (self.config_path or find_config()) is not None  # 'chains pull' needs one
        return [parse_target(t, config=config) for t in self.targets]

    def gate(
        self,
        *,
        board: Board | None,
        at: datetime,
        command: str | None = None,
        source: CaSource | None = None,
        targets: Sequence[Target] = (),
        ca_path: str | None = None,
        skip_hint: str | None = None,
    ) -> GatedCA:
        """Gate the CA these flags name (or ``source``) for ``board``; ``targets`` are
        judged beside the config's and ``--target``'s (``push``: the server units use),
        and so are the board's connections that read ``ca_path`` (default: its CA path)."""
        src = source or self.source(command=command)
        return gate_ca(
            src,
            board=board,
            at=at,
            targets=[*self.extra_targets(), *targets],
            check_targets=not self.no_check,
            ca_path=ca_path,
            spelling=CLI_SPELLING,
            skip_hint=skip_hint,
        )


def ca_options(
    *,
    bundle: bool = True,
    build: bool = True,
    no_check: bool = True,
    allow: tuple[tuple[str, str], ...] = (),
    budget: str | None = None,
) -> Callable[[F], F]:
    """Add the CA flags to a command; it receives them as one ``ca: CaOptions``.

    ``bundle``: offer ``--bundle FILE``; ``build``: offer ``--preset``, ``--root`` and
    ``--exclude``. ``-c`` and the gate's flags are always there; ``no_check``: show
    ``--no-check`` in the help (a command that refuses it hides it); ``allow``: values of
    ``--allow`` the command takes beside the policies (name, what it allows), which it
    must take out of ``ca.allow`` before gating; ``budget``: what ``--max-bytes``
    measures, for its help (default ca.pem).
    """
    gate = tuple(_allow_option(allow) if o is _ALLOW and allow else o for o in _GATE)
    if budget is not None:
        gate = tuple(_max_bytes_option(budget) if o is _MAX_BYTES else o for o in gate)
    options = (
        *((_BUNDLE,) if bundle else ()),
        config_option,
        *(_BUILD if build else ()),
        *gate,
        _no_check(no_check),
    )

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def command(*args: Any, **kwargs: Any) -> Any:
            if "allow" in kwargs:  # --allow a,b gives a tuple of names
                kwargs["allow"] = tuple(n for names in kwargs["allow"] for n in names)
            ca = CaOptions(**{k: kwargs.pop(k) for k in _KEYS if k in kwargs})
            return f(*args, ca=ca, **kwargs)

        for option in reversed(options):
            command = option(command)
        return command  # type: ignore[return-value]

    return decorate


def announce(
    ca: GatedCA, *, quiet: bool = False, as_json: bool = False, images_of: Board | None = None
) -> None:
    """The gate's one line, on stderr, before anything is written (in --json: a field).
    ``images_of``: the same CA gated again for a board's image outputs (``build``); its
    policies were announced with the first line. Names from files and certificates are
    shown :func:`~esp_cabundle.text.printable`."""
    quiet = quiet or as_json
    if images_of is not None:
        note(f"CA in {images_of.name} images: {printable(ca.summary)}", quiet=quiet, wrap=True)
        for n in ca.notes:
            note(f"note: {printable(n)}", quiet=quiet, wrap=True)
        return
    note(f"CA: {printable(ca.summary)}", quiet=quiet, wrap=True)
    for n in ca.notes:
        note(f"note: {printable(n)}", quiet=quiet, wrap=True)
    for v in ca.violations:
        note(f"allowed: {printable(v.message)}", quiet=quiet, wrap=True)


def _preset_line() -> str:
    """The hint for a write without a CA: the command line as typed with a preset added,
    so the copy runs (``e.g. --preset default`` alone was a fragment to fit in)."""
    words = typed_words()
    if not words:  # no command line (called from Python): the words alone
        return "e.g. --preset default, or run 'esp-cabundle build' and pass --bundle ca.pem"
    return example_line(
        with_option(words, "--preset", "default"),
        why="or run 'esp-cabundle build' and pass --bundle ca.pem",
    )


def _cwd_relative(spec: str) -> str:
    """A flag naming an existing file is taken relative to the working directory."""
    p = Path(spec)
    return str(p.absolute()) if not p.is_absolute() and is_named(p) else spec
