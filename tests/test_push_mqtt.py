"""``push --mqtt``: Mongoose OS RPC over a real mosquitto to simulated units whose
LittleFS images are mounted and checked file by file afterwards."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import assert_updated, ca_bytes, full_mongoose_unit, mongoose_unit, write_ca
from support.fleet_links import unit_hosts, unit_ids
from support.gated import AT

from esp_cabundle.cli import cli
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.virtual.rpc import SimUnit


def ids(k: int) -> list[str]:
    return unit_ids("esp32-t", k)


@pytest.fixture
def host(mosquitto: Any) -> Iterator[Any]:
    yield from unit_hosts(mosquitto.port)


def push(mosquitto: Any, tmp: Path, units: list[SimUnit], *extra: str) -> tuple[int, str, str]:
    ca = tmp / "ca.pem"
    if not ca.exists():
        write_ca(tmp)
    argv = ["push", "--mqtt", mosquitto.url, "--board", "mongoose-os-esp32", "--bundle", str(ca)]
    argv += ["--ledger", str(tmp / "campaign.db"), "--timeout", "1"]
    argv += ["--allow", "unjudged"]  # a plain mqtt:// broker: no server judges the CA
    for u in units:
        argv += ["--device", u.unit_id]
    r = CliRunner().invoke(cli, [*argv, *extra])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def rows(tmp: Path) -> dict[str, Any]:
    with Ledger(tmp / "campaign.db") as ledger:
        return {r.id: r for r in ledger.rows()}


def test_every_unit_gets_the_file_verified_and_recorded(
    mosquitto: Any, host: Any, tmp_path: Path
) -> None:
    units = [mongoose_unit(u) for u in ids(4)]
    h = host(units)
    code, out, err = push(mosquitto, tmp_path, units, "--concurrency", "3")
    assert code == 0, out + err
    assert "4 of 4 units done (4 verified)" in out
    ca = ca_bytes()
    for u in units:
        assert_updated(u, ca)
        # staged, read back, renamed; every frame within the MQTT budget of 3072 bytes
        assert u.count("FS.Put", filename="ca.pem.new", append=False) == 1
        assert u.count("FS.Rename", src="ca.pem.new", dst="ca.pem") == 1
        assert max(c.size for c in u.calls) <= 3072 - 9 - len(f"{u.unit_id}/rpc")
    led = rows(tmp_path)
    import hashlib

    old = hashlib.sha256(mongoose_unit("x").files()["/ca.pem"]).hexdigest()
    for u in units:
        r = led[u.unit_id]
        assert (r.state, r.transport, r.attempts) == ("verified", "mqtt", 1)
        assert r.new_sha256 == hashlib.sha256(ca).hexdigest() and r.old_sha256 == old
        assert r.fw_version == "2.20.0" and r.last_error is None and r.done_at
    assert h.dropped_without_src == 0
    # Run again: nothing to do, nothing written.
    puts = sum(u.count("FS.Put") for u in units)
    code, out, _ = push(mosquitto, tmp_path, units)
    assert code == 0 and sum(u.count("FS.Put") for u in units) == puts


def test_unit_already_holding_the_file_is_up_to_date(
    mosquitto: Any, host: Any, tmp_path: Path
) -> None:
    (uid,) = ids(1)
    unit = mongoose_unit(uid)
    unit.image.write("/ca.pem", ca_bytes())
    host([unit])
    code, out, _ = push(mosquitto, tmp_path, [unit], "--json")
    assert code == 0
    doc = json.loads(out)
    assert (
        doc["ok"]
        and {s: n for s, n in doc["counts"].items() if n} == {"up-to-date": 1}
        and doc["bytes"] > 0
    )
    assert doc["units"][0]["id"] == uid and doc["units"][0]["fw_version"] == "2.20.0"
    assert unit.count("FS.Put") == 0 and rows(tmp_path)[uid].state == "up-to-date"


def test_faults_each_end_in_the_state_that_says_what_happened(
    mosquitto: Any, host: Any, tmp_path: Path
) -> None:
    a, b, c, d, e, f, g = ids(7)
    units = {
        "slow": mongoose_unit(a, delay=0.05),
        "drops": mongoose_unit(b, drop_after=5, back_after=0.5),
        "later": mongoose_unit(c, online_at=time.monotonic() + 60),
        "full": full_mongoose_unit(d, reports_space=False),  # found full by writing
        "malformed": mongoose_unit(e, malformed=True),
        "silent": mongoose_unit(f, silent=True),
        "corrupt": mongoose_unit(g, corrupt_writes=1),
    }
    host(list(units.values()))
    full_before = units["full"].files()
    code, out, _ = push(mosquitto, tmp_path, list(units.values()), "--concurrency", "7")
    assert code == 3, out
    led = rows(tmp_path)
    state = {k: led[u.unit_id].state for k, u in units.items()}
    assert state == {
        "slow": "verified",
        "drops": "writing",  # it went away mid-transfer
        "later": "offline",
        "full": "failed",
        "malformed": "failed",
        "silent": "offline",
        "corrupt": "verified",  # read back differed, written again at once
    }
    assert "no answer to FS." in (led[b].last_error or "")
    assert "failed to write data" in (led[d].last_error or "")
    assert "not valid JSON" in (led[e].last_error or "")
    assert units["corrupt"].count("FS.Put", filename="ca.pem.new", append=False) == 2
    # The full unit still mounts and keeps every file; its CA file is the old one.
    after = units["full"].files()
    after.pop("/ca.pem.new", None)
    assert after == full_before
    # The units that return are finished by a watching run; the others stay as they are.
    units["later"].online_at = time.monotonic() + 0.5
    until = (datetime.now(timezone.utc) + timedelta(seconds=4)).isoformat()
    code, out, _ = push(
        mosquitto, tmp_path, list(units.values()), "--watch", "--poll", "0.3", "--until", until
    )
    assert code == 3
    led = rows(tmp_path)
    for k in ("drops", "later"):
        assert led[units[k].unit_id].state == "verified", k
        assert_updated(units[k], ca_bytes())
    assert led[f].state == "offline" and led[d].state == "failed"


def test_watch_ends_when_every_unit_is_done(mosquitto: Any, host: Any, tmp_path: Path) -> None:
    (uid,) = ids(1)
    unit = mongoose_unit(uid, online_at=time.monotonic() + 1.0)
    host([unit])
    t0 = time.monotonic()
    code, _out, err = push(mosquitto, tmp_path, [unit], "--watch", "--poll", "0.3")
    assert code == 0 and time.monotonic() - t0 < 30
    assert rows(tmp_path)[uid].state == "verified"
    # stderr is no terminal here (as under nohup or systemd): a line per pass that
    # changed something, the unit verified mid-watch among them
    assert f": 1 verified ({uid}); units now: 1 verified" in err, err


def test_until_a_date_means_through_that_day(
    mosquitto: Any, host: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--watch --until TODAY`` watches through today (it used to end at today's
    midnight, already past: one pass); the unit that comes online a second later is
    updated. The command's clock reads today 12:00 (and runs on): on the real clock, a
    run started in the last seconds of a UTC day ended its watch at midnight, before the
    unit came online, or found --until already past."""
    import esp_cabundle.commands.push as push_command
    import esp_cabundle.push.campaign as campaign

    start = time.monotonic()
    noon = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)

    def clock() -> datetime:
        return noon + timedelta(seconds=time.monotonic() - start)

    monkeypatch.setattr(push_command, "now", clock)
    monkeypatch.setattr(campaign, "_now_utc", clock)
    (uid,) = ids(1)
    unit = mongoose_unit(uid, online_at=time.monotonic() + 1.0)
    host([unit])
    today = noon.date().isoformat()
    code, out, _ = push(mosquitto, tmp_path, [unit], "--watch", "--poll", "0.3", "--until", today)
    assert code == 0, out
    assert rows(tmp_path)[uid].state == "verified"
    from esp_cabundle.commands._push_until import Until

    end = Until().convert("2027-06-30", None, None)
    assert end == datetime(2027, 7, 1, tzinfo=timezone.utc)  # the whole of 30 June
    assert Until().convert("2027-06-30T12:00:00Z", None, None).hour == 12


