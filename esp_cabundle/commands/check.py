"""``esp-cabundle check``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..text import plural
from ._common import at_option, json_option, parse_at, quiet_option

if TYPE_CHECKING:
    from ..check import CheckReport, ItemResult
    from ..verify import DeviceProfile


@click.command()
@click.option(
    "-b",
    "--bundle",
    "bundle_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Trust set: ca.pem, DER, C source or ESP-IDF x509_crt_bundle "
    "(default: ./ca.pem, else the config's roots).",
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Capture a server's chain live (port 443 unless given; repeatable).",
)
@click.option(
    "--chain",
    "chain_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A saved chain, PEM, leaf first (repeatable).",
)
@click.option(
    "--device",
    metavar="PROFILE",
    help="Device profile: mbedtls-noclock, mbedtls-clock, idf-bundle, ... or RULES:CLOCK.",
)
@click.option("--board", metavar="NAME", help="Use the verification rules of a board profile.")
@click.option(
    "--until",
    metavar="DATE",
    help="Forecast: find the first date before DATE at which a verdict flips.",
)
@click.option(
    "--roadmap",
    "roadmaps",
    multiple=True,
    metavar="NAME",
    help="Also check a CA's announced chains as what-ifs (e.g. letsencrypt).",
)
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config with targets: (default: ./cabundle.yaml if present).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to wait for a live server.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a self-contained HTML page: timeline and verdict table.",
)
@at_option
@json_option
@quiet_option
def check(
    bundle_path: Path | None,
    hosts: tuple[str, ...],
    chain_files: tuple[Path, ...],
    device: str | None,
    board: str | None,
    until: str | None,
    roadmaps: tuple[str, ...],
    config_path: Path | None,
    timeout: float,
    report_path: Path | None,
    at: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Will devices holding this bundle accept their servers' chains — now, and until when?

    Replays each chain under the device's own rules (mbedTLS CA list or ESP-IDF bundle
    callback, with or without a clock) and explains the path or the failure, with the
    error the unit would log. With --until, says the first date a verdict flips and why.
    Chains come from --host (captured live) and --chain files, else from the config's
    targets (saved chains, or live); --roadmap adds a CA's announced chains as what-ifs.
    Exit 0 when every chain passes over the whole horizon, 1 otherwise.

    \b
    Examples:
      esp-cabundle check --bundle ca.pem --chain chains/mdash.pem --device mbedtls-noclock
      esp-cabundle check --host mqtt.example.com:8883 --until 2035-01-01
      esp-cabundle check --bundle ca.pem --roadmap letsencrypt --until 2036-01-01
      esp-cabundle check --board mdash-arduino --json      # targets from cabundle.yaml
      esp-cabundle check --until 2035-01-01 --report forecast.html
    """
    from ..chains import load_chain_file, parse_host_port
    from ..check import (
        CheckItem,
        check_items,
        default_trust_set,
        load_trust_set,
        roadmap_items,
        target_items,
    )
    from ..config import find_config, load_config
    from ..dates import parse_when
    from ..errors import InputError, VerdictError
    from ..ui import emit_json, note
    from ..verify import DEFAULT_DEVICE, parse_device_profile

    when = parse_at(at)
    horizon = parse_when(until, what="--until date") if until else None
    path = config_path or find_config()
    config = load_config(path) if path else None

    profile = _device(device, board)
    default = profile or (config.section("device") if config else None)
    default = default or parse_device_profile(DEFAULT_DEVICE)
    trust = load_trust_set(bundle_path) if bundle_path else default_trust_set(config)

    items: list[CheckItem] = []
    progress = None if (quiet or as_json) else (lambda msg: note(msg))
    for f in chain_files:
        items.append(CheckItem(f.name, load_chain_file(f), default))
    if hosts:
        from ..check import Target

        targets = []
        for h in hosts:
            host, port = parse_host_port(h)
            targets.append(Target(h, host, port))
        items += target_items(
            targets,
            Path("."),
            device=default,
            live=True,
            timeout=timeout,
            progress=progress,
            explain_offline=False,  # --host asks for a live capture, not a saved chain
        )
    if not hosts and not chain_files and config is not None and config.section("targets"):
        items += target_items(
            config.section("targets"),
            config.base_dir,
            device=profile,
            default_device=default,
            timeout=timeout,
            progress=progress,
        )
    for name in roadmaps:
        items += roadmap_items(name, default)
    if not items:
        raise InputError(
            "nothing to check",
            hint="give --chain FILE, --host HOST[:PORT] or --roadmap NAME, "
            "or list targets: in cabundle.yaml",
        )
    report = check_items(trust, items, at=when, until=horizon)
    if report_path is not None:  # written whatever the verdict: CI keeps it as an artifact
        from ..report import write_html_report

        service_until = config.spec.policy.service_until if config is not None else None
        write_html_report(report_path, report, service_until=service_until)
    if as_json:
        emit_json(report.to_dict())
    elif not quiet:
        click.echo(render_report(report))
    if not report.ok:
        n = len(report.failures)
        raise VerdictError(
            f"{n} of {len(report.results)} chain{'s' if len(report.results) != 1 else ''} "
            f"would fail{' within the horizon' if horizon else ''}"
        )


