"""``esp-cabundle fs ls|cat|put|rm``: in place, atomic, only the partition's bytes change;
every error leaves the image byte-identical."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from esp_cabundle.fs.edit import pack_image
from esp_cabundle.fs.littlefs import DISK_VERSION_2_0, DISK_VERSION_2_1, LittleFsImage
from tests.support.gated import canonical

DATA = Path(__file__).parent / "data"
VECTOR = DATA / "littlefs" / "mongoose-lfs20-256k.bin"
SRC = DATA / "littlefs" / "src"
NEW_CA = DATA / "letsencrypt" / "isrgrootx1.pem"
NEW_PEM = canonical(NEW_CA.read_bytes())  # a CA put on /ca.pem goes through the gate
SPIFFS = DATA / "spiffs" / "idf-64k.bin"


@pytest.fixture
def image(tmp_path: Path) -> Path:
    p = tmp_path / "fs.bin"
    shutil.copyfile(VECTOR, p)
    return p


def run(runner: CliRunner, *args: str) -> tuple[int, str, bytes]:
    r = runner.invoke(cli, ["fs", *args])
    return r.exit_code, r.output, r.stdout_bytes


def test_ls_table_and_json(runner: CliRunner, image: Path) -> None:
    code, out, _ = run(runner, "ls", str(image))
    assert code == 0, out
    for name in ("/big.dat", "/ca.pem", "/conf0.json", "/conf9.json", "/log.txt"):
        assert name in out
    assert "disk version: 2.0" in out and "mongoose-os" in out
    code, out, _ = run(runner, "ls", str(image), "--json")
    doc = json.loads(out)
    assert doc["fs"] == "littlefs" and doc["profile"] == "mongoose-os"
    assert doc["files"] == [
        {"path": "/big.dat", "size": 30000},
        {"path": "/ca.pem", "size": 3929},
        {"path": "/conf0.json", "size": 33},
        {"path": "/conf9.json", "size": 71},
        {"path": "/log.txt", "size": 60},
    ]


def test_cat(runner: CliRunner, image: Path, tmp_path: Path) -> None:
    code, _, raw = run(runner, "cat", str(image), "/big.dat")
    assert code == 0 and raw == (SRC / "big.dat").read_bytes()
    out = tmp_path / "conf.json"
    code, text, _ = run(runner, "cat", str(image), "conf9.json", "-o", str(out))
    assert code == 0, text
    assert out.read_bytes() == (SRC / "conf9.json").read_bytes()


def test_put_replaces_ca_in_place(runner: CliRunner, image: Path) -> None:
    before = image.read_bytes()
    code, out, _ = run(runner, "put", str(image), str(NEW_CA), "/ca.pem")
    assert code == 0, out
    assert "of 64 blocks changed" in out and "0x" in out
    after = image.read_bytes()
    img = LittleFsImage.open(after)
    assert img.disk_version == DISK_VERSION_2_0 and img.block_count == 64
    assert img.read("/ca.pem") == NEW_PEM
    for name in ("big.dat", "conf0.json", "conf9.json"):
        assert img.read("/" + name) == (SRC / name).read_bytes()
    assert img.read("/log.txt") == b"boot\n" * 12
    changed = [
        b
        for b in range(64)
        if after[b * 4096 : (b + 1) * 4096] != before[b * 4096 : (b + 1) * 4096]
    ]
    assert 0 < len(changed) <= 4
    assert f"{len(changed)} of 64 blocks changed" in out


def test_put_identical_content_changes_nothing(runner: CliRunner, image: Path) -> None:
    before = image.read_bytes()
    code, out, _ = run(runner, "put", str(image), str(SRC / "conf9.json"), "/conf9.json")
    assert code == 0, out
    assert "0 of 64 blocks changed" in out
    assert image.read_bytes() == before


def test_put_on_the_ca_path_is_gated(runner: CliRunner, image: Path) -> None:
    """The image's own ca.pem holds the expired DST Root CA X3: putting it back on the
    CA path is refused (exit 1, image unchanged) unless expired roots are allowed."""
    before = image.read_bytes()
    code, out, _ = run(runner, "put", str(image), str(SRC / "ca.pem"), "/ca.pem")
    assert code == 1 and "DST Root CA X3 expired on 2021-09-30" in out, out
    assert image.read_bytes() == before
    code, out, _ = run(
        runner, "put", str(image), str(SRC / "ca.pem"), "/ca.pem", "--allow", "expired"
    )
    assert code == 0, out
    assert "CA: 3 roots; no targets to judge" in out
    assert open_image(image.read_bytes()).read("/ca.pem") == canonical(
        (SRC / "ca.pem").read_bytes(), allow_expired=True
    )


def test_put_default_dest_and_json(runner: CliRunner, image: Path, tmp_path: Path) -> None:
    src = tmp_path / "extra.pem"
    src.write_bytes(NEW_CA.read_bytes())
    code, out, _ = run(runner, "put", str(image), str(src), "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["changed_blocks"] and all(
        o == b * 4096 for b, o in zip(doc["changed_blocks"], doc["changed_offsets"], strict=True)
    )
    assert open_image(image.read_bytes()).read("/extra.pem") == NEW_CA.read_bytes()
    assert doc["put"] == {"path": "/extra.pem", "bytes": len(NEW_CA.read_bytes())}


def test_rm(runner: CliRunner, image: Path) -> None:
    code, out, _ = run(runner, "rm", str(image), "/log.txt", "conf0.json", "--json")
    assert code == 0, out
    assert [f.path for f in open_image(image.read_bytes()).files()] == [
        "/big.dat",
        "/ca.pem",
        "/conf9.json",
    ]
    assert json.loads(out)["removed"] == ["/log.txt", "/conf0.json"]  # what the text names


def test_rm_of_a_file_named_twice_removes_it(runner: CliRunner, image: Path) -> None:
    """All or none: the second naming of /log.txt (here as log.txt) said "no file
    '/log.txt' in the LittleFS image" of a file fs ls lists, and removed nothing."""
    code, out, _ = run(runner, "rm", str(image), "/log.txt", "log.txt", "/log.txt", "--json")
    assert code == 0, out
    assert "/log.txt" not in [f.path for f in open_image(image.read_bytes()).files()]
    assert json.loads(out)["removed"] == ["/log.txt"]


