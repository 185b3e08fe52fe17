"""fs ls/cat/put/rm --partition NAME: a whole-flash dump's file-system partition taken
from its own table (the user typed --offset and --size copied from it by hand, and
'--partition' was refused as an option of read alone); a name not in the table, a
partition that is no file system, bytes with no table and --partition with --offset or
--size are refused, clearly, changing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.errors import InputError
from esp_cabundle.fs import open_image
from esp_cabundle.fs.edit import FileEdit, edit_image, locate_image
from tests.support import dumps

FS_0 = (0x190000, 0x40000)  # the Mongoose OS table's fs_0
FS_1 = (0x350000, 0x40000)


@pytest.fixture
def mos(in_tmp: Path) -> Path:
    p = in_tmp / "mos-new.bin"
    p.write_bytes(dumps.mongoose_dump())
    (in_tmp / "note.txt").write_bytes(b"hello\n")
    return p


def _files(flash: bytes, where: tuple[int, int]) -> dict[str, bytes]:
    image = open_image(flash[where[0] : where[0] + where[1]])
    return {f.path: image.read(f.path) for f in image.files()}


def test_ls_and_cat_read_the_named_partition(mos: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["fs", "ls", "mos-new.bin", "--partition", "fs_0", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["offset"], doc["size"]) == FS_0, doc
    assert "/conf9.json" in {f["path"] for f in doc["files"]}
    cat = runner.invoke(cli, ["fs", "cat", "mos-new.bin", "/conf9.json", "--partition", "fs_1"])
    assert cat.exit_code == 0, cat.output
    assert cat.stdout_bytes == _files(dumps.mongoose_dump(), FS_1)["/conf9.json"]


@pytest.mark.parametrize("name", ["fs_0", "fs_1"])
def test_put_and_rm_edit_only_the_named_partition(mos: Path, runner: CliRunner, name: str) -> None:
    where = FS_0 if name == "fs_0" else FS_1
    old = mos.read_bytes()
    put = runner.invoke(cli, ["fs", "put", "mos-new.bin", "note.txt", "--partition", name])
    assert put.exit_code == 0, put.output
    new = mos.read_bytes()
    assert dumps.outside_equal(old, new, [(where[0], where[0] + where[1])])
    assert _files(new, where)["/note.txt"] == b"hello\n"
    rm = runner.invoke(cli, ["fs", "rm", "mos-new.bin", "/note.txt", "--partition", name])
    assert rm.exit_code == 0, rm.output
    assert "/note.txt" not in _files(mos.read_bytes(), where)


def test_a_hint_names_the_partition_again(mos: Path, runner: CliRunner) -> None:
    r = runner.invoke(cli, ["fs", "cat", "mos-new.bin", "/nope", "--partition", "fs_0"])
    assert r.exit_code != 0
    assert "esp-cabundle fs ls mos-new.bin --partition fs_0" in r.output, r.output


@pytest.mark.parametrize(
    ("words", "said", "hint"),
    [
        (
            ["--partition", "fs_9"],
            "--partition fs_9: no partition named 'fs_9' in mos-new.bin's table (it has nvs, "
            "otadata, app_0, fs_0, app_1, fs_1)",
            "its file-system partitions: fs_0, fs_1",
        ),
        (
            ["--partition", "nvs"],
            "--partition nvs: partition 'nvs' is data nvs, not a file system",
            "the file-system partitions of mos-new.bin's table: fs_0, fs_1",
        ),
        (
            ["--partition", "app_0"],
            "--partition app_0: partition 'app_0' is app ota_0, not a file system",
            "fs_0, fs_1",
        ),
        (
            ["--partition", "fs_0", "--offset", "0x190000"],
            "--partition, --offset: each says where the file system is",
            "e.g. esp-cabundle fs VERB mos-new.bin ARGS--partition fs_0 (--partition takes",
        ),
        (
            ["--partition", "fs_0", "--size", "256K"],
            "--partition, --size: each says where the file system is",
            "--partition takes its offset and size from the dump's partition table",
        ),
    ],
)
@pytest.mark.parametrize("verb", ["ls", "cat", "put", "rm"])
def test_bad_partitions_are_refused_changing_nothing(
    mos: Path, runner: CliRunner, verb: str, words: list[str], said: str, hint: str
) -> None:
    args = {"ls": [], "cat": ["/conf9.json"], "put": ["note.txt"], "rm": ["/conf9.json"]}[verb]
    old = mos.read_bytes()
    r = runner.invoke(cli, ["fs", verb, "mos-new.bin", *args, *words])
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert said in text, text
    typed = " ".join(args) + " " if args else ""
    assert hint.replace("VERB", verb).replace("ARGS", typed) in text, text
    assert mos.read_bytes() == old


def test_an_image_has_no_table_to_name_a_partition_in(in_tmp: Path, runner: CliRunner) -> None:
    image = dumps.mongoose_dump()[FS_0[0] : FS_0[0] + FS_0[1]]
    (in_tmp / "fs.bin").write_bytes(image)
    r = runner.invoke(cli, ["fs", "rm", "fs.bin", "/conf9.json", "--partition", "fs_0"])
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "--partition fs_0: fs.bin has no partition table" in text, text
    assert "an image is read whole: esp-cabundle fs rm fs.bin /conf9.json" in text, text
    assert (in_tmp / "fs.bin").read_bytes() == image


def test_help_and_readme_show_the_option(runner: CliRunner) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "`fs ls dump.bin --partition spiffs`" in readme
    assert "With\n`--partition NAME` (the dump's table name" in readme
    for verb in ("ls", "cat", "put", "rm"):
        text = runner.invoke(cli, ["fs", verb, "--help"]).stdout
        assert "--partition NAME" in text, verb
    assert "--partition fs_0" in runner.invoke(cli, ["fs", "rm", "--help"]).stdout


def _short_dump() -> bytes:
    """A 0x30000-byte dump whose table (at 0x8000) names spiffs at 0x20000+0x100000:
    the entry runs 0xF0000 past the dump's end."""
    from esp_cabundle.partitions import PartitionTable

    csv = "nvs, data, nvs, 0x9000, 0x5000,\nspiffs, data, spiffs, 0x20000, 0x100000,\n"
    flash = bytearray(b"\xff" * 0x30000)
    t = PartitionTable.from_csv(csv).to_binary()
    flash[0x8000 : 0x8000 + len(t)] = t
    return bytes(flash)


