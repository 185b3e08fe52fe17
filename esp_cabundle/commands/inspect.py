"""``esp-cabundle inspect``."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .._stdin import stdin_named_twice
from ..boards import load_board
from ..clobber import same_file
from ..config import CONFIG_NAME, load_config
from ..errors import EspCabundleError, InputError, VerdictError
from ..flash.reading import inspect_port
from ..inspect import finding_status, inspect_path, report_document
from ..spelling import CLI_SPELLING, shell_join
from ..text import fact_line, plural, printable
from ..ui import Column, echo, emit_json, error_document, fit_lines, format_table, table_width
from ._fsopts import fs_command, no_input_hint
from ._inspect_reach import with_reach_note
from ._paths import refuse_directory, says_text
from ._unit import unit_progress
from ._usage import piped_roots_build
from .options import (
    Whole,
    at_option,
    board_option,
    config_option_reading,
    given_options,
    json_option,
    link_options,
    parse_at,
    port_option,
    quiet_option,
    wide_option,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from ..boards import Board
    from ..findings import Finding
    from ..flash.serial import Link
    from ..inspect import Report
    from ..targets import Target


# Past this many certificates in one input, the table lists its first and last
# EDGE_ROWS and counts the rest by status (--all lists every one): printing 400,000 rows
# took most of the 9.5 s and 336 MB of inspecting a 4 MiB bundle of tiny roots.
SUMMARY_PAST = 1_000
EDGE_ROWS = 10


@click.command()
# readable=False: an unreadable file is said by the tool's reader, without a usage banner
@click.argument("paths", nargs=-1, type=click.Path(path_type=str, readable=False))
@click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(["expired", "not-ca", "unparseable"]),
    multiple=True,
    help="Exit 1 if any certificate is expired (not a CA; one mbedTLS 2.28 or 3.6 cannot "
    "parse); with expired, also if a root has no dates to judge (an ESP-IDF bundle). "
    "An input holding no certificate fails any gate.",
)
@click.option(
    "--fail-within",
    "fail_within",
    type=Whole(0, what="a number of days"),
    metavar="DAYS",
    help="Exit 1 if any certificate expires within DAYS days.",
)
@port_option(required=False)
@board_option()
@config_option_reading(
    "inspect reads only the saved chains/ beside it (and its targets' chain: files), judging "
    "the board named with --board on them as check does (./chains/ without one)."
)
@click.option(
    "--no-apps",
    is_flag=True,
    help="With --port: skip app partitions (faster; certificates compiled into the "
    "firmware are then not reported).",
)
@link_options
@at_option
@click.option(
    "--all",
    "every_row",
    is_flag=True,
    help=f"List every certificate: past {SUMMARY_PAST:,} in one input, the table shows the "
    f"first and last {EDGE_ROWS} and counts the rest by status (--json always has all).",
)
@json_option
@wide_option
@quiet_option
def inspect(
    paths: tuple[str, ...],
    fail_on: tuple[str, ...],
    fail_within: int | None,
    port: str | None,
    board: str | None,
    config_path: Path | None,
    no_apps: bool,
    link: Link,
    at: datetime | None,
    every_row: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Show the certificates in PEM, DER or C files, ESP-IDF bundles, file-system images,
    whole-flash dumps and units: subject, not-after, days left, key, fingerprint, status.

    \b
    Examples:
      esp-cabundle inspect ca.pem
      esp-cabundle inspect src/mDash.c --json   # your copy of mDash's source
      esp-cabundle inspect data/ca.pem --fail-on expired --fail-within 365  # CI
      esp-cabundle inspect ca.pem --fail-on expired --fail-on unparseable
      esp-cabundle inspect --port /dev/ttyUSB0 --board mongoose-os-esp32  # a unit
      esp-cabundle inspect dump.bin --board mdash-arduino@1.2.13  # its firmware

    With --json: {"ok": true, "reports": [...]}, one report per input; a failed gate
    prints {"ok": false, "error": ..., "violations": [...], "reports": [...]}.

    An input holding more than 1,000 certificates (a PEM file under the 4 MiB cap holds
    about 8,000 small ones, an ESP-IDF bundle up to 4,096 roots) is shown as its first
    and last 10 rows and a count by status; --all lists every row, and --json always
    has them all.

    --port reads a unit as a flash dump; with --board, the unit's chip must match that
    board and its partition table offset is used. --board also names the board of a
    whole-flash dump, in place of the one its files mark (/mdash.cfg: mdash-arduino), and
    a note says where it contradicts them; a "board:" line says the board judged and how
    it was known. When the CA file the board reads no longer
    verifies its own servers (a DST-only /ca.pem), a note says since when (with a shipped
    roadmap's date, as check says it) and the flash or update-dump that fixes it; for a
    dump without --board, which firmware versions read the file, since its files do not
    tell which runs. A saved chains/HOST.pem here (beside the config -c names) is judged
    for a board named with --board, as update-dump judges it (one that cannot be read is
    a note). --json adds
    "board" (its name), "board_version" (as typed, else null), "board_how" (named or
    inferred) and "reach" (ok, ca_file, firm, hostname, failing_since as check --json
    gives it, chain_file: the saved chain it rests on), null when no verdict is given
    (--board mdash: no file read; no CA file, or one holding no certificate: a note).
    """
    _refuse_stdin_twice(paths)
    if port is None:
        _refuse_unit_options_without_port()
    if not paths and port is None:
        raise InputError(
            "nothing to inspect", hint="give one or more files: esp-cabundle inspect ca.pem"
        )
    for path in paths:  # said as other commands say it (one check), with a hint
        refuse_directory(path, None)
    when = parse_at(at)
    given = load_board(board) if board is not None else None  # refused before any read
    base, targets = _project_dir(config_path, given)  # as above
    reports = [  # '-' is standard input (read_input), never a missing file
        inspect_path(
            p,
            spelling=CLI_SPELLING,
            missing_hint=_missing_hint(p, fail_on, fail_within, at) if p != "-" else None,
            board=given,
        )
        for p in paths
    ]

    if given is not None and port is None:
        _refuse_board_without_dump(reports)
    unit = inspect_port_report(
        port, board=given, no_apps=no_apps, link=link, quiet=quiet or as_json
    )
    reports += [unit] if unit is not None else []
    # A CA file that cuts its board off its own servers says so (exit codes unchanged);
    # --board names the board of the unit and of every dump, else a dump's files do.
    reports = [with_reach_note(r, given, when, base=base, targets=targets) for r in reports]
    gate = gate_problems(reports, when, fail_on=fail_on, fail_within=fail_within, given_at=at)
    bad = tuple(p for r in reports for p in r.problems)  # a dump cut short: update-dump refuses it
    failed = (
        VerdictError(
            "; ".join(x for x in (gate.headline, *bad) if x),
            violations=(*bad, *gate.problems),
            hint=gate.hint or (_problems_hint(reports) if bad else None),
        )
        if gate.problems or bad
        else None
    )
    # Streamed: the certificates of a 400,000-root bundle are never all in memory as JSON.
    docs = [report_document(r, when, fail_within) for r in reports] if as_json else []
    if failed is not None and as_json:
        # The failure document every --json command prints, with the reports it judged.
        emit_json({**error_document(failed, failed.exit_code), "reports": docs})
    elif as_json:
        emit_json({"reports": docs})
    elif not quiet:
        for r in reports:
            echo(render_report(r, when, fail_within, every_row=every_row))
    if failed is not None:
        raise failed


