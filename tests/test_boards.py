"""Board profiles: every shipped file loads, selects its partitions, and bad files fail
with the file, line and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.boards import (
    FS_PROFILE_NAMES,
    Board,
    board_names,
    boards_dir,
    list_boards,
    load_board,
    parse_board,
)
from esp_cabundle.cli import cli
from esp_cabundle.errors import ConfigError, InputError, PartitionTableError
from esp_cabundle.partitions import PartitionTable

REPO = Path(__file__).resolve().parent.parent
TABLES = Path(__file__).parent / "data" / "partitions"

REQUIRED = {
    "mdash-arduino",
    "mdash",
    "mongoose-os-esp32",
    "esp-idf-spiffs",
    "esp-idf-littlefs",
    "esp-idf-bundle",
    "arduino-esp32-littlefs",
    "arduino-esp32-spiffs",
    "platformio-esp32",
}


def table(name: str) -> PartitionTable:
    return PartitionTable.from_binary((TABLES / f"{name}.bin").read_bytes())


def test_every_shipped_board_loads() -> None:
    names = board_names()
    assert set(names) >= REQUIRED
    boards = list_boards()
    assert [b.name for b in boards] == names
    for b in boards:
        assert b.chips and b.verify.rules and b.verify.clock
        if b.output.form == "filesystem":
            assert b.filesystem is not None
            assert b.filesystem.profile in FS_PROFILE_NAMES[b.filesystem.fs_type]
        if b.layout is not None and b.filesystem is not None:
            assert b.fs_partitions(b.layout)


def test_boards_ship_inside_the_package_and_top_level_points_there() -> None:
    pkg = boards_dir()
    assert pkg.parts[-3:] == ("esp_cabundle", "data", "boards")
    assert (pkg / "README.md").is_file()
    top = REPO / "boards"
    assert top.resolve() == pkg.resolve()
    assert sorted(p.name for p in top.glob("*.yaml")) == sorted(p.name for p in pkg.glob("*.yaml"))


def test_fs_profile_names_match_the_file_systems() -> None:
    from esp_cabundle.fs import FS_PROFILES

    for fs_type, names in FS_PROFILE_NAMES.items():
        assert set(names) <= set(FS_PROFILES[fs_type]), fs_type


def test_key_facts_of_the_main_boards() -> None:
    mdash = load_board("mdash-arduino")
    assert mdash.filesystem is not None
    assert (mdash.filesystem.fs_type, mdash.filesystem.profile) == ("spiffs", "esp-idf")
    assert mdash.filesystem.ca_path == "/ca.pem"
    assert "/mdash.cfg" in mdash.filesystem.config_files
    assert (mdash.verify.rules, mdash.verify.clock) == ("mbedtls", "none")

    c = load_board("mdash")
    assert c.filesystem is None and c.output.format == "c"
    assert dict(c.output.options) == {"name": "s_pem", "style": "s_pem"}
    assert c.verify.clock == "synced"

    mos = load_board("mongoose-os-esp32")
    assert mos.filesystem is not None
    assert (mos.filesystem.fs_type, mos.filesystem.profile) == ("littlefs", "mongoose-os")
    assert mos.layout == table("mongoose-os-esp32")

    bundle = load_board("esp-idf-bundle")
    assert bundle.output.format == "idf-bundle" and bundle.verify.rules == "idf-bundle"
    assert load_board("esp-idf-bundle-v1").output.options["bundle_format"] == "v1"


def test_partition_selection_against_real_tables() -> None:
    mos = load_board("mongoose-os-esp32").fs_partitions(table("mongoose-os-esp32"))
    assert [(p.name, p.offset) for p in mos] == [("fs_0", 0x190000), ("fs_1", 0x350000)]
    ard = table("arduino-default")
    for name in ("mdash-arduino", "arduino-esp32-spiffs", "platformio-esp32"):
        assert [p.name for p in load_board(name).fs_partitions(ard)] == ["spiffs"]
    lfs = load_board("esp-idf-littlefs").fs_partitions(table("idf-littlefs"))
    assert [(p.name, p.subtype_name) for p in lfs] == [("storage", "littlefs")]
    two = PartitionTable.from_csv(
        "nvs, data, nvs, , 16K\na, data, spiffs, , 64K\nb, data, littlefs, , 64K\n"
    )
    assert [p.name for p in load_board("esp-idf-spiffs").fs_partitions(two)] == ["a"]
    # one more file-system partition than its layout names: refused, not one of them picked
    with pytest.raises(PartitionTableError, match=r"takes only the last of them") as e:
        load_board("platformio-esp32").fs_partitions(two)
    assert "update 'b' and leave 'a' holding the old CA" in e.value.message
    named = PartitionTable.from_csv(
        "nvs, data, nvs, , 16K\nspiffs, data, spiffs, , 64K\nb, data, littlefs, , 64K\n"
    )
    assert [p.name for p in load_board("platformio-esp32").fs_partitions(named)] == ["b"]
    custom = PartitionTable.from_csv("nvs, data, nvs, , 16K\nlittlefs, data, littlefs, , 64K\n")
    assert [p.name for p in load_board("platformio-esp32").fs_partitions(custom)] == ["littlefs"]


@pytest.mark.parametrize(
    ("board", "pick", "kept"),
    [
        ("platformio-esp32", "last", "fs_0"),
        ("platformio-esp32-spiffs", "last", "fs_0"),
        ("esp-idf-spiffs", "first", "fs_1"),
    ],
)
def test_a_board_picking_one_refuses_a_mongoose_table(board: str, pick: str, kept: str) -> None:
    with pytest.raises(PartitionTableError) as e:
        load_board(board).fs_partitions(table("mongoose-os-esp32"))
    assert f"2 file-system partitions ('fs_0', 'fs_1'); board {board} takes only the {pick}" in (
        e.value.message
    )
    assert f"leave '{kept}' holding the old CA" in e.value.message
    assert e.value.hint is not None and "is this the right board?" in e.value.hint


def test_every_board_matches_its_own_layout_and_the_shipped_tables() -> None:
    """The refusal of unknown file-system partitions never refuses a board's own
    layout, nor the vendor tables the board is made for."""
    own = {
        "arduino-default": ["mdash-arduino", "arduino-esp32-spiffs", "arduino-esp32-littlefs"],
        "mongoose-os-esp32": ["mongoose-os-esp32", "mongoose-os-esp32-spiffs"],
        "idf-littlefs": ["esp-idf-littlefs"],
    }
    for name, boards in own.items():
        for b in boards:
            assert load_board(b).fs_partitions(table(name)), (name, b)
    for b in list_boards():
        if b.layout is not None and b.filesystem is not None:
            assert b.fs_partitions(PartitionTable.from_binary(b.layout.to_binary())), b.name


def test_selection_errors_name_the_missing_partition() -> None:
    with pytest.raises(PartitionTableError, match=r"no partition 'fs_0' \(it has 'nvs'"):
        load_board("mongoose-os-esp32").fs_partitions(table("arduino-default"))
    with pytest.raises(PartitionTableError, match="no data partition of subtype littlefs"):
        load_board("esp-idf-littlefs").fs_partitions(table("idf-two-ota"))
    with pytest.raises(InputError, match="keeps its CA in c form"):
        load_board("mdash").fs_partitions(table("arduino-default"))
    app_named = PartitionTable.from_csv("spiffs, app, factory, , 1M\n")
    with pytest.raises(PartitionTableError, match="not a data partition"):
        load_board("arduino-esp32-spiffs").fs_partitions(app_named)


def test_unknown_board_suggests_a_name() -> None:
    with pytest.raises(ConfigError, match="unknown board 'mongoose-os'") as e:
        load_board("mongoose-os")
    assert "mongoose-os-esp32" in str(e.value)


def test_board_from_a_path(tmp_path: Path) -> None:
    src = (boards_dir() / "mdash-arduino.yaml").read_text()
    p = tmp_path / "mine.yaml"
    p.write_text(src.replace("name: mdash-arduino", "name: mine"))
    b = load_board(p)
    assert isinstance(b, Board) and b.name == "mine" and b.source == str(p)
    assert load_board(str(p)).name == "mine"
    with pytest.raises(ConfigError, match="no such board file"):
        load_board(tmp_path / "none.yaml")


GOOD = """\
name: t
chips: [esp32]
flash_size: 4MB
partition_table:
  offset: 0x8000
  layout: |
    nvs, data, nvs, , 16K
    fs, data, spiffs, , 64K
