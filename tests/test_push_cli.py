"""``push`` refusals (each a clear error that changes nothing), the key and password
files and the gate on the connection the units travel on. The links' URLs (typed or
ESP_CABUNDLE_MQTT), ``push status``, the deadline forecast and the RPC layer have
modules of their own (test_push_link_urls, test_push_status_cli, test_push_deadline,
test_push_rpc_layer)."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import ca_bytes, invoke, write_ca
from support.fleet_links import MDASH_KEY

from esp_cabundle.cli import cli

REPO = Path(__file__).resolve().parent.parent
KEY = MDASH_KEY  # the conftest mdash fixture's key


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
        # --server is HOST[:PORT]: a chain file's path was dialled as the host 'chains',
        # a name with a space sent to DNS (exit 3); refused before anything is dialled
        (
            ["--mdash", "URL", "--board", "mdash-arduino", "--server", "chains/mdash.net.pem"],
            "--server chains/mdash.net.pem: a server is HOST[:PORT], not a file's path",
        ),
        (
            ["--mdash", "URL", "--board", "mdash-arduino", "--server", "md ash.net"],
            "--server 'md ash.net': not a host name or IP address",
        ),
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
    assert "listing units" not in out, out  # no progress drawn before the refusal
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
    (in_tmp / "junk.db").write_bytes(b"not a database at all" * 100)
    calls = len(units[0].calls)
    real = invoke(*base, "--bundle", "ca.pem", "--ledger", "junk.db")
    before = _files(in_tmp)
    r = CliRunner().invoke(
        cli, [*base, "--bundle", "ca.pem", "--ledger", "junk.db", "--dry-run", "--json"]
    )
    assert real[0] == r.exit_code == 2 and "not a campaign ledger" in real[1], real[1]
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and "not a campaign ledger" in doc["error"]
    assert _files(in_tmp) == before  # nothing written, no side file made
    assert len(units[0].calls) == calls  # refused before a unit was asked anything
    # The same CA file: the dry run goes on to survey the units, as before.
    code, out = invoke(*base, "--bundle", "ca.pem", "--dry-run")
    assert code == 0 and "another CA file" not in out, out
    assert _files(in_tmp) == before


def test_dry_run_previews_despite_another_campaigns_ledger(mdash: Any, in_tmp: Path) -> None:
    """A dry run writes no ledger: the default one recording a campaign for another CA
    file (or board) refused it, where it now previews and notes that a real run needs a
    new --ledger, then exits 2 as that run would (not 0, a rehearsal that passed). The
    real run is still refused, and nothing is written."""
    s, units = mdash
    write_ca(in_tmp)
    base = ["push", "--mdash", s.url, "--board", "mdash-arduino", "--device", "dev1"]
    assert invoke(*base, "--bundle", "ca.pem")[0] == 0
    (in_tmp / "other.pem").write_bytes(ca_bytes("default"))
    before = _files(in_tmp)
    real = invoke(*base, "--bundle", "other.pem")
    assert real[0] == 2 and "another CA file" in real[1], real[1]
    calls = len(units[0].calls)
    code, out = invoke(*base, "--bundle", "other.pem", "--dry-run")
    assert code == 2, out
    assert "Dry run, nothing written" in out and "dev1" in out, out
    assert "a push with this ledger is refused (exit 2)" in out, out
    assert "Note: the ledger" in out and "another CA file" in out, out
    assert "a real run with it is refused" in out and "give --ledger a new file" in out, out
    assert len(units[0].calls) > calls  # the units were surveyed
    r = CliRunner().invoke(cli, [*base, "--bundle", "other.pem", "--dry-run", "--json"])
    doc = json.loads(r.stdout)
    assert r.exit_code == doc["exit_code"] == 2 and doc["ok"] is False, r.output
    assert doc["dry_run"] is True and [u["id"] for u in doc["units"]] == ["dev1"]
    assert any("another CA file" in n for n in doc["notes"]), doc["notes"]
    assert _files(in_tmp) == before  # nothing written, no side file made
    # -q prints nothing but errors: it exited 2 saying nothing, the reason among the notes
    # it silences; the real run's refusal is said, and nothing else.
    code, out = invoke(*base, "--bundle", "other.pem", "--dry-run", "-q")
    assert code == 2 and out.startswith("Error: ") and "another CA file" in out, out
    assert "a real run with it is refused" in out and "dev1" not in out, out


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
    # --server mdash.net is the board's own server: judged as pack judges it (after the
    # config's targets), never captured live (esp_cabundle.own_servers).
    assert "accepted by cloud, mdash.net under mdash-arduino rules (the device does not" in out


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


def test_usage_and_ledger_path_are_refused_before_the_ca_is_judged(in_tmp: Path) -> None:
    """A broker without ids, a ledger in no folder or a file that is no ledger printed the
    gate's "CA: 8 roots; ..." line first, then the refusal (the ledger's once the broker
    was reached): refused first now, the missing ids with the command line mended
    (tryout, items 6 and 10). Nothing is made."""
    write_ca(in_tmp)
    base = ["push", "--mqtt", "mqtt://127.0.0.1:9", "--bundle", "ca.pem", "--board",
            "mongoose-os-esp32"]  # fmt: skip
    code, out = invoke(*base)
    assert code == 2 and "Error: --mqtt needs the units' ids" in out, out
    assert f"hint: e.g. esp-cabundle {' '.join(base)} --devices units.txt" in out
    for ledger, said in (("nodir/l.db", "directory nodir does not exist"),
                         ("ca.pem", "ca.pem is not a campaign ledger")):  # fmt: skip
        code, out = invoke(*base, "--device", "a", "--ledger", ledger)
        assert code == 2 and said in out, out
    code, out = invoke(*base, "--json")
    assert code == 2 and json.loads(out)["hint"].startswith("e.g. esp-cabundle push"), out
    for _, out in (invoke(*base), invoke(*base, "--device", "a", "--ledger", "ca.pem")):
        assert "CA:" not in out and "broker" not in out, out
    # ids with no link that takes them (--rpc reaches URLs): refused there too, once
    lan = ["push", "--rpc", "http://127.0.0.1:9/rpc", "--bundle", "ca.pem", "--board",
           "mongoose-os-esp32", "--device", "a"]  # fmt: skip
    code, out = invoke(*lan)
    assert code == 2 and "units behind --mdash or --mqtt" in out and "CA:" not in out, out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


@pytest.mark.parametrize(
    ("extra", "env", "said"),
    [
        (["--mdash", "https://127.0.0.1:9/api/v2", "--tls-ca", "nosuch.pem"], {}, "nosuch.pem"),
        (["--rpc", "https://127.0.0.1:9/rpc", "--tls-ca", "nosuch.pem"], {}, "nosuch.pem"),
        (["--rpc", "https://127.0.0.1:9/rpc", "--tls-ca", "empty"], {}, "not a CA file"),
        (["--mdash", "URL"], {"MDASH_API_KEY": None}, "--mdash needs the API key"),
        (["--mdash", "URL", "--api-key-file", "empty"], {}, "file is empty"),
        (["--mqtt", "mqtt://127.0.0.1:9", "--device", "a", "--mqtt-password-file", "empty"],
         {}, "file is empty"),
    ],
)  # fmt: skip
def test_link_files_and_secrets_are_refused_before_the_ca_is_judged(
    mdash: Any, in_tmp: Path, extra: list[str], env: dict[str, str | None], said: str
) -> None:
    """``push --tls-ca nosuch.pem`` and ``push --mdash`` without MDASH_API_KEY printed
    the gate's "CA: 8 roots; ..." line, then the refusal: the files and secrets the links
    read are read first now (once: a key file may be a pipe), so the refusal is all."""
    s, units = mdash
    write_ca(in_tmp)
    (in_tmp / "empty").write_text("")
    (in_tmp / "empty").chmod(0o600)  # no warning about who can read it
    argv = [a.replace("URL", s.url) for a in extra]
    board = "mongoose-os-esp32" if "--rpc" in extra else "mdash-arduino"
    code, out = invoke("push", *argv, "--board", board, "--bundle", "ca.pem", env=env)
    assert code == 2 and said in out and "CA:" not in out, out
    assert out.startswith("Error: "), out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem", "empty"]
    assert all(u.calls == [] for u in units)


def test_no_check_is_hidden_from_push_and_refused_with_the_reason(in_tmp: Path) -> None:
    """push's help offered --no-check, which push always refuses with a bare usage
    error: it is hidden there (build still shows it), and the refusal says why."""
    write_ca(in_tmp)
    _, text = invoke("push", "--help")
    assert "--no-check" not in text and "--until" in text
    _, text = invoke("build", "--help")
    assert "--no-check" in text
    code, out = invoke("push", "--mqtt", "mqtt://127.0.0.1:9", "--device", "a", "--board",
                       "mdash-arduino", "--bundle", "ca.pem", "--no-check")  # fmt: skip
    assert code == 2 and "(--no-check is refused)" in out, out
    assert "hint: units reached through a connection the new CA file breaks would be lost" in out
    assert "cannot reach the MQTT broker" not in out  # refused before any unit is tried
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


@pytest.mark.parametrize(
    ("until", "said"),
    [
        ("2026-01-01", "--until 2026-01-01 is already past (through the end of that day, UTC)"),
        ("2026-01-01T05:00", "--until 2026-01-01T05:00 is already past: give a later date"),
    ],
)
def test_a_past_until_is_said_as_typed(in_tmp: Path, until: str, said: str) -> None:
    """It said "--until 2026-01-02T00:00:00+00:00" for a typed 2026-01-01."""
    write_ca(in_tmp)
    code, out = invoke("push", "--mqtt", "mqtt://127.0.0.1:9", "--device", "a", "--board",
                       "mdash-arduino", "--bundle", "ca.pem", "--watch",
                       "--until", until)  # fmt: skip
    assert code == 2 and said in out, out
    assert "+00:00" not in out and sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


def test_a_bad_until_does_not_offer_now_which_it_refuses(in_tmp: Path) -> None:
    """``--until tomorrow`` was answered "expected YYYY-MM-DD (or an ISO date-time, or
    'now')", hint "... now or today", and ``--until now`` is always already past: an
    end's refusal offers today, which it takes; check's --until still offers now."""
    write_ca(in_tmp)
    argv = ("push", "--mqtt", "mqtt://127.0.0.1:9", "--device", "a", "--board",
            "mdash-arduino", "--bundle", "ca.pem", "--watch", "--until")  # fmt: skip
    code, out = invoke(*argv, "tomorrow")
    flat = " ".join(out.split())
    assert code == 2 and "bad --until date 'tomorrow'" in flat, out
    assert "now" not in flat.split("'tomorrow'")[1], out
    assert "(or an ISO date-time, or 'today')" in flat and "or today:" in flat, out
    code, out = invoke(*argv, "now")  # what it offered before, refused
    assert code == 2 and "--until now is already past" in out, out
    code, out = invoke("check", "--bundle", "ca.pem", "--until", "tomorrow")
    assert code == 2 and "now or today" in " ".join(out.split()), out


def test_a_subcommand_after_mdash_is_not_taken_for_its_url(in_tmp: Path) -> None:
    """``push --mdash status``: click took status as the mDash URL, then the run asked
    for --board, its hint keeping ``--mdash status``. Refused first, with the line as
    status (--json is status's too) or, with a run's own options, --mdash's default URL."""
    write_ca(in_tmp)
    for argv, hint in (
        (["--mdash", "status"], "push status (or push --mdash URL"),
        (["--mdash", "status", "--json"], "push status --json (or push --mdash URL"),
        (["--mdash=status", "--board", "mdash-arduino", "--bundle", "ca.pem"],
         "push --mdash --board mdash-arduino --bundle ca.pem (or push status, alone)"),
    ):  # fmt: skip
        code, out = invoke("push", *argv)
        assert code == 2 and "--mdash takes the mDash API's URL, not 'status'" in out, out
        said = json.loads(out)["hint"] if "--json" in argv else out
        assert f"e.g. esp-cabundle {hint}" in said, out
        assert "--board is required" not in out and "CA:" not in out, out
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


def test_a_missing_board_is_named_as_the_help_names_one(in_tmp: Path) -> None:
    """``push --mdash`` without --board hinted ``--board 'NAME[@VERSION]|FILE'``, a
    placeholder no copy runs: now the board of push's help example with the same link
    (mDash's for --mdash, Mongoose OS's for --rpc or --mqtt), and the hint copied goes
    on to what is missing next (the CA), not back to the board."""
    for argv, board in (
        (["--mdash"], "mdash-arduino"),
        (["--rpc", "http://127.0.0.1:9/rpc"], "mongoose-os-esp32"),
        (["--mqtt", "mqtt://127.0.0.1:9", "--device", "a"], "mongoose-os-esp32"),
    ):
        code, out = invoke("push", *argv)
        assert code == 2 and "--board is required" in out, out
        hint = out.partition("  hint: e.g. esp-cabundle ")[2].strip()
        assert shlex.split(hint) == ["push", *argv, "--board", board], out
        code, out = invoke(*shlex.split(hint), env={"MDASH_API_KEY": KEY})  # as the help has it
        assert code == 2 and "no CA given" in out and "--board is required" not in out, out
        code, out = invoke("push", *argv, "--json")  # the same under --json
        assert json.loads(out)["hint"].endswith(f"--json --board {board}"), out
    assert list(in_tmp.iterdir()) == []


def test_a_subcommand_after_mqtt_is_not_taken_for_its_url(in_tmp: Path) -> None:
    """``push --mqtt status``: click took status as the broker's URL, refused as a bad
    URL whose hint was ``--mqtt mqtt://broker.local:1883`` alone, saying nothing of the
    subcommand. Refused as ``--mdash status`` is: the line as status, or, with a run's
    own options, --mqtt given the help's broker. ESP_CABUNDLE_MQTT=status was no word
    typed before a subcommand: still a bad URL."""
    for argv, hint in (
        (["--mqtt", "status"], "push status (or push --mqtt URL ... to reach units)"),
        (["--mqtt", "status", "--json"], "push status --json (or push --mqtt URL"),
        (["--mqtt=status", "--device", "a", "--board", "mdash-arduino"],
         "push --mqtt mqtt://broker.local --device a --board mdash-arduino"
         " (or push status, alone)"),
    ):  # fmt: skip
        code, out = invoke("push", *argv)
        assert code == 2 and "--mqtt takes the broker's URL, not 'status'" in out, out
        said = json.loads(out)["hint"] if "--json" in argv else out
        assert f"e.g. esp-cabundle {hint}" in said, out
    code, out = invoke("push", "--device", "a", env={"ESP_CABUNDLE_MQTT": "status"})
    assert code == 2 and "ESP_CABUNDLE_MQTT takes mqtt://" in out and "subcommand" not in out
    assert list(in_tmp.iterdir()) == []


def test_a_secret_file_for_a_link_not_asked_for_is_refused(mdash: Any, in_tmp: Path) -> None:
    """``--api-key-file`` in a run over --mqtt, ``--mqtt-password-file`` in one over
    --mdash: read by no link and ignored unsaid (the owner had meant the other link), as
    --poll without --watch was before it was refused. Refused now (exit 2), nothing asked."""
    s, units = mdash
    write_ca(in_tmp)
    (in_tmp / "secret").write_text("s3cret-8\n")
    (in_tmp / "secret").chmod(0o600)
    base = ["push", "--board", "mdash-arduino", "--bundle", "ca.pem"]
    for link, flag, needs in (
        (["--mqtt", "mqtt://127.0.0.1:9", "--device", "a"], "--api-key-file", "--mdash"),
        (["--mdash", s.url], "--mqtt-password-file", "--mqtt"),
    ):
        code, out = invoke(*base, *link, flag, "secret")
        assert code == 2 and f"{flag} only applies with {needs}" in out, out
        assert "CA:" not in out and "s3cret-8" not in out, out
    assert all(u.calls == [] for u in units)
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem", "secret"]


def test_a_tls_ca_for_a_run_with_no_tls_link_is_refused(mdash: Any, in_tmp: Path) -> None:
    """``--tls-ca`` with a plain mqtt:// broker, an http:// mDash or http:// units: no
    link reads it, and it was ignored unsaid (the owner meant the link verified), as a
    secret's file for a link not asked for was. Refused now (exit 2), nothing asked, the
    hint naming the TLS form of the link given."""
    s, units = mdash
    write_ca(in_tmp)
    for link, board, over in (
        (["--mqtt", "mqtt://127.0.0.1:9", "--device", "a"], "mongoose-os-esp32", "mqtts://"),
        (["--mdash", s.url], "mdash-arduino", "--mdash https://"),
        (["--rpc", "http://127.0.0.1:9/rpc", "--rpc", "ws://127.0.0.1:9/rpc"],
         "mongoose-os-esp32", "wss://"),
    ):  # fmt: skip
        code, out = invoke("push", *link, "--board", board, "--bundle", "ca.pem",
                           "--tls-ca", "ca.pem")  # fmt: skip
        said = " ".join(out.split())
        assert code == 2 and "--tls-ca only applies to a link over TLS" in said, out
        assert over in said and "or leave --tls-ca out" in said and "CA:" not in out, out
    assert all(u.calls == [] for u in units)
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]