def dump_with(partition: bytes, offset: int = 0x10000, after: int = 0x8000) -> bytes:
    return b"\xab" * offset + partition + b"\xcd" * after


@pytest.mark.parametrize("size_args", [[], ["--size", "256K"], ["--size", "0x40000"]])
def test_put_into_a_flash_dump(runner: CliRunner, tmp_path: Path, size_args: list[str]) -> None:
    dump = tmp_path / "dump.bin"
    original = dump_with(VECTOR.read_bytes())
    dump.write_bytes(original)
    code, out, _ = run(
        runner, "put", str(dump), str(NEW_CA), "/ca.pem", "--offset", "0x10000", *size_args
    )
    assert code == 0, out
    new = dump.read_bytes()
    assert len(new) == len(original)
    assert new[:0x10000] == original[:0x10000]
    assert new[0x10000 + 0x40000 :] == original[0x10000 + 0x40000 :]
    assert "(0x1" in out or "(0x4" in out  # flash addresses of the changed blocks
    part = LittleFsImage.open(new[0x10000 : 0x10000 + 0x40000])
    assert part.read("/ca.pem") == NEW_PEM
    assert part.disk_version == DISK_VERSION_2_0


def test_spiffs_partition_in_dump_needs_size(runner: CliRunner, tmp_path: Path) -> None:
    dump = tmp_path / "dump.bin"
    original = dump_with(SPIFFS.read_bytes())
    dump.write_bytes(original)
    code, out, _ = run(runner, "ls", str(dump), "--offset", "0x10000")
    assert code == 2 and "--size" in out
    code, out, _ = run(
        runner, "put", str(dump), str(NEW_CA), "/ca.pem", "--offset", "64K", "--size", "64K"
    )
    assert code == 0, out
    new = dump.read_bytes()
    assert new[:0x10000] == original[:0x10000] and new[0x20000:] == original[0x20000:]
    spiffs = open_image(new[0x10000:0x20000])
    assert spiffs.fs_type == "spiffs" and spiffs.read("/ca.pem") == NEW_PEM
    assert spiffs.read("/mdash.cfg") == open_image(SPIFFS.read_bytes()).read("/mdash.cfg")


