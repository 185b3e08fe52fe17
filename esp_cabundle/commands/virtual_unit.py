"""``esp-cabundle virtual-unit``: a virtual ESP32 to rehearse on, or to test scripts with."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from ..boards import load_board
from ..errors import InputError
from ..fileio import read_input
from ..ui import note
from ..virtual import VirtualESP32
from ..virtual.boards import board_image, dump_image
from .options import board_option, file_option

__all__ = ["virtual_unit"]


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
    metavar="CHIP",
    help="The chip it says it is (esp32, esp32s3, esp32c3; default: the board's, or esp32).",
)
@click.option(
    "--mac",
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
def virtual_unit(
    board: str | None,
    dump: Path | None,
    chip: str | None,
    mac: str,
    listen: str,
    rfc2217: bool,
) -> None:
    """Start a virtual ESP32 in download mode and print its port URL; Ctrl-C stops it.

    It speaks esptool's serial protocol (ROM loader and flasher stub) with NOR-flash
    semantics, so 'flash', 'restore', 'inspect --port' and 'read' work on it exactly as
    on a unit: rehearse a station's run, or test the scripts around it, before touching
    real units. Nothing it holds outlives it.

    \b
    Examples:
      esp-cabundle virtual-unit --board mdash-arduino
      esp-cabundle virtual-unit --board mongoose-os-esp32 --listen 5555 --mac 24:0a:c4:00:00:01
      esp-cabundle virtual-unit --dump dump.bin --chip esp32 --rfc2217
    """

    if (board is None) == (dump is None):
        raise InputError("give --board NAME or --dump FILE: what the unit holds")
    host, port = _listen(listen)
    profile = load_board(board) if board is not None else None
    if profile is not None:
        image = board_image(profile, chip=chip)
        what = f"board {profile.name}"
    else:
        assert dump is not None
        image = dump_image(
            read_input(dump, what="flash dump", devices=False),
            chip=chip or "esp32",
            name=str(dump),
        )
        what = f"dump {dump}"
    try:
        unit = VirtualESP32(
            image.chip,
            flash_size=image.flash_size,
            mac=mac,
            transport="rfc2217" if rfc2217 else "socket",
        )
    except ValueError as e:
        raise InputError(f"--mac {mac}: {e}") from e
    unit.load(0, image.flash)
    try:
        unit.start(host=host, port=port)
    except OSError as e:
        raise InputError(f"cannot listen on {host}:{port} ({e.strerror or e})") from e
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        click.echo(unit.url)  # the first line: what --port takes
        note(
            f"virtual {unit.chip.name} ({what}, MAC {mac}) in download mode at {unit.url}; "
            "Ctrl-C stops it"
        )
        while not stop.wait(0.2):
            pass
    finally:
        unit.stop()
        for sig, old in previous.items():
            signal.signal(sig, old)
    s = unit.stats
    note(
        f"stopped: {s.connections} connection(s), {s.sectors_erased} sector(s) erased, "
        f"{s.sectors_programmed} programmed"
    )


def _listen(text: str) -> tuple[str, int]:

    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise InputError(f"--listen {text}: not a port (0 to 65535, or HOST:PORT)")
    return host or "127.0.0.1", number
