"""A repair bench's tryout of 'flash' over several units (virtual units on loopback):
the next step a unit's line gives is that unit's, runnable as printed."""

from __future__ import annotations

import csv
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.doc_commands import UnitProcess
from support.layouts import load_arduino, load_mongoose

import esp_cabundle
from esp_cabundle.blocks import FlashCache
from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.errors import DeviceError, ImageError
from esp_cabundle.flash import plan_checks
from esp_cabundle.flash.dump import DumpFile
from esp_cabundle.flash.serial import open_unit
from esp_cabundle.partitions import read_partition_table
from esp_cabundle.spelling import PYTHON
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps

FIRMWARE = Path(esp_cabundle.__file__).parent / "data" / "firmware"


def _unit_line(output: str, url: str) -> str:
    """The result line of the unit at ``url`` (a wrapped line joined)."""
    lines = output.replace("\n  ", " ").splitlines()
    return next(line for line in lines if f" {url} " in line and "FAILED" in line)


def test_wrong_board_line_of_one_unit_names_its_port_alone(
    start_unit: Callable[..., UnitProcess], runner: CliRunner, in_tmp: Path
) -> None:
    """Four ports, --board mdash-arduino: the Mongoose OS unit's line reran all four
    with mongoose-os-esp32; the LittleFS unit's said "pick a board whose file system is
    littlefs", naming none. Each names its own port, and the boards that fit."""
    mdash = start_unit("--board", "mdash-arduino")
    mos = start_unit("--board", "mongoose-os-esp32")
    lfs = start_unit("--board", "arduino-esp32-littlefs")
    r = runner.invoke(cli, ["build", "-o", "ca.pem", "-q"])
    assert r.exit_code == 0, r.output
    ports = [w for u in (mdash, mos, lfs) for w in ("-p", u.url)]
    tail = ["--board", "mdash-arduino", "--bundle", "ca.pem", "--dry-run"]
    r = runner.invoke(cli, ["flash", *ports, *tail])
    assert r.exit_code == 3, r.output

    line = _unit_line(r.output, mos.url)
    run = line.split("(LittleFS on fs_0, fs_1): ", 1)[1]
    assert shlex.split(run) == [
        "esp-cabundle", "flash", "-p", mos.url, "--board", "mongoose-os-esp32",
        *tail[2:],
    ]  # fmt: skip

    line = _unit_line(r.output, lfs.url)
    assert "pick a board whose file system" not in line
    said = line.split("the partition holds a littlefs file system; ", 1)[1]
    names, run = said.split(" (name the one the unit runs): ")
    # the unit is an ESP32: the ESP32-S3 board is no candidate
    assert names == "boards that fit it: arduino-esp32-littlefs, platformio-esp32"
    assert shlex.split(run) == ["esp-cabundle", "flash", "-p", lfs.url, "--board", "BOARD",
                                *tail[2:]]  # fmt: skip


@pytest.mark.parametrize("board", ["arduino-esp32-littlefs", "platformio-esp32"])
def test_a_littlefs_board_on_a_spiffs_unit_is_told_the_board_not_to_wipe_it(
    virtual_esp32: Callable[..., VirtualESP32], runner: CliRunner, in_tmp: Path, board: str
) -> None:
    """A LittleFS board's mount reads LittleFS's blocks only, so the unit's healthy
    SPIFFS was said to be "damaged ...: rewrite it with a fresh image ...; the files it
    held are lost": advice that wipes every file, for a --board naming the wrong file
    system. It holds SPIFFS, and the boards that fit it are named."""
    unit = virtual_esp32("esp32")
    load_arduino(unit)
    before = unit.read(0, 4 << 20)
    r = runner.invoke(cli, ["build", "-o", "ca.pem", "-q"])
    assert r.exit_code == 0, r.output
    argv = ["flash", "-p", unit.url, "--board", board, "--bundle", "ca.pem"]
    r = runner.invoke(cli, argv)
    assert r.exit_code == 2, r.output
    line = _unit_line(r.output, unit.url)
    assert "damaged" not in line and "are lost" not in line, line
    said = line.split("next: the partition holds a spiffs file system; ", 1)[1]
    named, run = said.split(" fits it: ", 1)  # its mdash.cfg marks mdash-arduino
    fits = named.removeprefix("board ")
    fs = load_board(fits).filesystem
    assert fs is not None and fs.fs_type == "spiffs", said
    assert shlex.split(run) == ["esp-cabundle", *argv[:4], fits, *argv[5:]]
    assert unit.read(0, 4 << 20) == before


