"""A first ``cabundle.yaml``: the choices ``esp-cabundle init`` asks for, rendered as a
commented file that ``build`` accepts as is.

A board profile becomes the keys that exist (``device:`` from its verification rules,
``outputs:`` from the form its firmware consumes); the board's name, where its CA lives
and the commands that put the bundle on units go into comments, so the file explains
itself to the next person who opens it. The text is validated with the same parser
``build`` uses before anything is written, and an existing file is never replaced
unless asked.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .boards import list_boards
from .bundle import BundleSpec, Policy, check_policies, resolve_bundle
from .catalog import PRESETS, Catalog
from .chains import parse_host_port
from .config import CONFIG_NAME, parse_config
from .dates import add_years, as_datetime, parse_when
from .errors import ConfigError, InputError, PolicyError
from .file_kinds import base_dir_of
from .fileio import write_atomic
from .targets import looks_like_a_path
from .text import suggest
from .verify import parse_device_profile
from .verify.profiles import profile_spec

if TYPE_CHECKING:
    from .boards import Board

__all__ = [
    "DEFAULT_PRESET",
    "DEFAULT_SERVICE_YEARS",
    "InitChoices",
    "InitResult",
    "board_choices",
    "board_device",
    "dates_unchecked",
    "parse_service_life",
    "parse_target",
    "refuse_build_file_name",
    "render_config",
    "write_config",
]

DEFAULT_PRESET = "default"
# Short enough that every root of every preset outlives it (the earliest, ISRG Root X1,
# expires 2035-06-04), so the file init writes builds as is; longer lives are a choice.
DEFAULT_SERVICE_YEARS = 5
MAX_SERVICE_YEARS = 50

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?)+$")
_WIDTH = 92


@dataclass(frozen=True, slots=True)
class InitChoices:
    """What the user chose: a board (None: a generic ``ca.pem``), presets, the servers
    (host, port) the fleet connects to, and the devices' end of service."""

    board: Board | None
    presets: tuple[str, ...]
    targets: tuple[tuple[str, int], ...]
    service_until: datetime

    def __post_init__(self) -> None:
        if not self.presets:
            raise InputError("choose at least one preset", hint=f"presets: {', '.join(PRESETS)}")
        for p in self.presets:
            if p not in PRESETS:
                raise InputError(
                    f"unknown preset '{p}'",
                    hint=suggest(p, PRESETS, f"presets: {', '.join(PRESETS)}"),
                )
        seen = set()
        for host, port in self.targets:
            if (host, port) in seen:
                raise InputError(f"target {host}:{port} is given twice")
            seen.add((host, port))


@dataclass(frozen=True, slots=True)
class InitResult:
    """The file written (or that would be), and what it holds."""

    path: Path
    text: str
    choices: InitChoices
    device: str | None
    outputs: tuple[tuple[str, str], ...]  # (format, path) as written in the file
    warnings: tuple[str, ...] = field(default=())
    # Roots expiring before the end of service that the file allows, because the board's
    # devices never check dates.
    allowed: tuple[str, ...] = field(default=())
    # With warnings: what to change in the file for build to take it, its lines named.
    fix: str | None = None

    def to_dict(self) -> dict[str, object]:
        c = self.choices
        return {
            "path": str(self.path),
            "board": _board_name(c.board) if c.board else None,
            "presets": list(c.presets),
            "targets": [_target_text(h, p) for h, p in c.targets],
            "service_until": c.service_until.date().isoformat(),
            "device": self.device,
            "outputs": [{"format": f, "path": p} for f, p in self.outputs],
            "warnings": list(self.warnings),
            "allowed": list(self.allowed),
        }


# ---------------------------------------------------------------------------------------
# Parsing what users type


def parse_target(text: str) -> tuple[str, int]:
    """``HOST[:PORT]`` (443 by default) -> (host, port); a host must be a DNS name or an
    IP address, so a typo fails here rather than at the first capture."""
    t = text.strip()
    if not t or any(c.isspace() for c in t):
        raise InputError(f"bad target '{text}'", hint="give HOST or HOST:PORT, e.g. mdash.net")
    if looks_like_a_path(t):  # parse_host_port would keep 'examples' of examples/x.pem
        raise InputError(
            f"bad target '{text}': init takes servers (HOST[:PORT]), not chain files",
            hint="add a saved chain to cabundle.yaml's targets: as '- chain: PATH'",
        )
    host, port = parse_host_port(t)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.match(host) or host.replace(".", "").isdigit():
            raise InputError(
                f"bad target '{text}': '{host}' is not a host name or IP address",
                hint="give HOST or HOST:PORT, e.g. mqtt.example.com:8883",
            ) from None
    return host, port