def _corrupt(tmp_path: Path) -> Path:
    p = tmp_path / "bad.bin"
    raw = bytearray(VECTOR.read_bytes())
    for block in (0, 1):
        raw[block * 4096 + 30] ^= 1
    p.write_bytes(bytes(raw))
    return p


def _v21(tmp_path: Path) -> Path:
    p = tmp_path / "v21.bin"
    p.write_bytes(
        pack_image(
            "littlefs", "esp-idf", 64 * 1024, [("/ca.pem", b"x")], disk_version=DISK_VERSION_2_1
        ).data
    )
    return p


ERRORS = [
    (["put", "{image}", "{big}", "/big2"], "no space"),
    (["put", "{image}", "{missing}"], "no such file"),
    (["put", "{image}", "{ca}", "/" + "n" * 300], "allows 255"),
    (["put", "{image}", "{ca}", "/ca.pem", "--fs", "spiffs"], "not spiffs"),
    (["put", "{image}", "{ca}", "/ca.pem", "--profile", "nope"], "unknown littlefs profile"),
    (["put", "{image}", "{ca}", "/ca.pem", "--offset", "100"], "not a multiple"),
    (["put", "{image}", "{ca}", "/ca.pem", "--offset", "1M"], "past the end"),
    (["put", "{image}", "{ca}", "/ca.pem", "--size", "1M"], "past the end"),
    (["put", "{image}", "{ca}", "/ca.pem", "--size", "128K"], "truncated"),
    (["put", "{image}", "{ca}", "/ca.pem", "--mtime", "5"], "keeps no time attributes"),
    (["put", "{bad}", "{ca}", "/ca.pem"], "unreadable"),
    (["put", "{v21}", "{ca}", "/ca.pem", "--profile", "mongoose-os"], "only mounts 2.0"),
    (["rm", "{image}", "/nope"], "no file '/nope'"),
    (["rm", "{image}", "/log.txt", "/nope"], "no file '/nope'"),
    (["cat", "{image}", "/nope"], "no file '/nope' in the LittleFS image\n  hint: list the files"),
    (["ls", "{missing}"], "no such file"),
    (["ls", "{blank}"], "no file system"),
    (["ls", "{ca}"], "PEM text (certificates), not a file-system image"),
    (["put", "{ca}", "{image}", "/ca.pem"], "the arguments look swapped"),
    (["put", "{ca}", "{image}"], "image comes first: esp-cabundle fs put {image} {ca}"),
    # the image put into itself: by its name, a symlink or a hard link
    (["put", "{image}", "{image}", "/x.bin"], "SOURCE {image} is the image itself; nothing"),
    (["put", "{image}", "{image}", "/ca.pem"], "SOURCE {image} is the image itself; nothing"),
    (["put", "{image}", "{sym}"], "SOURCE {sym} is the image itself (the same file as {image})"),
    (["put", "{sym}", "{image}"], "SOURCE {image} is the image itself (the same file as {sym})"),
    (["put", "{image}", "{hard}", "/x"], "SOURCE {hard} is the image itself (the same file as"),
    (["cat", "{image}", "/log.txt", "-o", "{hard}"], "would replace the image {image}"),
    (["cat", "{image}", "/log.txt", "-o", "{sym}"], "would replace the image {image}"),
]


