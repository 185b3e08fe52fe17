"""``esp-cabundle init``."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import click

from .._signals import SignalInterrupt
from ..boards import load_board
from ..catalog import PRESETS
from ..clobber import refuse_clobbering
from ..config import CONFIG_NAME
from ..dates import add_years, nearest_date
from ..errors import EspCabundleError, InputError
from ..file_kinds import shell_word
from ..init_config import (
    DEFAULT_PRESET,
    DEFAULT_SERVICE_YEARS,
    InitChoices,
    board_choices,
    parse_service_life,
    parse_target,
    refuse_build_file_name,
    write_config,
)
from ..targets import looks_like_a_path
from ..text import printable, suggest
from ..ui import echo, emit_json, note, shown_path, warn
from ._usage import example_line, replaced_option, split_option, typed_words
from .options import (
    Name,
    Whole,
    at_option,
    board_option,
    json_option,
    output_path,
    parse_at,
    quiet_option,
)

if TYPE_CHECKING:
    from ..boards import Board

T = TypeVar("T")


@click.command()
@board_option(generic=True)
@click.option(
    "--preset",
    "presets",
    type=Name("preset"),
    multiple=True,
    metavar="NAME",
    help="Root preset (repeatable; default: default).",
)
@click.option(
    "--target",
    "targets",
    type=Name("server"),
    multiple=True,
    metavar="HOST[:PORT]",
    help="A server the devices connect to (repeatable, or comma-separated as the "
    "prompt takes them; port 443 unless given).",
)
@click.option(
    "--service-years",
    type=Whole(1, 50, what="a number of years"),
    metavar="N",
    help="Service life in years from today (default: 5).",
)
@click.option("--service-until", metavar="DATE", help="Service life: the end date (YYYY-MM-DD).")
@click.option(
    "-o",
    "--output",
    type=output_path(),
    default=Path("cabundle.yaml"),
    show_default=True,
    help="Config file to write.",
)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@click.option(
    "-y", "--yes", is_flag=True, help="Never ask: take the defaults for what is not given."
)
@at_option
@json_option
@quiet_option
def init(
    board: str | None,
    presets: tuple[str, ...],
    targets: tuple[str, ...],
    service_years: int | None,
    service_until: str | None,
    output: Path,
    force: bool,
    yes: bool,
    at: datetime | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Write a commented cabundle.yaml for a fleet: board, servers, service life, preset.

    Asks for what the flags do not give (or, with --yes, takes the defaults: no board,
    no targets, 5 years, the default preset). The file is checked with build's own
    parser before it is written, and an existing file is left alone without --force.
    Roots that expire before the end of service are named, since build refuses them.

    \b
    Examples:
      esp-cabundle init                                  # asks
      esp-cabundle init --board mdash-arduino --target mdash.net \\
          --service-years 8 --yes
      esp-cabundle init --board mongoose-os-esp32 --target mqtt.example.com:8883 \\
          --service-until 2032-12-31 --preset letsencrypt --yes
      esp-cabundle init --yes -o fleet/cabundle.yaml --force
    """
    today = parse_at(at)
    if service_years is not None and service_until is not None:
        words, _ = split_option(typed_words(), ["--service-years"], takes_value=True)
        raise InputError(
            "give --service-years or --service-until, not both",
            hint=example_line(words, why="the end date alone"),
        )
    # A config named as its lock: refused before "already exists" (--force would not help)
    refuse_build_file_name(output, None, outputs=False)
    if os.path.exists(output) and not force:  # before asking anything
        raise InputError(
            f"{output} already exists; nothing written",
            hint="pass --force to replace it, or -o to write another file",
        )
    ask = not yes
    # Every value given is checked before the first question: a bad --service-until was
    # refused only after the board and the servers had been asked for.
    parsed_targets = tuple(_parsed_target(t, typed) for typed in targets for t in _listed(typed))
    given_life = str(service_years) if service_years is not None else service_until
    end = _given_life(given_life, today) if given_life is not None else None
    if presets:
        _check_presets(presets)

    chosen_board = _load_board(board) if board is not None else None
    if board is not None or yes:  # its output is known before any question
        refuse_build_file_name(output, chosen_board)
    if chosen_board is not None:  # --force replaces a config, never the board file read
        refuse_clobbering([("config", output)], [("board file", Path(chosen_board.source))])
    if board is None and ask:
        chosen_board = _prompt_board()

    if not targets and ask:
        parsed_targets = _prompt(
            "Servers the devices connect to (HOST[:PORT], comma-separated; empty for none)",
            lambda s: tuple(parse_target(t) for t in s.split(",") if t.strip()),
            default="",
        )

    if end is None and ask:
        end = _prompt(
            "Service life: years from today, or the end date (YYYY-MM-DD)",
            lambda s: parse_service_life(s, today=today),
            default=str(DEFAULT_SERVICE_YEARS),
        )
    elif end is None:
        end = parse_service_life(str(DEFAULT_SERVICE_YEARS), today=today)

    # The preset last, as README says: chosen knowing the servers and the service life.
    if not presets:
        presets = (_prompt_preset(DEFAULT_PRESET),) if ask else (DEFAULT_PRESET,)

    choices = InitChoices(chosen_board, tuple(presets), parsed_targets, end)
    result = write_config(choices, path=output, today=today, force=force)
    if as_json:
        emit_json(result.to_dict())
        return
    for w in result.warnings:
        warn(f"{w} (build refuses it: see the comment below service_until)")
    if result.fix is not None:
        warn(result.fix)
    for w in result.allowed:
        note(f"note: {w}; allowed in the file, as these devices never check dates", quiet=quiet)
    echo(f"Wrote {shown_path(result.path)}", quiet=quiet)
    # Commands that run as printed from here: the file by -c unless it is the default
    # ./cabundle.yaml (outputs and chains are relative to the file, wherever run from).
    conf = "" if output == Path(CONFIG_NAME) else f" -c {shell_word(str(output))}"
    steps = []
    if parsed_targets:
        steps.append((f"esp-cabundle chains pull{conf}", "save the targets' chains (network)"))
    made = ", ".join(p for _, p in result.outputs)
    steps.append((f"esp-cabundle build{conf}", made + (" (once fixed)" if result.fix else "")))
    if parsed_targets:
        steps.append((f"esp-cabundle check{conf} --until {end.date().isoformat()}", ""))
    if not quiet:
        note("Next:")
        width = max(len(cmd) for cmd, _ in steps)
        for cmd, why in steps:
            note(printable(f"  {cmd:<{width}}  # {why}" if why else f"  {cmd}"))