def _problems_hint(reports: list[Report]) -> str:
    """What to do about the reports' problems: a dump cut short is read again; a unit's
    own flash is whole (a table listing partitions past its end was made for a larger
    flash: reading it again would show the same)."""
    if all(r.kind == "unit" for r in reports if r.problems):
        return (
            "the unit was flashed with a partition table built for a larger flash: "
            "write it the firmware and partition table built for its flash size"
        )
    return f"read the whole flash again ({CLI_SPELLING.read_all})"


@dataclass(frozen=True, slots=True)
class GateResult:
    """What ``--fail-on``/``--fail-within`` found: a line per problem, and what they
    count: certificates that failed, roots whose expiry cannot be judged (one line
    says how many an ESP-IDF bundle has), and inputs holding no certificate at all."""

    problems: tuple[str, ...] = ()
    failed: int = 0
    undated: int = 0
    empty: tuple[Report, ...] = ()
    roots_gate: str = ""  # the same gate run on the roots a bundle is built from

    @property
    def headline(self) -> str:
        parts = []
        if self.failed:
            parts.append(f"{plural(self.failed, 'certificate')} failed the gate")
        if self.undated:
            parts.append(f"{plural(self.undated, 'root')} with no dates: expiry cannot be judged")
        if self.empty:
            parts.append(
                f"{plural(len(self.empty), 'input')} with no certificates: the gate cannot be run"
            )
        return "; ".join(parts)

    @property
    def hint(self) -> str | None:
        """How to give the gate something to judge: an input held nothing, or an ESP-IDF
        bundle held no dates (a bundle-only project has no ca.pem to gate: the line
        gates the roots its config resolves to, writing nothing)."""
        if not self.empty:
            if self.undated and self.roots_gate:
                return f"gate the roots it is built from: {self.roots_gate}"
            return None
        first = self.empty[0]
        if first.kind.endswith(" image"):
            return (
                "put a CA file in the image "
                f"({fs_command('put', first.source, 'ca.pem', '/ca.pem')}), or gate the "
                "ca.pem it is built from"
            )
        return "gate the CA file the units read (ca.pem), or the image or dump holding it"


