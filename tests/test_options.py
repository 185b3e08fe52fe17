"""Every CLI option means one thing: one short flag per long one, one help per option,
one parser for sizes, offsets and dates."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from esp_cabundle.boards import load_board
from esp_cabundle.cli import cli
from esp_cabundle.commands.options import DiskVersion, Size
from esp_cabundle.errors import InputError
from esp_cabundle.fs.lfs_platforms import DISK_VERSION_2_0, DISK_VERSION_2_1
from esp_cabundle.partitions import PartitionTable
from esp_cabundle.sizes import parse_size

BOARDS = Path(__file__).parent.parent / "boards"


def all_options() -> list[tuple[str, click.Option]]:
    """(command path, option) for every option of every command and subcommand."""
    ctx = click.Context(cli)
    found: list[tuple[str, click.Option]] = []

    def walk(cmd: click.Command, path: str) -> None:
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                walk(sub, f"{path} {name}".strip())
        found.extend((path, p) for p in cmd.params if isinstance(p, click.Option))

    walk(cli, "")
    return found


def test_every_shown_option_says_what_it_does() -> None:
    """push's --concurrency was listed with its default and range and no word of what
    it counts; every option --help shows has its own help text."""
    bare = [
        f"{path} {opt.opts[-1]}" for path, opt in all_options() if not opt.hidden and not opt.help
    ]
    assert bare == []


def test_a_short_flag_means_one_long_flag_everywhere() -> None:
    meaning: dict[str, set[str]] = defaultdict(set)
    for _, opt in all_options():
        shorts = [o for o in opt.opts if not o.startswith("--")]
        longs = [o for o in opt.opts if o.startswith("--")]
        for s in shorts:
            meaning[s] |= set(longs)
    assert {s: m for s, m in meaning.items() if len(m) != 1} == {}
    assert meaning["-b"] == {"--baud"}  # as in esptool
    assert meaning["-p"] == {"--port"}


@pytest.mark.parametrize(
    "name",
    ["--json", "--quiet", "--at", "--baud", "--journal-dir", "--config", "--board", "--port"],
)
def test_shared_options_have_one_declaration(name: str) -> None:
    # a hidden one only refuses the option with the way to do it (build --board)
    uses = [(path, o) for path, o in all_options() if name in o.opts and not o.hidden]
    assert len(uses) >= 2, uses
    base = min((o.help or "" for _, o in uses), key=len)
    # A variant (e.g. init's --board none) only adds to the one help text.
    assert all((o.help or "").startswith(base) for _, o in uses), {path: o.help for path, o in uses}
    assert len({(o.metavar, type(o.type).__name__) for _, o in uses}) == 1


SIZES = [("256KiB", 0x40000), ("0x40000", 0x40000), ("256K", 0x40000), ("256kb", 0x40000),
         ("262144", 0x40000), ("256KB", 0x40000),
         ("1M", 1 << 20), ("1MiB", 1 << 20), ("4MB", 4 << 20), ("0x10K", 0x4000)]  # fmt: skip


@pytest.mark.parametrize(("text", "value"), SIZES)
def test_one_size_parser_for_flags_and_partition_tables(text: str, value: int) -> None:
    assert parse_size(text) == value
    assert Size().convert(text, None, None) == value
    csv = f"nvs, data, nvs, 0x9000, 0x5000\nfs, data, spiffs, 0x10000, {text}\n"
    assert PartitionTable.from_csv(csv).partitions[1].size == value


@pytest.mark.parametrize("text", ["4MB", "4MiB", "4M", "0x400000", "4096K", "4096KiB"])
def test_board_files_read_sizes_alike(text: str, tmp_path: Path) -> None:
    shipped = (BOARDS / "esp-idf-littlefs.yaml").read_text()
    assert "flash_size: 4MB\n" in shipped
    board = tmp_path / "esp-idf-littlefs.yaml"
    board.write_text(shipped.replace("flash_size: 4MB\n", f"flash_size: {text}\n"))
    assert load_board(board).flash_size == 4 << 20


@pytest.mark.parametrize("text", ["abc", "K", "1G", "1.5M", "", "9" * 100])
def test_a_bad_size_is_a_clear_error(text: str) -> None:
    with pytest.raises(InputError, match="size"):
        parse_size(text)
    with pytest.raises(click.BadParameter, match="is not a size"):
        Size().convert(text, None, None)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1G", "'G' is no unit here: the units are K and M"),
        ("4 TB", "'TB' is no unit here: the units are K and M"),
        ("1.5K", "a whole number of bytes, not a fraction"),
        ("0.5", "a whole number of bytes, not a fraction"),
        ("lots", "not a number"),
    ],
)
def test_a_bad_size_says_which_units_are_taken_and_that_fractions_are_not(
    text: str, why: str
) -> None:
    """``1G`` or ``1.5K`` is not "not a number": the error names the units there are
    and says a size is whole, from the CLI's type and from the parser."""
    with pytest.raises(click.BadParameter, match=re.escape(why)):
        Size().convert(text, None, None)
    with pytest.raises(InputError, match=re.escape(why)):
        parse_size(text)


