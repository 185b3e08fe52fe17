"""A mistyped name gets "did you mean" wherever a name is looked up (roots, presets,
roadmaps, partitions), in the one wording boards and config keys already used, with the
error's own hint kept after it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.layouts import load_mongoose

from esp_cabundle.board_model import FsTarget
from esp_cabundle.catalog import Catalog
from esp_cabundle.cli import cli, run
from esp_cabundle.commands.pack import pack as pack_command
from esp_cabundle.errors import CatalogError, ImageError, InputError, PartitionTableError
from esp_cabundle.fs.lfs_profiles import resolve_profile
from esp_cabundle.fs.spiffs_layout import get_spiffs_profile
from esp_cabundle.partitions import PartitionTable
from esp_cabundle.roadmaps import load_roadmap
from esp_cabundle.text import closest, suggest, suggest_file
from tests.support import dumps

DATA = Path(__file__).parent / "data"
PACK = ["--bundle", "ca.pem", "-o", "fs.bin"]
ROOTS_HINT = "run 'esp-cabundle roots QUERY' to find a root's alias or fingerprint"


def test_suggest_keeps_the_hint_and_offers_only_what_is_near() -> None:
    assert suggest("letsencrpyt", ["aws-iot", "letsencrypt"], "presets: x") == (
        "did you mean 'letsencrypt'? presets: x"
    )
    assert suggest("zzzz", ["aws-iot", "letsencrypt"], "presets: x") == "presets: x"
    assert suggest("zzzz", ["aws-iot"]) is None
    # A look-alike (l for 1) is the answer; otherwise every name tied for nearest.
    four = [f"amazon-root-ca-{n}" for n in range(1, 5)]
    assert closest("amazon-root-ca-l", four) == ("amazon-root-ca-1",)
    assert closest("amazon-root-ca-7", four) == tuple(four)
    assert suggest("SPIFS", ["nvs", "spiffs"]) == "did you mean 'spiffs'?"


def test_a_first_word_typed_alone_offers_the_names_it_begins() -> None:
    """``-f idf`` said only the list of formats: difflib puts idf-bundle far from idf.
    A word that begins names (before a hyphen) offers them; one that only begins a word
    inside a name, or a single letter, does not."""
    formats = ["pem", "der", "c", "json", "idf-bundle", "littlefs", "spiffs"]
    assert closest("idf", formats) == ("idf-bundle",)
    assert closest("IDF", formats) == ("idf-bundle",)
    r = CliRunner().invoke(cli, ["build", "-f", "idf", "-o", "x.bin"])
    assert r.exit_code == 2 and "did you mean 'idf-bundle'?" in r.output, r.output
    assert closest("root", ["isrg-root-x1", "isrg-root-x2"]) == ()
    assert closest("i", ["idf-bundle"]) == ()
    boards = ["arduino-esp32-spiffs", "arduino-esp32-littlefs", "esp-idf-spiffs"]
    assert closest("arduino", boards) == tuple(boards[:2])


def test_library_profile_errors_suggest_and_keep_the_list() -> None:
    with pytest.raises(InputError) as i:
        get_spiffs_profile("esp-iff")
    assert i.value.hint == "did you mean 'esp-idf'? choose one of: arduino, esp-idf, " + (
        "mongoose-os, platformio"
    )
    with pytest.raises(ImageError) as e:
        resolve_profile("platfromio")
    assert e.value.hint is not None
    assert e.value.hint.startswith("did you mean 'platformio'? profiles: esp-idf, ")


def test_library_root_and_preset_errors_suggest() -> None:
    catalog = Catalog.load()
    with pytest.raises(CatalogError) as e:
        catalog.resolve("isrg-rot-x1")
    assert e.value.hint == (
        "did you mean 'isrg-root-x1'? Catalog.load().search(QUERY) to find a root's alias or "
        "fingerprint"
    )
    with pytest.raises(CatalogError) as e:
        catalog.preset("letsencrpyt")
    assert e.value.hint is not None
    assert e.value.hint.startswith("did you mean 'letsencrypt'? known presets: ")
    with pytest.raises(InputError) as i:
        load_roadmap("letsencrpyt")
    assert i.value.hint == "did you mean 'letsencrypt'? roadmaps: letsencrypt"


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (
            ["build", "--root", "isrg-rot-x1", "-o", "ca.pem"],
            "unknown root 'isrg-rot-x1'",
            f"did you mean 'isrg-root-x1'? {ROOTS_HINT}",
        ),
        (
            ["build", "--preset", "letsencrpyt", "-o", "ca.pem"],
            "unknown preset 'letsencrpyt'",
            "did you mean 'letsencrypt'? known presets: aws-iot, ",
        ),
        (
            ["check", "--bundle", "ca.pem", "--roadmap", "letsencrpyt"],
            "unknown roadmap 'letsencrpyt'",
            "did you mean 'letsencrypt'? roadmaps: letsencrypt",
        ),
        (
            ["pack", "--fs", "spiffs", "--profile", "mongoos", "--size", "1408K", *PACK],
            "unknown spiffs profile 'mongoos'",
            "did you mean 'mongoose-os'? profiles: esp-idf, ",
        ),
        (
            ["pack", "--fs", "littlefs", "--profile", "ardiuno", "--size", "256K", *PACK],
            "unknown littlefs profile 'ardiuno'",
            "did you mean 'arduino'? profiles: esp-idf, ",
        ),
    ],
)
def test_cli_names_suggest(
    in_tmp: Path, runner: CliRunner, args: list[str], message: str, hint: str
) -> None:
    r = runner.invoke(cli, ["build", "--preset", "letsencrypt", "-o", "ca.pem", "-q"])
    assert r.exit_code == 0, r.output
    before = sorted(p.name for p in in_tmp.iterdir())
    r = runner.invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr and f"hint: {hint}" in r.stderr, r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == before  # nothing written


def test_config_root_typo_suggests(in_tmp: Path, runner: CliRunner) -> None:
    (in_tmp / "cabundle.yaml").write_text("roots: [amazon-root-ca-l]\n", encoding="utf-8")
    r = runner.invoke(cli, ["build"])
    assert r.exit_code == 2, r.output
    assert "cabundle.yaml:1: roots[0]: unknown root 'amazon-root-ca-l'" in r.stderr
    assert f"hint: did you mean 'amazon-root-ca-1'? {ROOTS_HINT}" in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["cabundle.yaml"]


def test_read_partition_typo_suggests(
    virtual_esp32: Callable[..., Any], runner: CliRunner, tmp_path: Path
) -> None:
    unit = virtual_esp32("esp32")
    load_mongoose(unit)
    out = tmp_path / "fs.bin"
    r = runner.invoke(cli, ["read", "-p", unit.url, "--partition", "fs0", "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert "no partition named 'fs0' (the table has nvs" in r.stderr
    assert "hint: did you mean 'fs_0'?" in r.stderr
    assert not out.exists()


def test_board_partition_typo_suggests_and_keeps_its_hint() -> None:
    table = PartitionTable.from_binary(dumps.table("mongoose-os-esp32"))
    target = FsTarget("littlefs", "mongoose-os", "/ca.pem", partitions=("fs0",))
    with pytest.raises(PartitionTableError) as e:
        target.select(table)
    assert e.value.hint == (
        "did you mean 'fs_0'? is this the right board? the firmware mounts its file "
        "system from 'fs0'"
    )


# --- an option typed in the wrong place is told where it goes -----------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--json", "build"], "--json goes after the command: esp-cabundle build --json"),
        (["--json", "push", "status"], "goes after the command: esp-cabundle push status --json"),
        (["--port", "x", "flash"], "--port goes after the command: esp-cabundle flash --port"),
        (["--json"], "--json goes after a command: esp-cabundle build --json"),
    ],
)
def test_a_command_option_before_the_command(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run(args) == 2
    out, err = capsys.readouterr()
    said = json.loads(out)["error"] if "--json" in args else err
    assert message in said and "--version" not in said, said
    assert list(in_tmp.iterdir()) == []  # nothing built


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--json", "build", "--bogus"], "e.g. esp-cabundle build --json --bogus"),
        (["--json", "push", "status"], "e.g. esp-cabundle push status --json"),
        (["--json", "--bogus"], "the commands: esp-cabundle --help"),
        (["--json"], "the commands: esp-cabundle --help"),
    ],
)
def test_a_json_before_the_command_is_the_tools_input_error(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], args: list[str], hint: str
) -> None:
    """Its document had click's kind (NoSuchOption) and click's "Try --help" hint, where
    every other usage error's is InputError: now the same kind, with the line mended."""
    assert run(args) == 2
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert out.err == "" and doc["kind"] == "InputError" and doc["exit_code"] == 2, doc
    assert doc["hint"] == hint, doc