def parse_service_life(text: str, *, today: datetime) -> datetime:
    """A service life as users give it: a number of years from ``today`` (``5``) or the
    end date itself (``2031-06-30``). It must end after ``today``."""
    t = text.strip()
    start = as_datetime(today.date())
    if t.isdigit():
        years = int(t)
        if not 1 <= years <= MAX_SERVICE_YEARS:
            raise InputError(
                f"service life of {years} years is out of range 1-{MAX_SERVICE_YEARS}",
                hint="give years (e.g. 10) or the end date (YYYY-MM-DD)",
            )
        return add_years(start, years)
    end = as_datetime(parse_when(t, what="service end date").date())
    if end <= start:
        raise InputError(
            f"service end {end.date().isoformat()} is not after today ({start.date().isoformat()})",
            hint="give the date the last device is retired, or a number of years",
        )
    return end


def board_device(board: Board) -> str:
    """The ``device:`` value that states a board's verification rules: a registry name
    when one matches (``mbedtls-noclock``), else ``RULES:CLOCK``, with the board's
    mbedTLS line and ``+options``."""
    return profile_spec(board.device_profile())


# ---------------------------------------------------------------------------------------
# Rendering


def _target_text(host: str, port: int) -> str:
    h = f"[{host}]" if ":" in host else host
    return h if port == 443 else f"{h}:{port}"


def _quote(s: str) -> str:
    return json.dumps(s)


