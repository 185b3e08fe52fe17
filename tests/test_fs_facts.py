"""What ``fs ls`` and ``inspect`` say about a file-system image reads the same for both
commands and both file systems (tester's report: "262,144 bytes" against "262144 bytes",
SPIFFS's "blocks" against LittleFS's "block count"), and their --json facts carry
numbers as numbers, under one set of keys: SPIFFS's "blocks" is "block count" too (team's
output notes, item 4)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli

DATA = Path(__file__).parent / "data"
IMAGES = {
    "spiffs": DATA / "spiffs" / "mongoose-256k.bin",
    "littlefs": DATA / "littlefs" / "mongoose-lfs20-256k.bin",
}
# The keys each file system's facts have, and which hold numbers.
NUMBERS = {
    "spiffs": {"page size", "block size", "block count", "files", "total bytes", "used bytes"},
    "littlefs": {"block size", "block count", "blocks used", "name max"},
}


def run(*args: str) -> str:
    r = CliRunner().invoke(cli, list(args))
    assert r.exit_code == 0, r.output
    return r.stdout


@pytest.mark.parametrize("fs", sorted(IMAGES))
def test_ls_and_inspect_word_sizes_and_counts_alike(fs: str) -> None:
    image = str(IMAGES[fs])
    ls, inspect = run("fs", "ls", image), run("inspect", image)
    assert "262,144 bytes" in ls and "image size: 262,144 bytes" in inspect
    for text in (ls, inspect):
        assert "block size: 4,096 bytes" in text and "block count: 64" in text
        assert not re.search(r"^\s*blocks: ", text, re.M)  # SPIFFS's key, not its wording
        assert re.search(r"^  files: \d+$", text, re.M)  # both file systems count them
        assert not re.search(r"\d{4} bytes", text)  # no size without its thousands comma
    assert re.search(r"^  /big\.dat +30,000$", ls, re.M)
    assert "file /big.dat: 30,000 bytes" in inspect
    # The lines both commands print about the image itself are the same lines.
    facts = [line for line in ls.splitlines()[1:] if re.match(r"  [a-z ]+: ", line)]
    assert facts and all(line in inspect.splitlines() for line in facts)


@pytest.mark.parametrize("fs", sorted(IMAGES))
def test_json_facts_are_numbers_under_one_set_of_keys(fs: str) -> None:
    image = str(IMAGES[fs])
    facts = json.loads(run("fs", "ls", image, "--json"))["facts"]
    assert NUMBERS[fs] <= set(facts)
    for key in NUMBERS[fs] | {"files"}:
        assert type(facts[key]) is int, (key, facts[key])
    assert facts["block size"] == 4096 and facts["block count"] == 64
    assert "blocks" not in facts  # SPIFFS's old key, not a second name for the same count
    assert facts["file system"] == fs and isinstance(facts["profile"], str)
    # inspect --json reports the same facts, and the sizes it adds, as numbers too.
    (report,) = json.loads(run("inspect", image, "--json"))["reports"]
    assert {k: report["facts"][k] for k in facts} == facts
    assert report["facts"]["image size"] == 262144
    assert report["facts"]["file /big.dat"] == 30000


def test_a_littlefs_image_is_walked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """``fs ls`` and ``inspect`` listed the files, then describe() walked the image
    again to count them; the count is still the listing's length."""
    from esp_cabundle.fs import littlefs

    walks: list[int] = []
    real_walk = littlefs.walk

    def counting_walk(*args: Any, **kwargs: Any) -> Any:
        walks.append(1)
        return real_walk(*args, **kwargs)

    monkeypatch.setattr(littlefs, "walk", counting_walk)
    image = str(IMAGES["littlefs"])
    for argv in (["fs", "ls", image, "--json"], ["inspect", image]):
        walks.clear()
        run(*argv)
        assert len(walks) == 1, argv
    doc = json.loads(run("fs", "ls", image, "--json"))
    assert doc["facts"]["files"] == len(doc["files"]) > 0


def test_a_one_byte_size_is_said_in_the_singular() -> None:
    """``file /x: 1 byte``, not ``1 bytes``; other sizes keep the plural."""
    from esp_cabundle.text import fact_line

    assert fact_line("file /x", 1) == "file /x: 1 byte"
    assert fact_line("file /x", 0) == "file /x: 0 bytes"
    assert fact_line("file /x", 2048) == "file /x: 2,048 bytes"
    assert fact_line("block count", 1) == "block count: 1"
