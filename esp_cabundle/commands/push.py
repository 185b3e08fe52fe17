"""``esp-cabundle push``: put the CA file on units in the field, as a resumable campaign."""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from ..dates import now
from ..errors import InputError
from ..push.campaign import CampaignOptions, PushFile, run_campaign
from ..push.files import LEAST_FRAME_BUDGET, UnitFiles
from ..push.ledger import DEFAULT_LEDGER, AnotherCampaign, Ledger, check_ledger
from ..push.ledger_status import campaign_finished, read_status
from ..push.mqtt import MqttTransport
from ..text import byte_count, printable
from ..ui import note
from ._device_ids import device_ids
from ._interrupt import stop_on_signals
from ._push_again import unit_board_again
from ._push_gate import PUSH_ALLOW, gated_ca
from ._push_links import (
    CaForecast,
    checked_broker_url,
    connection_targets,
    open_transports,
    project_config,
    refuse_before_gate,
    server_targets,
)
from ._push_render import (
    SHOWN,
    dry_run_exit_code,
    render_dry_run,
    render_report,
    render_status,
    run_exit_code,
)
from ._push_status_units import print_status_units
from ._push_sub import refuse_options_before, refuse_subcommand_as_url
from ._push_until import Until, WatchLog, as_typed, day_end, until_words
from ._unit import units_progress
from ._usage import split_option, typed_words, usage_error, with_option
from .ca_source import ca_options
from .options import (
    CLI_SPELLING,
    FILE_PATH,
    Name,
    Whole,
    at_option,
    board_option,
    file_option,
    json_option,
    quiet_option,
    required_board,
    seconds_option,
    timeout_option,
    wide_option,
)

if TYPE_CHECKING:
    from ..boards import Board
    from ..push.campaign import CampaignReport, PushFile
    from ..push.transport import Transport

_MDASH_DEFAULT = "https://mdash.net/api/v2"  # push.mdash.DEFAULT_MDASH_URL, without importing it
_STOPPING = "no new unit is started; the units in hand are finished and recorded first."
_QUITTING = (
    "units in hand are left as a power cut leaves them (each still holds its old CA file "
    "or the new one); run the same command again to finish them."
)
_QUITTING_IN_PLACE = (
    "units in hand are left as a power cut leaves them: with --in-place, one cut off "
    "mid-write holds a partial CA file; run the same command again now to finish them."
)


def _ledger_option(f: Any) -> Any:
    return click.option(
        "--ledger",
        "ledger_path",
        type=FILE_PATH,
        default=DEFAULT_LEDGER,
        show_default=True,
        metavar="FILE",
        help="The campaign ledger (SQLite, mode 0600).",
    )(f)


