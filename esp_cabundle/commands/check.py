"""``esp-cabundle check``."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..boards import load_board
from ..chains import load_chain_file, parse_host_port
from ..check import (
    CheckItem,
    Target,
    board_server_items,
    board_trust,
    chain_file_name,
    check_items,
    default_file,
    default_trust_set,
    load_trust_set,
    roadmap_items,
    target_items,
)
from ..clobber import refuse_clobbering, same_file
from ..config import find_config, load_config, not_read_hint
from ..dates import parse_when
from ..errors import EspCabundleError, InputError
from ..fileio import is_named
from ..own_servers import own_server_evidence
from ..report import write_html_report
from ..spelling import shell_join
from ..targets import ChainNotCaptured, chain_file_hint, parse_server, parse_target
from ..ui import echo, emit_json, note, shown_path, wrap_width
from ..verify import BUNDLE_DEVICE, DEFAULT_DEVICE, DeviceProfile, parse_device_profile
from ._check_outcome import check_document, check_outcome
from ._check_render import render_report
from ._missing import unstrayed
from ._usage import (
    example_line,
    gives,
    options_end,
    piped_roots_build,
    replaced_option,
    split_option,
    typed_words,
    usage_error,
    with_option,
)
from .options import (
    CLI_SPELLING,
    HOME_FILE_PATH,
    Date,
    Name,
    at_option,
    board_option,
    chosen_board,
    config_option,
    file_option,
    json_option,
    output_path,
    parse_at,
    quiet_option,
    timeout_option,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..boards import Board
    from ..config import Config


def _no_forecast_flag(ctx: click.Context, param: click.Parameter, given: bool) -> None:
    """``--forecast``, as the command list's "(forecast)" invites: click's guess for it
    was --host. The forecast is --until's horizon."""
    if not given:
        return
    typed = typed_words(ctx)
    until = "2035-01-01"
    # the horizon typed after it (--forecast 2035-06-30) is --until's value, not a word
    # click refuses as an extra argument
    at = next((i for i, w in enumerate(typed) if w in param.opts), len(typed)) + 1
    if at < options_end(typed) and _is_date(typed[at]):
        until = typed.pop(at)
    words, _ = split_option(typed, param.opts, takes_value=False)
    words, strays = unstrayed(ctx, words)
    whys = [*(["the devices' end of service"] if until == "2035-01-01" else []), *strays]
    chains = ("--host", "--chain", "--target", "--roadmap", "--board", "-c", "--config")
    if not any(gives(w, f) for w in words for f in chains) and not _config_here():
        # nothing to check outside a project: the line names chains that need no network
        words = with_option(words, "--roadmap", "letsencrypt")
        whys.append("no cabundle.yaml here to name targets: a --roadmap's chains, offline")
    raise usage_error(
        "check has no --forecast: give the horizon to forecast to as --until DATE",
        with_option(words, "--until", until),
        why="; ".join(whys),
    )


def _is_date(word: str) -> bool:
    """``word`` is a date --until takes (2035-01-01), so what --forecast was given."""
    try:
        parse_when(word)
    except InputError:
        return False
    return True


def _config_here() -> bool:
    """A cabundle.yaml here gives check its targets (one that cannot be read says so
    when check runs)."""
    try:
        return find_config() is not None
    except EspCabundleError:
        return True


def _device_profile(device: str) -> DeviceProfile:
    """``--device``'s profile; a board's name there (``--device mdash-arduino``) was told
    only the profile names, nothing of the board it named: the hint is the line typed
    with --board instead, which judges under that board's own profile."""
    try:
        return parse_device_profile(device)
    except InputError as e:
        try:
            load_board(device)
        except EspCabundleError:
            raise e from None
        ctx = click.get_current_context()
        words = replaced_option(typed_words(ctx), ("--device",), "--board", device)
        raise usage_error(
            f"--device {device}: a board, not a device profile",
            words,
            why="--board judges under the profile of that board's units",
        ) from None


