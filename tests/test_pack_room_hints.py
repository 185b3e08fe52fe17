"""A pack that runs out of room names the least size that holds its files and leaves
room to rewrite them in place (as a CA update does), found with the real formatter and
the real write ``fs put`` makes: the CLI as ``--size 24K``, a script as ``size=24576``, a
config as ``size: 24K``; that size packs and takes a CA update (the CA file rewritten at
twice its size, fs.fit.CA_GROWTH), and one block less does not do both. A pack that
holds its files with no room to rewrite them is warned of, naming that size. A board's
own partition too small is said so, without a size that would not fit the board.
SPIFFS's size limits are said grouped, the largest with the size that works. Every
refusal writes nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle import load_board
from esp_cabundle.cli import cli
from esp_cabundle.errors import ImageError
from esp_cabundle.fs import check_new_image, open_image
from esp_cabundle.fs import edit as edit_module
from esp_cabundle.fs.base import NoRoomError
from esp_cabundle.fs.edit import FileEdit, edit_image, locate_image, pack_image
from esp_cabundle.fs.fit import CA_GROWTH, FIT_FILES
from esp_cabundle.images import image_spec, new_image
from esp_cabundle.sizes import parse_size
from esp_cabundle.spelling import CLI_SPELLING, CONFIG_SPELLING

BLOCK = 4096
CA = bytes(range(256)) * 53  # 13,568 bytes: a typical few-root CA file
BOARDS = Path(__file__).parent.parent / "boards"


def _flipped(data: bytes) -> bytes:
    """As many bytes, each other than it was: a CA update of the same size."""
    return bytes(b ^ 0xFF for b in data)


def _rewrites(fs: str, image: bytes, path: str, data: bytes) -> bool:
    """Whether ``fs put``'s edit rewrites ``path`` in ``image`` with ``data``."""
    try:
        edit_image(locate_image(image), [FileEdit("put", path, data)], fs_type=fs)
    except NoRoomError:
        return False
    return True


def _roomy(fs: str, size: int, files: list[tuple[str, bytes]]) -> bool:
    """Whether ``size`` packs ``files`` and then takes a CA update: /ca.pem rewritten at
    twice its size (fs.fit.CA_GROWTH), else the largest file as it is."""
    try:
        packed = pack_image(fs, "esp-idf", size, files)
    except NoRoomError:
        return False
    ca = dict(files).get("/ca.pem")
    path, data = ("/ca.pem", ca * CA_GROWTH) if ca else max(files, key=lambda f: len(f[1]))
    return _rewrites(fs, packed.data, path, _flipped(data))


def _pack(runner: CliRunner, fs: str, size: str, out: Path, *extra: str) -> tuple[int, str]:
    line = ["pack", "--fs", fs, "--profile", "esp-idf", "--size", size, "--preset", "default"]
    r = runner.invoke(cli, [*line, *extra, "-o", str(out)])
    return r.exit_code, r.output


@pytest.mark.parametrize(("fs", "least"), [("littlefs", "8K"), ("spiffs", "12K")])
def test_the_cli_hint_names_the_size_that_holds_the_files(
    runner: CliRunner, tmp_path: Path, fs: str, least: str
) -> None:
    out = tmp_path / "fs.bin"
    code, text = _pack(runner, fs, least, out)
    assert code == 2 and not out.exists(), text
    found = re.search(
        r"use a larger partition \(--size (\S+) or more holds these files and leaves room to "
        r"rewrite them\)",
        text,
    )
    assert found, text
    fits = parse_size(found.group(1))
    code, text = _pack(runner, fs, found.group(1), out)
    assert code == 0 and out.stat().st_size == fits and "warning" not in text, text
    image = out.read_bytes()  # a CA update of the same size fits (fs put's edit)
    assert _rewrites(fs, image, "/ca.pem", _flipped(open_image(image).read("/ca.pem")))
    out.unlink()
    code, text = _pack(runner, fs, str(fits - BLOCK), out)
    if code == 2:  # one block less: the files do not fit ...
        assert "holds these files" in text and not out.exists(), text
    else:  # ... or fit with no room to rewrite them
        assert code == 0 and "warning: a CA update will not fit" in text, text
        assert f"(--size {found.group(1)} or more leaves room)" in text, text