filesystem:
  partitions: [fs]
  type: spiffs
  profile: esp-idf
  ca_path: /ca.pem
output:
  form: filesystem
verify:
  rules: mbedtls
  clock: none
"""

BAD = [
    ("chips: [esp32]", "chips: [esp33]", 2, "chips[0]: 'esp33' is not one of"),
    ("flash_size: 4MB", "flash_size: lots", 3, "flash_size: expected a flash size"),
    ("  offset: 0x8000", "  offset: 0x8800", 5, "partition_table.offset: 0x8800 is not 4 KiB"),
    ("    fs, data, spiffs, , 64K", "    fs, data, spifs, , 64K", 8, "unknown subtype 'spifs'"),
    ("  partitions: [fs]", "  partitions: [fs_0]", 10, "no partition 'fs_0'"),
    ("  type: spiffs", "  type: fat", 11, "filesystem.type: 'fat' is not one of"),
    ("  profile: esp-idf", "  profile: arduino2", 12, "filesystem.profile: 'arduino2' is not"),
    ("  ca_path: /ca.pem", "  ca_path: ca.pem", 13, "not an absolute file path"),
    ("  form: filesystem", "  form: tarball", 15, "output.form: 'tarball' is not one of"),
    ("  rules: mbedtls", "  rules: idf-bundle", 17, "needs output form idf-bundle"),
    ("  clock: none", "  clock: ntp", 18, "verify.clock: 'ntp' is not one of"),
    ("  clock: none", "  clock: none\n  colour: red", 19, "unknown key 'colour'"),
    ("verify:", "verfy:", 16, "unknown key 'verfy'"),
    ("  partitions: [fs]", "  pick: last", 10, "name the partitions"),
    ("  form: filesystem", "  form: filesystem\n  name: s_pem", 16, "unknown key 'name'"),
]


@pytest.mark.parametrize(("old", "new", "line", "message"), BAD)
def test_bad_board_files_name_file_line_and_key(
    old: str, new: str, line: int, message: str
) -> None:
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    with pytest.raises(ConfigError) as e:
        parse_board(text, source="boards/t.yaml")
    assert str(e.value).startswith(f"boards/t.yaml:{line}: "), str(e.value)
    assert message in str(e.value)


def test_good_board_parses() -> None:
    b = parse_board(GOOD, source="t.yaml")
    assert b.layout is not None and [p.offset for p in b.layout] == [0x9000, 0xD000]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty board file"),
        ("name: [", "not valid YAML"),
        ("chips: [esp32]\n", "missing required key 'name'"),
        (
            GOOD.replace("  form: filesystem", "  form: idf-bundle\n  idf_version: '5.4'"),
            "rules idf-bundle or",
        ),
        (
            GOOD.replace("  form: filesystem", "  form: idf-bundle\n  idf_version: 5.4"),
            "reads 5.4 as a number",
        ),
        (
            GOOD.replace("  form: filesystem", "  form: idf-bundle\n  bundle_format: v9"),
            "unknown bundle format 'v9'",
        ),
        (
            GOOD.replace("flash_size: 4MB", "flash_size: 256K").replace(", , 64K", ", , 256K"),
            "beyond the 256 KiB flash",
        ),
    ],
)
def test_more_bad_boards(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_board(text, source="t.yaml")


def test_file_name_must_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "esp_cabundle" / "data" / "boards"
    d.mkdir(parents=True)
    (d / "x.yaml").write_text(GOOD)
    monkeypatch.setattr("esp_cabundle.boards.boards_dir", lambda: d)
    with pytest.raises(ConfigError, match="'t' does not match the file name 'x'"):
        load_board("x")


# --- CLI ---------------------------------------------------------------------------------


def test_cli_lists_and_shows(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["boards"])
    assert r.exit_code == 0, r.output
    for name in REQUIRED:
        assert name in r.output
    r = runner.invoke(cli, ["boards", "mongoose-os-esp32"])
    assert r.exit_code == 0
    assert "fs_0+fs_1" in r.output and "<- CA file system" in r.output
    # The partition table's rule has one dash run per headed column, none for the marker.
    lines = r.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["name", "type"])
    assert len(lines[header + 1].split()) == len(lines[header].split()) == 6
    r = runner.invoke(cli, ["boards", "mdash-arduino", "--json"])
    doc = json.loads(r.output)
    assert doc["filesystem"]["config_files"] == ["/mdash.cfg"]
    assert doc["verify"] == {"rules": "mbedtls", "clock": "none", "ca_parse": "fatal"}
    r = runner.invoke(cli, ["boards", "--json"])
    assert {d["name"] for d in json.loads(r.output)["boards"]} >= REQUIRED


def test_cli_unknown_board(runner: CliRunner) -> None:
    r = runner.invoke(cli, ["boards", "mdash-ardiuno"])
    assert r.exit_code == 2
    assert "unknown board 'mdash-ardiuno'" in r.output and "mdash-arduino" in r.output


def test_a_file_given_as_a_board_is_named_as_no_board_file(runner: CliRunner, in_tmp: Path) -> None:
    """``--board ca.pem`` (a file here, not YAML) says a board file is YAML, rather than
    only 'unknown board'; nothing is written."""
    (in_tmp / "ca.pem").write_text("not a board\n")
    r = runner.invoke(cli, ["pack", "--board", "ca.pem", "--preset", "letsencrypt", "-o", "x"])
    assert r.exit_code == 2, r.output
    assert "unknown board 'ca.pem': a file of that name is here" in r.stderr
    assert "a board file is YAML named *.yaml or *.yml" in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


def test_a_board_naming_the_custom_bundle_option_says_it_takes_a_ca_pem() -> None:
    """ESP-IDF's CONFIG_MBEDTLS_CUSTOM_CERTIFICATE_BUNDLE_PATH is gen_crt_bundle.py's
    input (PEM or DER certificates), not a finished bundle: esp-idf-bundle's description
    (shown by init and boards) told users to give it x509_crt_bundle.bin."""
    named = [b for b in list_boards() if "CUSTOM_CERTIFICATE_BUNDLE_PATH" in b.description]
    assert named, "the esp-idf-bundle board names the option"
    for b in named:
        words = " ".join(b.description.split())
        assert "names a ca.pem, not a bundle" in words, (b.name, words)
