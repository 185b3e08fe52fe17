"""A unit whose firmware is not the board's is refused with a line that pushes to that
unit alone, with the board it runs: "run the same command again with --board X for
this unit" was no line to run (the command covers the whole fleet, and its ledger is
bound to the first board, so another --board on it is refused)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fleet import invoke, mdash_unit, mongoose_unit, write_ca
from support.fleet_links import started

from esp_cabundle.push.ledger import Ledger
from esp_cabundle.virtual.rpc_links import LanUnitServer

KEY = "wrong-board-key-3c4d5e"  # the stand_in fixture's mDash API key
SAID = "push this unit with it: esp-cabundle "


@pytest.fixture
def lan() -> Iterator[Any]:
    with started(LanUnitServer) as start:
        yield start


def rows(path: Path) -> dict[str, Any]:
    with Ledger(path) as ledger:
        return {r.id: r for r in ledger.rows()}


def the_line(error: str) -> list[str]:
    """The words after ``esp-cabundle`` of the line a unit's stored error gives (the
    ledger keeps the hint in parentheses: the last one closes them)."""
    assert SAID in error, error
    return shlex.split(error[error.index(SAID) + len(SAID) :].removesuffix(")"))


def test_an_mdash_unit_is_given_a_line_for_it_alone(stand_in: Any, in_tmp: Path) -> None:
    a, b = mdash_unit("dev-a"), mdash_unit("dev-b")
    s = stand_in([a, b])
    write_ca(in_tmp)
    (in_tmp / "units.txt").write_text("dev-a\ndev-b\n")
    code, out = invoke("push", "--mdash", s.url, "--devices", "units.txt", "--board",
                       "mongoose-os-esp32", "--bundle", "ca.pem", "--allow", "unjudged",
                       "--timeout", "2")  # fmt: skip
    assert code == 3 and "0 of 2 units done (2 failed)" in out, out
    assert "run the same command again" not in out
    error = rows(in_tmp / "cabundle-campaign.db")["dev-a"].last_error
    words = the_line(error)
    assert words == ["push", "--mdash", s.url, "--board", "mdash-arduino", "--bundle", "ca.pem",
                     "--allow", "unjudged", "--timeout", "2", "--device", "dev-a",
                     "--ledger", "cabundle-campaign-mdash-arduino.db"]  # fmt: skip
    assert "mdash-arduino is the board that runs mDash 1.2.14" in error
    code, out = invoke(*words)  # it runs: that unit alone, on a ledger of that board
    assert code == 0 and "1 of 1 units done (1 verified)" in out, out
    assert {
        r.id: r.state for r in rows(in_tmp / "cabundle-campaign-mdash-arduino.db").values()
    } == {"dev-a": "verified"}
    assert b.count("FS.Put") == 0


def test_a_lan_unit_is_given_a_line_with_its_url_alone(
    stand_in: Any, lan: Any, tmp_path: Path
) -> None:
    """Reached by --rpc beside --mdash: the line keeps its URL and leaves out every
    other unit and link (the mDash fleet, its key file)."""
    s = stand_in([mdash_unit("dev-m")])
    units = [mongoose_unit("lan-a"), mongoose_unit("lan-b")]
    urls = [lan(u).http_url for u in units]
    ca, ledger, key = write_ca(tmp_path), tmp_path / "lan.db", tmp_path / "key"
    key.write_text(KEY)
    key.chmod(0o600)
    code, out = invoke("push", "--rpc", urls[0], "--mdash", s.url, "--api-key-file", str(key),
                       "--rpc", urls[1], "--board", "mdash-arduino", "--bundle", str(ca),
                       "--ledger", str(ledger), "--allow", "unjudged",
                       "--timeout", "2")  # fmt: skip
    assert code == 3 and "1 of 3 units done (2 failed, 1 verified)" in out, out
    words = the_line(rows(ledger)["lan-b"].last_error)
    own = tmp_path / "lan-mongoose-os-esp32.db"
    assert words == ["push", "--board", "mongoose-os-esp32", "--bundle", str(ca),
                     "--ledger", str(own), "--allow", "unjudged", "--timeout", "2",
                     "--rpc", urls[1]]  # fmt: skip
    code, out = invoke(*words)
    assert code == 0 and "1 of 1 units done (1 verified)" in out, out
    assert list(rows(own)) == ["lan-b"] and units[0].count("FS.Put") == 0


REPO = Path(__file__).resolve().parent.parent


def test_the_line_keeps_the_runs_judging_options(lan: Any, tmp_path: Path) -> None:
    """A --target (and --server, --allow, -c alike) judged the run: the line for the unit
    keeps it, so it is judged again for the other board, and runs as printed."""
    unit = mongoose_unit("lan-t")
    url = lan(unit).http_url
    ca, ledger = write_ca(tmp_path), tmp_path / "lan2.db"
    chain = tmp_path / "chain.pem"
    chain.write_bytes((REPO / "examples/chains/letsencrypt-2024-short.pem").read_bytes())
    code, out = invoke("push", "--board", "mdash-arduino", "--bundle", str(ca), "--ledger",
                       str(ledger), "--timeout", "2", "--target", str(chain),
                       "--rpc", url)  # fmt: skip
    assert code == 3, out
    error = rows(ledger)["lan-t"].last_error
    words = the_line(error)
    assert "--target" in words and words[words.index("--target") + 1] == str(chain), words
    assert "HOST[:PORT]" not in error, error
    code, out = invoke(*words)
    assert code == 0 and "1 of 1 units done (1 verified)" in out, out


def test_a_line_nothing_would_judge_says_what_to_add(lan: Any, tmp_path: Path) -> None:
    """The run was judged by its board's own connection (mDash's to mdash.net), which the
    other board's firmware does not have: the line as printed was refused ("no server
    judged the CA"); it now says to name the server, or --allow unjudged."""
    unit = mongoose_unit("lan-u")
    url = lan(unit).http_url
    ca, ledger = write_ca(tmp_path), tmp_path / "lan2.db"
    code, out = invoke("push", "--board", "mdash-arduino", "--bundle", str(ca), "--ledger",
                       str(ledger), "--timeout", "2", "--rpc", url)  # fmt: skip
    assert code == 3, out
    error = rows(ledger)["lan-u"].last_error
    assert SAID in error, error
    line = error[error.index(SAID) + len(SAID) :]
    printed, _, said = line.partition(" --server HOST[:PORT] (")
    assert said and "nothing else judges the CA for mongoose-os-esp32" in said, error
    assert "--allow unjudged" in said, error
    words = shlex.split(printed)
    code, out = invoke(*words)  # as it was printed before: refused as unjudged
    assert code == 2 and "no server judged the CA" in out, out
    code, out = invoke(*words, "--allow", "unjudged")  # with what the line says to add
    assert code == 0 and "1 of 1 units done (1 verified)" in out, out


