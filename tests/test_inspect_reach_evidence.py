"""What inspect's reach verdict rests on, and what --json calls it. A stray, broken
chains/mdash.net.pem in the working directory made ``inspect dump.bin`` exit 2 (a file
the user never named), and a valid one changed the verdict without naming the file; a
present but empty /ca.pem got no word at all; --json's ``board`` was an object where every
other command gives a name, ``reach.server`` what check --json calls ``hostname``, and
``version`` a version nobody typed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from esp_cabundle.cli import cli
from esp_cabundle.fs import open_image
from tests.support import dumps
from tests.test_inspect_reach import AT, SPIFFS, dst_only

CHAINS = Path(__file__).resolve().parent.parent / "examples" / "chains"
ROADMAP = "mdash.net: judged on the chains the tool ships for it (roadmap letsencrypt"


def _doc(runner: CliRunner, *args: str) -> dict[str, Any]:
    r = runner.invoke(cli, ["inspect", "dump.bin", *AT, *args, "--json"])
    assert r.exit_code == 0, r.output
    doc: dict[str, Any] = json.loads(r.stdout)["reports"][0]
    return doc


def _handshake(doc: dict[str, Any]) -> str:
    (note,) = [n for n in doc["notes"] if "TLS handshake" in n]
    return str(note)


@pytest.fixture
def dst_dump(in_tmp: Path) -> Path:
    (in_tmp / "dump.bin").write_bytes(dst_only(dumps.arduino_dump()))
    return in_tmp / "dump.bin"


@pytest.fixture
def junk_chain(dst_dump: Path) -> Path:
    (dst_dump.parent / "chains").mkdir()
    path = dst_dump.parent / "chains" / "mdash.net.pem"
    path.write_text("junk\n")
    return path


def test_a_broken_saved_chain_does_not_stop_inspect_without_board(
    dst_dump: Path, junk_chain: Path, runner: CliRunner
) -> None:
    """The review's case: exit 2 'chains/mdash.net.pem: no certificate found'. Without
    --board the dump alone is judged: the working directory's chains are not read."""
    before = (dst_dump.read_bytes(), junk_chain.read_bytes())
    r = runner.invoke(cli, ["inspect", "dump.bin", "--at", "2025-01-01"])
    assert r.exit_code == 0, r.output
    assert "mdash.net.pem" not in r.output and "TLS handshake to mdash.net" in r.output
    doc = _doc(runner)
    assert doc["reach"]["failing_since"]["date"] == "2024-06-06", doc["reach"]
    assert doc["reach"]["chain_file"] is None
    assert (dst_dump.read_bytes(), junk_chain.read_bytes()) == before


def test_a_broken_saved_chain_is_a_note_for_a_named_board(
    dst_dump: Path, junk_chain: Path, runner: CliRunner
) -> None:
    """Named, the board's saved chain is judged as update-dump --board judges it; one that
    cannot be read is said (which file, why), and the verdict rests on the roadmap."""
    before = (dst_dump.read_bytes(), junk_chain.read_bytes())
    doc = _doc(runner, "--board", "mdash-arduino")
    (said,) = [n for n in doc["notes"] if "chains/mdash.net.pem" in n]
    assert said.startswith(ROADMAP), said
    assert (
        " alone: the saved chains/mdash.net.pem cannot be read (no certificate found"
    ) in said, said
    assert said.endswith(
        "save what it sends today with: esp-cabundle chains show --host mdash.net -o "
        "chains/mdash.net.pem"
    ), said
    assert "saved in" not in _handshake(doc)
    assert doc["reach"]["failing_since"]["date"] == "2024-06-06"
    assert doc["reach"]["chain_file"] is None
    text = runner.invoke(cli, ["inspect", "dump.bin", "--board", "mdash-arduino", *AT])
    assert text.exit_code == 0 and "cannot be read" in text.output, text.output
    assert (dst_dump.read_bytes(), junk_chain.read_bytes()) == before