@click.group("push", invoke_without_command=True)
@click.option(
    "--mdash",
    "mdash_url",
    type=Name("mDash URL"),
    is_flag=False,
    flag_value=_MDASH_DEFAULT,
    default=None,
    metavar="[URL]",
    help=f"Reach units through mDash's REST API (default URL {_MDASH_DEFAULT}). The key "
    "comes from MDASH_API_KEY or --api-key-file, never from the command line.",
)
@file_option(
    "--api-key-file", help="Read the mDash API key from this file (instead of MDASH_API_KEY)."
)
@click.option(
    "--mqtt",
    "mqtt_url",
    type=Name("broker"),
    envvar="ESP_CABUNDLE_MQTT",
    metavar="URL",
    help="Mongoose OS RPC over MQTT: mqtt://[user@]host[:port] or mqtts://... (also from "
    "ESP_CABUNDLE_MQTT, the only place a user:password URL is accepted).",
)
@file_option(
    "--mqtt-password-file", help="Read the MQTT password from this file (or set MQTT_PASSWORD)."
)
@file_option(
    "--tls-ca",
    "tls_ca",
    help="Verify the broker or server (mqtts://, https://, wss://) with this CA file "
    "instead of the system's roots (refused when no link of the run uses TLS).",
)
@click.option(
    "--device",
    "devices",
    type=Name("device id"),
    multiple=True,
    metavar="ID",
    help="A unit's device id.",
)
@file_option("--devices", "devices_file", help="A file of device ids, one per line (# comments).")
@click.option(
    "--rpc",
    "rpc_urls",
    type=Name("unit"),
    multiple=True,
    metavar="URL",
    help="A Mongoose OS unit on the LAN: http://host/rpc or ws://host/rpc (repeatable).",
)
@board_option()
@ca_options(no_check=False, allow=PUSH_ALLOW)
@at_option
@click.option(
    "--server",
    "servers",
    type=Name("server"),
    multiple=True,
    metavar="HOST[:PORT]",
    help="The server the units' connection goes to, checked against the new CA (default: "
    "the mDash host, or the mqtts:// broker). Its chain is read from chains/HOST.pem.",
)
@_ledger_option
@click.option(
    "--concurrency",
    type=Whole(1, 256, what="a number of units at a time"),
    default=8,
    show_default=True,
    help="How many units are worked on at the same time.",
)
@timeout_option("each answer", maximum=600)
@click.option(
    "--frame-size",
    # The bound is the file data alone: the envelope's share is the units' (their ids),
    # judged once they are listed (_check_frame_size), whose refusal names a size that
    # works; a fixed 256 here sent --frame-size 100 to 256, which a unit then refused.
    type=Whole(LEAST_FRAME_BUDGET, 1 << 20, what="a number of bytes"),
    metavar="BYTES",
    help="The units' frame budget (default: 3072 over MQTT, 4096 otherwise). Each frame "
    "also holds the request's envelope (method, file name, the unit's id, over MQTT the "
    "reply topic), so the smallest that works depends on the device id (over 200); one "
    "too small is refused, naming that minimum, before any unit is touched.",
)
@click.option(
    "--in-place",
    is_flag=True,
    help="Write the CA file directly, in frames, with no ca.pem.new beside it: for units "
    "without room for a second copy (a unit that refuses the write gets its old file back; "
    "one cut off mid-write holds a partial file until the next run finishes it).",
)
@click.option("--reboot", is_flag=True, help="Reboot each updated unit and wait for it to return.")
@seconds_option(
    "--reconnect-timeout",
    minimum=1,
    maximum=3600,
    default=120.0,
    help="Seconds to wait for a rebooted unit to answer again.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Keep polling for units that come online, and retry failed units (each wait "
    "twice the last, up to an hour).",
)
@click.option(
    "--until",
    type=Until(),
    metavar="DATE",
    help="With --watch: watch through this date (UTC; a date-time: until then). Default: "
    "the date the units' current CA stops working, when the forecast knows it.",
)
@seconds_option("--poll", maximum=86400, default=60.0, help="Seconds between passes with --watch.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Read every unit's CA file and say what a push would do; write nothing. Exits "
    "as a real run would: 0 only when every unit would end verified, up to date or "
    "unused.",
)
@json_option
@wide_option
@quiet_option
@click.pass_context
def push(ctx: click.Context, /, **opts: Any) -> None:
    """Put the CA file on units in the field that still connect, verify it on each unit,
    and record every unit in a campaign ledger; run it again (or keep it running with
    --watch) until every unit is done. --board says where the CA file lives on the units
    (and whose rules judge the CA).

    Per unit: read its CA file (identical: up to date); write ca.pem.new in frames that
    fit the unit, read it back and compare SHA-256, rename it onto the CA path, read
    that back; with --reboot, reboot and wait for the unit to come back. A unit whose
    firmware does not read the file (mDash 1.2.16) is recorded "unused", not written,
    and listed as not protected by it. --board defaults to the config's board:. Exit 0
    when every listed unit is verified, up to date or unused (no push can change it),
    else 3.

    \b
    Examples:
      MDASH_API_KEY=... esp-cabundle push --mdash --board mdash-arduino \\
          --bundle ca.pem
      esp-cabundle push --mqtt mqtt://broker.local --devices units.txt \\
          --board mongoose-os-esp32 --bundle ca.pem --server api.example.com \\
          --watch --until 2026-12-31
      esp-cabundle push --rpc http://192.168.1.20/rpc \\
          --board mongoose-os-esp32 --bundle ca.pem --allow unjudged
      esp-cabundle push status --csv
    """
    refuse_subcommand_as_url(ctx, opts)
    if ctx.invoked_subcommand is not None:
        refuse_options_before(ctx, ctx.invoked_subcommand)
        return
    _run(ctx, **opts)


# ---------------------------------------------------------------------------------------
# Running


def _board_for(ctx: click.Context, opts: dict[str, Any]) -> Board:
    try:
        return required_board(opts["board"], lambda: project_config(opts), command="push")
    except click.UsageError as e:
        e.ctx = ctx  # the usage line of push's subcommand, as before
        raise


