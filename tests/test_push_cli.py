"""``push`` refusals (each a clear error that changes nothing), the gate on the
connection the units travel on, ``push status``, and the RPC layer's bounds."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import ca_bytes, mdash_unit, write_ca
from support.fleet_links import MdashStandIn

from esp_cabundle.cli import cli, run
from esp_cabundle.errors import UnitRpcError
from esp_cabundle.push.files import UnitFiles
from esp_cabundle.push.mqtt import parse_mqtt_url
from esp_cabundle.push.rpc import MAX_ANSWER_BYTES, parse_answer

REPO = Path(__file__).resolve().parent.parent
KEY = "k3y-for-cli-tests"
CHAIN = REPO / "examples/chains/letsencrypt-2024-short.pem"


@pytest.fixture
def mdash(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MdashStandIn, list[Any]]]:
    units = [mdash_unit("dev1"), mdash_unit("dev2", silent=True)]
    s = MdashStandIn(units, KEY)
    monkeypatch.setenv("MDASH_API_KEY", KEY)
    yield s, units
    s.close()


def invoke(*argv: str, env: Mapping[str, str | None] | None = None) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(argv), env=env)
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        ([], "say how to reach the units"),
        (["--mdash", "URL"], "--board is required"),
        (["--mdash", "URL", "--board", "mdash"], "not in a file"),
        (["--mdash", "ftp://x", "--board", "mdash-arduino"], "takes an http(s):// URL"),
        (["--mqtt", "http://x", "--board", "mdash-arduino", "--device", "a"], "--mqtt takes"),
        (["--mqtt", "mqtt://x:99999", "--board", "mdash-arduino", "--device", "a"], "port"),
        (["--mqtt", "mqtt://u:pw@x", "--board", "mdash-arduino", "--device", "a"], "process list"),
        (["--mqtt", "mqtt://127.0.0.1:9", "--board", "mdash-arduino"], "--device ID"),
        (["--mqtt", "mqtt://x", "--board", "mdash-arduino", "--device", "a+b"], "MQTT topic"),
        (["--rpc", "ftp://x/rpc", "--board", "mongoose-os-esp32"], "is not an http://"),
        (["--rpc", "http://u:p@x/rpc", "--board", "mongoose-os-esp32"], "credentials"),
        (["--rpc", "http://x/rpc", "--device", "a", "--board", "mongoose-os-esp32"], "name units"),
        (["--mdash", "URL", "--board", "mdash-arduino", "--devices", "nope.txt"], "no such"),
        # an empty --devices file is named, not taken for "no --devices given"
        (
            ["--mqtt", "mqtt://127.0.0.1:9", "--board", "mdash-arduino", "--devices", "empty"],
            "empty lists no unit ids (it is empty)",
        ),
        (
            ["--mdash", "URL", "--board", "mdash-arduino", "--devices", "empty", "--device", "a"],
            "empty lists no unit ids",
        ),
        (["--mdash", "URL", "--board", "mdash-arduino", "--api-key-file", "empty"], "empty"),
        (["--mdash", "URL", "--board", "no-such-board"], "board"),
        (["--mdash", "URL", "--board", "mdash-arduino", "--until", "soon"], "--until"),
        # a mode's option without the mode: one pass (exit 3) was not what was asked
        (
            ["--mdash", "URL", "--board", "mdash-arduino", "--poll", "300"],
            "--poll only applies with --watch",
        ),
        (
            ["--mdash", "URL", "--board", "mdash-arduino", "--reconnect-timeout", "300"],
            "--reconnect-timeout only applies with --reboot",
        ),
    ],
)
def test_bad_input_is_exit_2_and_changes_nothing(
    mdash: Any, in_tmp: Path, args: list[str], message: str
) -> None:
    s, units = mdash
    write_ca(in_tmp)
    (in_tmp / "empty").write_text("\n")
    argv = [a.replace("URL", s.url) for a in args]
    code, out = invoke("push", *argv, "--bundle", "ca.pem")
    assert code == 2 and message in out, out
    assert "Traceback" not in out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem", "empty"]
    assert all(u.calls == [] for u in units)


def test_a_devices_file_of_comments_only_is_refused_before_the_ca_is_judged(
    in_tmp: Path,
) -> None:
    write_ca(in_tmp)
    (in_tmp / "units.txt").write_text("# units of batch 7\n\n   \n")
    code, out = invoke("push", "--mqtt", "mqtt://127.0.0.1:9", "--devices", "units.txt",
                       "--board", "mdash-arduino", "--bundle", "ca.pem")  # fmt: skip
    assert code == 2 and "units.txt lists no unit ids (only comments and blank lines)" in out
    assert "CA:" not in out and "--mqtt needs" not in out, out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem", "units.txt"]


@pytest.mark.parametrize("flag", ["--device", "--devices"])
def test_a_bad_device_id_gets_a_hint_for_where_it_came_from(in_tmp: Path, flag: str) -> None:
    """``--device 'dev 1'`` is told what an id may hold and to repeat --device, not
    "one id per line" (which is about --devices FILE, and said for it)."""
    write_ca(in_tmp)
    (in_tmp / "units.txt").write_text("dev 1\n")
    value = "dev 1" if flag == "--device" else "units.txt"
    code, out = invoke("push", "--mqtt", "mqtt://127.0.0.1:9", flag, value,
                       "--board", "mdash-arduino", "--bundle", "ca.pem")  # fmt: skip
    assert code == 2 and "'dev 1' is not a device id (it holds ' ')" in out, out
    assert "printable characters without spaces, at most 128" in out
    if flag == "--device":
        assert "one device id per line" not in out and "give --device once per unit" in out
    else:
        assert "units.txt:1:" in out and "one device id per line" in out
    assert sorted(p.name for p in in_tmp.iterdir()) == sorted(["ca.pem", "units.txt"])


# urllib raises ValueError on these (an unclosed '[', a port that is no number, out of
# range) or keeps a host with a space: each must be exit 2 with a JSON error document,
# the URL's password unshown.
BAD_URLS = [
    (["--mqtt", "mqtt://[::1", "--device", "x"], {}, "--mqtt: the host"),
    (["--mqtt", "mqtt://h:0", "--device", "x"], {}, "--mqtt: the port"),
    (["--mdash", "http://[::1/api", "--device", "x"], {}, "--mdash: the host"),
    (["--mdash", "https://u:pw-in-url-1@[::1/api"], {}, "--mdash: the host"),
    (["--mdash", "http://h:abc/api"], {}, "--mdash: the port"),
    (["--rpc", "http://[::1/rpc"], {}, "--rpc: the host"),
    (["--rpc", "http://h/rpc", "--rpc", "ws://h:99999/rpc"], {}, "--rpc (URL 2 of 2): the port"),
    # a host urllib keeps but no resolver could find (it used to be looked up: exit 3)
    (["--mqtt", "mqtt:// 127.0.0.1", "--device", "x"], {}, "--mqtt: the host holds a space"),
    (["--mdash", "http://exa mple/api", "--device", "x"], {}, "--mdash: the host holds"),
    (["--rpc", "http://h/rpc", "--rpc", "ws://a|b/rpc"], {}, "--rpc (URL 2 of 2): the host"),
    (
        ["--device", "x"],
        {"ESP_CABUNDLE_MQTT": "mqtt://u:pw-in-url-1@[127.0.0.1"},
        "ESP_CABUNDLE_MQTT: the host",
    ),
]


@pytest.mark.parametrize(("args", "env", "message"), BAD_URLS)
def test_a_url_urllib_cannot_split_is_exit_2_with_a_json_error(
    mdash: Any, in_tmp: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    _s, units = mdash
    write_ca(in_tmp)
    r = CliRunner().invoke(
        cli,
        ["push", *args, "--board", "mongoose-os-esp32", "--bundle", "ca.pem", "--json"],
        env=env,
    )
    assert r.exit_code == 2 and not isinstance(r.exception, ValueError), r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 2 and doc["error"].startswith(message)
    assert "pw-in-url-1" not in r.stdout + r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]
    assert all(u.calls == [] for u in units)


def test_no_api_key_is_exit_2(mdash: Any, in_tmp: Path) -> None:
    s, _units = mdash
    write_ca(in_tmp)
    code, out = invoke(
        "push", "--mdash", s.url, "--board", "mdash-arduino", "--bundle", "ca.pem",
        env={"MDASH_API_KEY": None},
    )  # fmt: skip
    assert code == 2 and "MDASH_API_KEY" in out and not (in_tmp / DEFAULT).exists()


DEFAULT = "cabundle-campaign.db"


def test_api_key_file_is_read(mdash: Any, in_tmp: Path) -> None:
    s, units = mdash
    write_ca(in_tmp)
    (in_tmp / "key").write_text(KEY + "\n")
    code, out = invoke(
        "push", "--mdash", s.url, "--board", "mdash-arduino", "--bundle", "ca.pem",
        "--api-key-file", "key", "--device", "dev1", env={"MDASH_API_KEY": None},
    )  # fmt: skip
    assert code == 0, out
    assert units[0].files()["/ca.pem"] == ca_bytes()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_secret_file_others_can_read_is_warned_about(mdash: Any, in_tmp: Path, mode: int) -> None:
    s, units = mdash
    write_ca(in_tmp)
    for name, text in (("key", KEY), ("pw", "mqtt-pw-1")):
        (in_tmp / name).write_text(text + "\n")
        (in_tmp / name).chmod(mode)
    r = CliRunner().invoke(
        cli,
        ["push", "--mdash", s.url, "--board", "mdash-arduino", "--bundle", "ca.pem",
         "--api-key-file", "key", "--device", "dev1", "--json"],
        env={"MDASH_API_KEY": None},
    )  # fmt: skip
    assert r.exit_code == 0, r.output  # a warning, as ssh gives: the push goes on
    assert f"mDash API key file key can be read by other users (mode 0{mode:o})" in r.stderr
    assert "chmod 600 key" in r.stderr and KEY not in r.stdout + r.stderr
    assert units[0].files()["/ca.pem"] == ca_bytes()
    # The MQTT password file alike, warned about before the broker is tried.
    r = CliRunner().invoke(
        cli,
        ["push", "--mqtt", "mqtt://fleet@127.0.0.1:9", "--device", "a", "--board",
         "mdash-arduino", "--bundle", "ca.pem", "--mqtt-password-file", "pw"],
    )  # fmt: skip
    assert "MQTT password file pw can be read by other users" in r.stderr
    assert "mqtt-pw-1" not in r.stdout + r.stderr
    for name in ("key", "pw"):
        (in_tmp / name).chmod(0o600)
    r = CliRunner().invoke(
        cli,
        ["push", "--mdash", s.url, "--board", "mdash-arduino", "--bundle", "ca.pem",
         "--api-key-file", "key", "--device", "dev1", "--mqtt", "mqtt://fleet@127.0.0.1:9",
         "--mqtt-password-file", "pw", "--dry-run"],
        env={"MDASH_API_KEY": None},
    )  # fmt: skip
    assert "cannot reach the MQTT broker" in r.stderr  # both files were read first
    assert "warning" not in r.stderr, r.stderr


def test_ledger_of_another_campaign_or_not_a_ledger_is_refused(mdash: Any, in_tmp: Path) -> None:
    s, _units = mdash
    write_ca(in_tmp)
    base = ["push", "--mdash", s.url, "--board", "mdash-arduino", "--device", "dev1"]
    code, _ = invoke(*base, "--bundle", "ca.pem")
    assert code == 0
    before = (in_tmp / DEFAULT).read_bytes()
    (in_tmp / "other.pem").write_bytes(ca_bytes("default"))
    code, out = invoke(*base, "--bundle", "other.pem")
    assert code == 2 and "another CA file" in out and "--ledger" in out
    assert (in_tmp / DEFAULT).read_bytes() == before
    (in_tmp / "junk.db").write_bytes(b"not a database at all" * 100)
    (in_tmp / "junk.db").chmod(0o644)
    for cmd in ([*base, "--bundle", "ca.pem"], ["push", "status"]):
        code, out = invoke(*cmd, "--ledger", "junk.db")
        assert code == 2 and "not a campaign ledger" in out
        assert (in_tmp / "junk.db").read_bytes() == b"not a database at all" * 100
        assert (in_tmp / "junk.db").stat().st_mode & 0o777 == 0o644


def test_dry_run_predicts_the_ledgers_refusal_reading_only(mdash: Any, in_tmp: Path) -> None:
    s, units = mdash
    write_ca(in_tmp)
    base = ["push", "--mdash", s.url, "--board", "mdash-arduino", "--device", "dev1"]
    assert invoke(*base, "--bundle", "ca.pem")[0] == 0
    (in_tmp / "other.pem").write_bytes(ca_bytes("default"))
    (in_tmp / "junk.db").write_bytes(b"not a database at all" * 100)
    calls = len(units[0].calls)
    for ledger, words in ((DEFAULT, "another CA file"), ("junk.db", "not a campaign ledger")):
        real = invoke(*base, "--bundle", "other.pem", "--ledger", ledger)
        before = _files(in_tmp)
        r = CliRunner().invoke(
            cli, [*base, "--bundle", "other.pem", "--ledger", ledger, "--dry-run", "--json"]
        )
        assert real[0] == r.exit_code == 2 and words in real[1], real[1]
        doc = json.loads(r.stdout)
        assert doc["ok"] is False and words in doc["error"]
        assert _files(in_tmp) == before  # nothing written, no side file made
    assert len(units[0].calls) == calls  # refused before a unit was asked anything
    # The same CA file: the dry run goes on to survey the units, as before.
    code, out = invoke(*base, "--bundle", "ca.pem", "--dry-run")
    assert code == 0 and "another CA file" not in out, out
    assert _files(in_tmp) == before


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_gate_refuses_a_ca_that_would_cut_the_units_connection(mdash: Any, in_tmp: Path) -> None:
    """mdash.net sends the short chain (R11 <- ISRG Root X1): a DST-only file would cut
    every unit off, so nothing is written; a file with ISRG Root X1 passes."""
    s, units = mdash
    (in_tmp / "chains").mkdir()
    shutil.copy(
        REPO / "examples/chains/letsencrypt-2024-short.pem", in_tmp / "chains/mdash.net.pem"
    )
    code, _ = invoke("build", "--root", "dst-root-ca-x3", "--allow", "expired", "--no-lock",
                     "-o", "dst.pem", "-q")  # fmt: skip
    assert code == 0
    base = ["push", "--mdash", s.url, "--server", "mdash.net", "--board", "mdash-arduino"]
    code, out = invoke(*base, "--bundle", "dst.pem")  # the gate's policies refuse it first
    assert code == 1 and "DST Root CA X3 expired on 2021-09-30" in out
    code, out = invoke(*base, "--bundle", "dst.pem", "--allow", "expired")
    assert code == 1 and "cut the connection it travels on" in out and "-0x2700" in out
    assert not (in_tmp / DEFAULT).exists() and all(u.calls == [] for u in units)
    # The config's targets count too (here a saved chain under another name).
    (in_tmp / "cabundle.yaml").write_text(
        "targets:\n  - name: cloud\n    chain: chains/mdash.net.pem\n"
    )
    code, out = invoke("push", "--mdash", s.url, "--board", "mdash-arduino", "--bundle", "dst.pem",
                       "--allow", "expired")  # fmt: skip
    assert code == 1 and "cloud:" in out and not (in_tmp / DEFAULT).exists()
    write_ca(in_tmp)
    code, out = invoke(*base, "--bundle", "ca.pem", "--device", "dev1")
    assert code == 0, out
    assert "accepted by mdash.net, cloud under mdash-arduino rules (the device does not" in out


def test_deadline_is_the_forecast_of_the_units_current_file(in_tmp: Path) -> None:
    from dataclasses import replace

    from support.doc_commands import freeze_clock

    from esp_cabundle.boards import VerifyProfile, load_board
    from esp_cabundle.check import Target
    from esp_cabundle.commands._push_links import deadline_for

    mp = pytest.MonkeyPatch()
    try:
        freeze_clock(mp, "2026-12-01")
        (in_tmp / "chains").mkdir()
        shutil.copy(
            REPO / "examples/chains/letsencrypt-2024-short.pem", in_tmp / "chains/mdash.net.pem"
        )
        old = mdash_unit("x").files()["/ca.pem"]  # ISRG Root X1, X2, DST Root CA X3
        board = load_board("mdash-arduino")
        servers = [Target("mdash.net", "mdash.net", 443)]
        assert deadline_for(board, servers, in_tmp)(old) is None  # no clock: never expires
        # A board without firmware data: the saved chain alone (R11 <- ISRG Root X1).
        plain = replace(
            load_board("arduino-esp32-spiffs"), verify=VerifyProfile("mbedtls", "synced")
        )
        when = deadline_for(plain, servers, in_tmp)(old)
        assert when is not None and when.date().isoformat() == "2035-06-04"  # X1 expires
        assert deadline_for(plain, [], in_tmp)(old) is None
        # mDash 1.2.13 reads the file for mdash.net, whose roadmap moves to Gen Y (Root YR
        # cross-signed by ISRG Root X1): with a clock, the cross-sign's expiry comes first.
        clocked = replace(board, verify=VerifyProfile("mbedtls", "synced"))
        for servers_given in (servers, []):
            when = deadline_for(clocked, servers_given, in_tmp)(old)
            assert when is not None and when.date().isoformat() == "2032-09-02"
    finally:
        mp.undo()


def test_deadline_of_a_dst_only_file_on_mdash_1_2_13_is_already_past(in_tmp: Path) -> None:
    """Units without a clock and a DST-only file lost mdash.net when its chain changed:
    the forecast runs on the board's roadmap even with no saved chain, and says the date
    already passed (it was None before: no clock, no saved chain, no deadline)."""
    from support.doc_commands import freeze_clock

    from esp_cabundle.boards import load_board
    from esp_cabundle.commands._push_links import deadline_for

    mp = pytest.MonkeyPatch()
    try:
        freeze_clock(mp, "2026-12-01")
        dst = (REPO / "tests/data/letsencrypt/dst-root-ca-x3.pem").read_bytes()
        when = deadline_for(load_board("mdash-arduino@1.2.13"), [], in_tmp)(dst)
        assert when is not None and when.date().isoformat() == "2024-06-06"
        # mDash 1.2.16 never reads the file: nothing pushed to it decides its connection.
        assert deadline_for(load_board("mdash@1.2.16"), [], in_tmp)(dst) is None
    finally:
        mp.undo()


def test_deadline_judges_with_the_boards_own_device(in_tmp: Path) -> None:
    """The forecast runs under the device ``check --board`` uses: mDash 1.2.13 sets no
    server name, so a server certificate for another name works until the root expires
    (2040; the server renews its own), where a name check would call the unit's file
    failing already (no date at all)."""
    from dataclasses import replace

    from support.doc_commands import freeze_clock
    from support.verify_pki import mint

    from esp_cabundle.boards import VerifyProfile, load_board
    from esp_cabundle.check import Target
    from esp_cabundle.commands._push_links import deadline_for

    mp = pytest.MonkeyPatch()
    try:
        freeze_clock(mp, "2026-12-01")
        root = mint("Cloud Root", not_before=utc(2020), not_after=utc(2040))
        leaf = mint("cloud", root, ca=False, san="cloud.example",
                    not_before=utc(2025), not_after=utc(2030))  # fmt: skip
        (in_tmp / "chains").mkdir()
        (in_tmp / "chains/mdash.net.pem").write_bytes(leaf.pem)
        clocked = replace(
            load_board("mdash-arduino@1.2.13"), verify=VerifyProfile("mbedtls", "synced")
        )
        # The unit's file also holds Root YR, which mdash.net's roadmap (Gen Y, from
        # 2026-05-28) reaches until 2045: the saved chain's root decides.
        old = root.pem + ca_bytes_of("isrg-root-yr")
        when = deadline_for(clocked, [Target("mdash.net", "mdash.net", 443)], in_tmp)(old)
        assert when is not None and when.date().isoformat() == "2040-01-01"
    finally:
        mp.undo()


def ca_bytes_of(*roots: str) -> bytes:
    from esp_cabundle.bundle import BundleSpec
    from esp_cabundle.dates import now
    from esp_cabundle.gate import CaSource, gate_ca

    return gate_ca(CaSource.build(BundleSpec(roots=roots)), at=now()).pem


def utc(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=timezone.utc)


def test_status_counts_and_units_not_reached(mdash: Any, in_tmp: Path) -> None:
    s, _units = mdash
    write_ca(in_tmp)
    code, _ = invoke("push", "--mdash", s.url, "--board", "mdash-arduino", "--bundle", "ca.pem",
                     "--timeout", "0.5")  # fmt: skip
    assert code == 3
    code, out = invoke("push", "status")
    assert code == 0
    assert "verified     1" in out and "Not yet updated (1):" in out and "dev2" in out
    code, out = invoke("push", "status", "--json")
    doc = json.loads(out)
    assert doc["counts"]["verified"] == 1 and doc["campaign"]["board"] == "mdash-arduino"
    assert {u["id"]: u["state"] for u in doc["units"]} == {"dev1": "verified", "dev2": "offline"}
    code, out = invoke("push", "status", "--csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert [(r["id"], r["state"]) for r in table] == [("dev1", "verified"), ("dev2", "offline")]
    code, out = invoke("push", "status", "--ledger", "missing.db")
    assert code == 2 and "no campaign ledger" in out and not (in_tmp / "missing.db").exists()
    # --ledger was given: the hint is to check it, not to give it
    assert "check the path" in out and "give --ledger" not in out, out
    (in_tmp / "cabundle-campaign.db").unlink()
    code, out = invoke("push", "status")
    assert code == 2 and "give the ledger of the campaign with --ledger FILE" in out, out


def test_status_names_the_units_of_each_state_bounded(tmp_path: Path) -> None:
    """README's rehearsal says "dev-1 and dev-2 verified": status names each state's
    units, the first ten by id and how many more (tester's report, item 8)."""
    from esp_cabundle.push.ledger import Ledger

    path = tmp_path / "c.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
        ledger.enroll((f"dev-{i:02}", "mqtt", None) for i in range(25))
        for i in range(2, 14):
            assert ledger.claim(f"dev-{i:02}", ["pending"]) is not None
            ledger.record(f"dev-{i:02}", state="verified")
            ledger.release(f"dev-{i:02}")
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", str(path)])
    assert r.exit_code == 0, r.output
    ten = ", ".join(f"dev-{i:02}" for i in range(2, 12))
    lines = r.output.splitlines()
    assert f"verified     12     {ten} and 2 more" in lines
    pending = [x for x in lines if x.startswith("pending ")]
    assert pending == [
        "pending      13     dev-00, dev-01, dev-14, dev-15, dev-16, dev-17, dev-18, dev-19, "
        "dev-20, dev-21 and 3 more"
    ]
    assert "failed       0" in r.output


def test_answers_are_bounded_and_checked() -> None:
    with pytest.raises(UnitRpcError, match="over the"):
        parse_answer(b" " * (MAX_ANSWER_BYTES + 1), unit="u", method="FS.Get")
    with pytest.raises(UnitRpcError, match="not valid JSON"):
        parse_answer(b'{"id": 1, "result": ', unit="u", method="FS.Get")
    deep = b'{"id": 1, "result": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(UnitRpcError, match="nests deeper than 32 levels"):
        parse_answer(deep, unit="u", method="FS.Get")
    with pytest.raises(UnitRpcError, match="nests deeper than 32 levels"):
        parse_answer(deep.decode(), unit="u", method="FS.Get")  # a WebSocket text message
    with pytest.raises(UnitRpcError, match="not UTF-8"):
        parse_answer(b'{"id": 1, "result": "\xff"}', unit="u", method="FS.Get")
    with pytest.raises(UnitRpcError, match="not an RPC frame"):
        parse_answer(b"[1, 2]", unit="u", method="FS.Get")
    with pytest.raises(UnitRpcError, match=r"FS.Put failed \(500\): no space") as e:
        parse_answer(b'{"id":1,"error":{"code":500,"message":"no space"}}', unit="u",
                     method="FS.Put")  # fmt: skip
    assert e.value.code == 500
    assert parse_answer(b'{"id":7,"result":null}', unit="u", method="m") == (7, None)


class _Channel:
    """A unit answering FS.Get with whatever the test scripted."""

    shape = "args"
    src = "esp-cabundle"
    unit_id = "u1"

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def call(self, method: str, params: Mapping[str, Any], *, timeout: float) -> Any:
        self.sent.append((method, dict(params)))
        return self.answers.pop(0)

    def close(self) -> None:
        pass


def test_reads_refuse_answers_that_make_no_progress_or_are_not_base64() -> None:
    files = UnitFiles(_Channel([{"data": "", "left": 10}]), frame_budget=4096, timeout=1)
    with pytest.raises(UnitRpcError, match="no progress"):
        files.get("ca.pem")
    files = UnitFiles(_Channel([{"data": "***", "left": 0}]), frame_budget=4096, timeout=1)
    with pytest.raises(UnitRpcError, match="not base64"):
        files.get("ca.pem")
    files = UnitFiles(_Channel([{"data": "YQ==", "left": "x"}]), frame_budget=4096, timeout=1)
    with pytest.raises(UnitRpcError, match="malformed"):
        files.get("ca.pem")
    with pytest.raises(UnitRpcError, match="no room"):
        UnitFiles(_Channel([]), frame_budget=150, timeout=1).put("ca.pem", b"x")


def test_writes_fit_the_frame_budget() -> None:
    for budget in (512, 3000, 4096):
        ch = _Channel([None] * 100)
        UnitFiles(ch, frame_budget=budget, timeout=1).put("ca.pem.new", b"\x00" * 9000)
        from esp_cabundle.push.rpc import request_frame

        sizes = [len(request_frame(1 << 40, m, p, shape="args", src=ch.src)) for m, p in ch.sent]
        assert max(sizes) <= budget and [p["append"] for _, p in ch.sent][:2] == [False, True]


def test_a_push_file_carries_a_ca_gated_for_the_units_board() -> None:
    """The campaign writes only what the gate let through for the units' board."""
    from support.gated import gated

    from esp_cabundle.boards import load_board
    from esp_cabundle.errors import InputError
    from esp_cabundle.push.campaign import PushFile

    pem = ca_bytes()
    with pytest.raises(TypeError, match="GatedCA"):
        PushFile(pem)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="gated for no board"):
        PushFile(gated(pem))
    with pytest.raises(InputError, match="not of mdash-arduino"):
        PushFile.for_board(gated(pem, "mongoose-os-esp32"), load_board("mdash-arduino"))
    push = PushFile.for_board(gated(pem, "mdash-arduino"), load_board("mdash-arduino"))
    assert (push.name, push.temp_name, push.board) == ("ca.pem", "ca.pem.new", "mdash-arduino")
    assert push.data == gated(pem).pem and push.sha256 == push.ca.sha256


