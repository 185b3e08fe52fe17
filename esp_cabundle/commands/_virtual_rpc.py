"""``virtual-unit --rpc``: Mongoose OS units in the field, held in memory, for ``push`` to
reach over MQTT (through the user's broker), HTTP or WebSocket; the one file it may
write is the one ``--save-fs`` names, once it stops."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..boards import Board, load_board
from ..certs import load_certificates
from ..clobber import refuse_clobbering
from ..errors import EspCabundleError, ImageError, InputError
from ..file_kinds import shell_word
from ..fileio import PRIVATE, read_input, write_atomic
from ..fs import open_image
from ..fs.edit import locate_image, looks_like_pem
from ..missing_hints import missing_ca_hint
from ..push.urls import split_url
from ..spelling import BOARD_SPELLING
from ..text import byte_count, plural
from ..ui import note
from ..virtual.boards import board_fs_image
from ..virtual.rpc import MongooseUnit, SimUnit
from ._fsopts import no_image_hint
from ._usage import example_line, typed_words, url_in_line
from .options import CLI_SPELLING

__all__ = [
    "DEFAULT_ID",
    "RpcOptions",
    "change_line",
    "check_board",
    "check_ids",
    "check_output",
    "initial_image",
    "serve_rpc_units",
]

_PARTITION_HINT = "give a file-system partition's image (esp-cabundle read --partition takes one)"

DEFAULT_BOARD = "mongoose-os-esp32"
DEFAULT_ID = "esp32-virtual"
_EXAMPLE = "mqtt://127.0.0.1:1883 or http://127.0.0.1:8080"
_SCHEMES = {"mqtt": 1883, "http": 80, "ws": 80}
_NO_TLS = "no TLS: it listens on this machine"
_NOT_IN_IDS = frozenset("/#+")  # MQTT topic separators and wildcards


@dataclass(frozen=True, slots=True)
class RpcOptions:
    url: str
    ids: tuple[str, ...]
    board: str | None
    ca_file: Path | None
    fs_image: Path | None
    save_fs: Path | None
    api_key_file: Path | None = None  # --mdash's: where the key it makes is written


@dataclass(frozen=True, slots=True)
class _Where:
    scheme: str
    host: str
    port: int


def serve_rpc_units(opts: RpcOptions, wait: Callable[[], None]) -> None:
    """Start the units, print push's options for them, ``wait()`` for the stop signal,
    then report what changed on each (and save its file system when asked)."""
    where = _parse_url(opts.url)
    _refuse_unit_boards(opts.ids)
    ids = check_ids(opts.ids or (DEFAULT_ID,))
    if opts.save_fs is not None:
        check_output(opts, ids)
    board = load_board(opts.board or DEFAULT_BOARD)
    check_board(board)
    target = board.file_system(BOARD_SPELLING)
    ca_path = target.ca_path
    image, origin = initial_image(board, opts)
    version = board.version or (board.firmware.default if board.firmware else "2.20.0")
    units = [MongooseUnit(uid, open_image(image), mg_version=version) for uid in ids]
    before = {u.unit_id: u.image.read(ca_path) for u in units}
    name = board.full_name if board.version_given else board.name
    servers, line, how = _start(where, units)
    try:
        click.echo(line)  # the first line: push's options to reach the units
        note(
            f"virtual Mongoose OS unit{'s' if len(ids) > 1 else ''} {', '.join(ids)} "
            f"(board {name}; {ca_path}: {origin}) answering RPC {how}; "
            f"Ctrl-C stops it\n  push to it (a rehearsal: --server YOUR-HOST in place of "
            f"--allow unjudged judges the CA): esp-cabundle push {line} --board {name} "
            "--bundle ca.pem --allow unjudged"
        )
        wait()
    finally:
        for server in servers:
            server.close()
    for unit in units:
        now = unit.image.read(ca_path) if unit.image.exists(ca_path) else None
        note(f"stopped {unit.unit_id}: {change_line(ca_path, before[unit.unit_id], now, unit)}")
    if opts.save_fs is not None:
        write_atomic(opts.save_fs, units[0].image_bytes(), mode=PRIVATE)
        note(f"wrote {units[0].unit_id}'s file system to {opts.save_fs}")


def change_line(path: str, old: bytes, new: bytes | None, unit: SimUnit) -> str:
    """What a unit says when it stops: the calls it answered, what became of its CA file."""
    calls = plural(unit.calls_total, "RPC call")
    if unit.calls_dropped:  # a unit that served long, or was flooded: its log is bounded
        calls += f" (its call log kept the last {len(unit.calls)})"
    if unit.invalid_frames:
        calls += f", {plural(unit.invalid_frames, 'invalid frame')} refused"
    if new is None:
        return f"{calls}; {path} removed"
    if new == old:
        return f"{calls}; {path} unchanged"
    digest = hashlib.sha256(new).hexdigest()
    return f"{calls}; {path} changed: {byte_count(len(new))}, SHA-256 {digest[:16]}..."


def _parse_url(text: str) -> _Where:
    parts = split_url(text, "--rpc", example=_EXAMPLE, any_port=True)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise InputError(
            f"--rpc: a virtual unit serves mqtt://, http:// or ws://, not {scheme or 'no'}://",
            hint=_mended(text, scheme, why=_NO_TLS if scheme in ("https", "wss", "mqtts") else ""),
        )
    if not parts.hostname:
        raise InputError("--rpc: the URL names no host", hint=_mended(text, scheme))
    if parts.username or parts.password:
        raise InputError(
            "--rpc: a broker or server that asks for a user and password is not supported",
            hint="use a broker that lets clients from this machine in anonymously",
        )
    allowed = ("", "/") if scheme == "mqtt" else ("", "/", "/rpc")
    if parts.path not in allowed or parts.query or parts.fragment:
        serves = "the broker's <id>/rpc topic" if scheme == "mqtt" else "/rpc"
        raise InputError(f"--rpc: give no path: the unit serves {serves}")
    port = parts.port if parts.port is not None else _SCHEMES[scheme]
    if scheme == "mqtt" and port == 0:
        raise InputError("--rpc: port 0 names no broker", hint="the broker's port: 1883")
    return _Where(scheme, parts.hostname, port)


def _mended(url: str, scheme: str, *, why: str = "") -> str:
    """The line as typed, ``--rpc url`` given a scheme the unit serves (mqtts:// as
    mqtt://, else http://) and a host on this machine if it names none, as push mends
    its --rpc (the hint was the fragment "e.g. --rpc mqtt://... or http://...")."""
    mqtt = scheme.startswith("mqtt")
    words, _ = url_in_line(
        typed_words(),
        "--rpc",
        url,
        "mqtt" if mqtt else "http",
        host="127.0.0.1:1883" if mqtt else "127.0.0.1:8080",
        path="" if mqtt else "/rpc",
    )
    return example_line(words, why=why)


def _refuse_unit_boards(ids: Sequence[str]) -> None:
    """``--id m-3=mdash@1.2.16`` is --mdash's unit with its own board: under --rpc it
    started a Mongoose OS unit named ``m-3=mdash@1.2.16``, unsaid, which a push to
    ``m-3`` never found. An id whose part after ``=`` names a board is refused."""
    for text in ids:
        uid, _, name = text.partition("=")
        try:
            board = load_board(name) if name else None
        except EspCabundleError:
            continue  # an id that merely holds '=': a unit may be named so
        if board is not None:
            raise InputError(
                f"--id {text}: ID=BOARD gives a unit its own board with --mdash only; the "
                "units of --rpc all run --board's firmware",
                hint=f"--id {uid}, or run another virtual-unit --rpc ... --board {name} "
                "for units of that board",
            )


def check_ids(ids: Sequence[str]) -> tuple[str, ...]:
    for uid in ids:
        bad = not uid or len(uid) > 128 or any(c in _NOT_IN_IDS for c in uid)
        if bad or any(c.isspace() or not c.isprintable() for c in uid):
            raise InputError(
                f"--id {uid!r}: not a device id (1 to 128 printable characters, no space, "
                "'/', '#' or '+')"
            )
    if len(set(ids)) != len(ids):
        raise InputError("--id: the same device id is given twice")
    return tuple(ids)


def check_output(opts: RpcOptions, ids: tuple[str, ...]) -> None:
    assert opts.save_fs is not None
    if len(ids) > 1:
        raise InputError("--save-fs keeps one unit's file system: give one --id with it")
    inputs = [(n, p) for n, p in (("--fs-image", opts.fs_image), ("--ca-file", opts.ca_file)) if p]
    outputs = [("--save-fs", opts.save_fs)]
    if opts.api_key_file is not None:
        outputs.append(("--api-key-file", opts.api_key_file))
    refuse_clobbering(outputs, inputs)
    parent = opts.save_fs.parent
    if not os.path.isdir(parent):
        raise InputError("no such directory to write the file system to", path=str(parent))


def check_board(board: Board, option: str = "--rpc") -> None:
    """Refuse a board whose units the ``option`` (--rpc: Mongoose OS; --mdash: mDash)
    does not serve, naming the option that does."""
    name = board.firmware.name if board.firmware else None
    wanted = "mdash" if option == "--mdash" else "mongoose-os"
    if name == wanted:
        return
    if wanted == "mongoose-os":
        what = "--rpc serves Mongoose OS RPC"
        hint = "a Mongoose OS board: --board mongoose-os-esp32 or mongoose-os-esp32-spiffs"
    else:
        what = "--mdash serves mDash units through mDash's REST API"
        hint = "an mDash board: --board mdash-arduino"
    if name == "mdash" and wanted != name:
        hint += "; its units answer through mDash's cloud: --mdash http://127.0.0.1:0"
    elif name == "mongoose-os" and wanted != name:
        hint += "; a Mongoose OS unit answers RPC itself: --rpc http://127.0.0.1:0"
    raise InputError(
        f"{what}; board {board.name} runs {name or 'no firmware the tool knows'}", hint=hint
    )


def initial_image(board: Board, opts: RpcOptions) -> tuple[bytes, str]:
    """The file system every unit starts with, and where its CA file came from."""
    target = board.file_system(BOARD_SPELLING)
    ca_path = target.ca_path
    ca = None
    if opts.ca_file is not None:
        ca = read_input(
            opts.ca_file, what="CA file", hint=missing_ca_hint(opts.ca_file), certificates=True
        )
        load_certificates(ca, source=str(opts.ca_file))  # a CA file, and no private key
    if opts.fs_image is None:
        origin = f"from {opts.ca_file}" if ca is not None else "DST Root CA X3, as shipped"
        return board_fs_image(board, ca=ca, spelling=BOARD_SPELLING), origin
    hint = no_image_hint(opts.fs_image)
    data = read_input(opts.fs_image, what="file-system image", devices=False, hint=hint)
    if not data or looks_like_pem(data):  # said as fs ls says it, not "neither LittleFS..."
        try:
            locate_image(data, source=str(opts.fs_image), spelling=CLI_SPELLING)
        except InputError as e:  # a unit holds one partition: no whole-flash dump here
            hint = _PARTITION_HINT
            if looks_like_pem(data) and opts.ca_file is None:  # the CA file: --ca-file's
                given = shell_word(str(opts.fs_image))
                hint += f"; a CA file to start the unit with goes with --ca-file {given}"
            raise InputError(e.reason, path=e.path, hint=hint) from None
    try:
        # a file system at all (its errors say what the bytes are)
        open_image(data, spelling=CLI_SPELLING)
    except ImageError as e:
        raise ImageError(e.reason, path=str(opts.fs_image), hint=e.hint) from None
    try:
        # As the board's firmware mounts it: its file system and profile, or nothing.
        image = open_image(
            data,
            fs_type=target.fs_type,
            profile=target.profile,
            platform=target.platform,
            spelling=CLI_SPELLING,
        )
    except ImageError as e:
        raise ImageError(
            f"board {board.name}'s firmware mounts {target.fs_type} ({target.profile} "
            f"profile), and this image does not mount so: {e.reason}",
            path=str(opts.fs_image),
            hint="give the --board whose units made it (esp-cabundle fs ls IMAGE shows what "
            "it is), or an image 'esp-cabundle read --partition' took from such a unit",
        ) from None
    try:
        if ca is not None:
            image.write(ca_path, ca)
            return image.to_bytes(), f"from {opts.ca_file}"
    except ImageError as e:
        if e.path is not None:
            raise
        raise ImageError(e.reason, path=str(opts.fs_image), hint=e.hint) from None
    if not image.exists(ca_path):
        raise InputError(
            f"the image holds no {ca_path}: not a unit of board {board.name}?",
            path=str(opts.fs_image),
            hint="give the CA file it should hold with --ca-file, or the unit's --board",
        )
    return image.to_bytes(), f"as in {opts.fs_image}"


def _start(where: _Where, units: list[MongooseUnit]) -> tuple[list[Any], str, str]:
    """The servers, push's options to reach the units, and how they answer."""
    # deferred: http.server and the thread pool are for --rpc only, not the serial unit
    from ..virtual.rpc_links import LanUnitServer, MqttUnitHost, url_host

    if where.scheme == "mqtt":
        host = MqttUnitHost(where.port, units, host=where.host)
        devices = " ".join(f"--device {u.unit_id}" for u in units)
        url = f"mqtt://{url_host(where.host)}:{where.port}"
        return [host], f"--mqtt {url} {devices}", f"over MQTT through the broker at {url}"
    if where.port and where.port + len(units) - 1 > 65535:
        raise InputError(f"--rpc: {len(units)} units need ports {where.port} and up, past 65535")
    servers: list[LanUnitServer] = []
    try:
        for n, unit in enumerate(units):
            port = where.port + n if where.port else 0
            if where.scheme == "ws":
                servers.append(LanUnitServer(unit, host=where.host, http_port=None, ws_port=port))
            else:
                servers.append(LanUnitServer(unit, host=where.host, ws_port=None, http_port=port))
    except BaseException:
        for s in servers:
            s.close()
        raise
    urls = [s.ws_url if where.scheme == "ws" else s.http_url for s in servers]
    kind = "WebSocket" if where.scheme == "ws" else "HTTP"
    return servers, " ".join(f"--rpc {u}" for u in urls), f"over {kind} at {', '.join(urls)}"