def test_a_lan_unit_whose_url_has_a_query_is_given_a_line_to_fill(
    stand_in: Any, lan: Any, tmp_path: Path
) -> None:
    """The ledger keeps a URL's query values masked: the line gave ``--rpc
    'http://.../rpc?session=[redacted]'``, which the next run refused (exit 2). It now
    says ``--rpc URL`` and which URL, its query to be given again; never the value."""
    s = stand_in([mdash_unit("dev-m")])
    unit = mongoose_unit("lan-q")
    url = f"{lan(unit).http_url}?session=abc123"
    ca, ledger, key = write_ca(tmp_path), tmp_path / "lan.db", tmp_path / "key"
    key.write_text(KEY)
    key.chmod(0o600)
    code, out = invoke("push", "--mdash", s.url, "--api-key-file", str(key), "--rpc", url,
                       "--board", "mdash-arduino", "--bundle", str(ca), "--ledger",
                       str(ledger), "--allow", "unjudged", "--timeout", "2")  # fmt: skip
    assert code == 3 and "abc123" not in out, out
    (row,) = (r for r in rows(ledger).values() if r.id != "dev-m")
    error = row.last_error
    assert "abc123" not in error, error
    printed, _, note = error[error.index(SAID) + len(SAID) :].partition(" (URL: ")
    words = shlex.split(printed)
    own = tmp_path / "lan-mongoose-os-esp32.db"
    assert words == ["push", "--board", "mongoose-os-esp32", "--bundle", str(ca),
                     "--ledger", str(own), "--allow", "unjudged", "--timeout", "2",
                     "--rpc", "URL"]  # fmt: skip
    bare = url.replace("abc123", "[redacted]")
    assert note.startswith(f"{bare}, each query value given again as first typed"), error
    words[-1] = url  # filled in as first typed: it runs
    code, out = invoke(*words)
    assert code == 0 and "1 of 1 units done (1 verified)" in out, out


def test_a_unit_whose_ca_is_compiled_in_is_not_sent_to_a_refused_line(
    stand_in: Any, in_tmp: Path
) -> None:
    """An mDash 1.2.16 unit under --board mongoose-os-esp32 was told "push this unit with
    it: esp-cabundle push ... --board mdash", a line push refuses (board mdash keeps its
    CA compiled in). It now says no file can be pushed and to ship firmware."""
    s = stand_in([mdash_unit("dev-n", fw_version="1.2.16-a-10819-ESP32_DEV")])
    write_ca(in_tmp)
    code, out = invoke("push", "--mdash", s.url, "--device", "dev-n", "--board",
                       "mongoose-os-esp32", "--bundle", "ca.pem", "--allow", "unjudged",
                       "--timeout", "2")  # fmt: skip
    assert code == 3 and "0 of 1 units done (1 failed)" in out, out
    error = rows(in_tmp / "cabundle-campaign.db")["dev-n"].last_error
    assert SAID not in error and "--board mdash " not in error, error
    assert "mdash is the board that runs mDash 1.2.16, whose CA is compiled in" in error
    assert "ship new firmware built with 'esp-cabundle build' output" in error, error