@pytest.mark.parametrize("fs", ["littlefs", "spiffs"])
def test_the_library_hint_names_its_size_parameter(fs: str) -> None:
    files = [("/ca.pem", CA), ("/extra.bin", CA)]
    with pytest.raises(NoRoomError) as caught:
        pack_image(fs, "esp-idf", 16 << 10, files)
    hint = caught.value.hint or ""
    found = re.fullmatch(
        r"nothing was written; use a larger partition \(size=(\d+) or more holds these "
        r"files and leaves room to rewrite them\), or pack fewer files",
        hint,
    )
    assert found, hint
    fits = int(found.group(1))
    packed = pack_image(fs, "esp-idf", fits, files)
    assert len(packed.data) == fits and packed.cramped is None
    assert _roomy(fs, fits, files) and not _roomy(fs, fits - BLOCK, files)
    with pytest.raises(NoRoomError) as config:
        pack_image(fs, "esp-idf", 16 << 10, files, spelling=CONFIG_SPELLING)
    assert f"(size: {fits // 1024}K or more holds these files and leaves room to rewrite " in (
        config.value.hint or ""
    )


def test_the_named_size_takes_a_smaller_ca_put_over_it(in_tmp: Path, runner: CliRunner) -> None:
    """The size named for one root's CA packed an image so full that ``fs put`` refused
    even a smaller CA (1,002 bytes over 2,151): a unit flashed with it could not be
    updated."""
    for root, name in (("isrg-root-x1", "ca.pem"), ("isrg-root-x2", "ca2.pem")):
        r = runner.invoke(cli, ["build", "--root", root, "-o", name])
        assert r.exit_code == 0, r.output
    line = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--bundle", "ca.pem"]
    r = runner.invoke(cli, [*line, "--size", "8K", "-o", "fs.bin"])
    found = re.search(r"--size (\S+) or more holds these files", r.output)
    assert r.exit_code == 2 and found, r.output
    r = runner.invoke(cli, [*line, "--size", found.group(1), "-o", "fs.bin"])
    assert r.exit_code == 0 and "warning" not in r.output, r.output
    r = runner.invoke(cli, ["fs", "put", "fs.bin", "ca2.pem", "/ca.pem"])
    assert r.exit_code == 0, r.output
    assert (
        open_image((in_tmp / "fs.bin").read_bytes()).read("/ca.pem")
        == (in_tmp / "ca2.pem").read_bytes()
    )


def test_a_pack_with_no_room_to_rewrite_warns_naming_the_size(
    in_tmp: Path, runner: CliRunner
) -> None:
    """12K holds one root's CA but leaves littlefs no room to write its copy-on-write
    replacement: the pack succeeds, warned once, with the size that leaves room; its
    JSON report carries the warning."""
    r = runner.invoke(cli, ["build", "--root", "isrg-root-x1", "-o", "ca.pem"])
    assert r.exit_code == 0, r.output
    line = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--bundle", "ca.pem"]
    r = runner.invoke(cli, [*line, "--size", "12K", "-o", "fs.bin"])
    warned = [w for w in r.output.splitlines() if w.startswith("warning:")]
    assert r.exit_code == 0 and len(warned) == 1, r.output
    found = re.fullmatch(
        r"warning: a CA update will not fit: /ca\.pem cannot be rewritten in place as "
        r"[\d,]+ bytes \(twice its size\) in this 12K image \(--size (\S+) or more leaves "
        r"room\)",
        warned[0],
    )
    assert found, warned
    ca = (in_tmp / "ca.pem").read_bytes()
    packed = pack_image("littlefs", "esp-idf", 12 << 10, [("/ca.pem", ca)])
    # the warning is true: a CA twice the size does not fit
    assert not _rewrites("littlefs", packed.data, "/ca.pem", _flipped(ca * CA_GROWTH))
    assert _roomy("littlefs", parse_size(found.group(1)), [("/ca.pem", ca)])
    r = runner.invoke(cli, [*line, "--size", "12K", "-o", "fs2.bin", "--json"])
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["warnings"] == [warned[0].removeprefix("warning: ")], r.output
    r = runner.invoke(cli, [*line, "--size", found.group(1), "-o", "fs3.bin"])
    assert r.exit_code == 0 and "warning" not in r.output, r.output


