"""``esp-cabundle virtual-unit``: a virtual ESP32 a user starts from a board's layout or a
dump, reached by the other commands through the ``socket://`` URL it prints, stopped by
a signal; and the units it lays out for every board."""

from __future__ import annotations

import errno
import os
import random
import signal
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.doc_commands import UnitProcess
from support.fresh_python import run_command_without

from esp_cabundle.boards import list_boards, load_board
from esp_cabundle.certs import load_certificates
from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from esp_cabundle.partitions import PartitionTable
from esp_cabundle.virtual.boards import board_image
from tests.support import dumps
from tests.support.gated import canonical

NEW_CA = canonical(
    dumps.pem("isrgrootx1.pem") + dumps.pem("isrg-root-x2.pem") + dumps.pem("2024-r10.pem")
)
FS_BOARDS = [b.name for b in list_boards() if b.filesystem is not None and b.layout is not None]


def flash(runner: CliRunner, url: str, board: str, tmp_path: Path, *extra: str) -> str:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(NEW_CA)
    r = runner.invoke(
        cli,
        [
            *("flash", "--port", url, "--board", board, "--bundle", str(ca)),
            *("--journal-dir", str(tmp_path / "journal"), "--at", "2026-06-01", *extra),
        ],
    )
    assert r.exit_code == 0, r.output
    return r.stdout


def test_a_board_unit_is_flashed_restored_and_stopped(
    start_unit: Callable[..., UnitProcess], runner: CliRunner, tmp_path: Path
) -> None:
    unit = start_unit("--board", "mongoose-os-esp32", "--mac", "24:0a:c4:aa:bb:cc")
    assert unit.url.startswith("socket://127.0.0.1:"), unit.proc.stderr
    out = flash(runner, unit.url, "mongoose-os-esp32", tmp_path)
    (line,) = out.splitlines()
    assert line.startswith(f"OK  {unit.url}  24:0a:c4:aa:bb:cc  ")
    assert line.endswith("+ISRG Root X1, +ISRG Root X2, +R10, -DST Root CA X3")
    again = flash(runner, unit.url, "mongoose-os-esp32", tmp_path)
    assert (
        "up to date: already holds the 3 CAs (2 roots, 1 intermediate)" in again
    )  # the unit kept what was written
    r = runner.invoke(cli, ["restore", "-p", unit.url, "--journal-dir", str(tmp_path / "journal")])
    assert r.exit_code == 0 and r.stdout.rstrip().endswith(
        "+DST Root CA X3, -ISRG Root X1, -ISRG Root X2, -R10"
    ), r.output
    code, err = unit.stop()
    assert code == 0 and "stopped: " in err and "sectors erased" in err


def test_a_unit_whose_terminal_closed_stops_as_on_sigterm(
    start_unit: Callable[..., UnitProcess],
) -> None:
    """SIGHUP (the terminal closed) ended it at once, with no report of what it saw."""
    unit = start_unit("--board", "mdash-arduino")
    code, err = unit.stop(signal.SIGHUP)
    assert code == 0 and "stopped: " in err and "Traceback" not in err, err


def test_a_dump_unit_holds_the_dump(
    start_unit: Callable[..., UnitProcess], runner: CliRunner, tmp_path: Path
) -> None:
    dump = tmp_path / "dump.bin"
    dump.write_bytes(dumps.arduino_dump())
    unit = start_unit("--dump", str(dump), "--rfc2217")
    assert unit.url.startswith("rfc2217://127.0.0.1:")
    r = runner.invoke(cli, ["read", "-p", unit.url, "--all", "-o", str(tmp_path / "back.bin")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "back.bin").read_bytes() == dump.read_bytes()
    assert unit.stop()[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --board NAME or --dump FILE"),
        (["--board", "mdash", "--dump", "x.bin"], "give --board NAME or --dump FILE, not both"),
        (["--board", "mdash"], "not in a file system"),
        (["--board", "mdash-arduino", "--chip", "esp8266"], "cannot be a chip 'esp8266'"),
        (["--board", "mdash-arduino", "--listen", "99999"], "not a port"),
        (["--board", "mdash-arduino", "--mac", "24:0a"], "'24:0a' is not a MAC address"),
        # Python's own words (fromhex() positions) never reach the user
        (["--dump", "dump.bin", "--mac", "zz"], "'zz' is not a MAC address: give 6 bytes"),
        (["--board", "mdash-arduino", "--mac", "24:0a:c4:12:34:56:78"], "not a MAC address"),
        (["--dump", "missing.bin"], "missing.bin"),
    ],
)
def test_refusals(in_tmp: Path, runner: CliRunner, args: list[str], message: str) -> None:
    r = runner.invoke(cli, ["virtual-unit", *args])
    assert r.exit_code == 2 and message in r.output, r.output
    assert "fromhex" not in r.output and "mac must be" not in r.output