@click.command()
@file_option(
    "--bundle",
    "bundle_path",
    help="Trust set: ca.pem, DER, C source or ESP-IDF x509_crt_bundle "
    "(default: the CA output the config's build wrote, never a ca.pem that is none of "
    "its outputs; with no CA outputs, the ca.pem beside the config, ./ca.pem without one; "
    "else the config's roots).",
)
@click.option(
    "--host",
    "hosts",
    type=Name("server"),
    multiple=True,
    metavar="HOST[:PORT]",
    help="Capture a server's chain live (port 443 unless given; repeatable).",
)
@click.option(
    "--chain",
    "chain_files",
    multiple=True,
    type=HOME_FILE_PATH,
    help="A saved chain, PEM, leaf first (repeatable).",
)
@click.option(
    "--target",
    "target_words",
    multiple=True,
    metavar="HOST|CHAIN",
    help="A server, judged as build judges --target: a saved chain file, or HOST[:PORT] "
    "whose chain is the one saved under chains/ beside the config (./chains/ with no "
    "config; a note names the file read), else captured live (repeatable).",
)
@click.option(
    "--hostname",
    metavar="NAME",
    help="The server name the device checks the certificate against (default: the host "
    "of --host, a target's host, or a chain file named after its server, e.g. "
    "chains/mdash.net.pem).",
)
@click.option(
    "--device",
    type=Name("device profile"),
    metavar="PROFILE",
    help="Device profile: mbedtls-noclock, mbedtls-clock, idf-bundle, ... or RULES:CLOCK.",
)
@board_option()
@click.option(
    "--until",
    type=Date(),
    metavar="DATE",
    help="Forecast: find the first date before DATE at which a verdict flips "
    "(default: the config's service_until, as build judges).",
)
@click.option(
    "--forecast",
    is_flag=True,
    hidden=True,
    expose_value=False,
    callback=_no_forecast_flag,
    help="Not an option: the forecast is --until DATE.",
)
@click.option(
    "--roadmap",
    "roadmaps",
    type=Name("roadmap"),
    multiple=True,
    metavar="NAME",
    help="Also check a CA's announced chains as what-ifs (e.g. letsencrypt).",
)
@config_option
@timeout_option("a live server")
@click.option(
    "--report",
    "report_path",
    type=output_path(),
    help="Also write a self-contained HTML page: timeline and verdict table.",
)
@at_option
@json_option
@quiet_option
def check(
    bundle_path: Path | None,
    hosts: tuple[str, ...],
    chain_files: tuple[Path, ...],
    target_words: tuple[str, ...],
    hostname: str | None,
    device: str | None,
    board: str | None,
    until: datetime | None,
    roadmaps: tuple[str, ...],
    config_path: Path | None,
    timeout: float,
    report_path: Path | None,
    at: datetime | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Will devices holding this bundle accept their servers' chains — now, and until when?

    Replays each chain under the device's own rules (mbedTLS CA list or ESP-IDF bundle
    callback, with or without a clock) and explains the path or the failure, with the
    error the unit would log. With --until, says the first date a verdict flips and why.
    Chains come from --host (captured live), --chain files and --target (as build's:
    a chain file, or a host whose chain saved under chains/ beside the config, or
    ./chains/ without one, is read, else captured live), else from the config's
    targets (saved chains, or live); --roadmap adds what a CA's servers send over time
    (past and announced), dating the day a server's change broke or will break the
    device. --board NAME@VERSION (default: the config's board:) judges the CA that
    firmware version uses (a compiled-in CA whatever --bundle says; its own default CA
    file without --bundle) and, unless --chain, --host or --target is given, the chains
    its own server sends over time, beside the config's targets.
    The horizon is --until, else the config's service_until (the horizon build
    judges the targets over), else the date checked alone.
    A target whose chain cannot be captured is said beside every verdict made.
    Exit 0 when every chain passes over the whole horizon, 1 when one fails (also
    with a target not captured: the failure is the answer), 3 when every chain judged
    passes but a target could not be captured.

    \b
    Examples:
      esp-cabundle check --bundle ca.pem --chain chains/mdash.net.pem \\
          --device mbedtls-noclock
      esp-cabundle check --host mqtt.example.com:8883 --until 2035-01-01
      esp-cabundle check --bundle ca.pem \\
          --target mdash.net   # its saved chains/mdash.net.pem, else live
      esp-cabundle check --bundle ca.pem --roadmap letsencrypt --until 2036-01-01
      esp-cabundle check --board mdash-arduino \\
          --json      # targets from cabundle.yaml
      esp-cabundle check --board mdash@1.2.16 \\
          --until 2036-01-01   # exit 1: its s_pem fails mdash.net in 2032
      esp-cabundle check --until 2035-01-01 --report forecast.html
    """
    if hostname is not None and not _SERVER_NAME.fullmatch(hostname):
        raise InputError(
            f"--hostname '{hostname}' is not a server name",
            hint="give the name the device checks, e.g. --hostname mdash.net",
        )
    chain_files, hosts, roadmaps, repeated = _each_once(chain_files, hosts, roadmaps)
    when = parse_at(at)
    path = config_path or find_config()
    config = load_config(path) if path else None
    service_until = config.spec.policy.service_until if config is not None else None
    if config is not None and bundle_path is not None:
        _refuse_bundle_beside_config(bundle_path, config.base_dir)
    # as build's gate reads --target (parse_target), before anything is read or written
    base = config.base_dir if config is not None else Path(".")
    targets, twice = _targets_once(target_words, hostname, base=base, config=config is not None)
    repeated += twice
    horizon, said = until, tuple[str, ...]()
    if horizon is None and service_until is not None and service_until > when:
        # A CI gate judges the horizon build judges (esp_cabundle.gate): the devices'
        # end of service, not only the date checked.
        horizon = service_until
        said = (
            f"forecast until the config's service_until, {service_until.date().isoformat()}, "
            "as build judges the targets (--until DATE for another horizon)",
        )
    if device and board:
        raise InputError("give --device or --board, not both")
    board_profile = None if device else chosen_board(board, config)
    # the file judged without --bundle, worked out once: --report must not replace it
    # (looked for only then: a ca.pem directory is no concern of a check given its bundle)
    chosen = None
    if report_path is not None:
        chosen = default_file(config, spelling=CLI_SPELLING) if bundle_path is None else None
        judged = bundle_path if chosen is None else chosen.path
        read = (judged, chain_files, targets, path, config, board_profile)
        _refuse_report_over_inputs(report_path, *read)

    profile = _device_profile(device) if device else None
    if board_profile is not None:
        profile = board_profile.device_profile()
    default = profile or (config.section("device") if config else None)
    notes: tuple[str, ...] = ()
    if board_profile is not None:
        trust, notes = board_trust(
            board_profile,
            bundle_path,
            fallback=lambda: default_trust_set(config, spelling=CLI_SPELLING, chosen=chosen),
        )
    else:
        trust = (
            load_trust_set(bundle_path)
            if bundle_path
            else default_trust_set(config, spelling=CLI_SPELLING, chosen=chosen)
        )
    if default is None and not trust.has_dates:
        # An ESP-IDF bundle is read by the ESP-IDF bundle code, never by a device that
        # loads a CA list: with no device named, judge it as the device that uses it.
        default = parse_device_profile(BUNDLE_DEVICE)
        notes += (
            f"the trust set is an ESP-IDF bundle: judged as {BUNDLE_DEVICE} (no --device "
            "given; --device idf5-bundle-clock for ESP-IDF 5.x, idf-bundle for no clock)",
        )
    default = default or parse_device_profile(DEFAULT_DEVICE)

    items: list[CheckItem] = []
    unreachable: list[ChainNotCaptured] = []  # each target not captured: the rest are judged
    progress = None if (quiet or as_json) else (lambda msg: note(msg))
    for f in chain_files:
        hint = chain_file_hint(f, pull=config is not None)  # as build --target says it
        chain = load_chain_file(f, spelling=CLI_SPELLING, hint=hint)
        named = hostname or chain_file_name(f, chain)
        refresh = f"refresh it ({hint})"
        item = CheckItem(f.name, chain, default, hostname=named, refresh=refresh, given=True)
        items.append(item)
    if hosts:
        servers = []
        for h in hosts:
            host, port = parse_host_port(h)
            servers.append(Target(h, host, port, hostname=hostname))
        items += target_items(
            servers,
            Path("."),
            device=default,
            live=True,
            timeout=timeout,
            progress=progress,
            explain_offline=False,  # --host asks for a live capture, not a saved chain
            spelling=CLI_SPELLING,
            unreachable=unreachable,
        )
    given = bool(hosts or chain_files or targets)  # else the config's targets are judged
    configured = config.section("targets", ()) if config is not None else ()
    if targets or not given:  # --target is judged as a config's target is, in one place
        items += target_items(
            targets or configured,
            config.base_dir if config is not None else Path("."),
            device=profile,
            default_device=default,
            timeout=timeout,
            progress=progress,
            spelling=CLI_SPELLING,
            pulled={t.name for t in configured},  # another --target's hint: chains show
            unreachable=unreachable,
        )
    if hostname and not given:
        items = [replace(i, hostname=hostname) for i in items]
    for name in roadmaps:
        items += roadmap_items(name, default)
    if board_profile is not None and not given:
        # The board's firmware connections are judged beside the config's targets: a
        # saved chain is one snapshot, the roadmap says what that server sends over time.
        own = board_server_items(board_profile, default)
        notes += _snapshot_notes(board_profile, config, own)
        # A saved chains/HOST.pem of that server is judged too, as every write path does
        # (esp_cabundle.own_servers), unless a config target already reads it.
        listed = {t.host for t in config.section("targets", ())} if config is not None else set()
        saved, evidence = own_server_evidence(
            [(c, ca) for c, ca in board_profile.connection_cas() if c.host not in listed],
            config.base_dir if config is not None else Path("."),
            default,
            at=when,
        )
        notes += evidence
        items += own + saved
    if not items and not unreachable:
        missed = not_read_hint() if path is None else None
        raise InputError(
            "nothing to check" + (f": no cabundle.yaml here ({missed})" if missed else ""),
            hint="give --chain FILE, --host HOST[:PORT], --target HOST|CHAIN or "
            "--roadmap NAME, or list targets: in cabundle.yaml",
        )
    report = check_items(
        trust,
        items,
        at=when,
        until=horizon,
        notes=(*said, *repeated, *notes),
        spelling=CLI_SPELLING,
        built_from=_roots_check_line(config_path) if config is not None else None,
    )
    written = None
    if report_path is not None:  # written whatever the verdict: CI keeps it as an artifact
        written = write_html_report(
            report_path, report, service_until=service_until, unjudged=unreachable
        )
    failed = check_outcome(report, unreachable, horizon=horizon is not None, quiet=quiet)
    if as_json:  # one shape, also when no chain could be judged (results: [])
        emit_json(check_document(report, unreachable, failed, report_path, written))
    elif not quiet:
        if items:  # nothing judged: the capture errors alone, as the error says them
            echo(render_report(report, width=wrap_width(96)))
        if report_path is not None and written is not None:  # as build and pack say it
            shown = shown_path(report_path)
            if written.unchanged:
                kept = f"{written.size:,} bytes, already these bytes; not rewritten"
                echo(f"unchanged: {shown} ({kept})")
            else:
                echo(f"Wrote {shown} ({written.size:,} bytes)")
    if failed is not None:
        raise failed


def _each_once(
    chain_files: tuple[Path, ...], hosts: tuple[str, ...], roadmaps: tuple[str, ...]
) -> tuple[tuple[Path, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Each chain file, server and roadmap once, and a note for each given again: judged
    twice, one chain would count as two passes (or two failures)."""
    notes: list[str] = []
    files: list[Path] = []
    for f in chain_files:
        twin = next((g for g in files if g == f or same_file(g, f)), None)
        if twin is None:
            files.append(f)
        else:
            again = "given twice" if twin == f else f"the same file as --chain {twin}"
            notes.append(f"--chain {f} is {again}: judged once")
    servers: dict[tuple[str, int], str] = {}
    for h in hosts:  # a path or a name with a space refused here, before any is dialled
        host, port = parse_server(h, "--host", "--chain")
        key = (host.lower().rstrip("."), port)
        if key in servers:
            again = "given twice" if h == servers[key] else f"the server of --host {servers[key]}"
            notes.append(f"--host {h} is {again}: judged once")
        else:
            servers[key] = h
    names = tuple(dict.fromkeys(roadmaps))
    notes += [f"--roadmap {n} is given twice: judged once" for n in names if roadmaps.count(n) > 1]
    return tuple(files), tuple(servers.values()), names, tuple(notes)