def test_a_spiffs_pack_with_no_room_to_rewrite_is_warned_of() -> None:
    """32K SPIFFS holds two 13,568-byte files, but ``fs put`` of either anew needs more
    free pages than garbage collection can give: said as no room (it was an ImageError
    of another kind, which a pack could not tell from a broken image)."""
    files = [("/ca.pem", CA), ("/extra.bin", CA)]
    packed = pack_image("spiffs", "esp-idf", 32 << 10, files)
    with pytest.raises(NoRoomError):
        edit_image(locate_image(packed.data), [FileEdit("put", "/ca.pem", _flipped(CA))])
    assert packed.cramped is not None and packed.cramped.fits is not None, packed.cramped
    assert packed.cramped.text() == (
        "a CA update will not fit: /ca.pem cannot be rewritten in place as 27,136 bytes "
        f"(twice its size) in this 32K image (size={packed.cramped.fits} or more leaves room)"
    )
    assert _roomy("spiffs", packed.cramped.fits, files)
    assert not _roomy("spiffs", packed.cramped.fits - BLOCK, files)


@pytest.mark.parametrize("fs", ["littlefs", "spiffs"])
def test_files_no_size_holds_get_no_size(fs: str) -> None:
    with pytest.raises(NoRoomError) as caught:
        pack_image(fs, "esp-idf", 64 << 10, [("/big.bin", bytes(17 << 20))])
    assert caught.value.hint == "nothing was written; use a larger partition, or pack fewer files"


@pytest.mark.timeout(300)
def test_a_spiffs_fit_above_8_mib_is_found_below_its_page_limit() -> None:
    """SPIFFS with 256-byte pages addresses 16,380K at most: a trial at 16 MiB is refused
    for its page count, which the search took for "does not fit" (no size was said).
    Slow (about a minute): each size tried rewrites 10 MiB through the SPIFFS engine."""
    files = [("/big.bin", bytes(10 << 20))]
    with pytest.raises(NoRoomError) as caught:
        pack_image("spiffs", "esp-idf", 64 << 10, files)
    found = re.search(r"size=(\d+) or more", caught.value.hint or "")
    assert found, caught.value.hint
    fits = int(found.group(1))
    assert 10 << 20 < fits <= 16380 << 10
    packed = pack_image("spiffs", "esp-idf", fits, files)
    assert len(packed.data) == fits and packed.cramped is None


@pytest.mark.timeout(60)
def test_many_small_files_get_the_plain_hint_at_once(tmp_path: Path) -> None:
    """Each size tried builds and reads back a whole image: 300 small files made the
    search take seconds to minutes (3,000: about a minute) for a hint. Past FIT_FILES
    files no size is searched for."""
    files = [(f"/f{i}.txt", b"a" * 100) for i in range(FIT_FILES + 1)]
    calls: list[int] = []
    real = edit_module._packed_image

    def counted(*args: object) -> object:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(edit_module, "_packed_image", counted)
        with pytest.raises(NoRoomError) as caught:
            pack_image("littlefs", "esp-idf", 8 << 10, files)
    assert calls == [1]  # the pack itself, no size tried
    assert caught.value.hint == "nothing was written; use a larger partition, or pack fewer files"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("size", "file_bytes", "tried"),
    [
        (64 << 10, (16 << 20) + 1, [16 << 20]),  # no more than 16 MiB is tried
        (17 << 20, 18 << 20, []),  # an image already past 16 MiB: no size searched
    ],
)
def test_no_size_is_searched_for_past_16_mib(size: int, file_bytes: int, tried: list[int]) -> None:
    """README: the size is found "for up to 64 files and 16 MiB" (fs.fit.FIT_LIMIT):
    files that 16 MiB does not hold get the plain hint, every size tried at most 16 MiB."""
    sizes: list[int] = []
    real = edit_module._packed_image

    def counted(fs_type: str, prof: object, at: int, *args: object) -> object:
        sizes.append(at)
        return real(fs_type, prof, at, *args)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(edit_module, "_packed_image", counted)
        with pytest.raises(NoRoomError) as caught:
            pack_image("littlefs", "esp-idf", size, [("/big.bin", bytes(file_bytes))])
    assert sizes == [size, *tried]  # the pack itself, then the sizes the search tried
    assert caught.value.hint == "nothing was written; use a larger partition, or pack fewer files"


