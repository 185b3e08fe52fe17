"""Every id a --devices file lists and push refuses is named with its file:line: one
MQTT's topics cannot hold (a ``+``) was said without a place, where one with a space
was ("odd.txt:5: ..."). An id given twice (a file pasted into itself, --device repeated,
or an id in both) is taken once, as it was, but said once on stderr with where it was
given: it was merged without a word, so an id typed for another unit went unseen."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from support.fleet import invoke, write_ca

from esp_cabundle.cli import cli
from esp_cabundle.commands._device_ids import duplicates_note

BROKER = "mqtt://127.0.0.1:9"  # refused before any connection: nothing listens
PUSH = ("push", "--mqtt", BROKER, "--board", "mongoose-os-esp32", "--bundle", "ca.pem")


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("wild+", "'wild+' is not a device id usable in an MQTT topic"),
        ("$SYS", "'$SYS' is not a device id usable in an MQTT topic"),
        ("odd one", "'odd one' is not a device id"),
    ],
)
def test_a_refused_id_from_a_file_names_its_line(in_tmp: Path, bad: str, words: str) -> None:
    write_ca(in_tmp)
    (in_tmp / "odd.txt").write_text(f"# units\ndev-1\n\ndev-2\n{bad}\ndev-3\n")
    before = sorted(p.name for p in in_tmp.iterdir())
    code, out = invoke(*PUSH, "--allow", "unjudged", "--devices", "odd.txt")
    assert code == 2 and f"odd.txt:5: {words}" in out, out
    assert "cannot reach" not in out, out  # refused before the broker was tried
    assert sorted(p.name for p in in_tmp.iterdir()) == before  # no ledger made


def test_a_refused_device_option_names_the_option(in_tmp: Path) -> None:
    write_ca(in_tmp)
    code, out = invoke(*PUSH, "--allow", "unjudged", "--device", "wild+")
    assert code == 2 and "--device: 'wild+' is not a device id usable in an MQTT topic" in out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


@pytest.mark.parametrize("source", ["file", "/dev/zero"])
def test_a_devices_file_over_its_cap_is_refused_unread(in_tmp: Path, source: str) -> None:
    """A --devices file is read up to its 4 MiB cap, not whole (it was read up to the
    256 MiB of any file, then refused as one id too long): a fleet's ids fit far below."""
    from esp_cabundle.limits import MAX_DEVICES_INPUT, human_size

    write_ca(in_tmp)
    if source == "file":
        (in_tmp / "huge.txt").write_bytes(b"a" * (MAX_DEVICES_INPUT + 1) + b"\n")
        source = "huge.txt"
    before = {p.name: p.stat().st_mtime_ns for p in in_tmp.iterdir()}
    code, out = invoke(*PUSH, "--allow", "unjudged", "--devices", source)
    assert code == 2, out
    cap = human_size(MAX_DEVICES_INPUT)
    assert f"over the {cap} limit for devices files" in out, out
    assert "is not a device id" not in out and "cannot reach" not in out, out
    assert {p.name: p.stat().st_mtime_ns for p in in_tmp.iterdir()} == before  # no ledger


_RUN = ("push", "--mqtt", "mqtt://127.0.0.1:9", "--board", "mdash-arduino", "--bundle",
        "ca.pem", "--timeout", "1")  # fmt: skip


def test_duplicates_are_said_once_with_their_lines_and_nothing_else_changes(
    in_tmp: Path,
) -> None:
    write_ca(in_tmp)
    (in_tmp / "units.txt").write_text("# fleet\nesp32-01\nesp32-02\nesp32-03\nesp32-01\n")
    (in_tmp / "once.txt").write_text("# fleet\nesp32-01\nesp32-02\nesp32-03\n")
    runner = CliRunner()
    dup = runner.invoke(cli, [*_RUN, "--devices", "units.txt", "--device", "esp32-02",
                              "--device", "esp32-02"])  # fmt: skip
    plain = runner.invoke(cli, [*_RUN, "--devices", "once.txt"])
    said = [line for line in dup.stderr.splitlines() if "more than once" in line]
    assert said == [
        "note: 2 unit ids given more than once, each taken once: esp32-02 (--device 2 "
        "times, units.txt:3); esp32-01 (units.txt:2, units.txt:5)"
    ], dup.stderr
    assert "more than once" not in dup.stdout and "more than once" not in plain.output
    # the rest as without the duplicates: the same exit and the same words
    assert dup.exit_code == plain.exit_code != 0, (dup.output, plain.output)
    rest = [line for line in dup.stderr.splitlines() if line not in said]
    assert rest == plain.stderr.splitlines() and dup.stdout == plain.stdout


def test_only_the_first_duplicates_are_named() -> None:
    ids = [(f"u{i}", f"f:{i}") for i in range(30)] * 2
    text = duplicates_note(ids, shown=3)
    assert text is not None and text.endswith("u2 (f:2, f:2), and 27 more"), text
    assert text.startswith("note: 30 unit ids given more than once")
    assert duplicates_note([("a", "--device"), ("b", "--device")]) is None


def test_an_id_on_many_lines_names_its_first_lines_and_a_count() -> None:
    """A file listing one id on every line: the note named each line (a 4 MiB file,
    2 million of them, in one line on stderr); now the first five and how many more."""
    ids = [("esp32-01", f"units.txt:{n}") for n in range(1, 100_001)] + [("esp32-01", "--device")]
    text = duplicates_note(ids)
    assert text == (
        "note: 1 unit id given more than once, each taken once: esp32-01 (--device, "
        "units.txt:1, units.txt:2, units.txt:3, units.txt:4, units.txt:5, and 99,995 more "
        "lines)"
    ), text