def gate_problems(
    reports: list[Report],
    at: datetime,
    *,
    fail_on: tuple[str, ...],
    fail_within: int | None,
    given_at: datetime | None = None,
) -> GateResult:
    """What the gate finds in ``reports`` judged at ``at`` (``given_at``: --at as typed,
    carried into the roots gate line)."""
    out = []
    undated_in: Report | None = None
    failed = undated_total = 0
    by_date = "expired" in fail_on or fail_within is not None
    # A gate that judged nothing does not pass: an image whose CA file was removed holds
    # no certificate, and its units verify no server.
    gated = bool(fail_on) or fail_within is not None
    empty = tuple(r for r in reports if gated and not any(True for _ in r.all_findings()))
    for r in empty:
        out.append(f"{r.source}: {r.kind} holds no certificates: the gate cannot be run")
    for top, r in ((t, each) for t in reports for each in _with_findings(t)):
        undated = [f for f in r.findings if f.not_after is None]
        if by_date and undated:
            # A gate that cannot judge does not pass: an ESP-IDF bundle keeps no dates.
            undated_total += len(undated)
            undated_in = undated_in or top
            out.append(
                f"{r.source}: {plural(len(undated), 'root')} with no dates (an "
                "ESP-IDF bundle keeps names and keys only): expiry cannot be judged; gate "
                "the roots it was built from"
            )
        for f in r.findings:
            problem = _problem(f, at, fail_on=fail_on, fail_within=fail_within)
            if problem is not None:
                failed += 1
                out.append(f"{r.source} {f.location} {f.label}: {problem}")
    # The config beside the bundle (then given with -c), else the working directory's;
    # with neither, no line: the default preset is no bundle's roots.
    config = _config_of(undated_in.source) if undated_in else None
    line = _roots_gate_line(config, fail_on, fail_within, given_at) if config else ""
    return GateResult(tuple(out), failed, undated_total, empty, line)


def _missing_hint(
    path: str, fail_on: tuple[str, ...], fail_within: int | None, at: datetime | None
) -> str:
    """A missing input's hint. In a project (a cabundle.yaml beside it or here): a file
    its build writes is built by ``esp-cabundle build``; a CA file it does not write
    (``init --board esp-idf-bundle`` writes only x509_crt_bundle.bin), gated, runs the
    gate on the roots its config resolves to, piped. Else :func:`no_input_hint`: the
    default preset's build knows nothing of the project."""
    p = Path(path)
    # os.path.exists: Path.exists raises on a name too long for the OS (before 3.12).
    config_path = _config_of(path) if not os.path.exists(p) else None
    if config_path is None:
        return no_input_hint(p)
    try:
        config = load_config(config_path)
    except EspCabundleError:
        return no_input_hint(p)  # the build the hint would name says what is wrong
    c = [] if config_path == Path(CONFIG_NAME) else ["-c", str(config_path)]
    # joined to the config's directory; without outputs, build's default ca.pem
    outputs = [(o.format, o.path) for o in config.outputs]
    outputs = outputs or [("pem", config.base_dir / "ca.pem")]
    if any(os.path.realpath(o) == os.path.realpath(p) for _, o in outputs):  # none is there
        return f"the project's build writes it: esp-cabundle {shell_join(['build', *c])}"
    gated = bool(fail_on) or fail_within is not None
    if gated and says_text(p) and not any(f == "pem" for f, _ in outputs):
        written = ", ".join(str(o) for _, o in outputs)
        line = _roots_gate_line(config_path, fail_on, fail_within, at)
        return (
            f"this project's build writes no {p.name} (it writes {written}); gate the "
            f"roots its config resolves to: {line}"
        )
    return no_input_hint(p)


