"""Examples in ``--help`` are commands users paste: the ones that can run offline here
run as printed."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.targets import parse_target
from tests.support import dumps
from tests.support.doc_commands import freeze_clock, working_dir

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples"
DATA = ROOT / "tests" / "data"
BOARDS = ROOT / "esp_cabundle" / "data" / "boards"


def help_examples(runner: CliRunner, command: str) -> list[list[str]]:
    """The examples of ``command`` ("fs ls" for a subcommand), as argument lists: a
    trailing ``# comment`` is dropped, a ``> FILE`` redirection kept as two words."""
    text = runner.invoke(cli, [*command.split(), "--help"]).stdout
    joined = text.replace("\\\n", " ")
    return [
        shlex.split(line.strip(), comments=True)[1:]
        for line in joined.splitlines()
        if line.strip().startswith(f"esp-cabundle {command} ")
    ]


def test_update_dump_first_example_runs_without_a_config(runner: CliRunner, in_tmp: Path) -> None:
    (in_tmp / "dump.bin").write_bytes(dumps.arduino_dump())
    first = help_examples(runner, "update-dump")[0]
    assert "mdash-arduino" in first
    r = runner.invoke(cli, [*first, "--at", "2026-11-27"])
    assert r.exit_code == 0, r.output
    assert (in_tmp / "new.bin").is_file()