def test_a_command_option_before_the_command_hints_the_line_mended(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["--port", "x", "flash", "-q"]) == 2
    assert capsys.readouterr().err == (
        "Error: --port goes after the command: esp-cabundle flash --port\n"
        "  hint: e.g. esp-cabundle flash --port x -q\n"
    )


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        # their shared dashes made these near --log and --root, offered after flash/build
        (["--bogus"], "its options: esp-cabundle --help"),
        (["--bogus", "x"], "its options: esp-cabundle --help"),
        (["--foo"], "its options: esp-cabundle --help"),
        (["-x"], "its options: esp-cabundle --help"),
        # several commands have it: named, none picked (fs ls was, the first by name)
        (
            ["--sise", "4K"],
            "did you mean --size? it goes after a command that has it: "
            "fs ls, fs cat, fs put, fs rm and pack",
        ),
        (
            ["--hots", "x"],
            "did you mean --host? it goes after a command that has it: chains show and check",
        ),
        # --port and --root as near by ratio: --port is two letters swapped (--root was
        # offered, the first in the table)
        (
            ["--prot"],
            "did you mean --port? it goes after a command that has it: "
            "flash, inspect, read and restore",
        ),
        # one command has it: the line mended
        (
            ["--listn", "x"],
            "did you mean --listen? it goes after the command: e.g. esp-cabundle virtual-unit "
            "--listen x",
        ),
        (  # push and virtual-unit --mdash have it: no one line to mend
            ["--api-key-fil=k"],
            "did you mean --api-key-file? it goes after a command that has it: "
            "push and virtual-unit",
        ),
    ],
)
def test_an_unknown_option_with_no_command_offers_only_what_matches(
    capsys: pytest.CaptureFixture[str], args: list[str], hint: str
) -> None:
    assert run(args) == 2
    err = capsys.readouterr().err
    assert err == f"Error: esp-cabundle has no {args[0].partition('=')[0]} option\n  hint: {hint}\n"


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (
            ["--jsn", "build"],
            "did you mean --json? it goes after the command: e.g. esp-cabundle build --json",
        ),
        (
            ["--prot", "x", "flash"],
            "did you mean --port? it goes after the command: e.g. esp-cabundle flash --port x",
        ),
        (["--prot=x", "flash"], "esp-cabundle flash --port=x"),
        (["--jsn", "fs", "put", "a", "b"], "esp-cabundle fs put --json a b"),
        (["--debg", "build"], "did you mean --debug? e.g. esp-cabundle --debug build"),
        (["--port", "x", "build"], "build's options: esp-cabundle build --help"),
    ],
)
def test_an_option_no_command_has_is_said_in_the_tools_words(
    runner: CliRunner, args: list[str], hint: str
) -> None:
    """An option before the command that neither the tool nor the command has failed in
    the group's parsing, before invoke, with click's banner and no hint (this test
    pinned those words while nothing better was there). Now it is said as a command's
    unknown option is: the nearest of the tool's and the command's options, in the
    line mended (a command's option moved after it)."""
    r = runner.invoke(cli, args)
    assert r.exit_code == 2 and "Usage:" not in r.stderr, r.output
    assert f"Error: esp-cabundle has no {args[0].partition('=')[0]} option" in r.stderr
    assert f"hint: {hint}" in r.stderr or hint in r.stderr, r.stderr


