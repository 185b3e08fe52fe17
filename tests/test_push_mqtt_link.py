"""The ``--watch`` log's "MQTT broker lost" / "back" come from the MQTT client itself
(paho's ``on_disconnect``, and ``on_connect`` on its reconnect): they were guessed from
units' "broker link is down" errors, so a broker that went away and came back between
two calls was never said, and one down for hours was said only at the next call."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.fleet import mongoose_unit, write_ca
from support.fleet_links import Mosquitto, unit_hosts

from esp_cabundle.cli import cli
from esp_cabundle.commands._push_until import WatchLog
from esp_cabundle.push.campaign_types import UnitEvent
from esp_cabundle.push.ledger import Ledger
from esp_cabundle.push.mqtt import MqttTransport

WAIT = 60.0  # an upper bound only: each wait ends as the event comes


def restart(b: Mosquitto) -> None:
    """Stop the broker, then start it again on the same port with the same config."""
    assert b.proc is not None
    b.proc.terminate()
    b.proc.wait(10)
    b.proc = subprocess.Popen(
        [b.binary, "-c", str(b.dir / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.timeout(120)
def test_the_transport_says_when_its_broker_link_drops_and_returns(broker: Mosquitto) -> None:
    seen: list[tuple[bool, str]] = []
    lost, back = threading.Event(), threading.Event()

    def on_link(up: bool, why: str) -> None:
        seen.append((up, why))
        (back if up else lost).set()

    t = MqttTransport.from_url(broker.url, ["dev-x"])
    try:
        t.on_link = on_link
        assert broker.proc is not None
        broker.proc.terminate()
        broker.proc.wait(10)
        assert lost.wait(WAIT), seen
        assert not back.is_set(), seen  # no broker: paho's retries fail, nothing said
        restart(broker)
        assert back.wait(WAIT), seen  # paho's loop reconnected (and subscribed again)
    finally:
        t.close()
    assert [up for up, _ in seen] == [False, True], seen
    assert seen[0][1], seen  # paho's reason is said with the loss


def test_a_close_meeting_pahos_loop_stop_race_ends_cleanly(
    broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """paho's network thread, ended by the disconnect, clears its handle to itself between
    loop_stop's check of it and its join (paho.mqtt.python#872; CI's 3.13 part met it as
    an AttributeError out of close). Here loop_stop waits for the thread to end first."""
    import paho.mqtt.client as paho_client

    t = MqttTransport.from_url(broker.url, ["dev-x"])
    client = t._client
    main = threading.current_thread()

    class LateThreading:
        def __getattr__(self, name: str) -> Any:
            return getattr(threading, name)

        def current_thread(self) -> threading.Thread:
            if threading.current_thread() is main and client._thread_terminate:
                deadline = time.monotonic() + 10  # inside loop_stop: the thread ends first
                while client._thread is not None and time.monotonic() < deadline:
                    time.sleep(0.01)
            return threading.current_thread()

    monkeypatch.setattr(paho_client, "threading", LateThreading())
    t.close()
    assert client._thread is None


def test_a_transport_closed_on_purpose_says_nothing(broker: Mosquitto) -> None:
    seen: list[tuple[bool, str]] = []
    t = MqttTransport.from_url(broker.url, ["dev-x"])
    t.on_link = lambda up, why: seen.append((up, why))
    t.close()
    assert seen == []


def test_the_watch_log_says_the_link_as_told_not_as_guessed() -> None:
    lines: list[str] = []
    log = WatchLog(lines.append)
    log.listing(1)
    log.link(False, "Unspecified error")  # between calls: no unit saw it
    log.link(True)
    log.event(UnitEvent("a", "verified", "", True))
    assert len(lines) == 1, lines
    assert (
        "pass 1: MQTT broker lost (Unspecified error); MQTT broker back; 1 verified" in (lines[0])
    ), lines
    log.listing(1)  # a unit's error is no longer taken for the link's state
    log.event(UnitEvent("a", "offline", "unit a: the MQTT broker link is down (x)", True))
    log.close()
    assert "broker" not in lines[1], lines


def test_a_followed_transport_is_the_links_only_word() -> None:
    """paho closes the socket before it calls on_disconnect: a unit's "link is down"
    landing in between was taken for the loss, said without paho's reason."""
    lines: list[str] = []
    log = WatchLog(lines.append)
    transport = MqttTransport.__new__(MqttTransport)  # only its on_link is set
    log.follow(transport)
    log.listing(1)
    log.event(UnitEvent("a", "offline", "unit a: the MQTT broker link is down (x)", True))
    transport.on_link(False, "Unspecified error")
    log.close()
    said = [line for line in lines if "MQTT broker lost" in line]
    assert said and all("MQTT broker lost (Unspecified error)" in line for line in said), lines


def test_a_drop_told_twice_is_said_once() -> None:
    lines: list[str] = []
    log = WatchLog(lines.append)
    log.listing(1)
    for _ in range(2):
        log.link(False, "lost")
    log.close()
    assert lines[0].count("MQTT broker lost") == 1, lines


@pytest.mark.timeout(120)
@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_a_watch_logs_the_drop_paho_saw(
    broker: Mosquitto, tmp_path: Path, extra: list[str]
) -> None:
    """The broker restarts while the unit answers its first call: the log line says the
    loss with paho's reason (a guess from the unit's error had none) and the return. With
    --json too: the document is on stdout, the log on stderr (it was silenced with it)."""
    unit = mongoose_unit("dev-r")
    restarted = threading.Event()

    def once(method: str, params: dict[str, Any], when: str) -> None:
        if method == "Sys.GetInfo" and when == "before" and not restarted.is_set():
            restarted.set()
            threading.Thread(target=restart, args=(broker,), daemon=True).start()

    unit.hook = once
    hosts = unit_hosts(broker.port)
    next(hosts)([unit])
    ca = write_ca(tmp_path)
    end = (datetime.now(timezone.utc) + timedelta(seconds=90)).isoformat()  # a bound only
    try:
        r = CliRunner().invoke(cli, ["push", "--mqtt", broker.url, "--device", "dev-r",
                                     "--board", "mongoose-os-esp32", "--bundle", str(ca),
                                     "--allow", "unjudged", "--ledger", str(tmp_path / "c.db"),
                                     "--timeout", "1", "--watch", "--poll", "0.3",
                                     "--until", end, *extra])  # fmt: skip
    finally:
        hosts.close()
    assert r.exit_code == 0, r.output
    with Ledger(tmp_path / "c.db") as ledger:
        assert [row.state for row in ledger.rows()] == ["verified"]
    assert restarted.is_set()
    assert "MQTT broker lost (" in r.stderr and "MQTT broker back" in r.stderr, r.stderr
    if extra:
        assert json.loads(r.stdout)["ok"] is True, r.stdout