def _roots_gate_line(
    config: Path, fail_on: tuple[str, ...], fail_within: int | None, at: datetime | None
) -> str:
    """``esp-cabundle build -f pem -o - ... | esp-cabundle inspect - ...``: the
    same gate on the roots the project's ``config`` resolves to, as a PEM on a pipe (no
    ca.pem beside the bundle, no lock rewritten; the targets are check's business)."""
    build = piped_roots_build(None if config == Path(CONFIG_NAME) else config)
    gate = ["inspect", "-", *(w for f in fail_on for w in ("--fail-on", f))]
    gate += ["--fail-within", str(fail_within)] if fail_within is not None else []
    gate += ["--at", at.date().isoformat()] if at is not None else []
    return f"esp-cabundle {shell_join(build)} | esp-cabundle {shell_join(gate)}"


def _config_of(source: str) -> Path | None:
    """The ``cabundle.yaml`` beside the file ``source`` (as typed), else the working
    directory's (``cabundle.yaml``); None when neither is a file. Never refused here
    (a hint's lookup): the line's build says what is wrong with it."""
    here = Path(CONFIG_NAME)
    beside = Path(source).parent / CONFIG_NAME if source != "-" else here
    if os.path.isfile(beside) and not (os.path.isfile(here) and same_file(beside, here)):
        return beside
    return here if os.path.isfile(here) else None


def _with_findings(r: Report) -> Iterator[Report]:
    """``r`` and the reports nested in it that hold certificates: a problem is named by
    the file it is in (``dump.bin:fs_1:/ca.pem #3``), since a dump's two slots may hold
    the same certificate at the same place."""
    if r.findings:
        yield r
    for c in r.children:
        yield from _with_findings(c)


def _problem(
    f: Finding, at: datetime, *, fail_on: tuple[str, ...], fail_within: int | None
) -> str | None:
    """Why one certificate fails the gate (the first reason), or None."""
    if f.not_after is not None:
        if "expired" in fail_on and at > f.not_after:
            return f"expired {f.not_after.date().isoformat()}"
        if fail_within is not None and at > f.not_after:
            return f"expired {f.not_after.date().isoformat()}"
        if fail_within is not None and (f.not_after - at).days <= fail_within:
            return f"expires {f.not_after.date().isoformat()} (within {plural(fail_within, 'day')})"
    if "not-ca" in fail_on and f.is_ca is False:
        return "not a CA certificate"
    if "unparseable" in fail_on and f.refusal:
        return f"{f.refusal} (see the note)"
    return None


# Where the certificate is, its expiry, fingerprint and status stay; on a narrow terminal
# subjects and statuses are cut, then days and key left out.
_CERT_COLUMNS = (
    "#",
    Column("subject", cut=True, least=12),
    "not after",
    Column("days", hide=1),
    Column("key", hide=2),
    "sha256",
    Column("status", cut=True, least=13),
)


def render_report(
    r: Report, at: datetime, warn_days: int | None, indent: int = 0, *, every_row: bool = False
) -> str:
    """``r`` as text; an input of more than :data:`SUMMARY_PAST` certificates as its
    first and last :data:`EDGE_ROWS` rows and a count by status, unless ``every_row``."""
    pad = " " * indent
    width = table_width()
    total = sum(1 for _ in r.all_findings())
    lines = [f"{pad}{printable(r.source)}: {r.kind}, {plural(total, 'certificate')}"]
    words = dict(r.words)
    for k, v in r.facts:
        lines.append(fit_lines(f"{pad}  {fact_line(k, words.get(k, v))}", width))
    if r.findings:
        n = len(r.findings)
        summary = n > SUMMARY_PAST and not every_row
        shown = [*r.findings[:EDGE_ROWS], *r.findings[-EDGE_ROWS:]] if summary else r.findings
        rows = [_row(f, at, warn_days) for f in shown]
        if summary:
            rows.insert(EDGE_ROWS, ("...",) + ("",) * 6)
        lines.append(format_table(_CERT_COLUMNS, rows, indent=indent + 2, width=width))
        if summary:
            not_listed = (
                f"{pad}  {n - 2 * EDGE_ROWS:,} of {n:,} certificates not listed (between "
                f"{shown[EDGE_ROWS - 1].location} and {shown[EDGE_ROWS].location}): --all "
                "lists every one, --json gives them all"
            )
            lines.append(fit_lines(not_listed, width))
            by_status = f"{pad}  by status: {_status_counts(r.findings, at, warn_days)}"
            lines.append(fit_lines(by_status, width))
    for note in r.notes:
        lines.append(fit_lines(f"{pad}  note: {printable(note)}", width))
    for c in r.children:
        lines.append(render_report(c, at, warn_days, indent + 2, every_row=every_row))
    return "\n".join(lines)


