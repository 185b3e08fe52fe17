"""Hints of the image and dump commands that named options, not a command, or named
placeholders and files it would overwrite: each is now the line typed, mended, and runs
when copied (tryout: fs on a dump, --profile spiffs, inspect of a missing file, a dump
without its table, update-dump on an image, a misspelt --platform family)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from support.dumps import arduino_dump, mongoose_dump

from esp_cabundle.cli import run
from esp_cabundle.fs import open_image

DATA = Path(__file__).parent / "data"
CA = DATA / "letsencrypt" / "isrgrootx1.pem"


def _hint(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """The error line and the hint of what was printed."""
    err = capsys.readouterr().err
    return err.partition("Error: ")[2].partition("\n")[0], err.partition("  hint: ")[2].strip()


def _line(hint: str) -> list[str]:
    """The command line of an ``e.g. esp-cabundle ...`` hint (its words after the program)."""
    assert hint.startswith("e.g. esp-cabundle "), hint
    return shlex.split(hint.removeprefix("e.g. esp-cabundle ").partition(" (")[0])


def _pack(fs_type: str, name: str) -> None:
    typed = ["pack", "--preset", "default", "--fs", fs_type, "--profile", "esp-idf"]
    assert run([*typed, "--size", "256K", "-o", name, "-q"]) == 0


@pytest.mark.parametrize(
    "typed",
    [
        ["fs", "ls", "lfs.bin", "--profile", "spiffs"],
        ["fs", "ls", "--profile=spiffs", "lfs.bin", "--json"],
        ["fs", "cat", "lfs.bin", "/ca.pem", "--profile", "littlefs", "-o", "out.pem"],
    ],
)
def test_a_file_system_as_an_images_profile_hints_the_line_without_it(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], typed: list[str]
) -> None:
    """The hint listed the image's file system's profiles ('unknown littlefs profile
    'spiffs''); an image says both, so the line typed without --profile is the fix."""
    _pack("littlefs", "lfs.bin")
    assert run(typed) == 2
    out = capsys.readouterr()
    said = out.err or out.out
    assert "is a file system, not a profile" in said, said
    plain = [w for w in typed if w != "--json"]
    assert run(plain) == 2
    error, hint = _hint(capsys)
    assert error.endswith(" is a file system, not a profile"), error
    line = _line(hint)
    assert line == [w for w in plain if "--profile" not in w and w not in ("spiffs", "littlefs")]
    assert run(line) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("dump", "parts"),
    [
        (arduino_dump, [("spiffs", "0x290000", "0x160000")]),
        (mongoose_dump, [("fs_0", "0x190000", "0x40000"), ("fs_1", "0x350000", "0x40000")]),
    ],
)
def test_a_whole_dump_given_to_fs_hints_one_line_per_partition(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], dump: object, parts: list[tuple[str, ...]]
) -> None:
    """The hint was 'name its file-system partition: spiffs: --offset 0x290000 --size
    0x160000', options to fit in by hand; each partition's line now runs as copied, and
    names the partition by its table name (--partition), not by numbers copied from it."""
    assert callable(dump)
    (in_tmp / "my dump.bin").write_bytes(dump())
    assert run(["fs", "ls", "my dump.bin", "-q"]) == 2
    error, hint = _hint(capsys)
    assert "a whole-flash dump (partition table at 0x8000)" in error, error
    said = hint.removeprefix("e.g. esp-cabundle ").split(", or esp-cabundle ")
    assert len(said) == len(parts), hint
    for line, (name, _offset, _size) in zip(said, parts, strict=True):
        assert shlex.split(line) == ["fs", "ls", "my dump.bin", "-q", "--partition", name]
        assert run(shlex.split(line)) == 0, capsys.readouterr().err


@pytest.mark.parametrize("size", ["4K", "0x160000"])
def test_a_whole_dump_given_a_size_alone_is_said_a_dump(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], size: str
) -> None:
    """``fs ls dump.bin --size 4K`` skipped the whole-dump check (it ran only without a
    size) and said "no file system: all 4096 bytes are 0xFF" of the dump's start: now a
    dump, a size alone reading its start, and the line with the partition's name
    (--partition) in place of the size typed, which runs."""
    (in_tmp / "dump.bin").write_bytes(arduino_dump())
    assert run(["fs", "ls", "dump.bin", "--size", size]) == 2
    error, hint = _hint(capsys)
    assert error == (
        "dump.bin: a whole-flash dump (partition table at 0x8000), not a file-system image: "
        "--size without --offset reads its start"
    ), error
    line = shlex.split(hint.removeprefix("e.g. esp-cabundle "))
    assert line == ["fs", "ls", "dump.bin", "--partition", "spiffs"], hint
    assert run(line) == 0, capsys.readouterr().err