def test_a_verdict_resting_on_a_saved_chain_names_it(dst_dump: Path, runner: CliRunner) -> None:
    """Let's Encrypt's 2024 short chain, saved: it fails from its own first day, before
    the roadmap's date; the note says the chain is the saved one, and which file."""
    (dst_dump.parent / "chains").mkdir()
    shutil.copy(CHAINS / "letsencrypt-2024-short.pem", "chains/mdash.net.pem")
    doc = _doc(runner, "--board", "mdash-arduino")
    assert (
        "its /ca.pem does not verify the chain mdash.net sent, as saved in "
        "chains/mdash.net.pem (-0x2700)"
    ) in _handshake(doc), _handshake(doc)
    assert doc["reach"]["chain_file"] == "chains/mdash.net.pem", doc["reach"]
    assert doc["reach"]["failing_since"]["date"] == "2024-03-13"
    (said,) = [n for n in doc["notes"] if n.startswith("mdash.net: judged on")]
    assert said.startswith("mdash.net: judged on the saved chains/mdash.net.pem and on "), said
    inferred = _doc(runner)  # without --board: the dump alone, the saved chain unread
    assert inferred["reach"]["failing_since"]["date"] == "2024-06-06", inferred["reach"]
    assert inferred["reach"]["chain_file"] is None
    assert not [n for n in inferred["notes"] if "chains/mdash.net.pem" in n]


def test_json_names_the_server_hostname_as_check_does(dst_dump: Path, runner: CliRunner) -> None:
    """check --json's key for the name a server is reached by is "hostname"."""
    reach = _doc(runner, "--board", "mdash-arduino@1.2.13")["reach"]
    assert reach["hostname"] == "mdash.net" and "server" not in reach, reach


def _with_ca(flash: bytes, data: bytes) -> bytes:
    start, end = SPIFFS
    image = open_image(flash[start:end])
    image.write("/ca.pem", data)
    return flash[:start] + bytes(image.to_bytes()) + flash[end:]


@pytest.mark.parametrize("data", [b"", b"junk junk\n"], ids=["empty", "no-certificate"])
def test_a_ca_file_holding_no_certificate_is_said(
    in_tmp: Path, runner: CliRunner, data: bytes
) -> None:
    """It was said by nothing: no 'holds no /ca.pem' (the file is there), no verdict."""
    (in_tmp / "dump.bin").write_bytes(_with_ca(dumps.arduino_dump(), data))
    doc = _doc(runner, "--board", "mdash-arduino")
    (note,) = [n for n in doc["notes"] if "holds no certificate" in n]
    assert note == (
        "its spiffs partition's /ca.pem, which board mdash-arduino reads, holds no "
        "certificate (the partition's note says why): nothing in it verifies the chain "
        "mdash.net sends, so its TLS handshakes are not judged; fix: esp-cabundle "
        "update-dump dump.bin --board mdash-arduino --preset mdash -o new.bin"
    ), note
    assert doc["reach"] is None
    assert not [n for n in doc["notes"] if "holds no /ca.pem" in n], doc["notes"]
    assert not [n for n in doc["notes"] if "judged on" in n], doc["notes"]  # nothing was
    inferred = _doc(runner)
    (note,) = [n for n in inferred["notes"] if "holds no certificate" in n]
    assert "which mdash 1.2.12-1.2.14 (board mdash-arduino) reads" in note, note
    assert "; for mdash 1.2.12-1.2.14, fix: esp-cabundle update-dump" in note, note
    assert inferred["reach"] is None


def test_help_says_when_reach_is_null(runner: CliRunner) -> None:
    text = " ".join(runner.invoke(cli, ["inspect", "--help"]).stdout.split())
    assert '"board_version" (as typed, else null)' in text, text
    assert "null when no verdict is given (--board mdash: no file read;" in text, text
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())
    assert '`"reach"` is null when no verdict is given: `--board mdash`' in readme


def test_the_write_gate_still_refuses_a_broken_saved_chain(
    dst_dump: Path, junk_chain: Path, runner: CliRunner
) -> None:
    """Only inspect makes it a note: update-dump --board judges the CA it writes on that
    file, so a broken one is refused there, nothing written."""
    args = ["update-dump", "dump.bin", "--board", "mdash-arduino", "--preset", "mdash"]
    r = runner.invoke(cli, [*args, "-o", "new.bin", *AT])
    assert r.exit_code == 2 and "chains/mdash.net.pem: no certificate found" in r.stderr, r.output
    assert not (dst_dump.parent / "new.bin").exists()
