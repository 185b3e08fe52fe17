"""Let's Encrypt's E5 comes twice: signed by ISRG Root X2, and cross-signed by ISRG Root
X1, both named "E5". ``flash`` said the change as "+E5, +E5" (one root said twice?), and
a unit or dump already holding the file was said to hold "the 4 roots" although two of
them are intermediates. Same-named roots now carry their SHA-256 prefix, and what is
held (or kept) is counted as what it is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.commands._bench import root_names
from esp_cabundle.virtual import VirtualESP32
from tests.support import dumps

LE = Path(__file__).resolve().parent / "data" / "letsencrypt"
FILES = ("isrgrootx1.pem", "isrg-root-x2.pem", "2024-e5.pem", "2024-e5-cross.pem")
E5, E5_CROSS = "e788d14b", "5dfdb3cf"  # their SHA-256 prefixes (`inspect` shows them)
HELD = "already holds the 4 CAs (2 roots, 2 intermediates)"


@pytest.fixture(autouse=True)
def _no_home_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESP_CABUNDLE_JOURNAL", str(tmp_path / "default-journal"))


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    p = tmp_path / "ca.pem"
    p.write_bytes(b"".join((LE / name).read_bytes() for name in FILES))
    return p


def test_flash_tells_same_named_roots_apart_and_counts_what_the_unit_holds(
    virtual_esp32: Callable[..., VirtualESP32], tmp_path: Path, bundle: Path
) -> None:
    unit = virtual_esp32("esp32")
    unit.load(0, dumps.arduino_dump())
    argv = ["flash", "--port", unit.url, "--board", "mdash-arduino", "--bundle", str(bundle)]
    argv += ["--journal-dir", str(tmp_path / "j")]
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, r.output
    (line,) = r.stdout.splitlines()
    assert line.endswith(f" s  +E5 ({E5}), +E5 ({E5_CROSS}), -DST Root CA X3"), line
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].endswith(f"up to date: {HELD}"), r.stdout


def test_update_dump_counts_what_the_dump_holds_and_kept(
    in_tmp: Path, bundle: Path, runner: CliRunner
) -> None:
    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    args = ["--board", "mdash-arduino", "--bundle", str(bundle)]
    r = runner.invoke(cli, ["update-dump", "dump.bin", *args, "-o", "new.bin"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["update-dump", "new.bin", *args, "-o", "again.bin"])
    assert r.exit_code == 0, r.output
    assert f"Up to date: new.bin {HELD}; nothing written" in r.output, r.output
    fewer = [(LE / name).read_bytes() for name in ("isrgrootx1.pem", "2024-e5-cross.pem")]
    (in_tmp / "fewer.pem").write_bytes(b"".join(fewer))
    r = runner.invoke(
        cli, ["update-dump", "new.bin", *args[:2], "--bundle", "fewer.pem", "-o", "fewer.bin"]
    )
    assert r.exit_code == 0, r.output
    assert "  = 2 CAs (1 root, 1 intermediate) kept" in r.output, r.output


def test_root_names_say_a_prefix_only_where_names_are_shared() -> None:
    said = root_names((("E5", "a" * 64), ("R10", "b" * 64)), (("E5", "c" * 64),))
    assert said == "+E5 (aaaaaaaa), +R10, -E5 (cccccccc)"
    assert root_names((("E5", "fs_0:" + "d" * 64),), ()) == "+E5"


def test_another_ca_of_an_interrupted_update_is_counted_and_told_apart(
    virtual_esp32: Callable[..., VirtualESP32], tmp_path: Path, bundle: Path
) -> None:
    """The CA of an update a cut link interrupted, finished before another is written,
    was said as "4 roots: ..., E5, E5": its intermediates counted as roots, its two E5s
    as one said twice (ca_words). It is now said as the flash line says roots."""
    unit = virtual_esp32("esp32")
    unit.load(0, dumps.arduino_dump())
    journal = tmp_path / "j"
    argv = ["flash", "--port", unit.url, "--board", "mdash-arduino", "--journal-dir", str(journal)]
    unit.arm_cut(sector_writes=1)
    r = CliRunner().invoke(cli, [*argv, "--bundle", str(bundle)])
    assert r.exit_code != 0 and "link lost" in r.output, r.output
    other = tmp_path / "x1.pem"
    other.write_bytes((LE / "isrgrootx1.pem").read_bytes())
    r = CliRunner().invoke(cli, [*argv, "--bundle", str(other), "--verbose"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    said = (
        f"4 CAs (2 roots, 2 intermediates): ISRG Root X1, ISRG Root X2, E5 ({E5}), E5 ({E5_CROSS})"
    )
    assert "carried another CA (SHA-256 " in text and said in text, text
    assert "4 roots" not in text, text
    assert "this one SHA-256 " in text and ", 1 root: ISRG Root X1" in text, text