def _device(device: str | None, board: str | None) -> DeviceProfile | None:
    from ..errors import InputError
    from ..verify import DeviceProfile, parse_device_profile

    if device and board:
        raise InputError("give --device or --board, not both")
    if device:
        return parse_device_profile(device)
    if board:
        from ..boards import load_board

        b = load_board(board)
        return DeviceProfile(b.verify.rules, b.verify.clock, f"board {b.name}", b.description)
    return None


def render_report(report: CheckReport) -> str:
    trust = report.trust
    lines = [f"Trust set: {trust.source or 'bundle'} ({plural(len(trust), 'root')})"]
    span = f"at {report.at.date().isoformat()}"
    if report.until:
        span += f", forecast until {report.until.date().isoformat()}"
    lines.append(f"Checked {span}.")
    lines.extend(f"Note: {n}." for n in report.notes)
    devices = {r.item.device.name: r.item.device for r in report.results}
    if len(devices) == 1:
        import textwrap

        d = next(iter(devices.values()))
        text = f"Device: {d.name}" + (f" — {d.description}" if d.description else "")
        lines.extend(textwrap.wrap(text, width=96, subsequent_indent="  "))
    for r in report.results:
        lines.append("")
        lines.extend(_render_item(r, show_device=len(devices) > 1, horizon=bool(report.until)))
    lines.append("")
    failed = len(report.failures)
    lines.append(
        f"{len(report.results) - failed} pass, {failed} fail"
        + (" (over the whole horizon)" if report.until else "")
    )
    return "\n".join(lines)


def _render_item(r: ItemResult, *, show_device: bool, horizon: bool) -> list[str]:
    import textwrap

    fc = r.forecast
    v = fc.start
    head = f"{'PASS' if r.ok else 'FAIL'}  {r.item.name}"
    if show_device:
        head += f"  [{r.item.device.name}]"
    out = [head]
    wrap = textwrap.TextWrapper(width=96, initial_indent="      ", subsequent_indent="      ")
    if r.item.what_if:
        when = (
            f", sent from {r.item.effective_from.date().isoformat()}"
            if r.item.effective_from
            else ""
        )
        out.extend(wrap.wrap(f"what-if: {r.item.what_if}{when}"))
    status = "accepted" if v.ok else "refused"
    flags = f" [{', '.join(v.flag_names)}]" if v.flag_names else ""
    out.extend(wrap.wrap(f"{v.at.date().isoformat()}: {status}{flags}"))
    out.extend(wrap.wrap(v.explanation))
    if horizon:
        for c in fc.changes:
            out.extend(wrap.wrap(c.describe()))
        if fc.note:
            out.extend(wrap.wrap(fc.note))
        if fc.rotating:
            renewed = ", ".join(f"{e.label} ({e.date.date().isoformat()})" for e in fc.rotating)
            out.extend(wrap.wrap(f"renewed by the server, not forecast: {renewed}"))
    return out