def test_one_port_keeps_the_line_as_typed(
    start_unit: Callable[..., UnitProcess], runner: CliRunner, in_tmp: Path
) -> None:
    """One unit: the line is the one typed (its --port spelling kept), the board mended."""
    mos = start_unit("--board", "mongoose-os-esp32")
    r = runner.invoke(cli, ["build", "-o", "ca.pem", "-q"])
    assert r.exit_code == 0, r.output
    argv = ["flash", "--port", mos.url, "--board", "mdash-arduino", "--bundle", "ca.pem"]
    r = runner.invoke(cli, [*argv, "--dry-run"])
    assert r.exit_code == 2, r.output
    run = _unit_line(r.output, mos.url).split("(LittleFS on fs_0, fs_1): ", 1)[1]
    fixed = [*argv[:4], "mongoose-os-esp32", *argv[5:], "--dry-run"]
    assert shlex.split(run) == ["esp-cabundle", *fixed]


def _big_pem() -> bytes:
    """Whole certificates of the shipped roots.pem, some 220 KB: more than the free
    room of the Mongoose OS dump's 256 KiB fs_0."""
    text = (FIRMWARE / "roots.pem").read_text()
    end = "-----END CERTIFICATE-----\n"
    certs = [c + end for c in text.split(end) if "BEGIN CERTIFICATE" in c]
    out = ""
    for c in certs:
        if len(out) > 220_000:
            break
        out += c[c.index("-----BEGIN") :]
    return out.encode()


def _room_said(said: str, part: str, fs: str) -> int:
    """The no-room hint's figures, checked never to contradict its refusal: the room it
    states is below the new file's size, is the --max-bytes it suggests, and with the
    bytes the file system keeps adds up to the free bytes it shows. Returns that room."""
    m = re.search(
        rf"partition '{part}' has room for a CA file of at most ([\d,]+) bytes \(([\d,]+) "
        rf"bytes free, of which {fs} keeps about ([\d,]+) for its [a-z -]+ and [a-z ]+; "
        r"the old /ca.pem's 3,929 bytes are freed only once the new one is "
        r"written\); the new /ca.pem needs ([\d,]+) bytes; the image was not changed; "
        r"flash a smaller bundle \(fewer roots\): run 'esp-cabundle build' with "
        r"--max-bytes (\d+) to be refused a larger one",
        said,
    )
    assert m, said
    most, free, kept, need, budget = (int(g.replace(",", "")) for g in m.groups())
    assert 256 <= most < need and most == budget and most + kept == free and kept > 0
    return most


def test_full_file_system_says_free_and_needed_bytes_and_a_bundle_that_fits(
    runner: CliRunner, in_tmp: Path
) -> None:
    """ "free space by removing files" named no way to remove one on a unit: the hint
    says the bytes free and needed, and the largest CA file the partition takes, as
    build's --max-bytes; nothing is written (exit 2: the bundle given is too big)."""
    (in_tmp / "dump.bin").write_bytes(dumps.mongoose_dump())
    (in_tmp / "big.pem").write_bytes(_big_pem())
    allow = "expired,expires-before-service-end,not-ca,over-budget,unparseable"
    argv = ["update-dump", "dump.bin", "--board", "mongoose-os-esp32", "--bundle", "big.pem"]
    r = runner.invoke(cli, [*argv, "-o", "new.bin", "--allow", allow, "--no-check"])
    assert r.exit_code == 2, r.output
    said = " ".join(r.output.split())
    assert "removing files" not in said
    most = _room_said(said, "fs_0", "LittleFS")
    assert not (in_tmp / "new.bin").exists()

    # the size said fits, and 256 bytes more does not
    board = load_board("mongoose-os-esp32")
    flash = dumps.mongoose_dump()
    table = read_partition_table(flash)
    p = board.fs_partitions(table)[0]
    fs = board.filesystem
    assert fs is not None
    edit = plan_checks._open(FlashCache(DumpFile(flash)), p, fs.fs_type, fs.profile, PYTHON)
    assert edit is not None
    assert plan_checks._fits(edit, "/ca.pem", most)
    assert not plan_checks._fits(edit, "/ca.pem", most + 256)