@pytest.mark.parametrize(("args", "message"), ERRORS)
def test_errors_leave_image_unchanged(
    runner: CliRunner, tmp_path: Path, image: Path, args: list[str], message: str
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 1024)
    blank = tmp_path / "blank.bin"
    blank.write_bytes(b"\xff" * 65536)
    (tmp_path / "sym.bin").symlink_to(image)
    (tmp_path / "hard.bin").hardlink_to(image)
    subst = {
        "image": str(image),
        "big": str(big),
        "missing": str(tmp_path / "missing.bin"),
        "ca": str(NEW_CA),
        "bad": str(_corrupt(tmp_path)),
        "v21": str(_v21(tmp_path)),
        "blank": str(blank),
        "sym": str(tmp_path / "sym.bin"),
        "hard": str(tmp_path / "hard.bin"),
    }
    args = [a.format(**subst) for a in args]
    message = message.format(**subst)
    files = {p: p.read_bytes() for p in tmp_path.iterdir()}
    code, out, _ = run(runner, *args)
    assert code == 2, out
    assert message.lower() in out.lower(), out
    assert "Traceback" not in out
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == files  # nothing changed or added


@pytest.mark.parametrize(
    ("dump_name", "expected"),
    [
        ("arduino_dump", [("spiffs", "0x290000", "0x160000")]),
        ("mongoose_dump", [("fs_0", "0x190000", "0x40000"), ("fs_1", "0x350000", "0x40000")]),
    ],
)
def test_whole_flash_dump_names_its_partitions(
    runner: CliRunner, tmp_path: Path, dump_name: str, expected: list[tuple[str, str, str]]
) -> None:
    """A whole-flash dump where an image is expected (or swapped with the CA file): the
    partition table is read and each file-system partition named (--partition), or the
    exact --offset/--size given; nothing changes."""
    import support.dumps

    dump = tmp_path / "dump.bin"
    dump.write_bytes(getattr(support.dumps, dump_name)())
    before = dump.read_bytes()
    code, out, _ = run(runner, "ls", str(dump))
    assert code == 2 and "a whole-flash dump (partition table at 0x8000)" in out, out
    assert all(f"fs ls {dump} --partition {name}" in out for name, _, _ in expected), out
    code, out, _ = run(runner, "put", str(NEW_CA), str(dump), "/ca.pem")
    assert code == 2 and "the arguments look swapped" in out, out
    offset, size = expected[0][1:]
    assert f"fs put {dump} {NEW_CA} /ca.pem --offset {offset} --size {size}" in out, out
    assert dump.read_bytes() == before
    # The suggested command is right: it works.
    code, out, _ = run(runner, "put", str(dump), str(NEW_CA), "/ca.pem", "--offset", offset,
                       "--size", size)  # fmt: skip
    assert code == 0, out


def test_every_fs_subcommand_has_examples(runner: CliRunner) -> None:
    for sub in ("ls", "cat", "put", "rm"):
        r = runner.invoke(cli, ["fs", sub, "--help"])
        assert r.exit_code == 0
        assert "Examples:" in r.output and f"esp-cabundle fs {sub}" in r.output


def test_a_slice_off_the_dumps_partitions_names_them(runner: CliRunner, tmp_path: Path) -> None:
    """An --offset no file-system partition starts at (the help's 0x290000 on a dump
    whose table says otherwise): the error says where the dump's own table puts them."""
    from tests.support import dumps

    dump = tmp_path / "dump.bin"
    dump.write_bytes(dumps.mongoose_dump())
    for extra in (["--size", "256K"], []):
        code, out, _ = run(runner, "ls", str(dump), "--offset", "0x10000", *extra)
        assert code == 2, out
        assert "fs_0: --offset 0x190000 --size 0x40000" in out, out
        assert "fs_1: --offset 0x350000 --size 0x40000" in out, out
    code, out, _ = run(runner, "ls", str(dump), "--offset", "0x190000")
    assert code == 0 and "the file-system partitions" not in out, out


def test_removing_the_ca_from_a_dump_says_how_to_put_it_back(
    runner: CliRunner, tmp_path: Path
) -> None:
    from tests.support import dumps

    dump = tmp_path / "dump.bin"
    dump.write_bytes(dumps.mongoose_dump())
    code, out, _ = run(runner, "rm", str(dump), "/ca.pem", "--offset", "0x350000")
    assert code == 0, out
    again = f"esp-cabundle fs put {dump} ca.pem /ca.pem --offset 0x350000 --size 0x40000"
    assert again in out, out