def test_a_dry_run_with_watch_says_it_makes_one_pass(mdash: Any, in_tmp: Path) -> None:
    """``push --dry-run --watch`` made its one pass and said nothing of --watch: whether
    it had watched (or would) was left to guess. The preview is one pass, as ever (the
    same line with --dry-run added previews the real run), and its notes say a dry run
    does not watch and what the run without --dry-run would do; the JSON carries it."""
    s, units = mdash
    write_ca(in_tmp)
    base = ["push", "--mdash", s.url, "--board", "mdash-arduino", "--device", "dev1",
            "--bundle", "ca.pem", "--dry-run", "--watch", "--poll", "5"]  # fmt: skip
    code, out = invoke(*base)
    said = " ".join(out.split())
    assert code == 0 and "--watch: a dry run makes one pass and does not watch" in said, out
    assert "(without --dry-run: a pass every 5 s until every unit is done, or" in said, out
    code, out = invoke(*base, "--until", "2099-01-01", "--json")
    notes = json.loads(out)["notes"]
    assert code == 0 and any("does not watch" in n and "2099-01-01" in n for n in notes), notes
    assert sorted(p.name for p in in_tmp.iterdir()) == ["ca.pem"]  # no ledger: a dry run
    assert units[0].calls and not [c for c in units[0].calls if c.method != "FS.Get"
                                   and not c.method.startswith("Sys.")]  # fmt: skip
    code, out = invoke(*base[:-3])  # without --watch: no such note
    assert code == 0 and "does not watch" not in out, out