@pytest.mark.parametrize(
    "args,message",
    [
        (["--watch", "--until", "2020-01-01"], "already past"),
        (["--until", "2099-01-01"], "only applies with --watch"),
    ],
)
def test_until_past_or_without_watch_is_refused(
    mosquitto: Any, host: Any, tmp_path: Path, args: list[str], message: str
) -> None:
    (uid,) = ids(1)
    unit = mongoose_unit(uid)
    host([unit])
    code, out, err = push(mosquitto, tmp_path, [unit], *args)
    assert code == 2 and message in out + err, out + err
    assert not (tmp_path / "campaign.db").exists() and unit.calls == []


def test_reboot_then_reconnected(mosquitto: Any, host: Any, tmp_path: Path) -> None:
    (uid,) = ids(1)
    unit = mongoose_unit(uid, reboot_time=1.5)
    host([unit])
    code, out, _ = push(mosquitto, tmp_path, [unit], "--reboot", "--reconnect-timeout", "20")
    assert code == 0, out
    assert rows(tmp_path)[uid].state == "reconnected" and unit.boots == 2
    assert_updated(unit, ca_bytes())


def test_dry_run_reads_only(mosquitto: Any, host: Any, tmp_path: Path) -> None:
    """A dry run writes nothing, names the roots of each unit's current file, and exits
    as a real run would: 3 while a unit could not be finished, 0 when all could."""
    a, b = ids(2)
    dst = (Path(__file__).parent / "data/letsencrypt/dst-root-ca-x3.pem").read_bytes()
    units = [mongoose_unit(a), mongoose_unit(b, silent=True)]
    units[0].image.write("/ca.pem", dst)
    host(units)
    code, out, _ = push(mosquitto, tmp_path, units, "--dry-run", "--json")
    assert code == 3
    doc = json.loads(out[out.index("{") :])
    assert [u["state"] for u in doc["units"]] == ["would-write", "offline"]
    assert doc["units"][0]["current"] == "DST Root CA X3 only" and not doc["would_finish"]
    # every root whole, for scripts (current is cut: "... and 1 more"); none read: null
    from esp_cabundle.certs import load_certificates

    (root,) = load_certificates(dst)
    assert doc["units"][0]["current_roots"] == [{"label": root.label, "sha256": root.sha256}]
    assert doc["units"][1]["current_roots"] is None
    assert not (tmp_path / "campaign.db").exists()
    assert units[0].count("FS.Put") == 0 and units[0].count("FS.Get") >= 1
    code, out, _ = push(mosquitto, tmp_path, units, "--dry-run")
    assert code == 3 and "DST Root CA X3 only" in out
    assert "a push now would leave 1 unit not done (exit 3)" in out
    code, out, _ = push(mosquitto, tmp_path, units[:1], "--dry-run")
    assert code == 0 and "a push would finish every unit" in out, out
    assert not (tmp_path / "campaign.db").exists() and units[0].count("FS.Put") == 0


