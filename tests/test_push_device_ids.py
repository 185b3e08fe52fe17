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