def _listed(typed: str) -> list[str]:
    """The targets one ``--target`` names: ``a.example,b.example:8443`` is two, as the
    prompt takes them (a host name or address never holds a comma); ``''`` stays one,
    refused as no host."""
    return [t for t in typed.split(",") if t.strip()] or [typed]


def _parsed_target(text: str, typed: str) -> tuple[str, int]:
    """``--target`` parsed (``text``, one of those the value ``typed`` lists); one that is
    no host (``'bad host!'``) is refused with the line as typed, that target mended (its
    spaces or URL dropped) or else one of the help's, in place (the hint was a bare "e.g.
    mdash.net"). A chain file keeps its own hint."""
    try:
        return parse_target(text)
    except InputError as e:
        if looks_like_a_path(text.strip()):
            raise
        joined = "".join(text.split())  # 'mqtt.example .com': a slip; 'no such host': not
        mended = [joined if "." in joined else "", urlsplit(text.strip()).hostname or ""]
        given = [
            t for g in click.get_current_context().params.get("targets", ()) for t in _listed(g)
        ]
        fixed = next(
            t
            for t in [*mended, "mdash.net", "mqtt.example.com:8883"]
            if t and t != text and t not in given and _is_target(t)
        )
        value = ",".join(fixed if t == text else t for t in _listed(typed))
        words = [
            value if w == typed else f"--target={value}" if w == f"--target={typed}" else w
            for w in typed_words()
        ]
        e.hint = f"give HOST or HOST:PORT; {example_line(words)}"
        raise


def _is_target(text: str) -> bool:
    try:
        parse_target(text)
    except InputError:
        return False
    return True


def _given_life(text: str, today: datetime) -> datetime:
    """``--service-years``/``--service-until`` parsed; a date that is none gets the
    line as typed with one that is (the nearest real day, else five years on)."""
    try:
        return parse_service_life(text, today=today)
    except InputError as e:
        if e.hint is not None or text.strip().isdigit():
            raise
        example = nearest_date(text.strip()) or add_years(today, DEFAULT_SERVICE_YEARS)
        day = example if isinstance(example, str) else example.date().isoformat()
        words = replaced_option(typed_words(), ["--service-until"], "--service-until", day)
        e.hint = f"the end date as YYYY-MM-DD, or --service-years N: {example_line(words)}"
        raise


def _load_board(name: str) -> Board | None:
    if name.strip().lower() in ("none", ""):
        return None
    return load_board(name)


def _check_presets(presets: tuple[str, ...]) -> None:
    for p in presets:
        if p not in PRESETS:
            hint = suggest(p, PRESETS, f"presets: {', '.join(PRESETS)}")
            raise InputError(f"unknown preset '{p}'", hint=hint)


def _prompt(text: str, convert: Callable[[str], T], *, default: str) -> T:
    """Ask until the answer converts; a closed input is an error, Ctrl-C an interrupt."""

    def proc(value: str) -> T:
        try:
            return convert(value)
        except EspCabundleError as e:
            raise click.UsageError(str(e)) from e

    try:
        result: T = click.prompt(
            text, default=default, value_proc=proc, show_default=bool(default), err=True
        )
    except click.Abort as e:
        if isinstance(e.__context__, KeyboardInterrupt):  # the signal's name kept
            name = getattr(e.__context__, "signal_name", None)
            raise (KeyboardInterrupt() if name is None else SignalInterrupt(name)) from e
        raise InputError(
            f"no answer to '{text.split(' (')[0].split(':')[0]}' (input ended)",
            hint="pass --yes to take the defaults, or give the value as a flag",
        ) from e
    return result


def _prompt_board() -> Board | None:
    choices = board_choices()
    click.echo(
        "Boards (where the CA lives and how devices verify; 'none' for a generic ca.pem):",
        err=True,
    )
    for name, framework in choices:
        click.echo(f"  {name:30} {framework}", err=True)
    return _prompt("Board", _load_board, default="none")


def _prompt_preset(default: str) -> str:
    def convert(s: str) -> str:
        _check_presets((s.strip(),))
        return s.strip()

    return _prompt(f"Root preset ({', '.join(PRESETS)})", convert, default=default)