def test_an_id_no_unit_answers_to_is_named(mosquitto: Any, host: Any, tmp_path: Path) -> None:
    """A broker keeps no list of units: an id no unit has (a typo) cannot be told from a
    unit that is off, so it stays "offline" (exit 3), and the output names every unit
    that never answered and says to check its id; one seen before is not named."""
    a, full, ghost = ids(3)
    units = [mongoose_unit(a), full_mongoose_unit(full), mongoose_unit(ghost)]
    h = host(units[:2])  # nothing answers to the third id
    code, out, _ = push(mosquitto, tmp_path, units, "--dry-run")
    assert code == 3 and f"1 unit did not answer over MQTT ({ghost}): a broker" in out, out
    assert not (tmp_path / "campaign.db").exists()
    code, out, _ = push(mosquitto, tmp_path, units)
    assert code == 3 and f"1 unit never answered over MQTT ({ghost}): a broker" in out, out
    assert "check each id against the units' device.id, or keep watching for them (--watch)" in out
    assert {r.id: r.state for r in rows(tmp_path).values()} == {
        a: "verified",
        full: "failed",
        ghost: "offline",
    }
    # --json carries the same advice in its notes, the dry run's too
    code, out, _ = push(mosquitto, tmp_path, units, "--json")
    (note,) = [n for n in json.loads(out)["notes"] if "over MQTT" in n]
    assert code == 3 and note.startswith(f"1 unit never answered over MQTT ({ghost})"), note
    code, out, _ = push(mosquitto, tmp_path, units, "--dry-run", "--json")
    assert json.loads(out)["notes"][0].startswith(f"1 unit did not answer over MQTT ({ghost})")
    h.close()  # the full unit, seen before, is off now: not named
    code, out, _ = push(mosquitto, tmp_path, units)
    assert code == 3 and rows(tmp_path)[full].state == "offline"
    assert f"1 unit never answered over MQTT ({ghost})" in out and f"({full}" not in out
    # a run that watched already is not told to watch
    until = (datetime.now(timezone.utc) + timedelta(seconds=1)).isoformat()
    code, out, err = push(mosquitto, tmp_path, units, "--watch", "--poll", "0.3", "--until", until)
    assert code == 3 and f"1 unit never answered over MQTT ({ghost})" in out, out
    assert "or run the same --watch again later." in out and "(--watch)" not in out
    # said before it starts, and why it ended
    assert "Watching: a pass every 0.3 s until every unit is done, or until " in err
    assert "UTC, as --until says; Ctrl-C stops it" in err
    assert f"Stopped watching at {until[:10]} {until[11:19]} UTC, the end set for the" in out
    # --json says it as watch_ended (README: Watching a campaign)
    until = (datetime.now(timezone.utc) + timedelta(seconds=1)).isoformat()
    code, out, _ = push(
        mosquitto, tmp_path, units, "--watch", "--poll", "0.3", "--until", until, "--json"
    )
    doc = json.loads(out)
    assert code == 3 and doc["watch_ended"][:16] == until[:16], doc["watch_ended"]