def _comment(text: str, *, indent: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        width=_WIDTH,
        initial_indent=f"# {indent}",
        subsequent_indent=f"# {indent}",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _outputs(board: Board | None) -> list[tuple[str, str, dict[str, object]]]:
    if board is None:
        return [("pem", "ca.pem", {})]
    out = board.output
    path = (
        out.path
        or {"pem": "ca.pem", "c": "ca_pem.h", "idf-bundle": "x509_crt_bundle.bin"}[out.format]
    )
    return [(out.format, path, dict(out.options))]


def _output_line(fmt: str, path: str, options: dict[str, object]) -> str:
    parts = [f"format: {fmt}", f"path: {_quote(path)}"]
    for k, v in options.items():
        parts.append(f"{k}: {_quote(v) if isinstance(v, str) else str(v).lower()}")
    return "  - {" + ", ".join(parts) + "}"


def _size_text(size: int) -> str:
    return f"{size // 1024}K" if size % 1024 == 0 else f"{size:#x}"


def _board_name(board: Board) -> str:
    """The board as the user named it: with the firmware version when one was given."""
    return board.full_name if board.version_given else board.name


def _board_lines(board: Board, pem_path: str | None) -> list[str]:
    lines = [f"# Board: {_board_name(board)} ({board.framework})"]
    lines += _comment(" ".join(board.description.split()))
    fs = board.filesystem
    if fs is not None:
        # "partition spiffs": a partition named as its file system is still told apart.
        where = (
            f"partition{'s' * (len(fs.partitions) > 1)} {', '.join(fs.partitions)}"
            if fs.partitions
            else f"the {'/'.join(fs.subtypes)} partition ({fs.pick})"
        )
        keep = f"; beside it: {', '.join(fs.config_files)}" if fs.config_files else ""
        lines += _comment(
            f"Its CA file is {fs.ca_path} in a {fs.fs_type} file system (profile {fs.profile})"
            f" on {where}{keep}."
        )
        if pem_path is not None:
            lines.append("# Put the bundle on units:")
            if board.layout is not None:
                try:
                    parts = fs.select(board.layout)
                except InputError:
                    parts = ()
                if parts:
                    size = _size_text(parts[0].size)
                    pack = (
                        f"#   esp-cabundle pack --fs {fs.fs_type} --profile {fs.profile} "
                        f"--size {size}"
                    )
                    rest = f"--bundle {pem_path} -o {parts[0].name}.bin"
                    if len(pack) + 1 + len(rest) > _WIDTH:  # fs/ca.pem: a line over 92
                        lines += [f"{pack} \\", f"#     {rest}"]
                    else:
                        lines.append(f"{pack} {rest}")
            lines.append(
                f"#   esp-cabundle update-dump dump.bin --board {_board_name(board)} "
                f"--bundle {pem_path} -o new.bin"
            )
    lines.append(f"# More: esp-cabundle boards {_board_name(board)}")
    return lines


def _warnings(choices: InitChoices, today: datetime) -> list[str]:
    """Roots of the chosen presets that expire before the end of service: ``build``
    will refuse them, so say so now."""
    return [message for message, _ in _expiring(choices, today)]


def _expiring(choices: InitChoices, today: datetime) -> list[tuple[str, datetime]]:
    """Each root of the presets expiring before the end of service: (what the policy
    says, when it expires)."""
    spec = BundleSpec(presets=choices.presets, policy=Policy(service_until=choices.service_until))
    bundle = resolve_bundle(spec, Catalog.load()).bundle
    ends = {e.label: e.certificate.not_after for e in bundle.entries}
    return [
        (v.message, ends.get(v.subject, choices.service_until))
        for v in check_policies(bundle, spec.policy, at=today, check_mbedtls=False)
        if v.policy in ("expires-before-service-end", "expired")
    ]


def _refused(text: str, path: Path, board: Board | None, today: datetime) -> tuple[str, ...]:
    """What ``build``'s gate refuses in the file as rendered (policies; targets are not
    captured here): init checks its own result as build will judge it."""
    # deferred: the gate (and mbedTLS's parse of each root) loads only for init's check
    from .gate import CaSource, gate_ca

    config = parse_config(text, path=path)
    try:
        gate_ca(
            CaSource.build(config.spec, config=config), board=board, at=today, check_targets=False
        )
    except PolicyError as e:
        return e.violations
    return ()


def _fix(text: str, path: Path, choices: InitChoices, today: datetime) -> str:
    """What to change in the file rendered so build takes it, naming its lines."""
    lines = text.splitlines()
    at = {key: n for n, line in enumerate(lines, 1) for key in (line.split(":")[0],)}
    expiring = _expiring(choices, today)
    said = [f"{path} does not build as written"]
    if expiring and "service_until" in at:
        first = min(end for _, end in expiring).date().isoformat()
        said.append(
            f"set service_until: {first} or earlier (line {at['service_until']}), or choose "
            "roots that outlive it (roots:, exclude:)"
        )
        if "# allow" in at:
            said.append(
                f"or, only if no unit checks dates, uncomment allow: (line {at['# allow']})"
            )
    if len(said) == 1:
        said.append("change what the warnings above name")
    return "; ".join(said[:2]) + (f", {said[2]}" if len(said) > 2 else "")


def dates_unchecked(board: Board | None) -> bool:
    """Whether the board's devices never check certificate dates (no clock), so a root
    past its expiry still anchors their chains."""
    return board is not None and board.verify.clock == "none"


def render_config(choices: InitChoices, *, today: datetime) -> tuple[str, tuple[str, ...]]:
    """The commented ``cabundle.yaml`` for ``choices``, and warnings about it (roots that
    expire before the end of service, which ``build`` will refuse). For a board whose
    devices never check dates those roots are allowed in the file instead (no warning):
    the file builds as is.

    The same choices and ``today`` give the same text.
    """
    board = choices.board
    outputs = _outputs(board)
    pem_path = next((p for f, p, _ in outputs if f == "pem"), None)
    until = choices.service_until.date().isoformat()
    warnings = _warnings(choices, today)

    lines = [
        "# cabundle.yaml: the CA bundle these devices trust (written by 'esp-cabundle init').",
        "#   esp-cabundle build           # writes the outputs below and cabundle.lock",
        f"#   esp-cabundle check --until {until}"
        + (
            "   # will the targets keep accepting it?"
            if choices.targets
            else " --roadmap letsencrypt"
        ),
        "#   esp-cabundle roots --presets # what each preset holds, and why",
        "#",
    ]
    if board is not None:
        lines += _board_lines(board, pem_path)
    else:
        lines += _comment(
            "No board chosen: a generic ca.pem. 'esp-cabundle boards' lists profiles that "
            "know where each platform keeps its CA (re-run init with --board NAME)."
        )
    lines += ["", "# Roots: one preset or a list; add roots by alias, SHA-256 or file."]
    if len(choices.presets) == 1:
        lines.append(f"preset: {choices.presets[0]}")
    else:
        lines.append("preset: [" + ", ".join(choices.presets) + "]")
    lines += [
        "# roots: [amazon-root-ca-1]",
        "# exclude: [usertrust-rsa]",
        "",
        "# The devices' end of service: build refuses a root that expires before it.",
        f"service_until: {until}",
    ]
    if warnings and dates_unchecked(board):
        assert board is not None
        lines += _comment(
            f"These roots expire before then. {board.name} devices never check dates, so "
            "an expired root still anchors their chains: allowed below. Remove the allow "
            "line if units that check dates share this bundle."
        )
        for w in warnings:
            lines += _comment(f"- {w}", indent="  ")
        lines.append("allow: [expires-before-service-end]")
        warnings = []
    elif warnings:
        lines += _comment(
            "These roots expire before then, so build refuses them until you choose: "
            "shorter life, other roots, or allow it (devices without a clock never "
            "check dates)."
        )
        for w in warnings:
            lines += _comment(f"- {w}", indent="  ")
        lines.append("# allow: [expires-before-service-end]")
    lines += ["# max_bytes: 16384            # size budget for each output, in bytes", ""]

    device = board_device(board) if board is not None else None
    if device is not None:
        profile = parse_device_profile(device)
        lines.append(
            "# How these devices verify servers (check and build apply it to every target):"
        )
        if profile.description:
            lines += _comment(f"{device}: {profile.description}")
        lines.append(f"device: {device}")
    else:
        lines += _comment(
            "How devices verify servers; without it check assumes mbedtls-clock (dates "
            "checked). Others: mbedtls-noclock, idf-bundle (esp-cabundle check --help)."
        )
        lines.append("# device: mbedtls-noclock")
    lines.append("")

    if board is not None:
        lines += _comment(
            "The board and the firmware version its units run: build, pack, check, push and "
            "fs put take it when no --board is given, and judge the firmware's own "
            "connections with it."
        )
        lines += [f"board: {_quote(_board_name(board))}", ""]
    lines += _comment(
        "Servers the fleet connects to (HOST or HOST:PORT). 'esp-cabundle chains pull' "
        "saves their chains under chains/ so check and build run offline; build captures "
        "a chain live when none is saved, and refuses a bundle a target would reject."
    )
    if choices.targets:
        lines.append("targets:")
        lines += [f"  - {_quote(_target_text(h, p))}" for h, p in choices.targets]
    else:
        lines += ["# targets:", "#   - mqtt.example.com:8883"]
    lines += ["", "# Files build writes (paths relative to this file)."]
    lines.append("outputs:")
    lines += [_output_line(f, p, o) for f, p, o in outputs]
    return "\n".join(lines) + "\n", tuple(warnings)


def refuse_build_file_name(path: Path, board: Board | None, *, outputs: bool = True) -> None:
    """InputError when the config ``path`` is a file its own build writes: the lock
    beside it (``init -o cabundle.lock`` wrote a config there, then printed ``build -c
    cabundle.lock`` as the next step, which build refuses), or, with ``outputs``, the
    output the board's config names (``-o ca.pem``, refused as a bug in init's words)."""
    from .build import LOCK_NAME  # deferred: only for this comparison

    base = base_dir_of(path)
    own = [("the lock file its build writes", base / LOCK_NAME)]
    if outputs:
        own += [(f"its {fmt} output", base / out) for fmt, out, _ in _outputs(board)]
    for what, where in own:
        if os.path.realpath(where) == os.path.realpath(path):
            raise InputError(
                f"{path} is {what}: build -c {path} would refuse it; nothing written",
                hint=f"name the config otherwise, e.g. -o {path.with_name(CONFIG_NAME)}",
            )


def write_config(
    choices: InitChoices,
    *,
    path: str | Path = CONFIG_NAME,
    today: datetime,
    force: bool = False,
) -> InitResult:
    """Render, validate with ``build``'s own parser, then write ``path`` atomically.

    An existing file is refused (unchanged) unless ``force``.
    """
    p = Path(path)
    if os.path.exists(p) and not force:
        raise InputError(
            f"{p} already exists; nothing written",
            hint="pass --force to replace it, or -o to write another file",
        )
    if os.path.isdir(p):
        raise InputError(f"{p} is a directory", hint="give a file name with -o")
    refuse_build_file_name(p, choices.board)
    text, warnings = render_config(choices, today=today)
    try:
        parse_config(text, path=p)
    except ConfigError as e:  # pragma: no cover - a bug in render_config, not user input
        raise ConfigError(f"init produced a config build would refuse: {e}") from e
    warnings = tuple(dict.fromkeys([*warnings, *_refused(text, p, choices.board, today)]))
    write_atomic(p, text.encode("utf-8"))
    outputs = tuple((f, path_) for f, path_, _ in _outputs(choices.board))
    device = board_device(choices.board) if choices.board is not None else None
    allowed = tuple(_warnings(choices, today)) if dates_unchecked(choices.board) else ()
    fix = _fix(text, p, choices, today) if warnings else None
    return InitResult(p, text, choices, device, outputs, warnings, allowed, fix)


def board_choices() -> Sequence[tuple[str, str]]:
    """(name, framework) of every shipped board, for a prompt."""
    return [(b.name, b.framework) for b in list_boards()]
