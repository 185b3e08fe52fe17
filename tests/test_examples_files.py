"""examples/: each project ships its ``cabundle.lock`` (README: commit it), current, so
``build --locked`` passes on a fresh checkout and a build leaves it byte for byte; and
each ``.gitignore`` covers every file its documented commands write (the CA files,
images, a unit's dump), so building an example leaves ``git status`` clean."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest
from support.doc_commands import (
    EXAMPLES,
    REPO,
    Command,
    command,
    markdown_commands,
    run_all,
    run_command,
    workflow_commands,
)

from tests.test_examples import EXAMPLE_DIRS, cmake_commands, makefile_commands


def _hook_commands(d: Path) -> list[Command]:
    tree = ast.parse((d / "cabundle_pre.py").read_text())
    (listed,) = [
        ast.literal_eval(n.value)
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "COMMANDS"
    ]
    return [command(" ".join(["esp-cabundle", *a]), "cabundle_pre.py") for a in listed]


def _build_commands(name: str, d: Path) -> list[Command]:
    """Every esp-cabundle line the example has: its build hook, then its README's."""
    own = {
        "make": lambda: makefile_commands(d / "Makefile", ("cabundle", "cabundle-check")),
        "esp-idf": lambda: cmake_commands(d / "cabundle.cmake", d / "cabundle.yaml"),
        "platformio": lambda: _hook_commands(d),
        "ci": lambda: workflow_commands(d / "cabundle.yml"),
    }.get(name, list)()
    return [*own, *markdown_commands(d / "README.md")]


def _files(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in d.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", EXAMPLE_DIRS)
def test_each_example_ships_a_current_lock(scratch: Path, name: str) -> None:
    d = scratch / name
    shipped = (EXAMPLES / name / "cabundle.lock").read_bytes()  # README: commit it
    out = run_command(command("esp-cabundle build -c cabundle.yaml --locked", "t"), d)
    assert out.code == 0, out.describe(command("--locked", "t"))
    out = run_command(command("esp-cabundle build -c cabundle.yaml", "t"), d)
    assert out.code == 0, out.stderr
    assert (d / "cabundle.lock").read_bytes() == shipped  # reproducible: the tool's own bytes
    assert "cabundle.lock" in out.stdout and "unchanged:" in out.stdout  # left untouched


@pytest.mark.parametrize("name", EXAMPLE_DIRS)
def test_building_an_example_leaves_only_ignored_files(scratch: Path, name: str) -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: git check-ignore cannot read the .gitignore files")
    d = scratch / name
    if name == "mongoose-os":  # the README updates a unit's dump, read first from the unit
        from support.dumps import mongoose_dump

        (d / "dump.bin").write_bytes(mongoose_dump())
    before = _files(d)
    run_all(_build_commands(name, d), d)
    after = _files(d)
    made = sorted(f for f in after if f not in before or after[f] != before[f])
    assert made, "the example's commands wrote nothing: did they change shape?"
    assert "cabundle.lock" not in made  # the committed lock is current
    paths = [f"examples/{name}/{f}" for f in made]
    p = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"], cwd=REPO, input="\n".join(paths),
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert p.returncode in (0, 1), p.stderr
    left = [f for f in paths if f not in p.stdout.splitlines()]
    assert left == [], f"written by building the example, and not in its .gitignore: {left}"
