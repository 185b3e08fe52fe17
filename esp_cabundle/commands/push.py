"""``esp-cabundle push``: put the CA file on units in the field, as a resumable campaign."""

from __future__ import annotations

import csv
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..boards import load_board
from ..check import CheckFailed
from ..errors import InputError
from ..push.campaign import CampaignOptions, PushFile, run_campaign, survey
from ..push.ledger import STATES, Ledger
from ..ui import echo, emit_json, format_table, note
from ._interrupt import stop_on_signals
from ._push_links import connection_targets, deadline_for, open_transports, server_targets
from ._unit import units_progress
from .ca_source import ca_options
from .options import (
    FILE_PATH,
    Date,
    at_option,
    board_option,
    file_option,
    json_option,
    parse_at,
    quiet_option,
    timeout_option,
)

if TYPE_CHECKING:
    from ..boards import Board
    from ..check import Target
    from ..gate import GatedCA
    from ..push.campaign import CampaignReport, PushFile, SurveyRow
    from ..push.transport import Transport
    from .ca_source import CaOptions

DEFAULT_LEDGER = "cabundle-campaign.db"
_MDASH_DEFAULT = "https://mdash.net/api/v2"  # push.mdash.DEFAULT_MDASH_URL, without importing it
_STOPPING = "no new unit is started; the units in hand are finished and recorded first."
_NOT_DONE = ("pending", "offline", "writing", "rebooted", "failed")


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
    envvar="ESP_CABUNDLE_MQTT",
    metavar="URL",
    help="Mongoose OS RPC over MQTT: mqtt://[user@]host[:port] or mqtts://... (also from "
    "ESP_CABUNDLE_MQTT, the only place a user:password URL is accepted).",
)
@file_option(
    "--mqtt-password-file", help="Read the MQTT password from this file (or set MQTT_PASSWORD)."
)
@click.option(
    "--tls-ca",
    "tls_ca",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    metavar="FILE",
    help="Verify the broker or server (mqtts://, https://, wss://) with this CA file "
    "instead of the system's roots.",
)
@click.option("--device", "devices", multiple=True, metavar="ID", help="A unit's device id.")
@file_option("--devices", "devices_file", help="A file of device ids, one per line (# comments).")
@click.option(
    "--rpc",
    "rpc_urls",
    multiple=True,
    metavar="URL",
    help="A Mongoose OS unit on the LAN: http://host/rpc or ws://host/rpc (repeatable).",
)
@board_option()
@ca_options()
@at_option
@click.option(
    "--server",
    "servers",
    multiple=True,
    metavar="HOST[:PORT]",
    help="The server the units' connection goes to, checked against the new CA (default: "
    "the mDash host, or the mqtts:// broker). Its chain is read from chains/HOST.pem.",
)
@_ledger_option
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True)
@timeout_option("each answer", maximum=600)
@click.option(
    "--frame-size",
    type=click.IntRange(256, 1 << 20),
    metavar="BYTES",
    help="The units' frame budget (default: 3072 over MQTT, 4096 otherwise).",
)
@click.option("--reboot", is_flag=True, help="Reboot each updated unit and wait for it to return.")
@click.option(
    "--reconnect-timeout",
    type=click.FloatRange(1, 3600),
    default=120.0,
    show_default=True,
    help="Seconds to wait for a rebooted unit to answer again.",
)
@click.option("--watch", is_flag=True, help="Keep polling for units that come online.")
@click.option(
    "--until",
    type=Date(),
    metavar="DATE",
    help="Watch until this date (default: the date the units' current CA stops working, "
    "when the forecast knows it).",
)
@click.option(
    "--poll",
    type=click.FloatRange(0.1, 86400),
    default=60.0,
    show_default=True,
    help="Seconds between passes with --watch.",
)
@click.option("--dry-run", is_flag=True, help="Read every unit's CA file; write nothing.")
@json_option
@quiet_option
@click.pass_context
def push(ctx: click.Context, /, **opts: Any) -> None:
    """Put the CA file on units in the field that still connect, verify it on each unit,
    and record every unit in a campaign ledger; run it again (or keep it running with
    --watch) until every unit is done. --board says where the CA file lives on the units
    (and whose rules judge the CA).

    \b
    Per unit: read its CA file (identical: up to date); write ca.pem.new in frames that
    fit the unit, read it back and compare SHA-256, rename it onto the CA path, read
    that back; with --reboot, reboot and wait for the unit to come back.
    Exit 0 when every listed unit is verified or up to date, else 3.

    \b
    Examples:
      MDASH_API_KEY=... esp-cabundle push --mdash --board mdash-arduino --bundle ca.pem
      esp-cabundle push --mqtt mqtt://broker.local --devices units.txt \\
          --board mongoose-os-esp32 --bundle ca.pem --watch --until 2026-12-31
      esp-cabundle push --rpc http://192.168.1.20/rpc --board mongoose-os-esp32 --bundle ca.pem
      esp-cabundle push status --csv
    """
    if ctx.invoked_subcommand is not None:
        return
    _run(ctx, **opts)


