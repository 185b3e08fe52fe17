"""``virtual-unit --mdash``: mDash units (Arduino), held in memory, behind mDash's REST
API on this machine (:class:`~esp_cabundle.virtual.mdash_cloud.MdashCloud`), for ``push
--mdash`` to reach. Like mDash it opens only to its API key: one made at start, written
to a new file (mode 0600) that the first line names and removed when it stops; the key
itself is never printed. It listens only on loopback (unlike ``--rpc``, whose units
hold no secret): over http:// the key would cross a LAN in clear. Everything else is
``--rpc``'s (:mod:`._virtual_rpc`).

One cloud may serve a mixed fleet, as 2024's were: ``--id m-3=mdash@1.2.16`` gives that
unit its own board. mDash 1.2.15+ (board ``mdash``) compiles its CA in, yet its units
are still reached the same way (cesanta/mDash 1.2.16, 8bd6647, ``src/mDash.c``:
``mount_fs()`` mounts SPIFFS at ``FS_ROOT`` ``/spiffs``, ``mdash.cfg`` is kept there,
``FS.Put``/``FS.Get``/``FS.Rename``/``FS.Remove``/``FS.List`` are registered beside
``Sys.GetInfo``, whose ``fw_version`` is ``MDASH_VERSION "-" framework`` (``src/mDash.h``
``MDASH_FRAMEWORK``: ``a-ARDUINO-ARDUINO_BOARD``, as for 1.2.13), and no ``ca.pem`` is
ever opened): such a unit holds the SPIFFS partition of the ``mdash-arduino`` units it
was updated over the air from (an OTA update rewrites the app slot only), old ``ca.pem``
and all, and reports ``1.2.16-a-10819-ESP32_DEV``, from which ``push`` learns the file
does not protect it."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from ..boards import Board, load_board
from ..errors import InputError, OutputError
from ..file_kinds import shell_word
from ..fileio import PRIVATE, write_atomic
from ..fs import open_image
from ..push.urls import split_url
from ..redact import remember
from ..spelling import BOARD_SPELLING
from ..text import plural
from ..ui import note
from ..virtual.rpc import MDASH_ARDUINO_FRAMEWORK, MdashUnit
from ._usage import example_line, typed_words, url_in_line
from ._virtual_rpc import (
    DEFAULT_ID,
    RpcOptions,
    change_line,
    check_board,
    check_ids,
    check_output,
    initial_image,
)

__all__ = ["DEFAULT_MDASH_BOARD", "serve_mdash_units"]

DEFAULT_MDASH_BOARD = "mdash-arduino"
_EXAMPLE = "http://127.0.0.1:8080"
_KEY_NAME = "mdash-api-key"  # in a private folder of its own when no --api-key-file


@dataclass(frozen=True, slots=True)
class _Where:
    host: str
    port: int


def serve_mdash_units(opts: RpcOptions, wait: Callable[[], None]) -> None:
    """Check everything, write the key, start the API, print push's options for it,
    ``wait()`` for the stop signal, then report what changed on each unit (and save its
    file system when asked); the key file is removed whatever happens."""
    # deferred: http.server and its threads are for --mdash only, not the serial unit
    from ..virtual.mdash_cloud import MdashCloud

    where = _parse_url(opts.url)
    default, fleet = _fleet(opts)
    ids = tuple(uid for uid, _ in fleet)
    if opts.save_fs is not None:
        check_output(opts, ids)
    _check_key_file(opts)
    fs_board = _fs_board(default)  # every mDash board's units keep the same SPIFFS
    ca_path = fs_board.file_system(BOARD_SPELLING).ca_path
    image, origin = initial_image(fs_board, opts)
    # mDash's Sys.GetInfo: fw_version is MDASH_VERSION "-" framework (src/mDash.c)
    units = [MdashUnit(uid, open_image(image), fw_version=_fw_version(b)) for uid, b in fleet]
    before = {u.unit_id: u.image.read(ca_path) for u in units}
    # push's --board: the one whose file the units keep (push reads each one's release)
    name = fs_board.full_name if fs_board.version_given else fs_board.name
    compiled_in = [uid for uid, b in fleet if b.filesystem is None]
    if compiled_in:
        origin += (
            f"; the firmware of {', '.join(compiled_in)} never reads it: its CA is compiled in"
        )
    key = secrets.token_urlsafe(24)
    remember(key)  # never shown, whatever message might quote it
    with _key_file(key, opts.api_key_file) as key_path:
        cloud = MdashCloud(units, key, host=where.host, port=where.port)
        try:
            line = f"--mdash {cloud.url} --api-key-file {shell_word(str(key_path))}"
            click.echo(line)  # the first line: push's options to reach the units
            note(
                f"virtual mDash unit{'s' if len(ids) > 1 else ''} {_said(fleet)} ("
                f"{ca_path}: {origin}) behind mDash's REST API at {cloud.url}, "
                f"which refuses (401) any request without the API key in {key_path} "
                "(mode 0600; removed when it stops); Ctrl-C stops it\n  push to it (the "
                "board's server judges the CA, as for the real fleet): esp-cabundle push "
                f"{line} --board {name} --bundle ca.pem"
            )
            wait()
        finally:
            cloud.close()
    for unit in units:
        now = unit.image.read(ca_path) if unit.image.exists(ca_path) else None
        note(f"stopped {unit.unit_id}: {change_line(ca_path, before[unit.unit_id], now, unit)}")
    note(
        f"mDash's API answered {plural(cloud.requests_total, 'request')}, "
        f"{cloud.refused} refused without the API key; {key_path} removed"
    )
    if opts.save_fs is not None:
        write_atomic(opts.save_fs, units[0].image_bytes(), mode=PRIVATE)
        note(f"wrote {units[0].unit_id}'s file system to {opts.save_fs}")


def _fleet(opts: RpcOptions) -> tuple[Board, list[tuple[str, Board]]]:
    """``--board``'s board, and each unit's id and board: ``ID`` runs ``--board``'s
    firmware, ``ID=BOARD`` its own (an mDash board). Refused before anything starts: a
    board not found or not mDash's, an ``=`` naming none, an id given twice."""
    default = load_board(opts.board or DEFAULT_MDASH_BOARD)
    check_board(default, "--mdash")
    fleet = []
    for text in opts.ids or (DEFAULT_ID,):
        uid, given, name = text.partition("=")
        board = default
        if given:
            if not name:
                raise InputError(
                    f"--id {text}: name the unit's board after '=' (or give the id alone: "
                    f"it runs --board's)",
                    hint=f"--id {uid}=mdash@1.2.16 (an mDash unit whose CA is compiled in)",
                )
            try:
                board = load_board(name)
                check_board(board, "--mdash")
            except InputError as e:
                raise InputError(f"--id {text}: {e.message}", hint=e.hint) from None
        fleet.append((uid, board))
    check_ids([uid for uid, _ in fleet])
    return default, fleet