@pytest.mark.timeout(60)
def test_files_just_under_16_mib_get_a_size() -> None:
    """The other side of the 16 MiB cap: files 16 MiB holds are named a size."""
    files = [("/big.bin", bytes((16 << 20) - (64 << 10)))]
    with pytest.raises(NoRoomError) as caught:
        pack_image("littlefs", "esp-idf", 64 << 10, files)
    found = re.search(r"size=(\d+) or more", caught.value.hint or "")
    assert found, caught.value.hint
    assert (16 << 20) - (64 << 10) < int(found.group(1)) <= 16 << 20


_MANY_SMALL_FILES = """
import pathlib, sys
d = pathlib.Path("D")
d.mkdir()
for i in range(300):
    (d / f"f{i}.txt").write_bytes(b"a" * 100)
from esp_cabundle._entry import main
main(["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "32K", "--preset",
      "default", "--from-dir", "D", "-o", "out.bin"])
"""


@pytest.mark.timeout(120)
def test_a_small_file_that_fills_the_image_at_close_is_a_clean_error(tmp_path: Path) -> None:
    """littlefs writes a small (inline) file out when it is closed; NOSPC there left
    littlefs-python's handle open in Python but closed in C, and its finalizer closed it
    again: littlefs's assertion aborted the process (exit 134), before the error was said
    once the size search threw that exception away."""
    r = subprocess.run(
        [sys.executable, "-c", _MANY_SMALL_FILES],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert r.returncode == 2, r.stderr
    assert "Assertion" not in r.stderr and "Traceback" not in r.stderr
    assert "no space left in the LittleFS image" in r.stderr
    assert not (tmp_path / "out.bin").exists()


def test_a_spiffs_too_small_says_its_size_grouped() -> None:
    with pytest.raises(ImageError) as caught:
        pack_image("spiffs", "esp-idf", 12 << 10, [("/ca.pem", CA)])
    assert "the files do not fit in a 12,288-byte SPIFFS image" in str(caught.value)
    with pytest.raises(ImageError) as mkspiffs:
        pack_image("spiffs", "mongoose-os", 12 << 10, [("/ca.pem", CA)])
    assert "does not fit in a 12,288-byte SPIFFS image" in str(mkspiffs.value)


def test_a_spiffs_too_large_is_told_the_size_that_works(runner: CliRunner, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="addresses at most 65535 pages") as caught:
        check_new_image("spiffs", "esp-idf", 32 << 20)
    found = re.fullmatch(r"give size=(\d+) or less", caught.value.hint or "")
    assert found, caught.value.hint
    largest = int(found.group(1))
    check_new_image("spiffs", "esp-idf", largest)  # the hint's size is taken
    with pytest.raises(ImageError, match="addresses at most"):
        check_new_image("spiffs", "esp-idf", largest + BLOCK)
    spec = image_spec(fs_type="spiffs", profile="esp-idf", size=32 << 20)
    with pytest.raises(ImageError) as cli_words:
        new_image(spec, spelling=CLI_SPELLING)
    assert cli_words.value.hint == f"give --size {largest // 1024}K or less"
    out = tmp_path / "fs.bin"
    code, text = _pack(runner, "spiffs", "32M", out)
    assert code == 2 and "hint: give --size 16380K or less" in text and not out.exists(), text


def _tiny_board(tmp_path: Path) -> Path:
    """esp-idf-littlefs with a 16 KiB partition: too small for a typical CA."""
    text = (BOARDS / "esp-idf-littlefs.yaml").read_text()
    text = text.replace("0xF0000,", "0x4000,").replace("name: esp-idf-littlefs", "name: tiny")
    board = tmp_path / "tiny.yaml"
    board.write_text(text)
    return board


def test_a_board_partition_too_small_is_said_without_a_size(
    runner: CliRunner, tmp_path: Path
) -> None:
    board = _tiny_board(tmp_path)
    out = tmp_path / "fs.bin"
    for size in ([], ["--size", "16K"]):  # the board's partition, its size typed or not
        line = ["pack", "--board", str(board), *size, "--preset", "default", "-o", str(out)]
        r = runner.invoke(cli, line)
        assert r.exit_code == 2 and not out.exists(), r.output
        assert "board tiny's file-system partition is too small for these files" in r.output
        assert "pack a smaller bundle (fewer roots)" in r.output
        assert "--size" not in r.output.split("hint:")[1], r.output
    # another --size is an image for the user's own table: that hint is --size
    line = ["pack", "--board", str(board), "--size", "12K", "--preset", "default"]
    r = runner.invoke(cli, [*line, "-o", str(out)])
    assert r.exit_code == 2 and "holds these files" in r.output and not out.exists()


def test_a_board_partition_too_small_is_said_to_a_script(tmp_path: Path) -> None:
    from esp_cabundle.fs.base import FsHint

    spec = image_spec(load_board(_tiny_board(tmp_path)))
    image = new_image(spec)
    ca = type("Gated", (), {"pem": CA})()  # pack_ca_image reads only .pem
    with pytest.raises(NoRoomError) as caught:
        image.pack(ca)  # type: ignore[arg-type]
    hint = caught.value.hint or ""
    assert isinstance(caught.value.worded, FsHint) and caught.value.worded.board == "tiny"
    assert "board tiny's file-system partition is too small" in hint and "size=" not in hint
    need = re.search(r"they need (\S+) with room to rewrite them\)", hint)
    assert need, hint
    assert _roomy("littlefs", parse_size(need.group(1)), [("/ca.pem", CA)])


def test_a_build_image_output_is_told_in_config_words(in_tmp: Path, runner: CliRunner) -> None:
    board = _tiny_board(in_tmp)
    config = in_tmp / "cabundle.yaml"
    config.write_text(
        f"preset: default\noutputs:\n  - {{format: littlefs, path: fs.bin, board: {board}}}\n"
    )
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2 and not (in_tmp / "fs.bin").exists(), r.output
    hint = r.output.split("hint:")[1]
    assert "board tiny's file-system partition is too small" in hint and "size:" not in hint
    image = "format: littlefs, path: fs.bin, profile: esp-idf"
    config.write_text(f"preset: default\noutputs:\n  - {{{image}, size: 8K}}\n")
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2 and not (in_tmp / "fs.bin").exists(), r.output
    found = re.search(r"\(size: (\S+) or more holds these files and leaves room", r.output)
    assert found, r.output
    config.write_text(f"preset: default\noutputs:\n  - {{{image}, size: {found.group(1)}}}\n")
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 0 and (in_tmp / "fs.bin").stat().st_size == parse_size(found.group(1))


def test_a_cramped_build_output_or_board_partition_is_warned_in_its_words(
    in_tmp: Path, runner: CliRunner
) -> None:
    """24K holds the default preset's CA (13,470 bytes) but not its rewrite: a config's
    image is warned of with ``size:``; a board's partition of that size with no size to
    give (another would not fit the board)."""
    config = in_tmp / "cabundle.yaml"
    image = "format: littlefs, path: fs.bin, profile: esp-idf"
    config.write_text(f"preset: default\noutputs:\n  - {{{image}, size: 24K}}\n")
    r = runner.invoke(cli, ["build"])
    warned = [w for w in r.output.splitlines() if w.startswith("warning:")]
    assert r.exit_code == 0 and (in_tmp / "fs.bin").exists(), r.output
    assert warned == [
        "warning: a CA update will not fit: /ca.pem cannot be rewritten in place as 26,940 "
        "bytes (twice its size) in this 24K image (size: 52K or more leaves room)"
    ], r.output
    board = _tiny_board(in_tmp)
    board.write_text(board.read_text().replace("0x4000,", "0x6000,"))
    r = runner.invoke(cli, ["pack", "--board", str(board), "--preset", "default", "-o", "b.bin"])
    assert r.exit_code == 0, r.output
    assert (
        "warning: a CA update will not fit: /ca.pem cannot be rewritten in place as 26,940 "
        "bytes (twice its size) in this 24K image (board tiny's file-system partition is too "
        "small for one)"
    ) in r.output
