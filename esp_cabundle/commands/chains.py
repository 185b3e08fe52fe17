"""``esp-cabundle chains``: capture and save server chains for offline checks."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ..chains import capture_chain, host_port, load_chain_file, parse_host_port
from ..chains_pull import PullFailed, pull_chains
from ..clobber import refuse_clobbering
from ..config import CONFIG_NAME, find_config, load_config, not_read_hint
from ..errors import EspCabundleError, InputError
from ..file_kinds import shell_word
from ..fileio import write_atomic
from ..findings import Finding, finding_status
from ..text import printable
from ..ui import Column, echo, emit_json, format_table, note, shown_path, table_width
from ..verify.parse import parse_notes
from ._usage import split_option, typed_words, usage_error, with_option
from .options import (
    CLI_SPELLING,
    FILE_PATH,
    at_option,
    config_option,
    json_option,
    output_path,
    parse_at,
    quiet_option,
    timeout_option,
    wide_option,
)


@click.group()
def chains() -> None:
    """Capture servers' certificate chains exactly as sent, and save them for offline and
    CI checks.

    \b
    Examples:
      esp-cabundle chains pull            # every target in cabundle.yaml
      esp-cabundle chains show --host mdash.net
      esp-cabundle chains show --host broker.example.com:8883 -o chains/broker.pem
      esp-cabundle chains show chains/mdash.net.pem --json
    """


@chains.command(short_help="Capture every target's chain and save it under chains/ (network).")
@config_option
@click.option(
    "--target", "names", multiple=True, metavar="NAME", help="Pull only this target (repeatable)."
)
@timeout_option("each server")
@json_option
@quiet_option
def pull(
    config_path: Path | None,
    names: tuple[str, ...],
    timeout: float,
    as_json: bool,
    quiet: bool,
) -> None:
    """Capture every configured target's chain and save it under chains/ (one PEM per
    target, leaf first, with the capture date in a comment).

    Every target is tried: one that cannot be reached does not stop the others. The
    chains captured are saved; a target that failed keeps its saved chain as it was,
    and is named with its reason. Exit 0 when every target was captured, else 3 (or,
    when every target failed the same way, that failure's code). Ctrl-C saves nothing.

    \b
    Examples:
      esp-cabundle chains pull
      esp-cabundle chains pull --target broker -c fleet/cabundle.yaml
    """
    path = config_path or find_config()
    if path is None:
        raise InputError(
            f"no {CONFIG_NAME} here",
            hint=not_read_hint() or "list targets: in cabundle.yaml, or use -c FILE",
        )
    config = load_config(path)
    targets = tuple(config.section("targets", ()))
    if names:
        known = {t.name: t for t in targets}
        missing = [n for n in names if n not in known]
        if missing:
            raise InputError(
                f"unknown target '{missing[0]}'",
                path=str(path),
                hint=f"targets: {', '.join(known) or '(none)'}",
            )
        targets = tuple(known[n] for n in dict.fromkeys(names))
    # A target's chain: may name the config, its lock or an output: captured over it,
    # cabundle.yaml was lost. Refused before anything is dialled (targets of one server
    # may share a file: pull_chains judges that).
    own = config.project_files()
    for t in (t for t in targets if t.host):
        saved = (f"saved chain of target '{t.name}'", t.chain_path(config.base_dir))
        try:
            refuse_clobbering([saved], own)
        except InputError as e:
            raise InputError(e.message, hint="give that target another 'chain:' path") from e
    progress = None if (quiet or as_json) else (lambda msg: note(msg))
    results = pull_chains(targets, config.base_dir, timeout=timeout, progress=progress)
    again = "esp-cabundle chains pull" + (f" -c {shell_word(str(path))}" if config_path else "")
    failed = PullFailed.from_results(results, again=again, chosen=bool(names))
    if as_json:
        # The per-target report first; the error that follows adds no second document.
        code = failed.exit_code if failed else 0
        emit_json(
            {
                "ok": failed is None,
                "exit_code": code,
                "chains": [r.to_dict() for r in results],
                "failed": [r.target.name for r in results if not r.ok],
            }
        )
    else:
        for r in results:
            if r.chain is not None:
                labels = " <- ".join(x.label for x in r.chain.certificates)
                echo(printable(f"{r.target.name}: {labels} -> ") + shown_path(r.path), quiet=quiet)
    if failed is not None:
        raise failed


def _project_files_here() -> list[tuple[str, Path]]:
    """The files of the project whose ``./cabundle.yaml`` is here (:meth:`~esp_cabundle.
    config.Config.project_files`), which ``show -o`` must not replace, as ``chains pull``
    and ``check --report`` must not. A config that cannot be read still has its lock
    beside it; show reads no more of it, so its error is not this command's."""
    from ..build import LOCK_NAME  # deferred: only a show that saves its chain

    try:
        path = find_config()
        return load_config(path).project_files() if path is not None else []
    except EspCabundleError:
        here = Path(CONFIG_NAME)
        return [("config", here), ("config's lock file", Path(LOCK_NAME))]


# Position, expiry and fingerprint stay; on a narrow terminal names are cut, and the key
# left out.
_CHAIN_COLUMNS = (
    "#",
    Column("subject", cut=True, least=12),
    Column("issuer", cut=True, least=12),
    "not after",
    Column("days", hide=1),
    Column("key", hide=2),
    "sha256",
    Column("status", cut=True, least=13),
)


@chains.command(
    short_help="Show a chain, saved (FILE) or live (--host), certificate by certificate."
)
@click.argument("file", required=False, type=FILE_PATH)
@click.option("--host", metavar="HOST[:PORT]", help="Capture live (port 443 unless given).")
@click.option("--server-name", metavar="NAME", help="SNI to send (default: the host name).")
@click.option(
    "-o",
    "--output",
    type=output_path(),
    help="Save the captured chain as PEM.",
)
@timeout_option("the server")
@at_option
@json_option
@wide_option
@quiet_option
def show(
    file: Path | None,
    host: str | None,
    server_name: str | None,
    output: Path | None,
    timeout: float,
    at: datetime | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Show a chain (saved FILE or live --host) certificate by certificate, as sent,
    numbered from #1 (the server's own certificate) as 'inspect' numbers them: subject,
    issuer, not-after, days left, key, fingerprint and status (EXPIRED, not yet valid,
    unparseable by mbedTLS ...) as of today or --at.

    \b
    Examples:
      esp-cabundle chains show --host mdash.net
      esp-cabundle chains show --host 192.0.2.10:8883 --server-name broker.local \\
          -o b.pem
      esp-cabundle chains show chains/mdash.net.pem --at 2027-01-01
    """
    if (file is None) == (host is None):
        words = typed_words()
        if host is None:  # neither: a live capture is the one to try first
            raise usage_error(
                "give a chain FILE or --host HOST[:PORT] (one of them)",
                with_option(words, "--host", "mdash.net"),
                why="or a saved chain: esp-cabundle chains show chains/mdash.net.pem",
            )
        rest, _ = split_option(words, ["--host"], takes_value=True)
        raise usage_error(
            "give a chain FILE or --host HOST[:PORT] (one of them)", rest, why="the saved one"
        )
    if output is not None:
        read = [("chain file", file)] if file is not None else []
        # in a project, -o cabundle.lock (or its config, an output) was saved over, exit 0
        refuse_clobbering([("output", output)], read + _project_files_here())
    if host is not None:
        h, port = parse_host_port(host)
        # as check --host says it: a capture can take --timeout seconds to fail
        note(f"capturing the chain of {host_port(h, port)} ...", quiet=quiet or as_json)
        chain = capture_chain(h, port, server_name=server_name, timeout=timeout)
    else:
        assert file is not None
        chain = load_chain_file(file, spelling=CLI_SPELLING)
    if output is not None:
        write_atomic(output, chain.to_pem())

    when = parse_at(at)
    notes = [*chain.notes, *parse_notes(chain.certificates, role="server-chain")]
    findings = [
        Finding.from_certificate(c, f"#{i}") for i, c in enumerate(chain.certificates, start=1)
    ]
    if as_json:
        emit_json(
            {
                "source": chain.source,
                "captured_at": chain.captured_at.isoformat() if chain.captured_at else None,
                "protocol": chain.protocol,
                "at": when.isoformat(),
                "notes": notes,
                "certificates": [
                    {
                        "position": i,  # in the list as sent, from 0
                        "location": f.location,
                        "subject": c.subject,
                        "issuer": c.issuer,
                        "not_before": c.not_before.isoformat(),
                        "not_after": c.not_after.isoformat(),
                        "days_left": (c.not_after - when).days,
                        "ca": c.is_ca,
                        "key": c.key_description,
                        "sha256": c.sha256,
                        "unparseable_by": f.unparseable,
                        "status": finding_status(f, when, sent_first=i == 0),
                    }
                    for i, (c, f) in enumerate(zip(chain.certificates, findings, strict=True))
                ],
                "saved": str(output) if output else None,
            }
        )
        return
    captured = f", captured {chain.captured_at.isoformat()}" if chain.captured_at else ""
    echo(
        f"{chain.source}{captured}" + (f" over {chain.protocol}" if chain.protocol else ""),
        quiet=quiet,
    )
    for n in notes:
        echo(f"note: {printable(n)}", quiet=quiet)
    rows = [
        (
            f.location,
            c.label,
            c.issuer_label,
            c.not_after.date().isoformat(),
            str((c.not_after - when).days),
            c.key_description,
            c.sha256[:16],
            finding_status(f, when, sent_first=i == 0),
        )
        for i, (c, f) in enumerate(zip(chain.certificates, findings, strict=True))
    ]
    echo(format_table(_CHAIN_COLUMNS, rows, width=table_width()), quiet=quiet)
    if output is not None:
        echo(f"Saved {shown_path(output)}", quiet=quiet)