def _fs_board(board: Board) -> Board:
    """The board whose file system a unit of ``board`` holds: its own, or for mDash
    1.2.15+ (no CA file, so no file system in its profile) the SPIFFS partition of the
    ``mdash-arduino`` firmware it replaced, which its ``mount_fs()`` still mounts."""
    return board if board.filesystem is not None else load_board(DEFAULT_MDASH_BOARD)


def _fw_version(board: Board) -> str:
    """``Sys.GetInfo``'s ``fw_version`` of a unit of ``board``, as an Arduino build of
    that release reports it: ``1.2.16-a-10819-ESP32_DEV``."""
    firmware = board.firmware
    version = board.version or (firmware.default if firmware is not None else None)
    return f"{version or '1.2.14'}-{MDASH_ARDUINO_FRAMEWORK}"


def _said(fleet: list[tuple[str, Board]]) -> str:
    """The units by board, in the order given: ``m-1, m-2 (board mdash-arduino); m-3
    (board mdash@1.2.16)``."""
    groups: dict[str, list[str]] = {}
    for uid, board in fleet:
        groups.setdefault(board.full_name if board.version_given else board.name, []).append(uid)
    return "; ".join(f"{', '.join(ids)} (board {name})" for name, ids in groups.items())


def _parse_url(text: str) -> _Where:
    """Where the API listens: http://HOST[:PORT] (port 0: any free one), with no path
    but mDash's own ``/api/v2``."""
    parts = split_url(text, "--mdash", example=_EXAMPLE, any_port=True)
    scheme = parts.scheme.lower()
    if scheme != "http":
        why = "no TLS: it listens on this machine" if scheme == "https" else ""
        raise InputError(
            f"--mdash: the virtual mDash serves http://, not {scheme or 'no'}://",
            hint=_mended(text, why=why),
        )
    if not parts.hostname:
        raise InputError("--mdash: the URL names no host", hint=_mended(text))
    if parts.username or parts.password:
        raise InputError(
            "--mdash: give no user or key in the URL: the virtual mDash makes its own key",
            hint="push reads it from the file the first line names (--api-key-file)",
        )
    if parts.path.rstrip("/") not in ("", "/api/v2") or parts.query or parts.fragment:
        raise InputError("--mdash: give no path: the API is served at /api/v2")
    port = parts.port if parts.port is not None else 80
    if not _loopback(parts.hostname):
        raise InputError(
            f"--mdash: the virtual mDash listens only on this machine, not on "
            f"{parts.hostname}: over http:// its API key would cross the network in clear",
            hint=f"--mdash http://127.0.0.1:{port} (push from this machine)",
        )
    return _Where(parts.hostname, port)


def _loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): a name is not resolved,
    so one that only /etc/hosts maps to 127.0.0.1 is refused, never a LAN address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _mended(url: str, *, why: str = "") -> str:
    """The line as typed, ``--mdash url`` given http:// and a host on this machine if it
    names none."""
    words, _ = url_in_line(
        typed_words(), "--mdash", url, "http", host="127.0.0.1:8080", path="/api/v2"
    )
    return example_line(words, why=why)


def _check_key_file(opts: RpcOptions) -> None:
    """A named key file must be new (a key is never written over a file the user has)
    and in a folder that exists (one --save-fs also names is refused by check_output)."""
    path = opts.api_key_file
    if path is None:
        return
    if os.path.lexists(path):
        raise InputError(
            "--api-key-file: the file exists; the virtual mDash writes a new key to a new "
            "file (and removes it when it stops)",
            path=str(path),
            hint="name a file that does not exist, or leave --api-key-file out (a private "
            "temporary file is named on the first line)",
        )
    if not os.path.isdir(path.parent):
        raise InputError("no such directory to write the API key to", path=str(path.parent))


@contextlib.contextmanager
def _key_file(key: str, named: Path | None) -> Iterator[Path]:
    """``key`` in a new file, mode 0600 (``named``, or one in a new private folder),
    removed on leaving."""
    folder = None
    if named is None:
        folder = Path(tempfile.mkdtemp(prefix="esp-cabundle-mdash-"))  # mode 0700
        path = folder / _KEY_NAME
    else:
        path = named
    try:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
        except OSError as e:  # made since it was checked, or not writable there
            raise OutputError(f"cannot write the API key file {path} ({e.strerror or e})") from None
        try:
            with os.fdopen(fd, "w") as f:
                f.write(key + "\n")
            yield path
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