def _targets_once(
    words: tuple[str, ...], hostname: str | None, *, base: Path, config: bool
) -> tuple[list[Target], tuple[str, ...]]:
    """Each ``--target`` as build's gate reads it (:func:`~esp_cabundle.targets.parse_target`:
    a bad one is refused before anything is dialled), with ``--hostname`` as the name the
    device checks; each once, and a note for one given again (judged twice, one chain
    would count twice), also as the saved chain of a host given (``base``: where its
    ``chains/`` is), and for each host judged on a saved chain rather than live: which."""
    out: list[Target] = []
    read: list[tuple[Path, str]] = []  # the chain file each target reads, and its word
    notes: list[str] = []
    for word in words:
        t = parse_target(word, config=config)
        t = replace(t, hostname=hostname) if hostname else t
        chain = t.chain_path(base)
        saved = t.chain is None and is_named(chain, directory=False)
        chain_read = chain if t.chain is not None or saved else None
        twin = next(
            (w for f, w in read if chain_read and (f == chain or same_file(f, chain))), None
        )
        if t in out:
            notes.append(f"--target {word} is given twice: judged once")
        elif twin is not None:
            notes.append(f"--target {word} is given twice (as --target {twin}): judged once")
        else:
            out.append(t)
            read += [(chain, word)] if chain_read else []
            where = "" if config else " (no cabundle.yaml: the working directory's chains/)"
            said = f"--target {word}: judged on its saved chain {shown_path(chain)}{where}"
            notes += [f"{said}, not captured live"] if saved else []
    return out, tuple(notes)


