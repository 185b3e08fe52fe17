"""The command table and the reading of a command line as typed, before click parses
it: where its command is, which ``--`` ends its options, whether ``--json`` was given.
Kept apart from cli.py (which re-exports :data:`COMMANDS`) and light: it runs on every
start-up, so it imports nothing a usual line does not need."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

__all__ = [
    "COMMANDS",
    "before_end",
    "command_at",
    "options_in_a_row",
    "options_may_repeat",
    "wants_json",
    "without_group_ends",
]

# name -> ("module:attribute", one-line help shown by --help without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "build": (
        "esp_cabundle.commands.build:build",
        "Build ca.pem, C source and other outputs from named roots.",
    ),
    "inspect": (
        "esp_cabundle.commands.inspect:inspect",
        "Show the certificates in files, images, dumps or units.",
    ),
    "roots": ("esp_cabundle.commands.roots:roots", "List or search the root catalog and presets."),
    "check": (
        "esp_cabundle.commands.check:check",
        "Will devices accept their servers' chains, now and until when? (forecast)",
    ),
    "chains": (
        "esp_cabundle.commands.chains:chains",
        "Capture servers' chains as sent and save them for offline checks.",
    ),
    "boards": (
        "esp_cabundle.commands.boards:boards",
        "List board profiles, or show where one keeps its CA and how it verifies.",
    ),
    "update-dump": (
        "esp_cabundle.commands.update_dump:update_dump",
        "Replace the CA file in a whole-flash dump, offline (only its FS partitions change).",
    ),
    "pack": (
        "esp_cabundle.commands.pack:pack",
        "Make a LittleFS or SPIFFS image holding the bundle (and a directory's files).",
    ),
    "fs": (
        "esp_cabundle.commands.fs:fs",
        "List, read, put and remove files in an image or a dump's partition, offline.",
    ),
    "read": (
        "esp_cabundle.commands.read:read",
        "Save a unit's partition or whole flash to a file (a backup, or a dump).",
    ),
    "flash": (
        "esp_cabundle.commands.flash:flash",
        "Replace the CA file on units in place (only changed sectors; resumable; many ports).",
    ),
    "push": (
        "esp_cabundle.commands.push:push",
        "Put the CA file on units in the field (mDash, MQTT, HTTP) as a resumable campaign.",
    ),
    "restore": (
        "esp_cabundle.commands.restore:restore",
        "Put back what 'flash' replaced on a unit, from the local journal.",
    ),
    "virtual-unit": (
        "esp_cabundle.commands.virtual_unit:virtual_unit",
        "Start a virtual ESP32 (a board's layout, or a dump) to rehearse flash and restore on.",
    ),
    "journal": (
        "esp_cabundle.commands.journal:journal",
        "List or prune the local journal of updates (it holds sectors of units' files).",
    ),
    "init": (
        "esp_cabundle.commands.init:init",
        "Write a commented cabundle.yaml: board, servers, service life, preset.",
    ),
}


def command_at(words: Sequence[str]) -> int | None:
    """Where the command is typed: the first word naming one (--debug may come first)."""
    return next((i for i, a in enumerate(words) if a in COMMANDS), None)


def before_end(words: Sequence[str]) -> Sequence[str]:
    """The words before the ``--`` that ends the command's options (after it every word
    is an argument), as commands._usage.options_end reads a line; ``words`` is the line
    without a ``--`` that ends only the tool's or a group's (:func:`without_group_ends`)."""
    return words[: words.index("--")] if "--" in words else words


def without_group_ends(argv: Sequence[str]) -> tuple[str, ...]:
    """``argv`` without a ``--`` that ends only the tool's own options (``esp-cabundle --
    build --json``: --json is build's; ``-- buidl --json`` too, the command mistyped) or
    a group's (``push -- status --json``: status's), as click reads them: typed before
    the command's or the subcommand's name. The tool's options take no value, so a ``--``
    before its first word that is no option is the tool's. cli.py reads a line so once."""
    words = list(argv)
    first = next((i for i, a in enumerate(words) if not a.startswith("-") or a == "-"), None)
    if "--" in words[:first]:
        del words[words.index("--")]
    at = command_at(words)
    if at is not None and "--" in words[at + 1 :]:
        # deferred: only a line with a -- after its command reads the table
        from .commands._option_table import group_end

        end = group_end(words[at], words[at + 1 :])
        if end is not None:
            del words[at + 1 + end]
    return tuple(words)


def options_in_a_row(words: Sequence[str]) -> bool:
    """An option word followed by a long option (``--preset --json``) or by a ``--``
    (``--from-dir -- -o x``): the only lines where an option can have taken another, or
    the end of options, for its value. ``words``: as :func:`before_end` takes them."""
    return any(
        a.startswith("-") and "=" not in a and b.startswith("--")
        for a, b in itertools.pairwise(before_end(words))
    ) or any(a.startswith("-") and "=" not in a and b == "--" for a, b in itertools.pairwise(words))


def options_may_repeat(words: Sequence[str]) -> bool:
    """An option word typed twice, or a cluster of short ones (``-qo``): the only lines
    where an option taking one value can have been given two. ``words``: as
    :func:`before_end` takes them."""
    opts = [w.partition("=")[0] for w in before_end(words) if w.startswith("-") and w != "-"]
    return len(set(opts)) < len(opts) or any(not o.startswith("--") and len(o) > 2 for o in opts)


def wants_json(cmd: click.Command, words: Sequence[str], *, anywhere: bool = False) -> bool:
    """``--json`` typed for ``cmd`` (before any ``--``, unless ``anywhere``), which has
    that flag. ``words``: as :func:`before_end` takes them."""
    return "--json" in (words if anywhere else before_end(words)) and any(
        "--json" in p.opts for p in cmd.params
    )