@pytest.mark.parametrize("verb", ["ls", "cat", "put", "rm"])
def test_a_partition_past_the_dump_s_end_is_said_in_partition_terms(
    in_tmp: Path, runner: CliRunner, verb: str
) -> None:
    """'runs past the end of the file; check --offset and --size against the partition
    table' named options the user did not type (and --partition refuses): the table's
    entry runs past the dump's end, so the dump is cut short or the table is wrong; and
    no hint lists that partition as one to use."""
    (in_tmp / "short.bin").write_bytes(_short_dump())
    (in_tmp / "note.txt").write_bytes(b"hello\n")
    args = {"ls": [], "cat": ["/ca.pem"], "put": ["note.txt"], "rm": ["/ca.pem"]}[verb]
    old = (in_tmp / "short.bin").read_bytes()
    r = runner.invoke(cli, ["fs", verb, "short.bin", *args, "--partition", "spiffs"])
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "--offset" not in text and "--size" not in text, text
    assert (
        "--partition spiffs: the table's entry for 'spiffs' (0x20000+0x100000) runs past "
        "the end of short.bin (196,608 bytes): the dump is cut short, or the table is wrong"
    ) in text, text
    assert "esp-cabundle read --port PORT --all -o full.bin" in text, text
    assert (in_tmp / "short.bin").read_bytes() == old
    other = runner.invoke(cli, ["fs", verb, "short.bin", *args, "--partition", "fs_0"])
    assert other.exit_code == 2, other.output
    said = " ".join(other.output.split())
    assert "its file-system partitions: none inside short.bin (spiffs runs past" in said, said