# ---------------------------------------------------------------------------------------
# The CA: through the write-path gate, with the servers the units connect through


def _gated_ca(board: Board, servers: list[Target], opts: dict[str, Any]) -> GatedCA:
    """The CA file to push, gated for ``board`` like every write (esp_cabundle.gate):
    the link's ``servers`` are judged beside the config's targets, always (a push must
    never cut the connection it travels on, so --no-check is refused)."""
    ca: CaOptions = opts["ca"]
    if ca.no_check:
        raise click.UsageError("push never skips the check of the servers units connect to")
    try:
        return ca.gate(board=board, at=parse_at(opts["at"]), command="push", targets=servers)
    except CheckFailed as e:
        raise CheckFailed(
            "the new CA file would not accept the chain of a server the units connect "
            "to: pushing it would cut the connection it travels on; nothing written",
            violations=e.violations,
            hint="add the roots that server chains to (esp-cabundle check shows which)",
        ) from e


# ---------------------------------------------------------------------------------------
# Running


def _run(ctx: click.Context, **opts: Any) -> None:
    if not (opts["mdash_url"] or opts["mqtt_url"] or opts["rpc_urls"]):
        raise click.UsageError("say how to reach the units: --mdash, --mqtt or --rpc", ctx)
    if not opts["board"]:
        raise click.UsageError("--board is required: it says where the CA file lives", ctx)
    board = load_board(opts["board"])
    if board.filesystem is None:
        raise InputError(
            f"board {board.name} keeps its CA in {board.output.form} form, not in a file: "
            "there is no file on the units to replace",
            hint="ship new firmware built with 'esp-cabundle build' output instead",
        )

    targets, base = connection_targets(opts)
    gated = _gated_ca(board, server_targets(opts), opts)
    push_file = PushFile.for_board(gated, board)
    until = opts["until"]
    options = CampaignOptions(
        concurrency=opts["concurrency"],
        timeout=opts["timeout"],
        reboot=opts["reboot"],
        reconnect_timeout=opts["reconnect_timeout"],
        watch=opts["watch"],
        until=until,
        poll=opts["poll"],
        deadline_for=deadline_for(board, targets, base),
    )
    quiet = opts["quiet"] or opts["as_json"]

    note(f"CA: {gated.summary}; SHA-256 {push_file.sha256[:16]}...", quiet=quiet)
    transports = open_transports(ctx, opts)
    try:
        for t in transports:
            t.units()  # credentials and device ids are checked before any ledger exists
        if opts["dry_run"]:
            _dry_run(transports, push_file, options, as_json=opts["as_json"], quiet=quiet)
            return
        report = _campaign(transports, push_file, options, opts["ledger_path"], quiet=quiet)
    finally:
        for t in transports:
            t.close()
    traffic = sum(t.traffic.sent + t.traffic.received for t in transports)
    _render_report(report, push_file, opts, traffic)
    if report.stopped:
        ctx.exit(130)
    if not report.ok:
        ctx.exit(3)


def _campaign(
    transports: list[Transport],
    push_file: PushFile,
    options: Any,
    ledger_path: Path,
    *,
    quiet: bool,
) -> CampaignReport:
    stop, finished = threading.Event(), threading.Event()
    box: dict[str, Any] = {}
    with Ledger(ledger_path) as ledger, units_progress(quiet=quiet) as bar:

        def work() -> None:
            try:
                box["report"] = run_campaign(
                    transports,
                    push_file,
                    ledger,
                    options,
                    progress=bar.event,
                    stop=stop,
                    on_listing=bar.total,
                )
            except BaseException as e:
                box["error"] = e
            finally:
                finished.set()

        # Ctrl-C / SIGTERM: no unit is taken any more; every unit in hand is finished
        # and recorded, then the run stops (exit 130).
        with stop_on_signals(first=_STOPPING, repeat=_STOPPING) as cancel:
            threading.Thread(target=work, daemon=True).start()
            while not finished.wait(0.2):
                if cancel.requested:
                    stop.set()
    if "error" in box:
        raise box["error"]
    report: CampaignReport = box["report"]
    return report