def test_an_unknown_option_before_the_command_answers_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--json typed after it: the script waiting for a document gets one."""
    assert run(["--jsn", "build", "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"] == "esp-cabundle has no --jsn option" and "build --json" in doc["hint"]


def test_fs_cat_json_says_cat_prints_bytes(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "fs.bin").write_bytes((DATA / "littlefs" / "mongoose-lfs20-256k.bin").read_bytes())
    assert run(["fs", "cat", "fs.bin", "/conf0.json", "--json", "-o", "c.json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert (
        doc["ok"] is False
        and "fs cat has no --json: it prints the file's exact bytes" in (doc["error"])
    )
    assert "esp-cabundle fs ls fs.bin --json " in doc["hint"] and "--fs" not in doc["hint"]
    assert sorted(p.name for p in in_tmp.iterdir()) == ["fs.bin"]


def test_a_missing_file_names_the_one_beside_it_meant() -> None:
    """A file not there: "did you mean" a name beside it, where only its stem is near
    (a shared .bin makes no two names alike), else the caller's hint."""
    assert suggest_file("fs.bim", ["fs.bin", "ca.pem"]) == "did you mean 'fs.bin'?"
    assert suggest_file("ca.pen", ["fs.bin", "ca.pem"]) == "did you mean 'ca.pem'?"
    assert suggest_file("nofile.bin", ["fs.bin", "ca.pem"]) is None
    assert suggest_file("fs", ["fsx", "fs.bin"]) == "did you mean 'fsx'?"


