"""A board whose firmware verifies its server with something other than the CA file
(mDash 1.2.16: its built-in ISRG Root X1 for mdash.net) never has that server judged by
a write: ``push`` offline is not refused for want of mdash.net's chain, and every write
says why mdash.net was left out (esp_cabundle.own_servers.unread_servers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.fleet import invoke, mdash_unit, write_ca

from esp_cabundle.boards import load_board
from esp_cabundle.gate import board_links
from esp_cabundle.own_servers import unread_servers
from esp_cabundle.targets import Target

KEY = "unread-key-5e6f7a8b9c"
BOARDS = Path(__file__).parent.parent / "esp_cabundle" / "data" / "boards"
NOT_JUDGED = (
    "note: mdash.net not judged: mDash 1.2.16 verifies it with its built-in ISRG Root X1, "
    "not with the file written"
)


def mdash_1_2_16_board(tmp: Path) -> Path:
    """mdash-arduino's file system, run by mDash 1.2.15-1.2.16 (a user's board file)."""
    text = (BOARDS / "mdash-arduino.yaml").read_text()
    text = text.replace("name: mdash-arduino", "name: mdash-new")
    text = text.replace("versions: 1.2.12..1.2.14", "versions: 1.2.15..1.2.16")
    path = tmp / "mdash-new.yaml"
    path.write_text(text.replace("default: 1.2.13", "default: 1.2.16"))
    return path


@pytest.mark.parametrize("option", ["--server", "--target"])
def test_push_offline_does_not_judge_a_server_the_firmware_checks_without_the_file(
    stand_in: Any, in_tmp: Path, option: str
) -> None:
    """Named by --server or by --target alike: the server was asked for, so the CA is
    not refused as unjudged (--target mdash.net was, wanting --allow unjudged)."""
    board = mdash_1_2_16_board(in_tmp)
    write_ca(in_tmp)
    s = stand_in([mdash_unit("dev1", fw_version="1.2.16-a-10819-ESP32_DEV")])
    assert s.url.startswith("http://")  # no https:// mDash host: only the option names one
    # No chains/mdash.net.pem and no network: judged, mdash.net would be captured live.
    code, out = invoke("push", "--mdash", s.url, option, "mdash.net", "--board", str(board),
                       "--bundle", "ca.pem", "--ledger", "c.db", "--timeout", "2")  # fmt: skip
    assert code == 0, out
    assert "cannot resolve" not in out and NOT_JUDGED in out
    # The summary itself says why nothing was judged ("no targets to judge" read as if
    # none were given).
    assert "CA: 4 roots; mdash.net not judged (the firmware does not read this file for it)" in out


def test_pack_leaves_out_the_server_and_keeps_the_others(in_tmp: Path) -> None:
    board = mdash_1_2_16_board(in_tmp)
    write_ca(in_tmp)
    code, out = invoke("pack", "--board", str(board), "--bundle", "ca.pem", "-o", "fs.bin",
                       "--target", "mdash.net", "--target", "example.invalid")  # fmt: skip
    # example.invalid is still judged (and cannot be captured); mdash.net is not
    assert code == 3 and "'example.invalid' has no saved chain" in out, out
    assert "'mdash.net'" not in out
    code, out = invoke("pack", "--board", str(board), "--bundle", "ca.pem", "-o", "fs.bin",
                       "--target", "mdash.net")  # fmt: skip
    assert code == 0 and NOT_JUDGED in out, out
    assert "mdash.net not judged (the firmware does not read this file for it)" in out
    assert "no targets to judge" not in out
    assert (in_tmp / "fs.bin").exists()


def test_a_server_named_in_the_config_is_judged_as_asked(in_tmp: Path) -> None:
    links = board_links(load_board(str(mdash_1_2_16_board(in_tmp))))
    assert [(c.name, what) for c, what in links.unread] == [
        ("mdash.net", "its built-in ISRG Root X1")
    ]
    net, other = Target("mdash.net", "mdash.net", 443), Target("x.example", "x.example", 443)
    kept, notes = unread_servers([net, other], links.unread, links.who)
    assert kept == [other] and len(notes) == 1 and notes[0].startswith("mdash.net not judged")
    kept, notes = unread_servers([net, other], links.unread, links.who, listed={"mdash.net"})
    assert kept == [net, other] and notes == ()
    # another port, or a saved chain file of its own, is not the firmware's connection
    odd = Target("mdash.net:8443", "mdash.net", 8443)
    assert unread_servers([odd], links.unread, links.who)[0] == [odd]
    # mDash 1.2.13 reads the file: nothing is left out
    assert board_links(load_board("mdash-arduino@1.2.13")).unread == ()