# ---------------------------------------------------------------------------------------
# Rendering


def _render_report(
    report: CampaignReport, push_file: PushFile, opts: dict[str, Any], traffic: int
) -> None:
    done = sum(1 for r in report.rows if report.is_done(r))
    if opts["as_json"]:
        emit_json(
            {
                "ledger": str(opts["ledger_path"]),
                "board": push_file.board,
                "ca_sha256": push_file.sha256,
                "ok": report.ok,
                "interrupted": report.stopped,
                "passes": report.passes,
                "deadline": report.deadline.isoformat() if report.deadline else None,
                "counts": report.counts(),
                "bytes": traffic,
                "units": [r.to_dict() for r in report.rows],
            }
        )
        return
    quiet = opts["quiet"]
    counts = ", ".join(f"{n} {s}" for s, n in sorted(report.counts().items()))
    echo(f"{done} of {len(report.rows)} units done ({counts or 'none listed'}).", quiet=quiet)
    if report.deadline is not None:
        echo(f"The units' current CA stops working on {report.deadline.date()}.", quiet=quiet)
    left = [r for r in report.rows if not report.is_done(r)]
    if left and not quiet:
        rows = [(r.id, r.state, r.attempts, (r.last_error or "")[:70]) for r in left[:50]]
        echo(format_table(("unit", "state", "attempts", "last error"), rows))
        if len(left) > 50:
            echo(f"... and {len(left) - 50} more: esp-cabundle push status")


def _dry_run(
    transports: list[Transport], push_file: PushFile, options: Any, *, as_json: bool, quiet: bool
) -> None:
    with units_progress(quiet=quiet) as bar:
        bar.total(sum(len(t.units()) for t in transports) if not quiet else 0)
        rows: list[SurveyRow] = survey(transports, push_file, options, progress=bar.event)
    if as_json:
        units = [{k: getattr(r, k) for k in r.__slots__} for r in rows]
        emit_json({"dry_run": True, "ca_sha256": push_file.sha256, "units": units})
        return
    table = [
        (r.id, r.state, r.fw_version or "", (r.error or r.old_sha256 or "")[:64]) for r in rows
    ]
    echo(format_table(("unit", "would", "firmware", "current CA / error"), table), quiet=quiet)


# ---------------------------------------------------------------------------------------
# push status


@push.command("status")
@_ledger_option
@json_option
@click.option("--csv", "as_csv", is_flag=True, help="Every unit as CSV on stdout.")
def status(ledger_path: Path, as_json: bool, as_csv: bool) -> None:
    """Show a campaign's ledger: units per state, and the units not reached yet.

    \b
    Examples:
      esp-cabundle push status
      esp-cabundle push status --ledger campaign.db --json
      esp-cabundle push status --csv > units.csv
    """
    if not ledger_path.is_file():
        raise InputError(f"no campaign ledger at {ledger_path}", hint="give --ledger FILE")
    with Ledger(ledger_path) as ledger:
        meta, counts, rows = ledger.meta(), ledger.counts(), ledger.rows()
    if as_json:
        emit_json(
            {
                "campaign": {k: v for k, v in meta.items() if k != "schema"},
                "counts": counts,
                "units": [r.to_dict() for r in rows],
            }
        )
        return
    if as_csv:
        columns = list(rows[0].to_dict()) if rows else ["id", "state"]
        w = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r.to_dict())
        return
    echo(
        f"Campaign: board {meta.get('board', '?')}, CA SHA-256 "
        f"{meta.get('ca_sha256', '?')[:16]}..., started {meta.get('created_at', '?')}"
    )
    if meta.get("deadline"):
        echo(f"The units' current CA stops working on {meta['deadline'][:10]}.")
    echo(format_table(("state", "units"), [(s, counts[s]) for s in STATES]))
    left = [r for r in rows if r.state in _NOT_DONE]
    if left:
        echo(f"\nNot yet updated ({len(left)}):")
        table = [
            (r.id, r.state, r.attempts, r.last_seen or "never", (r.last_error or "")[:60])
            for r in left
        ]
        echo(format_table(("unit", "state", "attempts", "last seen", "last error"), table))
