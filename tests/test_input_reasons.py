"""Every reader names the real reason an input cannot be used: an empty file is "empty
file" whichever command is given it; a symlink that loops or leads nowhere is said to
be one (never "does not exist"); a YAML file whose top level is no mapping says what
the top level must be; a certificate the unit's mbedTLS does not load from a UTF-16
file is said so in a sentence that reads. Each refusal exits 2 and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from tests.support import dumps

DATA = Path(__file__).parent / "data"
CA = DATA / "letsencrypt" / "isrgrootx1.pem"
PACK = ["pack", "--fs", "littlefs", "--profile", "esp-idf", "--size", "256K"]
UPDATE = ["update-dump", "--board", "mdash-arduino", "-o", "out.bin"]


@pytest.fixture
def files(in_tmp: Path) -> Path:
    (in_tmp / "ca.pem").write_bytes(CA.read_bytes())
    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    (in_tmp / "cfg").mkdir()
    return in_tmp


def run(runner: CliRunner, args: list[str]) -> tuple[int, str]:
    r = runner.invoke(cli, args)
    return r.exit_code, " ".join(r.stderr.split())


def unchanged(root: Path, before: dict[Path, bytes]) -> None:
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink()}
    assert after == before


# Each command given the input X; the message it must print (after "X: ").
COMMANDS = {
    "fs ls": (["fs", "ls", "X"], "empty file, not a file-system image or flash dump"),
    "fs cat": (["fs", "cat", "X", "/ca.pem"], "empty file, not a file-system image"),
    "fs put": (["fs", "put", "X", "ca.pem", "/ca.pem"], "empty file, not a file-system image"),
    "fs rm": (["fs", "rm", "X", "/ca.pem"], "empty file, not a file-system image"),
    "fs ls --offset": (
        ["fs", "ls", "X", "--offset", "0x1000", "--size", "4096"],
        "empty file, not a file-system image or flash dump",
    ),
    "inspect": (["inspect", "X"], "empty file"),
    "build --root": (
        ["build", "--root", "./X", "-o", "out.pem"],
        "empty file, no certificate found",
    ),
    "pack --bundle": (
        [*PACK, "--bundle", "X", "-o", "out.bin"],
        "empty file, no certificate found",
    ),
    "check --bundle": (
        ["check", "--bundle", "X", "--chain", "ca.pem"],
        "empty file, no certificate found",
    ),
    "chains show": (["chains", "show", "X"], "empty file, no certificate found"),
    "update-dump DUMP": ([*UPDATE[:1], "X", *UPDATE[1:], "--bundle", "ca.pem"], "empty file"),
    "update-dump --bundle": (
        [*UPDATE[:1], "dump.bin", *UPDATE[1:], "--bundle", "X"],
        "empty file, no certificate found",
    ),
    "virtual-unit --dump": (["virtual-unit", "--dump", "X"], "empty file, not a flash dump"),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_an_empty_input_is_an_empty_file_everywhere(
    files: Path, runner: CliRunner, name: str
) -> None:
    args, message = COMMANDS[name]
    (files / "empty.pem").write_bytes(b"")
    before = {p: p.read_bytes() for p in files.rglob("*") if p.is_file()}
    code, err = run(runner, [a.replace("X", "empty.pem") for a in args])
    assert code == 2, err
    assert f"empty.pem: {message}" in err
    assert "past the end" not in err and "not valid JSON" not in err
    unchanged(files, before)


def test_an_empty_lock_file_is_an_empty_file(files: Path, runner: CliRunner) -> None:
    (files / "cabundle.yaml").write_text("preset: default\n")
    (files / "cabundle.lock").write_bytes(b"")
    before = {p: p.read_bytes() for p in files.rglob("*") if p.is_file()}
    code, err = run(runner, ["build", "--locked"])
    assert code == 2 and "cabundle.lock: empty file, not a lock file" in err, err
    unchanged(files, before)


@pytest.mark.parametrize("name", [n for n in COMMANDS if n != "fs ls --offset"])
def test_a_symlink_loop_is_named_as_one_by_every_reader(
    files: Path, runner: CliRunner, name: str
) -> None:
    args, _ = COMMANDS[name]
    (files / "loop1").symlink_to("loop1")
    before = {p: p.read_bytes() for p in files.rglob("*") if p.is_file()}
    code, err = run(runner, [a.replace("X", "loop1") for a in args])
    assert code == 2, err
    assert "loop1: is a symbolic link that loops (Too many levels of symbolic links)" in err
    assert "does not exist" not in err and "no such" not in err
    unchanged(files, before)


@pytest.mark.parametrize(
    ("setup", "args"),
    [
        ("cfg/cabundle.yaml", ["build"]),
        ("cfg/cabundle.lock", ["build", "--locked"]),
        ("cfg/filter.csv", ["build"]),
        ("cfg/chain.pem", ["check", "--bundle", "../ca.pem", "--chain", "chain.pem"]),
        (
            "cfg/board.yaml",
            [*PACK[:1], "--board", "./board.yaml", "--bundle", "../ca.pem", "-o", "o.bin"],
        ),
        ("cfg/loop", ["build", "--root", "loop", "-o", "out.pem"]),
        ("cfg/ca.pem", ["check", "--chain", "../ca.pem"]),
    ],
    ids=["config", "lock", "idf_filter", "chain", "board", "root-without-slash", "check-ca"],
)
def test_a_symlink_loop_where_a_config_names_a_file(
    files: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, setup: str, args: list[str]
) -> None:
    cfg = files / "cfg"
    link = files / setup
    link.symlink_to(link.name)
    if link.name != "cabundle.yaml":
        extra = "idf_filter: filter.csv\n" if link.name == "filter.csv" else ""
        (cfg / "cabundle.yaml").write_text(f"preset: default\n{extra}")
    monkeypatch.chdir(cfg)
    before = {p: p.read_bytes() for p in files.rglob("*") if p.is_file()}
    code, err = run(runner, args)
    assert code == 2, err
    assert f"{link.name}: is a symbolic link that loops" in err
    assert "does not exist" not in err and "no such" not in err and "unknown" not in err
    unchanged(files, before)


def test_a_symlink_leading_nowhere_is_named_as_one(files: Path, runner: CliRunner) -> None:
    (files / "gone.pem").symlink_to("nowhere.pem")
    before = {p: p.read_bytes() for p in files.rglob("*") if p.is_file()}
    for args in (["build", "--root", "gone.pem", "-o", "o.pem"], ["inspect", "gone.pem"]):
        code, err = run(runner, args)
        assert code == 2, err
        assert "gone.pem: is a symbolic link to 'nowhere.pem', which does not exist" in err
    unchanged(files, before)


@pytest.mark.parametrize(
    ("name", "args", "keys"),
    [
        ("cabundle.yaml", ["build"], "its keys: preset, roots, exclude,"),
        (
            "board.yaml",
            [*PACK[:1], "--board", "./board.yaml", "--bundle", "../ca.pem", "-o", "o.bin"],
            "name,",
        ),
    ],
)
def test_a_yaml_list_at_the_top_level_says_what_the_top_level_must_be(
    files: Path,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    args: list[str],
    keys: str,
) -> None:
    (files / "cfg" / name).write_text("- preset: default\n- roots: [isrg]\n")
    monkeypatch.chdir(files / "cfg")
    before = {p: p.read_bytes() for p in files.rglob("*") if p.is_file()}
    code, err = run(runner, args)
    assert code == 2, err
    assert f"{name}:1: the top level must be a mapping ('key: value' lines), got a list" in err
    assert ": :" not in err
    assert keys in err and "write 'key: value' lines, not '- ' list items" in err
    unchanged(files, before)


def test_a_utf16_pem_fails_the_parse_gate_in_a_sentence_that_reads(
    files: Path, runner: CliRunner
) -> None:
    (files / "u16.pem").write_bytes(CA.read_text().encode("utf-16"))
    r = runner.invoke(cli, ["inspect", "--fail-on", "unparseable", "u16.pem"])
    assert r.exit_code == 1, r.output
    err = " ".join(r.stderr.split())
    assert (
        "u16.pem #1 ISRG Root X1: the unit's mbedTLS does not load it from this file as "
        "stored (see the note)"
    ) in err
    assert "(not loaded from this file) cannot parse it" not in r.output
    assert "not loaded by mbedTLS from this file" in r.stdout