def test_offsets_are_aligned_where_asked() -> None:
    offset = Size(name="offset", align=0x1000)
    assert offset.convert("36K", None, None) == 0x9000
    with pytest.raises(click.BadParameter, match="not a multiple of 4 KiB"):
        offset.convert("0x8800", None, None)
    with pytest.raises(click.BadParameter, match="is not an offset: not a number"):
        offset.convert("eight", None, None)


@pytest.mark.parametrize(
    "args",
    [
        ["pack", "--fs", "littlefs", "--size", "0x100000000"],
        ["pack", "--fs", "spiffs", "--size", "300M"],
        ["fs", "ls", "--size", "0x10001000"],
        ["read", "-p", "socket://127.0.0.1:9", "--table-offset", "0x100000000"],
    ],
)
def test_a_size_beyond_any_esp32_flash_is_refused_at_once(args: list[str], tmp_path: Path) -> None:
    """``pack --size 0x100000000`` made a 4 GiB image for minutes: every --size and
    offset stops at the tool's image cap, in the option's parsing, before any work."""
    out = tmp_path / "x.bin"
    r = CliRunner().invoke(cli, [*args, "-o", str(out)] if args[0] == "pack" else args)
    assert r.exit_code == 2, r.output
    assert "is larger than any ESP32 flash; the most esp-cabundle takes is 256 MiB" in r.output
    assert list(tmp_path.iterdir()) == []
    assert Size().convert("256M", None, None) == 256 << 20


def test_disk_versions_are_littlefs_numbers() -> None:
    assert DiskVersion().convert("2.0", None, None) == DISK_VERSION_2_0
    assert DiskVersion().convert("2.1", None, None) == DISK_VERSION_2_1
    with pytest.raises(click.BadParameter):
        DiskVersion().convert("2.2", None, None)


def test_a_bad_date_is_a_usage_error_naming_the_flag(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["build", "--at", "soon", "-o", str(tmp_path / "x.pem")])
    assert r.exit_code == 2 and "bad --at date 'soon'" in r.output
    assert not (tmp_path / "x.pem").exists()


def test_max_bytes_takes_a_size(tmp_path: Path) -> None:
    out = tmp_path / "ca.pem"
    args = ["build", "--preset", "letsencrypt", "--no-lock", "-q", "-o", str(out)]
    r = CliRunner().invoke(cli, [*args, "--max-bytes", "1K"])
    assert r.exit_code == 1 and "budget of 1,024 bytes" in r.output and not out.exists()
    r = CliRunner().invoke(cli, [*args, "--max-bytes", "64KiB"])
    assert r.exit_code == 0, r.output


def test_a_number_option_says_what_number_it_wants() -> None:
    """Every numeric option refuses a word in its own terms, never in click's ("'abc' is
    not a valid integer range") or Python's."""
    numeric = [
        (path, opt)
        for path, opt in all_options()
        if isinstance(opt.type, (click.types.IntParamType, click.types.FloatParamType))
    ]
    assert {o.name for _, o in numeric} >= {"baud", "concurrency", "timeout", "fail_within"}
    for path, opt in numeric:
        with pytest.raises(click.BadParameter) as e:
            opt.type.convert("abc", opt, None)
        text = e.value.message
        assert text.startswith("'abc' is not a") and "valid" not in text, (path, opt.name, text)


def test_a_baud_rate_that_is_no_number(tmp_path: Path) -> None:
    for value, said in (("abc", "'abc' is not a baud rate: a whole number of bits per second"),
                        ("5", "5 is not in the range x>=9600")):  # fmt: skip
        r = CliRunner().invoke(
            cli, ["flash", "-b", value, "-p", "socket://127.0.0.1:9", "--board", "mdash-arduino",
                  "--preset", "default", "--journal-dir", str(tmp_path / "j")]
        )  # fmt: skip
        assert r.exit_code == 2 and said in r.output, r.output
        assert "CA:" not in r.output and not (tmp_path / "j").exists()


def test_every_command_that_talks_to_a_unit_takes_the_same_link_options() -> None:
    """README (Reading a unit): inspect --port, read, flash and restore take the same
    -p/--port, -b/--baud (460800 by default, as in esptool), --before and --after."""
    by_command: dict[str, dict[str, click.Option]] = defaultdict(dict)
    for path, opt in all_options():
        for flag in opt.opts:
            by_command[path][flag] = opt
    for command in ("inspect", "read", "flash", "restore"):
        opts = by_command[command]
        assert opts["-p"] is opts["--port"] and opts["-b"] is opts["--baud"], command
        assert opts["--baud"].default == 460800, command
        assert {"--before", "--after"} <= set(opts), command
    units = {path for path, flags in by_command.items() if "--port" in flags}
    assert units == {"inspect", "read", "flash", "restore"}


def test_push_watches_every_60_s_8_units_at_a_time_by_default() -> None:
    """README (Watching a campaign): every --poll seconds (60), --concurrency units at a
    time (8)."""
    push = {opt.name: opt for path, opt in all_options() if path == "push"}
    assert (push["poll"].default, push["concurrency"].default) == (60, 8)