def _check_until(ctx: click.Context, opts: dict[str, Any]) -> datetime | None:
    # Like --until, an option of a mode not asked for is refused, not silently ignored:
    # `push --poll 300` made one pass and exited 3 to a user who meant to watch.
    for name, flag, mode in (("poll", "--poll", "--watch"),
                             ("reconnect_timeout", "--reconnect-timeout", "--reboot")):  # fmt: skip
        if not opts[mode.lstrip("-")] and _typed(ctx, name):
            words = with_option(typed_words(ctx), mode)
            raise usage_error(f"{flag} only applies with {mode}", words)
    until: datetime | None = opts["until"]
    if until is None:
        return None
    if not opts["watch"]:
        raise usage_error(
            "--until only applies with --watch (a run without it makes one pass)",
            with_option(typed_words(ctx), "--watch"),
        )
    if until <= now():
        words, _ = split_option(typed_words(ctx), ("--until",), takes_value=True)
        raise usage_error(
            f"--until {as_typed(ctx, 'until')} is already past{day_end(ctx, 'until')}: "
            "give a later date",
            with_option(words, "--until", (now() + timedelta(days=1)).date().isoformat()),
        )
    return until


def _typed(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def _check_frame_size(transports: list[Transport], push_file: PushFile, given: int) -> None:
    """Refuse a --frame-size that leaves no room for file data in some unit's frames,
    before any unit is touched, naming the smallest that works."""
    worst, unit = 0, ""
    for t in transports:
        for ref in t.units():
            channel = t.channel(ref.id, ref.address)
            try:
                files = UnitFiles(
                    channel, frame_budget=t.frame_budget, timeout=1.0, spelling=CLI_SPELLING
                )
                # The user's size less what the link takes from it (MQTT: the topic).
                needed = given - t.frame_budget + files.min_budget(push_file.temp_name)
            finally:
                channel.close()
            if needed > worst:
                worst, unit = needed, ref.id
    if worst > given:
        raise InputError(
            f"--frame-size {given} leaves no room for file data in the frames to unit "
            f"{unit}: each frame also holds the request's envelope (method, file name "
            f"{push_file.temp_name}, the unit's id), so for this device id it needs at "
            f"least {byte_count(worst)}",
            hint=f"give --frame-size {worst} or more (Mongoose OS rpc.max_frame_size is 4096, "
            "mqtt.recv_mbuf_limit 3072)",
        )


def _run(ctx: click.Context, **opts: Any) -> None:
    _set_aside_environment_broker(ctx, opts)
    if not (opts["mdash_url"] or opts["mqtt_url"] or opts["rpc_urls"]):
        raise usage_error(
            "say how to reach the units: --mdash, --mqtt or --rpc",
            with_option(typed_words(ctx), "--mdash"),
            why="mDash's API; or --mqtt mqtt://broker.local, --rpc http://192.168.1.20/rpc",
        )
    # Parsed once, here: a password in argv is refused before the verdict.
    broker = checked_broker_url(ctx, opts) if opts["mqtt_url"] else None
    board = _board_for(ctx, opts)
    board.file_system(CLI_SPELLING)  # a CA compiled into the firmware leaves no file to push
    until = _check_until(ctx, opts)
    ids = device_ids(opts)  # a bad --devices file is said before the CA is judged
    given = refuse_before_gate(ctx, opts, ids, broker)

    targets, base, listed = connection_targets(opts, broker)
    gated = gated_ca(board, server_targets(opts, broker), opts)
    push_file = PushFile.for_board(gated, board)
    forecast = CaForecast(board, targets, base, listed)  # each CA file met judged once
    options = CampaignOptions(
        spelling=CLI_SPELLING,
        concurrency=opts["concurrency"],
        timeout=opts["timeout"],
        reboot=opts["reboot"],
        reconnect_timeout=opts["reconnect_timeout"],
        watch=opts["watch"],
        until=until,
        poll=opts["poll"],
        deadline_for=forecast.deadline,
        go_dark_for=forecast.go_dark,
        roadmap_for=forecast.roadmap,
        judged_against=forecast.judged_against,
        in_place=opts["in_place"],
        unit_board_again=unit_board_again(ctx, opts),
    )
    quiet = opts["quiet"] or opts["as_json"]

    note(f"CA: {gated.summary}; SHA-256 {push_file.sha256[:16]}...", quiet=quiet, wrap=True)
    for text in gated.notes:  # which servers were judged on what, and which were not
        note(f"note: {printable(text)}", quiet=quiet, wrap=True)
    transports = open_transports(opts, ids, broker, given)
    try:
        for t in transports:
            t.units()  # credentials and device ids are checked before any ledger exists
        if opts["frame_size"] is not None:
            _check_frame_size(transports, push_file, opts["frame_size"])
        # The ledger's refusals (another campaign's), read only, before any progress bar:
        # a real run drew "units 0/? listing units ..." above the error. A dry run, which
        # writes no ledger, previews anyway, says it and exits 2 as a real run would.
        ledger_notes: list[str] = []
        try:
            check_ledger(opts["ledger_path"], ca_sha256=push_file.sha256, board=push_file.board)
        except AnotherCampaign as e:
            if not opts["dry_run"]:
                raise
            ledger_notes.append(f"{e.message}: a real run with it is refused ({e.hint})")
        if opts["dry_run"]:
            said = given.warned
            if code := _dry_run(transports, push_file, options, opts, said, ledger_notes, quiet):
                ctx.exit(code)
            return
        if opts["watch"]:
            note(_watch_plan(until, opts["poll"]), quiet=quiet, wrap=True)
        report, masked = _campaign(
            transports,
            push_file,
            options,
            opts["ledger_path"],
            quiet=quiet,
            log_quiet=opts["quiet"],
        )
    finally:
        for t in transports:
            t.close()
    traffic = sum(t.traffic.sent + t.traffic.received for t in transports)
    render_report(report, push_file, opts, traffic, said=(*given.warned, *masked))
    if code := run_exit_code(report):
        ctx.exit(code)


def _watch_plan(until: datetime | None, poll: float, *, dry: bool = False) -> str:
    """What --watch will do and when it stops, said before it starts: it may run for days;
    ``dry``: a dry run's note that it made its one pass only (it did so unsaid)."""
    end = (
        f"{until_words(until)}, as --until says"
        if until is not None
        else "until the day the units' current CA stops working, if a pass learns one"
    )
    span = f"a pass every {poll:g} s until every unit is done, or {end}"
    if dry:
        return f"--watch: a dry run makes one pass and does not watch (without --dry-run: {span})"
    return f"Watching: {span}; Ctrl-C stops it (units in hand are finished first)"


def _set_aside_environment_broker(ctx: click.Context, opts: dict[str, Any]) -> None:
    """ESP_CABUNDLE_MQTT stands in for a typed --mqtt, where a password may be given: kept
    in a shell's environment, it made every ``push --rpc`` and ``push --mdash`` also reach
    units through the broker ("--mqtt needs the units' ids", or each --device asked over
    both). A run that names its units' links on the command line uses those alone."""
    typed = opts["mdash_url"] or opts["rpc_urls"]
    source = ctx.get_parameter_source("mqtt_url")
    if opts["mqtt_url"] and typed and source is ParameterSource.ENVIRONMENT:
        opts["mqtt_url"] = None
        note(
            "ESP_CABUNDLE_MQTT is set, but the units are reached with "
            f"{'--mdash' if opts['mdash_url'] else '--rpc'}: its broker is not used "
            "(give --mqtt too to reach units through it as well, its password in "
            "MQTT_PASSWORD)",
            quiet=opts["quiet"] or opts["as_json"],
            wrap=True,
        )


def _campaign(
    transports: list[Transport],
    push_file: PushFile,
    options: Any,
    ledger_path: Path,
    *,
    quiet: bool,
    log_quiet: bool,
) -> tuple[CampaignReport, tuple[str, ...]]:
    """The run's report, and the lines said on stderr of the masking binding did (in the
    report's notes too, for --json: not printed again)."""
    stop, finished = threading.Event(), threading.Event()
    box: dict[str, Any] = {}
    # No terminal: a line a pass, on stderr, so --json (the document on stdout) keeps it;
    # only -q silences the log a service manager's journal needs.
    log = WatchLog.wanted(watch=options.watch, quiet=log_quiet)
    if log is not None:
        for t in transports:
            if isinstance(t, MqttTransport):
                log.follow(t)  # the broker lost or back, as the client sees it
    with Ledger(ledger_path) as ledger, units_progress(quiet=quiet) as bar:

        def progress(ev: Any) -> None:
            bar.event(ev)
            if log is not None:
                log.event(ev)

        def listing(n: int) -> None:
            _say_masked(ledger, box)  # at the start, not weeks later at a watch's end
            bar.total(n)
            if log is not None:
                log.listing(n)

        def work() -> None:
            try:
                box["report"] = run_campaign(
                    transports,
                    push_file,
                    ledger,
                    options,
                    progress=progress,
                    stop=stop,
                    on_listing=listing,
                    on_skipped=None if log is None else (lambda e: log.skipped(e.link)),
                )
            except BaseException as e:
                box["error"] = e
            finally:
                if log is not None:
                    log.close()
                finished.set()

        # Ctrl-C / SIGTERM: no unit is taken any more; every unit in hand is finished
        # and recorded, then the run stops (exit 130).
        # A third Ctrl-C quits at once: a unit cut off mid-write keeps its old CA file
        # (the new one goes to a staging file first) and the ledger its last committed
        # state, as after kill -9, which the next run finishes.
        with stop_on_signals(
            first=_STOPPING,
            repeat=_STOPPING,
            quit_on=3,
            quit_text=_QUITTING_IN_PLACE if options.in_place else _QUITTING,
        ) as cancel:
            threading.Thread(target=work, daemon=True).start()
            while not finished.wait(0.2):
                if cancel.requested:
                    stop.set()
    _say_masked(ledger, box)  # a run stopped before its first listing
    if "error" in box:
        raise box["error"]
    report: CampaignReport = box["report"]
    return report, tuple(box.get("said_masked", ()))


def _say_masked(ledger: Ledger, box: dict[str, Any]) -> None:
    """Say once, with -q too (the file itself was changed), what binding the ledger did
    to the unit URLs an older release stored with their query values."""
    said = ledger.masking.said(ledger.path)
    if said and not box.get("said_masked"):
        box["said_masked"] = said
        for line in said:
            note(line)


def _dry_run(
    transports: list[Transport],
    push_file: PushFile,
    options: CampaignOptions,
    opts: dict[str, Any],
    said: tuple[str, ...],
    ledger_notes: list[str],
    quiet: bool,
) -> int:
    """Survey every unit; the dry run's exit code (:func:`dry_run_exit_code`). The links'
    notes go with it as with a run's report, those ``said`` already not printed again;
    ``ledger_notes``: why a real run would refuse the ledger (then exit 2, as it would)."""
    from ..push.survey import survey  # deferred: dry runs only

    with units_progress(quiet=quiet) as bar:
        bar.total(sum(len(t.units()) for t in transports) if not quiet else 0)
        rows = survey(transports, push_file, options, progress=bar.event)
    notes = dict.fromkeys(n for t in transports for n in t.notes())  # as a run keeps them
    refused = bool(ledger_notes)  # exit 2 as the real run would, after the preview
    watch = [_watch_plan(options.until, opts["poll"], dry=True)] if opts["watch"] else []
    notes_all = [*ledger_notes, *watch, *notes]
    render_dry_run(rows, push_file, opts, notes=notes_all, said=said, refused=refused,
                   judged_against=options.judged_against)  # fmt: skip
    if opts["quiet"] and not opts["as_json"]:
        for text in ledger_notes:  # -q said nothing of why it exits 2: the real run's error
            click.echo(f"Error: {printable(text)}", err=True)
    return dry_run_exit_code(rows, refused=refused)


# ---------------------------------------------------------------------------------------
# push status


@push.command("status", short_help="Show a campaign's ledger: units per state, and each unit.")
@_ledger_option
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Every unit as CSV on stdout.")
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help=f"List every unit not yet updated or unused (default: the first {SHOWN} of each).",
)
@wide_option
def status(ledger_path: Path, as_json: bool, as_csv: bool, show_all: bool) -> None:
    """Show a campaign's ledger: units per state (the first ten of each by id, and how
    many more), the day each unit's current CA file stops accepting the campaign's
    servers ("goes dark": a date, "at least since" a date when it already fails, with
    check's roadmap date beside it when it tells one, "none found"
    within the forecast's 20 years, or "unknown": its file never read or not judged,
    or recorded by an older release), and the units not updated yet. Exit 0 when the
    campaign is finished (every unit verified, up to date, reconnected or unused; --json's
    ok), else 3, as push exits.

    \b
    Examples:
      esp-cabundle push status
      esp-cabundle push status --ledger campaign.db --json
      esp-cabundle push status --csv > units.csv
    """
    if as_json and as_csv:
        raise InputError("give --json or --csv, not both: stdout carries one of them")
    if not os.path.isfile(ledger_path):
        given = click.get_current_context().get_parameter_source("ledger_path")
        raise InputError(
            f"no campaign ledger at {ledger_path}",
            # the hint to name one was wrong when one was named: then the path is
            hint="check the path: a ledger is the file a 'push --ledger FILE' run wrote "
            "(status never makes one)"
            if given is not ParameterSource.DEFAULT
            else f"give the ledger of the campaign with --ledger FILE (push writes "
            f"{DEFAULT_LEDGER} in the directory it runs in unless --ledger names another)",
        )
    # read only: writes nothing; a fleet of millions is read in bounded memory
    if as_json or as_csv:
        finished = print_status_units(ledger_path, as_json=as_json)  # the read printed
    else:
        view = read_status(ledger_path, shown=None if show_all else SHOWN)
        render_status(view, show_all=show_all, ledger=ledger_path)
        finished = campaign_finished(view.counts)
    if not finished:  # as the push that left it so exited: a unit not done
        click.get_current_context().exit(3)