def test_frames_without_src_are_dropped_by_units(mosquitto: Any, host: Any) -> None:
    """The simulated units drop requests without ``src``, as rpc-mqtt does."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    (uid,) = ids(1)
    unit = mongoose_unit(uid)
    h = host([unit])
    c = mqtt.Client(CallbackAPIVersion.VERSION2)
    c.connect("127.0.0.1", mosquitto.port)
    c.loop_start()
    frame = json.dumps({"id": 1, "method": "Sys.GetInfo"})
    c.publish(f"{uid}/rpc", frame, qos=1).wait_for_publish()
    deadline = time.monotonic() + 5
    while h.dropped_without_src == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    c.loop_stop()
    assert h.dropped_without_src == 1 and unit.calls == []


def test_watch_stops_at_the_deadline_of_the_units_old_file(
    mosquitto: Any, host: Any, tmp_path: Path
) -> None:
    """Without --until, a watch ends when the forecast says the units' current file stops
    working. A date already past is recorded as "failing since" and does not end the
    watch: a unit reached while holding that file shows the file does not decide its
    link, and the others cannot come through it."""
    from support.gated import gated

    from esp_cabundle.push.campaign import CampaignOptions, PushFile, run_campaign
    from esp_cabundle.push.mqtt import MqttTransport, parse_mqtt_url

    given: dict[bytes, datetime] = {}

    def campaign(when: datetime | None, until: datetime | None, db: str) -> Any:
        a, b = ids(2)
        host([mongoose_unit(a), mongoose_unit(b, silent=True)])
        seen: list[bytes] = []

        def deadline(old: bytes) -> datetime:
            seen.append(old)
            # None: 1.5 s from when the old file is judged, not from the test's start,
            # so a loaded machine's slow set-up cannot eat the time for a second pass
            given[old] = when or datetime.now(timezone.utc) + timedelta(seconds=1.5)
            return given[old]

        transport = MqttTransport(parse_mqtt_url(mosquitto.url), [a, b])
        options = CampaignOptions(
            timeout=0.3, watch=True, poll=0.2, deadline_for=deadline, until=until
        )
        try:
            with Ledger(tmp_path / db) as ledger:
                report = run_campaign(
                    [transport], PushFile(gated(ca_bytes(), "mongoose-os-esp32")), ledger, options
                )
                meta = ledger.meta()
        finally:
            transport.close()
        # the file found on the units is judged once; the file pushed, for status
        old = mongoose_unit("x").files()["/ca.pem"]
        assert seen.count(old) == 1 and len(seen) == 2 and old != seen[0]
        assert {r.id: r.state for r in report.rows} == {a: "verified", b: "offline"}
        return report, meta

    report, meta = campaign(None, None, "ahead.db")
    soon = given[mongoose_unit("x").files()["/ca.pem"]]  # the units' old file's
    assert report.deadline == soon and meta["deadline"] == soon.isoformat()
    assert datetime.now(timezone.utc) >= soon and report.passes > 1 and not report.ok
    past = datetime(2024, 6, 6, tzinfo=timezone.utc)
    # 3 s: on a loaded CI the first pass alone took 1.5 s, leaving no room for a second
    report, meta = campaign(past, datetime.now(timezone.utc) + timedelta(seconds=3), "past.db")
    assert report.deadline is None and report.failing_since == past and report.passes > 1
    assert meta["failing_since"].startswith("2024-06-06") and "deadline" not in meta


@pytest.mark.parametrize("hostile", ["nested", "huge"])
def test_a_hostile_unit_fails_alone(
    mosquitto: Any, host: Any, tmp_path: Path, hostile: str
) -> None:
    """Answers nesting 100,000 deep or of 3 MiB are refused by the capped JSON reader:
    that unit is failed with the reason, the broker link lives on, the next unit is
    updated."""
    bad, good = ids(2)
    units = [mongoose_unit(bad, hostile=hostile), mongoose_unit(good)]
    host(units)
    code, out, _ = push(mosquitto, tmp_path, units, "--concurrency", "1", "--timeout", "3")
    assert code == 3, out
    led = rows(tmp_path)
    assert (led[bad].state, led[good].state) == ("failed", "verified")
    reason = "nests deeper than 32 levels" if hostile == "nested" else "byte limit"
    assert reason in (led[bad].last_error or ""), led[bad].last_error
    assert_updated(units[1], ca_bytes())


def test_a_campaign_from_the_public_library_names(
    mosquitto: Any, host: Any, tmp_path: Path
) -> None:
    """A fleet script needs nothing but ``esp_cabundle``'s own names (README: From
    Python): the broker link, the gated file, the ledger and the campaign."""
    import esp_cabundle as ecb

    a, b = ids(2)
    units = [mongoose_unit(a), mongoose_unit(b)]
    host(units)
    board = ecb.load_board("mongoose-os-esp32")
    gated = ecb.gate_ca(ecb.CaSource.finished("ca.pem", ca_bytes()), board=board, at=AT)
    transport = ecb.MqttTransport.from_url(mosquitto.url, [a, b])
    try:
        with ecb.Ledger(tmp_path / "campaign.db") as ledger:
            report = ecb.run_campaign(
                [transport], ecb.PushFile(gated), ledger, ecb.CampaignOptions(timeout=2)
            )
    finally:
        transport.close()
    assert report.ok and {r.id: r.state for r in report.rows} == {a: "verified", b: "verified"}
    for u in units:
        assert_updated(u, gated.pem)


def test_status_says_why_every_date_is_unknown(mosquitto: Any, host: Any, tmp_path: Path) -> None:
    """A plain mqtt:// broker and no --server: nothing to judge the units' files against,
    so each is "unknown"; status said only "unknown 2", now it says why and what to give."""
    from esp_cabundle.commands._push_render import _dark_summary

    units = [mongoose_unit(u) for u in ids(2)]
    host(units)
    code, out, err = push(mosquitto, tmp_path, units)
    assert code == 0, out + err
    with Ledger(tmp_path / "campaign.db") as kept:
        assert kept.meta()["judged_against"] == "nothing"
    ledger = str(tmp_path / "campaign.db")
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", ledger])
    assert r.exit_code == 0, r.output
    assert "unknown: the campaign named no server to judge the units' files against" in r.stdout
    assert "--server HOST" in r.stdout and "--target HOST" in r.stdout
    r = CliRunner().invoke(cli, ["push", "status", "--ledger", ledger, "--json"])
    assert json.loads(r.stdout)["campaign"]["judged_against"] == "nothing"
    # a campaign judged against a server (or an old ledger, which never said) keeps its table
    for against in ("mdash.net", None):
        assert not any("no server" in line for line in _dark_summary({"unknown": 2}, against))