def test_fs_ls_on_bytes_holding_no_file_system_names_the_file(tmp_path: Path) -> None:
    """``fs ls garbage.bin``: the error says which file holds no file system."""
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 20)
    result = CliRunner().invoke(cli, ["fs", "ls", str(garbage)])
    assert result.exit_code == 2, result.output
    assert f"Error: {garbage}: neither LittleFS" in result.output, result.output


def test_a_size_cutting_a_whole_image_is_not_taken_for_a_file_cut_short(
    runner: CliRunner, tmp_path: Path
) -> None:
    """``fs put sp.bin ca.pem --size 32K`` on a whole 64 KiB image: the hint spoke of
    "the 32,768 bytes of sp.bin" and of sp.bin as "a partition cut short", though the
    file is whole and --size cut it; it says the size the image was made for."""
    spiffs = tmp_path / "sp.bin"
    shutil.copyfile(SPIFFS, spiffs)
    code, out, _ = run(runner, "put", str(spiffs), str(NEW_CA), "/ca.pem", "--size", "32K")
    assert code == 2, out
    assert (
        "only part of a SPIFFS: 32,768 bytes, where its first block carries the esp-idf "
        "magic of a 65,536-byte SPIFFS" in " ".join(out.split())
    ), out
    assert "pass exactly 65,536 bytes (the whole partition)" in " ".join(out.split()), out
    assert "cut short" not in out and "32,768 bytes of" not in out, out
    assert spiffs.read_bytes() == SPIFFS.read_bytes()


@pytest.mark.parametrize("command", ["cat", "rm"])
def test_a_missing_file_s_hint_names_the_image_given(
    runner: CliRunner, tmp_path: Path, command: str
) -> None:
    """The hint said ``esp-cabundle fs ls IMAGE``, the placeholder: it names the image
    the user gave, quoted for a shell, with the options that found its file system."""
    spaced = tmp_path / "my dir" / "fs.bin"
    spaced.parent.mkdir()
    shutil.copyfile(VECTOR, spaced)
    dump = tmp_path / "dump.bin"
    dump.write_bytes(dump_with(VECTOR.read_bytes()))
    spiffs = tmp_path / "sp.bin"
    shutil.copyfile(SPIFFS, spiffs)
    cases = [
        ([str(spaced)], f"esp-cabundle fs ls '{spaced}'\n"),
        ([str(dump), "--offset", "0x10000"], f"fs ls {dump} --offset 0x10000 --size 0x40000\n"),
        ([str(spiffs), "--fs", "spiffs"], f"esp-cabundle fs ls {spiffs} --fs spiffs\n"),
    ]
    for args, hint in cases:
        before = {p: p.read_bytes() for p in (spaced, dump, spiffs)}
        code, out, _ = run(runner, command, args[0], "/nope", *args[1:])
        assert code == 2, out
        assert "no file '/nope'" in out and hint in out, out
        assert "IMAGE" not in out
        assert {p: p.read_bytes() for p in before} == before


@pytest.mark.parametrize(
    ("size", "said"),
    [
        ("100", "--size 100 is not a multiple of the 4,096-byte block and less than the two"),
        ("5000", "--size 5,000 is not a multiple of the 4,096-byte block and less than"),
        ("4K", "--size 4,096 is less than the two blocks (8,192 bytes) a file system needs"),
        ("12345", "--size 12,345 is not a multiple of the 4,096-byte block; the file"),
    ],
)
@pytest.mark.parametrize("verb", ["ls", "put"])
def test_a_size_no_partition_can_have_is_said_as_the_size_s_fault(
    runner: CliRunner, image: Path, size: str, said: str, verb: str
) -> None:
    """``fs ls lfs.bin --size 100`` (a fine LittleFS) said "the superblock ... is
    unreadable; the image is corrupt": the --size is wrong, and said so, naming the
    file's real size; the image is not touched."""
    before = image.read_bytes()
    words = [str(NEW_CA), "/ca.pem"] if verb == "put" else []
    code, out, _ = run(runner, verb, str(image), *words, "--size", size)
    assert code == 2, out
    assert f"Error: {image}: {said}" in out, out
    assert f"the file is {len(before):,} bytes" in out, out
    assert "corrupt" not in out and "unreadable" not in out, out
    assert image.read_bytes() == before