def _refuse_bundle_beside_config(bundle: Path, base: Path) -> None:
    """``check -c fw/cabundle.yaml --bundle build/ca.pem`` from above ``fw/``: the
    command line's paths are the working directory's, the config's its own, so the
    output the config wrote is ``fw/build/ca.pem``. A missing --bundle that is there is
    said with the path that works, not a bare "no such bundle file"."""
    if bundle.is_absolute() or str(bundle) == "-" or os.path.lexists(bundle):
        return
    there = base / bundle
    if base.resolve() != Path.cwd().resolve() and there.is_file():
        raise InputError(
            "no such bundle file (a path given on the command line is the working "
            "directory's, not the config's)",
            path=str(bundle),
            hint=example_line(replaced_option(typed_words(), ["--bundle"], "--bundle", str(there))),
        )


def _snapshot_notes(board: Board, config: Config | None, own: list[CheckItem]) -> tuple[str, ...]:
    """Say so when a config target is the server of the board's own connection: its
    saved chain and the chains that server sends over time are both judged."""
    if not own or config is None:
        return ()
    hosts = {conn.host for conn, _ in board.connection_cas() if conn.host}
    return tuple(
        f"target {t.name} is the server of {board.full_name}'s own connection: its saved "
        "chain is one snapshot, so the chains it sends over time are judged too (the worse "
        "verdict counts)"
        for t in config.section("targets", ())
        if t.host in hosts
    )