@pytest.mark.parametrize("name", ["missing.pem", "my ca.crt"])
def test_inspect_of_a_missing_ca_file_hints_the_build_that_makes_it(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert run(["inspect", name]) == 2
    error, hint = _hint(capsys)
    assert error == f"{name}: no such image or CA file", error
    said = hint.partition("build one: esp-cabundle ")[2]
    assert shlex.split(said) == ["build", "--preset", "default", "-o", name], hint
    assert run(shlex.split(said)) == 0, capsys.readouterr().err
    assert run(["inspect", name, "-q"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("flash-dump.bin", "esp-cabundle read --port PORT --all -o flash-dump.bin"),
        # only PORT is left to fill in: the partition is the one Arduino's table names
        ("fs.bin", "esp-cabundle read --port PORT --partition spiffs -o fs.bin;"),
    ],
)
def test_inspect_of_a_missing_image_hints_how_a_unit_is_read(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], name: str, command: str
) -> None:
    assert run(["inspect", name]) == 2
    error, hint = _hint(capsys)
    assert error == f"{name}: no such image or CA file", error
    assert command in hint, hint


def test_a_dump_without_a_table_hints_fs_ls_of_that_file(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hint's command read 'fs ls FILE': the file inspected, quoted, is named."""
    flash = bytearray(arduino_dump())
    flash[0x8000:0x9000] = b"\xff" * 0x1000
    (in_tmp / "old dump.bin").write_bytes(flash)
    assert run(["inspect", "old dump.bin"]) == 2
    error, hint = _hint(capsys)
    assert "no readable partition table" in error, error
    said = hint.partition(": esp-cabundle ")[2]
    assert shlex.split(said) == [
        "fs", "ls", "old dump.bin", "--offset", "0x290000", "--size", "1408K",
    ]  # fmt: skip
    assert run(shlex.split(said)) == 0, capsys.readouterr().err


@pytest.mark.parametrize("taken", [["ca.pem"], ["ca.pem", "ca-2.pem", "cabundle.lock"]])
def test_update_dumps_build_then_put_hint_overwrites_nothing(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], taken: list[str]
) -> None:
    """'build --preset ... -o ca.pem, then fs put ...' wrote over the ca.pem here (and
    the project's lock): the two lines name a file not here, and run as copied."""
    _pack("spiffs", "fs.bin")
    for name in taken:
        (in_tmp / name).write_text(f"mine: {name}\n")
    typed = ["update-dump", "fs.bin", "--board", "mdash-arduino", "--preset", "letsencrypt"]
    assert run([*typed, "-o", "new.bin"]) == 2
    _, hint = _hint(capsys)
    build, _, rest = hint.partition("itself: esp-cabundle ")[2].partition(", then esp-cabundle ")
    put = rest.partition("; or ")[0]
    made = f"ca-{len(taken) if len(taken) > 1 else 2}.pem"
    lock = ["--no-lock"] if "cabundle.lock" in taken else []
    assert shlex.split(build) == ["build", "--preset", "letsencrypt", *lock, "-o", made], hint
    assert shlex.split(put) == ["fs", "put", "fs.bin", made, "/ca.pem", "--board", "mdash-arduino"]
    assert run(shlex.split(build)) == 0, capsys.readouterr().err
    assert run(shlex.split(put)) == 0, capsys.readouterr().err
    for name in taken:
        assert (in_tmp / name).read_text() == f"mine: {name}\n"
    image = open_image((in_tmp / "fs.bin").read_bytes())
    assert image.read("/ca.pem") == (in_tmp / made).read_bytes()


@pytest.mark.parametrize(
    ("platform", "meant"),
    [("mos-2.20", "mongoose-os-2.20"), ("mongose-os", "mongoose-os"), ("pio-6.8.0", None)],
)
def test_a_misspelt_platform_family_hints_the_line_with_the_family(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], platform: str, meant: str | None
) -> None:
    """An unknown family was told 'FAMILY or FAMILY-VERSION, ...': the family near
    (or the tool's own short name for it, mos) is put into the line typed."""
    (in_tmp / "dump.bin").write_bytes(mongoose_dump())
    typed = ["update-dump", "dump.bin", "--board", "mongoose-os-esp32", "--platform", platform]
    assert run([*typed, "--preset", "default", "-o", "new.bin"]) == 2
    error, hint = _hint(capsys)
    assert error == f"unknown LittleFS platform {platform!r}", error
    if meant is None:  # PlatformIO: another board's platform, refused as such when run
        assert hint.startswith("did you mean platformio-6.8.0? e.g. esp-cabundle "), hint
        return
    assert hint.startswith(f"did you mean {meant}? e.g. esp-cabundle "), hint
    line = _line(hint.partition("? ")[2])
    assert line == [*typed[:-1], meant, "--preset", "default", "-o", "new.bin"], line
    assert run([*line, "-q"]) == 0, capsys.readouterr().err
    assert (in_tmp / "new.bin").stat().st_size == len(mongoose_dump())