def test_fs_ls_of_no_image_says_how_one_is_made_or_which_was_meant(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``fs ls nofile.bin`` said "no such file-system image" with no hint (tryout): the
    hint says how an image is made, naming the file typed; a name near one beside it is
    told which was meant. Nothing is written either way."""
    assert run(["fs", "ls", "nofile.bin"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "Error: nofile.bin: no such file-system image\n"
        "  hint: save a unit's file-system partition as it (esp-cabundle read --port PORT "
        "--partition spiffs -o nofile.bin; Arduino's and PlatformIO's name; esp-cabundle "
        "boards says each board's), or make a new image (esp-cabundle pack --preset "
        "default --fs spiffs --profile esp-idf --size 1408K -o nofile.bin)\n"
    )
    (in_tmp / "fs.bin").write_bytes((DATA / "littlefs" / "mongoose-lfs20-256k.bin").read_bytes())
    assert run(["fs", "ls", "fs.bim", "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"] == "fs.bim: no such file-system image", doc
    assert doc["hint"] == "did you mean 'fs.bin'?", doc
    assert run(["fs", "put", "nofile.bin", "fs.bin"]) == 2
    assert "or make a new image (esp-cabundle pack " in capsys.readouterr().err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["fs.bin"]


@pytest.mark.parametrize("fs_type", ["littlefs", "spiffs"])
def test_packs_help_lists_the_profiles_its_error_lists(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], fs_type: str
) -> None:
    """pack --help said spiffs takes esp-idf|mongoose-os, while an unknown profile's
    error listed arduino and platformio too, which SPIFFS_PROFILES has (tryout): the
    help lists what each file system's error lists."""
    helped = next(p.help for p in pack_command.params if p.name == "profile")
    listed = str(helped).partition("littlefs or spiffs: ")[2].split(" ")[0].split("|")
    assert run(["pack", "--fs", fs_type, "--profile", "x", "--size", "64K", *PACK]) == 2
    hint = capsys.readouterr().err.partition("  hint: profiles: ")[2].strip()
    assert hint.split(", ") == listed, (hint, listed)
    assert list(in_tmp.iterdir()) == []


def test_options_as_near_as_each_other_are_all_offered(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``flash --rort``: --port and --root are one letter away each; the first in the
    table was offered as if it were the one meant."""
    assert run(["flash", "--rort", "x"]) == 2
    assert capsys.readouterr().err == (
        "Error: flash has no --rort option\n"
        "  hint: did you mean --port or --root? flash's options: esp-cabundle flash --help\n"
    )
    assert run(["flash", "--prot", "x"]) == 2  # swapped letters: one edit, --root two
    assert "did you mean --port? e.g. esp-cabundle flash --port x" in capsys.readouterr().err