def _row(f: Finding, at: datetime, warn_days: int | None) -> tuple[str, ...]:
    return (
        f.location,
        f.label,  # cut, if at all, by the table to the room there is (it shows it printable)
        f.not_after.date().isoformat() if f.not_after else "-",
        str((f.not_after - at).days) if f.not_after else "-",
        f.key,
        (f.sha256 or "-")[:16],
        finding_status(f, at, warn_days=warn_days),
    )


def _status_counts(findings: Sequence[Finding], at: datetime, warn_days: int | None) -> str:
    """``7,990 ok; 10 EXPIRED``: how many rows have each status, most first ("expires
    in N days" counted as one status, whatever N)."""
    counts: Counter[str] = Counter()
    for f in findings:
        status = finding_status(f, at, warn_days=warn_days)
        if status.startswith("expires in "):
            status = f"expires within {plural(warn_days or 0, 'day')}"
        counts[status] += 1
    return "; ".join(f"{k:,} {printable(status)}" for status, k in counts.most_common())


def _refuse_stdin_twice(paths: Sequence[str]) -> None:
    """A second name for standard input (``- -``, ``/dev/stdin -``) would show the one
    piped input again as if it were another, or nothing: the pipe is read once and its
    bytes kept (see :mod:`.._stdin`). Checked before anything is read."""
    twice = stdin_named_twice(paths)
    if twice is not None:
        first, second = twice
        said = (
            "'-' is one pipe, holding one input"
            if first == second
            else f"{first} and {second} are one input, read once"
        )
        raise InputError(
            f"standard input is named twice: {said}",
            hint="name standard input once; name other inputs by their files "
            "(./- is a file named '-')",
        )


def _refuse_board_without_dump(reports: Sequence[Report]) -> None:
    """--board names the board of a unit or of a whole-flash dump: given for files that
    are neither, it would be ignored, hiding a forgotten --port or a wrong file."""
    if any(r.kind == "flash dump" for r in reports):
        return
    kinds = ", ".join(f"{printable(r.source)}: {r.kind}" for r in reports)
    raise InputError(
        f"--board names the board of a unit or of a whole-flash dump, and no input is one "
        f"({kinds})",
        hint="add --port PORT to read a unit, give a whole-flash dump "
        f"({CLI_SPELLING.read_all}), or leave --board out to inspect files only",
    )


def _project_dir(config_path: Path | None, board: Board | None) -> tuple[Path, tuple[Target, ...]]:
    """Where the saved chains/ a --board verdict reads are: beside the config -c names
    (loaded, so a bad one is refused as check refuses it), with its targets (a
    ``chain:`` of theirs read for their host), else the working directory. Without
    --board no saved chain is read: -c would be ignored, hiding a forgotten --board."""
    if config_path is None:
        return Path("."), ()
    if board is None:
        raise InputError(
            "-c/--config needs --board: inspect reads a project's saved chains/ only to "
            "judge the board named with --board",
            hint="add --board NAME to judge a unit or whole-flash dump as that board, or "
            "leave -c out",
        )
    config = load_config(config_path)
    return config.base_dir, tuple(config.section("targets", ()))


def _refuse_unit_options_without_port() -> None:
    """--no-apps and the serial link's options say how to read a unit: without --port
    there is none, and ignoring them would hide a forgotten --port."""
    stray = given_options(click.get_current_context(), "no_apps", "baud", "before", "after")
    if stray:
        named = ", ".join(stray)
        raise InputError(
            f"{named} {'needs' if len(stray) == 1 else 'need'} --port: "
            f"{'it says' if len(stray) == 1 else 'they say'} how to read a unit, and without "
            "--port no unit is read",
            hint=f"add --port PORT to read a unit, or leave {named} out to inspect files only",
        )


def inspect_port_report(
    port: str | None, *, board: Board | None, no_apps: bool, link: Link, quiet: bool
) -> Report | None:
    """The report for ``inspect --port`` (None without --port); ``link``: -b, --before
    and --after, as every command that talks to a unit takes them."""
    if port is None:
        return None
    with unit_progress(quiet=quiet) as progress:
        return inspect_port(
            port,
            board=board,
            apps=not no_apps,
            progress=progress,
            spelling=CLI_SPELLING,
            **link,
        )