def test_pack_and_fs_examples_run_in_order_in_one_directory(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new user pastes pack's examples, then fs's, in one directory: each image an fs
    example opens is one a pack example wrote, with the file system, profile and
    platform it was made for (fs put's --platform arduino-2.0.5 on a 2.1 image made for
    arduino-2.0.17 is refused), and each dump is the board's its offsets are for. The
    directory holds what a user brings: a CA, files to pack, two boards' dumps."""
    freeze_clock(monkeypatch)
    made = runner.invoke(cli, ["build", "--preset", "letsencrypt", "-o", "ca.pem", "-q"])
    assert made.exit_code == 0, made.output
    for name in ("new-ca.pem", "build/ca.pem", "fs/old.pem", "fs/old-ca.pem", "data/x"):
        (in_tmp / name).parent.mkdir(exist_ok=True)
        (in_tmp / name).write_bytes((in_tmp / "ca.pem").read_bytes())
    (in_tmp / "arduino-dump.bin").write_bytes(dumps.arduino_dump())
    (in_tmp / "mos-dump.bin").write_bytes(dumps.mongoose_dump())
    for name in ("/a.pem", "/b.pem"):  # the unit's files fs rm's example removes
        put = ["fs", "put", "mos-dump.bin", "new-ca.pem", name, "--offset", "0x190000"]
        assert runner.invoke(cli, put).exit_code == 0
    ran = []
    for command in ("pack", "fs", "fs ls", "fs cat", "fs put", "fs rm"):
        for example in help_examples(runner, command):
            words = example
            to = words.index(">") if ">" in words else None
            r = runner.invoke(cli, words[:to])
            assert r.exit_code == 0, (shlex.join(words), r.output)
            if to is not None:
                (in_tmp / words[to + 1]).write_bytes(r.stdout_bytes)
            ran.append(words)
    assert len(ran) >= 17 and {w[0] for w in ran} == {"pack", "fs"}, ran


@pytest.mark.parametrize("group", ["fs", "chains", "journal", "push"])
def test_group_help_lists_each_command_whole(runner: CliRunner, group: str) -> None:
    """A group's list of commands says what each does in full, never cut off with '...'
    ('put  Write SOURCE into the image as DEST (default: /<SOURCE's name>),...')."""
    text = runner.invoke(cli, [group, "--help"], terminal_width=80).stdout
    listing = text.split("Commands:\n", 1)[1]
    assert listing.strip() and "..." not in listing, listing


@pytest.mark.parametrize(
    "command",
    [
        ["roots"],
        ["boards"],
        ["inspect"],
        ["init"],
        ["fs"],
        ["fs", "ls"],
        ["fs", "cat"],
        ["fs", "put"],
        ["fs", "rm"],
        ["chains"],
        ["chains", "pull"],
        ["chains", "show"],
        ["journal"],
        ["journal", "list"],
        ["journal", "prune"],
        ["build"],
        ["check"],
        ["pack"],
        ["flash"],
        ["restore"],
        ["read"],
        ["update-dump"],
        ["virtual-unit"],
        ["push"],
        ["push", "status"],
    ],
)
def test_help_fits_80_columns(runner: CliRunner, command: list[str]) -> None:
    """Examples are kept as written (click does not wrap them): a long one runs on with
    a backslash, so an 80-column terminal shows no example broken mid-word."""
    text = runner.invoke(cli, [*command, "--help"], terminal_width=80).stdout
    wide = [line for line in text.splitlines() if len(line) > 80]
    assert not wide, wide


# Examples that cannot run here, each with why; every other example of every command
# runs (test_every_help_example_runs).
NOT_RUN = {
    "chains pull": "captures every target's chain over the network",
    "chains pull --target broker -c fleet/cabundle.yaml": "captures a chain over the network",
    "chains show --host mdash.net": "captures a chain over the network",
    "chains show --host broker.example.com:8883 -o chains/broker.pem": "network",
    "chains show --host 192.0.2.10:8883 --server-name broker.local -o b.pem": "network",
    "check --host mqtt.example.com:8883 --until 2035-01-01": "captures a chain over the network",
    "init": "asks questions on a terminal",
    "inspect --port /dev/ttyUSB0 --board mongoose-os-esp32": "reads a unit over a serial port",
}
# Commands none of whose examples run here, and why.
NOT_RUN_COMMANDS = {
    "flash": "writes a unit over a serial port",
    "restore": "writes a unit over a serial port",
    "read": "reads a unit over a serial port",
    "push": "talks to units over MQTT or HTTP",
    "virtual-unit": "serves until stopped",
    "pack": "run in order with fs's by test_pack_and_fs_examples_run_in_order_in_one_directory",
    "fs": "run in order with pack's by test_pack_and_fs_examples_run_in_order_in_one_directory",
}


# Examples that show a negative verdict: the exit code they are run to show, and why.
EXIT_CODES = {
    "check --board mdash@1.2.16 --until 2036-01-01": (
        1,
        "mDash 1.2.16's built-in ISRG Root X1 fails mdash.net's chain when the cross-sign "
        "to it expires in 2032: the verdict the example is there to show",
    ),
}


def all_commands() -> list[str]:
    """Every command's path ("fs put"), groups too: a group's help has examples."""
    import click

    def walk(cmd: click.Command, path: list[str]) -> Iterator[str]:
        if path:
            yield " ".join(path)
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(click.Context(cmd)):
                sub = cmd.get_command(click.Context(cmd), name)
                assert sub is not None
                yield from walk(sub, [*path, name])

    return list(walk(cli, []))


def _not_run(words: list[str]) -> str | None:
    """Why the example ``words`` is not run here: by its whole text, or its command's."""
    return NOT_RUN.get(" ".join(words), NOT_RUN_COMMANDS.get(words[0]))


# What a user has in the directory before pasting an example: a CA, a config with a
# target whose chain is saved (and its lock; units without a clock, as in the Arduino
# example), chains, an mDash source, a board profile.
CONFIG = """preset: letsencrypt
device: mbedtls-noclock
targets:
  - name: mdash.net
    host: mdash.net
    chain: chains/mdash.net.pem
"""


def _user_directory(runner: CliRunner, where: Path) -> dict[str, bytes]:
    """Fill ``where`` with what the examples read; returns the flash dumps, by the
    board an update-dump example names (each dump.bin is that board's)."""
    chain = (EXAMPLES / "chains" / "letsencrypt-2024-short.pem").read_bytes()
    (where / "chains").mkdir()  # as chains pull saves mdash.net's: the config's target
    (where / "chains" / "mdash.net.pem").write_bytes(chain)
    (where / "cabundle.yaml").write_text(CONFIG)
    with working_dir(where):
        made = runner.invoke(cli, ["build", "-q"])  # ca.pem and cabundle.lock
        assert made.exit_code == 0, made.output
        lfs = ["pack", "--fs", "littlefs", "--platform", "arduino-2.0.5", "--size", "1408K"]
        made = runner.invoke(cli, [*lfs, "--bundle", "ca.pem", "-o", "lfs.bin", "-q"])
        assert made.exit_code == 0, made.output
    (where / "data").mkdir()
    (where / "data" / "ca.pem").write_bytes((where / "ca.pem").read_bytes())
    (where / "src").mkdir()
    (where / "src" / "mDash.c").write_bytes((DATA / "mdash" / "mDash-1.2.16-s_pem.c").read_bytes())
    board = (BOARDS / "arduino-esp32-littlefs.yaml").read_text()
    (where / "my-board.yaml").write_text(board.replace("arduino-esp32-littlefs", "my-board"))
    lfs_dump = bytearray(dumps.arduino_dump())
    image = (where / "lfs.bin").read_bytes()
    lfs_dump[0x290000 : 0x290000 + len(image)] = image
    (where / "lfs.bin").unlink()
    return {
        "mdash-arduino": dumps.arduino_dump(),
        "mongoose-os-esp32": dumps.mongoose_dump(),
        "arduino-esp32-littlefs": bytes(lfs_dump),
    }


def test_every_help_example_runs(
    runner: CliRunner, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user pastes an example from --help: it runs as shown, every command's (each
    in a fresh copy of one user's directory), or NOT_RUN says why it cannot run here.
    Only pack's, fs's and update-dump's first were run, so ``build --service-until
    2036-01-01 --max-bytes 16384`` exited 1 as printed (ISRG Root X1 expires 2035-06-04)."""
    freeze_clock(monkeypatch)
    template = in_tmp / "user"
    template.mkdir()
    dump_for = _user_directory(runner, template)
    ran, failed, used = [], [], set()
    for command in all_commands():
        for n, words in enumerate(help_examples(runner, command)):
            text = " ".join(words)
            why = _not_run(words)
            if why is not None:
                used.add(text if text in NOT_RUN else words[0])
                continue
            where = in_tmp / f"{command.replace(' ', '-')}-{n}"
            shutil.copytree(template, where)  # examples are alternatives, not steps
            if command == "init":  # a directory init is run in has no config yet
                (where / "cabundle.yaml").unlink()
            if words[0] == "update-dump" or (words[0] == "inspect" and "dump.bin" in words):
                board = words[words.index("--board") + 1].partition("@")[0]
                (where / "dump.bin").write_bytes(dump_for[board])
            to = words.index(">") if ">" in words else None
            with working_dir(where):
                r = runner.invoke(cli, words[:to])
            expected, _ = EXIT_CODES.get(text, (0, ""))
            if r.exit_code != expected:
                failed.append((text, r.exit_code, r.output[-600:]))
            ran.append(text)
    assert not failed, "\n\n".join(f"{t} -> {c}\n{o}" for t, c, o in failed)
    stale = {*NOT_RUN, *NOT_RUN_COMMANDS} - used
    assert not stale, stale  # an example changed: run it, or say why not again
    assert len(ran) >= 40, ran


def _after(examples: list[list[str]], *options: str) -> set[str]:
    """The values given to any of ``options`` across ``examples``."""
    return {ex[i + 1] for ex in examples for i, w in enumerate(ex[:-1]) if w in options}


def test_help_examples_read_chains_where_the_tool_saves_them(runner: CliRunner) -> None:
    """check --help read --chain chains/mdash.pem, which nothing writes: chains pull
    saves mdash.net's chain as chains/mdash.net.pem. Every saved chain an example
    reads is one an example writes (-o) or where chains pull saves a target's."""
    examples = [ex for command in all_commands() for ex in help_examples(runner, command)]
    written = _after(examples, "-o", "--output")
    targets = _after(examples, "--host", "--target") | {"mdash.net"}  # CONFIG's target
    saved = {parse_target(t).chain_path(Path(".")).as_posix() for t in targets}
    read = {w for ex in examples for w in ex if w.startswith("chains/") and w.endswith(".pem")}
    assert "chains/mdash.net.pem" in read
    assert not read - written - saved, read - written - saved


def test_help_says_how_a_users_dump_is_made(runner: CliRunner) -> None:
    """fs's examples open arduino-dump.bin and mos-dump.bin, which no example makes:
    each help naming one says the read command that saves it."""
    seen = 0
    for command in all_commands():
        text = runner.invoke(cli, [*command.split(), "--help"]).stdout
        examples = help_examples(runner, command)
        for dump in {w for ex in examples for w in ex if w.endswith("-dump.bin")}:
            assert f"esp-cabundle read --port PORT --all -o {dump}" in text, (command, dump)
            seen += 1
        images = {w for ex in examples for w in ex if w.startswith("lfs-") and w != "lfs.bin"}
        if command.startswith("fs"):
            for image in images:
                assert f"{image}: made as in pack --help" in text, (command, image)
    assert seen >= 5  # fs, fs ls, fs cat, fs put, fs rm