@pytest.mark.parametrize("offset", ["0x1a0000", "0x900000"])
def test_an_offset_no_partition_starts_at_lists_the_table(
    mos: Path, runner: CliRunner, offset: str
) -> None:
    """--offset inside fs_0 (no entry starts there, so no size) said only "give
    --size", and one past the file's end nothing; as other such errors do, the hint
    lists the dump's file-system partitions, each a --offset and --size to type."""
    r = runner.invoke(cli, ["fs", "ls", "mos-new.bin", "--offset", offset])
    assert r.exit_code == 2, r.output
    table = (
        "the file-system partitions of mos-new.bin's table: fs_0: --offset 0x190000 --size "
        "0x40000; fs_1: --offset 0x350000 --size 0x40000"
    )
    assert table in " ".join(r.stderr.split()), r.stderr


@pytest.mark.parametrize("args", [["ls"], ["ls", "--size", "0x3f000"], ["cat", "/nope"]])
def test_an_offset_one_block_into_littlefs_names_the_partition(
    mos: Path, runner: CliRunner, args: list[str]
) -> None:
    """One block into fs_0, LittleFS's second superblock copy mounts as if it were the
    first, then fails deeper (-84 while counting blocks, "probably corrupt"): the hint
    said nothing of the table. Now it says where the offset falls and lists the table."""
    old = mos.read_bytes()
    r = runner.invoke(cli, ["fs", args[0], "mos-new.bin", *args[1:], "--offset", "0x191000"])
    assert r.exit_code == 2, r.output
    said = " ".join(r.stderr.split())
    assert "--offset 0x191000 is 0x1000 into fs_0;" in said, said
    assert "fs_0: --offset 0x190000 --size 0x40000; fs_1: --offset 0x350000" in said, said
    assert mos.read_bytes() == old


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["rm", "/conf0.json", "--offset", "0x191000"], "is 0x1000 into partition fs_0"),
        (["put", "note.txt", "--offset", "0x191000"], "is 0x1000 into partition fs_0"),
        (
            ["put", "note.txt", "--offset", "0x190000", "--size", "0x80000"],
            "--size 0x80000 runs 0x40000 past the end of partition fs_0",
        ),
    ],
)
def test_an_edit_off_the_tables_partitions_is_refused(
    mos: Path, runner: CliRunner, args: list[str], why: str
) -> None:
    """rm one block into fs_0 removed the file through LittleFS's second superblock copy,
    writing blocks numbered from the wrong start (the unit, mounting fs_0 from its start,
    would find them corrupt); a --size past fs_0's end let an edit reach app_1. Refused,
    the dump unchanged, the hint listing the table's file-system partitions."""
    old = mos.read_bytes()
    r = runner.invoke(cli, ["fs", args[0], "mos-new.bin", *args[1:]])
    assert r.exit_code == 2, r.output
    said = " ".join(r.stderr.split())
    assert why in said and "nothing was changed" in said, said
    assert "fs_0: --offset 0x190000 --size 0x40000; fs_1: --offset 0x350000" in said, said
    assert mos.read_bytes() == old


def test_the_library_edit_refuses_a_slice_off_the_table() -> None:
    """edit_image itself refuses (a script's locate_image(offset=...) one block in)."""
    flash = dumps.mongoose_dump()
    region = locate_image(flash, offset=FS_0[0] + 0x1000, size=FS_0[1] - 0x1000)
    with pytest.raises(InputError, match=r"offset=0x191000 is 0x1000 into partition fs_0"):
        edit_image(region, [FileEdit("rm", "/conf0.json")])
    edit_image(locate_image(flash, offset=FS_0[0], size=FS_0[1]), [FileEdit("rm", "/conf0.json")])
