"""An unknown option's error names the commands that have it from a table written out
(commands/_option_table.py), not by importing every command module (a second on a cold
start, for a typo). The table is held to the commands here: a command given, renamed or
dropped an option fails this test, which prints the table afresh."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from esp_cabundle.cli import COMMANDS, cli
from esp_cabundle.commands._option_table import OPTIONS, group_end
from esp_cabundle.commands._usage import cluster, option_spellings


def _walk(path: str, cmd: click.Command) -> Iterator[tuple[str, click.Command]]:
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            yield from _walk(f"{path} {name}", sub)


def _spelled(cmd: click.Command) -> str:
    """``cmd``'s options --help shows, as the table writes them."""
    shown = {o: p for o, p in option_spellings(cmd).items() if not p.hidden}
    return " ".join(o + ("" if p.is_flag or p.count else "=") for o, p in shown.items())


def _table() -> dict[str, str]:
    ctx = click.Context(cli)
    found = [w for n in sorted(COMMANDS) if (c := cli.get_command(ctx, n)) for w in _walk(n, c)]
    return {path: _spelled(cmd) for path, cmd in found}


def _written(table: dict[str, str]) -> str:
    """The table as the module writes it, for pasting in."""
    rows = []
    for path, spelled in table.items():
        parts = textwrap.wrap(spelled, 76, break_on_hyphens=False)
        lines = [f'"{p} "' for p in parts[:-1]] + [f'"{parts[-1]}"']
        rows.append(f'    "{path}": ' + ("\n        ".join(lines) if len(lines) > 1 else lines[0]))
    return "OPTIONS: dict[str, str] = {\n" + ",\n".join(rows) + ",\n}"


def test_the_option_table_is_every_commands_options() -> None:
    table = _table()
    assert table == OPTIONS, f"commands/_option_table.py is stale; write:\n{_written(table)}"


@pytest.mark.parametrize(
    "argv",
    [["build", "--bogus"], ["--bogus"], ["--sise", "4K"], ["fs", "ls", "--bogus", "x.bin"]],
)
def test_an_unknown_option_imports_no_other_command(tmp_path: Path, argv: list[str]) -> None:
    """Only the command typed is imported (a fresh interpreter: this one has them all)."""
    modules = {n: t.partition(":")[0] for n, (t, _) in COMMANDS.items()}
    code = (
        "import sys\nfrom esp_cabundle.cli import run\n"
        f"assert run({argv!r}) == 2\n"
        f"print(sorted(n for n, m in {modules!r}.items() if m in sys.modules))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == repr([w for w in argv if w in COMMANDS]), (r.stdout, r.stderr)


@pytest.mark.parametrize("word", ["-zc", "-qc", "-qcx", "-c", "-z", "-qz", "-cq", "-q"])
def test_a_groups_end_reads_a_cluster_as_its_options_are_read(word: str) -> None:
    """Whether a cluster before ``push``'s ``--`` takes the next word is read by the rule
    commands/_usage.py's cluster reads click's options by: ``-zc`` (no -z) took ``x`` as
    -c's value, where that rule stops at -z, so the two readings of one line differed."""
    push = cli.get_command(click.Context(cli), "push")
    assert push is not None
    read = cluster(word, option_spellings(push))
    takes_next = read is not None and read[1] is not None and not read[2]
    assert group_end("push", [word, "x", "--", "status"]) == (2 if takes_next else None)