def test_host_port_without_a_scheme_suggests_socket_url(runner: CliRunner, in_tmp: Path) -> None:
    """'-p 127.0.0.1:5604' (socket:// forgotten) was told to check the cable of
    /dev/ttyUSB0; it is told the URL. A device path with a colon keeps the cable hint."""
    r = runner.invoke(cli, ["build", "-o", "ca.pem", "-q"])
    assert r.exit_code == 0, r.output
    for port in ("127.0.0.1:5604", "bench-pi:4000", "[::1]:4000"):
        argv = ["flash", "-p", port, "--board", "mdash-arduino", "--bundle", "ca.pem"]
        r = runner.invoke(cli, [*argv, "--dry-run"])
        assert r.exit_code == 3, r.output
        said = " ".join(r.output.split())
        assert f"next: a unit over the network is named by a URL: socket://{port} " in said
        assert "/dev/ttyUSB0" not in said
    with pytest.raises(DeviceError) as e:
        open_unit("/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0")
    assert "no such serial port" in e.value.message
    assert e.value.hint and "check the cable" in e.value.hint


def test_a_url_missing_its_colon_or_a_slash_is_told_the_url(
    runner: CliRunner, in_tmp: Path
) -> None:
    """'-p socket//127.0.0.1:5604' (the colon left out) was opened as a device path and
    told "no such serial port" with the cable hint; it is told the URL meant. A path
    with a colon and a slash before a word that is no network scheme keeps the cable
    hint."""
    r = runner.invoke(cli, ["build", "-o", "ca.pem", "-q"])
    assert r.exit_code == 0, r.output
    for port, meant in (
        ("socket//127.0.0.1:5604", "socket://127.0.0.1:5604"),
        ("rfc2217//bench-pi:4000", "rfc2217://bench-pi:4000"),
        ("SOCKET:/127.0.0.1:5604", "socket://127.0.0.1:5604"),
    ):
        argv = ["flash", "-p", port, "--board", "mdash-arduino", "--bundle", "ca.pem"]
        r = runner.invoke(cli, [*argv, "--dry-run"])
        assert r.exit_code == 3, r.output
        said = " ".join(r.output.split())
        assert (
            f"FAILED {port} - " in said
            and f"no such serial port; next: did you mean {meant}? " in said
        )
        assert "check the cable" not in said
    with pytest.raises(DeviceError) as e:
        open_unit("dev:/ttyNO-SUCH-PORT")  # a colon and a slash before no network scheme
    assert e.value.hint and "check the cable" in e.value.hint


def test_inspect_port_reads_with_the_named_boards_profile(
    start_unit: Callable[..., UnitProcess], runner: CliRunner, tmp_path: Path
) -> None:
    """An Arduino LittleFS unit inspected with --board arduino-esp32-littlefs showed
    "profile: mongoose-os ... read as profile mongoose-os": the board's profile reads
    it, and the detection says whose; without --board the bytes' guess is kept."""
    unit = start_unit("--board", "arduino-esp32-littlefs")
    r = runner.invoke(cli, ["inspect", "--port", unit.url, "--board", "arduino-esp32-littlefs"])
    assert r.exit_code == 0, r.output
    assert "profile: arduino\n" in r.output, r.output
    assert "detection: profile arduino (board arduino-esp32-littlefs's)" in r.output
    assert "mongoose-os" not in r.output
    r = runner.invoke(cli, ["inspect", "--port", unit.url])
    assert r.exit_code == 0, r.output
    assert "read as profile mongoose-os" in r.output
    # its dump, with the same --board, is read the same way
    dump = str(tmp_path / "dump.bin")
    r = runner.invoke(cli, ["read", "--port", unit.url, "--all", "-o", dump])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["inspect", dump, "--board", "arduino-esp32-littlefs"])
    assert r.exit_code == 0, r.output
    assert "detection: profile arduino (board arduino-esp32-littlefs's)" in r.output