def test_a_ledger_in_a_missing_directory_is_refused_before_any_unit(
    mdash: Any, in_tmp: Path
) -> None:
    """As flash --log: the ledger's directory is never made (a typo would hide the
    campaign's records); a dry run predicts the refusal. Exit 2, nothing made."""
    s, units = mdash
    write_ca(in_tmp)
    base = ["push", "--mdash", s.url, "--board", "mdash-arduino", "--device", "dev1"]
    calls = len(units[0].calls)
    for extra in ([], ["--dry-run"]):
        code, out = invoke(*base, "--bundle", "ca.pem", "--ledger", "nodir/sub/c.db", *extra)
        assert code == 2, out
        assert "the ledger's directory nodir/sub does not exist; no unit was touched" in out
        assert "mkdir -p nodir/sub" in out
    assert len(units[0].calls) == calls
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


def test_options_before_status_are_refused_not_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``push --ledger lan.db status`` read ./cabundle-campaign.db (another campaign, or
    "no campaign ledger") and ``push --json status`` printed text: push's options before
    the subcommand were silently dropped."""
    from esp_cabundle.push.ledger import Ledger

    path = tmp_path / "lan.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
    before = path.read_bytes()
    code, out = invoke("push", "--ledger", str(path), "status")
    assert code == 2 and "--ledger given before 'status'" in out, out
    assert "push status --ledger FILE" in out
    code = run(["push", "--json", "--ledger", str(path), "status"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 2 and doc["ok"] is False and "--ledger, --json" in doc["error"]
    assert path.read_bytes() == before
    # the same options after 'status' work; ESP_CABUNDLE_MQTT (push's --mqtt from the
    # environment) is not an option typed before it
    code, out = invoke("push", "status", "--ledger", str(path), "--json",
                       env={"ESP_CABUNDLE_MQTT": "mqtt://127.0.0.1:9"})  # fmt: skip
    assert code == 0 and json.loads(out)["campaign"]["board"] == "mongoose-os-esp32"


def test_status_dates_a_failing_ca_file_as_at_least_since(tmp_path: Path) -> None:
    """A failure found from a saved chain starts at that chain's first day (2026-05-13
    for a Gen Y chain saved then), not the day the units went dark (2024-06-06), and
    the units holding it may well have been reached over another link: status said
    "already fails since 2026-05-13 ... no push reaches them" beside units it verified."""
    from esp_cabundle.push.ledger import Ledger

    path = tmp_path / "c.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
        ledger.set_meta("failing_since", "2026-05-13T00:00:00+00:00")
    code, out = invoke("push", "status", "--ledger", str(path))
    assert code == 0, out
    assert "at least since 2026-05-13" in out and "already fails since" not in out, out
    assert "a push that travels through it cannot reach them" in out
    assert "no push reaches them" not in out


def test_debug_before_status_is_not_refused(tmp_path: Path) -> None:
    """--debug means the same before or after a command (cli._accept_debug): it is no
    option of push's that status would drop, so ``push --debug status`` reads the ledger."""
    from esp_cabundle.push.ledger import Ledger

    path = tmp_path / "lan.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
    code, out = invoke("push", "--debug", "status", "--ledger", str(path), "--json")
    assert code == 0, out
    assert json.loads(out)["campaign"]["board"] == "mongoose-os-esp32"


