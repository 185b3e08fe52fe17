"""``esp-cabundle virtual-unit``: a virtual ESP32 to rehearse on, or to test scripts with:
in download mode for the bench commands, or for ``push`` in the field: (``--rpc``) a
Mongoose OS unit, or (``--mdash``) mDash units behind mDash's REST API."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import click
from click.core import ParameterSource

from .._signals import STOP_SIGNALS
from ..boards import load_board
from ..errors import InputError
from ..fileio import read_input
from ..spelling import BOARD_SPELLING
from ..text import plural
from ..ui import note
from ..virtual import VirtualESP32
from ..virtual.boards import board_image, dump_image
from ..virtual.link import listen_error
from ._usage import split_option, typed_words, usage_error, with_option
from ._virtual_mdash import serve_mdash_units
from ._virtual_rpc import DEFAULT_ID, RpcOptions, serve_rpc_units
from .options import Mac, Name, board_option, file_option, output_path

__all__ = ["virtual_unit"]

# Options of one kind of unit only (parameter name: flag).
_SERIAL_ONLY = {
    "dump": "--dump",
    "chip": "--chip",
    "mac": "--mac",
    "listen": "--listen",
    "rfc2217": "--rfc2217",
}
_FIELD_ONLY = {
    "ids": "--id",
    "ca_file": "--ca-file",
    "fs_image": "--fs-image",
    "save_fs": "--save-fs",
    "api_key_file": "--api-key-file",
}


@click.command("virtual-unit")
@board_option()
@file_option(
    "--dump",
    help="Load a whole-flash dump (esp-cabundle read --all, esptool read-flash 0 ALL) "
    "instead of laying the unit out as --board's units leave the factory (its partition "
    "table; its file system holding the old CA file, DST Root CA X3, and settings files).",
)
@click.option(
    "--chip",
    type=Name("chip"),
    metavar="CHIP",
    help="The chip it says it is (esp32, esp32s3, esp32c3; default: the board's, or esp32).",
)
@click.option(
    "--mac",
    type=Mac(),
    default="24:0a:c4:12:34:56",
    show_default=True,
    metavar="MAC",
    help="The MAC address it reports (the journal keeps updates per MAC).",
)
@click.option(
    "--listen",
    default="0",
    show_default=True,
    metavar="[HOST:]PORT",
    help="Where to listen; port 0 takes any free one. The host is 127.0.0.1 unless given.",
)
@click.option(
    "--rfc2217",
    is_flag=True,
    help="Serve rfc2217:// (reset lines travel, as through esp_rfc2217_server) instead of "
    "a raw socket://.",
)
@click.option(
    "--rpc",
    type=Name("URL"),
    metavar="URL",
    help="Be a Mongoose OS unit in the field instead, for 'push': mqtt://HOST[:PORT] answers "
    "through the broker there (run one: mosquitto), http://HOST:PORT or ws://HOST:PORT "
    "serves /rpc there (port 0: any free one). It prints push's options to reach it.",
)
@click.option(
    "--mdash",
    type=Name("URL"),
    metavar="URL",
    help="Be mDash units (Arduino) in the field instead, behind mDash's REST API served "
    "at http://127.0.0.1:PORT/api/v2 (port 0: any free one; loopback only, as the API "
    "key travels in clear), for 'push --mdash'. It prints "
    "push's options to reach them, the API key's file among them.",
)
@click.option(
    "--id",
    "ids",
    type=Name("device id"),
    multiple=True,
    metavar="ID",
    help=f"With --rpc or --mdash: the unit's device id (default {DEFAULT_ID}); repeat for "
    "several units (--rpc over HTTP or WebSocket: one port each, counting up from PORT). "
    "With --mdash, ID=BOARD runs that unit on its own mDash board instead of --board's, "
    "for a mixed fleet: --id m-3=mdash@1.2.16 (its CA compiled in; push reports it unused).",
)
@file_option(
    "--ca-file",
    help="With --rpc or --mdash: the CA file the unit starts with (default: DST Root CA X3, as the "
    "units that went dark shipped).",
)
@file_option(
    "--fs-image",
    help="With --rpc or --mdash: start from this LittleFS or SPIFFS image (e.g. 'esp-cabundle read "
    "--partition fs_0' of a real unit) instead of the board's factory file system; one "
    "the board's firmware would not mount (another file system or profile) is refused.",
)
@click.option(
    "--save-fs",
    type=output_path(),
    metavar="FILE",
    help="With --rpc or --mdash and one --id: when stopped, write the unit's file system "
    "here (mode 0600). Nothing else is written but --mdash's API key file, removed when stopped.",
)
@click.option(
    "--api-key-file",
    type=output_path(),
    metavar="FILE",
    help="With --mdash: write the API key it makes to this new file (mode 0600) instead "
    "of a private temporary one; removed when it stops. The key is never printed.",
)
@click.pass_context
def virtual_unit(
    ctx: click.Context,
    board: str | None,
    dump: Path | None,
    chip: str | None,
    mac: str,
    listen: str,
    rfc2217: bool,
    rpc: str | None,
    mdash: str | None,
    ids: tuple[str, ...],
    ca_file: Path | None,
    fs_image: Path | None,
    save_fs: Path | None,
    api_key_file: Path | None,
) -> None:
    """Start a virtual ESP32 in download mode and print its port URL; Ctrl-C stops it.

    It speaks esptool's serial protocol (ROM loader and flasher stub) with NOR-flash
    semantics, so 'flash', 'restore', 'inspect --port' and 'read' work on it exactly as
    on a unit: rehearse a station's run, or test the scripts around it, before touching
    real units. Nothing it holds outlives it.

    With --rpc it is instead a Mongoose OS unit in the field (--board, default
    mongoose-os-esp32, gives its file system): it answers the RPC that 'push' sends
    over MQTT, HTTP or WebSocket, from a file system held in memory, and refuses
    malformed or oversized requests as the firmware does. Stopped, it says per unit
    how many calls it answered (its call log keeps only the last 1000) and whether its
    CA file changed.

    With --mdash it is instead mDash units (--board, default mdash-arduino) behind
    mDash's REST API, which 'push --mdash' reaches: the device list and the RPC relay,
    open only to an API key it makes (written to a 0600 file, never printed, refused
    401 without it). Stopped, it says the same per unit. --id ID=BOARD gives one
    unit its own mDash board: a fleet of 1.2.13 units that read /spiffs/ca.pem and
    1.2.16 ones whose CA is compiled in.

    \b
    Examples:
      esp-cabundle virtual-unit --board mdash-arduino
      esp-cabundle virtual-unit --board mongoose-os-esp32 --listen 5555 \\
          --mac 24:0a:c4:00:00:01
      esp-cabundle virtual-unit --dump dump.bin --chip esp32 --rfc2217
      esp-cabundle virtual-unit --rpc mqtt://127.0.0.1:1883 --id dev-1 \\
          --ca-file old-ca.pem
      esp-cabundle virtual-unit --rpc http://127.0.0.1:8080 --id dev-2 \\
          --save-fs dev-2.bin
      esp-cabundle virtual-unit --mdash http://127.0.0.1:8090 --id m-1 \\
          --id m-2 --api-key-file mdash.key
      esp-cabundle virtual-unit --mdash http://127.0.0.1:8090 --id m-1 \\
          --id m-2 --id m-3=mdash@1.2.16
    """

    given = [
        flag
        for name, flag in (*_SERIAL_ONLY.items(), *_FIELD_ONLY.items())
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
    ]
    if rpc is not None and mdash is not None:
        raise InputError(
            "give --rpc URL (a Mongoose OS unit) or --mdash URL (mDash units), not both"
        )
    if rpc is not None or mdash is not None:
        flag = "--rpc" if rpc is not None else "--mdash"
        serial = [g for g in given if g in _SERIAL_ONLY.values()]
        if serial:
            raise InputError(
                f"{serial[0]} is for a unit in download mode; with {flag} the URL says "
                "where it answers",
                hint="--fs-image FILE starts it from a file system (esp-cabundle read --partition)",
            )
        if rpc is not None and api_key_file is not None:
            raise InputError(
                "--api-key-file is for --mdash: a Mongoose OS unit over --rpc asks for no key"
            )
        url = rpc if rpc is not None else str(mdash)
        opts = RpcOptions(url, ids, board, ca_file, fs_image, save_fs, api_key_file)
        with _stop_signals():  # before the units start and their first line is printed
            if rpc is not None:
                serve_rpc_units(opts, wait_for_signal)
            else:
                serve_mdash_units(opts, wait_for_signal)
        return
    field = [g for g in given if g in _FIELD_ONLY.values()]
    if field:
        raise InputError(
            f"{field[0]} is for a unit in the field: give --rpc URL or --mdash URL with it"
        )
    if board is not None and dump is not None:
        raise InputError(
            "give --board NAME or --dump FILE, not both: the unit holds the board's "
            "factory layout or the dump, never one over the other"
        )
    if board is None and dump is None:
        raise InputError("give --board NAME or --dump FILE: what the unit holds")
    host, port = _listen(listen)
    profile = load_board(board) if board is not None else None
    if profile is not None:
        image = board_image(profile, chip=chip, spelling=BOARD_SPELLING)
        what = f"board {profile.name}"
    else:
        assert dump is not None
        image = dump_image(
            read_input(dump, what="flash dump", devices=False),
            chip=chip or "esp32",
            name=str(dump),
            spelling=BOARD_SPELLING,
        )
        what = f"dump {dump}"
    try:
        unit = VirtualESP32(
            image.chip,
            flash_size=image.flash_size,
            mac=mac,
            transport="rfc2217" if rfc2217 else "socket",
        )
    except ValueError as e:  # options are checked as they are read: a bug if it comes here
        raise InputError(f"cannot start a virtual unit: {e}") from e
    unit.load(0, image.flash)
    try:
        unit.start(host=host, port=port)
    except OSError as e:
        raise listen_error(host, port, e) from e
    try:
        with _stop_signals():
            click.echo(unit.url)  # the first line: what --port takes
            note(
                f"virtual {unit.chip.name} ({what}, MAC {mac}) in download mode at "
                f"{unit.url}; Ctrl-C stops it"
            )
            wait_for_signal()
    finally:
        unit.stop()
    s = unit.stats
    note(
        f"stopped: {plural(s.connections, 'connection')}, "
        f"{plural(s.sectors_erased, 'sector')} erased, "
        f"{s.sectors_programmed} programmed"
    )


_stop = threading.Event()


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP stop the unit from before its first line is
    printed: a script that read the line and stopped it at once met Python's own
    handlers (exit 130, or killed without its report)."""
    _stop.clear()

    def handler(signum: int, frame: object) -> None:
        _stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def wait_for_signal() -> None:
    """Return once a stop signal has arrived (:func:`_stop_signals`): the way a virtual
    unit is stopped, so it returns normally (exit 0) and reports what it saw."""
    while not _stop.wait(0.2):
        pass


def _listen(text: str) -> tuple[str, int]:

    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        # the line typed, mended with the help's example port (the host typed kept)
        words, _ = split_option(typed_words(), ("--listen",), takes_value=True)
        mended = with_option(words, "--listen", f"{host}:5555" if host else "5555")
        message = f"--listen {text}: not a port (0 to 65535, or HOST:PORT)"
        raise usage_error(message, mended, why="port 0 takes any free one")
    return host or "127.0.0.1", number