def test_read_without_a_partition_says_how_to_list_them(
    start_unit: Callable[..., UnitProcess], runner: CliRunner, in_tmp: Path
) -> None:
    """'read -p PORT -o y.bin' hinted --partition spiffs to a Mongoose OS unit, which
    has none; opening the unit to name its partitions rebooted it for a usage error.
    The hint says NAME and the command listing them; the unit is not touched and
    nothing is written."""
    unit = start_unit("--board", "mongoose-os-esp32")
    r = runner.invoke(cli, ["read", "-p", unit.url, "-o", "y.bin"])
    assert r.exit_code == 2, r.output
    said = " ".join(r.output.split())
    assert "say what to read: --partition NAME or --all" in said
    line = shlex.join(["read", "-p", unit.url, "-o", "y.bin", "--partition", "NAME"])
    assert (
        f"hint: e.g. esp-cabundle {line} (esp-cabundle inspect --port {unit.url} --no-apps "
        "lists the unit's partitions; or --all for the whole flash)"
    ) in said
    assert list(in_tmp.iterdir()) == []
    # the listing named is what it says: the unit's partitions
    r = runner.invoke(cli, ["inspect", "--port", unit.url, "--no-apps"])
    assert r.exit_code == 0, r.output
    assert "partition fs_0: data/spiffs" in r.output
    # inspect has no --table-offset: the hint says so rather than list another table
    r = runner.invoke(cli, ["read", "-p", unit.url, "-o", "y.bin", "--table-offset", "0x9000"])
    assert r.exit_code == 2, r.output
    said = " ".join(r.output.split())
    assert (
        "inspect has no --table-offset: it reads the table at 0x8000, or where its --board "
        "NAME puts it; yours is at 0x9000)"
    ) in said, said
    assert list(in_tmp.iterdir()) == []


def test_chip_mismatch_and_lost_link_lines_name_the_mac(
    virtual_esp32: Callable[..., VirtualESP32], runner: CliRunner, in_tmp: Path
) -> None:
    """A unit of another chip, and one whose link is lost while the stub loads, said
    their MAC before failing: their lines and log records name it (they showed "-"),
    and the log's error is said without the port (the record's own column), as every
    other error is."""
    other = virtual_esp32("esp32s3", mac="24:0a:c4:00:00:05")
    lost = virtual_esp32("esp32", mac="24:0a:c4:00:00:06")
    load_mongoose(lost)
    lost.arm_cut(bytes_in=2000)  # past the MAC read, in the stub's upload
    r = runner.invoke(cli, ["build", "-o", "ca.pem", "-q"])
    assert r.exit_code == 0, r.output
    argv = ["flash", "-p", other.url, "-p", lost.url, "--board", "mongoose-os-esp32"]
    r = runner.invoke(cli, [*argv, "--bundle", "ca.pem", "--log", "log.csv"])
    assert r.exit_code == 3, r.output
    mismatch = _unit_line(r.output, other.url)
    assert " 24:0a:c4:00:00:05 " in mismatch and "the unit is an ESP32-S3" in mismatch
    cut = _unit_line(r.output, lost.url)
    assert " 24:0a:c4:00:00:06 " in cut and "link lost while" in cut, cut
    with (in_tmp / "log.csv").open() as f:
        rows = {row["port"]: row for row in csv.DictReader(f)}
    assert (rows[other.url]["mac"], rows[other.url]["chip"]) == ("24:0a:c4:00:00:05", "ESP32-S3")
    assert rows[lost.url]["mac"] == "24:0a:c4:00:00:06"
    assert rows[other.url]["error"].startswith("the unit is an ESP32-S3, but ESP32 was expected")
    assert rows[lost.url]["error"].startswith("link lost while"), rows[lost.url]


def test_inspect_with_a_board_whose_profile_does_not_mount_says_so(
    runner: CliRunner, in_tmp: Path
) -> None:
    """A board file naming another SPIFFS profile than the dump's: read as its bytes
    say, and a note says the board's profile did not mount it."""
    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    shipped = Path(esp_cabundle.__file__).parent / "data" / "boards" / "arduino-esp32-spiffs.yaml"
    text = shipped.read_text().replace("profile: arduino", "profile: mongoose-os")
    (in_tmp / "odd.yaml").write_text(text.replace("name: arduino-esp32-spiffs", "name: odd"))
    r = runner.invoke(cli, ["inspect", "dump.bin", "--board", "odd.yaml"])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "profile: esp-idf" in said
    assert "note: does not mount with profile mongoose-os (board odd's): " in said
    assert "read as its bytes say" in said


_SPIFFS = slice(0x290000, 0x290000 + 0x160000)  # the mDash Arduino dump's SPIFFS


def _filled_dump(*sizes: int) -> bytearray:
    """The mDash Arduino dump with filler files of these sizes written to its SPIFFS."""
    from esp_cabundle.fs import open_image

    flash = bytearray(dumps.arduino_dump())
    image = open_image(bytes(flash[_SPIFFS]), fs_type="spiffs", profile="esp-idf")
    for i, size in enumerate(sizes):
        image.write(f"/fill{i + 1 if i else ''}.bin", bytes(size))
    flash[_SPIFFS] = image.to_bytes()
    return flash