@pytest.mark.parametrize("transport", [[], ["--rfc2217"]])
def test_a_listen_port_in_use_is_refused_with_the_way_out(
    in_tmp: Path, runner: CliRunner, transport: list[str]
) -> None:
    """It said "Address already in use" and no more, while --rpc and --mdash on a busy
    port suggest another one or port 0."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = ["virtual-unit", "--board", "mdash-arduino", "--listen", str(port), *transport]
        r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    in_use = os.strerror(errno.EADDRINUSE)  # the address once, not twice
    assert r.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port} ({in_use})\n")
    assert "hint: choose another port, or port 0 for any free one" in r.stderr, r.stderr
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("listen", "mended"),
    [
        (["--listen", "99999"], "--listen 5555"),
        (["--listen=localhost:x"], "--listen localhost:5555"),
    ],
)
def test_a_listen_not_a_port_is_mended_in_the_line_typed(
    in_tmp: Path, runner: CliRunner, listen: list[str], mended: str
) -> None:
    """``--listen 99999`` gave no e.g. (tryout): the hint is the line typed with a port
    (the host typed kept), and nothing is listened on or written."""
    r = runner.invoke(cli, ["virtual-unit", "--board", "mdash-arduino", *listen, "--chip", "esp32"])
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"Error: --listen {listen[-1].partition('=')[2] or listen[-1]}: ")
    typed = "virtual-unit --board mdash-arduino --chip esp32"
    hint = f"  hint: e.g. esp-cabundle {typed} {mended} (port 0 takes any free one)"
    assert hint in r.stderr, r.stderr
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            random.Random(5000).randbytes(5000),
            "rand.bin: not a whole-flash dump: no partition table in the 0x1388-byte image",
        ),
        (bytes(0x9000), "not a whole-flash dump: no partition table in the 0x9000-byte image"),
        (
            dumps.arduino_dump()[:0x200000],
            "not a whole-flash dump: partition table at 0x8000: partition 'app1'",
        ),
        (b"", "rand.bin: empty file, not a flash dump"),
    ],
    ids=["random", "zeros", "cut-short", "empty"],
)
@pytest.mark.timeout(60)
def test_a_file_that_is_no_flash_dump_starts_no_unit(
    in_tmp: Path, runner: CliRunner, content: bytes, message: str
) -> None:
    """inspect and update-dump refuse these files (no partition table, or partitions
    beyond the end): a unit holding one would be no unit at all."""
    (in_tmp / "rand.bin").write_bytes(content)
    r = runner.invoke(cli, ["virtual-unit", "--dump", "rand.bin"])
    assert r.exit_code == 2 and message in r.stderr, r.output
    assert "no unit started" in r.stderr or not content
    assert "socket://" not in r.stdout
    assert (in_tmp / "rand.bin").read_bytes() == content


@pytest.mark.parametrize("name", FS_BOARDS)
def test_every_board_unit_holds_its_old_ca_and_settings(name: str) -> None:
    board = load_board(name)
    image = board_image(board)
    fs = board.filesystem
    assert fs is not None and board.layout is not None
    assert len(image.flash) == board.flash_size and image.chip in board.chips
    table = PartitionTable.from_binary(
        image.flash[board.table_offset : board.table_offset + 0xC00],
        offset=board.table_offset,
    )
    assert table == board.layout
    for p in board.fs_partitions(table):
        files = open_image(image.flash[p.offset : p.end], fs_type=fs.fs_type, profile=fs.profile)
        (root,) = load_certificates(files.read(fs.ca_path))
        assert root.label == "DST Root CA X3"
        for path in fs.config_files:
            assert b"virtual-" + name.encode() in files.read(path)


def test_the_help_names_the_command(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["virtual-unit", "--help"])
    assert r.exit_code == 0 and "esp-cabundle virtual-unit --board" in r.stdout


def test_the_serial_unit_loads_none_of_the_rpc_servers(tmp_path: Path) -> None:
    """--rpc's HTTP/WebSocket/MQTT servers (http.server, a thread pool, paho) load only
    for --rpc: the serial unit's start-up stays as it was."""
    heavy = ("esp_cabundle.virtual.rpc_links", "esp_cabundle.virtual.rpc_http", "http.server")
    heavy += ("paho", "websockets")
    r = run_command_without(["virtual-unit", "--help"], heavy, tmp_path)
    assert r.returncode == 0, r.stderr
