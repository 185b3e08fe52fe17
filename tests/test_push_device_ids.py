"""Every id a --devices file lists and push refuses is named with its file:line: one
MQTT's topics cannot hold (a ``+``) was said without a place, where one with a space
was ("odd.txt:5: ...")."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.fleet import invoke, write_ca

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