def _refused_big_ca(runner: CliRunner, in_tmp: Path, flash: bytearray) -> str:
    """update-dump of a CA too big for ``flash``'s SPIFFS: refused (exit 2), no output
    image written; what it said, white space folded."""
    (in_tmp / "dump.bin").write_bytes(flash)
    (in_tmp / "big.pem").write_bytes(_big_pem())
    allow = "expired,expires-before-service-end,not-ca,over-budget,unparseable"
    argv = ["update-dump", "dump.bin", "--board", "mdash-arduino", "--bundle", "big.pem"]
    r = runner.invoke(cli, [*argv, "-o", "new.bin", "--allow", allow, "--no-check"])
    assert r.exit_code == 2, r.output
    assert not (in_tmp / "new.bin").exists()
    return " ".join(r.output.split())


@pytest.mark.timeout(60)  # each try planned the power-safe orders: minutes per try
def test_full_spiffs_says_a_bundle_that_fits_within_seconds(
    runner: CliRunner, in_tmp: Path
) -> None:
    """The SPIFFS path of the search: an mDash dump whose 1.4 MB SPIFFS a filler file
    left nearly full. The size said fits as the unit's own write takes it, 256 bytes
    more does not; the search tries the write alone, in seconds."""
    from esp_cabundle.fs.spiffs import SpiffsImage

    flash = _filled_dump(950_000)
    said = _refused_big_ca(runner, in_tmp, flash)
    most = _room_said(said, "spiffs", "SPIFFS")
    data = bytes(flash[_SPIFFS])
    SpiffsImage.open(data, "esp-idf").write("/ca.pem", bytes(most))  # fits
    with pytest.raises(ImageError):
        SpiffsImage.open(data, "esp-idf").write("/ca.pem", bytes(most + 256))


@pytest.mark.timeout(60)
def test_spiffs_with_no_usable_room_does_not_call_its_free_bytes_room(
    runner: CliRunner, in_tmp: Path
) -> None:
    """An mDash SPIFFS so full no CA file fits, yet still "bytes free" by SPIFFS_info:
    the hint says there is no room, and that SPIFFS keeps all the free bytes, not a
    free figure next to a refusal; nothing is written."""
    flash = _filled_dump(950_000, 60_900)  # leaves < 256 bytes a new CA could use
    said = _refused_big_ca(runner, in_tmp, flash)
    m = re.search(
        r"partition 'spiffs' has no room for a CA file \(([\d,]+) bytes free, of which "
        r"SPIFFS keeps all for its clean-up and file records; the old /ca.pem's 3,929 bytes "
        r"are freed only once the new one is written\); the new /ca.pem needs ([\d,]+) "
        r"bytes; the image was not changed \(the unit's other files are its firmware's",
        said,
    )
    assert m, said
    assert int(m.group(1).replace(",", "")) > 0
    assert "--max-bytes" not in said and "at most" not in said


@pytest.mark.timeout(60)
def test_spiffs_filled_into_its_spare_blocks_says_no_bytes_free(
    runner: CliRunner, in_tmp: Path
) -> None:
    """spiffsgen fills the two blocks SPIFFS keeps spare, so SPIFFS_info's used exceeds
    its total: the hint said "-7,279 bytes free". It says none are free, and by how much
    the files reach into the reserve."""
    from esp_cabundle.fs.spiffs import SpiffsImage, build_spiffs_image

    flash = bytearray(dumps.arduino_dump())
    off, size = 0x290000, 0x160000
    was = SpiffsImage.open(bytes(flash[off : off + size]), "esp-idf")
    files = [(f.path, was.read(f.path)) for f in was.files()]
    # the largest filler spiffsgen takes beside the dump's files (one byte more: refused)
    image = build_spiffs_image(
        [*files, ("/fill.bin", bytes(1_277_088))], size=size, profile="esp-idf"
    )
    total, free = SpiffsImage.open(image, "esp-idf").device_space()
    assert free == -7_279, (total, free)  # as meant: 29 pages into the reserve
    flash[off : off + size] = image
    said = _refused_big_ca(runner, in_tmp, flash)
    assert (
        "partition 'spiffs' has no room for a CA file (no bytes free: its files reach 7,279 "
        "bytes into the two blocks SPIFFS keeps in reserve; the old /ca.pem's 3,929 bytes"
    ) in said, said
    assert "-7,279" not in said