def test_an_option_status_has_not_got_is_not_told_to_move_after_it() -> None:
    """``push --mdash URL status`` was told to put --mdash after 'status', which has no
    --mdash: the refusal names what status takes."""
    code, out = invoke("push", "--mdash", "https://mdash.example/api", "status")
    assert code == 2 and "--mdash given before 'status'" in out, out
    assert "status takes --ledger, --json, --csv" in out


def test_status_of_a_finished_campaign_leaves_no_side_files(tmp_path: Path) -> None:
    """``push status`` reads only, yet opening the WAL ledger mode=ro made a -wal and a
    32 KiB -shm beside it, left there after it exited."""
    from esp_cabundle.push.ledger import Ledger

    path = tmp_path / "c.db"
    with Ledger(path) as ledger:
        ledger.bind(ca_sha256="ab" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
        ledger.enroll([("dev-1", "mqtt", None)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.db"]
    before = path.read_bytes()
    for extra in ([], ["--json"], ["--csv"]):
        code, out = invoke("push", "status", "--ledger", str(path), *extra)
        assert code == 0 and "dev-1" in out
        assert sorted(p.name for p in tmp_path.iterdir()) == ["c.db"], extra
    assert path.read_bytes() == before
    # --json and --csv both: one of them would be dropped silently, so neither is printed
    code, out = invoke("push", "status", "--ledger", str(path), "--json", "--csv")
    assert code == 2 and "give --json or --csv, not both" in out, out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.db"]
    # a campaign running beside it (its -wal there) is read through its side files
    with Ledger(path) as ledger:
        ledger.enroll([("dev-2", "mqtt", None)])
        code, out = invoke("push", "status", "--ledger", str(path), "--csv")
        assert code == 0 and "dev-2" in out


def test_status_through_a_symlink_reads_the_running_campaign(tmp_path: Path) -> None:
    """SQLite keeps a ledger's -wal/-shm beside the file a symlink leads to: looked for
    beside the link, none was found, so a running campaign's ledger was read immutable,
    without its log (its new rows missing; a first campaign's "not a campaign ledger"),
    and its side files were never narrowed to 0600."""
    import os
    import stat

    from esp_cabundle.push.ledger import Ledger

    (tmp_path / "real").mkdir()
    link = tmp_path / "link.db"
    link.symlink_to(tmp_path / "real" / "c.db")
    old = os.umask(0o022)
    try:
        with Ledger(link) as ledger:  # a first campaign: its tables only in its -wal
            ledger.bind(ca_sha256="ab" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
            ledger.enroll([("dev-1", "mqtt", None)])
            code, out = invoke("push", "status", "--ledger", str(link), "--csv")
            assert code == 0 and "dev-1" in out, out
            for name in ("c.db-wal", "c.db-shm"):
                mode = (tmp_path / "real" / name).stat().st_mode
                assert stat.S_IMODE(mode) == 0o600, name
        with Ledger(link) as ledger:  # a later run: its new rows only in the -wal
            ledger.enroll([("dev-2", "mqtt", None)])
            code, out = invoke("push", "status", "--ledger", str(link), "--csv")
            assert code == 0 and "dev-1" in out and "dev-2" in out, out
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.db", "real"]


def test_a_broker_in_the_environment_is_set_aside_for_typed_links(mdash: Any, in_tmp: Path) -> None:
    """README puts a password URL in ESP_CABUNDLE_MQTT; kept in the shell, it made
    ``push --mdash --device dev1`` reach dev1 over that broker too (here: none there,
    exit 3), and ``push --rpc`` fail with "--mqtt needs the units' ids"."""
    s, units = mdash
    write_ca(in_tmp)
    env = {"ESP_CABUNDLE_MQTT": "mqtt://127.0.0.1:9"}
    code, out = invoke("push", "--mdash", s.url, "--board", "mdash-arduino", "--bundle",
                       "ca.pem", "--device", "dev1", env=env)  # fmt: skip
    assert code == 0, out
    assert "ESP_CABUNDLE_MQTT is set, but the units are reached with --mdash" in out
    assert units[0].files()["/ca.pem"] == ca_bytes()
    code, out = invoke("push", "--rpc", "http://127.0.0.1:9/rpc", "--board",
                       "mongoose-os-esp32", "--bundle", "ca.pem", "--timeout", "0.5",
                       "--ledger", "lan.db", env=env)  # fmt: skip
    assert code == 3 and "--mqtt needs" not in out and "127.0.0.1:9/rpc" in out, out
    # alone, the environment's broker is push's --mqtt
    code, out = invoke("push", "--board", "mongoose-os-esp32", "--bundle", "ca.pem",
                       "--device", "dev1", "--ledger", "mq.db", env=env)  # fmt: skip
    assert code == 3 and "cannot reach the MQTT broker mqtt://127.0.0.1:9" in out, out


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mqtt://u:pw-9@127.0.0.1:1/x", "ESP_CABUNDLE_MQTT: a broker URL has no path"),
        ("mqtts://u:pw-9@127.0.0.1:99999", "ESP_CABUNDLE_MQTT: the port is not a number"),
        ("garbage:pw-9", "ESP_CABUNDLE_MQTT takes mqtt://"),
    ],
)
def test_a_bad_broker_url_in_the_environment_is_named_so(in_tmp: Path, url: str, said: str) -> None:
    """A bad ESP_CABUNDLE_MQTT said "--mqtt: ..." to a user who typed no --mqtt."""
    write_ca(in_tmp)
    code, out = invoke("push", "--board", "mongoose-os-esp32", "--bundle", "ca.pem",
                       "--device", "dev1", env={"ESP_CABUNDLE_MQTT": url})  # fmt: skip
    assert code == 2 and said in out and "pw-9" not in out, out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]
    code, out = invoke("push", "--mqtt", "mqtt://127.0.0.1:1/x", "--board", "mongoose-os-esp32",
                       "--bundle", "ca.pem", "--device", "dev1")  # fmt: skip
    assert code == 2 and "--mqtt: a broker URL has no path" in out


@pytest.mark.parametrize("from_env", [False, True])
def test_the_broker_url_is_parsed_once(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, from_env: bool
) -> None:
    """--mqtt was parsed when checked for a password and again when the link opened (a
    third time from ESP_CABUNDLE_MQTT; an mqtts:// one for the gate's targets too)."""
    from esp_cabundle.commands import _push_links

    parsed: list[str] = []

    def counting(text: str) -> Any:
        parsed.append(text)
        return parse_mqtt_url(text)

    monkeypatch.setattr(_push_links, "parse_mqtt_url", counting)
    write_ca(in_tmp)
    url = "mqtt://127.0.0.1:9"
    link = {"ESP_CABUNDLE_MQTT": url} if from_env else {}
    args = [] if from_env else ["--mqtt", url]
    code, out = invoke("push", *args, "--board", "mongoose-os-esp32", "--bundle", "ca.pem",
                       "--device", "dev1", "--ledger", "mq.db", env=link)  # fmt: skip
    assert code == 3 and "cannot reach the MQTT broker mqtt://127.0.0.1:9" in out, out
    assert parsed == [url]


def test_a_tls_broker_named_in_capitals_is_a_server_the_units_connect_to() -> None:
    """The gate's targets took a broker as TLS by ``startswith("mqtts://")``, the link
    by its parsed scheme: ``MQTTS://`` was a TLS link whose broker was never judged."""
    from esp_cabundle.commands._push_links import server_targets

    opts: dict[str, Any] = {"servers": (), "mdash_url": None}
    for url in ("mqtts://broker.example", "MQTTS://broker.example", " mqtts://broker.example"):
        (target,) = server_targets(opts, parse_mqtt_url(url))
        assert (target.host, target.port) == ("broker.example", 8883), url
    assert server_targets(opts, parse_mqtt_url("mqtt://broker.example")) == []


def test_link_failures_are_said_in_the_systems_words(tmp_path: Path) -> None:
    """A LAN unit whose host does not resolve was "link lost during Sys.GetInfo
    (gaierror)", and mDash refusing the connection "ConnectionRefusedError"."""
    import socket

    from esp_cabundle.errors import DeviceError
    from esp_cabundle.push.http import link_error
    from esp_cabundle.push.mdash import MdashTransport

    gai = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    said = str(link_error("http://lamp.local/rpc", "Sys.GetInfo", gai, 10.0))
    assert said == "unit http://lamp.local/rpc: host not found (Name or service not known)"
    reset = ConnectionResetError(104, "Connection reset by peer")
    said = str(link_error("u1", "FS.Put", reset, 10.0))
    assert said == "unit u1: link lost during FS.Put (Connection reset by peer)"
    t = MdashTransport("k", base_url="http://127.0.0.1:1/api/v2", timeout=2.0)
    try:
        with pytest.raises(DeviceError) as err:
            t.units()
    finally:
        t.close()
    assert err.value.message == "cannot reach mDash at http://127.0.0.1:1: Connection refused"
    # A server that accepts the connection and never answers: how long it waited.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        t = MdashTransport("k", base_url=f"http://127.0.0.1:{port}/api/v2", timeout=0.5)
        try:
            with pytest.raises(DeviceError) as err:
                t.units()
        finally:
            t.close()
    assert err.value.message == f"cannot reach mDash at http://127.0.0.1:{port}: no answer in 0.5 s"


def test_status_reads_again_when_a_campaign_writes_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A finished ledger is read immutable (no side files made); a campaign that starts
    and checkpoints between status's queries changes the file under that read, which is
    then done again, through the log: status shows the unit it enrolled."""
    from esp_cabundle.push import ledger as ledger_module
    from esp_cabundle.push.ledger import Ledger
    from esp_cabundle.push.ledger_status import read_status

    path = tmp_path / "c.db"
    with Ledger(path) as led:
        led.bind(ca_sha256="ab" * 32, board="mongoose-os-esp32", ca_path="/ca.pem")
        led.enroll([("dev-1", "mqtt", None)])
    meta = ledger_module.Ledger.meta
    writes = []

    def meta_while_a_campaign_writes(self: Any, *a: Any, **kw: Any) -> Any:
        got = meta(self, *a, **kw)
        if not writes:  # once: another process enrolls a unit and checkpoints
            writes.append(1)
            with Ledger(path) as other:
                other.enroll([("dev-2", "mqtt", None)])
                other._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return got

    monkeypatch.setattr(ledger_module.Ledger, "meta", meta_while_a_campaign_writes)
    view = read_status(path)
    assert writes and [r.id for r, _ in view.left] == ["dev-1", "dev-2"]
    assert sum(view.counts.values()) == 2


def test_a_password_in_the_mqtt_url_is_refused_before_the_ca_is_judged(in_tmp: Path) -> None:
    """The refusal is the run's first word: before, the CA's verdict came first, and a
    CA that failed its gate hid that the URL would be refused anyway."""
    write_ca(in_tmp)
    argv = ["push", "--mqtt", "mqtt://u:pw@127.0.0.1:9", "--board", "mdash-arduino"]
    code, out = invoke(*argv, "--device", "a")
    assert code == 2 and "visible in the process list" in out, out
    assert "CA:" not in out and "pw" not in out.replace("MQTT_PASSWORD", ""), out
    (in_tmp / "ca.pem").write_text("not a certificate\n")  # a CA the gate refuses
    code, out = invoke(*argv, "--device", "a")
    assert code == 2 and "visible in the process list" in out, out
