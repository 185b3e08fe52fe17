"""``push status`` from the command line: counts and units named per state, the
options it takes (and push's own, refused before it), and a ledger read as it is, side
files and all, while a campaign may be writing it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import invoke, mdash_unit, write_ca

from esp_cabundle.cli import cli, run
from esp_cabundle.errors import InputError
from esp_cabundle.push.ledger import DEFAULT_LEDGER, Ledger

KEY = "k3y-for-cli-tests"  # the stand_in fixture's mDash API key


def test_status_counts_and_units_not_reached(stand_in: Any, in_tmp: Path) -> None:
    s = stand_in([mdash_unit("dev1"), mdash_unit("dev2", silent=True)])
    write_ca(in_tmp)
    code, _ = invoke("push", "--mdash", s.url, "--board", "mdash-arduino", "--bundle", "ca.pem",
                     "--timeout", "0.5")  # fmt: skip
    assert code == 3
    code, out = invoke("push", "status")
    assert code == 3  # dev2 not reached: not finished, as the push exited
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
    assert r.exit_code == 3, r.output  # 13 units pending: not finished, as push exits
    ten = ", ".join(f"dev-{i:02}" for i in range(2, 12))
    lines = r.output.splitlines()
    assert f"verified     12     {ten} and 2 more" in lines
    pending = [x for x in lines if x.startswith("pending ")]
    assert pending == [
        "pending      13     dev-00, dev-01, dev-14, dev-15, dev-16, dev-17, dev-18, dev-19, "
        "dev-20, dev-21 and 3 more"
    ]
    assert "failed       0" in r.output


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
    assert f"hint: e.g. esp-cabundle push status --ledger {path}\n" in out, out
    code = run(["push", "--json", "--ledger", str(path), "status"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 2 and doc["ok"] is False and "--ledger, --json" in doc["error"]
    assert path.read_bytes() == before
    # the same options after 'status' work; ESP_CABUNDLE_MQTT (push's --mqtt from the
    # environment) is not an option typed before it
    code, out = invoke("push", "status", "--ledger", str(path), "--json",
                       env={"ESP_CABUNDLE_MQTT": "mqtt://127.0.0.1:9"})  # fmt: skip
    assert code == 0 and json.loads(out)["campaign"]["board"] == "mongoose-os-esp32"


def test_json_after_status_makes_the_refusal_a_json_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``push --ledger x.db status --json``: the --json is status's, not parsed yet when
    push refuses the --ledger before it, so the refusal was text to a script waiting
    for one JSON document (a ``--`` before status leaves it status's; after, an argument)."""
    path = tmp_path / "x.db"
    for words in (["status", "--json"], ["--", "status", "--json"]):
        code = run(["push", "--ledger", str(path), *words])
        out = capsys.readouterr()
        doc = json.loads(out.out)
        assert code == 2 and doc["ok"] is False and doc["kind"] == "InputError", out
        assert "--ledger given before 'status'" in doc["error"] and out.err == ""
        assert doc["hint"].endswith(f"status --ledger {path} --json"), doc
    assert run(["push", "--ledger", str(path), "status", "--", "--json"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "Error: --ledger given before 'status'" in out.err
    assert list(tmp_path.iterdir()) == []


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
    assert "these units were reached, so the link this push used does not depend on it" in out
    assert "cannot reach them" not in out
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
        assert code == 3 and "dev-1" in out  # dev-1 pending: not finished
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
        assert code == 3 and "dev-2" in out


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
            assert code == 3 and "dev-1" in out, out  # pending: not finished
            for name in ("c.db-wal", "c.db-shm"):
                mode = (tmp_path / "real" / name).stat().st_mode
                assert stat.S_IMODE(mode) == 0o600, name
        with Ledger(link) as ledger:  # a later run: its new rows only in the -wal
            ledger.enroll([("dev-2", "mqtt", None)])
            code, out = invoke("push", "status", "--ledger", str(link), "--csv")
            assert code == 3 and "dev-1" in out and "dev-2" in out, out  # both pending
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.db", "real"]


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


def test_status_of_a_file_no_ledger_hints_a_ledger_not_a_new_name(in_tmp: Path) -> None:
    """``push status --ledger ca.pem`` hinted "give --ledger a new file name", which status
    refuses ("status never makes one"): a read hints the ledger a campaign wrote, naming
    the default one when it lies beside the file; a campaign keeps the new name (tryout,
    item 3). Nothing is written."""
    pem = in_tmp / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")
    (in_tmp / "empty.db").write_bytes(b"")
    for name in ("ca.pem", "empty.db"):
        r = CliRunner().invoke(cli, ["push", "status", "--ledger", name])
        assert r.exit_code == 2 and f"{name} is not a campaign ledger" in r.output, r.output
        assert "new file name" not in r.output and "push --ledger FILE" in r.output, r.output
    Ledger(in_tmp / DEFAULT_LEDGER).close()
    before = sorted(p.name for p in in_tmp.iterdir())
    for argv in (["--ledger", "ca.pem"], ["--ledger", "ca.pem", "--json"]):
        r = CliRunner().invoke(cli, ["push", "status", *argv])
        assert r.exit_code == 2 and f"e.g. --ledger {DEFAULT_LEDGER}" in r.output, r.output
    assert sorted(p.name for p in in_tmp.iterdir()) == before
    with pytest.raises(InputError) as e:
        Ledger(pem)  # a campaign: a new name is its way out
    assert "give --ledger a new file name" in str(e.value.hint)


def test_the_ledger_file_name_is_written_down_once() -> None:
    """push's --ledger default and the library's "a ledger near it" hint name one file:
    two copies of the literal could drift apart, and the hint would name a file push
    never writes."""
    package = Path(__file__).resolve().parent.parent / "esp_cabundle"
    defined = [
        p.relative_to(package).as_posix()
        for p in sorted(package.rglob("*.py"))
        if f'= "{DEFAULT_LEDGER}"' in p.read_text(encoding="utf-8")
    ]
    assert defined == ["push/ledger_files.py"]


def test_status_says_what_to_do_next(stand_in: Any, in_tmp: Path) -> None:
    """A fleet owner reading status (text or --json) is told the next step for the units
    left, as the push's summary told it, naming the ledger: status said none, and its
    JSON had no "next" though push's has. A finished campaign has none (null)."""
    s = stand_in([mdash_unit("dev1"), mdash_unit("dev2", silent=True)])
    write_ca(in_tmp)
    argv = ["push", "--mdash", s.url, "--board", "mdash-arduino", "--bundle", "ca.pem"]
    code, _ = invoke(*argv, "--ledger", "fleet.db", "--timeout", "0.5")
    assert code == 3
    step = "Next: 1 unit not done: run the push that wrote fleet.db again"
    code, out = invoke("push", "status", "--ledger", "fleet.db")
    assert code == 3 and step in out and "--watch" in out.split(step)[1], out
    code, out = invoke("push", "status", "--ledger", "fleet.db", "--json")
    doc = json.loads(out)
    assert code == 3 and doc["next"].startswith(step), doc["next"]
    assert list(doc)[-2:] == ["next", "units"], list(doc)  # the units stay last
    s.units["dev2"].silent = False  # dev2 back: the same command finishes it
    code, _ = invoke(*argv, "--ledger", "fleet.db", "--timeout", "0.5")
    assert code == 0
    code, out = invoke("push", "status", "--ledger", "fleet.db", "--json")
    assert code == 0 and json.loads(out)["next"] is None
    code, out = invoke("push", "status", "--ledger", "fleet.db")
    assert code == 0 and "Next:" not in out, out


def test_a_ledger_typed_as_an_argument_is_given_to_ledger_in_the_hint(
    stand_in: Any, in_tmp: Path
) -> None:
    """``push status fleet.db`` was told "e.g. esp-cabundle push status (fleet.db left
    out ...)": pasted, that line read ./cabundle-campaign.db, another campaign's ledger,
    as if it were this one. A database typed there goes in with --ledger; a CA file
    typed after push's own --bundle is still left out, being no ledger."""
    s = stand_in([mdash_unit("dev1")])
    write_ca(in_tmp)
    for ledger in (DEFAULT_LEDGER, "fleet.db"):
        code, _ = invoke("push", "--mdash", s.url, "--board", "mdash-arduino", "--bundle",
                         "ca.pem", "--ledger", ledger)  # fmt: skip
        assert code == 0
    code, out = invoke("push", "status", "fleet.db")
    assert code == 2 and "push status takes no arguments: fleet.db" in out, out
    assert "hint: e.g. esp-cabundle push status --ledger fleet.db (fleet.db is" in out, out
    code, out = invoke("push", "status", "ca.pem")
    assert code == 2 and "--ledger" not in out.partition("hint:")[2], out