# What mbedtls_ssl_set_hostname() is handed: a DNS name (one label too: "broker"), a
# wildcard pattern or an IP address; never empty, never with spaces or controls.
_SERVER_NAME = re.compile(r"[A-Za-z0-9*_.:\[\]-]{1,253}")


def _roots_check_line(config_path: Path | None) -> str:
    """The same check on the roots the project's config resolves to, piped as PEM (a
    bundle-only project has no ca.pem to name; as inspect's gate line, nothing is
    written): the command as typed, with ``--bundle -``; the build reads the config
    the check was given (``-c``), else finds it as the check did."""
    words = replaced_option(typed_words(), ["--bundle"], "--bundle", "-")
    build = piped_roots_build(config_path)
    return (
        f"check the roots it is built from, in its project: esp-cabundle {shell_join(build)}"
        f" | esp-cabundle {shell_join(words)}"
    )


def _refuse_report_over_inputs(
    report: Path,
    bundle: Path | None,
    chains: tuple[Path, ...],
    targets: Sequence[Target],
    config_path: Path | None,
    config: Config | None,
    board: Board | None,
) -> None:
    """``--report`` must not replace a file the check reads (its trust set ``bundle``:
    the one given, else the file judged without it; a chain, the config or a target's
    saved chain, a --target's; the board file and the partitions CSV it names), nor a
    file of the project whose config it read: its lock, the root and filter files it
    names and the outputs its build writes (``--report cabundle.lock`` would leave HTML
    where ``build --locked`` reads the pinned roots)."""
    inputs = [("bundle", bundle)] if bundle is not None else []
    inputs += [("chain file", c) for c in chains]
    inputs += [("config", config_path)] if config_path is not None else []
    inputs += config.project_files() if config is not None else []
    base = config.base_dir if config is not None else Path(".")
    inputs += [(f"chain of --target {t.name}", t.chain_path(base)) for t in targets]
    if config is not None:
        inputs += [
            (f"saved chain of target '{t.name}'", t.chain_path(config.base_dir))
            for t in config.section("targets", ())
        ]
    inputs += board.read_files() if board is not None else []
    refuse_clobbering([("report", report)], inputs)
