"""How ``push`` reaches the units: transports from the options, secrets from the
environment or files (never the command line), and the servers the units connect to."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
from click.core import ParameterSource

from ..certs import load_certificates
from ..chains import parse_host_port
from ..check import Target, board_device, check_items, target_items
from ..config import find_config, load_config
from ..dates import now
from ..errors import EspCabundleError, InputError
from ..fileio import read_input
from ..push.http import LanTransport
from ..push.mdash import MdashTransport
from ..push.mqtt import MqttTransport, parse_mqtt_url
from ..verify import TrustSet

if TYPE_CHECKING:
    from ..boards import Board
    from ..check import Target
    from ..push.transport import Transport

__all__ = [
    "connection_targets",
    "deadline_for",
    "open_transports",
    "server_targets",
]


def deadline_for(
    board: Board, servers: list[Target], base: Path
) -> Callable[[bytes], datetime | None]:
    """When a unit's current CA file stops accepting its server (first forecast failure
    within 20 years), or None when that never happens or cannot be told."""
    device = board_device(board)

    def deadline(old: bytes) -> datetime | None:
        if not servers:
            return None
        try:
            trust = TrustSet.from_certificates(load_certificates(old, source="a unit's CA"))
            items = target_items(servers, base, default_device=device, live=False)
            start = now()
            report = check_items(trust, items, at=start, until=start + timedelta(days=7305))
        except EspCabundleError:
            return None
        dates = [d for r in report.results if (d := r.timeline.first_failure_date)]
        return min(dates) if dates else None

    return deadline


def _secret_from(env: str, file: Path | None, what: str) -> str | None:
    if file is not None:
        text = read_input(file, what=f"{what} file").decode("utf-8", "replace").strip()
        if not text:
            raise InputError(f"the {what} file is empty", path=str(file))
        return text
    value = os.environ.get(env, "").strip()
    return value or None


def _device_ids(opts: dict[str, Any]) -> list[str]:
    ids = list(opts["devices"])
    if opts["devices_file"] is not None:
        text = read_input(opts["devices_file"], what="devices file").decode("utf-8", "replace")
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                ids.append(line)
    return ids


def open_transports(ctx: click.Context, opts: dict[str, Any]) -> list[Transport]:
    ca_file = str(opts["tls_ca"]) if opts["tls_ca"] else None
    ids = _device_ids(opts)
    out: list[Transport] = []
    try:
        if opts["mdash_url"]:
            if not opts["mdash_url"].startswith(("http://", "https://")):
                raise InputError(f"--mdash takes an http(s):// URL, not {opts['mdash_url']!r}")
            key = _secret_from("MDASH_API_KEY", opts["api_key_file"], "mDash API key")
            if key is None:
                raise InputError(
                    "--mdash needs the API key: set MDASH_API_KEY or give --api-key-file",
                    hint="never on the command line, where the process list shows it",
                )
            out.append(
                MdashTransport(
                    key,
                    base_url=opts["mdash_url"],
                    devices=ids,
                    timeout=opts["timeout"],
                    frame_size=opts["frame_size"],
                    ca_file=ca_file,
                )
            )
        if opts["mqtt_url"]:
            url = parse_mqtt_url(opts["mqtt_url"])
            from_env = ctx.get_parameter_source("mqtt_url") == ParameterSource.ENVIRONMENT
            if url.password is not None and not from_env:
                raise InputError(
                    "--mqtt: a password in the URL on the command line is visible in the "
                    "process list",
                    hint="give it in MQTT_PASSWORD or --mqtt-password-file, or the whole URL "
                    "in ESP_CABUNDLE_MQTT",
                )
            password = _secret_from("MQTT_PASSWORD", opts["mqtt_password_file"], "MQTT password")
            if password is not None:
                url = replace(url, password=password)
            out.append(MqttTransport(url, ids, ca_file=ca_file, frame_size=opts["frame_size"]))
        elif ids and not opts["mdash_url"]:
            raise InputError("--device/--devices name units behind --mdash or --mqtt")
        if opts["rpc_urls"]:
            out.append(
                LanTransport(
                    opts["rpc_urls"],
                    timeout=opts["timeout"],
                    frame_size=opts["frame_size"],
                    ca_file=ca_file,
                )
            )
    except BaseException:
        for t in out:
            t.close()
        raise
    return out


def connection_targets(opts: dict[str, Any]) -> tuple[list[Target], Path]:
    """The servers the units connect to, and where their saved chains live: the link's
    own server (``--server``, else the mDash host or the ``mqtts://`` broker) and the
    config's ``targets:`` (``-c`` or ./cabundle.yaml), chains beside the config."""
    path = opts["ca"].config_path or find_config()
    config = load_config(path) if path else None
    base = config.base_dir if config is not None else Path.cwd()
    targets = server_targets(opts)
    names = {t.name for t in targets}
    if config is not None:
        targets += [t for t in config.section("targets", ()) if t.name not in names]
    return targets, base


def server_targets(opts: dict[str, Any]) -> list[Target]:
    """The servers the units' connection goes through, from the link options."""
    specs = list(opts["servers"])
    if not specs:
        if opts["mdash_url"] and opts["mdash_url"].startswith("https://"):
            specs.append(urlsplit(opts["mdash_url"]).hostname or "")
        if opts["mqtt_url"] and opts["mqtt_url"].startswith("mqtts://"):
            broker = parse_mqtt_url(opts["mqtt_url"])
            specs.append(f"{broker.host}:{broker.port}")
    out = []
    for spec in specs:
        host, port = parse_host_port(spec)
        out.append(Target(host if port == 443 else f"{host}:{port}", host, port))
    return out
